"""The palsy simulator on a real photo, checked by the real landmarker where it matters."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from palsy_core.face import landmarks as mesh
from trainers.data.simulate import (
    MIRRORED_INDEX,
    SimulatedCase,
    mirror_landmarks,
    simulate_healthy,
    simulate_palsy,
    vary_identity,
    write_simulated_ckplus,
    write_simulated_yfp,
)

MIDLINE = np.flatnonzero(MIRRORED_INDEX == np.arange(len(MIRRORED_INDEX)))
BROW_POINTS = [70, 63, 105, 66, 107, 300, 293, 334, 296, 336]


def eye_distance(points: np.ndarray) -> float:
    right = points[list(mesh.RIGHT_EYE[:-1]), :2].mean(axis=0)
    left = points[list(mesh.LEFT_EYE[:-1]), :2].mean(axis=0)
    return float(np.linalg.norm(left - right))


@pytest.fixture(scope="module")
def severe_cases(astronaut, astronaut_landmarks) -> dict[str, SimulatedCase]:
    return {side: simulate_palsy(astronaut, astronaut_landmarks, side=side, region="full",
                                 severity="severe", seed=3)
            for side in ("left", "right")}


def test_same_seed_same_case_other_seed_other_case(astronaut, astronaut_landmarks):
    first = simulate_palsy(astronaut, astronaut_landmarks, side="left", severity=0.5, seed=7)
    again = simulate_palsy(astronaut, astronaut_landmarks, side="left", severity=0.5, seed=7)
    other = simulate_palsy(astronaut, astronaut_landmarks, side="left", severity=0.5, seed=8)
    assert np.array_equal(first.image, again.image)
    assert np.array_equal(first.landmarks, again.landmarks)
    assert not np.array_equal(first.landmarks, other.landmarks)


@pytest.mark.parametrize("side, corner, other_corner", [("right", 61, 291), ("left", 291, 61)])
def test_mouth_corner_drops_on_the_subjects_side(severe_cases, astronaut_landmarks, side,
                                                 corner, other_corner):
    # 61 is the subject's right corner: on the image's left in this unmirrored photo.
    assert astronaut_landmarks[61, 0] < astronaut_landmarks[291, 0]
    moved = severe_cases[side].landmarks
    scale = eye_distance(astronaut_landmarks)
    drop = moved[corner, 1] - astronaut_landmarks[corner, 1]
    assert drop > 0.08 * scale
    # ... and towards the midline (less excursion).
    midline_x = astronaut_landmarks[MIDLINE, 0].mean()
    assert (abs(moved[corner, 0] - midline_x)
            < abs(astronaut_landmarks[corner, 0] - midline_x))
    assert np.array_equal(moved[other_corner], astronaut_landmarks[other_corner])


def test_midline_does_not_move(severe_cases, astronaut_landmarks):
    for case in severe_cases.values():
        assert np.array_equal(case.landmarks[MIDLINE], astronaut_landmarks[MIDLINE])


def test_image_changes_only_on_the_affected_half_face(severe_cases, astronaut):
    for side, case in severe_cases.items():
        changed = (case.image != astronaut).any(axis=2)
        assert changed.sum() > 500
        half_face = cv2.dilate(case.masks["paralysed"].astype(np.uint8), np.ones((5, 5)))
        assert not (changed & (half_face == 0)).any(), side


def test_eye_widens_and_brow_drops(severe_cases, astronaut_landmarks):
    moved = severe_cases["right"].landmarks
    scale = eye_distance(astronaut_landmarks)

    def fissure(points):  # right eye: lower lid - upper lid
        return points[145, 1] - points[159, 1]

    assert fissure(moved) > fissure(astronaut_landmarks) + 0.02 * scale
    assert moved[145, 1] > astronaut_landmarks[145, 1] + 0.02 * scale
    assert moved[105, 1] > astronaut_landmarks[105, 1] + 0.02 * scale   # right brow
    assert fissure(severe_cases["left"].landmarks) == fissure(astronaut_landmarks)



def test_brow_and_eye_each_move_their_own_feature(astronaut, astronaut_landmarks):
    # A sinking brow folds the skin above the lid but leaves the lid margin in place; an
    # opening eye leaves the brow in place (the brow's lower edge, above the pupil: 52).
    scale = eye_distance(astronaut_landmarks)
    brow = simulate_palsy(astronaut, astronaut_landmarks, side="right", region="brow",
                          severity=1.0, seed=0).landmarks
    eye = simulate_palsy(astronaut, astronaut_landmarks, side="right", region="eye",
                         severity=1.0, seed=0).landmarks
    moved = lambda points, i: float(points[i, 1] - astronaut_landmarks[i, 1])  # noqa: E731
    assert moved(brow, 52) > 0.05 * scale
    assert abs(moved(brow, 159)) < 0.002 * scale and abs(moved(brow, 145)) < 0.002 * scale
    assert moved(eye, 159) < -0.004 * scale and moved(eye, 145) > 0.02 * scale
    assert abs(moved(eye, 52)) < 0.002 * scale



def test_the_eyeball_stays_where_it_is_while_the_lids_open(astronaut, astronaut_landmarks):
    # The lids open over the eye: the iris centre (the pupil every height is measured
    # from) neither moves nor is smeared, while the lower lid sags.
    case = simulate_palsy(astronaut, astronaut_landmarks, side="left", region="eye",
                          severity=1.0, seed=0)
    scale = eye_distance(astronaut_landmarks)
    assert np.abs(case.landmarks[473, :2] - astronaut_landmarks[473, :2]).max() < 1e-3
    assert case.landmarks[374, 1] - astronaut_landmarks[374, 1] > 0.02 * scale
    x, y = np.floor(astronaut_landmarks[473, :2]).astype(int)  # the pixel under the pupil
    assert np.abs(case.image[y, x].astype(int) - astronaut[y, x].astype(int)).max() <= 4


def test_a_sinking_brow_does_not_narrow_the_eye_in_the_pixels(landmarker, astronaut,
                                                              astronaut_landmarks):
    from palsy_core.face.mirror_flow import mirror_flow

    before = mirror_flow(astronaut, astronaut_landmarks)
    case = simulate_palsy(astronaut, astronaut_landmarks, side="left", region="brow",
                          severity=1.0, seed=0)
    after = mirror_flow(case.image, landmarker.detect(case.image).landmarks)
    assert after.drop_mm["brow"] - before.drop_mm["brow"] > 2.0          # left brow lower
    assert abs(after.fissure_difference_mm - before.fissure_difference_mm) < 0.4


def test_real_landmarker_sees_the_simulated_palsy(landmarker, severe_cases, astronaut,
                                                  astronaut_landmarks):
    """The warp moves the face as the returned landmarks say, and MediaPipe agrees."""
    scale = eye_distance(astronaut_landmarks)
    before = landmarker.detect(astronaut)
    for side, corner in (("right", 61), ("left", 291)):
        case = severe_cases[side]
        after = landmarker.detect(case.image)
        detected_drop = after.landmarks[corner, 1] - before.landmarks[corner, 1]
        simulated_drop = case.landmarks[corner, 1] - astronaut_landmarks[corner, 1]
        assert abs(detected_drop - simulated_drop) < 0.04 * scale
        # MediaPipe's Left/Right blendshapes are the subject's sides.
        weak = "Right" if side == "right" else "Left"
        strong = "Left" if side == "right" else "Right"
        smile = after.blendshapes
        assert smile[f"mouthSmile{weak}"] < smile[f"mouthSmile{strong}"] - 0.15


def test_severity_orders_the_droop(astronaut, astronaut_landmarks):
    drops = [simulate_palsy(astronaut, astronaut_landmarks, side="left", region="mouth",
                            severity=name, seed=0).landmarks[291, 1]
             for name in ("mild", "moderate", "severe")]
    assert drops[0] < drops[1] < drops[2]


def test_regions_and_central_pattern(astronaut, astronaut_landmarks):
    eye_only = simulate_palsy(astronaut, astronaut_landmarks, side="right", region="eye",
                              severity="moderate", seed=0)
    scale = eye_distance(astronaut_landmarks)
    assert np.abs(eye_only.landmarks[61] - astronaut_landmarks[61]).max() < 0.01 * scale
    assert eye_only.landmarks[145, 1] > astronaut_landmarks[145, 1]   # lower lid down
    assert eye_only.landmarks[159, 1] < astronaut_landmarks[159, 1]   # upper lid up

    central = simulate_palsy(astronaut, astronaut_landmarks, side="right", region="full",
                             pattern="central", seed=0)
    peripheral = simulate_palsy(astronaut, astronaut_landmarks, side="right", region="full",
                                pattern="peripheral", seed=0)
    def brow_shift(case):
        return np.abs(case.landmarks[BROW_POINTS] - astronaut_landmarks[BROW_POINTS]).max()

    assert brow_shift(central) < 0.01 * scale < 0.03 * scale < brow_shift(peripheral)
    assert central.landmarks[61, 1] > astronaut_landmarks[61, 1]
    with pytest.raises(ValueError, match="central palsy spares the brow"):
        simulate_palsy(astronaut, astronaut_landmarks, side="right", region="brow",
                       pattern="central")


@pytest.mark.parametrize("region, severity, eye, mouth, severity_class", [
    ("eye", "mild", 0.5, 0.0, "mild_eye"),
    ("brow", 0.9, 1.0, 0.0, "severe_eye"),
    ("mouth", 0.5, 0.0, 1.0, "moderate_mouth"),
    ("full", "moderate", 1.0, 1.0, None),
])
def test_labels(astronaut, astronaut_landmarks, region, severity, eye, mouth, severity_class):
    case = simulate_palsy(astronaut, astronaut_landmarks, side="left", region=region,
                          severity=severity, seed=0)
    assert (case.palsy, case.side, case.region) == (1, "left", region)
    assert (case.eye, case.mouth, case.severity_class) == (eye, mouth, severity_class)
    assert case.severity == (severity if isinstance(severity, str) else
                             {0.9: "severe", 0.5: "moderate"}[severity])
    assert set(case.masks) == {"face", "brow", "eye", "mouth", "paralysed"}
    assert all(m.shape == astronaut.shape[:2] and m.dtype == bool for m in case.masks.values())
    # The paralysed region lies in the face, on the subject's left = image right.
    paralysed = case.masks["paralysed"]
    assert paralysed.any() and not (paralysed & ~case.masks["face"]).any()
    assert np.nonzero(paralysed)[1].min() >= astronaut_landmarks[MIDLINE, 0].min() - 2


def test_mirrored_swaps_side_and_keeps_index_meaning(severe_cases, astronaut):
    case = severe_cases["right"]
    flipped = case.mirrored()
    width = astronaut.shape[1]
    assert flipped.side == "left" and flipped.palsy == 1 and flipped.region == "full"
    assert np.array_equal(flipped.image, case.image[:, ::-1])
    # The drooping corner (61 before) is now the subject's left corner 291, on the right.
    assert flipped.landmarks[291, 0] == pytest.approx(width - case.landmarks[61, 0])
    assert flipped.landmarks[291, 1] == case.landmarks[61, 1]
    assert flipped.landmarks[291, 0] > flipped.landmarks[61, 0]
    assert np.array_equal(flipped.masks["paralysed"], case.masks["paralysed"][:, ::-1])
    twice = flipped.mirrored()
    assert twice.side == "right"
    assert np.allclose(twice.landmarks, case.landmarks, atol=1e-4)


def test_mirrored_index_pairs_the_real_mesh(landmarker, astronaut, astronaut_landmarks):
    assert np.array_equal(MIRRORED_INDEX[MIRRORED_INDEX], np.arange(478))
    assert (MIRRORED_INDEX[[33, 61, 127, 468]] == [263, 291, 356, 473]).all()
    # The mirror maps each named contour onto its partner.
    for right, left in ((mesh.RIGHT_EYE, mesh.LEFT_EYE), (mesh.RIGHT_BROW, mesh.LEFT_BROW),
                        (mesh.FACE_OVAL, mesh.FACE_OVAL), (mesh.LIPS_OUTER, mesh.LIPS_OUTER),
                        (mesh.LIPS_INNER, mesh.LIPS_INNER), (mesh.RIGHT_IRIS, mesh.LEFT_IRIS)):
        assert set(MIRRORED_INDEX[list(right)]) == set(left)
    # The landmarker run on the flipped photo finds what mirror_landmarks predicts.
    flipped = np.ascontiguousarray(astronaut[:, ::-1])
    detected = landmarker.detect(flipped).landmarks
    predicted = mirror_landmarks(astronaut_landmarks, astronaut.shape[1])
    error = np.linalg.norm(detected[:, :2] - predicted[:, :2], axis=1)
    assert np.median(error) < 0.03 * eye_distance(astronaut_landmarks)


def test_healthy_case_has_small_asymmetry_only(astronaut, astronaut_landmarks):
    case = simulate_healthy(astronaut, astronaut_landmarks, seed=1)
    assert (case.palsy, case.side, case.severity, case.eye, case.mouth) == (0, None, None, 0, 0)
    assert not case.masks["paralysed"].any()
    shift = np.linalg.norm(case.landmarks[:, :2] - astronaut_landmarks[:, :2], axis=1)
    assert 0 < shift.max() < 0.03 * eye_distance(astronaut_landmarks)
    assert np.array_equal(simulate_healthy(astronaut, astronaut_landmarks, seed=1).image,
                          case.image)
    assert case.mirrored().side is None


def test_displacements_scale_with_the_face(astronaut, astronaut_landmarks):
    big = cv2.resize(astronaut, None, fx=2, fy=2, interpolation=cv2.INTER_LINEAR)
    small_case = simulate_palsy(astronaut, astronaut_landmarks, side="left", seed=0)
    big_case = simulate_palsy(big, astronaut_landmarks * [2, 2, 2], side="left", seed=0)
    small_drop = small_case.landmarks[291, 1] - astronaut_landmarks[291, 1]
    big_drop = big_case.landmarks[291, 1] - 2 * astronaut_landmarks[291, 1]
    assert big_drop == pytest.approx(2 * small_drop, rel=0.01)


def test_vary_identity_makes_a_different_face_with_true_landmarks(landmarker, astronaut,
                                                                  astronaut_landmarks):
    image, points = vary_identity(astronaut, astronaut_landmarks, seed=5)
    other, _ = vary_identity(astronaut, astronaut_landmarks, seed=6)
    assert image.shape == astronaut.shape and points.shape == (478, 3)
    assert not np.array_equal(image, other)
    detected = landmarker.detect(image).landmarks
    error = np.linalg.norm(detected[:, :2] - points[:, :2], axis=1)
    assert np.median(error) < 0.05 * eye_distance(points)


@pytest.mark.slow
def test_sharpness_is_no_cue_to_the_label(astronaut, astronaut_landmarks, tmp_path):
    """Blur and compression fall on palsy and healthy frames alike, as in real video."""
    from PIL import Image

    faces = [(astronaut, astronaut_landmarks)]
    samples = (write_simulated_yfp(tmp_path / "yfp", faces, n_subjects=3, frames_per_subject=8)
               + write_simulated_ckplus(tmp_path / "ckplus", faces, n_subjects=3,
                                        frames_per_subject=8))

    def sharpness(path):
        grey = cv2.cvtColor(np.asarray(Image.open(path)), cv2.COLOR_RGB2GRAY)
        return cv2.Laplacian(grey, cv2.CV_64F).var()

    by_label = {label: np.array([sharpness(s.path) for s in samples if s.palsy == label])
                for label in (0, 1)}
    for values in by_label.values():
        assert values.max() > 2 * values.min()  # sharp and soft frames in each class
    ratio = np.median(by_label[1]) / np.median(by_label[0])
    assert 0.6 < ratio < 1.6


@pytest.mark.parametrize("kwargs, message", [
    ({"side": "up"}, "subject's side"),
    ({"side": "left", "region": "nose"}, "region must be"),
    ({"side": "left", "severity": 1.5}, r"severity must be in \(0, 1\]"),
    ({"side": "left", "severity": "extreme"}, "severity must be"),
    ({"side": "left", "pattern": "bilateral"}, "pattern must be"),
])
def test_bad_arguments_are_refused_clearly(astronaut, astronaut_landmarks, kwargs, message):
    with pytest.raises(ValueError, match=message):
        simulate_palsy(astronaut, astronaut_landmarks, **kwargs)


def test_bad_faces_are_refused_clearly(astronaut, astronaut_landmarks):
    normalised = astronaut_landmarks / [512, 512, 512]
    with pytest.raises(ValueError, match="normalised"):
        simulate_healthy(astronaut, normalised)
    with pytest.raises(ValueError, match=r"\(478, 3\)"):
        simulate_healthy(astronaut, astronaut_landmarks[:468])
    with pytest.raises(ValueError, match="RGB uint8"):
        simulate_healthy(astronaut.astype(np.float32), astronaut_landmarks)


# -- composite palsy: one person's smile on one half, their rest photo on the other ---------
LONDON = Path(__file__).resolve().parents[1].parent / "shared" / "faces" / "london"
needs_london = pytest.mark.skipif(
    not (LONDON / "neutral" / "001_03.jpg").is_file(),
    reason="the Face Research Lab London Set is not at ../shared/faces/london (composite "
           "palsy needs one person's rest and smile photos)")


@pytest.fixture(scope="module")
def london_pair(landmarker):
    """Person 001 at rest and smiling, at the trainers' working size, with landmarks."""
    from trainers._london import load_work_photo

    rest = load_work_photo(LONDON / "neutral" / "001_03.jpg")
    smile = load_work_photo(LONDON / "smiling" / "001_08.jpg")
    return rest, landmarker.detect(rest).landmarks, smile, landmarker.detect(smile).landmarks


