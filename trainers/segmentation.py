"""Train seed 004's face-parsing network (``esc_fpnet``) and promote it into ``weights/parsing``.

::

    # build the mesh-derived set from the London faces (cached in --data), train, report
    python -m trainers.segmentation --faces ../shared/faces/london \\
        --data .cache/segmentation/london --out .cache/runs/parsing
    # ... and install it as the app's default
    python -m trainers.segmentation --faces ../shared/faces/london \\
        --data .cache/segmentation/london --out .cache/runs/parsing \\
        --promote parsing_esc_london_sim --make-default
    # hand-labelled data (LaPa layout, or ROOT/images + ROOT/labels with LaPa ids)
    python -m trainers.segmentation --data LAPA_ROOT --out runs/lapa

The model is trained on the ``train`` people, the epoch kept is the one with the best
mean F1 on the ``tune`` people, and every number in the run's report is on the ``test``
people, whom it never saw; ``--promote`` installs exactly that model (no retraining on
all people), so its card's metrics describe the weights the app loads.

Writes into ``--out``: ``config.json``, ``progress.csv`` (one row per epoch),
``metrics.json``, ``results_table.md`` / ``.csv`` (seed 004's Table 1 and Table 3
layouts), ``overlays/`` (test samples: photo | target | prediction; crops of the
volunteers' faces, so keep ``--out`` outside the repository) and ``best.pt``.

Departures from section 4.3 (300 epochs, batch 32, SGD momentum 0.9, 250 px): AdamW
(lr 2e-3, cosine decay) and 30 epochs on a 160 px crop by default, so the model trains
in minutes on a shared 2-core CPU; ``--optimizer sgd --epochs 300 --batch-size 32``
gives the paper's schedule; ``--time-limit MINUTES`` fits the epochs (and the decay) into
a time budget on a shared machine. Augmentation as the paper's (rotation +-10 degrees, scale
0.75-1.25 narrowed to 0.9-1.1 because the crop is already aligned), plus mirror images
(the paralysed side flips with the photo) and a small colour change.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from collections.abc import Sequence

import numpy as np

from ._run import (Promotion, TrainingError, exits_on_training_error, run_record_promote,
                   settings_from_args)
from .segmentation_data import ParsingSet, build_mesh_set, read_labelled_folders

#: Classes whose mean F1 is the headline (seed 004's face classes we have; no hair).
FACE_CLASSES = ("skin", "brows", "eyes", "mouth")
#: Columns of seed 004's Table 1.
TABLE1_COLUMNS = ("Skin", "Hair", "Eyebrow", "Eye", "Mouth", "FPP")
ATTRIBUTION = ("DeBruine, L., & Jones, B. (2017). Face Research Lab London Set (Version 5). "
               "figshare. https://doi.org/10.6084/m9.figshare.5047666.v5")


@dataclass(frozen=True)
class SegmentationConfig:
    """One run of this trainer: its flags (see :func:`build_parser` for each)."""

    data: Path
    out: Path
    faces: Path | None = None
    limit_people: int | None = None
    tune_people: int = 10
    test_people: int = 12
    input_size: int = 160
    epochs: int = 30
    time_limit: float | None = None
    batch_size: int = 16
    lr: float = 2e-3
    optimizer: str = "adamw"
    seed: int = 0
    device: str = "auto"
    threads: int = 2
    overlays: int = 8
    promotion: Promotion = field(default_factory=Promotion)
    progress: bool = True


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--data", type=Path, required=True,
                   help="with --faces: where the built set is cached; else a built set "
                        "(.npz or its folder) or labelled folders (LaPa layout)")
    p.add_argument("--faces", type=Path, default=None,
                   help="build the mesh-derived set from this folder of faces "
                        "(London layout: neutral/ + smiling/)")
    p.add_argument("--out", type=Path, required=True, help="run directory")
    p.add_argument("--limit-people", type=int, default=None, help="first N people only (tests)")
    p.add_argument("--tune-people", type=int, default=10)
    p.add_argument("--test-people", type=int, default=12)
    p.add_argument("--input-size", type=int, default=160)
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--time-limit", type=float, default=None, metavar="MINUTES",
                   help="plan the epochs (and the learning-rate decay) to end within this "
                        "many minutes of training, measured on the first epoch")
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--optimizer", choices=("adamw", "sgd"), default="adamw",
                   help="sgd: the paper's (momentum 0.9)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto",
                   help="auto: CUDA with bfloat16 mixed precision when present, else CPU")
    p.add_argument("--threads", type=int, default=2, help="CPU threads")
    p.add_argument("--overlays", type=int, default=8, help="test samples drawn into overlays/")
    p.add_argument("--promote", metavar="NAME", default=None,
                   help="install the trained model as weights/parsing/NAME.pt + NAME.json")
    p.add_argument("--make-default", action="store_true",
                   help="with --promote: make it the model the app loads")
    p.add_argument("--weights-dir", type=Path, default=None,
                   help="where --promote writes (default: the repository's weights/)")
    p.add_argument("--no-progress", action="store_true", help="no per-epoch lines")
    return p


# -- data -------------------------------------------------------------------------------------
def load_data(config: SegmentationConfig) -> tuple[ParsingSet, dict]:
    """The set the settings name, and a description for the card."""
    if config.faces is not None:
        if not config.faces.is_dir():
            raise TrainingError(f"--faces {config.faces} is not a folder.")
        path = build_mesh_set(config.faces, config.data, size=config.input_size,
                              tune=config.tune_people, test=config.test_people,
                              seed=config.seed, limit=config.limit_people,
                              progress=config.progress)
        manifest = json.loads(path.with_suffix(".json").read_text())
        return ParsingSet.load(path), {"kind": "mesh-derived", "set": str(path), **manifest}
    data = config.data
    if data.suffix == ".npz" and data.is_file():
        return ParsingSet.load(data), {"kind": "mesh-derived", "set": str(data),
                                       **_manifest(data)}
    if data.is_dir():
        built = sorted(data.glob("parsing_set_*.npz"), key=lambda p: p.stat().st_mtime)
        if built:
            return ParsingSet.load(built[-1]), {"kind": "mesh-derived", "set": str(built[-1]),
                                                **_manifest(built[-1])}
        if (data / "images").is_dir() or (data / "train" / "images").is_dir():
            return (read_labelled_folders(data, size=config.input_size, seed=config.seed,
                                          progress=config.progress),
                    {"kind": "labelled folders (LaPa ids)", "root": str(data)})
    raise TrainingError(f"{data} holds no built set (parsing_set_*.npz) and no labelled "
                        "folders (images/ + labels/, or train/images ...). Build one with "
                        "--faces FOLDER.")


def _manifest(path: Path) -> dict:
    side = path.with_suffix(".json")
    return json.loads(side.read_text()) if side.is_file() else {}


# -- augmentation -----------------------------------------------------------------------------
def augment(batch: dict, generator, *, rotation_deg: float = 10.0,
            scale: tuple[float, float] = (0.9, 1.1), shift: float = 0.04) -> dict:
    """Random similarity, mirror and colour change of a batch (torch tensors, same device).

    Targets follow the pixels (nearest-neighbour); areas brought in from outside the crop
    are background, unlabelled paralysis and unknown depth.
    """
    import torch
    import torch.nn.functional as F

    images = batch["images"]
    n, device = images.shape[0], images.device
    rand = lambda *shape: torch.rand(*shape, generator=generator).to(device)  # noqa: E731
    angle = (rand(n) * 2 - 1) * math.radians(rotation_deg)
    factor = scale[0] + rand(n) * (scale[1] - scale[0])
    flip = torch.where(rand(n) < 0.5, -1.0, 1.0).to(device)
    theta = torch.zeros(n, 2, 3, device=device)
    theta[:, 0, 0] = torch.cos(angle) / factor * flip
    theta[:, 0, 1] = -torch.sin(angle) / factor
    theta[:, 1, 0] = torch.sin(angle) / factor * flip
    theta[:, 1, 1] = torch.cos(angle) / factor
    theta[:, :, 2] = (rand(n, 2) * 2 - 1) * shift * 2
    grid = F.affine_grid(theta, list(images.shape), align_corners=False)
    out = {"images": F.grid_sample(images, grid, mode="bilinear", padding_mode="border",
                                   align_corners=False)}
    nearest = lambda t, pad: F.grid_sample(  # noqa: E731
        (t.float() - pad)[:, None], grid, mode="nearest", padding_mode="zeros",
        align_corners=False)[:, 0] + pad
    out["labels"] = nearest(batch["labels"], 0).long()
    out["paralysed"] = nearest(batch["paralysed"], -1).long()
    depth = batch["depth"]
    shifted = torch.where(torch.isfinite(depth), depth + 1.0, torch.zeros_like(depth))
    sampled = nearest(shifted, 0)
    out["depth"] = torch.where(sampled > 0.5, sampled - 1.0, torch.full_like(sampled, float("nan")))
    gain = 0.85 + rand(n, 3, 1, 1) * 0.3
    offset = (rand(n, 1, 1, 1) * 2 - 1) * 0.2
    out["images"] = out["images"] * gain + offset
    return out


def to_batch(data: ParsingSet, index: np.ndarray, device: str) -> dict:
    import torch

    from palsy_core.models._parsing import to_tensor

    return {
        "images": to_tensor(data.images[index]).to(device),
        "labels": torch.from_numpy(data.labels[index].astype(np.int64)).to(device),
        "paralysed": torch.from_numpy(data.paralysed[index].astype(np.int64)).to(device),
        "depth": torch.from_numpy(data.depth[index].astype(np.float32)).to(device),
    }


# -- evaluation -------------------------------------------------------------------------------
def predict_set(net, data: ParsingSet, device: str, batch_size: int = 32
                ) -> tuple[np.ndarray, np.ndarray]:
    """Predicted class maps (N, S, S) uint8 and paralysed masks (N, S, S) bool."""
    import torch

    from palsy_core.models._parsing import to_tensor

    from ._common import autocast

    net.eval()
    labels, paralysed = [], []
    with torch.inference_mode(), autocast(device):
        for start in range(0, len(data), batch_size):
            out = net(to_tensor(data.images[start:start + batch_size]).to(device))
            labels.append(out.logits.float().argmax(1).to(torch.uint8).cpu().numpy())
            paralysed.append((out.paralysed_logit.float()[:, 0] > 0).cpu().numpy())
    return np.concatenate(labels), np.concatenate(paralysed)


def evaluate(data: ParsingSet, predicted: np.ndarray, paralysed: np.ndarray,
             class_names: Sequence[str]) -> dict:
    """Seed 004's metrics on a set, with per-person spread and the side accuracy."""
    from palsy_core.segmentation import (affected_side_of, confusion_matrix, lateral_map,
                                         segmentation_scores)

    k = len(class_names)
    face_idx = [class_names.index(c) for c in FACE_CLASSES if c in class_names]
    confusion = confusion_matrix(predicted, data.labels, k)
    labelled = data.paralysed >= 0
    fpp_confusion = confusion_matrix(paralysed[labelled].astype(np.uint8),
                                     data.paralysed[labelled].astype(np.uint8), 2)
    scores = segmentation_scores(confusion)
    fpp = segmentation_scores(fpp_confusion)
    # mIoU over the classes and FPP (the seed's six categories, less hair).
    per_person = []
    for person in sorted(set(data.person)):
        rows = data.person == person
        s = segmentation_scores(confusion_matrix(predicted[rows], data.labels[rows], k))
        per_person.append(float(np.nanmean(s.f1[face_idx])))
    sides = []
    for i in range(len(data)):
        if data.paralysed[i].min() < 0:
            continue
        side, shares = affected_side_of(paralysed[i], predicted[i],
                                        lateral_map(data.landmarks[i], predicted[i].shape))
        sides.append((data.side[i] or None, side, data.kind[i]))
    palsy_cases = [(t, p) for t, p, _ in sides if t]
    healthy_cases = [(t, p) for t, p, _ in sides if not t]
    by_kind: dict[str, list[bool]] = {}
    for truth, guess, kind in sides:
        if truth:
            by_kind.setdefault(kind, []).append(guess == truth)
    return {
        "samples": len(data), "people": len(set(data.person)),
        "f1": {name: _pct(v) for name, v in zip(class_names, scores.f1)},
        "iou": {name: _pct(v) for name, v in zip(class_names, scores.iou)},
        "fpp_f1": _pct(fpp.f1[1]), "fpp_iou": _pct(fpp.iou[1]),
        "mean_f1_face": _pct(np.nanmean(scores.f1[face_idx])),
        "mean_f1_face_with_fpp": _pct(np.nanmean(list(scores.f1[face_idx]) + [fpp.f1[1]])),
        "mean_f1_face_per_person": {"mean": _pct(np.mean(per_person)),
                                    "sd": _pct(np.std(per_person)),
                                    "min": _pct(np.min(per_person))},
        "mean_iou": _pct(np.nanmean(list(scores.iou) + [fpp.iou[1]])),
        "mean_iou_classes": _pct(scores.mean_iou),
        "pixel_accuracy": _pct(scores.pixel_accuracy),
        "side_accuracy": (_pct(np.mean([t == p for t, p in palsy_cases])) if palsy_cases else None),
        "side_cases": len(palsy_cases),
        "side_missed": sum(p is None for _, p in palsy_cases),
        "side_accuracy_by_kind": {k: {"accuracy": _pct(np.mean(v)), "n": len(v)}
                                  for k, v in sorted(by_kind.items())},
        "healthy_with_region": (f"{sum(p is not None for _, p in healthy_cases)}/"
                                f"{len(healthy_cases)}"),
    }


