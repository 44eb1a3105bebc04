"""Pictures made from landmarks: the overlay a clinician sees and the line-segment image
a model reads.

Landmarks are in pixels of the photo (x right, y down). The line-segment image is drawn
in the square of the aligned face crop (:func:`palsy_core.face.frame.face_alignment`):
pupils level, face oval centred with a margin, so the two image modalities line up.
"""

from __future__ import annotations

import cv2
import numpy as np

from .face import landmarks as lm
from .face.frame import FaceFrame, face_alignment

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
        frame = FaceFrame(pts)
        right, left, mid = frame.right_eye, frame.left_eye, frame.origin
        direction, down = frame.u, frame.v
        span = face_size * 0.75
        ends = [(right - direction * span * 0.2, left + direction * span * 0.2),
                (mid - down * span * 0.5, mid + down * span * 0.95)]
        for a, b in ends:
            cv2.line(out, tuple(np.round(a * 16).astype(int)), tuple(np.round(b * 16).astype(int)),
                     _COLOURS["axis"], width, cv2.LINE_AA, shift=4)
    return out
