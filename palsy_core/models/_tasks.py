"""Task-keyed registry of trained models: ``load_model(task, name=None)``.

Three tasks share one layout and one card format, whatever framework trained them:

- ``palsy``: the palsy probability (seed 000's fusion models; for now still in the flat
  ``weights/NAME.pt`` layout read by :func:`load_palsy_model`);
- ``severity``: the six-class severity CNN of seed 003 (Keras ``.keras`` or torch);
- ``parsing``: seed 004's face-parsing network with the paralysed region.

On disk, per task::

    weights/<task>/DEFAULT            the default model's name
    weights/<task>/<name>.json        its TaskModelCard
    weights/<task>/<name>.<ext>       the weight file(s) the card names, with sha256

A model file registers a loader for its architecture with
``@register_loader(task, architecture)``; the loader gets the model's folder and card
and returns a predictor whose ``predict(face: AnalyzedFace)`` gives a typed result
(numpy in, dataclass out, the framework hidden inside).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import importlib
import json
import os
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional, Protocol

import numpy as np

from ..errors import ModelNotInstalledError
from ._registry import DEFAULT_POINTER, default_weights_dir, git_commit

TASKS = ("palsy", "severity", "parsing")
#: Modules that register the loaders of a task, imported when that task is first loaded
#: (they import torch or Keras, which a geometry-only analysis never needs).
_TASK_MODULES = {
    "severity": ("palsy_core.models._severity",),
    "parsing": ("palsy_core.models._parsing",),
}
TASK_CARD_FORMAT = 1
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$")


@dataclass
class AnalyzedFace:
    """One analysed face, the single input every predictor takes.

    Attributes
    ----------
    image : ndarray, (H, W, 3) uint8
        The upright RGB photo.
    landmarks : ndarray, (478, 3) float32
        MediaPipe landmarks, pixels of ``image`` (x right, y down).
    blendshapes : dict
    features : ndarray, (29,)
        The handcrafted asymmetry features.
    mirror : AnalyzedFace, optional
        The horizontally flipped photo with its own detection, for models that average
        a face with its mirror image.
    """

    image: np.ndarray
    landmarks: np.ndarray
    blendshapes: dict[str, float]
    features: np.ndarray
    mirror: Optional["AnalyzedFace"] = None
    _crops: dict[int, np.ndarray] = field(default_factory=dict, repr=False)

    def crop(self, size: int = 224) -> np.ndarray:
        """The aligned face crop (eyes levelled, face centred), made once per size."""
        if size not in self._crops:
            from ..face.frame import align_face_crop

            self._crops[size] = align_face_crop(self.image, self.landmarks, size=size)
        return self._crops[size]


class Predictor(Protocol):
    card: "TaskModelCard"

    def predict(self, face: AnalyzedFace) -> Any: ...


@dataclass
class TaskModelCard:
    """Framework-neutral model card, saved as ``<name>.json`` beside the weights.

    Attributes
    ----------
    name, task : str
    framework : {"torch", "keras"}
    architecture : str
        The key its loader is registered under.
    weights_file, weights_sha256 : str
        The main weight file, relative to the card, and its hash (checked before loading).
    trained_on : str
        One line on the training data, shown with every prediction.
    trained_on_simulated_data : bool
    training_data, protocol, metrics : dict
        Data sets and counts; split and hyper-parameters; person-held-out metrics.
    intended_use : str
    attribution : list of str
        Citations of every data set the weights derive from.
    config : dict
        What the loader needs to rebuild the model (classes, input size, ...).
    files : dict
        Other files the model reads (name relative to the card -> sha256).
    date, git_commit, code_version : str
    """

    name: str
    task: str
    framework: str
    architecture: str
    trained_on: str
    trained_on_simulated_data: bool
    intended_use: str
    config: dict = field(default_factory=dict)
    training_data: dict = field(default_factory=dict)
    protocol: dict = field(default_factory=dict)
    metrics: dict = field(default_factory=dict)
    attribution: list[str] = field(default_factory=list)
    files: dict[str, str] = field(default_factory=dict)
    weights_file: str = ""
    weights_sha256: str = ""
    date: str = ""
    git_commit: str = ""
    code_version: str = ""

    def to_dict(self) -> dict:
        return {"card_format": TASK_CARD_FORMAT, **asdict(self)}

    @classmethod
    def from_dict(cls, data: dict) -> "TaskModelCard":
        return cls(**{k: data[k] for k in cls.__dataclass_fields__ if k in data})


_LOADERS: dict[tuple[str, str], Callable[[Path, TaskModelCard], Predictor]] = {}


def register_loader(task: str, architecture: str):
    """Decorator: ``loader(folder, card) -> predictor`` for one task and architecture."""
    _check_task(task)

    def wrap(loader):
        if (task, architecture) in _LOADERS:
            raise ValueError(f"A loader for {task}/{architecture} is registered twice.")
        _LOADERS[(task, architecture)] = loader
        return loader

    return wrap


def task_weights_dir(task: str, weights_dir: str | os.PathLike | None = None) -> Path:
    """``<weights>/<task>``: where the task's models and its ``DEFAULT`` live."""
    root = Path(weights_dir) if weights_dir is not None else default_weights_dir()
    return root / _check_task(task)


