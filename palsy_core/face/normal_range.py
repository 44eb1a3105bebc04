"""Where "normal asymmetry" ends: limits measured on healthy people, per expression.

No face is perfectly symmetric. We call a left-right difference *within normal
asymmetry* while it stays at or below its limit; the region asymmetry score is the
difference divided by its limit, so 1.0 is the edge of normal.

Where the numbers come from
---------------------------
The limits live in a versioned data file, ``palsy_core/data/normal_limits.json``, written
by ``python -m trainers.normal_range --faces ../shared/faces/london``. That command runs
the project's own landmarker on the neutral ("rest") and smiling ("smile") photos of the
82 adults of the Face Research Lab London Set (DeBruine & Jones 2017, CC-BY 4.0,
https://doi.org/10.6084/m9.figshare.5047666.v5), measures every left-right difference
in millimetres (iris scale, :mod:`palsy_core.face.measurements`) and stores, per expression
and measure:

- ``limit``: a stated percentile (one per expression) of ``|left - right|`` over the
  people (numpy's linear interpolation between order statistics), measured as the
  analysis measures a photo (landmarks turned back to face the camera about the
  vertical axis, then :func:`palsy_core.measure_face`);
- ``ci_low``, ``ci_high``: a bootstrap 95 % interval of that percentile, resampling
  people;
- ``n``: how many people it rests on;

plus the data set citation, the date, the git commit, the landmarker model's hash, the
percentile and why it was chosen, and a leave-one-person-out estimate of how often a
healthy newcomer falls outside the limits (file key ``validation``). The file itself
says which percentile was chosen and the numbers behind the choice; :func:`fit_normal_limits`
is the fitting, reused by the benchmarks to refit limits without the people they test.

The shipped limits (2026-12-01; the data file is authoritative)
-----------------------------------------------------------------
The 99.25th percentile at rest and the 99th in a smile: the smallest (in steps of 0.25)
at which leave-one-person-out keeps 95 % of healthy photos within normal when a photo is
called outside as soon as ANY region measure crosses (:func:`verdict_regions`: brow
height, the eye's palpebral fissure difference read from the pixels, commissure height,
commissure excursion), so each gets its own chance to misfire and the percentile must be
high. At the chosen ones, 4 of 82 rest photos (4.9 %, exact 95 % CI 1.3-12.0 %) and 4 of
82 smile photos (4.9 %, 1.3-12.0 %) of held-out people fall outside (8 of 164 photos,
4.9 %, 2.1-9.4 %; 6 of 82 people, 7.3 %, have at least one of their two photos outside).
The per-measure limits explain the verdict region by region (bootstrap 95 % interval):

=========================  =====================  =====================
measure (mm)               rest (p99.25)          smile (p99)
=========================  =====================  =====================
brow_height                2.08 (1.69-2.28)       1.79 (1.48-2.20)
palpebral_fissure_flow     0.76 (0.60-0.79)       0.81 (0.69-0.82)
palpebral_fissure_height   0.64 (0.48-0.73)       0.68 (0.60-0.72)
commissure_height          2.55 (2.13-2.71)       3.54 (3.12-4.26)
commissure_excursion       6.14 (5.23-6.81)       8.13 (5.81-9.05)
=========================  =====================  =====================

``palpebral_fissure_flow`` is the eye read from the pixels
(:func:`palsy_core.face.mirror_flow.mirror_flow`, ``<measure>_signed`` in a measurement
table: it has no per-side values); ``palpebral_fissure_height`` is the landmarks' reading,
used when the photo is not at hand, too soft round the eyes or the face too small in it
(:attr:`palsy_core.face.mirror_flow.MirrorFlow.sharp_enough`). So close to the largest healthy
difference, a bootstrap interval cannot reach above the largest difference observed:
read its upper end as a floor. The commissure excursion is measured from the pupils'
midline, so a face turned by a few degrees or a mouth off the eyes' midline widens it
(its left-right difference still correlates with the landmarker's yaw after the turn is
undone: r = 0.39 at rest, 0.46 in a smile).

The verdict reads the measures together (file key ``combined``)
----------------------------------------------------------------
The per-measure limits explain a verdict region by region; the verdict itself
(:mod:`palsy_core.assessment`) reads one :class:`CombinedLimit` per expression: each
deciding measure's signed difference ("+" = the subject's left looks weaker) over its
healthy root-mean-square, combined as a squared Mahalanobis length under the healthy
correlation (shrunk by :data:`COMBINED_SHRINKAGE` towards the identity), fitted on each
photo and its mirror image. Its limit is a percentile of the healthy scores chosen the same
way, by leave-one-person-out: 98 at rest (limit 9.49, bootstrap 7.80-11.48) and 96.75 in a
smile (10.14, 8.09-12.14); held out, 4 of 82 rest and 4 of 82 smile photos fall outside
(4.9 %, exact 95 % CI 1.3-12.0 % each). On people held out in 5 folds
(``benchmarks/bench_validity.py``, the 675 px working photos) it keeps 95.7 % of healthy
photos within normal (95 % CI 91.5-99.4 %) and finds simulated palsy (simulator v5) on the
right side in 62.0 % (59.1-65.1 %; eye-only 43 %, at rest 78 of 96), where the same rule on
the landmarks alone kept 96.3 % and found 55.1 % (eye-only 18 %): the landmarks follow about
a fifth of a lid's movement, the mirror flow three quarters of it. The eye counts in a smile
too (a weak eye narrows less, and the flow's healthy spread there is measured) but does not
name the side alone (:data:`SIDE_NEEDS_SUPPORT`). What it catches least is a brow-only
palsy (17 %): a severe simulated brow drop moves the landmark brow 1.8 mm, where healthy
brows differ by 0.8 mm SD.

Landmarks without their photo, or a photo too soft round the eyes or with the face too
small in it, are judged by the same rule on the landmarks alone (file key
``combined_landmarks``: brow, the landmarks' fissure except in a smile, mouth; 99.5 at
rest, limit 9.17, and 96.5 in a smile, 8.27), with a warning that says so.

Tried and not kept (same benchmark): removing the landmarker's yaw, pitch and roll from
each measure's signed difference by a regression fitted on the healthy training people
lowered the per-measure rule's held-out specificity to 87.8 % (the fit does not carry to
new people); adding the eye's
MRD1/MRD2 or the lip heights and smile angle to the combined measures, or dropping the
excursion, raised sensitivity only by lowering specificity below 95 %; a plain sum of the
signed z (side-consistent evidence without the correlation) lost sensitivity, because the
simulator's palsies and the composites do not move every region to the same side (a
composite's resting half has the higher brow). With the eye from the pixels, also reading
the brow or the mouth corner from the mirror flow (beside or instead of the landmarks')
found no more palsy at the same specificity, and the flow's brow put more brow-only cases
on the wrong side (an ad-hoc 5-fold check at fixed percentiles, not a benchmark).

Limits describe healthy adults photographed frontally in a studio by one landmarker
model: other cameras, poses or populations may need their own (rerun the command on
healthy photos of your clinic, or pass ``--out`` and point :func:`load_normal_limits` at
the file).
"""

