"""Model registry, weight files with JSON model cards, and the palsy predictor.

Two registries:

- architectures by name, like timm's (:func:`create_model`, :func:`list_models`):
  ``fnn_blendshapes``, ``fnn_coordinates``, ``fnn_handcrafted``, ``resnet50``,
  ``fastervit_0``, ``mixer_b16_224``, ``efficientnet_lite0``;
- trained models by name in a weights folder (default: the repository's ``weights/``,
  or ``$PALSY_WEIGHTS_DIR``): ``NAME.pt`` (only trained tensors; frozen backbone layers
  are rebuilt from the file or package the card names) beside ``NAME.json``, the model
  card. The text file ``DEFAULT`` in the folder names the model :func:`load_palsy_model`
  returns when no name is given.

A card records the architecture, modalities, training data, protocol, metrics, the
feature scaler (mean/std fitted on the training data only), date, git commit, intended
use, whether the training data were simulated, and the weight file's sha256, so a
damaged or swapped file is refused with a clear message.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
import subprocess
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from ..errors import ModelNotInstalledError

#: Environment variable overriding the weights folder.
WEIGHTS_ENV = "PALSY_WEIGHTS_DIR"
#: File in the weights folder naming the default model.
DEFAULT_POINTER = "DEFAULT"
CARD_FORMAT = 1
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$")

# -- architecture registry (timm-like) ------------------------------------------------------
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


def _register_builtin() -> None:
    from ._fusion import STRUCTURED_FNNS
    from ._image import ARCHITECTURES, ImageClassifier

    for modality, builder in STRUCTURED_FNNS.items():
        register_model(f"fnn_{modality}")(builder)
    for arch in ARCHITECTURES:
        register_model(arch)(lambda _a=arch, **kw: ImageClassifier(_a, **kw))


_register_builtin()


# -- configuration ----------------------------------------------------------------------------
#: Table 1's "Data Modality" wording per modality.
MODALITY_LABELS = {
    "blendshapes": "Features of Facial Expressions",
    "coordinates": "Coordinates",
    "handcrafted": "Handcrafted Manual Features [24]",
    "geometry": "Asymmetry Measurements (mm, blendshape and region differences)",
    "rgb": "RGB Images",
    "linesegment": "BnW LineSegment Images",
}


@dataclass(frozen=True)
class ModelConfig:
    """What network a weight file holds and what it reads.

    Attributes
    ----------
    kind : {"fnn", "image", "early", "late"}
    structured_modality : {"blendshapes", "coordinates", "handcrafted"}, optional
    image_modality : {"rgb", "linesegment"}, optional
    image_architecture : str, optional
        A key of :data:`palsy_core.models.IMAGE_ARCHITECTURES`.
    pixel_norm : str, optional
    input_size : int
    backbone : dict, optional
        Provenance of the frozen backbone weights: ``kind`` ("package", "checkpoint" or
        "random"), ``file``, ``sha256`` and for a package its pinned requirement.
    mirror_average : bool
        Trained on every photo and its mirror image; predicts the mean probability of
        a face and its mirror, so the answer does not depend on which side is affected.
    """

    kind: str
    structured_modality: str | None = None
    image_modality: str | None = None
    image_architecture: str | None = None
    pixel_norm: str | None = None
    input_size: int = 224
    backbone: dict | None = None
    mirror_average: bool = False

    @property
    def modalities(self) -> list[str]:
        return [m for m in (self.image_modality, self.structured_modality) if m]

    def table_row(self) -> tuple[str, str]:
        """(Data Modality, Model) as Table 1 of seed 000 writes them."""
        from ._image import architecture_display_name

        if self.kind == "fnn":
            return MODALITY_LABELS[self.structured_modality], "Feed-forward Neural Network"
        image_name = architecture_display_name(self.image_architecture)
        if self.kind == "image":
            return MODALITY_LABELS[self.image_modality], image_name
        modality = (f"{MODALITY_LABELS[self.structured_modality].removesuffix(' [24]')} + "
                    f"{MODALITY_LABELS[self.image_modality]}")
        fusion = "Early" if self.kind == "early" else "Late"
        return modality, f"{fusion} Fusion Model ({image_name} + Feedforward Model)"

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "ModelConfig":
        return cls(**{k: data.get(k) for k in cls.__dataclass_fields__ if k in data})


@dataclass(frozen=True)
class FeatureScaler:
    """Standardisation of a structured modality, fitted on training data only.

    ``(x - mean) / std``; a feature constant in training (std below 1e-6) gets std 1.
    """

    mean: np.ndarray
    std: np.ndarray

    @classmethod
    def fit(cls, x: np.ndarray) -> "FeatureScaler":
        x = np.asarray(x, dtype=np.float64)
        std = x.std(axis=0)
        return cls(x.mean(axis=0).astype(np.float32),
                   np.where(std < 1e-6, 1.0, std).astype(np.float32))

    def transform(self, x: np.ndarray) -> np.ndarray:
        return ((np.asarray(x, np.float32) - self.mean) / self.std).astype(np.float32)

    def to_dict(self) -> dict:
        return {"mean": [float(v) for v in self.mean], "std": [float(v) for v in self.std]}

    @classmethod
    def from_dict(cls, data: dict) -> "FeatureScaler":
        return cls(np.asarray(data["mean"], np.float32), np.asarray(data["std"], np.float32))


def build_network(config: ModelConfig, *, checkpoint: str | os.PathLike | None = None,
                  allow_random_init: bool = False):
    """An untrained :class:`PalsyNet` for ``config``.

    The image backbone is filled from ``checkpoint`` if given, else from the source
    ``config.backbone`` records (package, checkpoint file, or a seeded random init).
    """
    from ._fusion import STRUCTURED_FNNS, EarlyFusionHead, PalsyNet
    from ._image import ImageClassifier, file_sha256

    image = structured = head = None
    if config.structured_modality:
        structured = STRUCTURED_FNNS[config.structured_modality]()
    if config.image_architecture:
        source = config.backbone or {}
        if checkpoint is None and source.get("kind") == "checkpoint":
            checkpoint = source["file"]
            if not Path(checkpoint).is_file():
                raise ModelNotInstalledError(
                    f"This model's {config.image_architecture} backbone weights were read "
                    f"from {checkpoint}, which is not there any more. Put the checkpoint "
                    "back at that path (sha256 " + source.get("sha256", "?")[:12] + "...).")
            # Checked before the file is opened: a card must name the exact bytes it loads.
            if not source.get("sha256"):
                raise ModelNotInstalledError(
                    f"The model card names the backbone checkpoint {checkpoint} without a "
                    "sha256, so it cannot be verified and is not loaded. Promote the model "
                    "again to record the file's sha256.")
            if file_sha256(checkpoint) != source["sha256"]:
                raise ModelNotInstalledError(
                    f"{checkpoint} is not the backbone checkpoint this model was trained "
                    "with (sha256 differs); it is not loaded.")
        image = ImageClassifier(
            config.image_architecture, checkpoint,
            allow_random_init=allow_random_init or source.get("kind") == "random",
            input_size=config.input_size, pixel_norm=config.pixel_norm)
        if source.get("sha256") and image.backbone_source["sha256"] != source["sha256"]:
            raise ModelNotInstalledError(
                f"The {config.image_architecture} backbone found now ("
                f"{image.backbone_source.get('file', '?')}) differs from the one this "
                "model was trained with (sha256 differs); reinstall the pinned package.")
    if config.kind == "early":
        head = EarlyFusionHead(image.embedding_dim + structured.embedding_dim)
    return PalsyNet(config.kind, image=image, structured=structured, head=head)


# -- weight files and cards --------------------------------------------------------------------
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


@dataclass
class ModelCard:
    """The JSON document saved beside a weight file (``NAME.json``).

    Attributes
    ----------
    name : str
    config : ModelConfig
    trained_on : str
        One line on the training data, shown with every prediction.
    trained_on_simulated_data : bool
    training_data : dict
        Data sets, sample and subject counts, simulator settings.
    protocol : dict
        Split, hyper-parameters, seed.
    metrics : dict
        Held-out metrics (per fold and averaged) of the run that produced the model.
    intended_use : str
    feature_scaler : FeatureScaler, optional
        For the structured modality.
    blendshape_names : list of str, optional
        Input order of the blendshape modality.
    date, git_commit, code_version : str
    weights_file, weights_sha256 : str
    calibration : dict, optional
        Maps the network's palsy logit to the probability reported:
        ``{"method": "platt", "a": A, "b": B}`` gives ``sigmoid(A * logit + B)``, fitted
        on people held out of training. None: the network's softmax as it is.
    """

    name: str
    config: ModelConfig
    trained_on: str
    trained_on_simulated_data: bool
    training_data: dict
    protocol: dict
    metrics: dict
    intended_use: str
    feature_scaler: FeatureScaler | None = None
    blendshape_names: list[str] | None = None
    date: str = ""
    git_commit: str = ""
    code_version: str = ""
    weights_file: str = ""
    weights_sha256: str = ""
    extra: dict = field(default_factory=dict)
    calibration: dict | None = None

    def to_dict(self) -> dict:
        data_modality, model = self.config.table_row()
        return {
            "card_format": CARD_FORMAT,
            "name": self.name,
            "architecture": describe_architecture(self.config),
            "table_row": {"data_modality": data_modality, "model": model},
            "config": self.config.to_dict(),
            "modalities": self.config.modalities,
            "trained_on": self.trained_on,
            "trained_on_simulated_data": self.trained_on_simulated_data,
            "training_data": self.training_data,
            "protocol": self.protocol,
            "metrics": self.metrics,
            "intended_use": self.intended_use,
            "feature_scaler": None if self.feature_scaler is None else {
                "modality": self.config.structured_modality, **self.feature_scaler.to_dict()},
            "blendshape_names": self.blendshape_names,
            "date": self.date,
            "git_commit": self.git_commit,
            "code_version": self.code_version,
            "weights_file": self.weights_file,
            "weights_sha256": self.weights_sha256,
            **({"calibration": self.calibration} if self.calibration else {}),
            **({"extra": self.extra} if self.extra else {}),
        }

    @classmethod
    def from_dict(cls, data: dict) -> "ModelCard":
        scaler = data.get("feature_scaler")
        return cls(
            name=data["name"], config=ModelConfig.from_dict(data["config"]),
            trained_on=data["trained_on"],
            trained_on_simulated_data=bool(data["trained_on_simulated_data"]),
            training_data=data.get("training_data", {}), protocol=data.get("protocol", {}),
            metrics=data.get("metrics", {}), intended_use=data.get("intended_use", ""),
            feature_scaler=FeatureScaler.from_dict(scaler) if scaler else None,
            blendshape_names=data.get("blendshape_names"), date=data.get("date", ""),
            git_commit=data.get("git_commit", ""), code_version=data.get("code_version", ""),
            weights_file=data["weights_file"], weights_sha256=data["weights_sha256"],
            extra=data.get("extra", {}), calibration=data.get("calibration"))


def describe_architecture(config: ModelConfig) -> str:
    """One line naming every layer block of the network, for the card."""
    from ._fnn import (BLENDSHAPE_LAYER_SIZES, COORDINATE_LAYER_SIZES, HANDCRAFTED_HIDDEN_LAYERS,
                       HANDCRAFTED_INPUTS, HANDCRAFTED_WIDTH)
    from ._fusion import EARLY_FUSION_WIDTHS
    from ._geometry import GEOMETRY_HIDDEN, geometry_input_names

    fnn = {
        "blendshapes": ("FNN " + "-".join(map(str, BLENDSHAPE_LAYER_SIZES)), 10),
        "coordinates": ("FNN " + "-".join(map(str, COORDINATE_LAYER_SIZES)), 32),
        "handcrafted": (f"FNN {HANDCRAFTED_INPUTS} -> {HANDCRAFTED_HIDDEN_LAYERS} x "
                        f"{HANDCRAFTED_WIDTH} -> 2", HANDCRAFTED_WIDTH),
        "geometry": ("FNN " + "-".join(map(str, (len(geometry_input_names()), *GEOMETRY_HIDDEN,
                                                  2)))
                     + (" (logistic regression)" if not GEOMETRY_HIDDEN else ""), 0),
    }
    parts = []
    if config.image_architecture:
        parts.append(f"{config.image_architecture} on {config.image_modality} "
                     f"({config.input_size} px, {config.pixel_norm} pixel norm)")
    if config.structured_modality:
        parts.append(f"{fnn[config.structured_modality][0]} on {config.structured_modality}")
    text = " + ".join(parts)
    if config.kind == "early":
        text += (" -> embeddings concatenated -> " + "-".join(map(str, EARLY_FUSION_WIDTHS))
                 + "-2 (BatchNorm + LeakyReLU)")
    elif config.kind == "late":
        text += " -> mean of the two palsy probabilities"
    if config.mirror_average:
        text += "; probability averaged over the face and its mirror image"
    return text


def _check_name(name: str) -> str:
    if not _NAME.match(name or ""):
        raise ValueError(f"Model name {name!r} must be 1-64 letters, digits, '_', '.' or '-'.")
    return name


def save_model(net, card: ModelCard, weights_dir: str | os.PathLike | None = None, *,
               make_default: bool = False) -> Path:
    """Write ``NAME.pt`` and ``NAME.json`` into the weights folder; returns the .pt path.

    ``card.date``, ``git_commit``, ``code_version``, ``weights_file`` and
    ``weights_sha256`` are filled in here. ``make_default`` points ``DEFAULT`` at it.
    """
    import torch

    from .. import __version__

    name = _check_name(card.name)
    folder = Path(weights_dir) if weights_dir is not None else default_weights_dir()
    folder.mkdir(parents=True, exist_ok=True)
    weights_path = folder / f"{name}.pt"
    tmp = weights_path.with_name(f".{name}.pt.tmp")
    torch.save({"card_format": CARD_FORMAT, "weights": net.weights()}, tmp)
    os.replace(tmp, weights_path)
    card.date = card.date or dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    card.git_commit = card.git_commit or git_commit()
    card.code_version = __version__
    card.weights_file = weights_path.name
    card.weights_sha256 = hashlib.sha256(weights_path.read_bytes()).hexdigest()
    (folder / f"{name}.json").write_text(json.dumps(card.to_dict(), indent=2) + "\n")
    if make_default:
        (folder / DEFAULT_POINTER).write_text(name + "\n")
    return weights_path


def list_installed_models(weights_dir: str | os.PathLike | None = None) -> list[str]:
    """Names of the models with a card in the weights folder."""
    folder = Path(weights_dir) if weights_dir is not None else default_weights_dir()
    return sorted(p.stem for p in folder.glob("*.json")) if folder.is_dir() else []


def read_card(name: str, weights_dir: str | os.PathLike | None = None) -> ModelCard:
    """The model card of an installed model.

    Raises
    ------
    ModelNotInstalledError
        The card is missing or not a valid card.
    """
    folder = Path(weights_dir) if weights_dir is not None else default_weights_dir()
    path = folder / f"{_check_name(name)}.json"
    if not path.is_file():
        installed = list_installed_models(folder)
        raise ModelNotInstalledError(
            f"No palsy model {name!r} in {folder} (installed: "
            f"{', '.join(installed) or 'none'}). Train and promote one with "
            "`python -m trainers.fusion ... --promote NAME`, or rebuild the default with "
            "`python -m trainers.build_default_weights`.")
    try:
        return ModelCard.from_dict(json.loads(path.read_text()))
    except (ValueError, KeyError, TypeError) as error:
        raise ModelNotInstalledError(
            f"The model card {path} is damaged ({type(error).__name__}: {error}); restore "
            "it from git or promote the model again.") from None


def _default_name(folder: Path) -> str:
    pointer = folder / DEFAULT_POINTER
    if not pointer.is_file():
        raise ModelNotInstalledError(
            f"No default palsy model in {folder} (the file {DEFAULT_POINTER} naming it is "
            "missing). Rebuild it with `python -m trainers.build_default_weights`, or "
            "promote a model with `--promote NAME --make-default`.")
    name = pointer.read_text().strip()
    if not _NAME.match(name):
        raise ModelNotInstalledError(
            f"{pointer} should hold the default model's name, not {name!r}. Rebuild it with "
            "`python -m trainers.build_default_weights`.")
    return name


def load_palsy_model(name: str | None = None,
                     weights_dir: str | os.PathLike | None = None) -> "PalsyPredictor":
    """Load an installed palsy model as a :class:`PalsyPredictor`.

    Parameters
    ----------
    name : str, optional
        A model in the weights folder; default: the one ``DEFAULT`` names.
    weights_dir : path, optional
        Default: ``$PALSY_WEIGHTS_DIR`` or the repository's ``weights/``.

    Raises
    ------
    ModelNotInstalledError
        Weights or card missing, damaged, or not matching each other; a backbone
        file the card names is missing.
    """
    import torch

    folder = Path(weights_dir) if weights_dir is not None else default_weights_dir()
    name = name or _default_name(folder)
    card = read_card(name, folder)
    weights_path = folder / card.weights_file
    if not weights_path.is_file():
        raise ModelNotInstalledError(
            f"The weights of palsy model {name!r} ({weights_path}) are missing; the card "
            "is there but the .pt file is not. Restore it or promote the model again.")
    digest = hashlib.sha256(weights_path.read_bytes()).hexdigest()
    if digest != card.weights_sha256:
        raise ModelNotInstalledError(
            f"The weights file {weights_path} is damaged or not the one its card "
            f"describes (sha256 {digest[:12]}..., card says {card.weights_sha256[:12]}...). "
            "Restore it from git or promote the model again.")
    try:
        saved = torch.load(weights_path, map_location="cpu", weights_only=True)
        net = build_network(card.config)
        net.load_weights(saved["weights"])
    except ModelNotInstalledError:
        raise
    except Exception as error:  # torch raises many types for a bad file
        raise ModelNotInstalledError(
            f"Cannot load palsy model {name!r} from {weights_path}: "
            f"{type(error).__name__}: {error}") from None
    return PalsyPredictor(net.eval(), card)


# -- predictor ------------------------------------------------------------------------------------
class PalsyPredictor:
    """A trained palsy model behind a numpy interface.

    Parameters
    ----------
    net : PalsyNet
        In eval mode.
    card : ModelCard

    Thread-safe: prediction only reads the network.
    """

    def __init__(self, net, card: ModelCard):
        self.net = net.eval()
        self.card = card
        self.name = card.name
        self.config = card.config

    def __repr__(self) -> str:
        return f"PalsyPredictor({self.name!r}, {describe_architecture(self.config)!r})"

    @property
    def wants_mirror_view(self) -> bool:
        """Whether :meth:`predict` uses the landmarks of the flipped photo too."""
        return self.config.mirror_average

    def predict(self, image: np.ndarray, landmarks: np.ndarray, blendshapes: dict,
                features: np.ndarray, *, mirror_view: tuple | None = None):
        """Palsy probability of one analysed face.

        Parameters
        ----------
        image : ndarray (H, W, 3) uint8
            The RGB photo.
        landmarks : ndarray (478, 2+)
            Pixels of ``image``.
        blendshapes : dict of str to float
            The 52 MediaPipe scores.
        features : ndarray (29,)
            The handcrafted features of the landmarks.
        mirror_view : (image, landmarks, blendshapes, features), optional
            The same four for the left-right flipped photo, its landmarks found by the
            landmarker on it. Used when the model averages over mirror images
            (``config.mirror_average``): the probability is then the mean over the two
            detections, as in training, and the same for a photo and its mirror image
            although the landmarker is not mirror-symmetric. Without it the mirror is
            derived from the photo's landmarks (:func:`~palsy_core.modalities.mirrored_arrays`).

        Returns
        -------
        palsy_core.analysis.PalsyPrediction
        """
        from ..modalities import mirrored_arrays, modality_array
        from ._geometry import geometry_vector

        views = [(image, landmarks, blendshapes, features)]
        if self.config.mirror_average and mirror_view is not None:
            views.append(mirror_view)
        faces = []
        for view_image, view_landmarks, view_blendshapes, view_features in views:
            if (self.card.blendshape_names
                    and self.config.structured_modality == "blendshapes"):
                missing = [n for n in self.card.blendshape_names if n not in view_blendshapes]
                if missing:
                    raise ValueError(f"Blendshapes {missing[:3]} missing from the input.")
                view_blendshapes = {n: view_blendshapes[n] for n in self.card.blendshape_names}
            arrays = {m: (geometry_vector(view_landmarks, view_blendshapes)
                          if m == "geometry" else
                          modality_array(m, view_image, view_landmarks, view_blendshapes,
                                         view_features))
                      for m in self.config.modalities}
            faces.append(arrays)
        if self.config.mirror_average and len(views) == 1:
            if "geometry" in faces[0]:  # magnitudes only: the mirror's vector is the same
                faces.append(dict(faces[0]))
            else:
                faces.append(mirrored_arrays(faces[0], landmarks=landmarks,
                                             image_width=image.shape[1],
                                             blendshape_names=list(view_blendshapes)))
        batch = {m: np.stack([face[m] for face in faces]) for m in faces[0]}
        probability = float(self.predict_arrays(batch).mean())
        return self.prediction(probability)

    def prediction(self, probability: float):
        """Wrap a probability in the :class:`~palsy_core.analysis.PalsyPrediction` type."""
        from ..analysis import PalsyPrediction

        return PalsyPrediction(probability=probability, model=self.name,
                               trained_on=self.card.trained_on,
                               simulated=self.card.trained_on_simulated_data)

    def predict_arrays(self, arrays: dict[str, np.ndarray]) -> np.ndarray:
        """Palsy probabilities (N,) from modality arrays stacked over N faces.

        ``arrays`` maps each of ``config.modalities`` to its batch: images (N, 224, 224[, 3])
        uint8, structured modalities (N, ...) in the units of :mod:`palsy_core.modalities`.
        """
        import torch

        image_x = structured_x = None
        if self.config.image_modality:
            image_x = self.net.image.preprocess(arrays[self.config.image_modality])
        if self.config.structured_modality:
            raw = np.asarray(arrays[self.config.structured_modality], np.float32)
            raw = raw.reshape(len(raw), -1)
            if self.card.feature_scaler is not None:
                raw = self.card.feature_scaler.transform(raw)
            structured_x = torch.from_numpy(raw)
        with torch.inference_mode():
            probability = self.net.predict_proba(image_x, structured_x).numpy()
        return self.calibrate(probability)

    def calibrate(self, probability: np.ndarray) -> np.ndarray:
        """The network's probabilities through the card's calibration (if any)."""
        calibration = self.card.calibration
        if not calibration:
            return probability
        if calibration.get("method") != "platt":
            raise ModelNotInstalledError(
                f"Model {self.name!r} names an unknown calibration "
                f"{calibration.get('method')!r}; this palsy_core applies 'platt' only.")
        p = np.clip(np.asarray(probability, np.float64), 1e-12, 1 - 1e-12)
        z = float(calibration["a"]) * np.log(p / (1 - p)) + float(calibration["b"])
        return (1.0 / (1.0 + np.exp(-np.clip(z, -60, 60)))).astype(np.float32)