def _seam_roughness(image: np.ndarray, case: SimulatedCase, columns: int = 4) -> float:
    """Mean horizontal colour step per pixel near the face's midline, over the face."""
    grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY).astype(np.float64)
    step = np.abs(np.diff(grey, axis=1))
    points = case.landmarks
    mid_x = np.interp(np.arange(grey.shape[0]), *zip(*sorted(
        (points[i, 1], points[i, 0]) for i in MIDLINE)))
    rows = np.flatnonzero(case.masks["face"].any(axis=1))
    return float(np.mean([step[r, int(mid_x[r]) - columns:int(mid_x[r]) + columns].mean()
                          for r in rows]))


@needs_london
@pytest.mark.parametrize("side", ["left", "right"])
def test_composite_palsy_is_seen_on_its_resting_side(landmarker, london_pair, side):
    from palsy_core import measure_face
    from trainers.data.simulate import composite_palsy

    case = composite_palsy(*london_pair, side=side)
    assert (case.palsy, case.side, case.region) == (1, side, "mouth")
    assert case.masks["paralysed"].any()
    # The paralysed mask lies on the subject's side (subject's right = image left).
    columns = np.flatnonzero(case.masks["paralysed"].any(axis=0))
    face_mid = case.landmarks[MIDLINE, 0].mean()
    assert (columns.mean() < face_mid) == (side == "right")
    found = landmarker.detect(case.image)
    measured = measure_face(found.landmarks, found.blendshapes)
    assert measured.regions["mouth"].weaker_side == side


