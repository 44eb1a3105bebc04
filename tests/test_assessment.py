"""The three-state verdict on real landmarks of real photos, and its properties.

A mirrored photo gives the same status and the mirrored side; a symmetric face is within
normal; scale and roll do not change the status; a turn beyond the limit is refused with
the pose reason; a stated expression the face contradicts is flagged once.
"""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from palsy_core import measure_face
from palsy_core.assessment import (MIN_ASSESSABLE_PUPIL_DISTANCE_PX, Assessment, assess,
                                   normalize_expression, not_found)
from palsy_core.face.landmarks import mirror_landmarks
from palsy_core.face.mirror_flow import mirror_flow
from palsy_core.face.normal_range import MAX_RELIABLE_YAW
from palsy_core.face.pose import (estimate_rotation, frontalize, pose_from_rotation,
                             rotate_landmarks, rotation_from_pose)


def _verdict(points, blendshapes, expression=None, faces_found=1, photo=None) -> Assessment:
    """The Analyzer's path from landmarks to verdict: undo the turn, measure, assess (the
    eye read from ``photo``'s pixels when given, else from the landmarks)."""
    frontal, pose = frontalize(points)
    flow = None if photo is None else mirror_flow(photo, points)
    face = measure_face(frontal, blendshapes, expression=normalize_expression(expression),
                        flow=flow)
    return assess(face, head_pose=pose, blendshapes=blendshapes, stated_expression=expression,
                  pupil_distance_px=face.interpupillary_distance_mm / face.mm_per_pixel,
                  faces_found=faces_found)


@pytest.fixture(scope="module")
def healthy(landmarker, face_photo):
    return landmarker.detect(face_photo)


@pytest.fixture(scope="module")
def drooped(landmarker, drooped_face):
    return landmarker.detect(drooped_face)


def test_healthy_and_drooped_faces(healthy, drooped):
    ok = _verdict(healthy.landmarks, healthy.blendshapes, "smile")
    assert ok.status == "within_normal" and ok.affected_side is None and not ok.reasons
    assert [r.name for r in ok.regions] == ["brow", "eye", "mouth"]
    weak = _verdict(drooped.landmarks, drooped.blendshapes, "smile")
    assert weak.status == "asymmetry" and weak.affected_side == "left"
    assert weak.worst_region.name == "mouth" and weak.worst_region.weaker_side == "left"
    assert weak.worst_region.difference_mm > weak.worst_region.limit_mm
    assert "left side looks weaker" in weak.headline() and "mm" in weak.headline()


def test_symmetric_face_is_within_normal(healthy):
    points = healthy.landmarks.astype(np.float64)
    midline = (points[468, 0] + points[473, 0]) / 2
    symmetric = (points + mirror_landmarks(points, 2 * midline)) / 2
    verdict = _verdict(symmetric, healthy.blendshapes, "smile")
    assert verdict.status == "within_normal"
    assert all(r.difference_mm < 0.05 for r in verdict.regions)


def test_mirrored_photo_mirrors_the_side(analyzer, drooped_face, face_photo):
    for photo in (drooped_face, face_photo):
        plain = analyzer.analyze(photo, expression="smile").assessment
        mirrored = analyzer.analyze(np.ascontiguousarray(photo[:, ::-1]), expression="smile").assessment
        assert plain.status == mirrored.status
        flip = {"left": "right", "right": "left", None: None}
        assert mirrored.affected_side == flip[plain.affected_side]
    assert plain.status == "within_normal"  # the last one: the healthy face


@pytest.mark.parametrize("factor", [0.6, 1.5])
def test_scale_keeps_the_status(analyzer, drooped_face, face_photo, factor):
    for photo, status, side in ((drooped_face, "asymmetry", "left"),
                                (face_photo, "within_normal", None)):
        size = (round(photo.shape[1] * factor),) * 2
        resized = cv2.resize(photo, size, interpolation=cv2.INTER_AREA if factor < 1 else cv2.INTER_CUBIC)
        verdict = analyzer.analyze(resized, expression="smile").assessment
        assert (verdict.status, verdict.affected_side) == (status, side), verdict.headline()


