"""eFACE-style and Sunnybrook estimates: the documented mapping, healthy faces, simulated palsy.

Real landmarker on the Face Research Lab London Set (../shared/faces/london, never copied;
skipped with the reason when absent) and trainers.data.simulate's palsy of the subject's right
side on a rest + smile pair.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from palsy_core import analyze_visit, load_image
from palsy_core.grading import grading_map
from trainers.data.simulate import simulate_palsy

LONDON = Path(__file__).resolve().parents[2] / "shared" / "faces" / "london"
REST, SMILE = LONDON / "neutral" / "001_03.jpg", LONDON / "smiling" / "001_08.jpg"
needs_london = pytest.mark.skipif(not REST.exists() or not SMILE.exists(),
                                  reason=f"London Set photos not found under {LONDON}")
METHODS = {"static_difference", "movement_ratio", "eye_narrowing", "mouth_movement", "needs_clinician",
           "resting_flag", "movement_grade", "mouth_movement_grade", "eye_narrowing_grade"}


def _all_items(document):
    yield from document["efACE"]["items"]
    for part in ("resting", "voluntary", "synkinesis"):
        yield from document["sunnybrook"][part]["items"]


def test_every_item_is_documented_with_its_sources():
    document = grading_map()
    assert "estimate" in document["label"].lower()
    for item in _all_items(document):
        assert item["method"] in METHODS, item["key"]
        assert item["sources"] and set(item["sources"]) <= set(document["sources"]), item["key"]
        if item["method"] == "needs_clinician":
            assert item["reason"], item["key"]
        elif item["method"] != "movement_grade":  # graded by the part's documented bands
            assert item["definition"], item["key"]
    assert len(document["efACE"]["items"]) == 15  # Banks et al. 2015's fifteen items
    assert [i["key"] for i in document["sunnybrook"]["voluntary"]["items"]] == [
        "forehead_wrinkle", "gentle_eye_closure", "open_mouth_smile", "snarl", "lip_pucker"]


@pytest.fixture(scope="module")
def severities(analyzer):
    """Visits (rest + smile) of London person 001: healthy, then simulated right palsy."""
    rest, smile = load_image(REST), load_image(SMILE)
    points = [analyzer.analyze(image).landmarks for image in (rest, smile)]
    visits = {"healthy": analyze_visit([rest, smile], ["rest", "full_smile"], analyzer)}
    for severity in ("mild", "moderate", "severe"):
        images = [simulate_palsy(image, p, side="right", region="full", severity=severity, seed=1).image
                  for image, p in zip((rest, smile), points)]
        visits[severity] = analyze_visit(images, ["rest", "full_smile"], analyzer)
    return visits


@needs_london
def test_a_healthy_person_scores_near_normal(severities):
    visit = severities["healthy"]
    eface, sunny = visit.efACE, visit.sunnybrook
    assert eface["static"] == 100.0  # every resting difference within healthy limits
    assert eface["total"] >= 90.0
    assert sunny["resting"] == 0.0 and sunny["synkinesis"] == 0.0
    assert sunny["total"] >= 80.0
    # What photographs cannot measure is left to the clinician, never guessed.
    for key in ("nasolabial_fold_rest", "mentalis_synkinesis", "platysmal_synkinesis"):
        assert eface["items"][key] is None
        assert eface["item_details"][key]["status"] == "needs_clinician"
    assert sunny["items"]["voluntary.snarl"] is None and "voluntary.snarl" in sunny["needs_clinician"]
    # Items whose photo the set lacks are missing, not normal.
    assert eface["items"]["brow_elevation"] is None and "brow_elevation" in eface["missing_photo"]
    assert set(eface["measurable"]) == {k for k, v in eface["items"].items() if v is not None}


@needs_london
def test_simulated_palsy_scores_worse_with_severity_on_the_right_side(severities):
    static = [severities[s].efACE["static"] for s in ("healthy", "mild", "moderate", "severe")]
    total = [severities[s].efACE["total"] for s in ("healthy", "mild", "moderate", "severe")]
    resting = [severities[s].sunnybrook["resting"] for s in ("healthy", "mild", "moderate", "severe")]
    assert static == sorted(static, reverse=True) and static[-1] <= static[0] - 8.0
    assert total[-1] < total[0] - 3.0 and total[2] < total[0]
    assert resting == sorted(resting) and resting[-1] > resting[0]
    assert severities["severe"].sunnybrook["total"] < severities["healthy"].sunnybrook["total"]
    for severity in ("moderate", "severe"):
        visit = severities[severity]
        assert visit.affected_side == "right"
        assert visit.efACE["item_details"]["oral_commissure_rest"]["scored_side"] == "right"
        # The right corner sits lower: raw below 100 (eFACE's 0-200 static slider).
        assert visit.efACE["item_details"]["oral_commissure_rest"]["raw"] < 100.0
