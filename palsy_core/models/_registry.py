"""The model registry: architectures to build, and trained models by task.

Two name-keyed registries, as in timm and MediaPipe Tasks:

- architectures to train (:func:`register_model`, :func:`create_model`,
  :func:`list_models`): ``fnn_blendshapes``, ``fnn_coordinates``, ``fnn_handcrafted``,
  ``fnn_geometry``, ``resnet50``, ``fastervit_0``, ``mixer_b16_224``,
  ``efficientnet_lite0``; each model file registers its own;
- trained models by task (:func:`register_loader`, :func:`load_model`,
  :func:`list_task_models`, :func:`save_model`), for the tasks in :data:`TASKS`:
  ``palsy`` (seed 000's fusion models), ``severity`` (seed 003's six classes, Keras or
  torch) and ``parsing`` (seed 004's face parsing with the paralysed region).

On disk, one layout for every task (the root is the repository's ``weights/`` or
``$PALSY_WEIGHTS_DIR``)::

    weights/<task>/DEFAULT            the default model's name
    weights/<task>/<name>.json        its ModelCard
    weights/<task>/<name>.<ext>       the weight file(s) the card names, with sha256

A model file registers a loader for each architecture it can rebuild with
``@register_loader(task, architecture)``; the loader gets the model's folder and card
and returns a predictor whose ``predict(face: AnalyzedFace)`` gives the task's typed
prediction (numpy in, dataclass out, the framework hidden inside).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import importlib
import json
import os
import re
import subprocess
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol
from collections.abc import Callable

import numpy as np

from .._version import __version__
from ..errors import ModelNotInstalledError

if TYPE_CHECKING:
    from ..face.mirror_flow import MirrorFlow

#: Environment variable overriding the weights folder.
WEIGHTS_ENV = "PALSY_WEIGHTS_DIR"
#: File in each task's folder naming its default model.
DEFAULT_POINTER = "DEFAULT"
#: The tasks a trained model can serve.
TASKS = ("palsy", "severity", "parsing")
#: Frameworks a weight file can come from, with the suffix :func:`save_model` gives it.
FRAMEWORK_SUFFIXES = {"torch": ".pt", "keras": ".keras"}
#: Format of the card JSON. 2: one card for every task (``task``, ``framework``); the
#: palsy cards of format 1 (flat ``weights/NAME.json``) are read too.
CARD_FORMAT = 2
#: Modules that register the loaders of a task, imported when that task is first loaded
#: (severity and parsing import Keras or OpenCV, which a palsy-only analysis never needs).
_TASK_MODULES = {
    "palsy": ("palsy_core.models._palsy",),
    "severity": ("palsy_core.models._severity",),
    "parsing": ("palsy_core.models._parsing",),
}
#: The trainer that promotes each task's models, for the messages.
_TRAINERS = {"palsy": "fusion", "severity": "severity", "parsing": "segmentation"}
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$")


# -- architectures to train (timm-like) --------------------------------------------------------
_ARCHITECTURES: dict[str, Callable[..., Any]] = {}


def register_model(name: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorator registering a model builder under ``name``."""

    def wrap(builder: Callable[..., Any]) -> Callable[..., Any]:
        if name in _ARCHITECTURES:
            raise ValueError(f"Model {name!r} is registered twice.")
        _ARCHITECTURES[name] = builder
        return builder

    return wrap


def list_models() -> list[str]:
    """Names :func:`create_model` accepts."""
    return sorted(_ARCHITECTURES)


def create_model(name: str, **kwargs):
    """Build a registered architecture (untrained head; image backbones from files).

    Image models take ``checkpoint``, ``allow_random_init``, ``input_size`` and
    ``pixel_norm`` (see :class:`~palsy_core.models.ImageClassifier`).
    """
    if name not in _ARCHITECTURES:
        raise ValueError(f"Unknown model {name!r}; registered: {', '.join(list_models())}.")
    return _ARCHITECTURES[name](**kwargs)


