"""Visit comparison (measured repeat-photo bands, one statement per region) and Excel export.

Real landmarker on the Face Research Lab London Set (../shared/faces/london, never copied;
skipped with the reason when absent), simulated palsy from trainers.data.simulate, and a real
SQLite record store for the stored-visit shapes.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
from pathlib import Path

import pytest

from palsy_core import analyze_visit, compare_visits, load_image, visits_to_xlsx
from palsy_core.comparison import band_for, repeat_photo_bands
from palsy_core.face.measurements import MEASUREMENT_NAMES
from trainers.data.simulate import simulate_palsy

LONDON = Path(__file__).resolve().parents[2] / "shared" / "faces" / "london"
REST, SMILE = LONDON / "neutral" / "001_03.jpg", LONDON / "smiling" / "001_08.jpg"
needs_london = pytest.mark.skipif(not REST.exists() or not SMILE.exists(),
                                  reason=f"London Set photos not found under {LONDON}")


def test_bands_are_measured_with_their_provenance():
    document = repeat_photo_bands()
    assert document["n_people"] == 82 and document["percentile"] == 95.0
    assert "London Set" in document["dataset"] and document["landmarker_sha256"]
    assert "bench_repeat_photo.py" in document["produced_by"]
    for expression in ("rest", "smile"):
        for name in MEASUREMENT_NAMES:
            band = document["bands"][expression][name]
            assert 0.0 < band["difference_band"] <= band["difference_max"]
            assert band["n"] == 82 * len(document["alterations"])
        # The eye read from the pixels: over the pairs where the verdict reads it.
        band = document["bands"][expression]["palpebral_fissure_flow"]
        assert 0.0 < band["difference_band"] <= band["difference_max"]
        assert 0.9 * 82 * len(document["alterations"]) <= band["n"] <= 82 * len(document["alterations"])
    smile = document["movement_bands"]["full_smile"]
    assert smile["side_band"] > 0 and smile["ratio_band"] > 0 and smile["n_side"] >= smile["n_ratio"] > 0
    assert band_for("commissure_height", "full_smile") == document["bands"]["smile"]["commissure_height"]["difference_band"]
    assert band_for("commissure_height", "pucker") == document["bands"]["rest"]["commissure_height"]["difference_band"]


@pytest.fixture(scope="module")
def healthy_and_palsied(analyzer):
    rest, smile = load_image(REST), load_image(SMILE)
    healthy = analyze_visit([rest, smile], ["rest", "full_smile"], analyzer, sources=["=rest.jpg", "smile.jpg"])
    images = [simulate_palsy(image, analyzer.analyze(image).landmarks, side="right", severity="severe",
                             seed=1).image for image in (rest, smile)]
    return healthy, analyze_visit(images, ["rest", "full_smile"], analyzer)


@needs_london
def test_the_same_visit_twice_is_no_real_change(healthy_and_palsied):
    healthy, _ = healthy_and_palsied
    comparison = compare_visits(healthy, healthy.to_dict())
    measures = [r for r in comparison.rows if r["section"] == "measure"]
    # Rest and smile photos, every measure, and the eye read from the pixels.
    assert len(measures) == 2 * (len(MEASUREMENT_NAMES) + 1)
    assert {r["verdict"] for r in measures} == {"no real change"}
    assert set(comparison.statements) == {"brow", "eye", "mouth", "smile_movement"}
    assert comparison.statements["eye"].startswith("Eye-opening difference (read from the pixels)")
    assert all("no change beyond what repeat photos" in s for s in comparison.statements.values())
    assert comparison.statements["smile_movement"].startswith("Smile movement, affected/healthy")
    assert {r["section"] for r in comparison.rows} >= {"measure", "movement", "efACE", "sunnybrook"}


@needs_london
def test_recovery_and_decline_are_named_beyond_the_band(healthy_and_palsied):
    healthy, palsied = healthy_and_palsied
    recovery = compare_visits(palsied, healthy)
    row = next(r for r in recovery.rows if r["section"] == "measure" and r["movement"] == "rest"
               and r["name"] == "commissure_height")
    assert row["change"] < -row["band"] and row["verdict"] == "improved"
    mouth = recovery.statements["mouth"]
    assert mouth.startswith(f"Mouth-corner difference {row['before']:.1f} \u2192 {row['after']:.1f} mm: improved")
    assert "beyond the change that repeat photos of one person show" in mouth
    decline = compare_visits(healthy, palsied)
    assert decline.statements["mouth"].split(": ")[1].startswith("worse")
    total = next(r for r in decline.rows if r["section"] == "efACE" and r["name"] == "total")
    assert total["change"] < 0


@needs_london
def test_an_eye_recovering_is_read_from_the_pixels_and_without_them_from_the_landmarks(analyzer):
    """A severe simulated eye palsy at rest, then the same face healthy: the eye's
    statement reads the flow and calls it improved. A visit saved before the flow (no
    reading) is compared by the landmarks' fissure, whose own statement says which it is."""
    rest = load_image(REST)
    palsied = simulate_palsy(rest, analyzer.analyze(rest).landmarks, side="left", region="eye",
                             severity="severe", seed=2).image
    before = analyzer.analyze(palsied, expression="rest").to_dict()
    after = analyzer.analyze(rest, expression="rest").to_dict()
    recovery = compare_visits(before, after)
    row = next(r for r in recovery.rows if r["name"] == "palpebral_fissure_flow")
    assert row["change"] < -row["band"] and row["verdict"] == "improved"
    assert recovery.statements["eye"].startswith(
        f"Eye-opening difference (read from the pixels) {row['before']:.1f} \u2192 "
        f"{row['after']:.1f} mm: improved")
    saved_before_the_flow = {key: value for key, value in before.items() if key != "mirror_flow"}
    older = compare_visits(saved_before_the_flow, after)
    assert not [r for r in older.rows if r["name"] == "palpebral_fissure_flow"]
    assert older.statements["eye"].startswith("Eye-opening difference ")
    assert "(read from the pixels)" not in older.statements["eye"]


