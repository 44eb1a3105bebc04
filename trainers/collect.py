"""Merge fold results of one or more runs into Table 1 of seed 000.

Example::

    python -m trainers.collect runs/fnn_hc runs/mixer_rgb runs/fusion_mixer --out results/

writes ``results_table.csv`` and ``results_table.md`` (columns exactly Data Modality,
Model, Average F1, Average Precision, Average Recall; the 13 rows of Table 1 in the
paper's order, blank where no run filled them, then rows for models outside the paper
such as EfficientNet-Lite0) and ``per_fold.csv``. Numbers are percentages averaged over
folds, two decimals, as in the paper. The Markdown file also lists the paper's values
and how many folds each row averages.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import sys
from pathlib import Path

from ._run import TrainingError, exits_on_training_error

COLUMNS = ("Data Modality", "Model", "Average F1", "Average Precision", "Average Recall")
#: Table 1 of seed 000: (data modality, model) -> (F1, precision, recall) in percent.
TABLE1 = {
    ("Features of Facial Expressions", "Feed-forward Neural Network"): (83.95, 88.65, 82.50),
    ("Coordinates", "Feed-forward Neural Network"): (67.80, 76.80, 66.60),
    ("Handcrafted Manual Features [24]", "Feed-forward Neural Network"): (82.80, 82.85, 88.30),
    ("RGB Images", "ResNet50"): (85.00, 96.00, 76.70),
    ("RGB Images", "FasterViT"): (84.00, 89.90, 81.50),
    ("RGB Images", "MLP Mixer"): (89.00, 96.60, 88.00),
    ("BnW LineSegment Images", "ResNet50"): (77.00, 85.40, 70.70),
    ("BnW LineSegment Images", "FasterViT"): (67.00, 83.84, 58.23),
    ("BnW LineSegment Images", "MLP Mixer"): (58.00, 78.50, 49.95),
    ("Handcrafted Manual Features + RGB Images",
     "Early Fusion Model (MLP Mixer + Feedforward Model)"): (96.00, 94.80, 98.30),
    ("Handcrafted Manual Features + BnW LineSegment Images",
     "Early Fusion Model (ResNet50 + Feedforward Model)"): (79.90, 94.00, 76.50),
    ("Handcrafted Manual Features + RGB Images",
     "Late Fusion Model (MLP Mixer + Feedforward Model)"): (83.00, 77.95, 94.70),
    ("Handcrafted Manual Features + BnW LineSegment Images",
     "Late Fusion Model (ResNet50 + Feedforward Model)"): (72.45, 75.60, 81.25),
}
_METRICS = ("f1", "precision", "recall")


def load_run(run_dir: str | os.PathLike) -> dict:
    """One run's row, fold records and averaged metrics.

    Returns
    -------
    dict with ``row`` (data modality, model), ``n_folds``, ``folds`` (records sorted by
    fold) and ``average`` (:func:`trainers.metrics.average_fold_metrics`).
    """
    from trainers.metrics import average_fold_metrics

    run_dir = Path(run_dir)
    config_path = run_dir / "config.json"
    if not config_path.is_file():
        raise TrainingError(f"{run_dir} is not a run directory (no config.json).")
    config = json.loads(config_path.read_text())
    folds = sorted((json.loads(p.read_text()) for p in (run_dir / "folds").glob("fold_*.json")),
                   key=lambda r: r["fold"])
    row = (config["table_row"]["data_modality"], config["table_row"]["model"])
    average = average_fold_metrics([f["metrics"] for f in folds]) if folds else {}
    return {"dir": str(run_dir), "row": row, "n_folds": config.get("n_folds"),
            "folds": folds, "average": average}


def collect(run_dirs, out_dir: str | os.PathLike) -> list[dict]:
    """Merge runs into the Table 1 files in ``out_dir``; returns the table rows.

    Runs of the same row are merged fold by fold (folds run as separate jobs); one fold
    present twice is an error.
    """
    from trainers.metrics import average_fold_metrics

    merged: dict[tuple[str, str], dict] = {}
    for run_dir in run_dirs:
        run = load_run(run_dir)
        entry = merged.setdefault(run["row"], {"folds": {}, "n_folds": run["n_folds"],
                                               "dirs": []})
        entry["dirs"].append(run["dir"])
        for record in run["folds"]:
            if record["fold"] in entry["folds"] and Path(run["dir"]) != Path(
                    entry["folds"][record["fold"]]["_dir"]):
                first = entry["folds"][record["fold"]]["_dir"]
                raise TrainingError(f"fold {record['fold']} of {run['row'][1]!r} is in "
                                    f"both {first} and {run['dir']}.")
            entry["folds"][record["fold"]] = {**record, "_dir": run["dir"]}
    rows = []
    for key in [*TABLE1, *sorted(k for k in merged if k not in TABLE1)]:
        entry = merged.get(key)
        folds = [entry["folds"][k] for k in sorted(entry["folds"])] if entry else []
        average = average_fold_metrics([f["metrics"] for f in folds]) if folds else {}
        rows.append({"row": key, "average": average, "folds": folds,
                     "n_folds": entry["n_folds"] if entry else None})
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    _write_atomic(out_dir / "results_table.csv", _table_csv(rows))
    _write_atomic(out_dir / "results_table.md", _table_markdown(rows))
    _write_atomic(out_dir / "per_fold.csv", _per_fold_csv(rows))
    return rows


def _percent(average: dict, metric: str) -> str:
    value = average.get(metric)
    return "" if value is None else f"{100 * float(value):.2f}"


def _table_csv(rows) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(COLUMNS)
    for r in rows:
        writer.writerow([*r["row"], *(_percent(r["average"], m) for m in _METRICS)])
    return buffer.getvalue()


def _table_markdown(rows) -> str:
    lines = ["# Results (Table 1 of seed 000)", "",
             "| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    for r in rows:
        lines.append("| " + " | ".join([*r["row"], *(_percent(r["average"], m) or "–"
                                                     for m in _METRICS)]) + " |")
    lines += ["", "Percentages averaged over folds (threshold 0.5). Folds per row and the "
              "paper's values (real YFP + CK+ patients) for comparison:", "",
              "| Data Modality | Model | Folds | Paper F1 | Paper Precision | Paper Recall |",
              "|---|---|---|---|---|---|"]
    for r in rows:
        paper = TABLE1.get(r["row"])
        folds = f"{len(r['folds'])} of {r['n_folds']}" if r["n_folds"] else "–"
        values = [f"{v:.2f}" for v in paper] if paper else ["not in the paper"] * 3
        lines.append("| " + " | ".join([*r["row"], folds, *values]) + " |")
    return "\n".join(lines) + "\n"


def _per_fold_csv(rows) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["Data Modality", "Model", "Fold", "Test Subject", "F1", "Precision",
                     "Recall", "Accuracy", "TP", "FP", "FN", "TN", "Test Images", "Run"])
    for r in rows:
        for f in r["folds"]:
            m = f["metrics"]
            writer.writerow([*r["row"], f["fold"], f.get("test_subject") or "",
                             *(_percent(m, k) for k in (*_METRICS, "accuracy")),
                             *(m.get(k) for k in ("tp", "fp", "fn", "tn")), f["n_test"],
                             f["_dir"]])
    return buffer.getvalue()


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


@exits_on_training_error
def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("runs", nargs="+", type=Path, help="run directories")
    parser.add_argument("--out", type=Path, required=True, help="folder for the merged table")
    args = parser.parse_args(argv)
    collect(args.runs, args.out)
    print((args.out / "results_table.md").read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