def _pct(value) -> float | None:
    value = float(value)
    return None if math.isnan(value) else round(100.0 * value, 2)


def results_tables(name: str, metrics: dict) -> tuple[str, list[list[str]]]:
    """Seed 004's Table 1 (per-class F1, mean F1) and Table 3 (mean IoU, PA), Markdown + rows."""
    f1 = metrics["f1"]
    fmt = lambda v: "n/a" if v is None else f"{v:.2f}"  # noqa: E731
    row1 = [name, fmt(f1.get("skin")), "n/a", fmt(f1.get("brows")), fmt(f1.get("eyes")),
            fmt(f1.get("mouth")), fmt(metrics["fpp_f1"]), fmt(metrics["mean_f1_face_with_fpp"]),
            fmt(metrics["mean_f1_face"])]
    head1 = ["Models", *TABLE1_COLUMNS, "Mean F1 (%)", "Mean F1 skin/brows/eyes/mouth (%)"]
    row3 = [name, fmt(metrics["mean_iou"]), fmt(metrics["pixel_accuracy"])]
    head3 = ["Models", "Mean IoU (%)", "Mean PA (%)"]
    md = ["Table 1 layout: F1 (%) on the test people (hair not modelled: n/a)", "",
          "| " + " | ".join(head1) + " |", "|" + "---|" * len(head1),
          "| " + " | ".join(row1) + " |", "",
          "Table 3 layout", "", "| " + " | ".join(head3) + " |", "|" + "---|" * len(head3),
          "| " + " | ".join(row3) + " |", "",
          f"Per-person mean F1 (skin/brows/eyes/mouth): {metrics['mean_f1_face_per_person']}",
          f"Paralysed side right: {metrics['side_accuracy']} % of {metrics['side_cases']} "
          f"simulated palsy cases ({metrics['side_missed']} with no region found); healthy "
          f"photos with a region: {metrics['healthy_with_region']}"]
    return "\n".join(md) + "\n", [head1, row1, [], head3, row3]


