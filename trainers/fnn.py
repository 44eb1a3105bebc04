"""Train and evaluate a feed-forward network on one structured modality (seed 000, 3.2).

Rows of Table 1: "Features of Facial Expressions", "Coordinates" and "Handcrafted
Manual Features [24]" with the Feed-forward Neural Network.

Example::

    python -m trainers.fnn --modality handcrafted --yfp YFP --ckplus CKPLUS --out runs/fnn_hc

Defaults are the paper's: SGD, lr 0.2045, batch 256, 1000 epochs (blendshapes) or 3000.
Features are standardised with a mean/std fitted on each fold's training data only.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from collections.abc import Callable

import numpy as np

from ._common import (FNN_HYPER, FinalModel, Hyper, Run, TrainConfig, common_parser, fit,
                      hyper_from_settings, parse_args, predict, seed_everything,
                      stage_settings, to_tensor)
from ._run import exits_on_training_error


@dataclass(frozen=True)
class FnnConfig(TrainConfig):
    """A run of this trainer: the common settings and the structured modality."""

    modality: str = "handcrafted"


def structured_inputs(run: Run, modality: str, digests, scaler):
    """Standardised (N, D) float32 tensor of a structured modality on the run's device."""
    import torch

    return to_tensor(scaler.transform(run.store.vectors(digests, modality)), run.device,
                     torch.float32)


def train_structured(run: Run, modality: str, digests, labels: np.ndarray, hyper: Hyper, *,
                     seed: int, desc: str = "fnn"):
    """Fit a scaler and the modality's FNN on training images.

    Returns
    -------
    model : FeedForwardClassifier (eval mode, on the run's device)
    scaler : FeatureScaler
    info : dict (epochs run, final loss)
    """
    import torch

    from palsy_core.models import FeatureScaler, create_model

    seed_everything(seed)
    scaler = FeatureScaler.fit(run.store.vectors(digests, modality))
    model = create_model(f"fnn_{modality}").to(run.device)
    x = structured_inputs(run, modality, digests, scaler)
    y = to_tensor(labels, run.device, torch.long)
    info = fit(model, model, [x], y, hyper, device=run.device, seed=seed, desc=desc,
               progress=run.progress)
    return model, scaler, info


def build_parser():
    parser = common_parser(__doc__.split("\n\n")[0])
    parser.add_argument("--modality", choices=sorted(FNN_HYPER), default="handcrafted")
    return parser


def setup(config: FnnConfig) -> tuple[Run, Callable]:
    """The run of these settings and its fold trainer ``train_fold(fold) ->
    (probabilities, info)`` (also what a Ray worker builds for one fold)."""
    from palsy_core.models import ModelConfig

    hyper = hyper_from_settings(config, FNN_HYPER[config.modality])
    model_config = ModelConfig("fnn", structured_modality=config.modality)
    run = Run(config, model_config, stage_settings(fnn=hyper))

    def train_fold(fold):
        model, scaler, info = train_structured(run, config.modality, fold.train_digests,
                                               fold.y_train, hyper,
                                               seed=config.seed + fold.index,
                                               desc=f"fold {fold.index}")
        probabilities = run.probabilities(
            lambda digests: predict(model, model,
                                    [structured_inputs(run, config.modality, digests, scaler)],
                                    device=run.device),
            fold.test_digests)
        return probabilities, {"fnn": info}

    return run, train_fold


@exits_on_training_error
def main(argv=None) -> int:
    from palsy_core.models import PalsyNet

    config = FnnConfig.from_args(parse_args(build_parser(), argv, "trainers.fnn"))
    hyper = hyper_from_settings(config, FNN_HYPER[config.modality])
    run, train_fold = setup(config)

    def train_final(digests, labels) -> FinalModel:
        model, scaler, info = train_structured(run, config.modality, digests, labels, hyper,
                                               seed=config.seed, desc="final model")
        names = (list(run.store.blendshape_names(digests[0]))
                 if config.modality == "blendshapes" else None)
        return FinalModel(PalsyNet("fnn", structured=model.cpu()), {"fnn": info},
                          scaler=scaler, blendshape_names=names)

    table = run.execute(train_fold, train_final)
    print(table.read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
