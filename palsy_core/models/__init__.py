"""Palsy classifiers of seed 000: three FNNs, image models, early and late fusion.

Use a trained model::

    from palsy_core.models import load_palsy_model
    model = load_palsy_model()            # the default in weights/, or a name
    model.predict(rgb, landmarks, blendshapes, features).probability

Build one to train (see ``trainers/``)::

    from palsy_core.models import create_model, list_models
    fnn = create_model("fnn_handcrafted")
    mixer = create_model("mixer_b16_224", checkpoint="mixer_b16_224.safetensors")
"""

from ._fnn import FeedForwardClassifier
from ._fusion import EarlyFusionHead, PalsyNet, late_fusion_probability, palsy_probability
from ._image import ARCHITECTURES as IMAGE_ARCHITECTURES
from ._image import EFFICIENTNET_PACKAGE, ImageClassifier
from ._registry import (
    FeatureScaler,
    ModelCard,
    ModelConfig,
    PalsyPredictor,
    build_network,
    create_model,
    default_weights_dir,
    list_installed_models,
    list_models,
    load_palsy_model,
    read_card,
    register_model,
    save_model,
)
from ._tasks import (
    TASKS,
    AnalyzedFace,
    TaskModelCard,
    default_model_name,
    list_task_models,
    load_model,
    read_task_card,
    register_loader,
    save_task_model,
    task_weights_dir,
)

__all__ = [
    "FeedForwardClassifier", "EarlyFusionHead", "PalsyNet", "late_fusion_probability",
    "palsy_probability", "IMAGE_ARCHITECTURES", "EFFICIENTNET_PACKAGE", "ImageClassifier",
    "FeatureScaler", "ModelCard", "ModelConfig", "PalsyPredictor", "build_network",
    "create_model", "default_weights_dir", "list_installed_models", "list_models",
    "load_palsy_model", "read_card", "register_model", "save_model",
    "TASKS", "AnalyzedFace", "TaskModelCard", "default_model_name", "list_task_models",
    "load_model", "read_task_card", "register_loader", "save_task_model", "task_weights_dir",
]
