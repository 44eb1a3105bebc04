"""The face's own frame, the aligned face crop and the face's box in the photo.

One frame serves every part of the library that levels the eyes: the measurements
(:mod:`~palsy_core.face.measurements`), the visit's movements, the overlay's facial axes,
the aligned crop the models read (and the line-segment image drawn in the same square),
and the palsy simulator of the trainers.

Frame: the x axis runs along the line joining the two eye centres (by default the pupil
centres, MediaPipe iris centres 468 = subject's right, 473 = subject's left), the y axis is
perpendicular to it and points down the face, and the origin is the midpoint of the eye
centres. Landmarks are pixels of the photo (x right, y down).
"""

from __future__ import annotations

import cv2
import numpy as np

from . import landmarks as lm


class FaceFrame:
    """Eye-levelled frame of one face: ``u`` along the eye line, ``v`` down the face.

    Parameters
    ----------
    points : ndarray, shape (N, 2+)
        Landmarks in pixels of the photo.
    right_eye, left_eye : ndarray, shape (2,), optional
        The eye centres the frame is built on, pixels; default the pupil centres
        (iris centres 468 and 473, which ``points`` must then hold).

    Attributes
    ----------
    u : ndarray, shape (2,)
        Unit vector from the subject's right eye towards the left eye (image pixels).
    v : ndarray, shape (2,)
        Unit vector perpendicular to ``u``, pointing down the face in the image, also
        for a mirrored photo (where ``u`` points image-left).
    origin : ndarray, shape (2,)
        Midpoint of the eye centres, pixels.
    eye_distance_px : float
        Distance between the eye centres, pixels.
    x, y : ndarray, shape (N,)
        Every landmark in the frame, pixels: ``x`` along the eye line (+ = subject's
        left), ``y`` down the face.

    Raises
    ------
    ValueError
        When the two eye centres coincide.
    """

    def __init__(self, points: np.ndarray, right_eye: np.ndarray | None = None,
                 left_eye: np.ndarray | None = None):
        self.right_eye = points[lm.RIGHT_IRIS[0], :2] if right_eye is None else right_eye
        self.left_eye = points[lm.LEFT_IRIS[0], :2] if left_eye is None else left_eye
        axis = self.left_eye - self.right_eye
        self.eye_distance_px = float(np.linalg.norm(axis))
        if self.eye_distance_px < 1e-6:
            raise ValueError("The two eye centres coincide; the landmarks are degenerate.")
        self.u = axis / self.eye_distance_px  # towards the subject's left
        v = np.array([-self.u[1], self.u[0]])
        self.v = v if v[1] >= 0 else -v
        self.origin = (self.right_eye + self.left_eye) / 2
        rel = points[:, :2].astype(np.float64) - self.origin
        self.x = rel @ self.u  # distance along the eye line, px (+ = subject's left)
        self.y = rel @ self.v  # distance down the face, px

    @property
    def across(self) -> np.ndarray:
        """Unit vector along the eye line pointing image-right-ish (``u``, or ``-u`` on a
        mirrored photo): with ``v`` it turns the face upright without flipping it."""
        return np.array([self.v[1], -self.v[0]])

    def y_at(self, polyline: tuple[int, ...], x: float) -> float:
        """Frame y of a contour where it crosses the frame vertical at ``x``."""
        idx = np.asarray(polyline)
        xs, ys = self.x[idx], self.y[idx]
        order = np.argsort(xs)
        return float(np.interp(x, xs[order], ys[order]))

    def iris_diameter_px(self, ring: tuple[int, ...]) -> float:
        """Horizontal (along the eye line) extent of an iris ring, pixels."""
        along = self.x[list(ring[1:])]
        return float(along.max() - along.min())


def face_box(landmarks: np.ndarray, image_shape: tuple[int, ...],
             margin: float = 0.25) -> tuple[int, int, int, int]:
    """The face's box in the photo, for a zoomed view: ``x0, y0, x1, y1`` (pixels, ends
    exclusive, clipped to the photo).

    The landmarks' bounding box, enlarged on every side by ``margin`` times its width
    (left, right) and height (top, bottom), outer edges rounded outwards. ``image_shape``
    is the photo's ``(height, width[, channels])``.
    """
    xy = np.asarray(landmarks, dtype=np.float64)[:, :2]
    low, high = xy.min(axis=0), xy.max(axis=0)
    pad = (high - low) * margin
    x0, y0 = np.maximum(np.floor(low - pad), 0).astype(int)
    x1, y1 = np.minimum(np.ceil(high + pad), [image_shape[1], image_shape[0]]).astype(int)
    return int(x0), int(y0), int(x1), int(y1)


def face_alignment(landmarks: np.ndarray, size: int, margin: float = 0.12) -> np.ndarray:
    """The 2x3 similarity transform from photo pixels to an aligned ``size`` square.

    The pupil line (:class:`FaceFrame`) becomes horizontal and the face oval's bounding
    box, enlarged by ``margin`` on every side, fills the square. The aligned crop
    (:func:`align_face_crop`), the line-segment image and the face-parsing masks share it.
    """
    pts = np.asarray(landmarks, dtype=np.float64)[:, :2]
    frame = FaceFrame(pts)
    rotation = np.array([frame.across, frame.v])
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
