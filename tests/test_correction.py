"""Landmark correction: handles on the real landmarks of a real photo, the analysis
recomputed from moved landmarks (palsy_core.correction)."""

from __future__ import annotations

import numpy as np
import pytest

from palsy_core.correction import CORRECTION_NOTE, HANDLES, apply_moves, handle_positions, reanalyze


@pytest.fixture(scope="module")
def result(analyzer, face_photo):
    return analyzer.analyze(face_photo, expression="smile")


def test_about_twenty_measurement_handles_with_both_sides():
    keys = [h.key for h in HANDLES]
    assert len(keys) == len(set(keys)) == 18  # + two iris radii = 20 things to adjust
    assert sum(h.key.endswith("_R") for h in HANDLES) == sum(h.key.endswith("_L") for h in HANDLES) == 7
    assert [h.key for h in HANDLES if h.iris] == ["iris_R", "iris_L"]


def test_unmoved_landmarks_give_the_same_analysis(result):
    again = reanalyze(result, result.landmarks, expression="smile")
    for name, measure in result.measurements.items():
        assert again.measurements[name].left == pytest.approx(measure.left, abs=1e-3)
        assert again.measurements[name].right == pytest.approx(measure.right, abs=1e-3)
    assert again.status == result.status and CORRECTION_NOTE not in again.warnings


def test_a_lowered_mouth_corner_lowers_that_side_only(result):
    corner = {h["key"]: h for h in handle_positions(result.landmarks)}["mouth_corner_L"]
    moved = apply_moves(result.landmarks, {"mouth_corner_L": {"x": corner["x"], "y": corner["y"] + 10}})
    assert np.count_nonzero(np.any(moved != result.landmarks, axis=1)) == 1
    again = reanalyze(result, moved, expression="smile")
    scale = result.face.mm_per_pixel
    before, after = result.measurements["commissure_height"], again.measurements["commissure_height"]
    # 10 px down the image is about 10 px down the face (a nearly upright head).
    assert before.left - after.left == pytest.approx(10 * scale, rel=0.1)
    assert after.right == pytest.approx(before.right, abs=1e-3)
    assert CORRECTION_NOTE in again.warnings


def test_a_refitted_iris_rescales_every_millimetre(result):
    spots = {h["key"]: h for h in handle_positions(result.landmarks)}
    moves = {key: {"x": spots[key]["x"], "y": spots[key]["y"], "r": 2 * spots[key]["r"]}
             for key in ("iris_R", "iris_L")}
    again = reanalyze(result, apply_moves(result.landmarks, moves), expression="smile")
    assert again.face.mm_per_pixel == pytest.approx(result.face.mm_per_pixel / 2, rel=0.02)
    assert again.measurements["brow_height"].left == pytest.approx(result.measurements["brow_height"].left / 2,
                                                                   rel=0.02)
    assert again.measurements["smile_angle"].left == pytest.approx(result.measurements["smile_angle"].left, abs=1e-3)


def test_bad_moves_are_refused(result):
    with pytest.raises(ValueError, match="Unknown landmark handle"):
        apply_moves(result.landmarks, {"nose_tip": {"x": 1, "y": 1}})
    with pytest.raises(ValueError, match="not a number"):
        apply_moves(result.landmarks, {"brow_R": {"x": float("nan"), "y": 1}})
    with pytest.raises(ValueError, match="radius must be positive"):
        apply_moves(result.landmarks, {"iris_L": {"x": 100, "y": 100, "r": 0}})
