"""The five data modalities of seed 000 for one analysed photo.

Modalities (all through the code the app uses: :class:`palsy_core.Analyzer` for
landmarks, blendshapes and features, :mod:`palsy_core.face.frame` and
:mod:`palsy_core.drawing` for the images):

========== ============================ ===============================================
name       array                        meaning
========== ============================ ===============================================
rgb        (224, 224, 3) uint8          aligned face crop (pupils level, face centred)
linesegment (224, 224) uint8            white face contours on black, same alignment
coordinates (478, 2) float32            landmark x, y in pixels of the photo
blendshapes (52,) float32               MediaPipe blendshape scores, 0..1
handcrafted (29,) float32               the 29 asymmetry features (FEATURE_NAMES)
========== ============================ ===============================================

The trainers' disk cache of these modalities and of frozen-backbone features is
:mod:`trainers.data.cache`.

Mirror images
-------------
Palsy is no likelier on one side of the face than on the other, so trainers may add
each photo's mirror image and models may average over a face and its mirror.
:func:`mirrored_arrays` derives the modalities of the left-right flipped photo from
those of the photo without running the landmarker again.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .drawing import render_line_segments
from .face.features import compute_features, keypoints_51
from .face.frame import align_face_crop
from .face.landmarks import mirror_landmarks

MODALITIES = ("rgb", "linesegment", "coordinates", "blendshapes", "handcrafted")
IMAGE_MODALITIES = ("rgb", "linesegment")
STRUCTURED_MODALITIES = ("coordinates", "blendshapes", "handcrafted")
#: Side of the aligned crop and the line-segment image, pixels.
CROP_SIZE = 224


@dataclass(frozen=True)
class FaceModalities:
    """The five modalities of one face (see the module table for shapes and units)."""

    rgb: np.ndarray
    linesegment: np.ndarray
    coordinates: np.ndarray
    blendshapes: np.ndarray
    handcrafted: np.ndarray
    blendshape_names: tuple[str, ...]

    def vector(self, modality: str) -> np.ndarray:
        """A structured modality as a flat float32 vector (coordinates: x0, y0, x1, ...)."""
        if modality not in STRUCTURED_MODALITIES:
            raise ValueError(f"{modality!r} is not a structured modality "
                             f"({', '.join(STRUCTURED_MODALITIES)}).")
        return np.asarray(getattr(self, modality), dtype=np.float32).reshape(-1)


def modality_array(modality: str, image: np.ndarray, landmarks: np.ndarray,
                   blendshapes: dict, features: np.ndarray) -> np.ndarray:
    """One modality of an analysed photo (arguments as :func:`modalities_from_face`)."""
    if modality == "rgb":
        return align_face_crop(image, np.asarray(landmarks, np.float32), size=CROP_SIZE)
    if modality == "linesegment":
        return render_line_segments(np.asarray(landmarks, np.float32), size=CROP_SIZE)
    if modality == "coordinates":
        return np.ascontiguousarray(np.asarray(landmarks, dtype=np.float32)[:, :2])
    if modality == "blendshapes":
        return np.array(list(blendshapes.values()), dtype=np.float32)
    if modality == "handcrafted":
        return np.asarray(features, dtype=np.float32).reshape(-1)
    raise ValueError(f"Unknown modality {modality!r}; choose one of {', '.join(MODALITIES)}.")


def modalities_from_face(image: np.ndarray, landmarks: np.ndarray, blendshapes: dict,
                         features: np.ndarray) -> FaceModalities:
    """All five modalities from an analysed photo.

    Parameters
    ----------
    image : ndarray (H, W, 3) uint8
        The RGB photo the landmarks were found on.
    landmarks : ndarray (478, 2+)
        Pixels of ``image``.
    blendshapes : dict of str to float
        The 52 MediaPipe scores, in MediaPipe's order.
    features : ndarray (29,)
        :func:`palsy_core.compute_features` of the landmarks.
    """
    arrays = {m: modality_array(m, image, landmarks, blendshapes, features) for m in MODALITIES}
    return FaceModalities(**arrays, blendshape_names=tuple(blendshapes))


def mirrored_blendshape_order(names: Sequence[str]) -> np.ndarray:
    """Indices that reorder blendshape scores into those of the mirrored face.

    A mirror swaps every ``...Left`` score with its ``...Right`` twin (``eyeBlinkLeft``
    with ``eyeBlinkRight``, ``mouthLeft`` with ``mouthRight``); the others stay.
    """
    position = {name: i for i, name in enumerate(names)}

    def twin(name: str) -> str:
        if name.endswith("Left"):
            return name[:-4] + "Right"
        if name.endswith("Right"):
            return name[:-5] + "Left"
        return name

    return np.array([position.get(twin(name), i) for i, name in enumerate(names)])


def mirrored_arrays(arrays: dict[str, np.ndarray], *, landmarks: np.ndarray,
                    image_width: int, blendshape_names: Sequence[str] = ()) -> dict:
    """Modalities of the left-right mirrored photo, from those of the photo.

    Parameters
    ----------
    arrays : dict of str to ndarray
        Some of one face's modalities (unbatched; shapes as in the module table).
    landmarks : ndarray (478, 2+)
        The face's landmarks, pixels of the photo.
    image_width : int
        Width of the photo, pixels: the mirror maps ``x`` to ``image_width - x``.
    blendshape_names : sequence of str
        Names of the blendshape scores (needed when ``arrays`` has "blendshapes").

    Returns
    -------
    dict of str to ndarray
        The same keys. The image modalities are flipped (their alignment on the pupils
        and the face oval commutes with the mirror); the landmarks are re-indexed so
        index 61 is still the subject's right mouth corner, and the features are
        computed from them.
    """
    points = mirror_landmarks(np.asarray(landmarks, np.float32)[:, :2], image_width)
    out = {}
    for modality, array in arrays.items():
        if modality in IMAGE_MODALITIES:
            out[modality] = np.ascontiguousarray(array[:, ::-1])
        elif modality == "coordinates":
            out[modality] = points.astype(np.float32)
        elif modality == "handcrafted":
            out[modality] = compute_features(keypoints_51(points)).astype(np.float32)
        elif modality == "blendshapes":
            out[modality] = np.asarray(array)[mirrored_blendshape_order(blendshape_names)]
        else:
            raise ValueError(f"Unknown modality {modality!r}; choose one of "
                             f"{', '.join(MODALITIES)}.")
    return out
