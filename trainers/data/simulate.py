"""Simulated facial palsy: labelled cases and small data sets made from real face photos.

The public palsy data sets cannot be downloaded here, so tests and the shipped default
weights use faces we make palsied ourselves (spec ``models-and-training.md`` section 5).
:func:`simulate_palsy` moves the landmarks of one half-face as the condition does and
warps the photo piecewise-affinely over the face-mesh triangles; :func:`simulate_healthy`
adds the small asymmetry every face has. :func:`composite_palsy` joins one person's
smile photo and rest photo down the facial midline: a smile on one half only, the
realistic palsy a warp cannot make. The writers build data sets in the on-disk
layouts of YFP, CK+ and the six-class folders, from a handful of source faces made into
distinct "subjects" by :func:`vary_identity`.

Frames and units
----------------
Landmarks are ``(478, 3)`` MediaPipe points in pixels of the image (x right, y down,
z relative depth), as :class:`palsy_core.face.landmarks.FaceLandmarker` returns them; pixel
``i`` covers ``[i, i + 1)``, so mirroring maps ``x`` to ``width - x``. "left" and
"right" are the *subject's* sides: the subject's right is the image's left. Every
displacement is a fraction of the face's size ``L``, the distance between the two eye
centres in pixels, so the same severity looks the same at any image size.

These faces are simulations: weights trained on them are a working default, not a
clinical model.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal, Union
from collections.abc import Sequence

import cv2
import numpy as np
from PIL import Image

from palsy_core.face import landmarks as mesh_indices
from palsy_core.face.frame import FaceFrame
from palsy_core.face.landmarks import MIRRORED_INDEX, mirror_landmarks
from palsy_core.vocabulary import OTHER_SIDE, REGIONS, SIDES, Region, Side
from .datasets import INTENSITY_OF_SEVERITY, SEVERITY_CLASSES, Sample, yfp_binary_label

#: Where a simulated palsy acts: one region of the verdict, or the whole half-face.
PalsyRegion = Union[Region, Literal["full"]]
Pattern = Literal["peripheral", "central"]
Face = tuple[np.ndarray, np.ndarray]

PALSY_REGIONS: tuple[str, ...] = (*REGIONS, "full")
PATTERNS = ("peripheral", "central")
#: Strength in (0, 1] used for a named severity.
SEVERITY_STRENGTH = {"mild": 0.3, "moderate": 0.6, "severe": 1.0}
#: Raised whenever the same seed starts giving different images, so data sets written
#: by an older simulator are recognised as stale and not reused.
SIMULATOR_VERSION = 5
#: Upper strength bound of each severity name, for strengths given as numbers.
_SEVERITY_UPPER = (("mild", 0.4), ("moderate", 0.7), ("severe", 1.0))


_MOUTH_CORNER = {"right": mesh_indices.RIGHT_MOUTH_CORNER, "left": mesh_indices.LEFT_MOUTH_CORNER}
_EYE_RING = {"right": list(mesh_indices.RIGHT_EYE[:-1]), "left": list(mesh_indices.LEFT_EYE[:-1])}
_EYE_OUTER_CORNER = {"right": 33, "left": 263}
_BROW = {"right": list(mesh_indices.RIGHT_BROW[:-1]), "left": list(mesh_indices.LEFT_BROW[:-1])}
_BROW_LOWER_EDGE = {"right": list(mesh_indices.RIGHT_BROW_LOWER),
                    "left": list(mesh_indices.LEFT_BROW_LOWER)}
_UPPER_LID_MIDDLE = {"right": 159, "left": 386}
_IRIS_CENTRE = {"right": 468, "left": 473}
#: The iris landmarks (centres and rings): the eyeball, which the lids move over.
_EYEBALL = np.arange(468, 478)
_NOSE_ALA = {"right": 98, "left": 327}
_NOSE_TIP = 1
_CHIN = 152
_MIDLINE = np.flatnonzero(MIRRORED_INDEX == np.arange(len(MIRRORED_INDEX)))


@dataclass(frozen=True)
class SimulatedCase:
    """A face with simulated palsy (or a healthy one), its labels and region masks.

    Attributes
    ----------
    image : ndarray, shape (H, W, 3), uint8
        The warped RGB photo.
    landmarks : ndarray, shape (478, 3), float32
        The source landmarks moved as the warp moved the face (pixels).
    palsy : int
        1 for :func:`simulate_palsy`, 0 for :func:`simulate_healthy`. (Data sets that
        follow YFP's binary rule apply it to ``eye`` and ``mouth`` themselves.)
    side : {"left", "right"} or None
        The subject's affected side; None when healthy.
    region : {"eye", "mouth", "brow", "full"} or None
    severity : {"mild", "moderate", "severe"} or None
    pattern : {"peripheral", "central"} or None
    eye, mouth : float
        Region intensities as YFP labels them: 0 normal, 0.5 slight (mild), 1 strong
        (moderate or severe). The brow counts towards the eye region.
    masks : dict of str to ndarray of bool, shape (H, W)
        "face", "brow", "eye", "mouth" (both sides) and "paralysed": the affected
        half of the face, limited to the bands of the regions the palsy moved; all
        False when healthy.
    """

    image: np.ndarray
    landmarks: np.ndarray
    palsy: int
    side: Side | None
    region: PalsyRegion | None
    severity: str | None
    pattern: Pattern | None
    eye: float
    mouth: float
    masks: dict[str, np.ndarray]

    @property
    def severity_class(self) -> str | None:
        """The six-class name ("moderate_mouth", ...) of an eye, brow or mouth case.

        None for healthy and "full" cases, which the six classes do not describe.
        """
        if self.severity is None or self.region not in ("eye", "brow", "mouth"):
            return None
        return f"{self.severity}_{'mouth' if self.region == 'mouth' else 'eye'}"

    def mirrored(self) -> SimulatedCase:
        """The same case flipped left-right: image, landmarks, masks and side label.

        Landmarks are re-indexed through :data:`MIRRORED_INDEX`, so index 61 still is
        the subject's right mouth corner after the flip.
        """
        return replace(
            self,
            image=np.ascontiguousarray(self.image[:, ::-1]),
            landmarks=mirror_landmarks(self.landmarks, self.image.shape[1]),
            side=OTHER_SIDE[self.side] if self.side else None,
            masks={name: np.ascontiguousarray(mask[:, ::-1])
                   for name, mask in self.masks.items()},
        )


def simulate_palsy(
    rgb: np.ndarray,
    landmarks: np.ndarray,
    *,
    side: Side,
    region: PalsyRegion = "full",
    severity: float | str = "moderate",
    pattern: Pattern = "peripheral",
    seed: int = 0,
) -> SimulatedCase:
    """Make a face look as if one side were paralysed.

    On the subject's ``side`` the mouth corner sinks and is drawn towards the midline
    (as if it could no longer be pulled up and out), the palpebral fissure widens (lower
    lid down, upper lid up, outer corner lower), the brow drops and the nasolabial fold
    flattens (the cheek slides down and out, the fold's shading is softened). Each
    effect fades with a Gaussian around the feature it moves, reaches zero at the
    midline and at the face outline, and leaves the other half untouched.

    Parameters
    ----------
    rgb : ndarray, shape (H, W, 3), uint8
    landmarks : ndarray, shape (478, 2 or 3)
        MediaPipe landmarks of ``rgb`` in pixels.
    side : {"left", "right"}
        The subject's affected side (subject's right = image left).
    region : {"eye", "mouth", "brow", "full"}
        "mouth" includes the nasolabial fold; "full" is every effect.
    severity : float in (0, 1] or {"mild", "moderate", "severe"}
        Strength; numbers up to 0.4 are mild, up to 0.7 moderate, above that severe.
    pattern : {"peripheral", "central"}
        A central (upper motor neuron) palsy spares the brow and forehead.
    seed : int
        Draws the small case-to-case variation of each effect (+-15 %); the same seed
        always gives the same case.

    Returns
    -------
    SimulatedCase

    Raises
    ------
    ValueError
        On an unknown side, region, pattern or severity, a central brow-only palsy
        (central palsy spares the brow), or an image/landmark array of the wrong shape.
    """
    image, points = _check_face(rgb, landmarks)
    if side not in SIDES:
        raise ValueError(f"side must be 'left' or 'right' (the subject's side), not {side!r}")
    if region not in PALSY_REGIONS:
        raise ValueError(f"region must be one of {PALSY_REGIONS}, not {region!r}")
    if pattern not in PATTERNS:
        raise ValueError(f"pattern must be 'peripheral' or 'central', not {pattern!r}")
    if pattern == "central" and region == "brow":
        raise ValueError("A central palsy spares the brow, so region='brow' with "
                         "pattern='central' would change nothing; use a peripheral one.")
    severity_name, strength = _parse_severity(severity)
    effects = {"eye": ("eye",), "brow": ("brow",), "mouth": ("mouth", "fold"),
               "full": ("brow", "eye", "mouth", "fold")}[region]
    if pattern == "central":
        effects = tuple(e for e in effects if e != "brow")
    rng = np.random.default_rng(seed)
    strengths = {effect: strength * rng.uniform(0.85, 1.15) for effect in effects}
    out_image, out_points = _apply_palsy(image, points, side, strengths)
    intensity = INTENSITY_OF_SEVERITY[severity_name]
    eye = intensity if region in ("eye", "brow", "full") else 0.0
    mouth = intensity if region in ("mouth", "full") else 0.0
    return SimulatedCase(
        image=out_image, landmarks=out_points, palsy=1, side=side, region=region,
        severity=severity_name, pattern=pattern, eye=eye, mouth=mouth,
        masks=_region_masks(out_image.shape[:2], out_points, side, effects),
    )


def simulate_healthy(rgb: np.ndarray, landmarks: np.ndarray, *, seed: int = 0) -> SimulatedCase:
    """A healthy case: the face with the small, random asymmetry of a normal face.

    Each side gets its own tiny mouth-corner, lid and brow shifts (at most about 2 % of
    the eye distance), well below a mild palsy.

    Parameters
    ----------
    rgb : ndarray, shape (H, W, 3), uint8
    landmarks : ndarray, shape (478, 2 or 3)
        MediaPipe landmarks of ``rgb`` in pixels.
    seed : int
        Draws the asymmetry; the same seed always gives the same case.
    """
    image, points = _check_face(rgb, landmarks)
    out_image, out_points = _natural_asymmetry(image, points, np.random.default_rng(seed))
    return SimulatedCase(
        image=out_image, landmarks=out_points, palsy=0, side=None, region=None,
        severity=None, pattern=None, eye=0.0, mouth=0.0,
        masks=_region_masks(out_image.shape[:2], out_points, None, ()),
    )


def vary_identity(rgb: np.ndarray, landmarks: np.ndarray, *, seed: int) -> Face:
    """Turn one face into a different-looking "subject" (for data sets from few photos).

    Symmetric shape changes (eye spacing, brow height, nose and mouth width, mouth
    height, lip thickness, chin length; the same change mirrored on both sides, so no
    asymmetry is added), an optional mirror, a global similarity transform (+-6 degrees,
    scale 0.9-1.1, shift up to 4 % of the image) and a colour change (per-channel gain,
    gamma, brightness).

    Parameters
    ----------
    rgb : ndarray, shape (H, W, 3), uint8
    landmarks : ndarray, shape (478, 2 or 3)
        MediaPipe landmarks of ``rgb`` in pixels.
    seed : int

    Returns
    -------
    (rgb, landmarks)
        Same image size; landmarks ``(478, 3)`` float32 pixels, moved with the face.
    """
    image, points = _check_face(rgb, landmarks)
    rng = np.random.default_rng(seed)
    frame = _face_frame(points)
    (eye_spacing, brow_height, nose_width, mouth_width, mouth_height, lip_thickness,
     chin_length) = rng.uniform(-1, 1, size=7) * [0.06, 0.08, 0.12, 0.15, 0.08, 0.15, 0.06]
    mouth_centre = points[[_MOUTH_CORNER["left"], _MOUTH_CORNER["right"]], :2].mean(axis=0)
    below_mouth = (points[:, :2] - mouth_centre) @ frame.v
    shape = (
        _symmetric(lambda s: _lateral_shift(points, frame, s, eye_spacing)
                   + _brow_shift(points, frame, s, brow_height))
        + _feature_stretch(points, frame, points[_NOSE_TIP, :2], 0.25, 0.2, nose_width)
        + _feature_stretch(points, frame, mouth_centre, 0.45, 0.25, mouth_width)
        + ((mouth_height * frame.scale * _window(points, mouth_centre, frame, 0.5, 0.3)
            + lip_thickness * below_mouth * _window(points, mouth_centre, frame, 0.4, 0.15)
            + chin_length * frame.scale * _window(points, points[_CHIN, :2], frame, 0.5, 0.3))
           [:, None] * frame.v)
    )
    image, points = _warp(image, points, shape, frame)
    if rng.random() < 0.5:
        points = mirror_landmarks(points, image.shape[1])
        image = np.ascontiguousarray(image[:, ::-1])
    height, width = image.shape[:2]
    image, points = _similarity(
        image, points, angle_deg=rng.uniform(-6, 6), scale=rng.uniform(0.9, 1.1),
        shift=rng.uniform(-0.04, 0.04, size=2) * min(height, width))
    image = _colour_jitter(image, gain=rng.uniform(0.85, 1.15, size=3),
                           gamma=rng.uniform(0.8, 1.25), offset=rng.uniform(-15, 15))
    return image, points


def jitter_photo(rgb: np.ndarray, landmarks: np.ndarray | None = None, *,
                 seed: int) -> tuple[np.ndarray, np.ndarray | None]:
    """A photo as a different camera might have taken it: for augmenting either class.

    A small tilt (+-2 degrees), scale (+-2 %) and shift (+-3 px), a change of exposure,
    and half the time a loss of detail (soft focus, upscaling from a smaller source, or
    JPEG compression), as :func:`write_simulated_yfp`'s frames get.

    Parameters
    ----------
    rgb : ndarray, shape (H, W, 3), uint8
    landmarks : ndarray, shape (478, 2 or 3), optional
        Moved with the photo when given.
    seed : int

    Returns
    -------
    (rgb, landmarks or None)
    """
    image = np.asarray(rgb)
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f"Expected an RGB uint8 image of shape (H, W, 3), got {image.dtype} "
                         f"{image.shape}.")
    if landmarks is None:
        centre = np.array([[image.shape[1] / 2, image.shape[0] / 2, 0.0]], np.float32)
        out, _ = _video_jitter(image, centre, np.random.default_rng(seed))
        return out, None
    image, points = _check_face(image, landmarks)
    return _video_jitter(image, points, np.random.default_rng(seed))


def composite_palsy(
    rest_rgb: np.ndarray,
    rest_landmarks: np.ndarray,
    smile_rgb: np.ndarray,
    smile_landmarks: np.ndarray,
    *,
    side: Side,
    feather: float = 0.1,
) -> SimulatedCase:
    """A smile on one half of the face only: one person's smile and rest photos joined.

    The realistic palsy the warp simulator cannot make: the subject smiles, and the
    paralysed half does not move at all. The smile photo is aligned to the rest photo
    by the similarity transform (rotation, scale, shift) that best maps the smile's
    upper-face landmarks (forehead, nose bridge, inner eye corners: points a smile
    barely moves) onto the rest photo's, its colours are matched to the rest photo's
    over the face, and the two are blended along the facial midline (the mean of the
    two photos' midline landmarks) with a smooth ramp ``feather`` L wide on each side,
    so the seam is no hard edge. Outside the face (hair, neck, background) the ramp
    fades into the rest photo.

    Parameters
    ----------
    rest_rgb, smile_rgb : ndarray, shape (H, W, 3), uint8
        The same person at rest and smiling, same image size, roughly frontal.
    rest_landmarks, smile_landmarks : ndarray, shape (478, 2 or 3)
        MediaPipe landmarks of each photo, pixels.
    side : {"left", "right"}
        The subject's paralysed side: it keeps the rest photo.
    feather : float
        Half-width of the blend across the midline, in units of L (eye distance).

    Returns
    -------
    SimulatedCase
        ``palsy`` 1, ``side``, region "mouth" (the mouth and the cheek's smile; a
        smile also narrows the moving side's eye, as a patient's healthy eye narrows),
        severity "severe" (the paralysed half does not move at all), pattern
        "peripheral", ``mouth`` 1 and ``eye`` 0. Landmarks are the rest photo's on the
        paralysed half and the aligned smile's on the other, blended across the
        seam as the pixels are.

    Raises
    ------
    ValueError
        On an unknown side, different image sizes or bad landmarks.
    """
    rest, rest_points = _check_face(rest_rgb, rest_landmarks)
    smile, smile_points = _check_face(smile_rgb, smile_landmarks)
    if side not in SIDES:
        raise ValueError(f"side must be 'left' or 'right' (the subject's side), not {side!r}")
    if rest.shape != smile.shape:
        raise ValueError(f"The rest and smile photos must have the same size, got "
                         f"{rest.shape[:2]} and {smile.shape[:2]}.")
    if not 0.0 < feather <= 1.0:
        raise ValueError(f"feather must be in (0, 1] eye distances, not {feather!r}")
    height, width = rest.shape[:2]
    matrix = _similarity_fit(smile_points[_STABLE_POINTS, :2] - 0.5,
                             rest_points[_STABLE_POINTS, :2] - 0.5)
    aligned = cv2.warpAffine(smile, matrix, (width, height), flags=cv2.INTER_LINEAR,
                             borderMode=cv2.BORDER_REFLECT101)
    aligned_points = smile_points.copy()
    aligned_points[:, :2] = (smile_points[:, :2] - 0.5) @ matrix[:, :2].T + matrix[:, 2] + 0.5
    aligned_points[:, 2] *= float(np.sqrt(abs(np.linalg.det(matrix[:, :2]))))
    face = (_polygon_mask(rest.shape[:2], rest_points[list(mesh_indices.FACE_OVAL)])
            & _polygon_mask(rest.shape[:2], aligned_points[list(mesh_indices.FACE_OVAL)]))
    aligned = _match_colours(aligned, rest, face)

    frame = _face_frame(rest_points)
    moving = OTHER_SIDE[side]
    midline = (rest_points[_MIDLINE, :2] + aligned_points[_MIDLINE, :2]) / 2
    weight = _side_ramp((height, width), midline, frame, moving, feather)
    # Fade the smile out beyond the face so hair and neck come from the rest photo.
    outline = _polygon_mask(rest.shape[:2], rest_points[list(mesh_indices.FACE_OVAL)]) | \
        _polygon_mask(rest.shape[:2], aligned_points[list(mesh_indices.FACE_OVAL)])
    grow = max(1, int(round(0.1 * frame.scale)))
    outline = cv2.dilate(outline.astype(np.uint8), np.ones((2 * grow + 1,) * 2, np.uint8))
    near_face = cv2.GaussianBlur(outline.astype(np.float32), (0, 0), sigmaX=0.5 * grow + 0.5)
    alpha = (weight * near_face)[..., None]
    image = np.clip(np.round(alpha * aligned + (1.0 - alpha) * rest), 0, 255).astype(np.uint8)

    xy = np.clip(np.round(rest_points[:, :2] - 0.5).astype(int), 0, [width - 1, height - 1])
    point_alpha = alpha[xy[:, 1], xy[:, 0], 0][:, None]
    points = (point_alpha * aligned_points + (1.0 - point_alpha) * rest_points).astype(np.float32)
    return SimulatedCase(
        image=image, landmarks=points, palsy=1, side=side, region="mouth",
        severity="severe", pattern="peripheral", eye=0.0,
        mouth=INTENSITY_OF_SEVERITY["severe"],
        masks=_region_masks(image.shape[:2], points, side, ("mouth", "fold")),
    )


# ---------------------------------------------------------------------------------------
# Data set writers
# ---------------------------------------------------------------------------------------
def write_simulated_yfp(
    root: str | Path,
    faces: Sequence[Face],
    *,
    n_subjects: int,
    frames_per_subject: int,
    seed: int = 0,
    malformed_xml: int = 0,
) -> list[Sample]:
    """Write a small simulated YouTube Facial Palsy data set in YFP's layout.

    Writes ``root/Image/<subject>/<n>.bmp`` frames and ``root/Image_large_XML/<subject>/
    <n>.xml`` PASCAL-VOC labels with one ``<object>`` per region, named
    ``{Normal|SlightPalsy|StrongPalsy}_{Eyes|Mouth}``, and its ``<bndbox>``. Subjects are
    "P01", "P02", ...; each has its own identity (:func:`vary_identity` of a source
    face) and affected side, and two to four (eye, mouth) intensity combinations that
    its frames cycle through, like a patient whose palsy shows more or less as they talk.
    Frames jitter slightly in pose and brightness, as video frames do.

    Parameters
    ----------
    root : path
        Created if missing.
    faces : sequence of (rgb, landmarks)
        Source faces (RGB uint8 and their (478, 3) pixel landmarks), used in turn.
    n_subjects, frames_per_subject : int
    seed : int
    malformed_xml : int
        How many label files to write truncated (not well-formed XML), as some real YFP
        label files are.

    Returns
    -------
    list of Sample
        The frames a correct reader recovers, with their labels (frames whose label file
        was damaged are left out).
    """
    root = Path(root)
    faces = _check_faces(faces)
    _check_positive(n_subjects=n_subjects, frames_per_subject=frames_per_subject)
    total = n_subjects * frames_per_subject
    if not 0 <= malformed_xml <= total:
        raise ValueError(f"malformed_xml must be between 0 and the {total} frames written, "
                         f"not {malformed_xml}")
    rng = np.random.default_rng(seed)
    combinations = [(e, m) for e in (0.0, 0.5, 1.0) for m in (0.0, 0.5, 1.0)]
    written: list[tuple[Sample, Path]] = []
    for number, (rgb, points) in enumerate(_subjects(faces, n_subjects, rng), start=1):
        subject = f"P{number:02d}"
        side = SIDES[rng.integers(2)]
        chosen = rng.choice(len(combinations), size=rng.integers(2, 5), replace=False)
        for n in range(1, frames_per_subject + 1):
            eye, mouth = combinations[chosen[(n - 1) % len(chosen)]]
            image, moved = _palsy_frame(rgb, points, side, eye, mouth, rng)
            image, moved = _video_jitter(image, moved, rng)
            image_path = root / "Image" / subject / f"{n}.bmp"
            xml_path = root / "Image_large_XML" / subject / f"{n}.xml"
            _save(image, image_path)
            xml_path.parent.mkdir(parents=True, exist_ok=True)
            xml_path.write_text(_voc_xml(image_path, image.shape, moved, eye, mouth))
            written.append((Sample(path=image_path, subject=f"yfp/{subject}", dataset="yfp",
                                   palsy=yfp_binary_label(eye, mouth), eye=eye, mouth=mouth),
                            xml_path))
    damaged = set(rng.choice(len(written), size=malformed_xml, replace=False).tolist())
    for index in damaged:
        xml_path = written[index][1]
        text = xml_path.read_text()
        xml_path.write_text(text[: len(text) // 2])  # cut mid-element: not well-formed
    return [sample for index, (sample, _) in enumerate(written) if index not in damaged]


def write_simulated_ckplus(
    root: str | Path,
    faces: Sequence[Face],
    *,
    n_subjects: int,
    frames_per_subject: int,
    seed: int = 0,
) -> list[Sample]:
    """Write a small simulated CK+ data set (healthy subjects posing expressions).

    Writes ``root/cohn-kanade-images/S005/001/S005_001_00000001.png`` frames: each
    subject's frames form sequences of up to four frames that go from neutral to the
    peak of one expression (happiness, surprise or sadness, made with symmetric
    warps plus :func:`simulate_healthy`), and ``root/Emotion/S005/001/
    S005_001_0000000N_emotion.txt`` for each sequence's last frame, holding the CK+
    emotion code (5 happy, 6 sadness, 7 surprise) written as CK+ writes it.

    Parameters
    ----------
    root : path
    faces : sequence of (rgb, landmarks)
    n_subjects, frames_per_subject : int
    seed : int

    Returns
    -------
    list of Sample
        Every frame written (all healthy).
    """
    root = Path(root)
    faces = _check_faces(faces)
    _check_positive(n_subjects=n_subjects, frames_per_subject=frames_per_subject)
    rng = np.random.default_rng(seed)
    emotions = _EMOTION_CODES
    samples = []
    for k, (rgb, points) in enumerate(_subjects(faces, n_subjects, rng)):
        subject = f"S{5 + 3 * k:03d}"  # CK+ subject numbers start at S005 and have gaps
        lengths = [4] * (frames_per_subject // 4) + ([frames_per_subject % 4]
                                                     if frames_per_subject % 4 else [])
        for sequence_number, length in enumerate(lengths, start=1):
            sequence = f"{sequence_number:03d}"
            expression = list(emotions)[rng.integers(len(emotions))]
            for frame_number in range(1, length + 1):
                amount = (frame_number - 1) / max(length - 1, 1)
                posed, posed_points = _expression(rgb, points, expression, amount)
                case = simulate_healthy(posed, posed_points, seed=int(rng.integers(2**31)))
                image, _ = _video_jitter(case.image, case.landmarks, rng)
                stem = f"{subject}_{sequence}_{frame_number:08d}"
                path = root / "cohn-kanade-images" / subject / sequence / f"{stem}.png"
                _save(image, path)
                samples.append(Sample(path=path, subject=f"ckplus/{subject}",
                                      dataset="ckplus", palsy=0))
            emotion_path = root / "Emotion" / subject / sequence / f"{stem}_emotion.txt"
            emotion_path.parent.mkdir(parents=True, exist_ok=True)
            emotion_path.write_text(f"   {float(emotions[expression]):.7e}\n")
    return samples


def write_simulated_class_folders(
    root: str | Path, faces: Sequence[Face], per_class: int, seed: int = 0
) -> list[Sample]:
    """Write a small simulated six-class severity set: ``root/<class>/<patient>_<n>.jpg``.

    Classes are mild_eye, mild_mouth, moderate_eye, moderate_mouth, severe_eye and
    severe_mouth. Images come from a pool of patients (about three images each, each
    patient with its own identity and affected side), numbered 1, 2, ... in the file
    names so that splits can group by patient. Strengths are drawn within each
    severity's band (mild 0.2-0.4, moderate 0.45-0.7, severe 0.75-1).

    Parameters
    ----------
    root : path
    faces : sequence of (rgb, landmarks)
    per_class : int
        Images per class.
    seed : int

    Returns
    -------
    list of Sample
        Every image written, labelled as :func:`trainers.data.datasets.read_class_folders`
        reads it.
    """
    root = Path(root)
    faces = _check_faces(faces)
    _check_positive(per_class=per_class)
    rng = np.random.default_rng(seed)
    n_patients = max(2, (len(SEVERITY_CLASSES) * per_class) // 3)
    patients = list(_subjects(faces, n_patients, rng))
    patient_sides = [SIDES[i] for i in rng.integers(2, size=n_patients)]
    images_of_patient = [0] * n_patients
    bands = {"mild": (0.2, 0.4), "moderate": (0.45, 0.7), "severe": (0.75, 1.0)}
    samples = []
    for class_name in SEVERITY_CLASSES:
        level, region = class_name.split("_")
        for _ in range(per_class):
            patient = int(rng.integers(n_patients))
            images_of_patient[patient] += 1
            rgb, points = patients[patient]
            case = simulate_palsy(rgb, points, side=patient_sides[patient], region=region,
                                  severity=float(rng.uniform(*bands[level])),
                                  seed=int(rng.integers(2**31)))
            path = root / class_name / f"{patient + 1}_{images_of_patient[patient]}.jpg"
            _save(case.image, path)
            intensity = INTENSITY_OF_SEVERITY[level]
            samples.append(Sample(path=path, subject=f"folder/{patient + 1}", dataset="folder",
                                  palsy=1, eye=intensity if region == "eye" else 0.0,
                                  mouth=intensity if region == "mouth" else 0.0,
                                  severity=class_name))
    return samples


# ---------------------------------------------------------------------------------------
# The face frame and the effects (displacement fields, pixels)
# ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Frame:
    """Face-aligned axes. ``u``: unit vector from the subject's right eye to the left eye;
    ``v``: unit vector down the face; ``scale``: eye-centre distance L (px); ``lateral``:
    each landmark's signed distance from the midline along ``u`` (px; < 0 on the
    subject's right), measured against its mirror partner so no midline fit is needed."""

    u: np.ndarray
    v: np.ndarray
    scale: float
    lateral: np.ndarray

    def outward(self, side: str) -> np.ndarray:
        """Unit vector pointing away from the midline on ``side``."""
        return self.u if side == "left" else -self.u


def _face_frame(points: np.ndarray) -> _Frame:
    # The library's face frame on the eye rings' centres, which the simulator has always
    # used: its seeded faces (and the models trained on them) stay the same.
    frame = FaceFrame(points, right_eye=points[_EYE_RING["right"], :2].mean(axis=0),
                      left_eye=points[_EYE_RING["left"], :2].mean(axis=0))
    if frame.eye_distance_px < 2.0:
        raise ValueError(f"The eyes are {frame.eye_distance_px:.1f} px apart: these landmarks "
                         "do not describe a usable face.")
    lateral = (points[:, :2] - points[MIRRORED_INDEX, :2]) @ frame.u / 2.0
    return _Frame(u=frame.u, v=frame.v, scale=frame.eye_distance_px, lateral=lateral)


def _window(points: np.ndarray, centre: np.ndarray, frame: _Frame,
            sigma_u: float, sigma_v: float) -> np.ndarray:
    """Anisotropic Gaussian falloff around ``centre``; sigmas in units of L."""
    offset = points[:, :2] - centre
    a = offset @ frame.u / (sigma_u * frame.scale)
    b = offset @ frame.v / (sigma_v * frame.scale)
    return np.exp(-0.5 * (a * a + b * b))


def _mouth_droop(points, frame, side, strength):
    # The corner sinks and loses its outward pull: down 0.16 L and in 0.09 L at full strength.
    corner = points[_MOUTH_CORNER[side], :2]
    weight = strength * frame.scale * _window(points, corner, frame, 0.32, 0.32)
    return weight[:, None] * (0.16 * frame.v - 0.09 * frame.outward(side))


def _fold_flattening(points, frame, side, strength):
    # The cheek beside the nasolabial fold slides down and out, opening the fold.
    ala, corner = points[_NOSE_ALA[side], :2], points[_MOUTH_CORNER[side], :2]
    anchor = 0.5 * (ala + corner) + 0.12 * frame.scale * frame.outward(side)
    weight = strength * frame.scale * _window(points, anchor, frame, 0.18, 0.22)
    return weight[:, None] * (0.03 * frame.outward(side) + 0.04 * frame.v)


def _eye_opening(points, frame, side, upper, lower):
    # Vertical magnification about the eye centre: lids move apart by a factor
    # (1 + upper/lower); the Gaussian keeps the map one-to-one for factors below 2.
    ring = points[_EYE_RING[side], :2]
    centre = ring.mean(axis=0)
    below = (points[:, :2] - centre) @ frame.v
    gain = np.where(below > 0, lower, upper) * _window(points, centre, frame, 0.35, 0.12)
    return (gain * below * _lids_only(points, frame, side))[:, None] * frame.v


def _paralytic_eye(points, frame, side, strength):
    # Unopposed levator lifts the upper lid, the lax lower lid sags, the outer corner drops.
    opening = _eye_opening(points, frame, side, 0.3 * strength, 0.7 * strength)
    corner = points[_EYE_OUTER_CORNER[side], :2]
    droop = (0.025 * strength * frame.scale * _window(points, corner, frame, 0.15, 0.15)
             * _lids_only(points, frame, side))
    return opening + droop[:, None] * frame.v


def _brow_shift(points, frame, side, amount):
    """Brow down by ``amount`` L (negative: up), more at its outer end."""
    centre = points[_BROW[side], :2].mean(axis=0) + 0.1 * frame.scale * frame.outward(side)
    weight = (amount * frame.scale * _window(points, centre, frame, 0.4, 0.13)
              * _lid_to_brow(points, frame, side))
    return weight[:, None] * frame.v


def _lids_only(points, frame, side) -> np.ndarray:
    """Per point, how much of an eye effect it takes: none on the brow
    (:func:`_lid_to_brow`) and none on the eyeball (the irises), which the lids open
    over without moving it. Stretching the eye opening with the iris in it lowered the
    iris centre of a severe simulated eye palsy by about 1 mm, tilting the line between
    the pupils that every height is measured from."""
    weight = 1.0 - _lid_to_brow(points, frame, side)
    weight[_EYEBALL[_EYEBALL < len(weight)]] = 0.0
    return weight


def _lid_to_brow(points, frame, side) -> np.ndarray:
    """Per point, 0 at and below the middle of ``side``'s upper lid margin, rising
    smoothly to 1 at the brow's lower edge and above it.

    The brow's effects are scaled by it and the eye's by one minus it, so each moves
    its own feature only: a brow that sinks folds the skin above the lid (hooding) but
    leaves the lid margin where the levator holds it, and a lid that opens does not lift
    the brow. Without it a severe simulated brow drop narrowed the same eye by about
    1 mm (the opposite of the wider eye of palsy) and a severe eye palsy raised the brow
    by about 1.3 mm (London Set, rest photos, read by the mirror flow).
    """
    lid = points[_UPPER_LID_MIDDLE[side], :2]
    brow = points[_BROW_LOWER_EDGE[side], :2].mean(axis=0)
    above_lid = (lid - points[:, :2]) @ frame.v
    return _smoothstep(above_lid / max(float((lid - brow) @ frame.v), 1e-6))


def _lateral_shift(points, frame, side, amount):
    """The eye region of ``side`` moved outward by ``amount`` L."""
    centre = points[_EYE_RING[side], :2].mean(axis=0)
    weight = amount * frame.scale * _window(points, centre, frame, 0.35, 0.3)
    return weight[:, None] * frame.outward(side)


def _feature_stretch(points, frame, centre, sigma_u, sigma_v, amount):
    """Widen (amount > 0) the face around ``centre`` by a lateral factor 1 + amount."""
    weight = amount * frame.lateral * _window(points, centre, frame, sigma_u, sigma_v)
    return weight[:, None] * frame.u


def _symmetric(effect) -> np.ndarray:
    return effect("left") + effect("right")


def _side_weight(frame: _Frame, side: str) -> np.ndarray:
    """0 at and across the midline, rising smoothly to 1 at 0.12 L into ``side``."""
    sign = 1.0 if side == "left" else -1.0
    return _smoothstep(sign * frame.lateral / (0.12 * frame.scale))


def _smoothstep(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3.0 - 2.0 * x)


_PALSY_EFFECTS = {"mouth": _mouth_droop, "fold": _fold_flattening, "eye": _paralytic_eye,
                  "brow": lambda p, f, s, t: _brow_shift(p, f, s, 0.09 * t)}


def _apply_palsy(image: np.ndarray, points: np.ndarray, side: str,
                 strengths: dict[str, float]) -> Face:
    """Warp ``side`` of the face by the effects in ``strengths`` (name -> 0..1)."""
    frame = _face_frame(points)
    field = sum((_PALSY_EFFECTS[name](points, frame, side, t) for name, t in strengths.items()),
                np.zeros((len(points), 2)))
    image, moved = _warp(image, points, field * _side_weight(frame, side)[:, None], frame)
    if strengths.get("fold", 0.0) > 0:
        image = _soften_fold(image, moved, side, strengths["fold"])
    return image, moved


def _natural_asymmetry(image: np.ndarray, points: np.ndarray, rng: np.random.Generator) -> Face:
    frame = _face_frame(points)
    field = np.zeros((len(points), 2))
    for side in SIDES:
        mouth, upper_lid, lower_lid, brow = rng.uniform(-1, 1, size=4) * [0.12, 0.05, 0.05,
                                                                           0.015]
        side_field = (_mouth_droop(points, frame, side, mouth)
                      + _eye_opening(points, frame, side, upper_lid, lower_lid)
                      + _brow_shift(points, frame, side, brow))
        field += side_field * _side_weight(frame, side)[:, None]
    return _warp(image, points, field, frame)


def _expression(rgb: np.ndarray, points: np.ndarray, expression: str, amount: float,
                gain: dict[str, float] | None = None) -> Face:
    """A posed expression at ``amount`` (0 neutral .. 1 peak).

    ``gain`` scales the movement of each side (default 1 for both: symmetric); a
    palsied side moves less. The jaw drop of surprise is not facial-nerve work and
    is never scaled.
    """
    frame = _face_frame(points)
    if amount == 0:
        return rgb, points.astype(np.float32)
    gain = gain or {"left": 1.0, "right": 1.0}
    common = min(gain.values())

    def sides(effect):
        # Both sides move by the weaker side's gain; the stronger side moves the rest.
        return common * _symmetric(effect) + sum(
            (gain[s] - common) * effect(s) * _side_weight(frame, s)[:, None] for s in SIDES)

    if expression == "happiness":    # corners up and out, cheeks raise the lower lids
        field = sides(lambda s: -_mouth_droop(points, frame, s, 0.7 * amount)
                      + _eye_opening(points, frame, s, -0.1 * amount, -0.3 * amount))
    elif expression == "surprise":   # brows up, eyes wide, jaw drops
        chin = points[17, :2]
        jaw = 0.08 * amount * frame.scale * _window(points, chin, frame, 0.5, 0.35)
        field = (sides(lambda s: _brow_shift(points, frame, s, -0.08 * amount)
                       + _eye_opening(points, frame, s, 0.3 * amount, 0.2 * amount))
                 + jaw[:, None] * frame.v)
    else:                            # sadness: corners down, inner brows up
        field = sides(lambda s: _mouth_droop(points, frame, s, 0.4 * amount)
                      + _brow_shift(points, frame, s, -0.04 * amount))
    return _warp(rgb, points, field, frame)


#: CK+ emotion codes of the expressions the simulator poses.
_EMOTION_CODES = {"happiness": 5, "sadness": 6, "surprise": 7}


def _palsy_frame(rgb, points, side, eye, mouth, rng) -> Face:
    """A YFP-like frame with the given region intensities (0, 0.5 slight, 1 strong).

    Half the frames catch the patient mid-expression (as YFP's videos of patients
    talking and smiling do): the affected side then moves less than the other, by as
    much as the palsy is strong, so an expression is no cue to health.
    """
    def strength(intensity):
        return rng.uniform(0.2, 0.4) if intensity == 0.5 else rng.uniform(0.6, 1.0)

    strengths = {}
    if eye:
        strengths["eye"] = strengths["brow"] = strength(eye)
    if mouth:
        strengths["mouth"] = strengths["fold"] = strength(mouth)
    if rng.random() < 0.5:
        weakness = max(strengths.values(), default=0.0)
        expression = list(_EMOTION_CODES)[rng.integers(len(_EMOTION_CODES))]
        rgb, points = _expression(rgb, points, expression, rng.uniform(0.3, 1.0),
                                  gain={side: 1.0 - 0.9 * weakness, OTHER_SIDE[side]: 1.0})
    if not strengths:
        return _natural_asymmetry(rgb, points, rng)
    return _apply_palsy(rgb, points, side, strengths)


# ---------------------------------------------------------------------------------------
# The piecewise-affine warp over the face mesh
# ---------------------------------------------------------------------------------------
#: Triangles closing the eye and mouth openings, which the face-mesh tessellation leaves
#: open: without them the lids and lips would tear away from the eyeball and teeth. Taken
#: from MediaPipe's canonical face mesh (face_landmarker.task geometry metadata); the
#: mouth is split along the midline edge 13-14, so one half can move alone.
_OPENING_TRIANGLES = (
    (173, 155, 133), (246, 33, 7), (154, 155, 157), (173, 157, 155), (161, 246, 163),
    (7, 163, 246), (145, 153, 159), (158, 159, 153), (160, 161, 144), (163, 144, 161),
    (159, 160, 145), (144, 145, 160), (153, 154, 158), (157, 158, 154), (382, 398, 362),
    (263, 466, 249), (381, 384, 382), (398, 382, 384), (388, 390, 466), (249, 466, 390),
    (374, 386, 380), (385, 380, 386), (387, 373, 388), (390, 388, 373), (386, 374, 387),
    (373, 387, 374), (380, 385, 381), (384, 381, 385), (308, 415, 324), (78, 95, 191),
    (14, 317, 13), (14, 13, 87), (312, 13, 317), (82, 87, 13), (317, 402, 312),
    (87, 82, 178), (311, 312, 402), (81, 178, 82), (402, 318, 311), (178, 81, 88),
    (310, 311, 318), (80, 88, 81), (318, 324, 310), (88, 80, 95), (415, 310, 324),
    (191, 95, 80),
)


@functools.cache
def _warp_triangles() -> np.ndarray:
    """Face-mesh triangles plus the eye and mouth openings, (T, 3) landmark indices."""
    mesh = np.asarray(mesh_indices.MESH_TRIANGLES, dtype=np.intp)
    faces = {tuple(sorted(t)) for t in mesh.tolist()}
    faces |= {tuple(sorted(t)) for t in _OPENING_TRIANGLES}
    return np.array(sorted(faces), dtype=np.intp)


def _face_triangles(points: np.ndarray) -> np.ndarray:
    """The warp's triangles for this face: :func:`_warp_triangles`, with each eye's
    opening fanned out from its iris centre instead, so that a pinned iris centre keeps
    the eyeball in place while the lids move (the opening stretches between the iris and
    the lids). An eye whose iris centre is not inside its opening (closed, or nearly)
    keeps the mesh's own opening triangles."""
    triangles = _warp_triangles()
    if len(points) <= max(_IRIS_CENTRE.values()):
        return triangles
    keep = np.ones(len(triangles), bool)
    fans = []
    for side in SIDES:
        ring = _EYE_RING[side]
        contour = points[ring].astype(np.float32)
        centre = tuple(float(v) for v in points[_IRIS_CENTRE[side]])
        if cv2.pointPolygonTest(contour, centre, measureDist=True) < 1.0:
            continue
        opening = {tuple(sorted(t)) for t in _OPENING_TRIANGLES if set(t) <= set(ring)}
        keep &= np.array([tuple(t) not in opening for t in triangles.tolist()])
        fans += [(_IRIS_CENTRE[side], ring[k], ring[(k + 1) % len(ring)])
                 for k in range(len(ring))]
    if not fans:
        return triangles
    return np.concatenate([triangles[keep], np.array(fans, dtype=np.intp)])


def _warp(image: np.ndarray, points: np.ndarray, displacement: np.ndarray,
          frame: _Frame) -> Face:
    """Move mesh landmarks by ``displacement`` (px) and warp the image to match.

    The displacement is first tapered to zero at the face outline, so pixels outside
    the face never move. Landmarks no triangle uses (the iris rings, and an iris centre
    whose eye is closed: :func:`_face_triangles`) follow the warp of the triangle they
    lie in.
    """
    source = points[:, :2].astype(np.float64)
    triangles = _face_triangles(source)
    outline = source[list(mesh_indices.FACE_OVAL[:-1])]
    to_outline = np.linalg.norm(source[:, None] - outline[None], axis=2).min(axis=1)
    shifts = displacement * _smoothstep(to_outline / (0.25 * frame.scale))[:, None]

    # Landmarks no triangle uses move as the triangle they sit in moves.
    loose = np.setdiff1d(np.arange(len(points)), triangles)
    shifts[loose] = _interpolate(source[loose], source, shifts, triangles)
    moved = points.astype(np.float32, copy=True)
    moved[:, :2] = (source + shifts).astype(np.float32)

    active = (np.linalg.norm(shifts, axis=1) > 1e-3)[triangles].any(axis=1)
    if not active.any():
        return image.copy(), moved
    # Work in pixel-index coordinates (pixel i's centre is at i), as cv2 does.
    src = source[triangles[active]] - 0.5
    dst = src + shifts[triangles[active]]
    return _remap_triangles(image, src, dst), moved


def _interpolate(query: np.ndarray, vertices: np.ndarray, values: np.ndarray,
                 triangles: np.ndarray) -> np.ndarray:
    """Barycentric interpolation of per-vertex ``values`` at ``query`` points."""
    corners = vertices[triangles]                                  # (T, 3, 2)
    e1, e2 = corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0]
    det = e1[:, 0] * e2[:, 1] - e1[:, 1] * e2[:, 0]
    det = np.where(np.abs(det) < 1e-12, np.nan, det)
    rel = query[:, None, :] - corners[None, :, 0]                   # (Q, T, 2)
    b1 = (rel[..., 0] * e2[:, 1] - rel[..., 1] * e2[:, 0]) / det
    b2 = (e1[:, 0] * rel[..., 1] - e1[:, 1] * rel[..., 0]) / det
    b0 = 1.0 - b1 - b2
    inside = (b0 >= -1e-9) & (b1 >= -1e-9) & (b2 >= -1e-9)
    result = np.zeros((len(query), values.shape[1]))
    for q in range(len(query)):
        hits = np.flatnonzero(inside[q])
        if len(hits) == 0:  # off the mesh: follow the nearest vertex
            result[q] = values[np.argmin(np.linalg.norm(vertices - query[q], axis=1))]
            continue
        t = hits[0]
        result[q] = (b0[q, t] * values[triangles[t, 0]] + b1[q, t] * values[triangles[t, 1]]
                     + b2[q, t] * values[triangles[t, 2]])
    return result


def _remap_triangles(image: np.ndarray, src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Backward-warp ``image`` so triangle ``src[k]`` lands on ``dst[k]`` (pixel indices).

    Pixels outside every destination triangle keep their value exactly.
    """
    height, width = image.shape[:2]
    x0, y0 = np.maximum(np.floor(dst.reshape(-1, 2).min(axis=0)).astype(int) - 1, 0)
    x1, y1 = np.minimum(np.ceil(dst.reshape(-1, 2).max(axis=0)).astype(int) + 2,
                        [width, height])
    if x0 >= x1 or y0 >= y1:
        return image.copy()
    # Affine map of each triangle from destination to source: A = S @ inv(D).
    dst_h = np.concatenate([dst.transpose(0, 2, 1), np.ones((len(dst), 1, 3))], axis=1)
    det = np.linalg.det(dst_h)
    usable = np.abs(det) > 1e-6  # collapsed triangles cover no pixel
    affine = np.einsum("tij,tjk->tik", src.transpose(0, 2, 1)[usable],
                       np.linalg.inv(dst_h[usable]))
    label = np.full((y1 - y0, x1 - x0), -1, dtype=np.int32)
    # Sub-pixel corners (4 fractional bits) so neighbouring triangles meet exactly.
    corners = np.round((dst[usable] - [x0, y0]) * 16).astype(np.int32)
    for k in range(len(corners)):
        cv2.fillConvexPoly(label, corners[k], k, lineType=cv2.LINE_8, shift=4)
    gy, gx = np.mgrid[y0:y1, x0:x1].astype(np.float32)
    inside = label >= 0
    pick = label[inside]
    map_x, map_y = gx.copy(), gy.copy()
    map_x[inside] = (affine[pick, 0, 0] * gx[inside] + affine[pick, 0, 1] * gy[inside]
                     + affine[pick, 0, 2])
    map_y[inside] = (affine[pick, 1, 0] * gx[inside] + affine[pick, 1, 1] * gy[inside]
                     + affine[pick, 1, 2])
    out = image.copy()
    out[y0:y1, x0:x1] = cv2.remap(image, map_x, map_y, cv2.INTER_LINEAR,
                                  borderMode=cv2.BORDER_REFLECT101)
    return out


def _soften_fold(image: np.ndarray, points: np.ndarray, side: str, strength: float) -> np.ndarray:
    """Blend a blurred copy into a band along the nasolabial fold: a flatter fold."""
    frame = _face_frame(points)
    scale = frame.scale
    start = points[_NOSE_ALA[side], :2] + 0.06 * scale * frame.outward(side)
    end = (points[_MOUTH_CORNER[side], :2] + 0.1 * scale * frame.outward(side)
           + 0.08 * scale * frame.v)
    pad = int(np.ceil(0.3 * scale))
    height, width = image.shape[:2]
    x0, y0 = np.maximum(np.floor(np.minimum(start, end)).astype(int) - pad, 0)
    x1, y1 = np.minimum(np.ceil(np.maximum(start, end)).astype(int) + pad, [width, height])
    if x0 >= x1 or y0 >= y1:
        return image
    band = np.zeros((y1 - y0, x1 - x0), dtype=np.float32)
    cv2.line(band, tuple(np.round(start - [x0, y0]).astype(int)),
             tuple(np.round(end - [x0, y0]).astype(int)), 1.0,
             thickness=max(1, int(round(0.08 * scale))))
    band = cv2.GaussianBlur(band, (0, 0), sigmaX=max(0.5, 0.05 * scale))
    half = _half_face_mask(image.shape[:2], points, frame, side)[y0:y1, x0:x1]
    alpha = (0.6 * strength * band * half)[..., None]
    region = image[y0:y1, x0:x1].astype(np.float32)
    blurred = cv2.GaussianBlur(region, (0, 0), sigmaX=max(0.5, 0.04 * scale))
    out = image.copy()
    out[y0:y1, x0:x1] = np.clip(np.round(region + alpha * (blurred - region)), 0, 255)
    return out


#: Landmarks a smile barely moves: forehead, nose bridge and inner eye corners. The
#: smile photo is aligned to the rest photo on these.
_STABLE_POINTS = [10, 151, 9, 8, 168, 6, 197, 195, 5, 133, 362, 243, 463]


def _similarity_fit(source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """2 x 3 least-squares similarity (Umeyama) mapping ``source`` points onto ``target``."""
    mu_s, mu_t = source.mean(axis=0), target.mean(axis=0)
    s, t = source - mu_s, target - mu_t
    u, sigma, vt = np.linalg.svd(t.T @ s / len(s))
    d = np.diag([1.0, np.sign(np.linalg.det(u @ vt))])
    rotation = u @ d @ vt
    scale = float(np.trace(np.diag(sigma) @ d) / (s ** 2).sum(axis=1).mean())
    return np.column_stack([scale * rotation, mu_t - scale * rotation @ mu_s])


def _match_colours(image: np.ndarray, reference: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Per-channel gain and offset giving ``image`` the mean and spread of ``reference``
    inside ``mask``."""
    if mask.sum() < 16:
        return image
    src = image[mask].astype(np.float64)
    ref = reference[mask].astype(np.float64)
    gain = ref.std(axis=0) / np.maximum(src.std(axis=0), 1e-6)
    out = (image.astype(np.float64) - src.mean(axis=0)) * gain + ref.mean(axis=0)
    return np.clip(np.round(out), 0, 255).astype(np.uint8)


def _side_ramp(shape: tuple[int, int], midline: np.ndarray, frame: _Frame, side: str,
               feather: float) -> np.ndarray:
    """Per pixel, 0 on the far side of ``midline`` rising smoothly to 1 on ``side``.

    ``midline`` holds points down the face; between them the line is interpolated along
    the face's ``v`` axis, beyond them extended flat. The ramp is ``feather`` L wide on
    each side of the line.
    """
    origin = midline.mean(axis=0)
    down = (midline - origin) @ frame.v
    across = (midline - origin) @ frame.u
    order = np.argsort(down)
    gy, gx = np.mgrid[0:shape[0], 0:shape[1]].astype(np.float32) + 0.5
    pixel_down = (gx - origin[0]) * frame.v[0] + (gy - origin[1]) * frame.v[1]
    pixel_across = (gx - origin[0]) * frame.u[0] + (gy - origin[1]) * frame.u[1]
    line = np.interp(pixel_down, down[order], across[order])
    sign = 1.0 if side == "left" else -1.0
    ramp = (sign * (pixel_across - line) / (feather * frame.scale) + 1.0) / 2.0
    return _smoothstep(ramp).astype(np.float32)


# ---------------------------------------------------------------------------------------
# Masks
# ---------------------------------------------------------------------------------------
def _polygon_mask(shape: tuple[int, int], *polygons: np.ndarray) -> np.ndarray:
    mask = np.zeros(shape, dtype=np.uint8)
    for polygon in polygons:
        corners = np.round((polygon[:, :2] - 0.5) * 16).astype(np.int32)
        cv2.fillPoly(mask, [corners], 1, lineType=cv2.LINE_8, shift=4)
    return mask.astype(bool)


def _half_face_mask(shape, points, frame, side) -> np.ndarray:
    """Inside the face oval and on ``side`` of the landmarks' own midline."""
    oval = np.array(mesh_indices.FACE_OVAL[:-1])
    sign = 1.0 if side == "left" else -1.0
    on_side = oval[sign * frame.lateral[oval] >= 0]
    # Walk the oval's ``side`` half from top to chin, then back up the midline.
    top_to_chin = on_side[np.argsort(points[on_side, :2] @ frame.v)]
    midline = _MIDLINE[np.argsort(-(points[_MIDLINE, :2] @ frame.v))]
    return _polygon_mask(shape, points[np.concatenate([top_to_chin, midline])])


def _region_masks(shape, points, side, effects) -> dict[str, np.ndarray]:
    masks = {
        "face": _polygon_mask(shape, points[list(mesh_indices.FACE_OVAL)]),
        "brow": _polygon_mask(shape, points[_BROW["right"]], points[_BROW["left"]]),
        "eye": _polygon_mask(shape, points[_EYE_RING["right"]], points[_EYE_RING["left"]]),
        "mouth": _polygon_mask(shape, points[list(mesh_indices.LIPS_OUTER)]),
    }
    if side is None or not effects:
        masks["paralysed"] = np.zeros(shape, dtype=bool)
        return masks
    frame = _face_frame(points)
    # Each effect's band of the face, as positions down the face axis ``v`` (px):
    # brow from the top to the eyes, eye from the brow to the nose tip, mouth and fold
    # from half-way down the nose to the chin.
    depth_of = {name: float(np.mean(points[idx, :2] @ frame.v)) for name, idx in (
        ("brow", _BROW["right"] + _BROW["left"]),
        ("eye", _EYE_RING["right"] + _EYE_RING["left"]), ("nose", [_NOSE_TIP]))}
    mid_nose = (depth_of["eye"] + depth_of["nose"]) / 2
    bands = {"brow": (-np.inf, depth_of["eye"]), "eye": (depth_of["brow"], depth_of["nose"]),
             "mouth": (mid_nose, np.inf), "fold": (mid_nose, np.inf)}
    gy, gx = np.mgrid[0:shape[0], 0:shape[1]].astype(np.float32) + 0.5
    depth = gx * frame.v[0] + gy * frame.v[1]
    in_band = np.zeros(shape, dtype=bool)
    for effect in effects:
        low, high = bands[effect]
        in_band |= (depth >= low) & (depth <= high)
    masks["paralysed"] = _half_face_mask(shape, points, frame, side) & in_band
    return masks


# ---------------------------------------------------------------------------------------
# Helpers: checks, subjects, jitter, files
# ---------------------------------------------------------------------------------------
def _check_face(rgb, landmarks) -> Face:
    image = np.asarray(rgb)
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f"Expected an RGB uint8 image of shape (H, W, 3), got {image.dtype} "
                         f"{image.shape}; load photos with palsy_core.load_image.")
    points = np.asarray(landmarks, dtype=np.float32)
    if points.ndim != 2 or points.shape[0] != len(MIRRORED_INDEX) or points.shape[1] not in (2, 3):
        raise ValueError(f"Expected ({len(MIRRORED_INDEX)}, 3) MediaPipe landmarks in pixels, "
                         f"got shape {points.shape}.")
    if not np.isfinite(points).all():
        raise ValueError("The landmarks contain NaN or infinite values.")
    if points.shape[1] == 2:
        points = np.column_stack([points, np.zeros(len(points), np.float32)])
    height, width = image.shape[:2]
    if points[:, 0].max() <= 1.0 and points[:, 1].max() <= 1.0 and max(height, width) > 2:
        raise ValueError("The landmarks look normalised to [0, 1]; multiply x by the image "
                         "width and y by its height to get pixels.")
    return image, points


def _check_faces(faces) -> list[Face]:
    faces = list(faces)
    if not faces:
        raise ValueError("Need at least one source face (rgb, landmarks).")
    return [_check_face(rgb, landmarks) for rgb, landmarks in faces]


def _check_positive(**counts: int) -> None:
    for name, value in counts.items():
        if int(value) != value or value < 1:
            raise ValueError(f"{name} must be a positive whole number, not {value!r}")


def _parse_severity(severity) -> tuple[str, float]:
    if isinstance(severity, str):
        if severity not in SEVERITY_STRENGTH:
            raise ValueError(f"severity must be a number in (0, 1] or one of "
                             f"{tuple(SEVERITY_STRENGTH)}, not {severity!r}")
        return severity, SEVERITY_STRENGTH[severity]
    strength = float(severity)
    if not 0.0 < strength <= 1.0:
        raise ValueError(f"severity must be in (0, 1], not {severity!r}")
    name = next(name for name, upper in _SEVERITY_UPPER if strength <= upper)
    return name, strength


def _subjects(faces: list[Face], n: int, rng: np.random.Generator):
    """``n`` distinct identities made from the source faces in turn."""
    for k in range(n):
        rgb, points = faces[k % len(faces)]
        yield vary_identity(rgb, points, seed=int(rng.integers(2**31)))


def _video_jitter(image: np.ndarray, points: np.ndarray, rng: np.random.Generator) -> Face:
    """Frame-to-frame pose and exposure wobble of a video, and its loss of detail.

    Half the frames lose detail as recorded video does (soft focus, a smaller source
    upscaled, JPEG-like compression), whatever their label: otherwise a model learns
    that the softened cheek of a simulated palsy is the only blur it ever sees.
    """
    image, points = _similarity(image, points, angle_deg=rng.uniform(-2, 2),
                                scale=rng.uniform(0.98, 1.02), shift=rng.uniform(-3, 3, size=2))
    image = _colour_jitter(image, gain=np.full(3, rng.uniform(0.8, 1.1)), gamma=1.0,
                           offset=rng.uniform(-30, 12))
    if rng.random() < 0.5:
        image = _lose_detail(image, rng)
    return image, points


def _lose_detail(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    height, width = image.shape[:2]
    kind = rng.integers(3)
    if kind == 0:
        return cv2.GaussianBlur(image, (0, 0), sigmaX=rng.uniform(0.5, 1.0))
    if kind == 1:
        factor = rng.uniform(0.5, 0.8)
        small = cv2.resize(image, (max(1, round(width * factor)), max(1, round(height * factor))),
                           interpolation=cv2.INTER_AREA)
        return cv2.resize(small, (width, height), interpolation=cv2.INTER_LINEAR)
    quality = int(rng.integers(35, 80))
    ok, encoded = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    return cv2.imdecode(encoded, cv2.IMREAD_UNCHANGED) if ok else image


def _similarity(image: np.ndarray, points: np.ndarray, *, angle_deg: float, scale: float,
                shift: np.ndarray) -> Face:
    """Rotate and scale about the face centre, then shift (px); landmarks follow."""
    centre = points[:, :2].mean(axis=0) - 0.5
    matrix = cv2.getRotationMatrix2D((float(centre[0]), float(centre[1])), angle_deg, scale)
    matrix[:, 2] += shift
    height, width = image.shape[:2]
    out = cv2.warpAffine(image, matrix, (width, height), flags=cv2.INTER_LINEAR,
                         borderMode=cv2.BORDER_REFLECT101)
    moved = points.astype(np.float32, copy=True)
    moved[:, :2] = (points[:, :2] - 0.5) @ matrix[:, :2].T + matrix[:, 2] + 0.5
    moved[:, 2] *= scale
    return out, moved


def _colour_jitter(image: np.ndarray, *, gain: np.ndarray, gamma: float,
                   offset: float) -> np.ndarray:
    levels = np.arange(256, dtype=np.float64) / 255.0
    tables = [np.clip(np.round(255.0 * levels**gamma * g + offset), 0, 255).astype(np.uint8)
              for g in gain]
    return np.stack([cv2.LUT(image[..., c], tables[c]) for c in range(3)], axis=-1)


def _save(rgb: np.ndarray, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    # Fast PNG compression: test data sets are written often and read once.
    Image.fromarray(rgb).save(path, **({"compress_level": 1} if path.suffix == ".png" else {}))


def _voc_xml(image_path: Path, shape: tuple[int, ...], points: np.ndarray,
             eye: float, mouth: float) -> str:
    word = {0.0: "Normal", 0.5: "SlightPalsy", 1.0: "StrongPalsy"}
    regions = [("Eyes", eye, _EYE_RING["right"] + _EYE_RING["left"] + _BROW["right"]
                + _BROW["left"]), ("Mouth", mouth, list(mesh_indices.LIPS_OUTER))]
    objects = []
    for region, intensity, indices in regions:
        x_min, y_min = np.floor(points[indices, :2].min(axis=0)).astype(int)
        x_max, y_max = np.ceil(points[indices, :2].max(axis=0)).astype(int)
        objects.append(
            f"  <object>\n    <name>{word[intensity]}_{region}</name>\n"
            "    <pose>Unspecified</pose>\n    <truncated>0</truncated>\n"
            "    <difficult>0</difficult>\n    <bndbox>\n"
            f"      <xmin>{max(x_min, 0)}</xmin>\n      <ymin>{max(y_min, 0)}</ymin>\n"
            f"      <xmax>{min(x_max, shape[1] - 1)}</xmax>\n"
            f"      <ymax>{min(y_max, shape[0] - 1)}</ymax>\n    </bndbox>\n  </object>\n")
    return (f"<annotation>\n  <folder>{image_path.parent.name}</folder>\n"
            f"  <filename>{image_path.name}</filename>\n"
            f"  <size>\n    <width>{shape[1]}</width>\n    <height>{shape[0]}</height>\n"
            f"    <depth>3</depth>\n  </size>\n  <segmented>0</segmented>\n"
            + "".join(objects) + "</annotation>\n")