@pytest.mark.parametrize("angle", [-15.0, 12.0])
def test_rolled_photo_keeps_the_status(analyzer, drooped_face, face_photo, angle):
    for photo, status, side in ((drooped_face, "asymmetry", "left"),
                                (face_photo, "within_normal", None)):
        h, w = photo.shape[:2]
        matrix = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
        rolled = cv2.warpAffine(photo, matrix, (w, h), borderMode=cv2.BORDER_REPLICATE)
        verdict = analyzer.analyze(rolled, expression="smile").assessment
        assert (verdict.status, verdict.affected_side) == (status, side), verdict.headline()


def test_pose_fit_matches_mediapipe_and_undoes_an_exact_turn(healthy):
    fitted = pose_from_rotation(estimate_rotation(healthy.landmarks))
    assert abs(fitted.yaw - healthy.head_pose.yaw) < 1.5  # same canonical mesh, same weights
    head = estimate_rotation(healthy.landmarks)
    turned = rotate_landmarks(healthy.landmarks, head @ rotation_from_pose(20.0, 0.0) @ head.T)
    assert abs(pose_from_rotation(estimate_rotation(turned)).yaw - fitted.yaw - 20.0) < 1.0
    before = measure_face(frontalize(healthy.landmarks)[0])
    after = measure_face(frontalize(turned)[0])
    raw = measure_face(turned)
    for name in ("brow_height", "commissure_excursion"):
        corrected = abs(after.measurements[name].difference - before.measurements[name].difference)
        uncorrected = abs(raw.measurements[name].difference - before.measurements[name].difference)
        assert corrected < 0.2 * uncorrected + 0.02


def test_turn_beyond_the_limit_is_not_assessable(healthy):
    head = estimate_rotation(healthy.landmarks)
    turned = rotate_landmarks(healthy.landmarks,
                              head @ rotation_from_pose(MAX_RELIABLE_YAW + 10.0, 0.0) @ head.T)
    verdict = _verdict(turned, healthy.blendshapes, "smile")
    assert verdict.status == "not_assessable" and verdict.affected_side is None
    assert [r.code for r in verdict.reasons] == ["head_turned"]
    assert "facing" in verdict.reasons[0].message or "pointing" in verdict.reasons[0].message
    # Within the limit, the same face is assessed.
    small = rotate_landmarks(healthy.landmarks,
                             head @ rotation_from_pose(MAX_RELIABLE_YAW / 2, 0.0) @ head.T)
    assert _verdict(small, healthy.blendshapes, "smile").status == "within_normal"


def test_small_face_is_not_assessable(analyzer, face_photo):
    ipd = 0.8 * MIN_ASSESSABLE_PUPIL_DISTANCE_PX
    points = analyzer.analyze(face_photo).landmarks
    factor = ipd / np.linalg.norm(points[468, :2] - points[473, :2])
    small = cv2.resize(face_photo, None, fx=factor, fy=factor, interpolation=cv2.INTER_AREA)
    canvas = np.full((max(small.shape[0], 200), max(small.shape[1], 200), 3), 128, np.uint8)
    canvas[:small.shape[0], :small.shape[1]] = small
    verdict = analyzer.analyze(canvas, expression="smile").assessment
    assert verdict.status == "not_assessable"
    assert "face_too_small" in [r.code for r in verdict.reasons]


def test_stated_expression_wins_and_a_contradiction_is_flagged_once(analyzer, face_photo):
    detected = analyzer.analyze(face_photo)
    assert detected.assessment.expression_source == "detected"
    assert detected.assessment.expression == "smile"  # the astronaut smiles broadly
    result = analyzer.analyze(face_photo, expression="rest")
    verdict = result.assessment
    assert verdict.expression == "rest" and verdict.expression_source == "stated"
    assert verdict.status == "not_assessable" and verdict.affected_side is None
    assert [r.code for r in verdict.reasons] == ["expression_contradicted"]
    line = verdict.expression_mismatch
    assert line and "\n" not in line and "rest" in line and "smile" in line
    # Said once: the flag, quoted by the one reason (and so by the headline that reads it
    # out); not again among the warnings or the region notes.
    assert json.dumps(verdict.to_dict()).count(line) == 2
    assert result.headline().count(line) == 1
    assert not any("smile" in w and "rest" in w for w in result.warnings)
    assert not any(line in r.note for r in verdict.regions)
    # A stated smile on a smiling face: no flag.
    assert analyzer.analyze(face_photo, expression="smile").assessment.expression_mismatch is None


