"""Train the six-class severity model of seed 003 (and its stronger variants).

::

    python -m trainers.severity --data ROOT --out RUN_DIR [--arch seed_cnn|geometry_mlp|
        effnet_geometry_mlp] [--epochs N] [--folds K] [--promote NAME [--make-default]]
        [--device auto]

Data (``--data``), the layout recognised from the folder:

- class folders ``ROOT/<class>/<image>``: class names come from the folders (the six
  canonical names mild_eye ... severe_mouth in the seed's order, then "normal" when a
  folder is called normal/healthy/control, then any other folder name);
- YFP ``ROOT/Image*/<subject>/<n>.bmp`` + ``ROOT/Image_large_XML/<subject>/<n>.xml``:
  each frame's eye and mouth grades become a class: both Normal -> "normal"; else the
  more affected region (the eye on a tie: an eye that cannot close is the urgent
  complication), SlightPalsy -> mild, StrongPalsy -> severe (YFP has two grades, so it
  has no moderate class).

Every image goes through the app's own pipeline (landmarker, the aligned 224 px face
crop, the 29 features), cached by file content under ``--cache``. The split groups by
person: the leading number of a class-folder file name (``14_smile.jpg`` -> person 14)
or the YFP subject; when no file name carries one, every image is its own group and the
trainer says loudly that the split is not person-held-out. ``--folds K`` (K >= 2) runs K
person-grouped folds (each fold's people are the test set once; a tuning set of other
people picks the epoch and the "uncertain" threshold); ``--folds 1`` is one split.

The run directory gets per-fold Keras histories, accuracy and loss curves (PNG and
interactive HTML), the confusion matrix (PNG, CSV), per-class precision and recall, a
``metrics.json`` with person-held-out accuracy and macro-F1 (mean, spread over folds, a
bootstrap interval over test people) and ``card.json``. ``--promote`` installs fold 0's
model (trained on its training people, the epoch chosen on its tuning people) with that
card into ``weights/severity/``.

GPU: ``--device auto`` uses CUDA when torch sees it, with bfloat16 mixed precision.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ._run import (Promotion, TrainingError, exits_on_training_error, run_record_promote,
                   settings_from_args)

#: Architectures this trainer builds: the seed's CNN and the variants.
ARCHITECTURES = ("seed_cnn", "geometry_mlp", "effnet_geometry_mlp")
#: Seed 003's settings (section III.B-E); the variants train a small head on cached
#: inputs, for at most 300 epochs with early stopping on the tuning people.
SEED_EPOCHS, SEED_BATCH, SEED_LR = 50, 16, 0.001
HEAD_EPOCHS, HEAD_BATCH, HEAD_PATIENCE = 300, 32, 30
#: The "uncertain" threshold is the lowest top-class probability at which the tuning
#: people's confident predictions are right at least this often: two times in three
#: (a grade that is wrong more often than that is not worth naming; 0.8 left the
#: simulated-London geometry model uncertain on 97 % of held-out photos).
TARGET_CONFIDENT_ACCURACY = 2 / 3
THRESHOLD_GRID = tuple(np.round(np.arange(0.3, 0.951, 0.05), 2))
YFP_LEVEL = {0.5: "mild", 1.0: "severe"}


@dataclass(frozen=True)
class SeverityConfig:
    """One run of this trainer: its flags (see :func:`parse_args` for each), with the
    architecture's defaults filled in for ``epochs``, ``batch_size`` and ``patience``."""

    data: Path
    out: Path
    arch: str = "seed_cnn"
    epochs: int = SEED_EPOCHS
    batch_size: int = SEED_BATCH
    lr: float = SEED_LR
    patience: int = 0
    folds: int = 1
    only_fold: int | None = None
    test_fraction: float = 0.2
    tune_fraction: float = 0.15
    seed: int = 0
    device: str = "auto"
    threads: int | None = None
    cache: Path = Path(".cache/palsy/severity")
    promotion: Promotion = field(default_factory=Promotion)
    attribution: tuple[str, ...] = ()
    compare_run: tuple[Path, ...] = ()
    why: str | None = None
    progress: bool = True
    command: tuple[str, ...] = ()