from __future__ import annotations

import functools
import json
import math
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from collections.abc import Iterable, Mapping, Sequence

import numpy as np

#: Version of the data file's layout; :func:`load_normal_limits` refuses other versions.
FORMAT_VERSION = 3
#: The limits shipped with the package (found next to this module, wherever installed).
DEFAULT_LIMITS_FILE = Path(__file__).resolve().parents[1] / "data" / "normal_limits.json"
#: Expressions with measured limits; photos showing anything else cannot be assessed.
ASSESSABLE_EXPRESSIONS: tuple[str, ...] = ("rest", "smile")
#: The measures the verdict reads, per region (for the mouth, whichever is further
#: outside its limit): a face is outside normal when any of them exceeds its limit.
REGION_MEASURES: dict[str, tuple[str, ...]] = {
    "brow": ("brow_height",),
    "eye": ("palpebral_fissure_height",),
    "mouth": ("commissure_height", "commissure_excursion"),
}
#: Regions that do not decide in a photo of that expression: in a smile the healthy eye
#: narrows, and with synkinesis the weak one does too.
NON_DECIDING_REGIONS: dict[str, tuple[str, ...]] = {"smile": ("eye",)}
#: The eye's measure when the photo is at hand: the palpebral fissure difference read
#: from the pixels (:func:`palsy_core.face.mirror_flow.mirror_flow`), which follows a lid's
#: movement where the landmarks follow about a fifth of it. It counts in a smile too: its
#: healthy spread there is measured (file key ``combined``), and a weak eye narrows less;
#: but there it does not name the side alone (:data:`SIDE_NEEDS_SUPPORT`).
#: Without the photo (landmarks alone), or when the eyes are too soft or too small in it,
#: the verdict falls back to the landmarks' fissure and :data:`REGION_MEASURES`.
FLOW_REGION_MEASURES: dict[str, tuple[str, ...]] = {"eye": ("palpebral_fissure_flow",)}
#: Measures that may push a photo of that expression outside normal but may not name the
#: side alone: in a smile the healthy eye narrows, and after long-standing palsy with
#: synkinesis the weak eye narrows too, so the eye's sign alone can point either way
#: (spec/clinical-measurements.md, 3). When such a measure carries the largest share,
#: the side is named only if one of :data:`SIDE_SUPPORTED_BY` at least
#: :data:`SIDE_SUPPORT_Z` healthy root-mean-squares from zero points the same way;
#: otherwise the verdict is "asymmetry" with no side. The simulator makes no synkinesis,
#: so on its palsy this costs: when the rule came in (simulator v3) the London benchmark's
#: right-side sensitivity fell from 63.9 % to 59 % (eye-only palsy in a smile named 52 of
#: 53 -> 3 of 53, now unnamed), while wrong sides fell from 67 to 49 of 1148
#: (benchmarks/bench_validity.py; on simulator v5, 5 of 56 such cases named, 10 wrong).
SIDE_NEEDS_SUPPORT: dict[str, tuple[str, ...]] = {"smile": ("palpebral_fissure_flow",)}
#: The measures that can support a side :data:`SIDE_NEEDS_SUPPORT` points to: in a smile the
#: mouth, the most reliable cue there (spec/clinical-measurements.md, 3). Not the brow: a
#: smile lowers the healthy side's brow a little with the cheek, and on composites (a
#: smile joined to a rest photo) the brow pointed to the wrong side; supported by any
#: measure, 88 of 102 asymmetric composites were named right, by the mouth 96.
SIDE_SUPPORTED_BY: dict[str, tuple[str, ...]] = {
    "smile": ("commissure_height", "commissure_excursion")}
