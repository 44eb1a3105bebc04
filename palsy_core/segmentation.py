"""Face parsing with the paralysed region: mesh-derived targets, the result, the overlay.

Seed 004 parses a face into skin, hair, eyebrows, eyes, mouth and the "facial paralysis
possibility" (FPP) region. This module holds everything about that task that needs no
neural network: the label maps made from the MediaPipe mesh (the training targets, so
nobody hand-labels a pixel), the depth target from the landmarks' z, which side of the
face a pixel lies on, the typed result :class:`FaceParsing` and the overlay a clinician
reads. The network itself is ``palsy_core.models._parsing``.

Classes
-------
One label per pixel: ``background`` 0, ``skin`` 1 (the face oval minus the features
below), ``brows`` 2, ``eyes`` 3 (the palpebral fissure: lid margin to lid margin),
``mouth`` 4 (the outer lip contour, lips and open mouth). **Hair is left out**: the
mesh stops at the hairline and no landmark describes hair, and a colour rule (dark
pixels above the brows) fails on bald, grey and blond heads and on dark backgrounds; an
admin with labelled data (LaPa / CelebAMask-HQ) can map hair to the background class.
The paralysed region is a second, *overlapping* binary map (a paralysed pixel is also
skin or an eye): the simulator's ``paralysed`` mask, the affected half of the face
within the bands of the regions it moved. Healthy faces have none.

Frames
------
Photo pixels (x right, y down), the landmarks' frame; the model works on the aligned
crop of :func:`palsy_core.face.frame.face_alignment` and its masks are mapped back to the
photo. "left"/"right" are the subject's sides, decided by the landmarks (the subject's
left eye side), so a mirrored photo gets the mirrored answer.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from .face import landmarks as lm
from .vocabulary import Side

CLASS_NAMES = ("background", "skin", "brows", "eyes", "mouth")
PARALYSED = "paralysed"
#: Overlay colours, RGB.
CLASS_COLOURS = {
    "skin": (255, 205, 148),
    "brows": (140, 80, 20),
    "eyes": (0, 170, 255),
    "mouth": (230, 40, 140),
    PARALYSED: (255, 0, 0),
}
#: The affected side is named only when the paralysed region covers at least this
#: fraction of one hemiface (and more than of the other): stray pixels are no finding.
MIN_HEMIFACE_SHARE = 0.05
#: Warning shown wherever the model's output is drawn.
SIMULATED_WARNING = (
    "Face parsing was trained on masks drawn from the landmark mesh and on simulated "
    "palsy (warped photos of healthy volunteers), not on patients: the red region shows "
    "where the model sees a simulator-like droop, not a diagnosis. It marks a region on "
    "healthy faces too (on every healthy photo of the people it was tested on): it says "
    "where a droop would be, never whether there is one. The verdict decides that.")

_MIDLINE = np.flatnonzero(lm.MIRRORED_INDEX == np.arange(len(lm.MIRRORED_INDEX)))
_MIDLINE = _MIDLINE[_MIDLINE < 468]  # iris centres map to each other, not themselves
_FEATURES = (
    (2, (lm.RIGHT_BROW, lm.LEFT_BROW)),
    (3, (lm.RIGHT_EYE, lm.LEFT_EYE)),
    (4, (lm.LIPS_OUTER,)),
)


def transform_points(landmarks: np.ndarray, matrix: np.ndarray | None) -> np.ndarray:
    """x, y of ``landmarks`` mapped by a 2x3 affine ``matrix`` (None: unchanged), (N, 2)."""
    xy = np.asarray(landmarks, dtype=np.float64)[:, :2]
    if matrix is None:
        return xy
    matrix = np.asarray(matrix, dtype=np.float64)
    return xy @ matrix[:, :2].T + matrix[:, 2]


def _fill(canvas: np.ndarray, xy: np.ndarray, indices, value: int) -> None:
    # Pixel i covers [i, i + 1): its centre is i + 0.5. 4 fractional bits.
    corners = np.round((xy[list(indices)] - 0.5) * 16).astype(np.int32)
    cv2.fillPoly(canvas, [corners], value, lineType=cv2.LINE_8, shift=4)


def mesh_label_map(landmarks: np.ndarray, shape: tuple[int, int],
                   matrix: np.ndarray | None = None) -> np.ndarray:
    """The class map drawn from the mesh polygons: the training target.

    Parameters
    ----------
    landmarks : ndarray, (478, 2+)
        Photo pixels.
    shape : (height, width)
        Size of the output.
    matrix : ndarray (2, 3), optional
        Photo -> output frame (e.g. :func:`palsy_core.face.frame.face_alignment`).

    Returns
    -------
    ndarray (height, width) uint8 with values indexing :data:`CLASS_NAMES`.
    """
    xy = transform_points(landmarks, matrix)
    labels = np.zeros(shape, dtype=np.uint8)
    _fill(labels, xy, lm.FACE_OVAL, 1)
    for value, polygons in _FEATURES:
        for polygon in polygons:
            _fill(labels, xy, polygon, value)
    return labels


def mesh_depth_map(landmarks: np.ndarray, shape: tuple[int, int],
                   matrix: np.ndarray | None = None) -> np.ndarray:
    """Relative depth of the face from the landmarks' z, NaN off the face.

    The mesh's z (MediaPipe: scaled like x, smaller = nearer) is interpolated linearly
    inside the mesh, shifted so the nearest landmark is 0 and divided by the face
    oval's width, so the map is unit-free: about 0 at the nose tip, 0.3-0.5 at the
    cheeks' edge, the same at any photo size.

    Returns
    -------
    ndarray (height, width) float32.
    """
    from scipy.interpolate import LinearNDInterpolator

    points = np.asarray(landmarks, dtype=np.float64)[:468]
    xy = transform_points(points, matrix)
    oval = xy[list(lm.FACE_OVAL)]
    width = max(float(np.ptp(oval[:, 0])), 1e-6)
    scale = 1.0 if matrix is None else float(np.hypot(*np.asarray(matrix)[0, :2]))
    z = (points[:, 2] - points[:, 2].min()) * scale / width
    gy, gx = np.mgrid[0:shape[0], 0:shape[1]].astype(np.float64) + 0.5
    depth = LinearNDInterpolator(xy, z)(gx, gy)
    inside = np.zeros(shape, dtype=np.uint8)
    _fill(inside, xy, lm.FACE_OVAL, 1)
    depth[inside == 0] = np.nan
    return depth.astype(np.float32)


def lateral_map(landmarks: np.ndarray, shape: tuple[int, int],
                matrix: np.ndarray | None = None) -> np.ndarray:
    """Each pixel's signed distance from the facial midline, pixels (> 0: subject's left).

    The midline runs through the mesh's midline landmarks (forehead, nose, lips, chin),
    interpolated down the face, so a tilted or turned head is handled.
    """
    xy = transform_points(landmarks, matrix)
    right = xy[list(lm.RIGHT_EYE[:-1])].mean(axis=0)
    left = xy[list(lm.LEFT_EYE[:-1])].mean(axis=0)
    u = (left - right) / max(np.linalg.norm(left - right), 1e-6)
    v = np.array([-u[1], u[0]])
    mid = xy[_MIDLINE]
    down, across = mid @ v, mid @ u
    order = np.argsort(down)
    gy, gx = np.mgrid[0:shape[0], 0:shape[1]].astype(np.float32) + 0.5
    pixel_down = gx * v[0] + gy * v[1]
    pixel_across = gx * u[0] + gy * u[1]
    return pixel_across - np.interp(pixel_down, down[order], across[order]).astype(np.float32)


@dataclass(frozen=True)
class HemifaceShares:
    """Fraction of each half of the face (non-background pixels) in the paralysed region."""

    left: float
    right: float


def affected_side_of(paralysed: np.ndarray, labels: np.ndarray, lateral: np.ndarray
                     ) -> tuple[str | None, HemifaceShares]:
    """Which hemiface holds the paralysed region, and how much of each half it covers.

    Parameters
    ----------
    paralysed : ndarray (H, W) bool
    labels : ndarray (H, W) uint8, :data:`CLASS_NAMES` indices
    lateral : ndarray (H, W) float, from :func:`lateral_map` (> 0: subject's left)

    Returns
    -------
    side : "left", "right" or None
        The half with the larger share, when that share reaches :data:`MIN_HEMIFACE_SHARE`.
    shares : HemifaceShares
    """
    face = (labels > 0) | paralysed
    shares = {}
    for side, half in (("left", lateral > 0), ("right", lateral <= 0)):
        area = int(np.count_nonzero(face & half))
        shares[side] = float(np.count_nonzero(paralysed & half) / area) if area else 0.0
    best = max(shares, key=shares.get)
    side = best if shares[best] >= MIN_HEMIFACE_SHARE and shares[best] > shares[
        "left" if best == "right" else "right"] else None
    return side, HemifaceShares(left=shares["left"], right=shares["right"])


@dataclass
class FaceParsing:
    """Face parsing of one photo: class map, paralysed region and their summary.

    Attributes
    ----------
    labels : ndarray (H, W) uint8
        Class per photo pixel, indices into ``class_names``.
    paralysed : ndarray (H, W) bool
        Where the model sees the paralysed region (overlaps the classes).
    class_names : tuple of str
    pixel_share : dict
        Fraction of the photo's pixels in each class and in the paralysed region.
    affected_side : "left", "right" or None
        The subject's half holding the paralysed region (None: none found).
    hemiface_share : HemifaceShares
        Fraction of each half of the face inside the paralysed region.
    model, trained_on : str
    simulated : bool
        Trained on mesh-derived masks and simulated palsy, not on patients.
    """

    labels: np.ndarray
    paralysed: np.ndarray
    class_names: tuple[str, ...]
    pixel_share: dict[str, float]
    affected_side: Side | None
    hemiface_share: HemifaceShares
    model: str
    trained_on: str
    simulated: bool
    warning: str = field(default=SIMULATED_WARNING)

    def to_dict(self) -> dict:
        """The summary for JSON (no masks: they are as large as the photo)."""
        side = self.affected_side
        return {
            "class_names": list(self.class_names) + [PARALYSED],
            "pixel_share": {k: round(v, 5) for k, v in self.pixel_share.items()},
            "affected_side": side,
            "paralysed_share_of_hemiface": (round(getattr(self.hemiface_share, side), 4)
                                            if side else 0.0),
            "hemiface_share": {"left": round(self.hemiface_share.left, 4),
                               "right": round(self.hemiface_share.right, 4)},
            "model": self.model,
            "trained_on": self.trained_on,
            "simulated": self.simulated,
        }


def pixel_shares(labels: np.ndarray, paralysed: np.ndarray, total: int | None = None
                 ) -> dict[str, float]:
    """Fraction of the pixels in each class of :data:`CLASS_NAMES` and in the paralysed region.

    ``total``: the photo's pixel count when ``labels`` is only the part of it that can
    hold a face (the rest counts as background).
    """
    total = max(labels.size if total is None else total, 1)
    # count_nonzero per class: no int64 copy of a photo-sized map (bincount makes one).
    counts = [np.count_nonzero(labels == index) for index in range(1, len(CLASS_NAMES))]
    shares = {CLASS_NAMES[0]: float((total - sum(counts)) / total)}
    shares.update({name: float(c / total) for name, c in zip(CLASS_NAMES[1:], counts)})
    shares[PARALYSED] = float(np.count_nonzero(paralysed) / total)
    return shares


def segmentation_overlay(rgb: np.ndarray, parsing: FaceParsing, *, alpha: float = 0.45,
                         legend: bool = True) -> np.ndarray:
    """The photo with the classes tinted, the paralysed region hatched in red, a legend.

    Parameters
    ----------
    rgb : ndarray (H, W, 3) uint8
        The photo ``parsing`` was made from.
    parsing : FaceParsing
    alpha : float
        Opacity of the class colours.
    legend : bool
        Draw the colour key (and the affected side) in the top-left corner.

    Returns
    -------
    ndarray, a new (H, W, 3) uint8 image.
    """
    image = np.ascontiguousarray(rgb).copy()
    if image.shape[:2] != parsing.labels.shape:
        raise ValueError(f"The photo is {image.shape[1]}x{image.shape[0]} px but the parsing "
                         f"is {parsing.labels.shape[1]}x{parsing.labels.shape[0]}: draw it on "
                         "the photo it was made from.")
    tint = image.astype(np.float32)
    for index, name in enumerate(parsing.class_names):
        if name in CLASS_COLOURS:
            where = parsing.labels == index
            tint[where] = (1 - alpha) * tint[where] + alpha * np.array(CLASS_COLOURS[name])
    size = max(image.shape[:2])
    line = max(1, round(size / 300))
    if parsing.paralysed.any():
        red = np.array(CLASS_COLOURS[PARALYSED], dtype=np.float32)
        yy, xx = np.indices(parsing.paralysed.shape)
        stripes = ((xx + yy) // max(3, 3 * line)) % 2 == 0
        hatched = parsing.paralysed & stripes
        tint[hatched] = 0.35 * tint[hatched] + 0.65 * red
        tint[parsing.paralysed & ~stripes] = 0.8 * tint[parsing.paralysed & ~stripes] + 0.2 * red
    out = np.clip(tint, 0, 255).astype(np.uint8)
    if parsing.paralysed.any():
        contours, _ = cv2.findContours(parsing.paralysed.astype(np.uint8), cv2.RETR_EXTERNAL,
                                       cv2.CHAIN_APPROX_SIMPLE)
        cv2.drawContours(out, contours, -1, CLASS_COLOURS[PARALYSED], 2 * line, cv2.LINE_AA)
    if legend:
        _draw_legend(out, parsing, line)
    return out


def _draw_legend(out: np.ndarray, parsing: FaceParsing, line: int) -> None:
    side = parsing.affected_side
    entries = [(name, CLASS_COLOURS[name]) for name in parsing.class_names if name in CLASS_COLOURS]
    entries.append((f"paralysed region ({'subject' + chr(39) + 's ' + side if side else 'none found'})",
                    CLASS_COLOURS[PARALYSED]))
    scale = max(out.shape[:2]) / 900
    font, thick = cv2.FONT_HERSHEY_SIMPLEX, max(1, round(scale * 1.5))
    box = round(22 * scale)
    pad = round(8 * scale)
    width = max(cv2.getTextSize(text, font, 0.6 * scale, thick)[0][0] for text, _ in entries)
    panel_w, panel_h = box + 3 * pad + width, len(entries) * (box + pad) + pad
    panel = out[:panel_h, :panel_w].astype(np.float32)
    out[:panel_h, :panel_w] = (0.35 * panel).astype(np.uint8)
    for row, (text, colour) in enumerate(entries):
        top = pad + row * (box + pad)
        cv2.rectangle(out, (pad, top), (pad + box, top + box), colour, -1)
        cv2.putText(out, text, (2 * pad + box, top + box - round(5 * scale)), font, 0.6 * scale,
                    (255, 255, 255), thick, cv2.LINE_AA)


# -- metrics (seed 004 section 4.2) ----------------------------------------------------------
def confusion_matrix(predicted: np.ndarray, target: np.ndarray, num_classes: int,
                     ignore_index: int = 255) -> np.ndarray:
    """``C[i, j]``: pixels of true class ``i`` predicted as ``j`` (ignored pixels dropped)."""
    predicted = np.asarray(predicted).ravel().astype(np.int64)
    target = np.asarray(target).ravel().astype(np.int64)
    keep = target != ignore_index
    index = target[keep] * num_classes + predicted[keep]
    return np.bincount(index, minlength=num_classes ** 2).reshape(num_classes, num_classes)


@dataclass(frozen=True)
class SegmentationScores:
    """Per-class F1 and IoU, their means, and pixel accuracy, from one confusion matrix.

    ``f1``/``iou``: NaN for a class that is neither present nor predicted.
    ``mean_iou`` averages every class (background included, as eq 10 does); ``pixel_accuracy``
    is eq 11.
    """

    f1: np.ndarray
    iou: np.ndarray
    mean_iou: float
    pixel_accuracy: float


def segmentation_scores(confusion: np.ndarray) -> SegmentationScores:
    """Eqs 9-11 of seed 004 from a confusion matrix (rows: truth, columns: prediction)."""
    confusion = np.asarray(confusion, dtype=np.float64)
    tp = np.diag(confusion)
    predicted, actual = confusion.sum(axis=0), confusion.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        f1 = np.where(predicted + actual > 0, 2 * tp / (predicted + actual), np.nan)
        iou = np.where(predicted + actual - tp > 0, tp / (predicted + actual - tp), np.nan)
    total = confusion.sum()
    return SegmentationScores(f1=f1, iou=iou, mean_iou=float(np.nanmean(iou)),
                              pixel_accuracy=float(tp.sum() / total) if total else float("nan"))
