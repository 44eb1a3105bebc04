"""Trained models by task, and the architectures to train them (timm-style registry).

Use a trained model (tasks ``palsy``, ``severity``, ``parsing``; weights in
``weights/<task>/``, the default named by ``weights/<task>/DEFAULT``)::

    from palsy_core.models import AnalyzedFace, load_model
    model = load_model("palsy")                 # or load_model("palsy", "NAME")
    face = AnalyzedFace(rgb, landmarks, blendshapes, features)
    model.predict(face).probability             # severity: .label; parsing: .labels
    model.card                                  # the ModelCard (task, framework, metrics...)

Install one (what every trainer's ``--promote`` does)::

    from palsy_core.models import save_model
    save_model(card, write_weights, make_default=True)   # weights/<task>/NAME + card

Build one to train (see ``trainers/``)::

    from palsy_core.models import create_model, list_models
    fnn = create_model("fnn_handcrafted")
    mixer = create_model("mixer_b16_224", checkpoint="mixer_b16_224.safetensors")
"""

from ._fnn import FeedForwardClassifier
from ._fusion import EarlyFusionHead, PalsyNet, late_fusion_probability, palsy_probability
from ._image import ARCHITECTURES as IMAGE_ARCHITECTURES
from ._image import EFFICIENTNET_PACKAGE, ImageClassifier
from ._palsy import (
    FeatureScaler,
    ModelConfig,
    PalsyPredictor,
    build_network,
    palsy_card,
    write_palsy_weights,
)
from ._registry import (
    TASKS,
    AnalyzedFace,
    ModelCard,
    Predictor,
    create_model,
    default_model_name,
    default_weights_dir,
    list_models,
    list_task_models,
    load_model,
    read_card,
    register_loader,
    register_model,
    save_model,
    task_weights_dir,
)

__all__ = [
    "FeedForwardClassifier", "EarlyFusionHead", "PalsyNet", "late_fusion_probability",
    "palsy_probability", "IMAGE_ARCHITECTURES", "EFFICIENTNET_PACKAGE", "ImageClassifier",
    "FeatureScaler", "ModelConfig", "PalsyPredictor", "build_network", "palsy_card",
    "write_palsy_weights",
    "TASKS", "AnalyzedFace", "ModelCard", "Predictor", "create_model", "default_model_name",
    "default_weights_dir", "list_models", "list_task_models", "load_model", "read_card",
    "register_loader", "register_model", "save_model", "task_weights_dir",
]
