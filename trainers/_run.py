"""What every trainer's run shares: the fold -> record -> promote sequence, the promotion
settings, the error a run reports, and building a run's settings from its command line.

A trainer's ``main`` parses its flags into a frozen settings dataclass
(:func:`settings_from_args`), hands that down (no ``argparse.Namespace`` below ``main``),
and calls :func:`run_record_promote`. Code below ``main`` raises :class:`TrainingError`
for settings or data a run cannot use; only ``main`` turns it into an exit
(:func:`exits_on_training_error`).
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar
from collections.abc import Callable

R = TypeVar("R")
S = TypeVar("S")
T = TypeVar("T")


class TrainingError(Exception):
    """Settings or data a run cannot use; the message says what to change."""


@dataclass(frozen=True)
class Promotion:
    """Whether and where a run installs its model (``--promote NAME`` and friends).

    Attributes
    ----------
    name : str or None
        Name of the installed weights; None installs nothing.
    make_default : bool
        Also make it the model the app loads for its task.
    weights_dir : Path or None
        The weights root to install into (default: the repository's ``weights/``); the
        model goes to ``<weights_dir>/<task>/``.
    training_data_note : str or None
        One line on the training data for the model card.
    simulated_data : bool
        Mark the card ``trained_on_simulated_data``.
    """

    name: str | None = None
    make_default: bool = False
    weights_dir: Path | None = None
    training_data_note: str | None = None
    simulated_data: bool = False

    def __post_init__(self):
        if self.make_default and not self.name:
            raise TrainingError("--make-default needs --promote NAME.")

    def install(self, card, write_weights: Callable[[Path], None]) -> Path:
        """Install a model: ``<weights>/<task>/NAME`` and its card, and with
        ``make_default`` ``<weights>/<task>/DEFAULT``; the one way every trainer promotes
        (:func:`palsy_core.models.save_model`). Returns the weight file's path."""
        from palsy_core.models import save_model

        card.name = self.name
        return save_model(card, write_weights, weights_dir=self.weights_dir,
                          make_default=self.make_default)

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> Promotion:
        return cls(name=args.promote, make_default=bool(args.make_default),
                   weights_dir=args.weights_dir,
                   training_data_note=getattr(args, "training_data_note", None),
                   simulated_data=bool(getattr(args, "simulated_data", False)))


def settings_from_args(cls: type[T], args: argparse.Namespace, **values) -> T:
    """``cls`` (a dataclass) from the parsed flags of the same names, and ``values``."""
    given = {f.name: getattr(args, f.name) for f in dataclasses.fields(cls)
             if f.init and f.name not in values and hasattr(args, f.name)}
    return cls(**given, **values)


def run_record_promote(record_folds: Callable[[], R], summarise: Callable[[R], S],
                       promote: Callable[[S], Path] | None, *, make_default: bool = False,
                       log: Callable[[str], None] = print) -> tuple[S, Path | None]:
    """Every trainer's sequence: train and test each fold, writing each fold's record as
    it finishes (``record_folds``); summarise the records (``summarise``); then, when a
    promotion is asked for (``promote`` not None), install the model with its card.

    Returns the summary and where the model was installed (None when not promoted).
    """
    summary = summarise(record_folds())
    if promote is None:
        return summary, None
    path = promote(summary)
    log(f"promoted: {path}" + (" (now the default)" if make_default else ""))
    return summary, path


def exits_on_training_error(main: Callable[..., int]) -> Callable[..., int]:
    """A trainer's ``main`` that exits with ``error: <message>`` on a
    :class:`TrainingError` instead of a traceback."""

    @functools.wraps(main)
    def wrapper(*args, **kwargs) -> int:
        try:
            return main(*args, **kwargs)
        except TrainingError as error:
            raise SystemExit(f"error: {error}") from None

    return wrapper


__all__ = ["Promotion", "TrainingError", "exits_on_training_error", "run_record_promote",
           "settings_from_args"]