#: How far (in healthy root-mean-squares of its signed difference) a measure must be from
#: zero to support a side that a :data:`SIDE_NEEDS_SUPPORT` measure points to: within one,
#: its sign is what healthy faces show either way.
SIDE_SUPPORT_Z = 1.0
#: Measures read as one signed left-right difference ("+" = the subject's left looks
#: weaker), with no per-side values: a table holds ``<measure>_signed`` for them.
SIGNED_MEASURES: tuple[str, ...] = ("palpebral_fissure_flow",)
#: Column suffix of a measure's ``|left - right|`` in a measurement table.
DIFFERENCE_SUFFIX = "_difference"
#: Column suffix of a :data:`SIGNED_MEASURES` measure's signed difference in a table.
SIGNED_SUFFIX = "_signed"
#: Whether the smaller per-side value marks the weaker side, per verdict measure: a weak
#: brow sits lower, a weak eye closes less (its fissure is wider), a weak mouth corner
#: sits lower and moves out less.
SMALLER_IS_WEAKER: dict[str, bool] = {"brow_height": True, "palpebral_fissure_height": False,
                                      "commissure_height": True, "commissure_excursion": True}
#: Weight of the identity in the healthy correlation matrix of the combined score
#: (``(1 - s) R + s I``): with 82 people a 4 x 4 matrix is estimated well enough, but its
#: smallest eigenvalues are not, and an unshrunk inverse lets one near-collinear pair of
#: measures dominate. 0.1 kept held-out specificity at the same sensitivity
#: (benchmarks/bench_validity.py; 0.0 and 0.2 were tried).
COMBINED_SHRINKAGE = 0.1

#: Blendshape level above which we treat the photo as showing that expression.
EXPRESSION_THRESHOLDS: dict[str, float] = {
    # Thresholds measured on the London Set (benchmarks/bench_pose_tolerance.py, 5a):
    "smile": 0.30,        # mean of mouthSmileLeft / mouthSmileRight; fewest rest/smile
                          # photos mislabelled (3 of 82 rest above, 20 of 82 smiles below)
    "eyes_closed": 0.50,  # mean of eyeBlinkLeft / eyeBlinkRight; every eyes-open photo
                          # is below (highest 0.31, in a smile)
    "brow_raise": 0.90,   # max of browInnerUp and mean browOuterUp; above every relaxed
                          # face (highest 0.87; 9 of 82 passed the former 0.40)
}

