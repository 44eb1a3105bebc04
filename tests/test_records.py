"""Patient records: save, list, plot history, export, delete; schema versioning; threads."""

from __future__ import annotations

import csv
import datetime as dt
import io
import threading

import numpy as np
import pytest
from PIL import Image
from sqlalchemy import create_engine, text

from palsy_core.records import SCHEMA_VERSION, RecordError, RecordStore, default_db_url


@pytest.fixture(scope="module")
def assessment(analyzer, astronaut):
    """A real assessment of the astronaut photo."""
    return analyzer.analyze(astronaut, source="astronaut.png")


@pytest.fixture
def store(tmp_path):
    with RecordStore(f"sqlite:///{tmp_path / 'db' / 'records.sqlite3'}") as records:
        yield records


def test_default_url_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.delenv("PALSY_DB_URL", raising=False)
    assert default_db_url().endswith("/data/records.sqlite3")
    monkeypatch.setenv("PALSY_DB_URL", f"sqlite:///{tmp_path}/x.sqlite3")
    assert default_db_url() == f"sqlite:///{tmp_path}/x.sqlite3"


def test_visits_round_trip_with_history_and_csv(store, assessment, astronaut):
    first = store.save_visit("P-0042", assessment, visit_date=dt.date(2024, 1, 10), expression="smile",
                             note="=before botox")
    second = store.save_visit("P-0042", assessment, visit_date=dt.date(2024, 3, 2), expression="smile",
                              photo=astronaut)
    store.save_visit("P-0007", assessment.to_dict(), visit_date=dt.date(2024, 2, 1))

    patients = store.list_patients()
    assert [(p.code, p.visits) for p in patients] == [("P-0007", 1), ("P-0042", 2)]
    assert patients[1].first_visit == dt.date(2024, 1, 10) and patients[1].last_visit == dt.date(2024, 3, 2)

    visits = store.list_visits("P-0042")
    assert [v.visit_id for v in visits] == [first, second]
    assert [v.has_photo for v in visits] == [False, True]
    assert visits[0].photo_jpeg is None  # listings never load photos
    assert "landmarks" not in visits[0].assessment
    assert visits[0].assessment["headline"] == assessment.headline()
    assert visits[0].affected_side == assessment.affected_side

    photo = store.get_visit(second).photo_jpeg
    decoded = Image.open(io.BytesIO(photo))
    assert decoded.format == "JPEG" and decoded.size == (512, 512)
    assert not decoded.getexif()  # no metadata survives

    history = store.measurement_history("P-0042")
    brow = [row for row in history if row["name"] == "measurements.brow_height.left"]
    assert [row["visit_date"] for row in brow] == [dt.date(2024, 1, 10), dt.date(2024, 3, 2)]
    assert brow[0]["value"] == pytest.approx(assessment.measurements["brow_height"].left)
    assert any(row["name"] == "region_asymmetry.mouth.score" for row in history)

    rows = list(csv.DictReader(io.StringIO(store.export_csv())))
    assert [row["patient"] for row in rows] == ["P-0007", "P-0042", "P-0042"]
    assert rows[1]["note"] == "'=before botox"  # never a live spreadsheet formula
    assert float(rows[1]["measurements.commissure_height.right"]) == pytest.approx(
        assessment.measurements["commissure_height"].right, rel=1e-5)
    assert len(list(csv.DictReader(io.StringIO(store.export_csv("P-0007"))))) == 1


def test_delete_visit_and_patient(store, assessment):
    keep = store.save_visit("P-1", assessment)
    gone = store.save_visit("P-1", assessment)
    store.delete_visit(gone)
    assert [v.visit_id for v in store.list_visits("P-1")] == [keep]
    assert not [row for row in store.measurement_history("P-1") if row["visit_id"] == gone]
    with pytest.raises(RecordError, match="does not exist"):
        store.delete_visit(gone)
    assert store.delete_patient("P-1") == 1
    assert store.list_patients() == []
    with pytest.raises(RecordError, match="No patient"):
        store.list_visits("P-1")


@pytest.mark.parametrize("code", ["", "Jane Doe", "x" * 41, "-leading-dash"])
def test_patient_codes_must_be_pseudonymous(store, assessment, code):
    with pytest.raises(RecordError, match="pseudonymous patient code"):
        store.save_visit(code, assessment)


def test_unknown_expression_is_refused(store, assessment):
    with pytest.raises(RecordError, match="Unknown expression"):
        store.save_visit("P-1", assessment, expression="frown")


def test_schema_version_is_recorded_and_newer_schemas_refused(tmp_path):
    url = f"sqlite:///{tmp_path / 'r.sqlite3'}"
    RecordStore(url).close()
    engine = create_engine(url)
    with engine.begin() as connection:
        assert connection.execute(text("select max(version) from schema_version")).scalar() == SCHEMA_VERSION
        connection.execute(text("insert into schema_version (version, applied_at) values (:v, :t)"),
                           {"v": SCHEMA_VERSION + 1, "t": dt.datetime(2030, 1, 1)})
    engine.dispose()
    with pytest.raises(RecordError, match="newer version"):
        RecordStore(url)


def test_unreachable_database_gives_a_clear_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(RecordError, match="records database"):
        RecordStore(f"sqlite:///{blocker}/sub/records.sqlite3")


def test_concurrent_saves_from_threads(tmp_path, assessment):
    data = assessment.to_dict()
    for url in (f"sqlite:///{tmp_path / 'threads.sqlite3'}", "sqlite://"):
        store = RecordStore(url)
        errors = []

        def save(index: int) -> None:
            try:
                for visit in range(3):
                    store.save_visit(f"P-{index % 3}", data, visit_date=dt.date(2024, 1, 1 + visit))
            except Exception as error:  # noqa: BLE001 - collected and asserted below
                errors.append(error)

        threads = [threading.Thread(target=save, args=(i,)) for i in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        assert sum(p.visits for p in store.list_patients()) == 24
        store.close()


def test_non_finite_values_are_stored_as_null(store, assessment):
    data = assessment.to_dict()
    data["mm_per_pixel"] = float("nan")
    visit = store.save_visit("P-2", data)
    assert store.get_visit(visit).assessment["mm_per_pixel"] is None
    assert np.isfinite([row["value"] for row in store.measurement_history("P-2")]).all()
