"""Patient records: save, list, plot history, export, delete; schema versioning; threads."""

from __future__ import annotations

import csv
import datetime as dt
import io
import os
import sqlite3
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from sqlalchemy import create_engine, text

from palsy_core.records import (
    BUSY_TIMEOUT_S,
    SCHEMA_VERSION,
    RecordBusyError,
    RecordError,
    RecordStore,
    default_db_url,
)


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


@pytest.mark.slow
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


# -- data a clinic can trust (issue 14) ------------------------------------------------------

# One worker process: opens its own store and saves `count` visits of one patient.
_WORKER = """
import sys, datetime as dt
from palsy_core.records import RecordStore
url, patient, worker, count = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
store = RecordStore(url)
for index in range(count):
    store.save_visit(patient, {"headline": f"worker {worker} visit {index}",
                               "measurements": {"brow_height": {"left": 1.0 + index, "right": 2.0}}},
                     visit_date=dt.date(2024, 1, 1), note=f"w{worker}-{index}")
store.close()
print("done", worker)
"""


def concurrent_first_saves(url: str, processes: int = 4, visits: int = 10) -> list[subprocess.CompletedProcess]:
    """Start `processes` processes at once, each saving `visits` visits of one NEW patient."""
    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": str(root)}
    started = [subprocess.Popen([sys.executable, "-c", _WORKER, url, "P-NEW", str(worker), str(visits)],
                                cwd=root, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
               for worker in range(processes)]
    done = []
    for process in started:
        out, err = process.communicate(timeout=300)
        done.append(subprocess.CompletedProcess(process.args, process.returncode, out, err))
    return done


def saves_from_threads(store, patient: str, assessment, save_key: str, threads: int = 6) -> list:
    """Start `threads` threads at once, each saving the same visit with the same save key;
    returns the visit ids they got."""
    ids = []
    started = [threading.Thread(target=lambda: ids.append(store.save_visit(patient, assessment, save_key=save_key)))
               for _ in range(threads)]
    for thread in started:
        thread.start()
    for thread in started:
        thread.join()
    return ids


@pytest.mark.slow
def test_concurrent_first_saves_of_one_patient_from_processes_lose_nothing(tmp_path):
    url = f"sqlite:///{tmp_path / 'db' / 'records.sqlite3'}"
    results = concurrent_first_saves(url)
    for result in results:
        assert result.returncode == 0, result.stderr[-2000:]
        assert "IntegrityError" not in result.stderr
    with RecordStore(url) as store:
        assert [(p.code, p.visits) for p in store.list_patients()] == [("P-NEW", 40)]
        notes = sorted(visit.note for visit in store.list_visits("P-NEW"))
        assert notes == sorted(f"w{w}-{i}" for w in range(4) for i in range(10))


def test_the_same_save_twice_is_one_visit(store, assessment):
    first = store.save_visit("P-3", assessment, save_key="photo-digest:2024-05-01:rest", actor="alice")
    again = store.save_visit("P-3", assessment, save_key="photo-digest:2024-05-01:rest", actor="alice")
    other = store.save_visit("P-3", assessment, save_key="photo-digest:2024-05-01:smile", actor="alice")
    assert first.created and not again.created and other.created
    assert int(again) == int(first) and int(other) != int(first)
    assert len(store.list_visits("P-3")) == 2
    assert [entry.detail for entry in store.audit_trail()][:2] == [
        "rest, " + dt.date.today().isoformat(), "same save repeated: nothing stored"]


def test_repeated_save_key_from_threads_stores_one_visit(store, assessment):
    ids = saves_from_threads(store, "P-4", assessment.to_dict(), save_key="k")
    assert len(set(map(int, ids))) == 1 and sum(i.created for i in ids) == 1
    assert len(store.list_visits("P-4")) == 1


@pytest.mark.slow
def test_a_locked_database_says_try_again_within_seconds(tmp_path, assessment):
    path = tmp_path / "locked.sqlite3"
    store = RecordStore(f"sqlite:///{path}")
    blocker = sqlite3.connect(path, isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")  # e.g. a backup tool or a stuck process
    try:
        started = time.monotonic()
        with pytest.raises(RecordBusyError, match="try again") as caught:
            store.save_visit("P-5", assessment)
        waited = time.monotonic() - started
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    assert BUSY_TIMEOUT_S - 0.5 <= waited < BUSY_TIMEOUT_S + 5
    assert caught.value.title == "The records database is busy"
    assert store.list_patients() == []  # nothing half-saved
    assert store.save_visit("P-5", assessment)  # and it works once the lock is gone
    store.close()


def test_files_are_private_and_notes_and_photos_encrypted(tmp_path, assessment, astronaut):
    folder = tmp_path / "clinic"
    url = f"sqlite:///{folder / 'records.sqlite3'}"
    with RecordStore(url) as store:
        visit = store.save_visit("P-6", assessment, note="patient says: left eye waters", photo=astronaut)
        assert store.get_visit(visit).note == "patient says: left eye waters"
        jpeg = store.get_visit(visit).photo_jpeg
        assert Image.open(io.BytesIO(jpeg)).size == (512, 512)
        connection = store._engine.raw_connection()
        try:
            assert connection.execute("PRAGMA secure_delete").fetchone()[0] == 1
        finally:
            connection.close()
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    for name in ("records.sqlite3", "records.key"):
        assert stat.S_IMODE((folder / name).stat().st_mode) == 0o600
    raw = (folder / "records.sqlite3").read_bytes()
    assert b"left eye waters" not in raw
    assert jpeg[:200] not in raw and b"JFIF" not in raw  # no JPEG stored in the clear
    key = (folder / "records.key").read_bytes()
    assert key.strip() not in raw  # the key lives outside the database


def test_a_wrong_key_is_a_clear_error_and_rotation_keeps_everything(tmp_path, assessment):
    url = f"sqlite:///{tmp_path / 'records.sqlite3'}"
    with RecordStore(url) as store:
        visit = store.save_visit("P-7", assessment, note="before rotation")
        old_key = (tmp_path / "records.key").read_text()
        assert store.rotate_key(actor="admin") == 1
        assert store.get_visit(visit).note == "before rotation"
    new_key = (tmp_path / "records.key").read_text()
    assert new_key != old_key and len(new_key.split()) == 1
    with RecordStore(url) as store:
        assert store.get_visit(visit).note == "before rotation"
        assert store.audit_trail()[0].action == "key_rotation"
    other = tmp_path / "other.key"
    with RecordStore(url, key_file=other) as store:
        with pytest.raises(RecordError, match="cannot be decrypted"):
            store.get_visit(visit)


def test_audit_trail_is_append_only_and_exportable(store, assessment):
    visit = store.save_visit("P-8", assessment, actor="dr.a")
    store.update_note(visit, "=HYPERLINK(\"http://x\")", actor="dr.a")
    store.log("dr.b", "view", "P-8", visit)
    store.export_csv("P-8", actor="dr.b")
    store.delete_visit(visit, actor="dr.a")
    trail = store.audit_trail()
    assert [(e.actor, e.action, e.patient) for e in trail] == [
        ("dr.a", "delete", "P-8"), ("dr.b", "export", "P-8"), ("dr.b", "view", "P-8"),
        ("dr.a", "change", "P-8"), ("dr.a", "save", "P-8")]
    rows = list(csv.DictReader(io.StringIO(store.audit_csv())))
    assert [row["action"] for row in rows] == ["save", "change", "view", "export", "delete"]
    for statement in ("UPDATE audit_log SET actor = 'nobody'", "DELETE FROM audit_log"):
        with store._engine.connect() as connection:
            with pytest.raises(Exception, match="append-only"):
                connection.execute(text(statement))
    assert len(store.audit_trail()) == 5


def test_schema_1_database_is_migrated_and_encrypted(tmp_path, assessment):
    path = tmp_path / "v1.sqlite3"
    engine = create_engine(f"sqlite:///{path}")
    with engine.begin() as connection:
        for statement in (
            "CREATE TABLE schema_version (version INTEGER PRIMARY KEY, applied_at DATETIME)",
            "CREATE TABLE patients (id INTEGER PRIMARY KEY, code VARCHAR(40) UNIQUE, created_at DATETIME)",
            "CREATE TABLE visits (id INTEGER PRIMARY KEY, patient_id INTEGER REFERENCES patients(id), "
            "visit_date DATE, expression VARCHAR(20), saved_at DATETIME, affected_side VARCHAR(20), note TEXT, "
            "assessment_json TEXT, provenance_json TEXT, photo_jpeg BLOB)",
            "CREATE TABLE visit_values (id INTEGER PRIMARY KEY, visit_id INTEGER REFERENCES visits(id), "
            "name VARCHAR(120), value FLOAT)",
            "INSERT INTO schema_version VALUES (1, '2024-01-01 00:00:00')",
            "INSERT INTO patients VALUES (1, 'P-OLD', '2024-01-01 00:00:00')",
            "INSERT INTO visits VALUES (1, 1, '2024-01-01', 'rest', '2024-01-01 00:00:00', NULL, "
            "'an old note', '{\"headline\": \"old\"}', '{}', NULL)",
        ):
            connection.execute(text(statement))
    engine.dispose()
    with RecordStore(f"sqlite:///{path}") as store:
        assert store.list_visits("P-OLD")[0].note == "an old note"
        assert store.save_visit("P-OLD", assessment, save_key="a") and store.save_visit("P-OLD", assessment,
                                                                                         save_key="a").created is False
    assert b"an old note" not in path.read_bytes()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_csv_export_escapes_every_formula_start_and_keeps_rows_whole(store, assessment):
    notes = ["=1+2", "+1", "-1", "@SUM(A1)", "\t=cmd", "\r=cmd", "two\nlines, \"quoted\""]
    for index, note in enumerate(notes):
        store.save_visit(f"P-{index}", assessment, note=note)
    rows = list(csv.DictReader(io.StringIO(store.export_csv())))
    assert [row["note"] for row in rows] == ["'" + note for note in notes[:6]] + [notes[6]]


_SAVER = """
import sys, datetime as dt
from palsy_core.records import RecordStore
store = RecordStore(sys.argv[1])
for index in range(100000):
    store.save_visit("P-KILL", {"headline": "h", "measurements": {"brow_height": {"left": 1.0, "right": 2.0}}},
                     note=f"visit {index}", photo=None)
    print(index, flush=True)
"""


@pytest.mark.slow
def test_kill_9_during_saves_loses_no_committed_visit(tmp_path):
    url = f"sqlite:///{tmp_path / 'records.sqlite3'}"
    root = Path(__file__).resolve().parents[1]
    saver = subprocess.Popen([sys.executable, "-c", _SAVER, url], cwd=root, stdout=subprocess.PIPE, text=True,
                             env={**os.environ, "PYTHONPATH": str(root)})
    confirmed = -1
    for line in saver.stdout:
        confirmed = int(line)
        if confirmed >= 30:
            break
    saver.kill()  # SIGKILL, mid-save
    saver.wait(timeout=30)
    with RecordStore(url) as store:
        connection = store._engine.raw_connection()
        try:
            assert connection.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        finally:
            connection.close()
        notes = {visit.note for visit in store.list_visits("P-KILL")}
        assert {f"visit {index}" for index in range(confirmed + 1)} <= notes  # every confirmed save is there
        assert store.save_visit("P-KILL", {"headline": "after"})  # and the database takes new saves


def test_a_visit_whose_side_the_photo_could_not_tell_lists_it_as_unclear(store, analyzer,
                                                                         face_photo):
    """A smile where only the eye differs is asymmetric with no side: the listing says
    "unclear", not "none" (which reads as healthy)."""
    from palsy_core.records import weaker_side_label
    from trainers.data.simulate import simulate_palsy

    warped = simulate_palsy(face_photo, analyzer.analyze(face_photo).landmarks, side="left",
                            region="eye", severity="moderate", seed=0).image
    unclear = store.save_visit("P-3", analyzer.analyze(warped, expression="smile"))
    healthy = store.save_visit("P-3", analyzer.analyze(face_photo, expression="smile"))
    labels = {v.visit_id: weaker_side_label(v) for v in store.list_visits("P-3")}
    assert labels == {unclear: "unclear", healthy: "none"}
