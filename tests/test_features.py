"""The 29 features against hand-computed values, and their invariances."""

import math

import numpy as np
import pytest

from palsy_core import FEATURE_NAMES, compute_features, deviation_from_symmetry, keypoints_51
from palsy_core.face.landmarks import KEYPOINTS_51_MEDIAPIPE

# A symmetric face about x = 100 (pixels, y down). Right = subject's right = image left.
_RIGHT_HALF = {
    0: (40, 60), 1: (50, 55), 2: (60, 54), 3: (70, 55), 4: (80, 58),
    10: (45, 80), 11: (55, 75), 12: (65, 75), 13: (75, 80), 14: (65, 85), 15: (55, 85),
    23: (88, 110), 24: (94, 112),
    28: (80, 130), 29: (88, 127), 30: (95, 126),
    38: (94, 139), 39: (88, 136),
    40: (84, 130), 41: (92, 129), 45: (92, 133), 48: (0, 100),
}
_MIDLINE = {22: (100, 100), 25: (100, 113), 31: (100, 127), 37: (100, 140), 42: (100, 129),
            46: (100, 134), 50: (100, 180)}
#: P index -> its mirror partner (P0..P4 <-> P9..P5 and so on).
MIRROR = {0: 9, 1: 8, 2: 7, 3: 6, 4: 5, 10: 19, 11: 18, 12: 17, 13: 16, 14: 21, 15: 20,
          23: 27, 24: 26, 28: 34, 29: 33, 30: 32, 38: 36, 39: 35, 40: 44, 41: 43, 45: 47,
          48: 49}
MIRROR.update({v: k for k, v in MIRROR.items()})
MIRROR.update({k: k for k in _MIDLINE})


def symmetric_face() -> np.ndarray:
    pts = np.zeros((51, 2))
    for i, xy in {**_RIGHT_HALF, **_MIDLINE}.items():
        pts[i] = xy
    for i, (x, y) in _RIGHT_HALF.items():
        pts[MIRROR[i]] = (200 - x, y)
    return pts


def test_symmetric_face_has_symmetric_values():
    f = compute_features(symmetric_face())
    assert f.shape == (29,) and len(FEATURE_NAMES) == 29
    assert f[[0, 1, 2]] == pytest.approx(180.0)
    assert f[[7, 14, 22]] == pytest.approx(0.0)
    assert f[23] == pytest.approx(90.0)
    assert f[[3, 8, 9, 10, 11, 12, 13, 15, 16, 17, 24]] == pytest.approx(1.0)
    assert f[[4, 5, 6]] == pytest.approx(0.0)
    dev = deviation_from_symmetry(f)
    assert np.nanmax(dev) == pytest.approx(0.0, abs=1e-9)
    assert np.isnan(dev[[18, 19, 20, 21, 25, 26, 27, 28]]).all()


def test_hand_computed_values_on_an_asymmetric_face():
    p = symmetric_face()
    p[34] = (120, 138)   # subject's left mouth corner 8 px lower
    p[16] = (130, 80)    # left eye 5 px narrower
    p[9] = (160, 64)     # left outer brow 4 px lower
    f = compute_features(p)
    a = 200.0                                   # face width d(P48, P49)
    h = math.dist(p[34], p[28])                 # mouth width
    assert f[0] == pytest.approx(abs(math.degrees(math.atan2(60 - 64, 40 - 160))))
    assert f[3] == pytest.approx(np.mean([60, 55, 54, 55, 58]) / np.mean([58, 55, 54, 55, 64]))
    assert f[4] == pytest.approx(4 / 120)
    assert f[8] == pytest.approx(25 / 30)
    assert f[14] == pytest.approx(math.degrees(math.atan2(8, 40)))
    assert f[15] == pytest.approx(1.0)
    assert f[18] == pytest.approx(max(math.dist(p[37], p[28]), math.dist(p[37], p[34])) / a)
    assert f[19] == pytest.approx(max(math.dist(p[29], p[39]), math.dist(p[33], p[35])) / h)
    right = sum(math.dist(p[i], p[j]) for i, j in
                [(28, 29), (29, 30), (30, 31), (31, 37), (37, 38), (38, 39), (39, 28)])
    left = sum(math.dist(p[i], p[j]) for i, j in
               [(31, 32), (32, 33), (33, 34), (34, 35), (35, 36), (36, 37), (37, 31)])
    assert f[21] == pytest.approx(max(right, left) / h)
    assert f[27] == pytest.approx(40 / a)
    assert f[28] == pytest.approx(14 / a)