def test_expressions_without_limits_and_closed_eyes(healthy):
    raised = _verdict(healthy.landmarks, healthy.blendshapes, "brow raise")
    assert raised.status == "not_assessable"
    assert "expression_without_limits" in [r.code for r in raised.reasons]
    # Each refusal says where the movement is graded instead: a visit, against rest.
    assert "visit beside a rest photo" in raised.reasons[0].message
    assert "each brow rises" in raised.reasons[0].message
    closed = dict(healthy.blendshapes, eyeBlinkLeft=0.9, eyeBlinkRight=0.9, mouthSmileLeft=0.0,
                  mouthSmileRight=0.0)
    verdict = _verdict(healthy.landmarks, closed, "rest")
    assert verdict.status == "not_assessable"
    assert [r.code for r in verdict.reasons] == ["eyes_closed"]
    assert "each eye's rest opening" in verdict.reasons[0].message
    with pytest.raises(ValueError, match="Unknown expression"):
        normalize_expression("grimace")


def test_several_faces_warn_but_do_not_refuse(healthy, face_photo):
    verdict = _verdict(healthy.landmarks, healthy.blendshapes, "smile", faces_found=2,
                       photo=face_photo)
    assert verdict.status == "within_normal"
    assert [w.code for w in verdict.warnings] == ["several_faces"]


def test_a_soft_photo_reads_the_eye_from_the_landmarks_and_says_so(landmarker, face_photo):
    """Blurred until its eyes are below the sharpness gate, the photo is still judged, by
    the landmarks-only limit, with a warning that says why and what to retake."""
    soft = cv2.GaussianBlur(face_photo, (0, 0), 4.0)
    found = landmarker.detect(soft)
    verdict = _verdict(found.landmarks, found.blendshapes, "smile", photo=soft)
    assert verdict.status != "not_assessable"
    assert [w.code for w in verdict.warnings] == ["soft_photo"]
    assert "Retake in focus" in verdict.warnings[0].message
    assert {r.name: r for r in verdict.regions}["eye"].measure == "palpebral_fissure_height"


def test_a_small_face_reads_the_eye_from_the_landmarks_and_says_so(landmarker, face_photo,
                                                                  healthy):
    """58 px between the pupils: assessable, but below the flow's own minimum face size."""
    from palsy_core.face.mirror_flow import MIN_FLOW_PUPIL_DISTANCE_PX

    pupils = np.linalg.norm(healthy.landmarks[473, :2] - healthy.landmarks[468, :2])
    factor = 58.0 / pupils
    small = cv2.resize(face_photo, None, fx=factor, fy=factor, interpolation=cv2.INTER_AREA)
    found = landmarker.detect(small)
    flow = mirror_flow(small, found.landmarks)
    assert MIN_ASSESSABLE_PUPIL_DISTANCE_PX < flow.pupil_distance_px < MIN_FLOW_PUPIL_DISTANCE_PX
    verdict = _verdict(found.landmarks, found.blendshapes, "smile", photo=small)
    assert verdict.status != "not_assessable"
    assert [w.code for w in verdict.warnings] == ["soft_photo"]
    assert {r.name: r for r in verdict.regions}["eye"].measure == "palpebral_fissure_height"


def test_the_eye_is_read_from_the_photo_when_there_is_one(healthy, face_photo):
    """With the photo the eye reads the mirror flow's fissure (and decides in a smile too);
    landmarks alone are judged by the landmarks-only limit, with a warning that says so."""
    from palsy_core.face.normal_range import load_normal_limits

    limits = load_normal_limits()
    read = _verdict(healthy.landmarks, healthy.blendshapes, "smile", photo=face_photo)
    eye = {r.name: r for r in read.regions}["eye"]
    assert eye.measure == "palpebral_fissure_flow" and eye.decides_side
    assert eye.difference_mm == pytest.approx(
        abs(mirror_flow(face_photo, healthy.landmarks).fissure_difference_mm))
    assert read.combined_limit == limits.combined_for("smile").limit
    assert not read.warnings
    alone = _verdict(healthy.landmarks, healthy.blendshapes, "smile")
    eye = {r.name: r for r in alone.regions}["eye"]
    assert eye.measure == "palpebral_fissure_height" and not eye.decides_side
    assert alone.combined_limit == limits.combined_for("smile", mirror_flow=False).limit
    assert alone.combined_limit != read.combined_limit
    assert [w.code for w in alone.warnings] == ["landmarks_only"]