#: Head turn (|yaw|) and nod (|pitch|) in degrees, as the landmarker's pose fit reports them
#: (palsy_core.face.pose), beyond which a photo is not assessable. The turn is undone before
#: measuring, but on re-rendered turned London faces the landmarker reports only ~40 % of
#: the turn, the measures still drift by half a limit or more, and the verdict changes on
#: 4 % of renders reported below 4 deg yaw, 18 % at 4-8 deg and 31 % at 8-12 deg (on the
#: landmarks alone 0, 22 and 31 %). The eye read from the pixels drifts by 0.21 and 0.30
#: of its limit below 4 and at 4-8 deg, less than the landmark measures, but by 0.91 at
#: 8-12 deg and 1.49 at 12-16 deg (p95 above the renders' noise). The London photos the
#: limits were measured on reach 7.7 deg yaw and 15 deg pitch, so their drift is inside
#: the limits; beyond them nothing vouches for the verdict
#: (benchmarks/bench_pose_tolerance.py, 24 photos re-rendered).
MAX_RELIABLE_YAW = 8.0
MAX_RELIABLE_PITCH = 16.0


@dataclass(frozen=True)
class MeasureLimit:
    """The normal limit of one measure's left-right difference for one expression.

    Attributes
    ----------
    limit : float
        The stated percentile of ``|left - right|`` over healthy people (mm; degrees
        for the smile angle).
    ci_low, ci_high : float
        Bootstrap 95 % interval of that percentile (people resampled).
    n : int
        People it was measured on.
    unit : {"mm", "deg"}
    """

    limit: float
    ci_low: float
    ci_high: float
    n: int
    unit: str


def signed_difference(measure: str, left: float, right: float) -> float:
    """A verdict measure's left-right difference, signed so that "+" means the subject's
    left side looks weaker (:data:`SMALLER_IS_WEAKER`); same unit as the measure."""
    return float(right - left) if SMALLER_IS_WEAKER[measure] else float(left - right)


def _side_of(signed: float) -> str | None:
    value = float(signed)
    return None if value == 0.0 else ("left" if value > 0 else "right")


@dataclass(frozen=True)
class CombinedLimit:
    """One limit on the verdict measures taken together, for one expression.

    Each measure's signed difference (:func:`signed_difference`, "+" = left looks weaker)
    is divided by its healthy root-mean-square, giving ``z``; the combined score is the
    squared Mahalanobis length ``z' R^-1 z`` with ``R`` the healthy correlation of the
    ``z`` shrunk towards the identity (:data:`COMBINED_SHRINKAGE`). Healthy asymmetries
    that come together (the eye's fissure and the brow, the mouth corner's height and
    excursion) are discounted, so one limit replaces three or four that each had their
    own chance to misfire. Fitted on each healthy photo and its mirror image: healthy
    asymmetry has no preferred side, so a mirrored photo scores the same and its side
    mirrors.

    Attributes
    ----------
    measures : tuple of str
        The verdict measures of the expression, in the order of ``rms`` and
        ``correlation``.
    rms : tuple of float
        Healthy root-mean-square signed difference of each measure (mm).
    correlation : tuple of tuples of float
        The shrunk healthy correlation matrix.
    shrinkage : float
    percentile : float
        Which percentile of the healthy scores ``limit`` is (0-100).
    limit : float
        The score above which a photo is outside normal (dimensionless).
    ci_low, ci_high : float
        Bootstrap 95 % interval of ``limit`` (people resampled, the whole fit repeated).
    n : int
        Healthy photos it was fitted on.
    """

    measures: tuple[str, ...]
    rms: tuple[float, ...]
    correlation: tuple[tuple[float, ...], ...]
    shrinkage: float
    percentile: float
    limit: float
    ci_low: float
    ci_high: float
    n: int

    def _z(self, signed: Mapping[str, float]) -> np.ndarray:
        return np.array([float(signed[m]) for m in self.measures]) / np.asarray(self.rms)

    def contributions(self, signed: Mapping[str, float]) -> dict[str, float]:
        """Each measure's share of :meth:`score` (``z_k (R^-1 z)_k``; they sum to it).

        A measure with a large positive share pushes the face outside normal; a negative
        share means the healthy correlation expected it to go along and it did not."""
        z = self._z(signed)
        pulled = np.linalg.solve(np.asarray(self.correlation), z)
        return {m: float(v) for m, v in zip(self.measures, z * pulled)}

    def score(self, signed: Mapping[str, float]) -> float:
        """The combined score of ``{measure: signed difference}`` (NaN if one is missing)."""
        if any(not math.isfinite(float(signed.get(m, math.nan))) for m in self.measures):
            return math.nan
        return float(sum(self.contributions(signed).values()))

    def weaker_side(self, signed: Mapping[str, float], *, needs_support: Sequence[str] = (),
                    supported_by: Sequence[str] = ()) -> str | None:
        """The side the measure with the largest share points to; None for an all-zero
        difference.

        When that measure is one of ``needs_support`` (:data:`SIDE_NEEDS_SUPPORT` of the
        photo's expression), the side is named only if the furthest of ``supported_by``
        (:data:`SIDE_SUPPORTED_BY`) is at least :data:`SIDE_SUPPORT_Z` healthy
        root-mean-squares from zero and points the same way; otherwise None (the side is
        unclear).
        """
        shares = self.contributions(signed)
        top = max(self.measures, key=lambda m: shares[m])
        side = _side_of(signed[top])
        if top not in needs_support or side is None:
            return side
        z = dict(zip(self.measures, self._z(signed)))
        supporters = [m for m in supported_by if m in z]
        if not supporters:
            return None
        furthest = max(supporters, key=lambda m: abs(z[m]))
        supported = abs(z[furthest]) >= SIDE_SUPPORT_Z and _side_of(signed[furthest]) == side
        return side if supported else None

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["measures"] = list(self.measures)
        out["rms"] = list(self.rms)
        out["correlation"] = [list(row) for row in self.correlation]
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CombinedLimit:
        data = dict(data)
        data["measures"] = tuple(data["measures"])
        data["rms"] = tuple(float(v) for v in data["rms"])
        data["correlation"] = tuple(tuple(float(v) for v in row) for row in data["correlation"])
        return cls(**data)


