"""Train and evaluate an image model on RGB face crops or line-segment images (seed 000).

Rows of Table 1: "RGB Images" / "BnW LineSegment Images" with ResNet50, FasterViT or
MLP Mixer; EfficientNet-Lite0 (the offline ImageNet backbone) adds rows of its own.

Examples::

    python -m trainers.image --model mixer --checkpoint mixer_b16_224.safetensors \\
        --modality rgb --yfp YFP --ckplus CKPLUS --out runs/mixer_rgb
    python -m trainers.image --model efficientnet_lite0 --yfp YFP --ckplus CKPLUS --out runs/eff

The layers the paper freezes are run once per image and cached (by image content,
backbone and checkpoint hash); epochs train only the tuned layers and the head from
the cached tensors. Defaults are the paper's per model and modality (e.g. Mixer on RGB:
SGD, lr 0.01, batch 256, 40 epochs; on line segments: batch 128, up to 100 epochs,
early stopping on training loss with patience 3).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from collections.abc import Callable

import numpy as np

from ._common import (IMAGE_HYPER, IMAGE_MODEL_ALIASES, FinalModel, Hyper, Run, TrainConfig,
                      add_image_arguments, common_parser, fit, hyper_from_settings,
                      parse_args, predict, seed_everything, stage_settings, to_tensor)
from ._run import exits_on_training_error


@dataclass(frozen=True)
class ImageConfig(TrainConfig):
    """A run of an image model: the common settings and the image model's
    (:func:`~trainers._common.add_image_arguments`)."""

    image_model: str = "efficientnet_lite0"
    image_modality: str = "rgb"
    checkpoint: Path | None = None
    allow_random_init: bool = False
    pixel_norm: str | None = None
    input_size: int = 224


class ImageStage:
    """One image classifier whose frozen features are cached, re-trained per fold.

    Every fold starts from the same initial tuned layers and head (the pretrained final
    block plus a head initialised from the run's seed).
    """

    def __init__(self, config: ImageConfig):
        import torch

        from palsy_core.models import create_model

        self.run: Run | None = None
        self.architecture = IMAGE_MODEL_ALIASES[config.image_model]
        self.modality = config.image_modality
        torch.manual_seed(config.seed)
        self.model = create_model(self.architecture, checkpoint=config.checkpoint,
                                  allow_random_init=config.allow_random_init,
                                  input_size=config.input_size, pixel_norm=config.pixel_norm)
        self.initial = {k: v.clone() for k, v in self.model.tuned_state_dict().items()}
        self._features: dict[str, torch.Tensor] = {}

    def bind(self, run: Run) -> None:
        """Use this run's cache and device."""
        self.run = run

    def features(self, digests) -> torch.Tensor:
        """Cached frozen-layer outputs of the images, (N, ...) on the run's device."""
        import torch

        missing = [d for d in dict.fromkeys(digests) if d not in self._features]
        if missing:
            values = self.run.store.frozen_features(
                self.model, self.modality, missing, device=self.run.device,
                progress=self.run.progress)
            self._features.update(zip(missing, values.to(self.run.device)))
        return torch.stack([self._features[d] for d in digests])

    def reset(self) -> None:
        self.model.load_tuned_state_dict(self.initial)

    def logits(self, z):
        return self.model.forward_frozen(z.float())

    def train(self, digests, labels: np.ndarray, hyper: Hyper, *, seed: int,
              desc: str = "image") -> dict:
        """Re-initialise the tuned layers and head, then train them on these images."""
        import torch

        seed_everything(seed)
        self.reset()
        self.model.to(self.run.device)
        y = to_tensor(labels, self.run.device, torch.long)
        return fit(self.model, self.logits, [self.features(digests)], y, hyper,
                   device=self.run.device, seed=seed, desc=desc, progress=self.run.progress)

    def probabilities(self, digests) -> np.ndarray:
        return predict(self.model, self.logits, [self.features(digests)], device=self.run.device)

    def embeddings(self, digests) -> torch.Tensor:
        """The early-fusion embeddings (N, embedding_dim) of the images, eval mode."""
        import torch

        self.model.eval()
        z = self.features(digests)
        out = []
        with torch.inference_mode():
            for start in range(0, len(z), 512):
                out.append(self.model.embed_frozen(z[start:start + 512].float()).float())
        return torch.cat(out).clone()


def image_config(stage: ImageStage, kind: str = "image", **extra):
    from palsy_core.models import ModelConfig

    return ModelConfig(kind, image_modality=stage.modality,
                       image_architecture=stage.architecture,
                       pixel_norm=stage.model.pixel_norm, input_size=stage.model.input_size,
                       backbone=stage.model.backbone_source, **extra)


def build_parser():
    parser = common_parser(__doc__.split("\n\n")[0])
    add_image_arguments(parser)
    return parser


def image_hyper(config: ImageConfig) -> Hyper:
    """The paper's settings of this image model and modality, with any overrides."""
    architecture = IMAGE_MODEL_ALIASES[config.image_model]
    return hyper_from_settings(config, IMAGE_HYPER[(architecture, config.image_modality)])


def setup(config: ImageConfig, stage: ImageStage | None = None) -> tuple[Run, Callable]:
    """The run of these settings and its fold trainer ``train_fold(fold) ->
    (probabilities, info)`` (also what a Ray worker builds for one fold)."""
    hyper = image_hyper(config)
    stage = stage or ImageStage(config)
    run = Run(config, image_config(stage), stage_settings(image=hyper))
    stage.bind(run)

    def train_fold(fold):
        info = stage.train(fold.train_digests, fold.y_train, hyper,
                           seed=config.seed + fold.index, desc=f"fold {fold.index}")
        return run.probabilities(stage.probabilities, fold.test_digests), {"image": info}

    return run, train_fold


@exits_on_training_error
def main(argv=None) -> int:
    from palsy_core.models import PalsyNet

    config = ImageConfig.from_args(parse_args(build_parser(), argv, "trainers.image"))
    stage = ImageStage(config)  # a missing checkpoint fails here, before any data is read
    run, train_fold = setup(config, stage)

    def train_final(digests, labels) -> FinalModel:
        info = stage.train(digests, labels, image_hyper(config), seed=config.seed,
                           desc="final model")
        return FinalModel(PalsyNet("image", image=stage.model.cpu()), {"image": info})

    table = run.execute(train_fold, train_final, warm=stage.features)
    print(table.read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