def test_to_dict_has_the_issue_keys_and_a_consistent_side(healthy, drooped):
    for face in (healthy, drooped):
        data = _verdict(face.landmarks, face.blendshapes, "smile").to_dict()
        assert {"status", "affected_side", "regions", "reasons"} <= set(data)
        assert data["affected_side"] is None or data["status"] == "asymmetry"
        for region in data["regions"]:
            assert {"name", "measure", "difference_mm", "limit_mm", "weaker_side",
                    "beyond_limit"} <= set(region)
    missing = not_found("No face found.").to_dict()
    assert missing["status"] == "not_assessable" and missing["reasons"][0]["code"] == "no_face"
    with pytest.raises(ValueError):
        Assessment("within_normal", "left", ())


def test_in_a_smile_the_eye_alone_names_no_side(analyzer, face_photo):
    """The spec's rule (clinical-measurements.md, 3): a real smiling face with one eye
    warped open is outside normal, but in a smile the eye cannot tell the side alone (the
    weak eye narrows too after long-standing palsy): asymmetry, no side, and a warning
    that asks for a photo at rest."""
    from trainers.data.simulate import simulate_palsy

    landmarks = analyzer.analyze(face_photo).landmarks
    for side in ("left", "right"):
        warped = simulate_palsy(face_photo, landmarks, side=side, region="eye",
                                severity="moderate", seed=0).image
        result = analyzer.analyze(warped, expression="smile")
        verdict = result.assessment
        assert verdict.status == "asymmetry" and verdict.affected_side is None
        assert verdict.worst_region.name == "eye" and verdict.worst_region.points_to == side
        assert [w.code for w in verdict.warnings] == ["side_unclear"]
        # Said once: not again by the per-region rule's note.
        assert sum("side" in w for w in result.warnings) == 1
        assert "side is unclear" in verdict.headline() and "at rest" in verdict.headline()
        assert verdict.to_dict()["affected_side"] is None


def test_a_side_the_smiling_eye_points_to_needs_the_mouth_beyond_one_rms():
    """On the shipped smile limit: the eye far out names its side only when the mouth, at
    least one healthy root-mean-square out, points the same way (a brow doing so is not
    enough); at rest the eye names it."""
    from palsy_core.face.normal_range import (SIDE_NEEDS_SUPPORT, SIDE_SUPPORT_Z,
                                              SIDE_SUPPORTED_BY, load_normal_limits)

    limits = load_normal_limits()
    smile, rest = limits.combined_for("smile"), limits.combined_for("rest")
    eye = SIDE_NEEDS_SUPPORT["smile"][0]

    def signed(limit, eye_z, **z):
        rms = dict(zip(limit.measures, limit.rms))
        values = dict.fromkeys(limit.measures, 0.0)
        for measure, value in {eye: eye_z, **z}.items():
            values[measure] = value * rms[measure]
        return values

    rule = {"needs_support": SIDE_NEEDS_SUPPORT["smile"],
            "supported_by": SIDE_SUPPORTED_BY["smile"]}
    assert smile.weaker_side(signed(smile, 8.0), **rule) is None
    below, above = 0.9 * SIDE_SUPPORT_Z, 1.1 * SIDE_SUPPORT_Z
    assert smile.weaker_side(signed(smile, 8.0, commissure_height=below), **rule) is None
    assert smile.weaker_side(signed(smile, 8.0, commissure_height=above), **rule) == "left"
    assert smile.weaker_side(signed(smile, 8.0, commissure_excursion=above), **rule) == "left"
    assert smile.weaker_side(signed(smile, -8.0, commissure_height=-1.5), **rule) == "right"
    assert smile.weaker_side(signed(smile, 8.0, commissure_height=-1.5), **rule) is None
    assert smile.weaker_side(signed(smile, 8.0, brow_height=2.0), **rule) is None  # not the brow
    assert smile.weaker_side(signed(smile, 8.0)) == "left"  # no rule given: the eye
    assert rest.weaker_side(signed(rest, 8.0),
                            needs_support=SIDE_NEEDS_SUPPORT.get("rest", ())) == "left"