@dataclass(frozen=True)
class NormalLimits:
    """Normal limits per expression and measure, with where they come from.

    Attributes
    ----------
    limits : dict of str to dict of str to MeasureLimit
        ``limits[expression][measure]``.
    percentile : dict of str to float
        Which percentile of ``|left - right|`` the limits are (0-100), per expression.
    n_people : int
        Distinct people behind the limits.
    dataset, created, git_commit, landmarker_sha256, measured_as : str
        Provenance: citation of the photos, ISO date, commit of the code that measured
        them, sha256 of the ``face_landmarker.task`` that found the landmarks, and how the
        photos were measured (the limits hold for photos measured the same way).
    bootstrap : dict
        How the intervals were made (resamples, confidence, seed, unit resampled).
    validation : dict
        Leave-one-person-out estimate of how often a healthy newcomer is outside.
    notes : str
        Why this percentile, in words.
    combined : dict of str to CombinedLimit
        The verdict's limit per expression, with the eye read from the pixels
        (:func:`verdict_measures`).
    combined_landmarks : dict of str to CombinedLimit
        The same from the landmarks alone: for landmarks given without their photo, or a
        photo the flow cannot read the eye from
        (:attr:`palsy_core.face.mirror_flow.MirrorFlow.sharp_enough`).
    format_version : int
    """

    limits: dict[str, dict[str, MeasureLimit]]
    percentile: dict[str, float]
    n_people: int
    dataset: str = ""
    created: str = ""
    git_commit: str = ""
    landmarker_sha256: str = ""
    measured_as: str = ""
    bootstrap: dict[str, Any] = field(default_factory=dict)
    validation: dict[str, Any] = field(default_factory=dict)
    notes: str = ""
    combined: dict[str, CombinedLimit] = field(default_factory=dict)
    combined_landmarks: dict[str, CombinedLimit] = field(default_factory=dict)
    format_version: int = FORMAT_VERSION

    @property
    def expressions(self) -> tuple[str, ...]:
        return tuple(self.limits)

    def limits_for(self, expression: str) -> dict[str, float]:
        """``{measure: limit}`` for one expression.

        Raises
        ------
        KeyError
            When there are no limits for ``expression``.
        """
        if expression not in self.limits:
            raise KeyError(f"No normal limits for {expression!r} photos; there are limits for "
                           f"{', '.join(self.limits)}.")
        return {name: m.limit for name, m in self.limits[expression].items()}

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["limits"] = {e: {m: asdict(v) for m, v in ms.items()} for e, ms in self.limits.items()}
        out["combined"] = {e: c.to_dict() for e, c in self.combined.items()}
        out["combined_landmarks"] = {e: c.to_dict() for e, c in self.combined_landmarks.items()}
        # Version first, so a reader sees the layout before anything else.
        return {"format_version": out.pop("format_version"), **out}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> NormalLimits:
        version = data.get("format_version")
        if version != FORMAT_VERSION:
            raise ValueError(f"Normal limits file format {version!r} is not supported "
                             f"(this palsy_core reads format {FORMAT_VERSION}); regenerate it "
                             "with python -m trainers.normal_range.")
        limits = {e: {m: MeasureLimit(**v) for m, v in ms.items()}
                  for e, ms in data["limits"].items()}
        combined = {key: {e: CombinedLimit.from_dict(c) for e, c in data.get(key, {}).items()}
                    for key in ("combined", "combined_landmarks")}
        rest = {k: v for k, v in data.items()
                if k not in ("limits", "format_version", *combined)}
        return cls(limits=limits, format_version=version, **combined, **rest)

    def combined_for(self, expression: str, *, mirror_flow: bool = True) -> CombinedLimit:
        """The combined-score limit of one expression: with the eye read from the pixels
        (``mirror_flow``), or from the landmarks alone.

        Raises
        ------
        KeyError
            When there is none for ``expression``.
        """
        combined = self.combined if mirror_flow else self.combined_landmarks
        if expression not in combined:
            raise KeyError(f"No combined normal limit for {expression!r} photos; there are "
                           f"for {', '.join(combined) or 'none'}.")
        return combined[expression]

    def save(self, path: str | os.PathLike) -> None:
        """Write the data file (JSON, stable key order, one trailing newline)."""
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_text(json.dumps(self.to_dict(), indent=2) + "\n")