def write_overlays(data: ParsingSet, predicted: np.ndarray, paralysed: np.ndarray,
                   folder: Path, count: int) -> list[str]:
    """Photo | target | prediction PNGs of up to ``count`` samples (palsy cases first)."""
    import cv2

    from palsy_core.segmentation import (CLASS_NAMES, FaceParsing,
                                         affected_side_of, lateral_map, pixel_shares,
                                         segmentation_overlay)

    folder.mkdir(parents=True, exist_ok=True)
    order = sorted(range(len(data)), key=lambda i: (data.side[i] == "", i))
    written = []
    for i in order[:count]:
        panels = [data.images[i]]
        for labels, region in ((data.labels[i], data.paralysed[i] > 0), (predicted[i], paralysed[i])):
            labels = np.where(labels == 255, 0, labels).astype(np.uint8)
            side, shares = affected_side_of(region, labels, lateral_map(data.landmarks[i], labels.shape))
            parsing = FaceParsing(labels, region, CLASS_NAMES, pixel_shares(labels, region), side,
                                  shares, "", "", True)
            big = cv2.resize(data.images[i], None, fx=3, fy=3, interpolation=cv2.INTER_CUBIC)
            parsing.labels = cv2.resize(labels, None, fx=3, fy=3, interpolation=cv2.INTER_NEAREST)
            parsing.paralysed = cv2.resize(region.astype(np.uint8), None, fx=3, fy=3,
                                           interpolation=cv2.INTER_NEAREST).astype(bool)
            panels.append(segmentation_overlay(big, parsing))
        panels[0] = cv2.resize(panels[0], None, fx=3, fy=3, interpolation=cv2.INTER_CUBIC)
        name = f"{data.person[i]}_{data.kind[i]}_{data.side[i] or 'healthy'}.png"
        cv2.imwrite(str(folder / name), cv2.cvtColor(np.hstack(panels), cv2.COLOR_RGB2BGR))
        written.append(name)
    return written