@needs_london
def test_stored_visits_compare_and_export(tmp_path, analyzer, healthy_and_palsied):
    from openpyxl import load_workbook

    from palsy_core.records import RecordStore

    healthy, palsied = healthy_and_palsied
    with RecordStore(f"sqlite:///{tmp_path / 'db' / 'records.sqlite3'}") as store:
        for visit, day in ((palsied, dt.date(2026, 1, 5)), (healthy, dt.date(2026, 4, 5))):
            for photo in visit.photos:
                store.save_visit("P-0042", photo.result, visit_date=day,
                                 expression="rest" if photo.movement == "rest" else "smile")
        stored = store.list_visits("P-0042")
    assert len(stored) == 4
    first = [v for v in stored if v.visit_date == dt.date(2026, 1, 5)]
    latest = [dataclasses.asdict(v) for v in stored if v.visit_date == dt.date(2026, 4, 5)]  # plain dicts
    comparison = compare_visits(first, latest)
    assert comparison.basis_movement == "rest"
    assert comparison.statements["mouth"].split(": ")[1].startswith("improved")

    data = visits_to_xlsx([first, latest, healthy], tmp_path / "visits.xlsx")
    assert (tmp_path / "visits.xlsx").read_bytes() == data
    sheet = load_workbook(io.BytesIO(data))["Visits"]
    rows = list(sheet.values)
    header = rows[0]
    for title in ("Brow height L (mm)", "Brow height R (mm)", "Brow height difference (mm)",
                  "Smile angle L (deg)", "eFACE est. total (total)", "Sunnybrook est. total (total)"):
        assert title in header
    assert len(rows) == 1 + 2 + 2 + 2  # one row per visit and expression
    by_name = [dict(zip(header, row)) for row in rows[1:]]
    assert by_name[0]["Patient"] == "P-0042" and by_name[0]["Visit date"] == "2026-01-05"
    assert by_name[0]["Expression"] == "rest" and by_name[1]["Expression"] == "full smile"
    assert by_name[0]["Commissure height difference (mm)"] == pytest.approx(
        palsied.photos[0].result.measurements["commissure_height"].difference)
    assert by_name[4]["eFACE est. total (total)"] == healthy.efACE["total"]
    assert by_name[4]["Movement affected/healthy (%)"] is None  # rest has no movement
    assert by_name[5]["Movement L (mm)"] == pytest.approx(healthy.movements["full_smile"].left, abs=1e-3)
    # A photo name that a spreadsheet would run as a formula is text.
    assert by_name[4]["Photo"] == "'=rest.jpg"
    assert "About" in load_workbook(io.BytesIO(data)).sheetnames


@needs_london
def test_single_photo_results_compare_as_one_photo_visits(healthy_and_palsied):
    healthy, palsied = healthy_and_palsied
    comparison = compare_visits(palsied.photos[0].result, healthy.photos[0].result.to_dict())
    assert comparison.basis_movement == "rest"
    assert comparison.statements["mouth"].split(": ")[1].startswith("improved")
    assert not [r for r in comparison.rows if r["section"] in ("efACE", "movement")]


def test_something_else_is_not_a_visit():
    with pytest.raises(ValueError, match="Not a visit"):
        compare_visits(42, 43)