# -- data ----------------------------------------------------------------------------------
@dataclass
class Item:
    """One image with its class and person."""

    path: Path
    label: str
    person: str


def read_items(root: Path) -> tuple[list[Item], list[str], str, bool]:
    """``(items, classes, layout, has_person_ids)`` of a class-folder or YFP data set."""
    from palsy_core.models._severity import SEVERITY_CLASSES
    from trainers.data.datasets import read_class_folders, read_yfp

    root = Path(root)
    if not root.is_dir():
        raise TrainingError(f"--data {root} is not a folder.")
    if (root / "Image_large_XML").is_dir():
        report = read_yfp(root)
        items = [Item(s.path, yfp_class(s.eye, s.mouth), s.subject) for s in report.samples]
        layout, has_ids = "yfp", True
    else:
        report = read_class_folders(root)
        items = []
        for sample in report.samples:
            name = sample.path.parent.name.lower()
            label = "normal" if sample.palsy == 0 else name
            items.append(Item(sample.path, label, sample.subject))
        has_ids = any(s.path.stem[:1].isdigit() for s in report.samples)
        layout = "class_folders"
    present = {item.label for item in items}
    classes = [c for c in SEVERITY_CLASSES if c in present]
    classes += ["normal"] if "normal" in present else []
    classes += sorted(present - set(classes))
    if len(classes) < 2:
        raise TrainingError(f"{root} holds only the class {classes}: a classifier needs "
                            "at least two.")
    return items, classes, layout, has_ids


def yfp_class(eye: float, mouth: float) -> str:
    """The class of a YFP frame from its eye and mouth grades (0, 0.5 slight, 1 strong)."""
    if max(eye, mouth) == 0:
        return "normal"
    region = "eye" if eye >= mouth else "mouth"
    return f"{YFP_LEVEL[max(eye, mouth)]}_{region}"


def person_folds(persons: list[str], k: int, *, seed: int, test_fraction: float,
                 tune_fraction: float) -> list[dict[str, list[str]]]:
    """Train / tune / test people of each fold; no person is in two parts of a fold."""
    rng = np.random.default_rng(seed)
    people = sorted(set(persons))
    rng.shuffle(people)
    if len(people) < 3:
        raise TrainingError(f"only {len(people)} people: a person-held-out split needs "
                            "at least 3 (train, tune, test).")
    if k <= 1:
        n_test = max(1, round(test_fraction * len(people)))
        chunks = [people[:n_test]]
    else:
        chunks = [list(c) for c in np.array_split(np.array(people, dtype=object), k)]
    folds = []
    for test in chunks:
        rest = [p for p in people if p not in set(test)]
        n_tune = max(1, round(tune_fraction * len(rest)))
        folds.append({"train": sorted(rest[n_tune:]), "tune": sorted(rest[:n_tune]),
                      "test": sorted(test)})
    return folds


