"""The one face frame (palsy_core.face.frame): what measurements, drawing, the models'
aligned crop and the simulator all stand on. Real landmarks of a real photo."""

from __future__ import annotations

import numpy as np
import pytest

from palsy_core.face import landmarks as lm
from palsy_core.face.frame import FaceFrame, align_face_crop, face_alignment, face_box
from palsy_core.face.landmarks import mirror_landmarks


def turned(points: np.ndarray, degrees: float, scale: float, shift=(40.0, -25.0)) -> np.ndarray:
    """The landmarks of the photo turned about its centre, scaled and moved, pixels."""
    angle = np.radians(degrees)
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    out = np.asarray(points, dtype=np.float64).copy()
    centre = np.array([256.0, 256.0])
    out[:, :2] = (out[:, :2] - centre) @ rotation.T * scale + centre + np.asarray(shift)
    return out


def test_the_frame_is_the_pupil_line_and_points_down_the_face(astronaut_landmarks):
    frame = FaceFrame(astronaut_landmarks)
    right, left = astronaut_landmarks[lm.RIGHT_IRIS[0], :2], astronaut_landmarks[lm.LEFT_IRIS[0], :2]
    assert frame.eye_distance_px == pytest.approx(np.linalg.norm(left - right))
    assert frame.x[lm.RIGHT_IRIS[0]] == pytest.approx(-frame.eye_distance_px / 2)
    assert frame.y[[lm.RIGHT_IRIS[0], lm.LEFT_IRIS[0]]] == pytest.approx([0.0, 0.0], abs=1e-6)  # float32 landmarks
    # The chin is below the eyes, the brows above, in frame y.
    assert frame.y[152] > 0 > frame.y[lm.RIGHT_BROW_LOWER[0]]
    assert frame.u @ frame.v == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize("degrees, scale", [(20.0, 1.0), (-35.0, 0.5), (60.0, 2.0)])
def test_turning_and_scaling_the_photo_only_scales_the_frame(astronaut_landmarks, degrees, scale):
    before, after = FaceFrame(astronaut_landmarks), FaceFrame(turned(astronaut_landmarks, degrees, scale))
    assert after.x == pytest.approx(before.x * scale, abs=1e-4)
    assert after.y == pytest.approx(before.y * scale, abs=1e-4)


def test_a_mirrored_face_gives_the_mirrored_frame(astronaut, astronaut_landmarks):
    mirrored = mirror_landmarks(astronaut_landmarks, astronaut.shape[1])
    before, after = FaceFrame(astronaut_landmarks), FaceFrame(mirrored)
    # Index semantics are kept: each point lands where its partner was, x negated.
    assert after.x == pytest.approx(-before.x[lm.MIRRORED_INDEX], abs=1e-4)
    assert after.y == pytest.approx(before.y[lm.MIRRORED_INDEX], abs=1e-4)
    # Flipping x alone (no re-indexing) turns u image-left; v still points down the face.
    flipped = np.asarray(astronaut_landmarks, dtype=np.float64).copy()
    flipped[:, 0] = astronaut.shape[1] - flipped[:, 0]
    assert FaceFrame(flipped).v[1] > 0 and FaceFrame(flipped).u[0] < 0


def test_the_aligned_square_levels_the_pupils_whatever_the_turn(astronaut_landmarks):
    for degrees in (0.0, 25.0, -60.0):
        points = turned(astronaut_landmarks, degrees, 1.0)
        matrix = face_alignment(points, 224)
        pupils = points[[lm.RIGHT_IRIS[0], lm.LEFT_IRIS[0]], :2] @ matrix[:, :2].T + matrix[:, 2]
        assert pupils[0, 1] == pytest.approx(pupils[1, 1], abs=1e-9)
        assert pupils[0, 0] < pupils[1, 0]  # the subject's right eye on the image left
        oval = points[list(lm.FACE_OVAL), :2] @ matrix[:, :2].T + matrix[:, 2]
        assert oval.min() > 0 and oval.max() < 224


def test_the_aligned_crop_of_a_turned_photo_matches_the_upright_one(astronaut, astronaut_landmarks):
    import cv2

    turn = cv2.getRotationMatrix2D((256.0, 256.0), 30.0, 1.0)
    photo = cv2.warpAffine(astronaut, turn, (512, 512), flags=cv2.INTER_LINEAR,
                           borderMode=cv2.BORDER_REPLICATE)
    points = np.asarray(astronaut_landmarks, dtype=np.float64).copy()
    points[:, :2] = points[:, :2] @ turn[:, :2].T + turn[:, 2]
    upright, level = align_face_crop(astronaut, astronaut_landmarks), align_face_crop(photo, points)
    assert upright.shape == level.shape == (224, 224, 3)
    # Two resamplings apart: the same face, not the same pixels.
    assert np.abs(upright.astype(float) - level.astype(float)).mean() < 12.0


def test_coincident_eyes_are_refused():
    points = np.zeros((478, 3))
    with pytest.raises(ValueError, match="coincide"):
        FaceFrame(points)


def test_the_face_box_holds_every_landmark_with_its_margin_and_stays_in_the_photo(astronaut, astronaut_landmarks):
    xy = np.asarray(astronaut_landmarks)[:, :2]
    x0, y0, x1, y1 = face_box(xy, astronaut.shape, margin=0.25)
    width, height = np.ptp(xy, axis=0)
    assert x0 <= xy[:, 0].min() - 0.25 * width and x1 >= xy[:, 0].max() + 0.25 * width
    assert y0 <= xy[:, 1].min() - 0.25 * height
    assert face_box(xy, astronaut.shape, margin=0.0) == (
        int(np.floor(xy[:, 0].min())), int(np.floor(xy[:, 1].min())),
        int(np.ceil(xy[:, 0].max())), int(np.ceil(xy[:, 1].max())))
    # A face at the photo's edge: the box is clipped, never outside the photo.
    edge = xy - [xy[:, 0].min() - 1.0, 0.0]
    assert face_box(edge, astronaut.shape, margin=0.5)[0] == 0
    assert face_box(xy, (100, 120, 3), margin=0.5)[2:] == (120, 100)
