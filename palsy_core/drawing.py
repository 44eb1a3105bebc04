"""Pictures made from landmarks: the overlay a clinician sees, the line-segment image
and the aligned face crop the models read.

Landmarks are in pixels of the photo (x right, y down). The crop and the line-segment
image share one similarity transform (:func:`face_alignment`): pupils level, face oval
centred with a margin, so the two image modalities line up with each other.
"""

from __future__ import annotations

import cv2
import numpy as np

from .face import landmarks as lm

#: Overlay colours (RGB) per contour family.
_COLOURS = {
    "face_oval": (255, 255, 255),
    "brow": (255, 196, 0),
    "eye": (0, 200, 255),
    "lips": (255, 64, 128),
    "nose": (120, 255, 120),
    "axis": (255, 255, 0),
}


def _family(name: str) -> str:
    for family in ("brow", "eye", "lips", "nose"):
        if family in name:
            return family
    return "face_oval"


def face_alignment(landmarks: np.ndarray, size: int, margin: float = 0.12) -> np.ndarray:
    """The 2x3 similarity transform from photo pixels to an aligned ``size`` square.

    The pupil line (iris centres 468, 473) becomes horizontal and the face oval's
    bounding box, enlarged by ``margin`` on every side, fills the square.
    """
    pts = np.asarray(landmarks, dtype=np.float64)[:, :2]
    right, left = pts[lm.RIGHT_IRIS[0]], pts[lm.LEFT_IRIS[0]]
    angle = np.arctan2(left[1] - right[1], left[0] - right[0])
    # A mirrored photo has the subject's left pupil on the image left: level the line
    # without turning the face upside down.
    if abs(angle) > np.pi / 2:
        angle -= np.copysign(np.pi, angle)
    cos, sin = np.cos(-angle), np.sin(-angle)
    rotation = np.array([[cos, -sin], [sin, cos]])
    oval = pts[list(lm.FACE_OVAL)] @ rotation.T
    lo, hi = oval.min(axis=0), oval.max(axis=0)
    centre = (lo + hi) / 2
    side = float((hi - lo).max()) * (1 + 2 * margin)
    scale = size / max(side, 1e-6)
    matrix = np.zeros((2, 3))
    matrix[:, :2] = scale * rotation
    matrix[:, 2] = size / 2 - scale * centre
    return matrix


def align_face_crop(rgb: np.ndarray, landmarks: np.ndarray, size: int = 224) -> np.ndarray:
    """The face cut out of the photo, pupils level and centred: ``(size, size, 3)`` uint8."""
    matrix = face_alignment(landmarks, size)
    return cv2.warpAffine(np.ascontiguousarray(rgb), matrix, (size, size),
                          flags=cv2.INTER_AREA, borderMode=cv2.BORDER_REPLICATE)


def render_line_segments(landmarks: np.ndarray, size: int = 224,
                         thickness: int | None = None) -> np.ndarray:
    """White contours of face oval, brows, eyes, lips and nose on black.

    Parameters
    ----------
    landmarks : ndarray, shape (478, 2+)
        Pixels of the photo.
    size : int
        Side of the square output, pixels.
    thickness : int, optional
        Line width in pixels; default scales with ``size`` (1 px at 224).

    Returns
    -------
    ndarray, shape (size, size), uint8 (0 or 255 before anti-aliasing)
    """
    matrix = face_alignment(landmarks, size)
    pts = np.asarray(landmarks, dtype=np.float64)[:, :2] @ matrix[:, :2].T + matrix[:, 2]
    canvas = np.zeros((size, size), dtype=np.uint8)
    width = thickness or max(1, round(size / 224))
    polylines = [np.round(pts[list(idx)] * 16).astype(np.int32) for idx in lm.CONTOURS.values()]
    cv2.polylines(canvas, polylines, isClosed=False, color=255, thickness=width,
                  lineType=cv2.LINE_AA, shift=4)
    return canvas


def draw_overlay(
    rgb: np.ndarray,
    landmarks: np.ndarray,
    *,
    contours: bool = True,
    points: bool = False,
    axes: bool = True,
) -> np.ndarray:
    """The photo with the face's contours, landmark points and the facial axes drawn on.

    Parameters
    ----------
    rgb : ndarray, shape (H, W, 3), uint8
    landmarks : ndarray, shape (478, 2+), pixels
    contours : bool
        Face oval, brows, eyes, lips and nose, coloured by region.
    points : bool
        All 478 landmarks as dots.
    axes : bool
        The pupil line and the facial midline (perpendicular through its middle).

    Returns
    -------
    ndarray, a new (H, W, 3) uint8 image.
    """
    out = np.ascontiguousarray(rgb).copy()
    pts = np.asarray(landmarks, dtype=np.float64)[:, :2]
    face_size = float(np.ptp(pts[list(lm.FACE_OVAL)], axis=0).max())
    width = max(1, int(round(face_size / 250)))
    fixed = np.round(pts * 16).astype(np.int32)
    if contours:
        for name, idx in lm.CONTOURS.items():
            cv2.polylines(out, [fixed[list(idx)]], False, _COLOURS[_family(name)], width,
                          cv2.LINE_AA, shift=4)
    if points:
        radius = max(1, width)
        for x, y in fixed:
            cv2.circle(out, (int(x), int(y)), radius * 16, (0, 255, 0), -1, cv2.LINE_AA, shift=4)
    if axes:
        right, left = pts[lm.RIGHT_IRIS[0]], pts[lm.LEFT_IRIS[0]]
        mid = (right + left) / 2
        direction = (left - right) / max(np.linalg.norm(left - right), 1e-6)
        down = np.array([-direction[1], direction[0]])
        down = down if down[1] >= 0 else -down
        span = face_size * 0.75
        ends = [(right - direction * span * 0.2, left + direction * span * 0.2),
                (mid - down * span * 0.5, mid + down * span * 0.95)]
        for a, b in ends:
            cv2.line(out, tuple(np.round(a * 16).astype(int)), tuple(np.round(b * 16).astype(int)),
                     _COLOURS["axis"], width, cv2.LINE_AA, shift=4)
    return out
