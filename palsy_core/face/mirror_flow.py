"""How much lower one half of the face sits than the other, read from the pixels.

The face is compared with its own mirror image: the aligned face crop
(:func:`~palsy_core.face.frame.align_face_crop`, pupils level) is flipped about the
facial midline (the vertical through the midpoint of the pupils), and dense optical flow
(OpenCV's DIS) from the crop to its mirror image says, at every pixel, where the same
structure sits on the other half. At a landmark of the subject's left half, the flow
points to the matching structure of the right half; the vertical part of that flow,
averaged with the opposite flow at the mirrored landmark, is how much lower the left
point sits than the right one, with the pupils level as the pixels show them (the
clinical heights are all measured from the pupils).

Why not the landmarks: MediaPipe's mesh is fitted to a face-shaped prior, and it moves
with the tissue only in part. On the Face Research Lab London Set with the trainers'
simulated palsy (``benchmarks/bench_palsy_signal.py``), the landmarks recovered about half
of a simulated brow drop and a fifth of a widened eye; the mirror flow reads what the
pixels did, so a mild simulated eye palsy widens the measured fissure 0.63 mm (median)
against a healthy spread (SD) of 0.32 mm, where the landmarks gave 0.22 against 0.28.

The verdict reads the eye's fissure difference from here
(:mod:`palsy_core.assessment`), when the eyes are sharp enough
and large enough (:attr:`MirrorFlow.sharp_enough`): a blurred photo, or a small compressed
face, widens the flow's eye readings of healthy faces; the palsy model reads every value.

Only vertical displacements are reported: a turned head shifts the two halves
horizontally against each other in the photo (the midline is no longer half-way between
the pupils), while pupils levelled by the crop keep the vertical comparison fair.

Frame and units: the aligned crop's (:func:`~palsy_core.face.frame.face_alignment`),
upscaled :data:`UPSCALE` times so the flow resolves fractions of a millimetre; millimetres
from the mean adult iris diameter, as :func:`~palsy_core.face.measurements.measure_face`
without a ruler (the palsy model reads it so; its training faces had no ruler either).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from . import landmarks as lm
from .frame import align_face_crop, face_alignment

#: Side of the aligned crop the flow is computed on (the crop the models read), pixels.
CROP_SIZE = 224
#: Upscaling of the crop before the flow: at 224 px an eye opening is about 13 px, and
#: twice that resolution raised the person-held-out palsy AUC from 0.902 to 0.918
#: (London Set, 5 folds by person, four key displacements added to the geometry).
UPSCALE = 2
#: Half-width of the square window the flow is averaged over at each landmark, pixels of
#: the upscaled crop (a 13 px window: about 3.5 mm).
WINDOW = 6
#: Pixels of the upscaled crop kept round the compared points for the flow.
FLOW_MARGIN = 32
#: Below this :attr:`MirrorFlow.eye_sharpness` the photo is too soft for the verdict to read
#: the eye from the flow. On the 164 London photos (675 px) blurred by a Gaussian of sigma
#: 0, 0.75, 1, 1.25, 1.5 and 2 px the median sharpness is 0.86, 0.52, 0.41, 0.33, 0.27 and
#: 0.20; the healthy photos the flow's verdict calls asymmetric go 8, 9, 9, 9, 12, 19 (the
#: landmarks' 5-7). Below 0.30 the landmarks take over, and the count stays 4-9 at every
#: blur; no unblurred London photo is below 0.56 (benchmarks/bench_photo_quality.py).
MIN_EYE_SHARPNESS = 0.30
#: Below this distance between the pupils (pixels of the photo) the flow's eye is not read
#: either: a small face, enlarged for the crop (72 px between the pupils) and compressed,
#: keeps a fair sharpness but fewer real pixels. London photos shrunk to 56, 60, 62, 65,
#: 70, 75, 85 and 100 px between the pupils and saved as JPEG quality 70: the flow's verdict
#: called 11, 13, 7, 9, 6, 9, 7 and 8 of the 164 healthy photos asymmetric (8 as taken),
#: the landmarks' 3-7 (an ad-hoc check, not a benchmark).
MIN_FLOW_PUPIL_DISTANCE_PX = 62.0
#: Pixels of the (not upscaled) crop added round the eyes' landmarks for the sharpness.
SHARPNESS_MARGIN = 6

#: The points compared, as (subject's left, subject's right) MediaPipe landmark indices:
#: mirror pairs of :data:`~palsy_core.face.landmarks.MIRRORED_INDEX`.
POINT_PAIRS: dict[str, tuple[int, int]] = {
    "brow": (282, 52),            # lower edge of the brow, above the pupil
    "upper_lid": (386, 159),      # upper lid margin, middle of the eye
    "lower_lid": (374, 145),      # lower lid margin, middle of the eye
    "mouth_corner": (lm.LEFT_MOUTH_CORNER, lm.RIGHT_MOUTH_CORNER),
    "upper_lip": (270, 40),       # upper lip edge half-way to the corner
}
# Left out: the nasolabial fold (410/186) and the cheek below the eye (425/205), whose
# smooth skin gives the flow little to hold on to (healthy spread 1.6 and 1.8 mm, and
# 0.6 mm of change when the same photo is 1.5 times larger); and the lower lip (321/91),
# which in an open smile reads the teeth (1.2 mm apart between a smiling photo and its
# mirror image). Without the three, the person-held-out AUC went from 0.931 to 0.929.

#: Every value of :class:`MirrorFlow`, in order: the drop of each point pair, then the
#: palpebral fissure difference.
MIRROR_FLOW_NAMES: tuple[str, ...] = (*(f"{name}_drop" for name in POINT_PAIRS),
                                      "fissure_difference")


@dataclass(frozen=True)
class MirrorFlow:
    """Left-right differences of one face read from its pixels, millimetres.

    Attributes
    ----------
    drop_mm : dict of str to float
        For each key of :data:`POINT_PAIRS`: how much lower the subject's left point sits
        than the right one along the face's vertical (+ = left lower, mm).
    fissure_difference_mm : float
        Left palpebral fissure height minus the right one (+ = left eye open wider, mm):
        the lower lid's drop minus the upper lid's.
    mm_per_crop_pixel : float
        The scale used, millimetres per pixel of the upscaled crop.
    eye_sharpness : float
        How sharp the eyes are in the aligned crop: the standard deviation of its
        Laplacian over that of its intensity, in a box round both eyes (dimensionless; a
        blur or a small face enlarged lowers it). See :data:`MIN_EYE_SHARPNESS`.
    pupil_distance_px : float
        Distance between the pupil centres in pixels of the photo.
    """

    drop_mm: dict[str, float]
    fissure_difference_mm: float
    mm_per_crop_pixel: float
    eye_sharpness: float
    pupil_distance_px: float

    @property
    def sharp_enough(self) -> bool:
        """Whether the eyes are sharp and large enough in the photo for the verdict to read
        the eye from the flow (:func:`eye_readable`)."""
        return eye_readable(self.eye_sharpness, self.pupil_distance_px)

    def as_array(self) -> np.ndarray:
        """The values in :data:`MIRROR_FLOW_NAMES` order, float64."""
        return np.array([*(self.drop_mm[name] for name in POINT_PAIRS),
                         self.fissure_difference_mm])

    def to_dict(self) -> dict:
        """The readings (``drop_mm``, ``fissure_difference_mm``, ``eye_sharpness``,
        ``pupil_distance_px``) as a JSON-ready dict; :func:`eye_readable` reads it back."""
        return {"drop_mm": {name: float(v) for name, v in self.drop_mm.items()},
                "fissure_difference_mm": float(self.fissure_difference_mm),
                "eye_sharpness": float(self.eye_sharpness),
                "pupil_distance_px": float(self.pupil_distance_px)}


def eye_readable(eye_sharpness: float, pupil_distance_px: float) -> bool:
    """Whether the flow's eye reading can be trusted: the eyes at least
    :data:`MIN_EYE_SHARPNESS` sharp and at least :data:`MIN_FLOW_PUPIL_DISTANCE_PX` apart in
    the photo (also for readings stored as :meth:`MirrorFlow.to_dict`)."""
    return eye_sharpness >= MIN_EYE_SHARPNESS and pupil_distance_px >= MIN_FLOW_PUPIL_DISTANCE_PX


def mirror_flow(rgb: np.ndarray, landmarks: np.ndarray, *,
                crop: np.ndarray | None = None) -> MirrorFlow:
    """Vertical left-right displacements of the face, from flow against its mirror image.

    Parameters
    ----------
    rgb : ndarray, shape (H, W, 3) uint8
        The photo (EXIF-oriented RGB).
    landmarks : ndarray, shape (478, 2 or 3)
        MediaPipe landmarks in pixels of ``rgb`` (irises included).
    crop : ndarray, shape (CROP_SIZE, CROP_SIZE, 3) uint8, optional
        ``align_face_crop(rgb, landmarks, CROP_SIZE)`` when the caller already has it
        (``rgb`` is then not read).

    Returns
    -------
    MirrorFlow
        A mirror image of the photo gives the same values with the opposite sign, up to
        interpolation and the flow's own asymmetry (a few tenths of a millimetre where
        the halves differ most, round a smiling mouth: :func:`flow_view` chooses which
        to read); a left-right symmetric face gives zeros.
    """
    points = np.asarray(landmarks, dtype=np.float64)[:, :2]
    if crop is None:
        crop = align_face_crop(rgb, points, CROP_SIZE)
    matrix = face_alignment(points, CROP_SIZE)
    in_crop = (points @ matrix[:2, :2].T + matrix[:, 2]) * UPSCALE
    gray = cv2.cvtColor(np.ascontiguousarray(crop), cv2.COLOR_RGB2GRAY)
    sharpness = _eye_sharpness(gray, in_crop / UPSCALE)
    gray = cv2.resize(gray, None, fx=UPSCALE, fy=UPSCALE, interpolation=cv2.INTER_CUBIC)
    mirrored = cv2.warpAffine(gray, _mirror_map(in_crop), gray.shape[::-1],
                              flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                              borderMode=cv2.BORDER_REPLICATE)
    # The flow is needed only round the compared points: a box round them, with room for
    # the flow's coarsest scales, is a third of the crop and of its cost.
    used = in_crop[[*np.ravel(list(POINT_PAIRS.values())), lm.LEFT_IRIS[0], lm.RIGHT_IRIS[0]]]
    x0, y0 = np.maximum(np.floor(used.min(axis=0)) - FLOW_MARGIN, 0).astype(int)
    x1, y1 = np.minimum(np.ceil(used.max(axis=0)) + FLOW_MARGIN + 1, gray.shape[::-1]).astype(int)
    flow = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM).calc(
        np.ascontiguousarray(gray[y0:y1, x0:x1]), np.ascontiguousarray(mirrored[y0:y1, x0:x1]),
        None)
    in_crop = in_crop - [x0, y0]

    iris_px = np.mean([np.ptp(in_crop[list(ring[1:]), 0])
                       for ring in (lm.RIGHT_IRIS, lm.LEFT_IRIS)])
    if iris_px <= 0:
        raise ValueError("The iris rings are degenerate: no millimetre scale for the flow.")
    mm = lm.IRIS_DIAMETER_MM / iris_px

    def vertical_flow(point: np.ndarray) -> float:
        x, y = np.round(point).astype(int)
        window = flow[max(y - WINDOW, 0):y + WINDOW + 1, max(x - WINDOW, 0):x + WINDOW + 1, 1]
        return float(window.mean()) if window.size else 0.0

    def drop_px(left: int, right: int) -> float:
        # At the left point the flow reaches the right structure: y_right - y_left; at
        # the right point, y_left - y_right. Their half-difference is the left's drop.
        return (vertical_flow(in_crop[right]) - vertical_flow(in_crop[left])) / 2

    def half_width(left: int, right: int) -> float:
        return abs(in_crop[left, 0] - in_crop[right, 0]) / 2

    # The frame has the pupils level, but as the landmarker places them, which can be a
    # fraction of a degree off: a tilt that lowers every left point in proportion to its
    # distance from the midline. The pupils' own drop, read from the pixels, measures it.
    pupils = (lm.LEFT_IRIS[0], lm.RIGHT_IRIS[0])
    tilt = drop_px(*pupils) / max(half_width(*pupils), 1e-6)
    drop = {name: (drop_px(left, right) - tilt * half_width(left, right)) * mm
            for name, (left, right) in POINT_PAIRS.items()}
    return MirrorFlow(drop_mm=drop,
                      fissure_difference_mm=drop["lower_lid"] - drop["upper_lid"],
                      mm_per_crop_pixel=mm, eye_sharpness=sharpness,
                      pupil_distance_px=float(np.linalg.norm(
                          points[lm.LEFT_IRIS[0]] - points[lm.RIGHT_IRIS[0]])))


def _eye_sharpness(gray: np.ndarray, points: np.ndarray) -> float:
    """Laplacian SD over intensity SD in a box round both eyes (crop pixels): the share of
    the eyes' contrast in fine detail, so lighting and skin tone cancel out."""
    eyes = points[[*lm.LEFT_EYE, *lm.RIGHT_EYE]]
    x0, y0 = np.maximum(np.floor(eyes.min(axis=0)) - SHARPNESS_MARGIN, 0).astype(int)
    x1, y1 = np.ceil(eyes.max(axis=0) + SHARPNESS_MARGIN).astype(int)
    band = gray[y0:y1, x0:x1].astype(np.float32)
    if band.size == 0:
        return 0.0
    return float(cv2.Laplacian(band, cv2.CV_32F, ksize=1).std() / (band.std() + 1e-6))