def prepare(items: list[Item], cache: Path, *, progress: bool) -> tuple[list[int], dict]:
    """Landmarks, crop and features of every image (cached by content).

    Returns the indices of the usable items and ``{index: cached arrays}``; images with
    no face or that cannot be read are reported and left out.
    """
    from palsy_core.analysis import Analyzer, AnalyzerOptions
    from palsy_core.errors import ImageError, NoFaceError
    from palsy_core.imageio import load_image
    from palsy_core.models import AnalyzedFace
    from palsy_core.models._severity import INPUT_SIZE, geometry_vector

    cache.mkdir(parents=True, exist_ok=True)
    usable, arrays, skipped = [], {}, []
    analyzer = None
    start = time.perf_counter()
    try:
        for index, item in enumerate(items):
            digest = hashlib.sha256(item.path.read_bytes()).hexdigest()[:32]
            entry = cache / f"{digest}.npz"
            if not entry.is_file():
                analyzer = analyzer or Analyzer(AnalyzerOptions())
                try:
                    rgb = load_image(item.path)
                    result = analyzer.analyze(rgb)
                except (ImageError, NoFaceError) as error:
                    skipped.append((str(item.path), str(error)))
                    continue
                face = AnalyzedFace(rgb, result.landmarks, result.blendshapes, result.features)
                tmp = entry.with_suffix(".tmp.npz")
                np.savez(tmp, crop=face.crop(INPUT_SIZE),
                         geometry=geometry_vector(result.landmarks, result.blendshapes,
                                                  result.features))
                os.replace(tmp, entry)
            with np.load(entry) as data:
                arrays[index] = {"crop": data["crop"], "geometry": data["geometry"],
                                 "digest": digest}
            usable.append(index)
            if progress and (index + 1) % 100 == 0:
                print(f"  prepared {index + 1}/{len(items)} images "
                      f"({time.perf_counter() - start:.0f} s)", file=sys.stderr)
    finally:
        if analyzer is not None:
            analyzer.close()
    for path, reason in skipped:
        print(f"  left out {path}: {reason}", file=sys.stderr)
    return usable, {"arrays": arrays, "skipped": skipped}


def cached_image_features(arrays: dict, indices: list[int], cache: Path) -> np.ndarray:
    """Frozen EfficientNet-Lite0 features of the crops, cached beside the crops."""
    from palsy_core.models._severity import image_features

    missing = [i for i in indices if not (cache / f"{arrays[i]['digest']}.effnet.npy").is_file()]
    for start in range(0, len(missing), 64):
        chunk = missing[start:start + 64]
        feats = image_features(np.stack([arrays[i]["crop"] for i in chunk]))
        for i, f in zip(chunk, feats):
            np.save(cache / f"{arrays[i]['digest']}.effnet.npy", f.astype(np.float32))
    return np.stack([np.load(cache / f"{arrays[i]['digest']}.effnet.npy") for i in indices])


# -- training ------------------------------------------------------------------------------
def make_inputs(arch: str, arrays: dict, indices: list[int], cache: Path):
    if arch == "seed_cnn":
        return np.stack([arrays[i]["crop"] for i in indices]).astype(np.float32)
    geometry = np.stack([arrays[i]["geometry"] for i in indices])
    if arch == "effnet_geometry_mlp":
        return [geometry, cached_image_features(arrays, indices, cache)]
    return geometry


def build(arch: str, n_classes: int, train_inputs):
    from palsy_core.models import _severity as sev

    if arch == "seed_cnn":
        return sev.build_seed_cnn(n_classes)
    if arch == "geometry_mlp":
        return sev.build_geometry_mlp(n_classes, sev.input_stats(train_inputs))
    return sev.build_geometry_mlp(n_classes, sev.input_stats(train_inputs[0]),
                                  sev.input_stats(train_inputs[1]))