# -- the one input and the card ------------------------------------------------------------------
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
        a face with its mirror image (a palsy model whose ``wants_mirror_view`` is True).
    flow : MirrorFlow, optional
        The face compared with its mirror image
        (:func:`palsy_core.face.mirror_flow.mirror_flow` of ``image`` and ``landmarks``),
        when already computed (the analysis's verdict reads it): not computed twice.
    """

    image: np.ndarray
    landmarks: np.ndarray
    blendshapes: dict[str, float]
    features: np.ndarray
    mirror: AnalyzedFace | None = None
    flow: MirrorFlow | None = None
    _crops: dict[int, np.ndarray] = field(default_factory=dict, repr=False)

    def crop(self, size: int = 224) -> np.ndarray:
        """The aligned face crop (eyes levelled, face centred), made once per size."""
        if size not in self._crops:
            from ..face.frame import align_face_crop

            self._crops[size] = align_face_crop(self.image, self.landmarks, size=size)
        return self._crops[size]


class Predictor(Protocol):
    """What :func:`load_model` returns for every task."""

    card: ModelCard

    def predict(self, face: AnalyzedFace) -> Any: ...


@dataclass
class ModelCard:
    """The model card saved as ``<name>.json`` beside the weights, for every task.

    Framework-neutral: a Keras ``.keras`` file and a torch ``.pt`` file are described the
    same way; what only one architecture needs sits in ``config``.

    Attributes
    ----------
    name : str
    task : {"palsy", "severity", "parsing"}
    framework : {"torch", "keras"}
    architecture : str
        The key its loader is registered under (:func:`register_loader`).
    trained_on : str
        One line on the training data, shown with every prediction.
    trained_on_simulated_data : bool
    intended_use : str
    config : dict
        What the loader needs to rebuild and run the model (palsy: the
        :class:`~palsy_core.models.ModelConfig` fields, the feature scaler, the
        blendshape order and the calibration; severity: classes and threshold; ...).
    training_data, protocol, metrics : dict
        Data sets and counts; split and hyper-parameters; person-held-out metrics.
    attribution : list of str
        Citations of every data set the weights derive from.
    description : str
        One line naming the network's layer blocks, for people.
    files : dict
        Other files the model reads (name relative to the card -> sha256).
    weights_file, weights_sha256 : str
        The main weight file, relative to the card, and its hash (checked before loading).
    date, git_commit, code_version : str
    extra : dict
        Anything else a trainer records (timings, ...).
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
    description: str = ""
    files: dict[str, str] = field(default_factory=dict)
    weights_file: str = ""
    weights_sha256: str = ""
    date: str = ""
    git_commit: str = ""
    code_version: str = ""
    extra: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"card_format": CARD_FORMAT,
                **{f.name: getattr(self, f.name) for f in fields(self)}}

    @classmethod
    def from_dict(cls, data: dict) -> ModelCard:
        """A card from its JSON; a format-1 palsy card (no ``task``) is converted."""
        if "task" not in data:
            data = _palsy_card_v1(data)
        return cls(**{k: data[k] for k in cls.__dataclass_fields__ if k in data})


def _palsy_card_v1(data: dict) -> dict:
    """A format-1 palsy card (``weights/NAME.json``) in the fields of today's card.

    Its ``architecture`` was a description; the loader key follows from its config. The
    scaler, blendshape order and calibration move into ``config``, where the loader
    reads them; the attribution from ``extra``.
    """
    config = dict(data["config"])
    config.update({key: data.get(key) for key in
                   ("feature_scaler", "blendshape_names", "calibration")})
    extra = dict(data.get("extra") or {})
    attribution = extra.pop("attribution", None)
    return {**{key: value for key, value in data.items()
               if key not in ("architecture", "table_row", "modalities", "feature_scaler",
                              "blendshape_names", "calibration", "extra")},
            "task": "palsy", "framework": "torch",
            "architecture": f"palsy_{config['kind']}",
            "description": data.get("architecture", ""), "config": config,
            "attribution": [attribution] if attribution else [], "extra": extra}


# -- trained models by task --------------------------------------------------------------------
_LOADERS: dict[tuple[str, str], Callable[[Path, ModelCard], Predictor]] = {}


def register_loader(task: str, architecture: str):
    """Decorator: ``loader(folder, card) -> predictor`` for one task and architecture."""
    _check_task(task)

    def wrap(loader):
        if (task, architecture) in _LOADERS:
            raise ValueError(f"A loader for {task}/{architecture} is registered twice.")
        _LOADERS[(task, architecture)] = loader
        return loader

    return wrap