def _mirror_map(points: np.ndarray) -> np.ndarray:
    """The 2x3 map from a pixel to the pixel showing its mirror structure (crop pixels).

    Sideways only: ``x' = a + b x + c y``, ``y' = y``, fitted by least squares so every
    landmark lands on its mirror landmark's x (:data:`~palsy_core.face.landmarks.MIRRORED_INDEX`).
    For a frontal face it is the reflection about the midline (``b = -1``); a turned head
    makes its near half wider in the photo, which a plain reflection about the midpoint of
    the pupils would misalign, and misaligned slanted edges (the brows) would read as
    vertical flow. The vertical part is never fitted, so no drop is absorbed.
    """
    paired = np.flatnonzero(lm.MIRRORED_INDEX[:len(points)] != np.arange(len(points)))
    paired = paired[lm.MIRRORED_INDEX[paired] < len(points)]
    design = np.column_stack([np.ones(len(paired)), points[paired, 0], points[paired, 1]])
    coefficients, *_ = np.linalg.lstsq(design, points[lm.MIRRORED_INDEX[paired], 0], rcond=None)
    a, b, c = coefficients
    return np.array([[b, c, a], [0.0, 1.0, 0.0]])


def flow_view(crops: Sequence[np.ndarray]) -> int:
    """Which of a photo's views to read the flow from: an index into ``crops``.

    ``crops`` are the aligned crops (:data:`CROP_SIZE`) of a photo and of its flipped
    image with the landmarks found there. The flow from a face to its mirror image is not
    exactly the negative of the flipped face's (DIS is not mirror-symmetric), so a photo
    and its mirror image would read slightly different magnitudes. Rather than flow both
    views (twice the time), the view is chosen by a rule that a flip turns round: the one
    whose image-left half is the brighter. A photo and its mirror image then read the
    same view, and the same values.
    """
    def left_minus_right(crop: np.ndarray) -> float:
        half = crop.shape[1] // 2
        return float(crop[:, :half].mean(dtype=np.float64) - crop[:, -half:].mean(dtype=np.float64))

    return int(np.argmax([left_minus_right(crop) for crop in crops]))