@functools.lru_cache(maxsize=8)
def _load(path: str) -> NormalLimits:
    try:
        data = json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise FileNotFoundError(f"The normal limits file {path} does not exist; create it with "
                                "python -m trainers.normal_range --faces FACES_DIR.") from None
    return NormalLimits.from_dict(data)


def load_normal_limits(path: str | os.PathLike | None = None) -> NormalLimits:
    """The normal limits in ``path`` (default: the shipped file), read once and cached."""
    return _load(str(Path(path).resolve()) if path is not None else str(DEFAULT_LIMITS_FILE))


def limits_for(expression: str) -> dict[str, float]:
    """``{measure: limit}`` of the shipped limits for ``"rest"`` or ``"smile"``.

    Raises
    ------
    KeyError
        For an expression without limits (see :data:`ASSESSABLE_EXPRESSIONS`).
    """
    return load_normal_limits().limits_for(expression)


def unit_of(measure: str) -> str:
    """"deg" for the smile angle, "mm" for every other measure."""
    return "deg" if measure == "smile_angle" else "mm"


def verdict_regions(expression: str, *, mirror_flow: bool = True) -> dict[str, tuple[str, ...]]:
    """The regions (and their measures) that decide the verdict on a photo of ``expression``.

    With ``mirror_flow`` (the photo is at hand): :data:`REGION_MEASURES` with the eye read
    from the pixels (:data:`FLOW_REGION_MEASURES`), every region deciding. Without it:
    :data:`REGION_MEASURES` without the :data:`NON_DECIDING_REGIONS`.
    """
    if mirror_flow:
        return {region: FLOW_REGION_MEASURES.get(region, names)
                for region, names in REGION_MEASURES.items()}
    skip = NON_DECIDING_REGIONS.get(expression, ())
    return {region: names for region, names in REGION_MEASURES.items() if region not in skip}


def verdict_measures(expression: str, *, mirror_flow: bool = True) -> tuple[str, ...]:
    """The measures of :func:`verdict_regions`, in region order."""
    return tuple(n for names in verdict_regions(expression, mirror_flow=mirror_flow).values()
                 for n in names)


def signed_differences(left: Mapping[str, float], right: Mapping[str, float],
                       measures: Sequence[str]) -> dict[str, float]:
    """``{measure: signed_difference}`` from per-side values."""
    return {m: signed_difference(m, left[m], right[m]) for m in measures}


def signed_in_row(row: Mapping[str, Any], measure: str) -> float:
    """A verdict measure's signed difference in a measurement table row: its
    ``_signed`` column for :data:`SIGNED_MEASURES`, else from ``_left`` and ``_right``."""
    if measure in SIGNED_MEASURES:
        return float(row[measure + SIGNED_SUFFIX])
    return signed_difference(measure, float(row[f"{measure}_left"]),
                             float(row[f"{measure}_right"]))