def default_weights_dir() -> Path:
    """``$PALSY_WEIGHTS_DIR``, else the repository's ``weights/`` beside ``palsy_core``.

    A checkout or an editable install (``pip install -e .``) has that folder; any other
    install has to name one.
    """
    env = os.environ.get(WEIGHTS_ENV)
    if env:
        return Path(env)
    folder = Path(__file__).resolve().parents[2] / "weights"
    if not folder.is_dir():
        raise ModelNotInstalledError(
            f"weights not found: set {WEIGHTS_ENV} to the weights folder (palsy_core was not "
            f"installed from a checkout, so there is no {folder})")
    return folder


def task_weights_dir(task: str, weights_dir: str | os.PathLike | None = None) -> Path:
    """``<weights>/<task>``: where the task's models and its ``DEFAULT`` live."""
    root = Path(weights_dir) if weights_dir is not None else default_weights_dir()
    return root / _check_task(task)


def git_commit() -> str:
    """The repository's HEAD commit (with ``-dirty`` when code changed), or "unknown".

    Changes under ``weights/`` do not count: promoting a model writes there before its
    card is saved, and weights are not the code that made them.
    """
    root = Path(__file__).resolve().parents[2]
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True,
                              text=True, timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--",
                                ".", ":(exclude)weights"],
                               cwd=root, capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return head + ("-dirty" if dirty.strip() else "")


def save_model(card: ModelCard, write_weights: Callable[[Path], None], *,
               weights_dir: str | os.PathLike | None = None, make_default: bool = False,
               suffix: str | None = None) -> Path:
    """Install a model: its weights and card in ``<weights>/<task>/``; returns the weight path.

    The one way every trainer promotes a model. ``write_weights(path)`` writes the weight
    file (``keras_model.save``, ``torch.save``, :meth:`PalsyNet.save`); ``suffix``
    defaults to the framework's (:data:`FRAMEWORK_SUFFIXES`). The card's date, commit,
    version, file name and hash are filled in; ``make_default`` points the task's
    ``DEFAULT`` at the model.
    """
    name = _check_name(card.name)
    if suffix is None:
        if card.framework not in FRAMEWORK_SUFFIXES:
            raise ValueError(f"Unknown framework {card.framework!r}; give the suffix.")
        suffix = FRAMEWORK_SUFFIXES[card.framework]
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
    """Names of the installed models of a task (those with a card in its folder)."""
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
            f"missing). Train one and promote it with `python -m trainers.{_TRAINERS[task]} "
            "... --promote NAME --make-default`"
            + (", or rebuild the shipped one with `python -m trainers.build_default_weights`."
               if task == "palsy" else "."))
    name = pointer.read_text().strip()
    if not _NAME.match(name):
        raise ModelNotInstalledError(
            f"weights/{task}/{DEFAULT_POINTER} should hold the default model's name, not "
            f"{name!r}.")
    return name


def read_card(task: str, name: str, weights_dir: str | os.PathLike | None = None) -> ModelCard:
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
        card = ModelCard.from_dict(json.loads(path.read_text()))
    except (ValueError, TypeError, KeyError) as error:
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

    Parameters
    ----------
    task : str
    name : str, optional
        Default: the one ``<weights>/<task>/DEFAULT`` names.
    weights_dir : path, optional
        Default: ``$PALSY_WEIGHTS_DIR`` or the repository's ``weights/``.

    Every file the card names is checked against its sha256 before it is read, so a
    damaged or swapped file is refused with a clear message and never executed.

    Raises
    ------
    ModelNotInstalledError
        No such model, a missing or mismatching file, or no loader for its architecture.
    """
    name = name or default_model_name(task, weights_dir)
    card = read_card(task, name, weights_dir)
    folder = task_weights_dir(task, weights_dir)
    for file_name, digest in {card.weights_file: card.weights_sha256, **card.files}.items():
        _verify(folder, file_name, digest, what=f"{task} model {name!r}")
    for module in _TASK_MODULES[task]:
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
