"""Visit analysis: the photo set as one unit, movement detection, movements from rest, CLI.

Real landmarker on real photos of the Face Research Lab London Set (read from
../shared/faces/london, never copied; skipped with the reason when absent).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from palsy_core import MOVEMENTS, NoFaceError, analyze_visit, detect_movement, visit_from_results
from trainers.data.simulate import simulate_palsy
from palsy_core.visit import normalize_movement

LONDON = Path(__file__).resolve().parents[2] / "shared" / "faces" / "london"
REST, SMILE = LONDON / "neutral" / "001_03.jpg", LONDON / "smiling" / "001_08.jpg"
needs_london = pytest.mark.skipif(not REST.exists() or not SMILE.exists(),
                                  reason=f"London Set photos not found under {LONDON}")


@pytest.fixture(scope="module")
def pair_visit(analyzer):
    return analyze_visit([REST, SMILE], ["rest", "smile"], analyzer)


@pytest.mark.parametrize("blendshapes, movement", [
    ({}, "rest"),
    ({"eyeBlinkLeft": 0.9, "eyeBlinkRight": 0.9}, "gentle_eye_closure"),
    ({"eyeBlinkLeft": 0.9, "eyeBlinkRight": 0.9, "cheekSquintLeft": 0.6, "cheekSquintRight": 0.5},
     "tight_eye_closure"),
    ({"browInnerUp": 0.97}, "brow_raise"),
    ({"mouthPucker": 0.97}, "pucker"),
    ({"mouthPucker": 0.86}, "rest"),  # the most a relaxed London face reaches
    ({"mouthStretchLeft": 0.5, "mouthStretchRight": 0.45, "mouthSmileLeft": 0.2, "mouthSmileRight": 0.2}, "eee"),
    ({"mouthSmileLeft": 0.7, "mouthSmileRight": 0.7}, "closed_smile"),
    ({"mouthSmileLeft": 0.7, "mouthSmileRight": 0.7, "mouthUpperUpLeft": 0.8, "mouthUpperUpRight": 0.7},
     "full_smile"),
])
def test_detect_movement_reads_the_eight_movements(blendshapes, movement):
    guess = detect_movement(blendshapes)
    assert guess.movement == movement
    assert 0.0 <= guess.confidence <= 1.0 and guess.basis


def test_uncalibrated_distinctions_report_lower_confidence():
    tight = detect_movement({"eyeBlinkLeft": 1.0, "eyeBlinkRight": 1.0, "cheekSquintLeft": 1.0,
                             "cheekSquintRight": 1.0})
    brow = detect_movement({"browInnerUp": 1.0})
    assert tight.confidence <= 0.6 < brow.confidence


def test_movement_names_accept_the_clinics_words():
    assert normalize_movement("Full smile (teeth)") == "full_smile"
    assert normalize_movement("smile") == "full_smile"
    assert normalize_movement("eyes closed") == "gentle_eye_closure"
    assert normalize_movement('"eee"') == "eee"
    with pytest.raises(ValueError, match="Unknown movement 'snarl'"):
        normalize_movement("snarl")


@needs_london
def test_a_rest_and_smile_visit(pair_visit):
    visit = pair_visit
    assert [p.movement for p in visit.photos] == ["rest", "full_smile"]
    assert [p.movement_source for p in visit.photos] == ["stated", "stated"]
    # The London smile photo is detected as a smile (this one with closed lips), the rest as rest.
    assert visit.photos[0].detected.movement == "rest"
    assert visit.photos[1].detected.movement in ("closed_smile", "full_smile")
    assert visit.checklist["rest"] and visit.checklist["full_smile"]
    assert visit.missing == [m for m in MOVEMENTS if m not in ("rest", "full_smile")]
    smile = visit.movements["full_smile"]
    assert smile.measure == "commissure_excursion" and smile.unit == "mm"
    assert 3.0 < smile.left < 20.0 and 3.0 < smile.right < 20.0  # a smile moves each corner mm
    assert 70.0 < smile.ratio_percent <= 100.0
    assert visit.affected_side is None  # a healthy person
    # One visit-wide scale: the smile photo's is carried from the rest photo's iris.
    rest_scale = visit.photos[0].result.face.mm_per_pixel
    assert visit.photos[0].mm_per_pixel == pytest.approx(rest_scale)
    assert visit.photos[1].mm_per_pixel == pytest.approx(rest_scale, rel=0.1)


@needs_london
def test_to_dict_is_the_cli_object(pair_visit):
    data = json.loads(json.dumps(pair_visit.to_dict()))
    assert {"photos", "movements", "affected_side", "efACE", "sunnybrook"} <= set(data)
    photo = data["photos"][1]
    assert photo["movement"] == "full_smile" and "measurements" in photo and "assessment" in photo
    assert photo["detected_movement"]["movement"] in ("closed_smile", "full_smile")
    assert "landmarks" in photo and "landmarks" not in pair_visit.to_dict(include_landmarks=False)["photos"][1]
    for scale in ("efACE", "sunnybrook"):
        assert "total" in data[scale] and data[scale]["measurable"]
        assert all(data[scale]["items"][k] is None for k in data[scale]["needs_clinician"])


@needs_london
def test_detected_when_not_stated(analyzer):
    visit = analyze_visit([REST, SMILE], analyzer=analyzer)
    assert [p.movement_source for p in visit.photos] == ["detected", "detected"]
    assert visit.photos[0].movement == "rest"
    assert visit.photos[1].movement in ("closed_smile", "full_smile")
    assert visit.photos[1].movement in visit.movements


@needs_london
def test_already_analysed_photos_make_the_same_visit(analyzer, pair_visit):
    again = visit_from_results([p.result for p in pair_visit.photos], ["rest", "full_smile"])
    assert again.movements["full_smile"].left == pytest.approx(pair_visit.movements["full_smile"].left)
    assert again.efACE["total"] == pair_visit.efACE["total"]


@needs_london
def test_no_rest_photo_measures_no_movement(analyzer):
    visit = analyze_visit([SMILE], ["full_smile"], analyzer)
    assert visit.movements == {}
    assert any("No rest photo" in note for note in visit.notes)
    assert visit.efACE["items"]["oral_commissure_smile"] is None
    assert "oral_commissure_smile" in visit.efACE["missing_photo"]


@needs_london
def test_a_photo_without_a_face_names_the_photo(analyzer):
    blank = np.full((400, 400, 3), 200, np.uint8)
    with pytest.raises(NoFaceError, match=r"Photo 2 \(pucker\): No face found"):
        analyze_visit([REST, blank], ["rest", "pucker"], analyzer)


def test_expressions_must_match_the_photos(analyzer):
    with pytest.raises(ValueError, match="2 photos but 1 expressions"):
        analyze_visit([np.zeros((10, 10, 3), np.uint8)] * 2, ["rest"], analyzer)


@needs_london
def test_mirroring_the_set_mirrors_the_side_and_keeps_the_scores(analyzer):
    """Simulated palsy of the subject's right side; the mirrored set is a left palsy."""
    from palsy_core import load_image

    rest, smile = load_image(REST), load_image(SMILE)
    cases = [simulate_palsy(img, analyzer.analyze(img).landmarks, side="right", severity="severe", seed=1)
             for img in (rest, smile)]
    visit = analyze_visit([c.image for c in cases], ["rest", "full_smile"], analyzer)
    mirrored = analyze_visit([np.ascontiguousarray(c.image[:, ::-1]) for c in cases],
                             ["rest", "full_smile"], analyzer)
    assert visit.affected_side == "right" and mirrored.affected_side == "left"
    # MediaPipe is not mirror-symmetric: on healthy London smiles a corner's movement and
    # its mirror image's differ by up to ~2 mm (001: 0.3-0.7, 002: 0.8-0.9, 003: 0.4-2.0).
    move, flipped = visit.movements["full_smile"], mirrored.movements["full_smile"]
    assert flipped.left == pytest.approx(move.right, abs=2.5)
    assert flipped.right == pytest.approx(move.left, abs=2.5)
    # The same landmarker noise moves a static item by up to ~14 points (a commissure height
    # difference 1.2 mm apart between a photo and its mirror image), the static mean of
    # three items by up to ~9: the total over five items stays within 6.
    assert mirrored.efACE["total"] == pytest.approx(visit.efACE["total"], abs=6.0)
    assert mirrored.efACE["static"] == pytest.approx(visit.efACE["static"], abs=10.0)
    assert mirrored.sunnybrook["resting"] == visit.sunnybrook["resting"]