def epoch_printer(keras, fold: int, epochs: int, enabled: bool):
    class EpochLine(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            if enabled:
                logs = logs or {}
                print(f"fold {fold} epoch {epoch + 1}/{epochs}: loss {logs.get('loss', 0):.4f} "
                      f"acc {logs.get('accuracy', 0):.3f} | tune loss "
                      f"{logs.get('val_loss', float('nan')):.4f} acc "
                      f"{logs.get('val_accuracy', float('nan')):.3f} "
                      f"({time.perf_counter() - self.start:.1f} s)", file=sys.stderr, flush=True)

    return EpochLine()


def predict_proba(model, inputs, batch: int = 64) -> np.ndarray:
    import torch

    from palsy_core.models._severity import softmax

    n = len(inputs[0] if isinstance(inputs, list) else inputs)
    out = []
    with torch.inference_mode():
        for s in range(0, n, batch):
            chunk = ([torch.from_numpy(x[s:s + batch]) for x in inputs]
                     if isinstance(inputs, list) else torch.from_numpy(inputs[s:s + batch]))
            out.append(model(chunk, training=False).detach().cpu().float().numpy())
    return softmax(np.concatenate(out))


def choose_threshold(probabilities: np.ndarray, y: np.ndarray) -> float:
    """Lowest grid threshold whose confident tuning predictions are right often enough."""
    top, right = probabilities.max(axis=1), probabilities.argmax(axis=1) == y
    for t in THRESHOLD_GRID:
        confident = top >= t
        if confident.sum() >= max(5, 0.1 * len(y)) and right[confident].mean() >= \
                TARGET_CONFIDENT_ACCURACY:
            return float(t)
    return float(THRESHOLD_GRID[-1])


def scores(y: np.ndarray, pred: np.ndarray, n_classes: int) -> dict:
    """Accuracy, macro-F1, per-class precision / recall / F1 and the confusion matrix."""
    confusion = np.zeros((n_classes, n_classes), int)
    np.add.at(confusion, (y, pred), 1)
    tp = np.diag(confusion).astype(float)
    precision = np.divide(tp, confusion.sum(0), out=np.zeros(n_classes), where=confusion.sum(0) > 0)
    recall = np.divide(tp, confusion.sum(1), out=np.zeros(n_classes), where=confusion.sum(1) > 0)
    f1 = np.divide(2 * precision * recall, precision + recall, out=np.zeros(n_classes),
                   where=(precision + recall) > 0)
    present = confusion.sum(1) > 0
    return {"accuracy": float(tp.sum() / max(len(y), 1)),
            "macro_f1": float(f1[present].mean()) if present.any() else 0.0,
            "precision": precision.tolist(), "recall": recall.tolist(), "f1": f1.tolist(),
            "confusion": confusion.tolist()}


def bootstrap_interval(y, pred, persons, n_classes: int, *, seed: int, rounds: int = 1000):
    """95 % intervals of accuracy and macro-F1, resampling test *people* with replacement."""
    rng = np.random.default_rng(seed)
    people = np.array(sorted(set(persons)))
    rows = {p: np.flatnonzero(np.asarray(persons) == p) for p in people}
    acc, f1 = [], []
    for _ in range(rounds):
        idx = np.concatenate([rows[p] for p in rng.choice(people, size=len(people))])
        s = scores(y[idx], pred[idx], n_classes)
        acc.append(s["accuracy"])
        f1.append(s["macro_f1"])
    return {"accuracy_95ci": [float(np.percentile(acc, 2.5)), float(np.percentile(acc, 97.5))],
            "macro_f1_95ci": [float(np.percentile(f1, 2.5)), float(np.percentile(f1, 97.5))]}


def run_fold(fold_index, parts, config: SeverityConfig, keras, items, usable, arrays, classes,
             cache):
    from palsy_core.models._severity import compile_model

    person_of = {i: items[i].person for i in usable}
    split = {name: [i for i in usable if person_of[i] in set(people)]
             for name, people in parts.items()}
    y = {name: np.array([classes.index(items[i].label) for i in idx]) for name, idx in split.items()}
    inputs = {name: make_inputs(config.arch, arrays, idx, cache) for name, idx in split.items()}
    keras.utils.set_random_seed(config.seed + fold_index)
    model = build(config.arch, len(classes), inputs["train"])
    compile_model(model, config.lr)
    callbacks = [epoch_printer(keras, fold_index, config.epochs, config.progress)]
    if config.patience:
        callbacks.append(keras.callbacks.EarlyStopping(
            monitor="val_loss", patience=config.patience, restore_best_weights=True))
    start = time.perf_counter()
    history = model.fit(inputs["train"], y["train"], batch_size=config.batch_size,
                        epochs=config.epochs, validation_data=(inputs["tune"], y["tune"]),
                        callbacks=callbacks, verbose=0, shuffle=True)
    seconds = time.perf_counter() - start
    tune_p = predict_proba(model, inputs["tune"])
    threshold = choose_threshold(tune_p, y["tune"])
    test_p = predict_proba(model, inputs["test"])
    pred = test_p.argmax(1)
    result = scores(y["test"], pred, len(classes))
    persons = [person_of[i] for i in split["test"]]
    result.update(bootstrap_interval(y["test"], pred, persons, len(classes), seed=config.seed))
    confident = test_p.max(1) >= threshold
    result.update({
        "fold": fold_index, "uncertain_below": threshold,
        "coverage_at_threshold": float(confident.mean()),
        "accuracy_when_confident": float((pred == y["test"])[confident].mean())
        if confident.any() else None,
        "people": {k: len(v) for k, v in parts.items()},
        "images": {k: len(v) for k, v in split.items()},
        "test_people": parts["test"], "train_seconds": seconds,
        "epochs_run": len(history.history["loss"]),
        "history": {k: [float(v) for v in vals] for k, vals in history.history.items()},
        "test_predictions": [{"file": str(items[i].path), "person": person_of[i],
                              "label": items[i].label, "predicted": classes[int(p)],
                              "probability": float(test_p[n].max())}
                             for n, (i, p) in enumerate(zip(split["test"], pred))],
    })
    return model, result


# -- outputs -------------------------------------------------------------------------------
def write_plots(out: Path, folds: list[dict], classes: list[str], arch: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    html = make_subplots(rows=1, cols=2, subplot_titles=("accuracy", "loss"))
    for fold in folds:
        h = fold["history"]
        epochs = np.arange(1, len(h["loss"]) + 1)
        for col, (key, ax) in enumerate((("accuracy", axes[0]), ("loss", axes[1])), start=1):
            for prefix, part, dash in (("", "train", "solid"), ("val_", "tune", "dash")):
                values = h.get(prefix + key, [])
                name = f"fold {fold['fold']} {part}"
                ax.plot(epochs[:len(values)], values, "-" if dash == "solid" else "--", label=name)
                html.add_trace(go.Scatter(x=epochs, y=values, mode="lines", name=f"{name} {key}",
                                          line={"dash": dash}), row=1, col=col)
    for ax, key in zip(axes, ("accuracy", "loss")):
        ax.set_xlabel("epoch")
        ax.set_ylabel(key)
        ax.set_title(f"{arch}: {key} (train solid, tuning people dashed)")
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out / "curves.png", dpi=110)
    plt.close(fig)
    html.update_layout(title=f"{arch}: accuracy and loss per epoch (tuning = held-out people)")
    html.write_html(out / "curves.html", include_plotlyjs=True)

    confusion = np.sum([np.array(f["confusion"]) for f in folds], axis=0)
    fig, ax = plt.subplots(figsize=(1.1 * len(classes) + 2, 1.0 * len(classes) + 1.5))
    ax.imshow(confusion, cmap="Blues")
    for (r, c), v in np.ndenumerate(confusion):
        ax.text(c, r, str(v), ha="center", va="center",
                color="white" if v > confusion.max() / 2 else "black")
    ax.set_xticks(range(len(classes)), classes, rotation=40, ha="right")
    ax.set_yticks(range(len(classes)), classes)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(f"{arch}: test people of every fold")
    fig.tight_layout()
    fig.savefig(out / "confusion_matrix.png", dpi=110)
    plt.close(fig)
    rows = ["true\\predicted," + ",".join(classes)]
    rows += [f"{c}," + ",".join(str(v) for v in confusion[i]) for i, c in enumerate(classes)]
    (out / "confusion_matrix.csv").write_text("\n".join(rows) + "\n")


def summarise_folds(folds: list[dict], classes: list[str]) -> dict:
    acc = np.array([f["accuracy"] for f in folds])
    f1 = np.array([f["macro_f1"] for f in folds])
    confusion = np.sum([np.array(f["confusion"]) for f in folds], axis=0)
    pooled = scores(np.repeat(np.arange(len(classes)), confusion.sum(1)),
                    np.concatenate([np.repeat(np.arange(len(classes)), row) for row in confusion]),
                    len(classes))
    per_class = {c: {"precision": round(pooled["precision"][i], 4),
                     "recall": round(pooled["recall"][i], 4), "f1": round(pooled["f1"][i], 4),
                     "support": int(confusion[i].sum())} for i, c in enumerate(classes)}
    out = {
        "person_held_out_accuracy": round(float(acc.mean()), 4),
        "person_held_out_macro_f1": round(float(f1.mean()), 4),
        "folds": len(folds),
        "accuracy_per_fold": [round(float(a), 4) for a in acc],
        "macro_f1_per_fold": [round(float(a), 4) for a in f1],
        "accuracy_sd_over_folds": round(float(acc.std(ddof=1)), 4) if len(folds) > 1 else None,
        "macro_f1_sd_over_folds": round(float(f1.std(ddof=1)), 4) if len(folds) > 1 else None,
        "accuracy_95ci_fold0_bootstrap_people": [round(v, 4) for v in folds[0]["accuracy_95ci"]],
        "macro_f1_95ci_fold0_bootstrap_people": [round(v, 4) for v in folds[0]["macro_f1_95ci"]],
        "per_class_pooled": per_class,
        "uncertain_below_fold0": folds[0]["uncertain_below"],
        "coverage_at_threshold_per_fold": [round(f["coverage_at_threshold"], 4) for f in folds],
        "accuracy_when_confident_per_fold": [None if f["accuracy_when_confident"] is None
                                             else round(f["accuracy_when_confident"], 4)
                                             for f in folds],
        "epochs_run_per_fold": [f["epochs_run"] for f in folds],
        "train_seconds_per_fold": [round(f["train_seconds"], 1) for f in folds],
    }
    return out


def write_per_class(out: Path, summary: dict) -> None:
    rows = ["class,precision,recall,f1,support"]
    rows += [f"{c},{v['precision']},{v['recall']},{v['f1']},{v['support']}"
             for c, v in summary["per_class_pooled"].items()]
    (out / "per_class.csv").write_text("\n".join(rows) + "\n")


# -- main ----------------------------------------------------------------------------------
def parse_args(argv=None) -> SeverityConfig:
    p = argparse.ArgumentParser(description="Train seed 003's six-class severity model.",
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--data", type=Path, required=True,
                   help="class folders root/<class>/<image>, or a YFP root")
    p.add_argument("--out", type=Path, required=True, help="run directory")
    p.add_argument("--arch", choices=ARCHITECTURES, default="seed_cnn")
    p.add_argument("--epochs", type=int, default=None,
                   help=f"default: {SEED_EPOCHS} (seed_cnn, the seed's) or {HEAD_EPOCHS}")
    p.add_argument("--batch-size", type=int, default=None,
                   help=f"default: {SEED_BATCH} (seed_cnn) or {HEAD_BATCH}")
    p.add_argument("--lr", type=float, default=SEED_LR, help="Adam learning rate")
    p.add_argument("--patience", type=int, default=None,
                   help="early stopping on the tuning people's loss, restoring the best "
                        f"epoch; 0: none (default: none for seed_cnn, {HEAD_PATIENCE} else)")
    p.add_argument("--folds", type=int, default=1, help="person-grouped folds (1: one split)")
    p.add_argument("--only-fold", type=int, default=None,
                   help="run only fold K of the --folds split (same people as in a full run)")
    p.add_argument("--test-fraction", type=float, default=0.2, help="with --folds 1")
    p.add_argument("--tune-fraction", type=float, default=0.15,
                   help="of the non-test people, held out to pick the epoch and threshold")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    p.add_argument("--threads", type=int, default=None, help="CPU threads for torch")
    p.add_argument("--cache", type=Path,
                   default=Path(os.environ.get("PALSY_CACHE_DIR", ".cache/palsy")) / "severity")
    p.add_argument("--promote", metavar="NAME", default=None,
                   help="install fold 0's model as weights/severity/NAME.keras + NAME.json")
    p.add_argument("--make-default", action="store_true")
    p.add_argument("--weights-dir", type=Path, default=None)
    p.add_argument("--simulated-data", action="store_true",
                   help="mark the card trained_on_simulated_data")
    p.add_argument("--training-data-note", default=None, help="one line for the card")
    p.add_argument("--attribution", action="append", default=[],
                   help="citation of a data set the weights derive from (repeatable)")
    p.add_argument("--compare-run", type=Path, action="append", default=[],
                   help="another run directory whose metrics the card quotes (e.g. the "
                        "seed-exact CNN on the same split)")
    p.add_argument("--why", default=None,
                   help="with --promote: why this model is the one installed (for the card)")
    p.add_argument("--no-progress", action="store_true")
    args = p.parse_args(argv)
    cnn = args.arch == "seed_cnn"
    return settings_from_args(
        SeverityConfig, args,
        epochs=args.epochs or (SEED_EPOCHS if cnn else HEAD_EPOCHS),
        batch_size=args.batch_size or (SEED_BATCH if cnn else HEAD_BATCH),
        patience=(0 if cnn else HEAD_PATIENCE) if args.patience is None else args.patience,
        promotion=Promotion.from_args(args), attribution=tuple(args.attribution),
        compare_run=tuple(args.compare_run), progress=not args.no_progress,
        command=("python", "-m", "trainers.severity",
                 *(sys.argv[1:] if argv is None else argv)))


@exits_on_training_error
def main(argv=None) -> int:
    config = parse_args(argv)
    if config.device == "cpu":
        os.environ["CUDA_VISIBLE_DEVICES"] = ""  # before torch is imported
    import torch

    from palsy_core.models._severity import keras_module

    if config.device == "cuda" and not torch.cuda.is_available():
        raise TrainingError("--device cuda, but torch sees no CUDA device.")
    if config.threads:
        torch.set_num_threads(config.threads)
    keras = keras_module()
    cuda = torch.cuda.is_available() and config.device != "cpu"
    if cuda:
        keras.mixed_precision.set_global_policy("mixed_bfloat16")
    config.out.mkdir(parents=True, exist_ok=True)
    items, classes, layout, has_ids = read_items(config.data)
    print(f"{len(items)} images, {layout}, classes: {', '.join(classes)}", file=sys.stderr)
    if not has_ids:
        print("WARNING: no file name starts with a person id (e.g. 14_smile.jpg): every "
              "image is its own group, so the split is NOT person-held-out and the numbers "
              "overstate what the model does on new people.", file=sys.stderr)
    usable, prepared = prepare(items, config.cache, progress=config.progress)
    arrays = prepared["arrays"]
    folds = person_folds([items[i].person for i in usable], config.folds, seed=config.seed,
                         test_fraction=config.test_fraction, tune_fraction=config.tune_fraction)
    if config.only_fold is not None:
        if not 0 <= config.only_fold < len(folds):
            raise TrainingError(f"--only-fold {config.only_fold}: the split has {len(folds)} "
                                "folds.")
        folds = {config.only_fold: folds[config.only_fold]}
    else:
        folds = dict(enumerate(folds))
    models = []

    def record_folds() -> list[dict]:
        results = []
        for k, parts in folds.items():
            model, result = run_fold(k, parts, config, keras, items, usable, arrays, classes,
                                     config.cache)
            models.append(model)
            results.append(result)
            print(f"fold {k}: test accuracy {result['accuracy']:.3f}, macro-F1 "
                  f"{result['macro_f1']:.3f} ({len(parts['test'])} people held out)",
                  file=sys.stderr)
            (config.out / f"fold_{k}.json").write_text(json.dumps(result, indent=1) + "\n")
        return results

    def summarise(results: list[dict]):
        summary = summarise_folds(results, classes)
        summary.update(arch=config.arch, classes=classes, layout=layout,
                       person_ids_in_file_names=has_ids, device="cuda" if cuda else "cpu",
                       images=len(usable), people=len({items[i].person for i in usable}),
                       skipped_images=len(prepared["skipped"]))
        (config.out / "metrics.json").write_text(json.dumps(summary, indent=2) + "\n")
        write_per_class(config.out, summary)
        write_plots(config.out, results, classes, config.arch)
        card = make_card(config, classes, summary, results[0], items, usable)
        (config.out / "card.json").write_text(json.dumps(card.to_dict(), indent=2) + "\n")
        print(json.dumps({k: summary[k] for k in (
            "person_held_out_accuracy", "person_held_out_macro_f1", "accuracy_sd_over_folds",
            "macro_f1_sd_over_folds", "accuracy_95ci_fold0_bootstrap_people",
            "macro_f1_95ci_fold0_bootstrap_people", "train_seconds_per_fold")}, indent=2))
        return card

    def promote(card) -> Path:
        return config.promotion.install(card, lambda p: models[0].save(p))

    run_record_promote(record_folds, summarise, promote if config.promotion.name else None,
                       make_default=config.promotion.make_default,
                       log=lambda text: print(text, file=sys.stderr))
    return 0


def make_card(config: SeverityConfig, classes, summary, fold0, items, usable):
    from palsy_core.models import ModelCard

    arch = "seed_cnn" if config.arch == "seed_cnn" else "geometry_mlp"
    model_config = {"classes": classes, "input_size": 224,
                    "uncertain_below": fold0["uncertain_below"],
                    "image_features": ("efficientnet_lite0"
                                       if config.arch == "effnet_geometry_mlp" else None),
                    "trainer_arch": config.arch}
    counts = {c: sum(items[i].label == c for i in usable) for c in classes}
    compare = {}
    for run in config.compare_run:
        other = json.loads((Path(run) / "metrics.json").read_text())
        compare[other["arch"]] = {k: other.get(k) for k in (
            "person_held_out_accuracy", "person_held_out_macro_f1", "accuracy_per_fold",
            "macro_f1_per_fold", "accuracy_sd_over_folds", "macro_f1_sd_over_folds",
            "accuracy_95ci_fold0_bootstrap_people", "macro_f1_95ci_fold0_bootstrap_people",
            "epochs_run_per_fold", "train_seconds_per_fold", "folds")}
    metrics = {k: v for k, v in summary.items() if k not in ("classes",)}
    if compare:
        metrics["compared_on_the_same_split"] = compare
    if config.why:
        metrics["why_this_model"] = config.why
    note = (config.promotion.training_data_note
            or f"{summary['images']} images of {summary['people']} people from {config.data}")
    return ModelCard(
        name=config.promotion.name or f"severity_{config.arch}", task="severity",
        framework="keras", architecture=arch, trained_on=note,
        trained_on_simulated_data=config.promotion.simulated_data,
        intended_use=("Decision support for clinicians: which region (eye or mouth) looks "
                      "affected and how much, as supporting detail beside the measured "
                      "asymmetry. Not a diagnosis."),
        config=model_config,
        training_data={"root": str(config.data), "layout": summary["layout"],
                       "images_per_class": counts, "people": summary["people"],
                       "person_ids_in_file_names": summary["person_ids_in_file_names"],
                       "skipped_images": summary["skipped_images"]},
        protocol={"split": "grouped by person", "folds": config.folds,
                  "tune_fraction": config.tune_fraction, "test_fraction": config.test_fraction,
                  "seed": config.seed, "epochs": config.epochs, "batch_size": config.batch_size,
                  "optimizer": f"Adam lr {config.lr}",
                  "loss": "sparse categorical cross-entropy from logits",
                  "early_stopping": (f"on the tuning people's loss, patience {config.patience}, "
                                     "best epoch restored") if config.patience else "none",
                  "uncertain_threshold": (
                      "the lowest top-class probability (grid 0.30-0.95) at which the "
                      f"tuning people's confident predictions are right >= "
                      f"{TARGET_CONFIDENT_ACCURACY:.0%}"),
                  "weights": "fold 0's model (its training people; epoch chosen on its "
                             "tuning people)",
                  "command": list(config.command)},
        metrics=metrics, attribution=list(config.attribution))


if __name__ == "__main__":
    sys.exit(main())