# -- training ---------------------------------------------------------------------------------
def train(config: SegmentationConfig, data: ParsingSet, device: str, log) -> tuple[object, dict]:
    """Train on ``train``, keep the best epoch on ``tune``; returns the net and history."""
    import torch

    from palsy_core.models._parsing import FaceParsingNet, ParsingConfig, parsing_loss

    from ._common import autocast

    train_set, tune_set = data.part("train"), data.part("tune")
    if len(train_set) == 0 or len(tune_set) == 0:
        raise TrainingError("the split left no training or no tuning people; use more "
                            "people or fewer --tune-people / --test-people.")
    net = FaceParsingNet(ParsingConfig(input_size=config.input_size)).to(device)
    if config.optimizer == "adamw":
        optimizer = torch.optim.AdamW(net.parameters(), lr=config.lr, weight_decay=1e-4)
    else:
        optimizer = torch.optim.SGD(net.parameters(), lr=config.lr, momentum=0.9, weight_decay=1e-4)
    steps_per_epoch = math.ceil(len(train_set) / config.batch_size)
    planned = config.epochs
    generator = torch.Generator().manual_seed(config.seed)
    history, best, best_state = [], -1.0, None
    step_count, began, epoch = 0, time.perf_counter(), 0
    while epoch < planned:
        start = time.perf_counter()
        net.train()
        order = torch.randperm(len(train_set), generator=generator).numpy()
        sums: dict[str, float] = {}
        for step in range(steps_per_epoch):
            index = np.sort(order[step * config.batch_size:(step + 1) * config.batch_size])
            batch = augment(to_batch(train_set, index, device), generator)
            with autocast(device):
                out = net(batch["images"])
            losses = parsing_loss(_float(out), batch["labels"], batch["paralysed"], batch["depth"])
            optimizer.zero_grad(set_to_none=True)
            losses["total"].backward()
            for group in optimizer.param_groups:
                group["lr"] = _learning_rate(config.lr, step_count, planned * steps_per_epoch)
            optimizer.step()
            step_count += 1
            for key, value in losses.items():
                sums[key] = sums.get(key, 0.0) + float(value.detach()) / steps_per_epoch
        predicted, paralysed = predict_set(net, tune_set, device)
        tune = evaluate(tune_set, predicted, paralysed, list(net.config.class_names))
        score = tune["mean_f1_face"] + (tune["side_accuracy"] or 0.0) * 0.25
        row = {"epoch": epoch + 1, **{f"loss_{k}": round(v, 4) for k, v in sums.items()},
               "tune_mean_f1_face": tune["mean_f1_face"], "tune_fpp_f1": tune["fpp_f1"],
               "tune_side_accuracy": tune["side_accuracy"],
               "seconds": round(time.perf_counter() - start, 1)}
        history.append(row)
        if score > best:
            best = score
            best_state = {k: v.detach().cpu().clone() for k, v in net.state_dict().items()}
            row["kept"] = True
        epoch += 1
        if epoch <= 2 and config.time_limit:
            # Plan the run from the latest epoch's cost (its evaluation included); the
            # first epoch also pays one-off set-up, so the plan is made again after the
            # second.
            left = config.time_limit * 60 - (time.perf_counter() - began)
            fits = epoch + int(left / max(time.perf_counter() - start, 1e-3))
            planned = max(epoch, min(config.epochs, fits))
        log(f"epoch {epoch}/{planned}  loss {sums['total']:.3f}  tune F1 "
            f"{tune['mean_f1_face']:.2f}  FPP {tune['fpp_f1']}  side {tune['side_accuracy']}  "
            f"({row['seconds']} s){'  *' if row.get('kept') else ''}")
    net.load_state_dict(best_state)
    return net, {"history": history, "epochs_run": epoch, "best_epoch": max(
        (r["epoch"] for r in history if r.get("kept")), default=0)}