@needs_london
def test_cli_visit_prints_one_json_object(tmp_path, capsys):
    from palsy_core.cli import EXIT_OK, EXIT_USAGE, main

    out = tmp_path / "visit.xlsx"
    assert main(["visit", str(REST), str(SMILE), "--expressions", "rest,smile", "--xlsx", str(out)]) == EXIT_OK
    printed = capsys.readouterr().out.strip().splitlines()
    assert len(printed) == 1
    data = json.loads(printed[0])
    assert [p["movement"] for p in data["photos"]] == ["rest", "full_smile"]
    assert data["efACE"]["total"] is not None and out.stat().st_size > 0
    assert main(["visit", str(REST), "--expressions", "rest,smile"]) == EXIT_USAGE
    assert "give one per photo" in capsys.readouterr().err
    assert main(["visit", str(REST), "--expressions", "snarl"]) == EXIT_USAGE
    assert "Unknown movement" in capsys.readouterr().err


@needs_london
def test_a_known_scale_serves_the_whole_visit(analyzer):
    visit = analyze_visit([REST, SMILE], ["rest", "smile"], analyzer, mm_per_pixel=0.2)
    assert visit.photos[0].mm_per_pixel == 0.2
    assert visit.photos[1].mm_per_pixel == pytest.approx(0.2, rel=0.05)  # carried by the eye corners
    assert {p.result.face.scale_source for p in visit.photos} == {"user"}
