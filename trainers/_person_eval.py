"""Person-held-out training, calibration and scoring of palsy classifiers on faces.

Split by person everywhere: k folds by person for evaluation; inside each fold's
training people a held-out calibration split (again by person) for Platt scaling.

Platt scaling (a logistic curve on the model's logit), not isotonic regression: the
calibration split holds only about a sixth of the training people, and isotonic
regression's step function, with as many free steps as distinct scores, over-fits
that; Platt's two parameters do not, and they keep the model's ranking (its AUC)
unchanged. The fit weights the two classes equally, so the probability reads as if
palsy and health were equally likely before the photo was seen, whatever the mix of
the training data (which holds far more simulated palsy than healthy photos).
"""

from __future__ import annotations

from dataclasses import dataclass
from collections.abc import Callable, Sequence

import numpy as np

#: Bins of the calibration curve and the expected calibration error.
CALIBRATION_BINS = 10


# -- scores --------------------------------------------------------------------------------
def roc_auc(y: np.ndarray, score: np.ndarray) -> float:
    """Area under the ROC curve (ties count half); NaN when one class is absent."""
    y = np.asarray(y).astype(bool)
    score = np.asarray(score, np.float64)
    pos, neg = score[y], score[~y]
    if len(pos) == 0 or len(neg) == 0:
        return float("nan")
    values = np.concatenate([pos, neg])
    # Average ranks over ties: the mean of the first and last rank each value takes.
    unique, inverse, counts = np.unique(values, return_inverse=True, return_counts=True)
    last = np.cumsum(counts)
    ranks = (last - (counts - 1) / 2.0)[inverse]
    pos_ranks = ranks[:len(pos)].sum()
    return float((pos_ranks - len(pos) * (len(pos) + 1) / 2) / (len(pos) * len(neg)))


def balanced_weights(y: np.ndarray) -> np.ndarray:
    """Row weights giving each class half the total: the prior the calibration assumes."""
    y = np.asarray(y).astype(bool)
    n_pos, n_neg = max(int(y.sum()), 1), max(int((~y).sum()), 1)
    return np.where(y, 0.5 / n_pos, 0.5 / n_neg)


def calibration_bins(y: np.ndarray, p: np.ndarray, bins: int = CALIBRATION_BINS) -> list[dict]:
    """Equal-width probability bins: count, mean probability, fraction with palsy.

    The fraction (and the mean probability) weight the classes equally
    (:func:`balanced_weights`), as the Platt fit does: a probability of 0.7 should then
    mean 7 palsied faces in 10 among equally many palsied and healthy ones, whatever
    the mix of the test photos.
    """
    y, p = np.asarray(y, np.float64), np.asarray(p, np.float64)
    weight = balanced_weights(y)
    edges = np.linspace(0, 1, bins + 1)
    index = np.clip(np.digitize(p, edges[1:-1]), 0, bins - 1)
    out = []
    for b in range(bins):
        inside = index == b
        w = weight[inside]
        out.append({"low": round(float(edges[b]), 2), "high": round(float(edges[b + 1]), 2),
                    "n": int(inside.sum()), "weight": float(w.sum()),
                    "mean_probability": float(np.average(p[inside], weights=w))
                    if inside.any() else None,
                    "fraction_palsy": float(np.average(y[inside], weights=w))
                    if inside.any() else None})
    return out


def expected_calibration_error(y: np.ndarray, p: np.ndarray,
                               bins: int = CALIBRATION_BINS) -> float:
    """Mean |probability - observed fraction| over equal-width bins, weighted by the
    bins' (class-balanced) weight."""
    return float(sum(b["weight"] * abs(b["mean_probability"] - b["fraction_palsy"])
                     for b in calibration_bins(y, p, bins) if b["n"]))


def brier_score(y: np.ndarray, p: np.ndarray) -> float:
    """Class-balanced mean squared error of the probabilities."""
    y, p = np.asarray(y, np.float64), np.asarray(p, np.float64)
    return float(np.sum(balanced_weights(y) * (p - y) ** 2))


def f1_at(y: np.ndarray, p: np.ndarray, threshold: float = 0.5) -> float:
    y = np.asarray(y).astype(bool)
    predicted = np.asarray(p) >= threshold
    tp = np.sum(y & predicted)
    denominator = 2 * tp + np.sum(~y & predicted) + np.sum(y & ~predicted)
    return float(2 * tp / denominator) if denominator else 0.0


def bootstrap_by_person(statistic: Callable[[np.ndarray], float], people: np.ndarray, *,
                        n: int = 1000, seed: int = 0) -> tuple[float, float]:
    """95 % percentile interval of ``statistic(row_index)`` over people resampled with
    replacement (every row of a drawn person, as often as the person is drawn)."""
    rng = np.random.default_rng(seed)
    unique = np.unique(people)
    rows_of = {person: np.flatnonzero(people == person) for person in unique}
    values = []
    for _ in range(n):
        drawn = rng.choice(unique, size=len(unique), replace=True)
        value = statistic(np.concatenate([rows_of[d] for d in drawn]))
        if np.isfinite(value):
            values.append(value)
    if not values:
        return float("nan"), float("nan")
    low, high = np.percentile(values, [2.5, 97.5])
    return float(low), float(high)


