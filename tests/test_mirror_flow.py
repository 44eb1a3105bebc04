"""The mirror flow: left-right drops read from the pixels of a real photo."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from conftest import droop_point
from palsy_core import measure_face
from palsy_core.face.landmarks import mirror_landmarks
from palsy_core.face.frame import align_face_crop
from palsy_core.face.mirror_flow import (CROP_SIZE, MIN_EYE_SHARPNESS, MIRROR_FLOW_NAMES,
                                         POINT_PAIRS, flow_view, mirror_flow)


@pytest.fixture(scope="module")
def face(landmarker, face_photo):
    return landmarker.detect(face_photo)


def test_a_drooped_lower_lid_widens_the_measured_fissure_by_its_drop(landmarker, face_photo,
                                                                     face):
    """The subject's left lower lid pulled down 1 mm: the fissure difference grows by
    most of that millimetre (the landmarks, on the same photo, find under a third)."""
    mm_per_pixel = measure_face(face.landmarks).mm_per_pixel
    before = mirror_flow(face_photo, face.landmarks)
    lid = face.landmarks[POINT_PAIRS["lower_lid"][0], :2]
    eye_height = np.linalg.norm(lid - face.landmarks[POINT_PAIRS["upper_lid"][0], :2])
    drooped = droop_point(face_photo, lid, 1.0 / mm_per_pixel, 0.8 * eye_height)
    after = mirror_flow(drooped, landmarker.detect(drooped).landmarks)
    gain = after.fissure_difference_mm - before.fissure_difference_mm
    assert 0.4 < gain < 1.2, gain


def test_a_drooped_mouth_corner_reads_as_a_drop_on_its_side(landmarker, face_photo, face,
                                                           drooped_face):
    before = mirror_flow(face_photo, face.landmarks).drop_mm["mouth_corner"]
    after = mirror_flow(drooped_face, landmarker.detect(drooped_face).landmarks)
    assert after.drop_mm["mouth_corner"] - before > 1.0  # the subject's left sits lower


def test_a_mirrored_photo_gives_the_opposite_drops(face_photo, face):
    """Flipped pixels and mirrored landmarks: every value changes sign (within the
    interpolation and the flow's own asymmetry, a few tenths of a millimetre)."""
    flow = mirror_flow(face_photo, face.landmarks).as_array()
    flipped = mirror_flow(np.ascontiguousarray(face_photo[:, ::-1]),
                          mirror_landmarks(face.landmarks, face_photo.shape[1])).as_array()
    assert flow.shape == flipped.shape == (len(MIRROR_FLOW_NAMES),)
    top_half = [MIRROR_FLOW_NAMES.index(f"{name}_drop") for name in ("brow", "upper_lid",
                                                                      "lower_lid")]
    np.testing.assert_allclose(flipped[top_half], -flow[top_half], atol=0.15)
    assert np.corrcoef(flow, -flipped)[0, 1] > 0.7


def test_a_symmetric_face_has_no_drop(landmarker, face_photo, face):
    """The photo levelled on the pupils and made symmetric about the midline between
    them (its left half and that half's mirror image): every drop is near zero."""
    right, left = face.landmarks[468, :2], face.landmarks[473, :2]
    centre = (right + left) / 2
    angle = np.degrees(np.arctan2(left[1] - right[1], left[0] - right[0]))
    # Rotate about the pupils' midpoint and move it to the middle column.
    matrix = cv2.getRotationMatrix2D(tuple(map(float, centre)), float(angle), 1.0)
    size = face_photo.shape[1]
    matrix[0, 2] += size / 2 - centre[0]
    level = cv2.warpAffine(face_photo, matrix, (size, face_photo.shape[0]),
                           flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT)
    half = level[:, :size // 2]
    symmetric = np.ascontiguousarray(np.concatenate([half, half[:, ::-1]], axis=1))
    values = mirror_flow(symmetric, landmarker.detect(symmetric).landmarks).as_array()
    np.testing.assert_allclose(values, 0.0, atol=0.2)


def test_the_photos_size_does_not_matter(face_photo, face):
    """The same face 1.5 times larger: the brow and eyes read within 0.1 mm. Round the
    smiling mouth, where the two halves differ most, the flow's own noise is larger."""
    flow = mirror_flow(face_photo, face.landmarks)
    larger = cv2.resize(face_photo, None, fx=1.5, fy=1.5, interpolation=cv2.INTER_CUBIC)
    scaled = mirror_flow(larger, face.landmarks * 1.5)
    for name in ("brow", "upper_lid", "lower_lid"):
        assert scaled.drop_mm[name] == pytest.approx(flow.drop_mm[name], abs=0.1)
    np.testing.assert_allclose(scaled.as_array(), flow.as_array(), atol=0.6)


def test_a_photo_and_its_mirror_image_read_the_flow_of_the_same_view(landmarker, face_photo,
                                                                     face):
    """flow_view picks one of the two views by a rule a flip turns round, so analysing the
    mirrored photo (whose views are the same two, swapped) reads the same pixels."""
    flipped = np.ascontiguousarray(face_photo[:, ::-1])
    views = [(face_photo, face.landmarks), (flipped, landmarker.detect(flipped).landmarks)]
    crops = [align_face_crop(image, points, CROP_SIZE) for image, points in views]
    chosen = flow_view(crops)
    assert flow_view(crops[::-1]) == 1 - chosen
    image, points = views[chosen]
    left, right = np.split(crops[chosen][:, :CROP_SIZE // 2 * 2], 2, axis=1)
    assert left.mean() >= right.mean()  # the brighter image-left half decides
    # Either view alone would read a little differently (DIS is not mirror-symmetric):
    # that is why one is chosen rather than whichever photo was given.
    other = mirror_flow(*views[1 - chosen]).as_array()
    assert not np.array_equal(np.abs(mirror_flow(image, points).as_array()), np.abs(other))


def test_eye_sharpness_falls_with_blur_and_is_mirror_and_size_free(face_photo, face):
    """The sharpness the verdict gates the flow's eye on: lower for every added blur, the
    same for the mirror image, about the same for the photo enlarged (it is read on the
    aligned crop, whose size is the face's); a heavy blur falls below the gate."""
    sharpness = [mirror_flow(image, face.landmarks).eye_sharpness
                 for image in [face_photo] + [cv2.GaussianBlur(face_photo, (0, 0), s)
                                              for s in (1.0, 2.0, 4.0)]]
    assert all(a > b for a, b in zip(sharpness, sharpness[1:])), sharpness
    assert mirror_flow(face_photo, face.landmarks).sharp_enough
    assert sharpness[-1] < MIN_EYE_SHARPNESS
    flipped = mirror_flow(np.ascontiguousarray(face_photo[:, ::-1]),
                          mirror_landmarks(face.landmarks, face_photo.shape[1]))
    assert flipped.eye_sharpness == pytest.approx(sharpness[0], rel=0.05)
    larger = cv2.resize(face_photo, None, fx=1.5, fy=1.5, interpolation=cv2.INTER_CUBIC)
    assert mirror_flow(larger, face.landmarks * 1.5).eye_sharpness == pytest.approx(
        sharpness[0], rel=0.15)