def _combined_fit(signed: np.ndarray, percentile: float, shrinkage: float):
    """(rms, correlation, limit) of healthy signed differences (photos x measures)."""
    rms = np.sqrt(np.mean(signed ** 2, axis=0))
    z = signed / rms
    correlation = (1.0 - shrinkage) * (z.T @ z) / len(z) + shrinkage * np.eye(z.shape[1])
    scores = np.einsum("ij,ij->i", z, np.linalg.solve(correlation, z.T).T)
    return rms, correlation, float(np.percentile(scores, percentile))


def fit_combined_limit(
    rows: Iterable[Mapping[str, Any]] | Any,
    expression: str,
    percentile: float,
    *,
    measures: Sequence[str] | None = None,
    shrinkage: float = COMBINED_SHRINKAGE,
    n_bootstrap: int = 2000,
    confidence: float = 0.95,
    seed: int = 0,
) -> CombinedLimit:
    """The :class:`CombinedLimit` of one expression from healthy photos.

    Parameters
    ----------
    rows : iterable of mappings, or a pandas DataFrame
        One row per photo with ``person``, ``expression``, ``<measure>_left`` and
        ``<measure>_right`` (``<measure>_signed`` for :data:`SIGNED_MEASURES`); photos
        missing a measure are left out.
    expression : str
    percentile : float
        0-100, of the healthy photos' scores (numpy's linear interpolation).
    measures : sequence of str, optional
        Default :func:`verdict_measures` of ``expression`` (with the mirror flow).
    shrinkage, n_bootstrap, confidence, seed
        As in :func:`fit_normal_limits`; the bootstrap resamples people and refits the
        whole rule, so the interval includes the spread of the correlation.
    """
    if not 0.0 <= percentile <= 100.0:
        raise ValueError(f"percentile must be within 0-100, got {percentile}.")
    if hasattr(rows, "to_dict"):
        rows = rows.to_dict("records")
    measures = tuple(measures or verdict_measures(expression))
    chosen = [r for r in rows if r["expression"] == expression]
    signed = np.array([[signed_in_row(r, m) for m in measures]
                       for r in chosen]).reshape(-1, len(measures))
    ok = np.isfinite(signed).all(axis=1)
    if not ok.any():
        raise ValueError(f"No {expression!r} photos with every one of {', '.join(measures)}.")
    signed = signed[ok]
    person = np.array([r["person"] for r, good in zip(chosen, ok) if good])
    rms, correlation, limit = _combined_fit(signed, percentile, shrinkage)
    low = high = limit
    if n_bootstrap > 0:
        people = sorted(set(person))
        rows_of = [np.flatnonzero(person == p) for p in people]
        rng = np.random.default_rng(seed)
        stats = [_combined_fit(signed[np.concatenate([rows_of[i] for i in draw])],
                               percentile, shrinkage)[2]
                 for draw in rng.integers(0, len(people), size=(n_bootstrap, len(people)))]
        alpha = (1.0 - confidence) / 2
        low, high = (float(v) for v in np.quantile(stats, [alpha, 1.0 - alpha]))
    return CombinedLimit(
        measures=measures, rms=tuple(float(v) for v in rms),
        correlation=tuple(tuple(float(v) for v in row) for row in correlation),
        shrinkage=float(shrinkage), percentile=float(percentile), limit=limit,
        ci_low=low, ci_high=high, n=int(len(signed)))


def outside_regions(differences: Mapping[str, float], limits: Mapping[str, float],
                    regions: Mapping[str, Sequence[str]] | None = None) -> list[str]:
    """Regions whose measure exceeds its limit, in region order.

    ``differences`` maps measure names to ``|left - right|``; a missing or NaN measure
    counts as within. ``regions``: region -> its measures (default
    :data:`REGION_MEASURES`).
    """
    regions = REGION_MEASURES if regions is None else regions
    return [region for region, names in regions.items()
            if any(float(differences.get(n, math.nan)) > limits[n] for n in names)]


