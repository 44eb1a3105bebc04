"""Clinical measurements in millimetres, region asymmetry and the affected side.

Emotrics' set of measures (Guarin et al., JAMA Facial Plastic Surgery, 2018).

Frame (:class:`~palsy_core.face.frame.FaceFrame` on the pupils): the x axis runs along
the line joining the pupil centres (MediaPipe iris centres 468 = subject's right, 473 =
subject's left), the y axis is perpendicular to it and points down the face, and the
facial midline is the perpendicular through the midpoint of the pupils. Every height is measured in this frame, so head roll and image rotation
do not change it. Scale: the horizontal visible iris diameter of an adult, 11.77 mm on
average, unless the caller gives a known mm-per-pixel.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Literal

import numpy as np

from ..vocabulary import EXPRESSIONS, SIDES, Expression, Region, Side
from . import landmarks as lm
from .frame import FaceFrame
from .normal_range import ASSESSABLE_EXPRESSIONS, EXPRESSION_THRESHOLDS, limits_for

if TYPE_CHECKING:
    from .mirror_flow import MirrorFlow

_DESCRIPTIONS = {
    "brow_height": "Pupil centre up to the lower edge of the brow.",
    "mrd1": "Marginal reflex distance 1: pupil centre up to the upper lid margin.",
    "mrd2": "Marginal reflex distance 2: pupil centre down to the lower lid margin.",
    "palpebral_fissure_height": "Upper to lower lid margin at the middle of the eye.",
    "commissure_height": "Height of the mouth corner above the lower lip's midline point.",
    "commissure_excursion": "Lower lip's midline point to the mouth corner.",
    "smile_angle": "Angle of the line from the lower lip's midline point to the mouth "
                   "corner, from the midline (90 = horizontal; larger = corner higher).",
    "upper_lip_height": "Height of the upper lip edge half-way to the corner, above the "
                        "lower lip's midline point.",
    "lower_lip_height": "Height of the lower lip edge half-way to the corner, above the "
                        "lower lip's midline point.",
    "dental_show": "Gap between the inner lip edges half-way to the corner.",
}

#: Every per-side measurement, in report order.
MEASUREMENT_NAMES: tuple[str, ...] = tuple(_DESCRIPTIONS)
#: The eye region's measure when the photo's mirror flow is given: ``|left - right|`` of
#: the palpebral fissure height, read from the pixels (no per-side values).
FLOW_EYE_MEASURE = "palpebral_fissure_flow"
#: How :data:`FLOW_EYE_MEASURE` reads in a sentence.
FLOW_EYE_WORDS = "palpebral fissure height (read from the pixels)"


@dataclass(frozen=True)
class Measurement:
    """One measure on both sides of the face.

    ``difference`` is ``|left - right|``; ``percent_difference`` is that difference as a
    percentage of the larger magnitude (0 when both are 0).
    """

    name: str
    left: float
    right: float
    difference: float
    percent_difference: float
    unit: str
    description: str

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class RegionAsymmetry:
    """Asymmetry of one region (brow, eye or mouth).

    Attributes
    ----------
    score : float
        Left-right difference of the region's key measure divided by its normal limit
        for the photo's expression (:mod:`palsy_core.face.normal_range`): <= 1 is within
        normal asymmetry.
    weaker_side : {"left", "right"} or None
        The subject's side that looks weaker; None when within normal asymmetry.
    measure : str
        Which measurement decided it.
    difference : float
        The decisive left-right difference (mm, or degrees for the smile angle).
    normal_limit : float
        The limit used: measured on healthy people for the photo's expression (rest or
        smile); the rest limit for any other expression, which the note then says.
    within_normal : bool
    note : str
        Caveats for a person reading it (e.g. eyes during a smile).
    """

    score: float
    weaker_side: Side | None
    measure: str
    difference: float
    normal_limit: float
    within_normal: bool
    note: str = ""

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class FaceMeasurements:
    """Everything measured on one face."""

    measurements: dict[str, Measurement]
    regions: dict[Region, RegionAsymmetry]
    affected_side: Side | None
    expression: Expression
    mm_per_pixel: float
    scale_source: Literal["iris", "user"]
    interpupillary_distance_mm: float
    notes: list[str] = field(default_factory=list)
    #: What the blendshapes show ("rest", "smile", ...); ``expression`` is the stated
    #: one when the caller gave it, else this.
    detected_expression: Expression = "rest"
    #: Whose normal limits the regions were scored against ("rest" or "smile").
    limits_expression: Expression = "rest"
    #: The photo compared with its mirror image; None when measured from landmarks alone.
    mirror_flow: MirrorFlow | None = None

    @property
    def eye_from_pixels(self) -> bool:
        """Whether the eye region reads the mirror flow's fissure difference: there is a
        flow and the eyes are sharp enough for it
        (:attr:`~palsy_core.face.mirror_flow.MirrorFlow.sharp_enough`)."""
        return self.mirror_flow is not None and self.mirror_flow.sharp_enough

    def to_dict(self) -> dict:
        return {
            "measurements": {k: m.to_dict() for k, m in self.measurements.items()},
            "regions": {k: r.to_dict() for k, r in self.regions.items()},
            "affected_side": self.affected_side,
            "expression": self.expression,
            "detected_expression": self.detected_expression,
            "limits_expression": self.limits_expression,
            "mm_per_pixel": self.mm_per_pixel,
            "scale_source": self.scale_source,
            "interpupillary_distance_mm": self.interpupillary_distance_mm,
            "notes": list(self.notes),
            "mirror_flow": None if self.mirror_flow is None else self.mirror_flow.to_dict(),
        }


def measure_face(
    landmarks: np.ndarray,
    blendshapes: dict[str, float] | None = None,
    mm_per_pixel: float | None = None,
    expression: Expression | None = None,
    flow: MirrorFlow | None = None,
) -> FaceMeasurements:
    """Millimetre measures per side, region asymmetry and the affected side.

    Parameters
    ----------
    landmarks : ndarray, shape (478, 2 or 3)
        MediaPipe landmarks in pixels (the iris points 468-477 are required).
    blendshapes : dict, optional
        MediaPipe blendshape scores; they tell which expression the face shows (a smile
        makes the eyes unreliable for choosing the side).
    mm_per_pixel : float, optional
        Known scale (a ruler in the photo); default from the iris diameter.
    expression : {"rest", "smile", "eyes_closed", "brow_raise"}, optional
        The expression the photo is meant to show (the clinician's word); it wins over
        the one the blendshapes suggest, and picks the normal limits. Expressions without
        limits of their own are scored against the rest limits, with a note saying so.
    flow : MirrorFlow, optional
        The photo compared with its mirror image
        (:func:`palsy_core.face.mirror_flow.mirror_flow`, on the landmarks as found): when
        the eyes are sharp enough for it, the eye region reads its palpebral fissure
        difference, which follows the lids where the landmarks follow about a fifth of
        their movement, and the eye counts for the side in a smile too. Millimetres of the
        iris scale, also when ``mm_per_pixel`` is given (the limits were measured so).

    Returns
    -------
    FaceMeasurements
    """
    points = np.asarray(landmarks, dtype=np.float64)
    if points.shape[0] < lm.NUM_LANDMARKS:
        raise ValueError(f"measure_face needs the 478 MediaPipe landmarks (with irises), "
                         f"got {points.shape[0]}.")
    frame = FaceFrame(points)
    if mm_per_pixel is None:
        iris_px = (frame.iris_diameter_px(lm.RIGHT_IRIS) + frame.iris_diameter_px(lm.LEFT_IRIS)) / 2
        if iris_px <= 0:
            raise ValueError("The iris rings are degenerate; give mm_per_pixel instead.")
        scale, scale_source = lm.IRIS_DIAMETER_MM / iris_px, "iris"
    else:
        if not mm_per_pixel > 0:
            raise ValueError(f"mm_per_pixel must be positive, got {mm_per_pixel}.")
        scale, scale_source = float(mm_per_pixel), "user"

    per_side = {side: _side_measures(frame, side) for side in SIDES}
    measurements = {}
    for name in per_side["left"]:
        to_unit = 1.0 if name == "smile_angle" else scale  # the angle is already degrees
        measurements[name] = _measurement(name, per_side["left"][name] * to_unit,
                                          per_side["right"][name] * to_unit)
    detected = classify_expression(blendshapes or {})
    if expression is None:
        expression = detected
    elif expression not in EXPRESSIONS:
        raise ValueError(f"expression must be one of {', '.join(EXPRESSIONS)}, "
                         f"got {expression!r}.")
    limits_expression = expression if expression in ASSESSABLE_EXPRESSIONS else "rest"
    eye_flow = flow if flow is not None and flow.sharp_enough else None
    regions = _region_asymmetry(measurements, expression, limits_expression, eye_flow)
    affected_side, notes = _affected_side(regions, expression,
                                          eye_from_pixels=eye_flow is not None)
    return FaceMeasurements(
        measurements=measurements,
        regions=regions,
        affected_side=affected_side,
        expression=expression,
        mm_per_pixel=scale,
        scale_source=scale_source,
        interpupillary_distance_mm=frame.eye_distance_px * scale,
        notes=notes,
        detected_expression=detected,
        limits_expression=limits_expression,
        mirror_flow=flow,
    )


def _side_measures(frame: FaceFrame, side: Side) -> dict[str, float]:
    """Raw per-side measures: pixels, except the smile angle in degrees."""
    if side == "right":
        iris, brow = lm.RIGHT_IRIS, lm.RIGHT_BROW_LOWER
        upper, lower = lm.RIGHT_EYE_UPPER, lm.RIGHT_EYE_LOWER
        corner = lm.RIGHT_MOUTH_CORNER
    else:
        iris, brow = lm.LEFT_IRIS, lm.LEFT_BROW_LOWER
        upper, lower = lm.LEFT_EYE_UPPER, lm.LEFT_EYE_LOWER
        corner = lm.LEFT_MOUTH_CORNER
    px, py = frame.x[iris[0]], frame.y[iris[0]]
    eye_mid = (frame.x[upper[0]] + frame.x[upper[-1]]) / 2
    # Lower lip's outer edge where it crosses the facial midline (frame x = 0).
    lip_mid_y = frame.y_at(lm.LIPS_OUTER_LOWER, 0.0)
    cx, cy = frame.x[corner], frame.y[corner]
    half_x = cx / 2
    dx, dy = abs(cx), cy - lip_mid_y
    return {
        "brow_height": py - frame.y_at(brow, px),
        "mrd1": py - frame.y_at(upper, px),
        "mrd2": frame.y_at(lower, px) - py,
        "palpebral_fissure_height": frame.y_at(lower, eye_mid) - frame.y_at(upper, eye_mid),
        "commissure_height": lip_mid_y - cy,
        "commissure_excursion": float(np.hypot(dx, dy)),
        "smile_angle": float(np.degrees(np.arctan2(dx, dy))),
        "upper_lip_height": lip_mid_y - frame.y_at(lm.LIPS_OUTER_UPPER, half_x),
        "lower_lip_height": lip_mid_y - frame.y_at(lm.LIPS_OUTER_LOWER, half_x),
        "dental_show": frame.y_at(lm.LIPS_INNER_LOWER, half_x)
        - frame.y_at(lm.LIPS_INNER_UPPER, half_x),
    }


def _measurement(name: str, left: float, right: float) -> Measurement:
    diff = abs(left - right)
    top = max(abs(left), abs(right))
    return Measurement(
        name=name,
        left=round(float(left), 3),
        right=round(float(right), 3),
        difference=round(float(diff), 3),
        percent_difference=round(float(100.0 * diff / top) if top > 0 else 0.0, 2),
        unit="deg" if name == "smile_angle" else "mm",
        description=_DESCRIPTIONS[name],
    )


def classify_expression(blendshapes: dict[str, float]) -> str:
    """One of :data:`~palsy_core.vocabulary.EXPRESSIONS` from MediaPipe blendshape scores."""
    def mean(*names):
        return float(np.mean([blendshapes.get(n, 0.0) for n in names]))

    if mean("mouthSmileLeft", "mouthSmileRight") > EXPRESSION_THRESHOLDS["smile"]:
        return "smile"
    if mean("eyeBlinkLeft", "eyeBlinkRight") > EXPRESSION_THRESHOLDS["eyes_closed"]:
        return "eyes_closed"
    brow = max(blendshapes.get("browInnerUp", 0.0), mean("browOuterUpLeft", "browOuterUpRight"))
    if brow > EXPRESSION_THRESHOLDS["brow_raise"]:
        return "brow_raise"
    return "rest"


def _weaker(m: Measurement, smaller_is_weaker: bool) -> Side:
    left_smaller = m.left < m.right
    return "left" if left_smaller == smaller_is_weaker else "right"


def _region(m: Measurement, limits: dict[str, float], smaller_is_weaker: bool,
            note: str = "") -> RegionAsymmetry:
    limit = limits[m.name]
    score = m.difference / limit
    within = score <= 1.0
    return RegionAsymmetry(
        score=round(score, 3),
        weaker_side=None if within else _weaker(m, smaller_is_weaker),
        measure=m.name,
        difference=m.difference,
        normal_limit=limit,
        within_normal=within,
        note=note,
    )


def _flow_eye(flow: MirrorFlow, limits: dict[str, float], note: str) -> RegionAsymmetry:
    difference = abs(float(flow.fissure_difference_mm))
    limit = limits[FLOW_EYE_MEASURE]
    within = difference <= limit
    return RegionAsymmetry(
        score=round(difference / limit, 3),
        # The weak eye closes less: its fissure is the wider one.
        weaker_side=None if within else ("left" if flow.fissure_difference_mm > 0 else "right"),
        measure=FLOW_EYE_MEASURE, difference=difference, normal_limit=limit,
        within_normal=within, note=note)


def _region_asymmetry(ms: dict[str, Measurement], expression: str, limits_expression: str,
                      flow: MirrorFlow | None = None) -> dict[str, RegionAsymmetry]:
    limits = limits_for(limits_expression)
    limits_note = ("" if limits_expression == expression else
                   f"No normal limits for {expression.replace('_', ' ')} photos: scored "
                   f"against the {limits_expression} limits, so not an assessment.")

    def noted(*parts: str) -> str:
        return " ".join(p for p in (*parts, limits_note) if p)

    # Brow: the weak brow sits lower (at rest) and rises less (brow raise).
    brow = _region(ms["brow_height"], limits, smaller_is_weaker=True, note=noted())
    # Eye: the weak eye closes less, so its fissure is wider at rest and when closing.
    if flow is not None:
        eye = _flow_eye(flow, limits, noted(
            "Read from the pixels: the face compared with its mirror image."))
    else:
        eye_note = ("In a smile the healthy eye narrows, and with synkinesis the weak one "
                    "does too: the eye alone does not decide the side here."
                    if expression == "smile" else "")
        eye = _region(ms["palpebral_fissure_height"], limits, smaller_is_weaker=False,
                      note=noted(eye_note))
    # Mouth: the weak corner sits lower and moves out less. Take whichever of the two
    # measures is further outside its normal range.
    mouth = max(
        _region(ms["commissure_height"], limits, smaller_is_weaker=True, note=noted()),
        _region(ms["commissure_excursion"], limits, smaller_is_weaker=True, note=noted()),
        key=lambda r: r.score,
    )
    return {"brow": brow, "eye": eye, "mouth": mouth}


def _affected_side(regions: dict[str, RegionAsymmetry], expression: str, *,
                   eye_from_pixels: bool):
    candidates = {k: r for k, r in regions.items() if not r.within_normal}
    notes = []
    if expression == "smile" and "eye" in candidates:
        # The healthy eye narrows with a smile, and after long-standing palsy the weak one
        # does too: the eye alone cannot name the side (spec/clinical-measurements.md, 3).
        candidates.pop("eye")
        if not eye_from_pixels:
            # Read from the pixels, the eye still counts in the verdict, whose side rule
            # says itself when it names none (assessment warning "side_unclear").
            notes.append("Eye asymmetry ignored for the side: the photo shows a smile.")
    if not candidates:
        return None, notes
    # When regions point to different sides the verdict says so (assessment warning
    # "regions_disagree"), from the shares that named its side: a note from this rule
    # named the region with the largest own score, which could point the other way.
    _, decisive = max(candidates.items(), key=lambda kv: kv[1].score)
    return decisive.weaker_side, notes