# -- the combined limit on real landmarks: mirrored, symmetric, scaled -----------------------
def test_the_verdict_reads_the_combined_limit(drooped):
    weak = _verdict(drooped.landmarks, drooped.blendshapes, "smile")
    assert weak.combined_score > weak.combined_limit > 0
    assert weak.worst_region is weak.supporting_regions[0]
    assert all(r.points_to == "left" and r.share > 0 for r in weak.supporting_regions)
    shares = [r.share for r in weak.regions if r.share is not None]
    assert sum(shares) == pytest.approx(weak.combined_score, rel=1e-6)
    data = weak.to_dict()
    assert data["combined_score"] == pytest.approx(weak.combined_score, abs=1e-3)
    assert {"share", "points_to"} <= set(data["regions"][0])


def test_mirrored_landmarks_give_the_same_score_and_the_mirrored_side(drooped, healthy):
    flip = {"left": "right", "right": "left", None: None}
    for face in (drooped, healthy):
        points = face.landmarks.astype(np.float64)
        width = 2 * float(points[:, 0].max()) + 10  # any image width: mirroring is about x
        plain = _verdict(points, face.blendshapes, "smile")
        mirrored = _verdict(mirror_landmarks(points, width), face.blendshapes, "smile")
        assert mirrored.combined_score == pytest.approx(plain.combined_score, rel=1e-6)
        assert mirrored.status == plain.status
        assert mirrored.affected_side == flip[plain.affected_side]
        assert ([r.points_to for r in mirrored.regions]
                == [flip[r.points_to] for r in plain.regions])


def test_symmetric_landmarks_score_zero(healthy):
    points = healthy.landmarks.astype(np.float64)
    midline = (points[468, 0] + points[473, 0]) / 2
    symmetric = (points + mirror_landmarks(points, 2 * midline)) / 2
    verdict = _verdict(symmetric, healthy.blendshapes, "smile")
    assert verdict.status == "within_normal" and verdict.combined_score < 0.01


@pytest.mark.parametrize("factor", [0.5, 3.0])
def test_scaled_landmarks_keep_the_combined_score(drooped, factor):
    # measure_face works in mm from the iris: scaling the landmarks changes no millimetre
    # (up to the 0.001 mm rounding of the per-side values).
    plain = _verdict(drooped.landmarks, drooped.blendshapes, "smile")
    scaled = drooped.landmarks.astype(np.float64) * factor
    verdict = _verdict(scaled, drooped.blendshapes, "smile")
    assert verdict.combined_score == pytest.approx(plain.combined_score, rel=0.02)
    assert (verdict.status, verdict.affected_side) == (plain.status, plain.affected_side)


def test_regions_pointing_to_the_other_side_are_named_beside_the_side(analyzer):
    """A smile on one half of a real face, the rest photo on the other (person 001 of the
    London Set): the resting mouth names the left side, while the smiling half's brow sits
    lower (a smile lowers the brow) and points right with a large share. The verdict keeps
    the mouth's side and says the brow points the other way; the right-hand composite,
    whose brow does not, gets no such warning."""
    from pathlib import Path

    from trainers._london import load_work_photo
    from trainers.data.simulate import composite_palsy

    london = Path(__file__).resolve().parents[1].parent / "shared" / "faces" / "london"
    if not (london / "neutral" / "001_03.jpg").is_file():
        pytest.skip(f"the London Set is not at {london} (a fresh clone has no ../shared)")
    rest = load_work_photo(london / "neutral" / "001_03.jpg")
    smile = load_work_photo(london / "smiling" / "001_08.jpg")
    rest_points = analyzer.analyze(rest).landmarks
    smile_points = analyzer.analyze(smile).landmarks
    verdicts = {side: analyzer.analyze(composite_palsy(rest, rest_points, smile, smile_points,
                                                       side=side).image,
                                       expression="smile").assessment
                for side in ("left", "right")}
    left = verdicts["left"]
    assert (left.status, left.affected_side) == ("asymmetry", "left")
    warning = next(w.message for w in left.warnings if w.code == "regions_disagree")
    assert "the brow points to the subject's right side, the mouth to the left" in warning
    assert verdicts["right"].affected_side == "right"
    assert "regions_disagree" not in [w.code for w in verdicts["right"].warnings]