def _learning_rate(peak: float, step: int, total: int) -> float:
    """Linear warm-up over the first 5 % of the steps, then cosine decay to zero."""
    warm = max(1, int(0.05 * total))
    if step < warm:
        return peak * (step + 1) / warm
    return 0.5 * peak * (1 + math.cos(math.pi * min(1.0, (step - warm) / max(1, total - warm))))


def _float(out):
    """Network outputs in float32 (for the loss under mixed precision)."""
    from dataclasses import fields, replace

    return replace(out, **{f.name: getattr(out, f.name).float() for f in fields(out)})


def promote(config: SegmentationConfig, net, metrics: dict, described: dict,
            training: dict) -> Path:
    import torch

    from palsy_core.models import ModelCard
    from palsy_core.models._parsing import ARCHITECTURE

    mesh = described["kind"] == "mesh-derived"
    counts = described.get("counts", {})
    train_people = counts.get("train", {}).get("people")
    card = ModelCard(
        name=config.promotion.name, task="parsing", framework="torch", architecture=ARCHITECTURE,
        trained_on=(f"masks drawn from the MediaPipe face mesh and simulated palsy warped from "
                    f"photos of {train_people} healthy volunteers (Face Research Lab London "
                    "Set), not patients" if mesh else
                    f"hand-labelled face parsing data ({described.get('root')}); no paralysis labels"),
        trained_on_simulated_data=mesh,
        intended_use=("Decision support and research: shows where the face's parts are and "
                      "where the model sees a simulator-like one-sided droop. Not a diagnosis; "
                      "not validated on patients."),
        config=net.config.to_dict(),
        training_data={**{k: v for k, v in described.items() if k != "people"},
                       "test_people": training.get("test_people", [])},
        protocol={"split": "by person: train / tune (epoch choice) / test (reported)",
                  "optimizer": config.optimizer, "lr": config.lr,
                  "epochs": training.get("epochs_run", config.epochs),
                  "time_limit_minutes": config.time_limit,
                  "best_epoch": training["best_epoch"], "batch_size": config.batch_size,
                  "input_size": config.input_size, "seed": config.seed,
                  "train_seconds": training.get("seconds"),
                  "command": training.get("command")},
        metrics={"test": metrics["test"], "tune": metrics["tune"]},
        attribution=[ATTRIBUTION] if mesh else [],
    )
    return config.promotion.install(card, lambda path: torch.save(net.state_dict(), path))


