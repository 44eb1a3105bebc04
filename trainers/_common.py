"""What every trainer shares: command-line flags, data, folds, the training loop, outputs.

A run directory holds::

    config.json              every setting of the run (and the data it read)
    folds/fold_03.json       one file per fold: metrics, counts, per-image predictions
    results_table.csv / .md  Table 1 of seed 000, filled with this run's row
    per_fold.csv             the per-fold numbers behind it

Folds are independent: ``--fold K`` runs one alone (several jobs may share a run
directory, or use separate ones); ``python -m trainers.collect`` merges them. ``--ray``
runs each fold as a Ray task, locally or on a cluster (:mod:`trainers._ray`).
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import math
import os
import random
import sys
import time
import uuid
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from collections.abc import Callable, Iterator, Sequence

import numpy as np

from ._ray import RayOptions, add_ray_arguments
from ._run import Promotion, TrainingError, run_record_promote, settings_from_args

# -- the paper's hyper-parameters (seed 000, section 3.2) ----------------------------------


@dataclass(frozen=True)
class Hyper:
    """Optimiser settings of one training stage.

    ``patience``: stop when the mean training loss has not improved for this many
    epochs (the paper's early stopping "based on training loss"); None trains all
    ``epochs``.
    """

    optimizer: str
    lr: float
    batch_size: int
    epochs: int
    patience: int | None = None


#: FNNs: SGD, lr 0.2045, batch 256; 1000 epochs (blendshapes) or 3000 (others).
FNN_HYPER = {
    "blendshapes": Hyper("sgd", 0.2045, 256, 1000),
    "coordinates": Hyper("sgd", 0.2045, 256, 3000),
    "handcrafted": Hyper("sgd", 0.2045, 256, 3000),
}
#: Image models by (architecture, modality). EfficientNet-Lite0 is not in the paper; it
#: trains only a head (BatchNorm + linear) on frozen features and takes the Mixer's
#: settings, which beat AdamW (lr 0.001) on our simulated LOPO (70.8 vs 63.7 F1).
IMAGE_HYPER = {
    ("resnet50", "rgb"): Hyper("sgd", 0.01, 256, 20),
    ("resnet50", "linesegment"): Hyper("sgd", 0.01, 128, 100, patience=3),
    ("fastervit_0", "rgb"): Hyper("adamw", 0.001, 256, 20),
    ("fastervit_0", "linesegment"): Hyper("adamw", 0.001, 128, 100, patience=3),
    ("mixer_b16_224", "rgb"): Hyper("sgd", 0.01, 256, 40),
    ("mixer_b16_224", "linesegment"): Hyper("sgd", 0.01, 128, 100, patience=3),
    ("efficientnet_lite0", "rgb"): Hyper("sgd", 0.01, 256, 40),
    ("efficientnet_lite0", "linesegment"): Hyper("sgd", 0.01, 128, 100, patience=3),
}
#: Early-fusion head: SGD, batch 128, up to 100 epochs, patience 3; lr 0.01 with an
#: RGB image model, 0.001 with line segments (the paper's two fusion rows).
FUSION_HYPER = {
    "rgb": Hyper("sgd", 0.01, 128, 100, patience=3),
    "linesegment": Hyper("sgd", 0.001, 128, 100, patience=3),
}
#: Short names accepted on the command line.
IMAGE_MODEL_ALIASES = {
    "resnet50": "resnet50", "fastervit": "fastervit_0", "fastervit_0": "fastervit_0",
    "mixer": "mixer_b16_224", "mixer_b16_224": "mixer_b16_224",
    "efficientnet_lite0": "efficientnet_lite0", "efficientnet": "efficientnet_lite0",
}


# -- command line ---------------------------------------------------------------------------
def common_parser(description: str) -> argparse.ArgumentParser:
    """An argument parser with the flags every trainer takes."""
    p = argparse.ArgumentParser(description=description,
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    data = p.add_argument_group("data")
    data.add_argument("--yfp", type=Path,
                      help="YouTube Facial Palsy root (Image*/, Image_large_XML/)")
    data.add_argument("--ckplus", type=Path, help="CK+ root (cohn-kanade-images/)")
    data.add_argument("--folders", type=Path, help="class-folder root: root/<class>/<image>")
    data.add_argument("--cache", type=Path, default=None,
                      help="modality / embedding cache (default $PALSY_CACHE_DIR or .cache/palsy)")
    proto = p.add_argument_group("protocol (seed 000, section 4.2)")
    proto.add_argument("--protocol", choices=("lopo", "split"), default="lopo",
                       help="leave-one-patient-out, or one patient-grouped train/test split")
    proto.add_argument("--fold", type=int, default=None,
                       help="run only fold K (0-based); merge later with trainers.collect")
    proto.add_argument("--train-per-subject", type=int, default=50)
    proto.add_argument("--test-per-palsy-subject", type=int, default=50)
    proto.add_argument("--healthy-train-subjects", type=int, default=20)
    proto.add_argument("--healthy-test-subjects", type=int, default=20)
    proto.add_argument("--test-per-healthy-subject", type=int, default=2)
    proto.add_argument("--test-fraction", type=float, default=0.2, help="--protocol split only")
    train = p.add_argument_group("training (defaults: the paper's for the chosen model)")
    train.add_argument("--epochs", type=int, default=None)
    train.add_argument("--lr", type=float, default=None)
    train.add_argument("--batch-size", type=int, default=None)
    train.add_argument("--patience", type=int, default=None,
                       help="early stopping on training loss; 0 disables")
    train.add_argument("--optimizer", choices=("sgd", "adamw"), default=None)
    train.add_argument("--mirror", action="store_true",
                       help="also train on each image's mirror image, and predict the mean "
                            "over a face and its mirror (palsy is no likelier on one side); "
                            "not in the paper")
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto",
                       help="auto: CUDA with mixed precision when present, else CPU")
    out = p.add_argument_group("output")
    out.add_argument("--out", type=Path, required=True, help="run directory")
    out.add_argument("--promote", metavar="NAME", default=None,
                     help="also train on all subjects and install as "
                          "weights/palsy/NAME.pt + NAME.json")
    out.add_argument("--make-default", action="store_true",
                     help="with --promote: make it the model the app loads")
    out.add_argument("--weights-dir", type=Path, default=None,
                     help="weights root --promote writes under (DIR/palsy/; default: the "
                          "repository's weights/)")
    out.add_argument("--training-data-note", default=None,
                     help="with --promote: one line on the training data for the model card")
    out.add_argument("--simulated-data", action="store_true",
                     help="with --promote: mark the card trained_on_simulated_data")
    out.add_argument("--no-progress", action="store_true", help="no progress bars")
    add_ray_arguments(p)
    return p


def add_image_arguments(p: argparse.ArgumentParser, *, prefix: str = "") -> None:
    """Flags choosing an image model and its backbone weights."""
    g = p.add_argument_group("image model")
    g.add_argument(f"--{prefix}model", dest="image_model", default="efficientnet_lite0",
                   choices=sorted(IMAGE_MODEL_ALIASES),
                   help="resnet50 / fastervit / mixer need --checkpoint")
    g.add_argument(f"--{prefix}modality", dest="image_modality", default="rgb",
                   choices=("rgb", "linesegment"))
    g.add_argument("--checkpoint", type=Path, default=None,
                   help="local pretrained backbone weights (state dict, .safetensors, or "
                        "TorchScript for FasterViT); EfficientNet-Lite0 defaults to its "
                        "packaged ImageNet weights")
    g.add_argument("--allow-random-init", action="store_true",
                   help="random backbone when no checkpoint (smoke tests only)")
    g.add_argument("--pixel-norm", choices=("imagenet", "half", "unit"), default=None,
                   help="pixel normalisation of the checkpoint (default: the backbone's usual)")
    g.add_argument("--input-size", type=int, default=224,
                   help="network input side in pixels (224 in the paper)")


@dataclass(frozen=True)
class TrainConfig:
    """One palsy-trainer run: every flag of :func:`common_parser` (see its help for each).

    Trainers extend it with their own flags; ``main`` builds it with :meth:`from_args`
    and everything below takes it. ``trainer``: the module a Ray worker rebuilds the run
    with; ``command``: the command line, for ``config.json``.
    """

    out: Path
    trainer: str = ""
    command: tuple[str, ...] = ()
    yfp: Path | None = None
    ckplus: Path | None = None
    folders: Path | None = None
    cache: Path | None = None
    protocol: str = "lopo"
    fold: int | None = None
    train_per_subject: int = 50
    test_per_palsy_subject: int = 50
    healthy_train_subjects: int = 20
    healthy_test_subjects: int = 20
    test_per_healthy_subject: int = 2
    test_fraction: float = 0.2
    epochs: int | None = None
    lr: float | None = None
    batch_size: int | None = None
    patience: int | None = None
    optimizer: str | None = None
    mirror: bool = False
    seed: int = 0
    device: str = "auto"
    progress: bool = True
    promotion: Promotion = field(default_factory=Promotion)
    ray: RayOptions | None = None

    @classmethod
    def from_args(cls, args: argparse.Namespace):
        """The settings of parsed flags (from :func:`parse_args`)."""
        return settings_from_args(cls, args, command=tuple(args.command),
                                  progress=not args.no_progress,
                                  promotion=Promotion.from_args(args),
                                  ray=RayOptions.from_args(args))


def parse_args(parser: argparse.ArgumentParser, argv, module: str) -> argparse.Namespace:
    """Parse ``argv`` (default: the command line) and remember the trainer module and the
    command for config.json."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(argv)
    args.trainer = module
    args.command = ["python", "-m", module, *argv]
    return args


def hyper_from_settings(config: TrainConfig, paper: Hyper) -> Hyper:
    """The paper's settings with any command-line overrides applied."""
    patience = paper.patience if config.patience is None else (config.patience or None)
    return Hyper(optimizer=config.optimizer or paper.optimizer,
                 lr=paper.lr if config.lr is None else config.lr,
                 batch_size=config.batch_size or paper.batch_size,
                 epochs=paper.epochs if config.epochs is None else config.epochs,
                 patience=patience)


def resolve_device(name: str) -> str:
    import torch

    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda" and not torch.cuda.is_available():
        raise TrainingError("--device cuda, but torch sees no CUDA device.")
    return name


def seed_everything(seed: int) -> None:
    import torch

    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


# -- training loop ----------------------------------------------------------------------------
def autocast(device: str):
    """bfloat16 mixed precision on CUDA (no loss scaling needed); nothing on CPU."""
    import torch

    if device.startswith("cuda"):
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return nullcontext()


def fit(module, forward: Callable, inputs: Sequence, labels, hyper: Hyper, *, device: str,
        seed: int, desc: str = "train", progress: bool = True) -> dict:
    """Train ``module`` with cross-entropy over two logits.

    Parameters
    ----------
    module : nn.Module
        Owns the trainable parameters (those with ``requires_grad``).
    forward : callable
        ``forward(*batch_inputs) -> logits (B, 2)``.
    inputs : sequence of Tensor
        Row-aligned training inputs (already on ``device``).
    labels : Tensor (N,) long
    hyper : Hyper

    Returns
    -------
    dict with ``epochs_run``, ``final_loss`` and ``stopped_early``.
    """
    params = [p for p in module.parameters() if p.requires_grad]
    with _threads_for(sum(p.numel() for p in params), device):
        return _fit(module, forward, inputs, labels, hyper, params, device=device, seed=seed,
                    desc=desc, progress=progress)


#: Below this many trainable parameters a CPU step is a long chain of tiny matrix
#: products (the handcrafted FNN: 15 layers of 59 units) where a second thread only adds
#: synchronisation: measured 4.6 ms/step on one thread vs 9.6 ms on two.
_SINGLE_THREAD_BELOW = 100_000


@contextlib.contextmanager
def _threads_for(n_params: int, device: str):
    """One CPU thread while training a small model on CPU; unchanged otherwise."""
    import torch

    before = torch.get_num_threads()
    if device == "cpu" and n_params < _SINGLE_THREAD_BELOW:
        torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _fit(module, forward, inputs, labels, hyper, params, *, device, seed, desc, progress):
    import torch
    from tqdm.auto import tqdm

    if hyper.optimizer == "adamw":
        optimizer = torch.optim.AdamW(params, lr=hyper.lr)
    else:
        optimizer = torch.optim.SGD(params, lr=hyper.lr)
    generator = torch.Generator().manual_seed(seed)
    n = len(labels)
    best, stale, loss_value, epoch = math.inf, 0, math.nan, 0
    module.train()
    bar = tqdm(range(hyper.epochs), desc=desc, unit="epoch", leave=False, disable=not progress)
    for epoch in bar:
        order = torch.randperm(n, generator=generator).to(labels.device)
        total, seen = torch.zeros((), device=labels.device), 0
        for start in range(0, n, hyper.batch_size):
            idx = order[start:start + hyper.batch_size]
            if len(idx) < 2:  # BatchNorm cannot train on a single sample
                continue
            with autocast(device):
                logits = forward(*(x[idx] for x in inputs))
            loss = torch.nn.functional.cross_entropy(logits.float(), labels[idx])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            total += loss.detach() * len(idx)  # summed on the device: no sync per step
            seen += len(idx)
        loss_value = float(total) / max(seen, 1)
        bar.set_postfix(loss=f"{loss_value:.4f}", refresh=False)
        if hyper.patience:
            if loss_value < best - 1e-6:
                best, stale = loss_value, 0
            else:
                stale += 1
                if stale >= hyper.patience:
                    break
    bar.close()
    module.eval()
    return {"epochs_run": epoch + 1 if hyper.epochs else 0, "final_loss": loss_value,
            "stopped_early": bool(hyper.patience and epoch + 1 < hyper.epochs)}


def predict(module, forward: Callable, inputs: Sequence, *, device: str,
            batch_size: int = 512) -> np.ndarray:
    """Palsy probabilities (N,) of ``forward(*inputs)`` logits, module in eval mode."""
    import torch

    module.eval()
    n = len(inputs[0])
    out = []
    with torch.inference_mode():
        for start in range(0, n, batch_size):
            with autocast(device):
                logits = forward(*(x[start:start + batch_size] for x in inputs))
            out.append(torch.softmax(logits.float(), dim=1)[:, 1].cpu())
    return torch.cat(out).numpy() if out else np.zeros(0, np.float32)


# -- data and folds ---------------------------------------------------------------------------
@dataclass
class FoldData:
    """One fold with the images that have a face, their content hashes and labels.

    ``skipped_train`` / ``skipped_test``: (path, reason) of the sampled images left out
    (no face found, or unreadable).
    """

    index: int
    test_subject: str | None
    train: list
    test: list
    train_digests: list[str]
    test_digests: list[str]
    skipped_train: list[tuple[str, str]]
    skipped_test: list[tuple[str, str]]

    @property
    def y_train(self) -> np.ndarray:
        return np.array([s.palsy for s in self.train], dtype=np.int64)

    @property
    def y_test(self) -> np.ndarray:
        return np.array([s.palsy for s in self.test], dtype=np.int64)


@dataclass
class FinalModel:
    """A model trained on every subject (:meth:`Run.final_training_set`) to promote.

    ``training``: what its stages report (epochs run, final loss...), by stage name.
    """

    net: object
    training: dict
    scaler: object = None
    blendshape_names: list[str] | None = None


class Run:
    """One trainer invocation: data, folds, cache, outputs in the run directory.

    Parameters
    ----------
    config : TrainConfig
        The run's settings (a trainer's subclass, with its own flags).
    model_config : palsy_core.models.ModelConfig
        The model being evaluated: names its Table 1 row.
    settings : dict
        Trainer-specific settings (hyper-parameters of each stage...) for config.json.
    """

    def __init__(self, config: TrainConfig, model_config, settings: dict):
        from trainers.data.cache import ModalityStore

        self.config = config
        self.mirror = config.mirror
        self.model_config = dataclasses.replace(model_config, mirror_average=self.mirror)
        self.device = resolve_device(config.device)
        self.progress = config.progress
        self.out = Path(config.out)
        self.store = ModalityStore(config.cache)
        self._digest_of: dict[str, str | None] = {}
        self._skip_reason: dict[str, str] = {}
        self.palsy, self.healthy, self.data_summary = load_samples(config)
        self.folds = make_folds(config, self.palsy, self.healthy)
        if config.fold is not None and not 0 <= config.fold < len(self.folds):
            raise TrainingError(f"--fold {config.fold} is out of range: this data set has "
                                f"{len(self.folds)} folds (0..{len(self.folds) - 1}).")
        self.settings = settings
        self._write_config()

    # -- config --------------------------------------------------------------------------
    def _write_config(self) -> None:
        from palsy_core.models._registry import git_commit

        data_modality, model = self.model_config.table_row()
        config = {
            "table_row": {"data_modality": data_modality, "model": model},
            "model_config": self.model_config.to_dict(),
            "settings": self.settings,
            "protocol": self.protocol_summary(),
            "data": self.data_summary,
            "n_folds": len(self.folds),
            "seed": self.config.seed,
            "git_commit": git_commit(),
        }
        self.out.mkdir(parents=True, exist_ok=True)
        path = self.out / "config.json"
        if path.is_file():
            old = json.loads(path.read_text())
            keep = ("table_row", "model_config", "settings", "protocol", "n_folds", "seed")
            if any(old.get(k) != json.loads(json.dumps(config[k])) for k in keep):
                raise TrainingError(
                    f"{self.out} holds a run with other settings (config.json differs). "
                    "Use a new --out directory, or the same flags to add folds to it.")
        config["command"] = list(self.config.command) or sys.argv
        _write_json(path, config)

    def protocol_summary(self) -> dict:
        a = self.config
        out = {"protocol": a.protocol, "train_per_subject": a.train_per_subject}
        if a.protocol == "lopo":
            out.update(test_per_palsy_subject=a.test_per_palsy_subject,
                       healthy_train_subjects=a.healthy_train_subjects,
                       healthy_test_subjects=a.healthy_test_subjects,
                       test_per_healthy_subject=a.test_per_healthy_subject)
        else:
            out["test_fraction"] = a.test_fraction
        return out

    # -- data ----------------------------------------------------------------------------
    def with_faces(self, samples: Sequence) -> tuple[list, list[str], list[tuple[str, str]]]:
        """The samples whose image has a face, their content hashes, and those left out
        as (path, reason).

        Landmarks run only for images never seen before (by content).
        """
        new = [str(s.path) for s in samples if str(s.path) not in self._digest_of]
        if new:
            report = self.store.extract(new, progress=self.progress)
            for path in new:
                self._digest_of[path] = report.hashes.get(path)
            self._skip_reason.update({p: "no face found" for p in report.no_face})
            self._skip_reason.update(report.unreadable)
        kept = [s for s in samples if self._digest_of[str(s.path)]]
        skipped = [(str(s.path), self._skip_reason[str(s.path)]) for s in samples
                   if not self._digest_of[str(s.path)]]
        return kept, [self._digest_of[str(s.path)] for s in kept], skipped

    def iter_folds(self, *, bar: bool = True) -> Iterator[FoldData]:
        """The folds to run (all, or the one ``--fold`` names), with faces resolved
        (``bar``: a progress bar over the folds, with ``progress``)."""
        from tqdm.auto import tqdm

        chosen = self.folds if self.config.fold is None else [self.folds[self.config.fold]]
        union = {str(s.path): s for f in chosen for s in (*f.train, *f.test)}
        self.with_faces(list(union.values()))  # one extraction pass with one progress bar
        for fold in tqdm(chosen, desc="folds", unit="fold",
                         disable=not (self.progress and bar)):
            train, train_d, skip_train = self._with_mirrors(*self.with_faces(fold.train))
            test, test_d, skip_test = self.with_faces(fold.test)
            yield FoldData(fold.index, fold.test_subject, train, test, train_d, test_d,
                           skip_train, skip_test)

    def run_folds(self, train_fold: Callable[[FoldData], tuple[np.ndarray, dict]], *,
                  warm: Callable[[list[str]], None] | None = None) -> None:
        """Train, test and record every fold (or the one ``--fold`` names): here, one
        after the other, or each as a Ray task with ``--ray``.

        ``train_fold(fold) -> (test probabilities, training info)`` seeds itself from the
        fold, so a fold gives the same record wherever it runs. ``warm(digests)`` fills
        shared caches (frozen backbone features) before Ray tasks start.
        """
        if self.config.ray is not None:
            from ._ray import run_folds_on_ray

            run_folds_on_ray(self, self.config.ray, warm)
            return
        for fold in self.iter_folds():
            self.run_fold(fold, train_fold)

    def execute(self, train_fold: Callable[[FoldData], tuple[np.ndarray, dict]],
                train_final: Callable[[list[str], np.ndarray], FinalModel], *,
                warm: Callable[[list[str]], None] | None = None) -> Path:
        """The run: every fold trained, tested and recorded (:meth:`run_folds`), Table 1
        written (:meth:`finish`), then with a promotion ``train_final(digests, labels)``
        on :meth:`final_training_set` installed (:meth:`promote`). Returns the table."""
        def promote(_table: Path) -> Path:
            samples, digests = self.final_training_set()
            final = train_final(digests, np.array([s.palsy for s in samples]))
            return self.promote(final.net, scaler=final.scaler,
                                blendshape_names=final.blendshape_names,
                                training={"samples": len(samples), **final.training})

        promotion = self.config.promotion
        table, _ = run_record_promote(lambda: self.run_folds(train_fold, warm=warm),
                                      lambda _: self.finish(),
                                      promote if promotion.name else None,
                                      make_default=promotion.make_default)
        return table

    def run_fold(self, fold: FoldData,
                 train_fold: Callable[[FoldData], tuple[np.ndarray, dict]]) -> dict:
        """Train and test one fold, then write its record (see :meth:`record_fold`)."""
        elapsed = timer()
        probabilities, training = train_fold(fold)
        return self.record_fold(fold, probabilities, seconds=elapsed(), training=training)

    def final_training_set(self) -> tuple[list, list[str]]:
        """All subjects, ``--train-per-subject`` round-robin samples each: the data of a
        promoted model (its LOPO metrics estimate how this procedure generalises)."""
        from trainers.data.sampling import round_robin_sample

        n = self.config.train_per_subject
        samples = (round_robin_sample(self.palsy, n, seed=self.config.seed)
                   + round_robin_sample(self.healthy, n, seed=self.config.seed))
        kept, digests, _ = self._with_mirrors(*self.with_faces(samples))
        return kept, digests

    def _with_mirrors(self, samples: list, digests: list[str], skipped: list):
        """With ``--mirror``, each training image is followed by its mirror image."""
        if not self.mirror:
            return samples, digests, skipped
        from trainers.data.cache import mirrored_digest

        return (samples + samples, digests + [mirrored_digest(d) for d in digests], skipped)

    def probabilities(self, predict_digests: Callable[[list[str]], np.ndarray],
                      digests: list[str]) -> np.ndarray:
        """``predict_digests(digests)``, averaged with the mirror images' with ``--mirror``
        (as the promoted model predicts)."""
        probabilities = np.asarray(predict_digests(digests))
        if not self.mirror:
            return probabilities
        from trainers.data.cache import mirrored_digest

        mirrored = np.asarray(predict_digests([mirrored_digest(d) for d in digests]))
        return (probabilities + mirrored) / 2

    # -- outputs -------------------------------------------------------------------------
    def record_fold(self, fold: FoldData, probabilities: np.ndarray, *, seconds: float,
                    training: dict) -> dict:
        """Write ``folds/fold_KK.json`` (metrics at threshold 0.5, predictions)."""
        from trainers.metrics import binary_metrics

        y_true = fold.y_test
        y_pred = (np.asarray(probabilities) >= 0.5).astype(np.int64)
        metrics = binary_metrics(y_true, y_pred)
        record = {
            "fold": fold.index,
            "test_subject": fold.test_subject,
            "table_row": dict(zip(("data_modality", "model"), self.model_config.table_row())),
            "metrics": metrics,
            "n_train": len(fold.train),
            "mirror_images_in_train": self.mirror,
            "n_test": len(fold.test),
            "n_train_palsy": int(fold.y_train.sum()),
            "n_test_palsy": int(y_true.sum()),
            "skipped_train": len(fold.skipped_train),
            "skipped_test": len(fold.skipped_test),
            "skipped_files": [list(x) for x in (fold.skipped_train + fold.skipped_test)[:50]],
            "seconds": round(seconds, 3),
            "device": self.device,
            "training": training,
            "predictions": [
                {"path": str(s.path), "subject": s.subject, "y_true": int(y),
                 "probability": round(float(p), 6)}
                for s, y, p in zip(fold.test, y_true, probabilities)],
        }
        _write_json(self.out / "folds" / f"fold_{fold.index:02d}.json", record)
        return record

    def finish(self) -> Path:
        """Write this run's Table-1-shaped results from every fold file present."""
        from .collect import collect

        self.store.close()
        collect([self.out], self.out)
        return self.out / "results_table.md"

    def promote(self, net, *, scaler=None, blendshape_names=None, training: dict) -> Path:
        """Install ``net`` (trained on :meth:`final_training_set`) with its model card."""
        from palsy_core.models import palsy_card, write_palsy_weights

        from .collect import load_run

        a, promotion = self.config, self.config.promotion
        runs = load_run(self.out)
        metrics = {"lopo_average" if a.protocol == "lopo" else "split": runs["average"],
                   "folds_evaluated": len(runs["folds"]), "n_folds": len(self.folds),
                   "run_dir": str(self.out)}
        note = promotion.training_data_note or (
            "simulated palsy cases (not real patients)" if promotion.simulated_data else
            "data sets: " + ", ".join(sorted(self.data_summary["datasets"])))
        card = palsy_card(
            promotion.name, self.model_config, trained_on=note,
            trained_on_simulated_data=promotion.simulated_data,
            training_data={**self.data_summary, "final_training": training},
            protocol={**self.protocol_summary(), "settings": self.settings, "seed": a.seed,
                      "mirror_images": self.mirror},
            metrics=metrics,
            intended_use=("Research and demonstration of the seed-000 fusion pipeline; "
                          "not a medical device and not a diagnosis."
                          + (" Trained on simulated data: not a clinical model."
                             if promotion.simulated_data else "")),
            feature_scaler=scaler, blendshape_names=blendshape_names)
        return promotion.install(card, write_palsy_weights(net))


def load_samples(config: TrainConfig) -> tuple[list, list, dict]:
    """Palsy-patient samples, healthy-subject samples, and a summary of what was read.

    Every YFP subject is a patient (some of their frames are labelled Normal, or only
    slightly affected, and still belong to a patient), as is any subject with a frame
    labelled palsy; the others (CK+, healthy class folders) are the healthy subjects.
    """
    from trainers.data.datasets import read_ckplus, read_class_folders, read_yfp

    readers = [("yfp", config.yfp, read_yfp), ("ckplus", config.ckplus, read_ckplus),
               ("folders", config.folders, read_class_folders)]
    chosen = [(name, root, reader) for name, root, reader in readers if root is not None]
    if not chosen:
        raise TrainingError("give at least one data set: --yfp DIR, --ckplus DIR, "
                            "--folders DIR.")
    samples, summary = [], {"datasets": {}}
    for name, root, reader in chosen:
        report = reader(root)
        samples.extend(report.samples)
        summary["datasets"][name] = {
            "root": str(root), "samples": len(report.samples),
            "subjects": len({s.subject for s in report.samples}),
            "skipped_files": report.skipped,
            "skipped_examples": [[str(p), r] for p, r in report.skipped_files[:20]]}
    palsy_subjects = {s.subject for s in samples if s.palsy or s.dataset == "yfp"}
    palsy = [s for s in samples if s.subject in palsy_subjects]
    healthy = [s for s in samples if s.subject not in palsy_subjects]
    summary.update(palsy_subjects=len(palsy_subjects),
                   healthy_subjects=len({s.subject for s in healthy}))
    return palsy, healthy, summary


def make_folds(config: TrainConfig, palsy: list, healthy: list) -> list:
    """LOPO folds (seed 000, section 4.2) or one patient-grouped split."""
    from trainers.data.sampling import Fold, group_split, lopo_folds, round_robin_sample

    if config.protocol == "lopo":
        if not palsy or not healthy:
            raise TrainingError("--protocol lopo needs palsy patients (--yfp or palsy "
                                "class folders) and healthy subjects (--ckplus or a healthy "
                                "class).")
        return lopo_folds(palsy, healthy, train_per_subject=config.train_per_subject,
                          test_per_palsy_subject=config.test_per_palsy_subject,
                          healthy_train_subjects=config.healthy_train_subjects,
                          healthy_test_subjects=config.healthy_test_subjects,
                          test_per_healthy_subject=config.test_per_healthy_subject,
                          seed=config.seed)
    capped = round_robin_sample(palsy + healthy, config.train_per_subject, seed=config.seed)
    split = group_split(capped, config.test_fraction, config.seed)
    train, test = (split.train, split.test) if hasattr(split, "train") else split
    return [Fold(index=0, test_subject=None, train=list(train), test=list(test))]


def stage_settings(**stages: Hyper) -> dict:
    return {name: dataclasses.asdict(h) for name, h in stages.items()}


def to_tensor(array: np.ndarray, device: str, dtype=None):
    import torch

    t = torch.as_tensor(np.ascontiguousarray(array))
    return t.to(device=device, dtype=dtype) if dtype is not None else t.to(device)


def timer() -> Callable[[], float]:
    start = time.perf_counter()
    return lambda: time.perf_counter() - start


def _write_json(path: Path, data) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    # A unique temporary name, then a rename: concurrent writers (Ray tasks on several
    # nodes sharing the folder) never see or leave a half-written file.
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    tmp.write_text(json.dumps(data, indent=2, default=_json_default) + "\n")
    os.replace(tmp, path)


def _json_default(value):
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating,)):
        return float(value)
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")