def test_eye_opening_ratio_rule():
    p = symmetric_face()
    p[[11, 12], 1] = 80  # right upper lid at the lower lid's level minus 5: q = 5, r = 10
    assert compute_features(p)[11] == pytest.approx(0.5)
    p[[11, 12], 1] = 85  # right eye closed: q = 0 -> r / q is undefined -> q / r = 0
    assert compute_features(p)[11] == pytest.approx(0.0)


def _rotate(points, degrees, centre=(37.0, -12.0)):
    t = math.radians(degrees)
    rot = np.array([[math.cos(t), -math.sin(t)], [math.sin(t), math.cos(t)]])
    return (points - centre) @ rot.T + centre


def test_rotation_scale_and_mirror_invariance():
    p = symmetric_face()
    p[34] = (121, 137)
    p[9] = (161, 63)
    base = compute_features(p)
    # f3 compares mean brow y coordinates, as the spec defines it, so it depends on where
    # the face sits in the image; every other feature is invariant.
    moving = [i for i in range(29) if i != 3]
    assert compute_features(_rotate(p, 17))[moving] == pytest.approx(base[moving], abs=1e-9)
    assert compute_features(p * 3.5 + 11)[moving] == pytest.approx(base[moving], abs=1e-9)
    assert compute_features(p * 3.5)[3] == pytest.approx(base[3])
    mirrored = np.empty_like(p)
    for i in range(51):
        mirrored[MIRROR[i]] = (-p[i, 0], p[i, 1])
    assert compute_features(mirrored) == pytest.approx(base, abs=1e-9)


def test_batches_match_single_faces():
    rng = np.random.default_rng(0)
    batch = symmetric_face() + rng.normal(0, 2, size=(5, 51, 2))
    stacked = compute_features(batch)
    assert stacked.shape == (5, 29)
    for i in range(5):
        assert stacked[i] == pytest.approx(compute_features(batch[i]))


def test_keypoint_schemes():
    mesh = np.arange(478 * 3, dtype=float).reshape(478, 3)
    assert np.array_equal(keypoints_51(mesh), mesh[KEYPOINTS_51_MEDIAPIPE, :2])
    dlib = np.stack([np.arange(68), 2 * np.arange(68)], axis=1).astype(float)
    pts = keypoints_51(dlib, "dlib68")
    assert pts.shape == (51, 2)
    assert pts[0].tolist() == [17, 34] and pts[22].tolist() == [30, 60]
    assert pts[48].tolist() == [0, 0] and pts[49].tolist() == [16, 32] and pts[50].tolist() == [8, 16]
    with pytest.raises(ValueError, match="at least 468"):
        keypoints_51(dlib)


def test_mediapipe_pairs_are_mirror_pairs(astronaut, landmarker):
    """On a mirrored photo the landmarker's P-points swap sides: features nearly unchanged."""
    original = compute_features(keypoints_51(landmarker.detect(astronaut).landmarks))
    mirrored = compute_features(keypoints_51(landmarker.detect(astronaut[:, ::-1].copy()).landmarks))
    angles = [0, 1, 2, 7, 14, 22, 23]
    ratios = [i for i in range(29) if i not in angles]
    assert mirrored[angles] == pytest.approx(original[angles], abs=1.5)
    # Eye openings are ~8 px tall on this photo: one pixel of landmark noise is 0.1.
    assert mirrored[ratios] == pytest.approx(original[ratios], abs=0.1)