def save_task_model(card: TaskModelCard, write_weights: Callable[[Path], None], *,
                    suffix: str, weights_dir: str | os.PathLike | None = None,
                    make_default: bool = False) -> Path:
    """Write a model's weights and card into ``<weights>/<task>/``; returns the weight path.

    ``write_weights(path)`` writes the weight file (e.g. ``keras_model.save`` or
    ``torch.save``). The card's date, commit, version, file name and hash are filled in.
    """
    from .. import __version__

    name = _check_name(card.name)
    folder = task_weights_dir(card.task, weights_dir)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}{suffix}"
    tmp = folder / f".{name}.tmp{suffix}"
    write_weights(tmp)
    os.replace(tmp, path)
    card.date = card.date or dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    card.git_commit = card.git_commit or git_commit()
    card.code_version = __version__
    card.weights_file = path.name
    card.weights_sha256 = _sha256(path)
    (folder / f"{name}.json").write_text(json.dumps(card.to_dict(), indent=2) + "\n")
    if make_default:
        (folder / DEFAULT_POINTER).write_text(name + "\n")
    return path


def list_task_models(task: str, weights_dir: str | os.PathLike | None = None) -> list[str]:
    """Names of the installed models of a task (palsy: the flat legacy layout)."""
    if task == "palsy":
        from ._registry import list_installed_models

        return list_installed_models(weights_dir)
    folder = task_weights_dir(task, weights_dir)
    return sorted(p.stem for p in folder.glob("*.json")) if folder.is_dir() else []


def default_model_name(task: str, weights_dir: str | os.PathLike | None = None) -> str:
    """The name ``<weights>/<task>/DEFAULT`` holds.

    Raises
    ------
    ModelNotInstalledError
    """
    pointer = task_weights_dir(task, weights_dir) / DEFAULT_POINTER
    if not pointer.is_file():
        raise ModelNotInstalledError(
            f"No default {task} model is installed (weights/{task}/{DEFAULT_POINTER} is "
            f"missing). Train one and promote it with `python -m trainers.{_TRAINER[task]} "
            "... --promote NAME --make-default`.")
    name = pointer.read_text().strip()
    if not _NAME.match(name):
        raise ModelNotInstalledError(
            f"weights/{task}/{DEFAULT_POINTER} should hold a model name, not {name!r}.")
    return name


def read_task_card(task: str, name: str,
                   weights_dir: str | os.PathLike | None = None) -> TaskModelCard:
    """The card of an installed model of ``task``.

    Raises
    ------
    ModelNotInstalledError
        Missing or damaged card.
    """
    path = task_weights_dir(task, weights_dir) / f"{_check_name(name)}.json"
    if not path.is_file():
        installed = list_task_models(task, weights_dir)
        raise ModelNotInstalledError(
            f"No {task} model {name!r} is installed (installed: "
            f"{', '.join(installed) or 'none'}).")
    try:
        card = TaskModelCard.from_dict(json.loads(path.read_text()))
    except (ValueError, TypeError) as error:
        raise ModelNotInstalledError(
            f"The {task} model card {path.name} is damaged ({type(error).__name__}: {error}); "
            "restore it from git or promote the model again.") from None
    if card.task != task:
        raise ModelNotInstalledError(
            f"The card {path.name} is for the task {card.task!r}, not {task!r}.")
    return card


def load_model(task: str, name: str | None = None,
               weights_dir: str | os.PathLike | None = None) -> Predictor:
    """Load an installed model of ``task`` ("palsy", "severity" or "parsing").

    Every file the card names is checked against its sha256 before it is read, so a
    damaged or swapped file is refused with a clear message and never executed.

    Raises
    ------
    ModelNotInstalledError
        No such model, a missing or mismatching file, or no loader for its architecture.
    """
    if _check_task(task) == "palsy":
        from ._registry import load_palsy_model

        return load_palsy_model(name, weights_dir)
    name = name or default_model_name(task, weights_dir)
    card = read_task_card(task, name, weights_dir)
    folder = task_weights_dir(task, weights_dir)
    for file_name, digest in {card.weights_file: card.weights_sha256, **card.files}.items():
        _verify(folder, file_name, digest, what=f"{task} model {name!r}")
    for module in _TASK_MODULES.get(task, ()):
        importlib.import_module(module)
    loader = _LOADERS.get((task, card.architecture))
    if loader is None:
        raise ModelNotInstalledError(
            f"The {task} model {name!r} needs the architecture {card.architecture!r}, which "
            "this version of palsy_core cannot load.")
    try:
        predictor = loader(folder, card)
    except ModelNotInstalledError:
        raise
    except Exception as error:  # frameworks raise many types for a bad file
        raise ModelNotInstalledError(
            f"Cannot load the {task} model {name!r}: {type(error).__name__}: {error}") from None
    if task == "parsing":  # the runtime chosen by measurement (see _runtime.py)
        from ._runtime import prepare_parsing

        prepare_parsing(predictor)
    return predictor


_TRAINER = {"palsy": "fusion", "severity": "severity", "parsing": "segmentation"}


def _verify(folder: Path, file_name: str, digest: str, *, what: str) -> None:
    path = folder / file_name
    if not file_name or Path(file_name).name != file_name or not path.is_file():
        raise ModelNotInstalledError(
            f"A file of the {what} is missing ({file_name!r}); restore it from git or "
            "promote the model again.")
    actual = _sha256(path)
    if actual != digest:
        raise ModelNotInstalledError(
            f"The file {file_name} of the {what} is damaged or not the one its card "
            f"describes (sha256 {actual[:12]}..., card says {str(digest)[:12]}...). Restore "
            "it from git or promote the model again.")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _check_task(task: str) -> str:
    if task not in TASKS:
        raise ValueError(f"Unknown task {task!r}; tasks: {', '.join(TASKS)}.")
    return task


def _check_name(name: str) -> str:
    if not _NAME.match(name or ""):
        raise ValueError(f"Model name {name!r} must be 1-64 letters, digits, '_', '.' or '-'.")
    return name