@needs_london
def test_composite_seam_is_no_hard_edge(london_pair):
    from trainers.data.simulate import composite_palsy

    rest = london_pair[0]
    case = composite_palsy(*london_pair, side="left")
    hard = composite_palsy(*london_pair, side="left", feather=0.005)
    feathered, edged = _seam_roughness(case.image, case), _seam_roughness(hard.image, case)
    untouched = _seam_roughness(rest, case)
    assert feathered < edged
    assert feathered < 1.25 * untouched, (feathered, untouched)


@needs_london
def test_mirrored_composite_swaps_the_side(london_pair):
    from trainers.data.simulate import composite_palsy

    rest, rest_points, smile, smile_points = london_pair
    case = composite_palsy(rest, rest_points, smile, smile_points, side="left")
    mirrored = case.mirrored()
    assert mirrored.side == "right"
    width = rest.shape[1]
    flipped = composite_palsy(rest[:, ::-1].copy(), mirror_landmarks(rest_points, width),
                              smile[:, ::-1].copy(), mirror_landmarks(smile_points, width),
                              side="right")
    assert flipped.side == "right"
    face = mirrored.masks["face"]
    difference = np.abs(flipped.image.astype(int) - mirrored.image.astype(int))[face]
    assert difference.mean() < 2.0


def test_composite_refuses_mismatched_photos(astronaut, astronaut_landmarks):
    from trainers.data.simulate import composite_palsy

    with pytest.raises(ValueError, match="same size"):
        composite_palsy(astronaut, astronaut_landmarks, astronaut[:400], astronaut_landmarks,
                        side="left")
    with pytest.raises(ValueError, match="subject's side"):
        composite_palsy(astronaut, astronaut_landmarks, astronaut, astronaut_landmarks,
                        side="middle")


def test_jitter_photo_moves_landmarks_with_the_face(landmarker, astronaut, astronaut_landmarks):
    from trainers.data.simulate import jitter_photo

    image, points = jitter_photo(astronaut, astronaut_landmarks, seed=5)
    assert image.shape == astronaut.shape and not np.array_equal(image, astronaut)
    found = landmarker.detect(image).landmarks
    scale = eye_distance(astronaut_landmarks)
    assert np.median(np.linalg.norm(found[:, :2] - points[:, :2], axis=1)) < 0.05 * scale
    alone, none = jitter_photo(astronaut, seed=5)
    assert none is None and alone.shape == astronaut.shape
