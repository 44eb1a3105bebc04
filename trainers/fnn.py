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
from typing import Callable

import numpy as np

from ._common import (FNN_HYPER, Hyper, Run, common_parser, fit, hyper_from_args, parse_args,
                      predict, seed_everything, stage_settings, to_tensor)


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


def setup(args) -> tuple[Run, Callable]:
    """The run of these settings and its fold trainer ``train_fold(fold) ->
    (probabilities, info)`` (also what a Ray worker builds for one fold)."""
    from palsy_core.models import ModelConfig

    hyper = hyper_from_args(args, FNN_HYPER[args.modality])
    config = ModelConfig("fnn", structured_modality=args.modality)
    run = Run(args, config, stage_settings(fnn=hyper))

    def train_fold(fold):
        model, scaler, info = train_structured(run, args.modality, fold.train_digests,
                                               fold.y_train, hyper, seed=args.seed + fold.index,
                                               desc=f"fold {fold.index}")
        probabilities = run.probabilities(
            lambda digests: predict(model, model,
                                    [structured_inputs(run, args.modality, digests, scaler)],
                                    device=run.device),
            fold.test_digests)
        return probabilities, {"fnn": info}

    return run, train_fold


def main(argv=None) -> int:
    from palsy_core.models import PalsyNet

    args = parse_args(build_parser(), argv, "trainers.fnn")
    hyper = hyper_from_args(args, FNN_HYPER[args.modality])
    run, train_fold = setup(args)
    run.run_folds(train_fold)
    table = run.finish()
    if args.promote:
        samples, digests = run.final_training_set()
        y = np.array([s.palsy for s in samples])
        model, scaler, info = train_structured(run, args.modality, digests, y, hyper,
                                               seed=args.seed, desc="final model")
        names = (list(run.store.blendshape_names(digests[0]))
                 if args.modality == "blendshapes" else None)
        path = run.promote(PalsyNet("fnn", structured=model.cpu()), scaler=scaler,
                           blendshape_names=names,
                           training={"samples": len(samples), "fnn": info})
        print(f"promoted: {path}")
    print(table.read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