# -- Platt scaling -----------------------------------------------------------------------------
@dataclass(frozen=True)
class PlattScaling:
    """``p = sigmoid(a * logit + b)``, fitted on held-out people with equal class weight."""

    a: float
    b: float

    def apply(self, logit: np.ndarray) -> np.ndarray:
        z = self.a * np.asarray(logit, np.float64) + self.b
        return 1.0 / (1.0 + np.exp(-np.clip(z, -60, 60)))

    @classmethod
    def fit(cls, logit: np.ndarray, y: np.ndarray, iterations: int = 100) -> PlattScaling:
        x = np.asarray(logit, np.float64)
        y = np.asarray(y, np.float64)
        n_pos, n_neg = y.sum(), len(y) - y.sum()
        if n_pos == 0 or n_neg == 0:
            raise ValueError("Platt scaling needs both classes in the calibration split.")
        weight = np.where(y == 1, 0.5 / n_pos, 0.5 / n_neg)
        # Platt's targets, smoothed away from 0 and 1 so separable data stays finite.
        target = np.where(y == 1, (n_pos + 1) / (n_pos + 2), 1 / (n_neg + 2))
        design = np.column_stack([x, np.ones_like(x)])

        def loss(theta):
            z = np.clip(design @ theta, -60, 60)
            return float(np.sum(weight * (np.logaddexp(0, z) - target * z)))

        theta = np.array([1.0, 0.0])
        for _ in range(iterations):  # damped Newton steps on the weighted log-loss
            p = 1.0 / (1.0 + np.exp(-np.clip(design @ theta, -60, 60)))
            gradient = design.T @ (weight * (p - target))
            hessian = (design * (weight * p * (1 - p))[:, None]).T @ design + 1e-6 * np.eye(2)
            step = np.linalg.solve(hessian, gradient)
            size, before = 1.0, loss(theta)
            while size > 1e-4 and loss(theta - size * step) > before:
                size /= 2
            theta = theta - size * step
            if np.abs(size * step).max() < 1e-10:
                break
        return cls(float(theta[0]), float(theta[1]))

    def to_dict(self) -> dict:
        return {"method": "platt", "a": self.a, "b": self.b}


# -- splits ------------------------------------------------------------------------------------
def split_people(people: Sequence[str], fraction: float, seed: int) -> tuple[list, list]:
    """(rest, held) with ``fraction`` of ``people`` (at least one) held out at random."""
    order = list(np.random.default_rng(seed).permutation(sorted(people)))
    held = max(1, int(round(len(order) * fraction)))
    return sorted(order[held:]), sorted(order[:held])


@dataclass
class HeldOutScores:
    """Out-of-fold results: each row scored by a model that never saw its person."""

    probability: np.ndarray
    fold: np.ndarray
    calibrations: list


def summarise(y: np.ndarray, p: np.ndarray, people: np.ndarray, fold: np.ndarray, *,
              baseline: np.ndarray | None = None, subsets: dict | None = None,
              bootstrap: int = 1000, seed: int = 0) -> dict:
    """Person-held-out metrics of probabilities ``p``: AUC, F1 at 0.5, the share of
    healthy photos at 0.5 or more, Brier, ECE and the calibration curve (the last three
    class-balanced, see :func:`calibration_bins`), each pooled with a 95 %
    bootstrap-by-person interval and per fold
    (mean and standard deviation over folds); ``baseline`` scores get the same AUC
    figures; ``subsets`` (name -> bool mask of positives to keep, all negatives kept)
    get their own AUC."""
    y = np.asarray(y).astype(int)

    def auc_of(score):
        return lambda idx: roc_auc(y[idx], score[idx])

    def per_fold(statistic):
        values = [statistic(np.flatnonzero(fold == f)) for f in np.unique(fold)]
        values = [v for v in values if np.isfinite(v)]
        return {"mean": float(np.mean(values)), "std": float(np.std(values)),
                "folds": [round(float(v), 4) for v in values]}

    def block(statistic):
        everything = np.arange(len(y))
        low, high = bootstrap_by_person(statistic, people, n=bootstrap, seed=seed)
        return {"pooled": float(statistic(everything)), "ci95": [low, high],
                "per_fold": per_fold(statistic)}

    out = {
        "n_photos": int(len(y)), "n_palsy": int(y.sum()), "n_healthy": int((1 - y).sum()),
        "n_people": int(len(np.unique(people))), "n_folds": int(len(np.unique(fold))),
        "roc_auc": block(auc_of(p)),
        "f1_at_0.5": block(lambda idx: f1_at(y[idx], p[idx])),
        "brier": block(lambda idx: brier_score(y[idx], p[idx])),
        "ece": block(lambda idx: expected_calibration_error(y[idx], p[idx])),
        # How often a healthy face reads as palsy: what a clinician meets at 50 %.
        "healthy_at_or_above_0.5": block(
            lambda idx: float(np.mean(p[idx][y[idx] == 0] >= 0.5))),
        "calibration_curve": calibration_bins(y, p),
    }
    if baseline is not None:
        out["baseline_roc_auc"] = block(auc_of(baseline))
    for name, keep in (subsets or {}).items():
        rows = np.flatnonzero(keep | (y == 0))
        sub_y, sub_p, sub_people = y[rows], p[rows], people[rows]
        entry = {"n_palsy": int(sub_y.sum()),
                 "roc_auc": roc_auc(sub_y, sub_p),
                 "roc_auc_ci95": list(bootstrap_by_person(
                     lambda idx: roc_auc(sub_y[idx], sub_p[idx]), sub_people,
                     n=bootstrap, seed=seed))}
        if baseline is not None:
            entry["baseline_roc_auc"] = roc_auc(sub_y, baseline[rows])
        out.setdefault("subsets", {})[name] = entry
    return out