@exits_on_training_error
def main(argv: Sequence[str] | None = None) -> int:
    import torch

    from ._common import resolve_device, seed_everything

    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    config = settings_from_args(SegmentationConfig, args, promotion=Promotion.from_args(args),
                                progress=not args.no_progress)
    os.environ.setdefault("GLOG_minloglevel", "2")
    device = resolve_device(config.device)
    if device == "cpu":
        torch.set_num_threads(max(1, config.threads))
    seed_everything(config.seed)
    config.out.mkdir(parents=True, exist_ok=True)
    log = (lambda text: print(text, flush=True)) if config.progress else (lambda text: None)
    started = time.perf_counter()
    data, described = load_data(config)
    log(f"data: {len(data)} samples, " + ", ".join(
        f"{s} {len(set(data.person[data.split == s]))} people / {(data.split == s).sum()}"
        for s in ("train", "tune", "test")) + f" ({time.perf_counter() - started:.0f} s)")
    (config.out / "config.json").write_text(json.dumps(
        {"command": ["python", "-m", "trainers.segmentation", *argv], "device": device,
         **{k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
         "data": {k: v for k, v in described.items() if k != "people"}}, indent=2) + "\n")

    def record_split() -> tuple[object, dict]:
        """The one person-held-out split: train, keep the best epoch on the tuning people,
        write the weights and the per-epoch progress."""
        train_start = time.perf_counter()
        net, training = train(config, data, device, log)
        training["seconds"] = round(time.perf_counter() - train_start, 1)
        training["command"] = " ".join(["python -m trainers.segmentation", *argv])
        training["test_people"] = sorted(set(data.person[data.split == "test"].tolist()))
        torch.save(net.state_dict(), config.out / "best.pt")
        with open(config.out / "progress.csv", "w", newline="") as handle:
            keys = sorted({k for row in training["history"] for k in row},
                          key=lambda k: (k != "epoch", k))
            writer = csv.DictWriter(handle, fieldnames=keys)
            writer.writeheader()
            writer.writerows(training["history"])
        return net, training

    def summarise(trained: tuple[object, dict]) -> tuple[object, dict, dict]:
        net, training = trained
        names = list(net.config.class_names)
        metrics = {}
        for part in ("tune", "test"):
            subset = data.part(part)
            if len(subset):
                predicted, paralysed = predict_set(net, subset, device)
                metrics[part] = evaluate(subset, predicted, paralysed, names)
        test = data.part("test")
        if len(test):
            predicted, paralysed = predict_set(net, test, device)
            write_overlays(test, predicted, paralysed, config.out / "overlays", config.overlays)
        report = metrics.get("test") or metrics["tune"]
        table_md, table_rows = results_tables(config.promotion.name or "esc_fpnet (this run)",
                                              report)
        (config.out / "results_table.md").write_text(table_md)
        with open(config.out / "results_table.csv", "w", newline="") as handle:
            csv.writer(handle).writerows(table_rows)
        (config.out / "metrics.json").write_text(json.dumps(
            {**metrics, "best_epoch": training["best_epoch"],
             "train_seconds": training["seconds"], "device": device}, indent=2) + "\n")
        print(table_md)
        print(f"trained in {training['seconds']:.0f} s on {device}; best epoch "
              f"{training['best_epoch']}; run in {config.out}")
        return net, training, metrics

    def install(summary: tuple[object, dict, dict]) -> Path:
        net, training, metrics = summary
        return promote(config, net, metrics, described, training)

    run_record_promote(record_split, summarise,
                       install if config.promotion.name else None,
                       make_default=config.promotion.make_default)
    return 0


if __name__ == "__main__":
    sys.exit(main())