def fit_normal_limits(
    rows: Iterable[Mapping[str, Any]] | Any,
    percentile: float | Mapping[str, float],
    *,
    expressions: Sequence[str] = ASSESSABLE_EXPRESSIONS,
    measures: Sequence[str] | None = None,
    n_bootstrap: int = 2000,
    confidence: float = 0.95,
    seed: int = 0,
    combined_percentile: Mapping[str, float] | None = None,
    combined_landmarks_percentile: Mapping[str, float] | None = None,
    **provenance: Any,
) -> NormalLimits:
    """Limits = a percentile of each measure's ``|left - right|`` over healthy people.

    Parameters
    ----------
    rows : iterable of mappings, or a pandas DataFrame
        One row per photo with ``person``, ``expression`` and ``<measure>_difference``
        (``|left - right|``, mm or degrees) columns, as ``trainers.normal_range``'s
        ``measure_people`` makes them. NaN differences are left out.
    percentile : float, or dict of expression to float
        0-100 (one for every expression, or one each); numpy's linear interpolation
        between order statistics.
    expressions : sequence of str
        Which expressions get limits (each needs rows).
    measures : sequence of str, optional
        Default: every ``*_difference`` column.
    n_bootstrap : int
        Resamples of people for the interval (0: the interval is the point itself).
    confidence : float
    seed : int
    combined_percentile : dict of expression to float, optional
        Also fit the :class:`CombinedLimit` of these expressions at these percentiles
        (rows then need ``<measure>_left`` / ``_right`` of the verdict measures, and
        ``palpebral_fissure_flow_signed``).
    combined_landmarks_percentile : dict of expression to float, optional
        The same for the landmarks-only limits (``combined_landmarks``).
    **provenance
        Stored as given: ``dataset``, ``created``, ``git_commit``, ``landmarker_sha256``,
        ``measured_as``, ``validation``, ``notes``.

    Returns
    -------
    NormalLimits
        ``n`` of each measure is the number of people with a value; a person with
        several photos of one expression counts once in the resampling (all their
        photos go with them).
    """
    if isinstance(percentile, Mapping):
        percentiles = {e: float(percentile[e]) for e in expressions}
    else:
        percentiles = {e: float(percentile) for e in expressions}
    for value in percentiles.values():
        if not 0.0 <= value <= 100.0:
            raise ValueError(f"percentile must be within 0-100, got {value}.")
    if hasattr(rows, "to_dict"):
        rows = rows.to_dict("records")
    rows = list(rows)
    if measures is None:
        measures = [k[:-len(DIFFERENCE_SUFFIX)] for k in (rows[0] if rows else {})
                    if k.endswith(DIFFERENCE_SUFFIX)]
    rng = np.random.default_rng(seed)
    limits: dict[str, dict[str, MeasureLimit]] = {}
    people_all: set = set()
    for expression in expressions:
        chosen = [r for r in rows if r["expression"] == expression]
        if not chosen:
            raise ValueError(f"No rows for the expression {expression!r}.")
        people = sorted({r["person"] for r in chosen})
        people_all.update(people)
        index = {p: i for i, p in enumerate(people)}
        person_of = np.array([index[r["person"]] for r in chosen])
        # Which rows each resample takes: resample people, keep all their photos.
        draws = rng.integers(0, len(people), size=(n_bootstrap, len(people)))
        limits[expression] = {}
        for name in measures:
            values = np.array([float(r[name + DIFFERENCE_SUFFIX]) for r in chosen])
            ok = np.isfinite(values)
            if not ok.any():
                raise ValueError(f"No values of {name} for {expression!r} photos.")
            point = float(np.percentile(values[ok], percentiles[expression]))
            low = high = point
            if n_bootstrap > 0:
                by_person = [values[(person_of == i) & ok] for i in range(len(people))]
                stats = []
                for draw in draws:
                    sample = np.concatenate([by_person[i] for i in draw])
                    if sample.size:
                        stats.append(np.percentile(sample, percentiles[expression]))
                alpha = (1.0 - confidence) / 2
                low, high = (float(v) for v in np.quantile(stats, [alpha, 1.0 - alpha]))
            limits[expression][name] = MeasureLimit(
                limit=point, ci_low=low, ci_high=high,
                n=len({r["person"] for r, good in zip(chosen, ok) if good}),
                unit=unit_of(name))
    combined = {
        key: {e: fit_combined_limit(rows, e, p, n_bootstrap=n_bootstrap, confidence=confidence,
                                    seed=seed,
                                    measures=verdict_measures(e, mirror_flow=mirror_flow))
              for e, p in (chosen or {}).items()}
        for key, chosen, mirror_flow in (("combined", combined_percentile, True),
                                         ("combined_landmarks", combined_landmarks_percentile,
                                          False))}
    return NormalLimits(
        limits=limits, percentile=percentiles, n_people=len(people_all), **combined,
        bootstrap={"resamples": int(n_bootstrap), "confidence": confidence, "seed": seed,
                   "resampled": "people", "interpolation": "linear"},
        **provenance)
