"""Binary classification metrics, per fold and averaged over folds (seed 000, Table 1).

Values are fractions in [0, 1]; tables multiply by 100 to print the papers' percentages.
Where a ratio's denominator is zero (no predicted positives for precision, no actual
positives for recall, both zero for F1) the value is defined as 0.0, as scikit-learn's
``zero_division=0`` does: a fold whose held-out patient has no palsy frames then scores
0 recall rather than breaking the average.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

#: The metrics averaged over folds.
AVERAGED_METRICS = ("f1", "precision", "recall", "accuracy")


def binary_metrics(y_true: Sequence[int], y_pred: Sequence[int]) -> dict[str, float]:
    """Confusion counts and scores of binary predictions (1 = palsy is positive).

    Parameters
    ----------
    y_true, y_pred : sequences of 0/1 (or bool), same length

    Returns
    -------
    dict
        ``tp``, ``fp``, ``fn``, ``tn`` (ints) and ``precision``, ``recall``, ``f1``,
        ``accuracy`` (floats in [0, 1]; 0.0 on a zero denominator, see the module
        notes).

    Raises
    ------
    ValueError
        On different lengths, or labels other than 0 and 1.
    """
    truth, predicted = _binary_array(y_true, "y_true"), _binary_array(y_pred, "y_pred")
    if truth.shape != predicted.shape:
        raise ValueError(f"y_true has {truth.size} labels but y_pred has {predicted.size}.")
    tp = int(np.sum(truth & predicted))
    fp = int(np.sum(~truth & predicted))
    fn = int(np.sum(truth & ~predicted))
    tn = int(np.sum(~truth & ~predicted))
    precision = _ratio(tp, tp + fp)
    recall = _ratio(tp, tp + fn)
    return {
        "tp": tp, "fp": fp, "fn": fn, "tn": tn,
        "precision": precision,
        "recall": recall,
        "f1": _ratio(2 * tp, 2 * tp + fp + fn),
        "accuracy": _ratio(tp + tn, truth.size),
    }


def average_fold_metrics(fold_metrics: Sequence[dict]) -> dict[str, float]:
    """Mean and spread of per-fold scores, as the papers average LOPO folds.

    Parameters
    ----------
    fold_metrics : sequence of dict
        Each as returned by :func:`binary_metrics`.

    Returns
    -------
    dict
        ``f1``, ``precision``, ``recall``, ``accuracy`` (means over folds), the same
        names with ``_std`` (population standard deviation over folds) and ``folds``
        (how many were averaged).

    Raises
    ------
    ValueError
        When there is no fold, or a fold lacks one of the scores.
    """
    fold_metrics = list(fold_metrics)
    if not fold_metrics:
        raise ValueError("No fold metrics to average.")
    summary: dict[str, float] = {}
    for name in AVERAGED_METRICS:
        missing = [i for i, fold in enumerate(fold_metrics) if name not in fold]
        if missing:
            raise ValueError(f"Fold {missing[0]} has no {name!r} score.")
        values = np.array([float(fold[name]) for fold in fold_metrics])
        summary[name] = float(values.mean())
        summary[f"{name}_std"] = float(values.std())
    summary["folds"] = len(fold_metrics)
    return summary


def _binary_array(labels: Sequence[int], name: str) -> np.ndarray:
    array = np.asarray(labels).ravel()
    if array.dtype == bool:
        return array
    if array.size and not np.isin(array, (0, 1)).all():
        bad = array[~np.isin(array, (0, 1))][0]
        raise ValueError(f"{name} must hold only 0 and 1 (palsy); found {bad!r}.")
    return array.astype(bool)


def _ratio(numerator: int, denominator: int) -> float:
    return numerator / denominator if denominator else 0.0
