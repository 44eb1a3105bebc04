"""Landmark correction: the measurement landmarks a clinician may move, and the analysis
recomputed from corrected landmarks.

A detector sometimes puts a lid, a brow or a mouth corner a few pixels off, and every
millimetre measure built on it follows. Of the 478 MediaPipe landmarks only about twenty
carry the measures of :mod:`palsy_core.face.measurements` (brows, lids, irises, mouth corners,
lip midline); :data:`HANDLES` names them. Each handle moves a small group of landmarks
together (a brow's whole lower and upper edge; the middle three points of a lid; an
iris's centre and ring), so the contour the measure interpolates moves with the point the
clinician drags. An iris is re-fitted by moving its centre and setting its radius.

:func:`apply_moves` turns handle positions into a corrected (478, 3) landmark array and
:func:`reanalyze` recomputes every measure and the verdict from it through
:func:`palsy_core.analysis.assess_landmarks`, the function :meth:`palsy_core.Analyzer.analyze`
judges detected landmarks with. Coordinates are pixels of the oriented photo (x right,
y down); sides are the subject's.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from .face import landmarks as lm
from .analysis import AnalysisResult, assess_landmarks
from .face.features import compute_features, keypoints_51
from .vocabulary import Expression, Side

__all__ = ["Handle", "HANDLES", "CORRECTION_NOTE", "handle_positions", "apply_moves", "reanalyze"]

#: Added to a recomputed result's warnings.
CORRECTION_NOTE = ("Landmarks corrected by the clinician: measurements and verdict recomputed "
                   "from the corrected landmarks; model outputs (palsy probability, severity, "
                   "parsing) are from the photo as detected.")


@dataclass(frozen=True)
class Handle:
    """One point the clinician can drag.

    Attributes
    ----------
    key : str
        Stable identifier ("brow_R", "iris_L", ...).
    label : str
        Short label drawn on the photo (the subject's side: R or L).
    anchor : int
        The landmark the handle sits on.
    group : tuple of int
        Landmarks translated with it.
    iris : bool
        An iris: its ring (the four ring points) is also re-scaled to a radius.
    """

    key: str
    label: str
    anchor: int
    group: tuple[int, ...]
    iris: bool = False


def _side_handles(side: Side) -> list[Handle]:
    s = "R" if side == "right" else "L"
    right = side == "right"
    brow = lm.RIGHT_BROW_LOWER + lm.RIGHT_BROW_UPPER if right else lm.LEFT_BROW_LOWER + lm.LEFT_BROW_UPPER
    iris = lm.RIGHT_IRIS if right else lm.LEFT_IRIS
    return [
        Handle(f"brow_{s}", f"{s} brow", 52 if right else 282, tuple(brow)),
        Handle(f"upper_lid_{s}", f"{s} upper lid", 159 if right else 386,
               (160, 159, 158) if right else (387, 386, 385)),
        Handle(f"lower_lid_{s}", f"{s} lower lid", 145 if right else 374,
               (144, 145, 153) if right else (373, 374, 380)),
        Handle(f"inner_canthus_{s}", f"{s} inner corner", 133 if right else 362,
               (133,) if right else (362,)),
        Handle(f"outer_canthus_{s}", f"{s} outer corner", 33 if right else 263,
               (33,) if right else (263,)),
        Handle(f"iris_{s}", f"{s} iris", iris[0], tuple(iris), iris=True),
        Handle(f"mouth_corner_{s}", f"{s} mouth corner", lm.RIGHT_MOUTH_CORNER if right else lm.LEFT_MOUTH_CORNER,
               (lm.RIGHT_MOUTH_CORNER,) if right else (lm.LEFT_MOUTH_CORNER,)),
    ]


#: The measurement landmarks: 7 per side and 4 on the lip midline (18 handles; the
#: two iris handles also carry a radius, so 20 things to adjust).
HANDLES: tuple[Handle, ...] = tuple(
    _side_handles("right") + _side_handles("left") + [
        Handle("upper_lip_outer", "upper lip", 0, (0, 37, 267)),
        Handle("upper_lip_inner", "upper lip (inner)", 13, (13, 82, 312)),
        Handle("lower_lip_inner", "lower lip (inner)", 14, (14, 87, 317)),
        Handle("lower_lip_outer", "lower lip", 17, (17, 84, 314)),
    ])
_BY_KEY = {h.key: h for h in HANDLES}


def _iris_radius(points: np.ndarray, ring: Sequence[int]) -> float:
    centre = points[ring[0], :2]
    return float(np.mean(np.linalg.norm(points[list(ring[1:]), :2] - centre, axis=1)))


def handle_positions(landmarks: np.ndarray) -> list[dict]:
    """Each handle's position on a landmark array (pixels), for drawing.

    Returns
    -------
    list of dict
        ``key``, ``label``, ``x``, ``y`` and, for an iris, ``r`` (its ring's mean radius).
    """
    points = np.asarray(landmarks, dtype=np.float64)
    out = []
    for handle in HANDLES:
        item = {"key": handle.key, "label": handle.label,
                "x": round(float(points[handle.anchor, 0]), 2), "y": round(float(points[handle.anchor, 1]), 2)}
        if handle.iris:
            item["r"] = round(_iris_radius(points, handle.group), 2)
        out.append(item)
    return out


def apply_moves(landmarks: np.ndarray, moves: Mapping[str, Mapping[str, float]]) -> np.ndarray:
    """Landmarks with handles moved.

    Parameters
    ----------
    landmarks : ndarray, shape (478, 2 or 3)
        Pixels.
    moves : mapping of handle key to {"x", "y"[, "r"]}
        New positions (pixels); an iris may also get a new ring radius ``r``.

    Returns
    -------
    ndarray
        A corrected copy: each handle's group translated by its anchor's move (depth kept),
        an iris ring scaled about its centre to the new radius.

    Raises
    ------
    ValueError
        For an unknown handle, a non-finite position or a radius that is not positive.
    """
    points = np.array(landmarks, dtype=np.float64, copy=True)
    for key, move in moves.items():
        handle = _BY_KEY.get(key)
        if handle is None:
            raise ValueError(f"Unknown landmark handle {key!r}.")
        x, y = float(move["x"]), float(move["y"])
        if not (np.isfinite(x) and np.isfinite(y)):
            raise ValueError(f"Handle {key!r} moved to a position that is not a number.")
        delta = np.array([x, y]) - points[handle.anchor, :2]
        group = list(handle.group)
        points[group, :2] += delta
        if handle.iris and move.get("r") is not None:
            radius = float(move["r"])
            if not radius > 0:
                raise ValueError(f"The iris radius must be positive, got {radius}.")
            centre = points[handle.group[0], :2]
            ring = list(handle.group[1:])
            factor = radius / max(_iris_radius(points, handle.group), 1e-9)
            points[ring, :2] = centre + (points[ring, :2] - centre) * factor
    return points


def reanalyze(result: AnalysisResult, landmarks: np.ndarray, *, photo: np.ndarray | None = None,
              expression: Expression | None = None,
              mm_per_pixel: float | None = None) -> AnalysisResult:
    """The analysis recomputed from (corrected) landmarks of the same photo.

    Parameters
    ----------
    result : AnalysisResult
        The photo's analysis from the detected landmarks.
    landmarks : ndarray, shape (478, 2 or 3)
        Corrected landmarks, pixels (:func:`apply_moves`).
    photo : ndarray, shape (H, W, 3) uint8, optional
        The analysed photo: the eye is read from its pixels, as the analysis does; without
        it, from the landmarks alone (the verdict warns).
    expression : str, optional
        The stated expression (as given to :meth:`Analyzer.analyze`); None: detect it.
    mm_per_pixel : float, optional
        Known scale; default from the (corrected) irises.

    Returns
    -------
    AnalysisResult
        Features, measurements (pose-corrected and not), fitted pose, verdict and warnings
        recomputed (the verdict judges the turn by the pose fitted to ``landmarks``, as the
        analysis does); the blendshapes, the landmarker's head pose and model outputs are
        the detected photo's, and
        :data:`CORRECTION_NOTE` is among the warnings when the landmarks differ from the
        detected ones (with the detected ones it only re-reads the photo under another
        stated expression).
    """
    points = np.asarray(landmarks, dtype=np.float32)
    if points.shape[0] != lm.NUM_LANDMARKS:
        raise ValueError(f"reanalyze needs the {lm.NUM_LANDMARKS} landmarks, got {points.shape[0]}.")
    if points.shape[1] == 2:  # depth of the detected landmarks (frontalize uses it)
        points = np.column_stack([points, np.asarray(result.landmarks)[:, 2]]).astype(np.float32)
    geometry = assess_landmarks(points, result.blendshapes, photo=photo, expression=expression,
                                mm_per_pixel=mm_per_pixel, faces_found=result.faces_found)
    # Warnings the verdict and the measures gave are recomputed; the others (models) are kept.
    before = set(result.face.notes) | {w.message for w in (result.assessment.warnings if result.assessment else ())}
    kept = [w for w in result.warnings if w not in before and w != CORRECTION_NOTE]
    warnings = [w.message for w in geometry.assessment.warnings] + list(geometry.face.notes) + kept
    if not np.allclose(points[:, :2], np.asarray(result.landmarks)[:, :2]):
        warnings.append(CORRECTION_NOTE)
    return dataclasses.replace(result, landmarks=points, features=compute_features(keypoints_51(points)),
                               face=geometry.face, face_uncorrected=geometry.face_uncorrected,
                               fitted_pose=geometry.fitted_pose, assessment=geometry.assessment,
                               warnings=warnings)
