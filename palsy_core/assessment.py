"""The verdict on one photo: within normal, asymmetry, or not assessable, and why.

Three states, never more confident than the photo allows:

- ``"within_normal"``: the regions' left-right differences, taken together, are within
  the normal limit measured on healthy people for the photo's expression
  (:class:`palsy_core.face.normal_range.CombinedLimit`).
- ``"asymmetry"``: they are beyond it; ``affected_side`` says which of the subject's
  sides looks weaker, or is None when the photo cannot tell (the eye alone in a smile:
  warning ``side_unclear``).
- ``"not_assessable"``: the photo cannot support either answer; each reason says what to
  retake and how. Measurements are still reported, but not read as a verdict.

Each limit of "assessable" is a measurement, printed by
``benchmarks/bench_pose_tolerance.py`` on the Face Research Lab London Set (DeBruine &
Jones 2017, CC-BY 4.0, https://doi.org/10.6084/m9.figshare.5047666.v5):

- head turn and nod (:data:`palsy_core.face.normal_range.MAX_RELIABLE_YAW`,
  :data:`~palsy_core.face.normal_range.MAX_RELIABLE_PITCH`): the turn is undone before measuring
  (:func:`palsy_core.face.pose.frontalize`), which removes the drift on exactly rotated
  landmarks; on real turned faces MediaPipe's depth is less reliable (it reports ~40 % of
  a rendered turn), so the limits are the poses of the healthy photos the normal limits
  were measured on, not more;
- face size (:data:`MIN_ASSESSABLE_PUPIL_DISTANCE_PX`): below it, the error a small face
  adds passes a quarter of the normal limits;
- eyes closed (blendshapes, :data:`~palsy_core.face.normal_range.EXPRESSION_THRESHOLDS`):
  above every eyes-open London photo.

Several faces in one photo is a warning, not a refusal: the largest face is analysed.

The eye is read from the pixels (:func:`palsy_core.face.mirror_flow.mirror_flow`, the
face compared with its mirror image), which follow a lid's movement where the landmarks
follow about a fifth of it. Landmarks given without their photo, or a photo too soft round
the eyes or a face too small for the flow
(:attr:`palsy_core.face.mirror_flow.MirrorFlow.sharp_enough`), are judged by the
landmarks-only limit, with a warning (``landmarks_only``, ``soft_photo``): on blurred
healthy photos, and on small compressed faces, the flow's eye raised the false alarms, the
landmarks' did not.

Why one combined limit rather than one per measure: a palsy weakens one side in several
regions at once, while healthy asymmetries are partly correlated (a wider eye comes with
a higher brow; a mouth corner's height with its excursion). The combined score scales each
deciding measure's signed difference by its healthy spread and discounts what the healthy
correlation explains, so one limit per expression replaces three or four that each had
their own chance to misfire. Person-held-out on the London Set (5 folds,
benchmarks/bench_validity.py) it keeps more healthy photos within normal than the
per-measure rule it replaces; the per-measure limits remain, to explain a verdict region by
region in millimetres. The side is the one the measure with the largest share of the score
points to, except that in a smile the eye may not name it alone
(:data:`palsy_core.face.normal_range.SIDE_NEEDS_SUPPORT`): the healthy eye narrows with a
smile, and after long-standing palsy the weak one narrows too.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal
from collections.abc import Mapping

import numpy as np

from .face.landmarks import HeadPose
from .face.measurements import FLOW_EYE_MEASURE, FLOW_EYE_WORDS, FaceMeasurements
from .face.normal_range import (ASSESSABLE_EXPRESSIONS, EXPRESSION_THRESHOLDS, MAX_RELIABLE_PITCH,
                           MAX_RELIABLE_YAW, REGION_MEASURES, SIDE_NEEDS_SUPPORT,
                           SIDE_SUPPORTED_BY, SIGNED_MEASURES, CombinedLimit, load_normal_limits,
                           signed_difference, verdict_regions)
from .vocabulary import EXPRESSIONS

Status = Literal["within_normal", "asymmetry", "not_assessable"]
STATUSES: tuple[str, ...] = ("within_normal", "asymmetry", "not_assessable")

#: Below this distance between the pupil centres (pixels of the photo) the error that the
#: face's size adds moves a measure by more than a quarter of its normal limit (95 % of
#: London faces downscaled; benchmarks/bench_pose_tolerance.py, section 4).
MIN_ASSESSABLE_PUPIL_DISTANCE_PX = 55.0

#: Reason codes, and what each tells the person taking the photo.
REASON_CODES: tuple[str, ...] = (
    "no_face", "head_turned", "head_nodded", "face_too_small", "eyes_closed",
    "expression_without_limits", "expression_contradicted", "several_faces", "landmarks_only",
    "soft_photo", "side_unclear", "regions_disagree",
)
#: Share of the combined score from which a region counts in the verdict's account of the
#: side: a region within its own limit that carries this much and pushes towards the
#: affected side counts as affected (:mod:`palsy_core.recommendations`), and one that
#: carries this much towards the other side is named in the ``regions_disagree`` warning.
SUPPORTING_SHARE = 0.25

#: Where a movement without normal limits is graded instead: against the same patient's
#: rest photo, each side's movement (:func:`palsy_core.visit.analyze_visit`).
_MOVEMENT_FROM_REST = {
    "eyes_closed": ("If the closure was asked for, grade it in a visit beside a rest photo "
                    "(Visit: photo set; CLI 'visit'): it gives the share of each eye's rest "
                    "opening that closes."),
    "brow_raise": ("To grade the raise, add it to a visit beside a rest photo (Visit: photo "
                   "set; CLI 'visit'): it gives how far each brow rises from rest."),
}

#: The warning when measurements come without their photo (landmarks alone).
LANDMARKS_ONLY = ("Read from the landmarks alone (no photo given): they follow about a fifth "
                  "of an eyelid's movement, so a weak eye is easily missed. Analyse the photo "
                  "itself for the eye read from the pixels.")
#: The warning when the eyes are too soft for the mirror flow.
SOFT_PHOTO = ("The photo is soft around the eyes (out of focus, or the face small in the "
              "photo): the eye was read from the landmarks, which follow about a fifth of an "
              "eyelid's movement, so a weak eye is easily missed, and the palsy probability "
              "runs higher on soft photos of healthy faces. Retake in focus, with the face "
              "filling more of the frame.")
#: The warning when a smile is outside normal but only the eye tells a side.
SIDE_UNCLEAR = ("The weaker side is unclear: in this smile it is mainly the eyes that differ, "
                "and in a smile the eye alone cannot tell the side (the healthy eye narrows "
                "with a smile, and after long-standing palsy the weak eye can narrow too). "
                "Take a photo at rest, eyes open, to tell the side.")


@dataclass(frozen=True)
class Reason:
    """Why a photo cannot be assessed (or a warning about it).

    Attributes
    ----------
    code : str
        Machine-readable, one of :data:`REASON_CODES`.
    message : str
        One or two sentences for the person with the camera: what is wrong, what to retake
        and how.
    """

    code: str
    message: str

    def to_dict(self) -> dict:
        return {"code": self.code, "message": self.message}


@dataclass(frozen=True)
class RegionFinding:
    """One region's decisive measure against its normal limit.

    Attributes
    ----------
    name : {"brow", "eye", "mouth"}
    measure : str
        The measurement that decided the region (for the mouth, whichever of commissure
        height and excursion is further outside its limit).
    difference_mm : float
        ``|left - right|``, millimetres.
    limit_mm : float
        The normal limit for the expression the limits were read for.
    weaker_side : {"left", "right"} or None
        The subject's side that looks weaker; None within the limit.
    beyond_limit : bool
        Beyond its own limit (the verdict reads the combined score; see the module).
    decides_side : bool
        Whether the region's measures enter the combined score: False for the landmarks'
        eye in a smile (both eyes narrow, and the landmarks see little of it). The eye read
        from the pixels counts in a smile, but names no side alone there
        (:data:`palsy_core.face.normal_range.SIDE_NEEDS_SUPPORT`).
    note : str
    share : float or None
        The region's share of the combined score (its measures' sum, see
        :meth:`palsy_core.face.normal_range.CombinedLimit.contributions`); None when it does
        not decide or the photo is not assessable.
    points_to : {"left", "right"} or None
        The side the region's measure with the largest share points to, when its share
        is positive (it pushes the face towards asymmetry); else None.
    """

    name: str
    measure: str
    difference_mm: float
    limit_mm: float
    weaker_side: str | None
    beyond_limit: bool
    decides_side: bool = True
    note: str = ""
    share: float | None = None
    points_to: str | None = None

    @property
    def measure_words(self) -> str:
        """The measure as it reads in a sentence ("brow height", "palpebral fissure height
        (read from the pixels)")."""
        return _measure_words(self.measure)

    def to_dict(self) -> dict:
        return {"name": self.name, "measure": self.measure,
                "difference_mm": self.difference_mm, "limit_mm": round(self.limit_mm, 3),
                "weaker_side": self.weaker_side, "beyond_limit": self.beyond_limit,
                "decides_side": self.decides_side, "note": self.note,
                "share": None if self.share is None else round(self.share, 3),
                "points_to": self.points_to}


@dataclass(frozen=True)
class Assessment:
    """The three-state verdict on one photo.

    Attributes
    ----------
    status : {"within_normal", "asymmetry", "not_assessable"}
    affected_side : {"left", "right"} or None
        The subject's weaker side; None unless ``status == "asymmetry"``, and None then
        when the photo cannot tell the side (warning ``side_unclear``).
    regions : tuple of RegionFinding
        Brow, eye, mouth, in that order (also when not assessable, for reference).
    reasons : tuple of Reason
        Why not assessable; empty otherwise.
    warnings : tuple of Reason
        Worth knowing, not a refusal (several faces; the eye read from the landmarks
        because the photo was not given or is too soft).
    expression : str
        The expression the verdict was read for.
    expression_source : {"stated", "detected"}
        The clinician's word, or the blendshapes' when none was given.
    detected_expression : str
        What the blendshapes show.
    expression_mismatch : str or None
        One line when the stated expression and the face disagree.
    combined_score, combined_limit : float or None
        The regions' combined score and its normal limit for the expression
        (:class:`palsy_core.face.normal_range.CombinedLimit`); None when not assessable.
    """

    status: Status
    affected_side: str | None
    regions: tuple[RegionFinding, ...]
    reasons: tuple[Reason, ...] = ()
    warnings: tuple[Reason, ...] = ()
    expression: str = "rest"
    expression_source: Literal["stated", "detected"] = "detected"
    detected_expression: str = "rest"
    expression_mismatch: str | None = None
    combined_score: float | None = None
    combined_limit: float | None = None

    def __post_init__(self):
        if self.status not in STATUSES:
            raise ValueError(f"status must be one of {STATUSES}, not {self.status!r}")
        if self.affected_side is not None and self.status != "asymmetry":
            raise ValueError("affected_side is set only when the status is 'asymmetry'.")

    @property
    def supporting_regions(self) -> tuple[RegionFinding, ...]:
        """The deciding regions that push towards the affected side (any side when it is
        unclear), largest share first (empty unless the status is "asymmetry")."""
        if self.status != "asymmetry":
            return ()
        return tuple(sorted((r for r in self.regions
                             if r.decides_side and r.points_to is not None
                             and r.points_to == (self.affected_side or r.points_to)),
                            key=lambda r: -(r.share or 0.0)))

    @property
    def beyond_alone(self) -> tuple[RegionFinding, ...]:
        """Deciding regions beyond their own limit on a photo within normal: the reason a
        region gauge may pass 1 while the verdict, reading them together, does not."""
        if self.status != "within_normal":
            return ()
        return tuple(r for r in self.regions if r.beyond_limit and r.decides_side)

    @property
    def worst_region(self) -> RegionFinding | None:
        """The region with the largest share of the combined score among those that push
        towards the affected side; None unless the status is "asymmetry"."""
        supporting = self.supporting_regions
        return supporting[0] if supporting else None

    def headline(self) -> str:
        """One sentence for a person: the status and what it rests on, or what to retake."""
        if self.status == "not_assessable":
            return "Not assessable: " + " ".join(r.message for r in self.reasons)
        if self.status == "within_normal":
            alone = self.beyond_alone
            if alone:
                return (f"Within normal asymmetry for a {self.expression.replace('_', ' ')} "
                        f"photo: the {' and '.join(r.name for r in alone)} alone "
                        f"{'is' if len(alone) == 1 else 'are'} beyond {'its' if len(alone) == 1 else 'their'} "
                        "own limit, but taken together the regions are within what healthy "
                        "people show.")
            return (f"Within normal asymmetry for a {self.expression.replace('_', ' ')} photo: "
                    "every region is within the limits of healthy people.")
        worst = self.worst_region
        if self.affected_side is None:
            return (f"Asymmetry beyond normal for a {self.expression.replace('_', ' ')} photo, "
                    f"but the weaker side is unclear: {worst.name} {worst.measure_words} "
                    f"differs by {worst.difference_mm:.1f} mm (normal up to "
                    f"{worst.limit_mm:.1f} mm), and in a smile the eye alone cannot tell the "
                    "side. Take a photo at rest to tell it.")
        others = [r.name for r in self.supporting_regions if r is not worst]
        also = f"; {' and '.join(others)} point the same way" if others else ""
        together = (f"; together {self.combined_score / self.combined_limit:.1f} times the "
                    "normal limit" if others and self.combined_score is not None else "")
        return (f"The subject's {self.affected_side} side looks weaker: {worst.name} "
                f"{worst.measure_words} differs by {worst.difference_mm:.1f} mm "
                f"(normal up to {worst.limit_mm:.1f} mm){also}{together}.")

    def to_dict(self) -> dict:
        return {
            "status": self.status,
            "affected_side": self.affected_side,
            "regions": [r.to_dict() for r in self.regions],
            "reasons": [r.to_dict() for r in self.reasons],
            "warnings": [r.to_dict() for r in self.warnings],
            "expression": self.expression,
            "expression_source": self.expression_source,
            "detected_expression": self.detected_expression,
            "expression_mismatch": self.expression_mismatch,
            "combined_score": (None if self.combined_score is None
                               else round(self.combined_score, 3)),
            "combined_limit": (None if self.combined_limit is None
                               else round(self.combined_limit, 3)),
        }


def _measure_words(measure: str) -> str:
    return FLOW_EYE_WORDS if measure == FLOW_EYE_MEASURE else measure.replace("_", " ")


def not_found(message: str) -> Assessment:
    """The verdict when no face (or no usable landmarks) was found."""
    return Assessment(status="not_assessable", affected_side=None, regions=(),
                      reasons=(Reason("no_face", message),))


def normalize_expression(expression: str | None) -> str | None:
    """"brow raise" (the app's words) -> "brow_raise"; None stays None.

    Raises
    ------
    ValueError
        For an expression :func:`palsy_core.face.measurements.classify_expression` does not know.
    """
    if expression is None:
        return None
    key = str(expression).strip().lower().replace(" ", "_").replace("-", "_")
    if key not in EXPRESSIONS:
        raise ValueError(f"Unknown expression {expression!r}: use one of "
                         f"{', '.join(e.replace('_', ' ') for e in EXPRESSIONS)}.")
    return key


def _mean(blendshapes: Mapping[str, float], *names: str) -> float:
    return float(np.mean([blendshapes.get(n, 0.0) for n in names]))


#: Mean smile blendshape above which a photo stated as "rest" is contradicted: above every
#: rest photo of the London Set (highest 0.52; the detection threshold, 0.30, is passed by
#: 3 of 82), so a relaxed face is not refused for a faint smile.
SMILE_CONTRADICTS_REST = 0.55


def expression_mismatch(stated: str | None, detected: str,
                        blendshapes: Mapping[str, float]) -> str | None:
    """One line when the face clearly contradicts the stated expression, else None.

    Only clear contradictions count, because the blendshapes overlap between expressions
    on healthy faces (London Set: 20 of 82 smiles score below the smile threshold, and a
    weak or one-sided smile is what palsy looks like): "rest" is contradicted by a smile
    above :data:`SMILE_CONTRADICTS_REST`, a brow raise or closed eyes; "smile" by a brow
    raise or closed eyes; other stated expressions by any other detected one.
    """
    if stated is None or stated == detected:
        return None
    smile = _mean(blendshapes, "mouthSmileLeft", "mouthSmileRight")
    if stated == "rest" and detected == "smile" and smile <= SMILE_CONTRADICTS_REST:
        return None
    if stated == "smile" and detected == "rest":
        return None
    return (f"Stated expression '{stated.replace('_', ' ')}', but the face shows "
            f"'{detected.replace('_', ' ')}'.")


def assess(
    face: FaceMeasurements,
    *,
    head_pose: HeadPose,
    pupil_distance_px: float,
    blendshapes: Mapping[str, float],
    stated_expression: str | None = None,
    faces_found: int = 1,
) -> Assessment:
    """The verdict on measurements of one face.

    Parameters
    ----------
    face : FaceMeasurements
        From :func:`palsy_core.measure_face`, called with ``expression=stated_expression``
        (its regions are scored against that expression's limits) on pose-corrected
        landmarks.
    head_pose : HeadPose
        The head's pose as the landmarker reports it (before correction).
    pupil_distance_px : float
        Distance between the pupil centres in pixels of the photo.
    blendshapes : mapping
        MediaPipe blendshape scores (eyes closed, smile on either side).
    stated_expression : str, optional
        What the patient was asked to do ("rest", "smile", "brow raise", "eyes closed");
        None: the detected expression.
    faces_found : int

    Returns
    -------
    Assessment
    """
    stated = normalize_expression(stated_expression)
    detected = face.detected_expression
    expression = stated or detected
    mismatch = expression_mismatch(stated, detected, blendshapes)

    reasons = []
    if abs(head_pose.yaw) > MAX_RELIABLE_YAW:
        reasons.append(Reason("head_turned", (
            f"The head is turned {abs(head_pose.yaw):.0f} deg to the "
            f"{'image right' if head_pose.yaw > 0 else 'image left'} (at most "
            f"{MAX_RELIABLE_YAW:.0f} deg can be corrected reliably). Retake with the nose pointing "
            "straight at the lens, both ears equally visible.")))
    if abs(head_pose.pitch) > MAX_RELIABLE_PITCH:
        reasons.append(Reason("head_nodded", (
            f"The head is tilted {'up' if head_pose.pitch > 0 else 'down'} by "
            f"{abs(head_pose.pitch):.0f} deg (at most {MAX_RELIABLE_PITCH:.0f} deg). Retake "
            "with the camera at eye height and the chin level.")))
    if pupil_distance_px < MIN_ASSESSABLE_PUPIL_DISTANCE_PX:
        reasons.append(Reason("face_too_small", (
            f"The face is too small for millimetre accuracy ({pupil_distance_px:.0f} px between "
            f"the pupils; at least {MIN_ASSESSABLE_PUPIL_DISTANCE_PX:.0f} needed). Move the "
            "camera closer so the face fills most of the frame, or use the full-resolution "
            "photo.")))
    eyes_closed = (_mean(blendshapes, "eyeBlinkLeft", "eyeBlinkRight")
                   > EXPRESSION_THRESHOLDS["eyes_closed"])
    if expression == "eyes_closed" or (expression == "rest" and eyes_closed):
        reasons.append(Reason("eyes_closed", (
            "The eyes are closed: normal limits exist for open eyes at rest and for a smile. "
            "Retake with the eyes open, looking at the lens. "
            + _MOVEMENT_FROM_REST["eyes_closed"])))
    elif expression not in ASSESSABLE_EXPRESSIONS:
        reasons.append(Reason("expression_without_limits", (
            f"A {expression.replace('_', ' ')} photo has no normal limits (only rest and smile "
            "do). Retake at rest (face relaxed, lips closed, eyes open) or with a full "
            "smile." + (" " + _MOVEMENT_FROM_REST[expression]
                        if expression in _MOVEMENT_FROM_REST else ""))))
    if mismatch and expression in ASSESSABLE_EXPRESSIONS and not eyes_closed:
        advice = ("Retake with the face relaxed, or state 'smile' if a smile was asked for."
                  if stated == "rest" else
                  "Retake with the widest smile the patient can make, brows relaxed, or state "
                  "the expression the photo shows.")
        reasons.append(Reason("expression_contradicted", f"{mismatch} {advice}"))

    warnings = []
    if faces_found > 1:
        warnings.append(Reason("several_faces", (
            f"{faces_found} faces in the photo: the largest one was analysed. Crop the photo "
            "to one face to be sure the right person is measured.")))
    if face.mirror_flow is None:
        warnings.append(Reason("landmarks_only", LANDMARKS_ONLY))
    elif not face.eye_from_pixels and "face_too_small" not in {r.code for r in reasons}:
        warnings.append(Reason("soft_photo", SOFT_PHOTO))  # (a too small face: said once)
    warnings = tuple(warnings)

    if reasons:
        return Assessment("not_assessable", None, _findings(face, expression), tuple(reasons),
                          warnings, expression, "stated" if stated else "detected", detected,
                          mismatch)
    combined = load_normal_limits().combined_for(expression, mirror_flow=face.eye_from_pixels)
    status, side, score = combined_verdict(face, combined, expression=expression)
    if status == "asymmetry" and side is None:
        warnings += (Reason("side_unclear", SIDE_UNCLEAR),)
    verdict = Assessment(status, side, _findings(face, expression, combined), (), warnings,
                         expression, "stated" if stated else "detected", detected, mismatch,
                         combined_score=score, combined_limit=combined.limit)
    disagreement = _disagreement(verdict)
    if disagreement:
        verdict = replace(verdict, warnings=warnings + (Reason("regions_disagree", disagreement),))
    return verdict


def _disagreement(verdict: Assessment) -> str | None:
    """One sentence when a region carrying at least :data:`SUPPORTING_SHARE` of the score
    points away from the side the verdict names, naming the region that named it (its
    :attr:`~Assessment.worst_region`, as the headline does)."""
    top = verdict.worst_region
    if verdict.affected_side is None or top is None:
        return None
    against = [r for r in verdict.regions if r.decides_side
               and r.points_to not in (None, verdict.affected_side)
               and (r.share or 0.0) >= SUPPORTING_SHARE * verdict.combined_score]
    if not against:
        return None
    names = " and ".join(r.name for r in against)
    return (f"The regions point to different sides: the {names} "
            f"{'points' if len(against) == 1 else 'point'} to the subject's {against[0].points_to} "
            f"side, the {top.name} to the {verdict.affected_side}; the {top.name} carries the "
            "largest share of the asymmetry and names the side. Read the side with care, and "
            "compare with a photo of the other expression.")


def combined_verdict(face: FaceMeasurements, combined: CombinedLimit, *,
                     expression: str) -> tuple[Status, str | None, float]:
    """``(status, affected_side, score)`` of assessable measurements under ``combined``,
    the limit of ``expression``.

    "asymmetry" when the combined score is above the limit; the side is the one the
    measure with the largest share of the score points to, None when that measure may not
    name it alone in this expression and nothing else supports it
    (:meth:`~palsy_core.face.normal_range.CombinedLimit.weaker_side`).
    """
    signed = _signed(face, combined)
    score = combined.score(signed)
    if not score > combined.limit:
        return "within_normal", None, score
    side = combined.weaker_side(signed, needs_support=SIDE_NEEDS_SUPPORT.get(expression, ()),
                                supported_by=SIDE_SUPPORTED_BY.get(expression, ()))
    return "asymmetry", side, score


def _signed(face: FaceMeasurements, combined: CombinedLimit) -> dict[str, float]:
    signed = {}
    for m in combined.measures:
        if m in SIGNED_MEASURES:  # the eye read from the pixels: "+" = left open wider
            if not face.eye_from_pixels:
                raise ValueError(f"The limit reads {m}, which needs a sharp photo's mirror flow.")
            signed[m] = float(face.mirror_flow.fissure_difference_mm)
        else:
            ms = face.measurements[m]
            signed[m] = signed_difference(m, ms.left, ms.right)
    return signed


def _findings(face: FaceMeasurements, expression: str,
              combined: CombinedLimit | None = None) -> tuple[RegionFinding, ...]:
    # e.g. not the landmarks' eye in a smile: both eyes narrow, and they see little of it
    deciding = verdict_regions(expression, mirror_flow=face.eye_from_pixels)
    shares = signed = {}
    if combined is not None:
        signed = _signed(face, combined)
        shares = combined.contributions(signed)
    out = []
    for name in REGION_MEASURES:
        region = face.regions.get(name)
        if region is None:
            continue
        decides = name in deciding
        own = [m for m in deciding.get(name, ()) if m in shares]
        share = float(sum(shares[m] for m in own)) if own else None
        points_to = None
        if share is not None and share > 0:
            top = signed[max(own, key=lambda m: shares[m])]
            points_to = None if top == 0 else ("left" if top > 0 else "right")
        out.append(RegionFinding(
            name=name, measure=region.measure, difference_mm=float(region.difference),
            limit_mm=float(region.normal_limit), weaker_side=region.weaker_side,
            beyond_limit=not region.within_normal, decides_side=decides, note=region.note,
            share=share, points_to=points_to))
    return tuple(out)
