"""Seed 000's palsy models as a registered task: config, card, loader and predictor.

A palsy weight file holds one :class:`~palsy_core.models.PalsyNet` (a single FNN, a
single image classifier, or the two joined by early or late fusion).
:class:`ModelConfig` says which; it is saved in the card's ``config`` with the feature
scaler (fitted on the training data only), the blendshape input order and the
calibration, which is all :func:`load_palsy_net` needs to rebuild the network. The
loader is registered for the architectures ``palsy_fnn``, ``palsy_image``,
``palsy_early`` and ``palsy_late`` (:func:`palsy_architecture`), so
``load_model("palsy")`` returns a :class:`PalsyPredictor`:
``predict(face: AnalyzedFace) -> PalsyPrediction``.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from ..errors import ModelNotInstalledError
from ..face.mirror_flow import CROP_SIZE as FLOW_CROP_SIZE
from ..face.mirror_flow import flow_view, mirror_flow
from ..modalities import mirrored_arrays, modality_array
from ..predictions import PalsyPrediction
from ._fnn import (BLENDSHAPE_LAYER_SIZES, COORDINATE_LAYER_SIZES, HANDCRAFTED_HIDDEN_LAYERS,
                   HANDCRAFTED_INPUTS, HANDCRAFTED_WIDTH)
from ._fusion import EARLY_FUSION_WIDTHS, STRUCTURED_FNNS, EarlyFusionHead, PalsyNet
from ._geometry import GEOMETRY_HIDDEN, geometry_input_names, geometry_vector
from ._image import ImageClassifier, architecture_display_name, file_sha256
from ._registry import AnalyzedFace, ModelCard, register_loader

#: Format of the palsy weight file (a dict of the trained tensors).
WEIGHTS_FORMAT = 1

#: Table 1's "Data Modality" wording per modality.
MODALITY_LABELS = {
    "blendshapes": "Features of Facial Expressions",
    "coordinates": "Coordinates",
    "handcrafted": "Handcrafted Manual Features [24]",
    "geometry": "Asymmetry Measurements (mm, blendshape, region and mirror-flow differences)",
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
    def from_dict(cls, data: dict) -> ModelConfig:
        return cls(**{k: data.get(k) for k in cls.__dataclass_fields__ if k in data})


@dataclass(frozen=True)
class FeatureScaler:
    """Standardisation of a structured modality, fitted on training data only.

    ``(x - mean) / std``; a feature constant in training (std below 1e-6) gets std 1.
    """

    mean: np.ndarray
    std: np.ndarray

    @classmethod
    def fit(cls, x: np.ndarray) -> FeatureScaler:
        x = np.asarray(x, dtype=np.float64)
        std = x.std(axis=0)
        return cls(x.mean(axis=0).astype(np.float32),
                   np.where(std < 1e-6, 1.0, std).astype(np.float32))

    def transform(self, x: np.ndarray) -> np.ndarray:
        return ((np.asarray(x, np.float32) - self.mean) / self.std).astype(np.float32)

    def to_dict(self) -> dict:
        return {"mean": [float(v) for v in self.mean], "std": [float(v) for v in self.std]}

    @classmethod
    def from_dict(cls, data: dict) -> FeatureScaler:
        return cls(np.asarray(data["mean"], np.float32), np.asarray(data["std"], np.float32))


def build_network(config: ModelConfig, *, checkpoint: str | os.PathLike | None = None,
                  allow_random_init: bool = False):
    """An untrained :class:`PalsyNet` for ``config``.

    The image backbone is filled from ``checkpoint`` if given, else from the source
    ``config.backbone`` records (package, checkpoint file, or a seeded random init).
    """
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


def describe_architecture(config: ModelConfig) -> str:
    """One line naming every layer block of the network, for the card."""
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


# -- card, weight file and loader -------------------------------------------------------------
def palsy_architecture(config: ModelConfig) -> str:
    """The loader key of a palsy network: ``palsy_<kind>`` (fnn, image, early, late)."""
    return f"palsy_{config.kind}"


def palsy_card(name: str, config: ModelConfig, *, trained_on: str,
               trained_on_simulated_data: bool, intended_use: str,
               feature_scaler: FeatureScaler | None = None,
               blendshape_names: list[str] | None = None, calibration: dict | None = None,
               **fields) -> ModelCard:
    """The :class:`ModelCard` of a palsy network; ``fields`` are the card's other fields.

    The network's config, feature scaler, blendshape order and calibration go into the
    card's ``config``; its description is derived from ``config``.
    """
    return ModelCard(
        name=name, task="palsy", framework="torch", architecture=palsy_architecture(config),
        trained_on=trained_on, trained_on_simulated_data=trained_on_simulated_data,
        intended_use=intended_use,
        config={**config.to_dict(),
                "feature_scaler": None if feature_scaler is None else {
                    "modality": config.structured_modality, **feature_scaler.to_dict()},
                "blendshape_names": blendshape_names, "calibration": calibration},
        description=describe_architecture(config), **fields)


def write_palsy_weights(net: PalsyNet):
    """``write_weights`` for :func:`~palsy_core.models.save_model`: the trained tensors only
    (frozen backbone layers are rebuilt from the file or package the config names)."""

    def write(path: Path) -> None:
        torch.save({"card_format": WEIGHTS_FORMAT, "weights": net.weights()}, path)

    return write


def load_palsy_net(folder: Path, card: ModelCard) -> PalsyPredictor:
    """The registered loader: rebuild the network the card describes and fill its weights."""
    config = ModelConfig.from_dict(card.config)
    saved = torch.load(folder / card.weights_file, map_location="cpu", weights_only=True)
    net = build_network(config)
    net.load_weights(saved["weights"])
    return PalsyPredictor(net, card)


for _kind in ("fnn", "image", "early", "late"):
    register_loader("palsy", f"palsy_{_kind}")(load_palsy_net)


# -- predictor ------------------------------------------------------------------------------------
class PalsyPredictor:
    """A trained palsy model: ``predict(face: AnalyzedFace) -> PalsyPrediction``.

    Parameters
    ----------
    net : PalsyNet
        In eval mode.
    card : ModelCard
        A palsy card (:func:`palsy_card`); its ``config`` gives :attr:`config`,
        :attr:`feature_scaler`, :attr:`blendshape_names` and :attr:`calibration`.

    Thread-safe: prediction only reads the network.
    """

    def __init__(self, net: PalsyNet, card: ModelCard):
        self.net = net.eval()
        self.card = card
        self.name = card.name
        self.config = ModelConfig.from_dict(card.config)
        scaler = card.config.get("feature_scaler")
        self.feature_scaler = FeatureScaler.from_dict(scaler) if scaler else None
        self.blendshape_names: list[str] | None = card.config.get("blendshape_names")
        self.calibration: dict | None = card.config.get("calibration")

    def __repr__(self) -> str:
        return f"PalsyPredictor({self.name!r}, {describe_architecture(self.config)!r})"

    @property
    def wants_mirror_view(self) -> bool:
        """Whether :meth:`predict` uses ``face.mirror``, the flipped photo's own detection."""
        return self.config.mirror_average

    def predict(self, face: AnalyzedFace):
        """Palsy probability of one analysed face.

        Parameters
        ----------
        face : AnalyzedFace
            The photo, its landmarks (pixels), blendshapes and handcrafted features.
            ``face.mirror``, the same for the left-right flipped photo with landmarks
            found by the landmarker on it, is used when the model averages over mirror
            images (``config.mirror_average``): the probability is then the mean over the
            two detections, as in training, and the same for a photo and its mirror image
            although the landmarker is not mirror-symmetric. Without it the mirror is
            derived from the photo's landmarks (:func:`~palsy_core.modalities.mirrored_arrays`).

        Returns
        -------
        palsy_core.predictions.PalsyPrediction
        """
        views = [face]
        if self.config.mirror_average and face.mirror is not None:
            views.append(face.mirror)
        flow = None
        if "geometry" in self.config.modalities:
            # One view's flow serves both (its magnitudes are the mirror's too); which
            # view is chosen so that a photo and its mirror image read the same one.
            view = views[flow_view([v.crop(FLOW_CROP_SIZE) for v in views])]
            flow = (view.flow if view.flow is not None else
                    mirror_flow(view.image, view.landmarks, crop=view.crop(FLOW_CROP_SIZE)))
        faces = []
        for view in views:
            blendshapes = view.blendshapes
            if self.blendshape_names and self.config.structured_modality == "blendshapes":
                missing = [n for n in self.blendshape_names if n not in blendshapes]
                if missing:
                    raise ValueError(f"Blendshapes {missing[:3]} missing from the input.")
                blendshapes = {n: blendshapes[n] for n in self.blendshape_names}
            arrays = {m: (geometry_vector(view.landmarks, blendshapes, flow)
                          if m == "geometry" else
                          modality_array(m, view.image, view.landmarks, blendshapes,
                                         view.features))
                      for m in self.config.modalities}
            faces.append(arrays)
        if self.config.mirror_average and len(views) == 1:
            if "geometry" in faces[0]:  # magnitudes only: the mirror's vector is the same
                faces.append(dict(faces[0]))
            else:
                faces.append(mirrored_arrays(faces[0], landmarks=face.landmarks,
                                             image_width=face.image.shape[1],
                                             blendshape_names=list(blendshapes)))
        batch = {m: np.stack([arrays[m] for arrays in faces]) for m in faces[0]}
        probability = float(self.predict_arrays(batch).mean())
        return self.prediction(probability)

    def prediction(self, probability: float):
        """Wrap a probability in the :class:`~palsy_core.predictions.PalsyPrediction` type."""
        return PalsyPrediction(probability=probability, model=self.name,
                               trained_on=self.card.trained_on,
                               simulated=self.card.trained_on_simulated_data)

    def predict_arrays(self, arrays: dict[str, np.ndarray]) -> np.ndarray:
        """Palsy probabilities (N,) from modality arrays stacked over N faces.

        ``arrays`` maps each of ``config.modalities`` to its batch: images (N, 224, 224[, 3])
        uint8, structured modalities (N, ...) in the units of :mod:`palsy_core.modalities`.
        """
        image_x = structured_x = None
        if self.config.image_modality:
            image_x = self.net.image.preprocess(arrays[self.config.image_modality])
        if self.config.structured_modality:
            raw = np.asarray(arrays[self.config.structured_modality], np.float32)
            raw = raw.reshape(len(raw), -1)
            if self.feature_scaler is not None:
                raw = self.feature_scaler.transform(raw)
            structured_x = torch.from_numpy(raw)
        with torch.inference_mode():
            probability = self.net.predict_proba(image_x, structured_x).numpy()
        return self.calibrate(probability)

    def calibrate(self, probability: np.ndarray) -> np.ndarray:
        """The network's probabilities through the card's calibration (if any)."""
        calibration = self.calibration
        if not calibration:
            return probability
        if calibration.get("method") != "platt":
            raise ModelNotInstalledError(
                f"Model {self.name!r} names an unknown calibration "
                f"{calibration.get('method')!r}; this palsy_core applies 'platt' only.")
        p = np.clip(np.asarray(probability, np.float64), 1e-12, 1 - 1e-12)
        z = float(calibration["a"]) * np.log(p / (1 - p)) + float(calibration["b"])
        return (1.0 / (1.0 + np.exp(-np.clip(z, -60, 60)))).astype(np.float32)
