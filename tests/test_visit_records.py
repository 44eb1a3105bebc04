"""Photo sets in the patient records (schema 3): a whole visit stored as one record with
its photos encrypted, corrected landmarks kept and marked, trends, key rotation, deletion
and the migration from schema 2."""

from __future__ import annotations

import datetime as dt
import io
import sqlite3

import cv2
import numpy as np
import pytest
from PIL import Image

from palsy_core.records import PHOTO_SET, SCHEMA_VERSION, RecordStore, flatten_measurements
from palsy_core.visit import visit_from_results


@pytest.fixture(scope="module")
def visit(analyzer, face_photo, drooped_face):
    """A real two-photo set: the astronaut at rest (stated) and the drooped face smiling."""
    results = [analyzer.analyze(face_photo, expression="rest"), analyzer.analyze(drooped_face, expression="smile")]
    return visit_from_results(results, ["rest", "full_smile"])


@pytest.fixture
def store(tmp_path):
    with RecordStore(f"sqlite:///{tmp_path / 'db' / 'records.sqlite3'}") as records:
        yield records


def record_of(visit, corrected_first: bool = False) -> dict:
    data = visit.to_dict()
    for index, photo in enumerate(data["photos"]):
        photo["landmarks_corrected"] = corrected_first and index == 0
    return data


def test_a_photo_set_is_one_record_with_its_photos(store, visit, face_photo, drooped_face):
    saved = store.save_visit("P-1", record_of(visit, corrected_first=True), visit_date=dt.date(2024, 5, 1),
                             expression=PHOTO_SET, set_photos=[("rest", face_photo), ("full_smile", drooped_face)],
                             save_key="set:abc")
    again = store.save_visit("P-1", record_of(visit, corrected_first=True), expression=PHOTO_SET, save_key="set:abc")
    assert saved.created and not again.created and int(again) == int(saved)

    listed = store.list_visits("P-1")
    assert len(listed) == 1 and listed[0].expression == PHOTO_SET and listed[0].has_photo
    assert listed[0].set_photos == ()  # listings do not carry the photos
    photos = listed[0].assessment["photos"]
    # Landmarks are kept only where the clinician corrected them, and marked.
    assert photos[0]["landmarks_corrected"] and len(photos[0]["landmarks"]) == 478
    assert not photos[1]["landmarks_corrected"] and "landmarks" not in photos[1]

    opened = store.get_visit(int(saved))
    assert [(p, m) for p, m, _ in opened.set_photos] == [(0, "rest"), (1, "full_smile")]
    rest = np.asarray(Image.open(io.BytesIO(opened.set_photos[0][2])))
    assert rest.shape == face_photo.shape
    # Encrypted at rest: the JPEG bytes are not in the database file.
    raw = sqlite3.connect(store.url.removeprefix("sqlite:///")).execute("select photo_jpeg from visit_photos").fetchall()
    assert all(not bytes(blob).startswith(b"\xff\xd8") for (blob,) in raw)

    # Trends read the rest photo and the scale totals.
    flat = flatten_measurements(listed[0].assessment)
    assert flat["measurements.commissure_height.left"] == pytest.approx(
        visit.photo("rest").result.measurements["commissure_height"].left, abs=1e-3)
    assert "efACE.total" in flat and "movements.full_smile.ratio_percent" in flat


def test_key_rotation_and_deletion_cover_set_photos(store, visit, face_photo):
    saved = store.save_visit("P-2", record_of(visit), expression=PHOTO_SET, set_photos=[("rest", face_photo)])
    before = store.get_visit(int(saved)).set_photos[0][2]
    assert store.rotate_key() == 1
    assert store.get_visit(int(saved)).set_photos[0][2] == before
    store.delete_visit(int(saved))
    path = store.url.removeprefix("sqlite:///")
    assert sqlite3.connect(path).execute("select count(*) from visit_photos").fetchone()[0] == 0


def test_schema_2_database_is_migrated(tmp_path, visit, face_photo):
    url = f"sqlite:///{tmp_path / 'old.sqlite3'}"
    with RecordStore(url) as records:
        records.save_visit("P-3", visit.photo("rest").result, expression="rest")
    connection = sqlite3.connect(tmp_path / "old.sqlite3")
    connection.execute("drop table visit_photos")
    connection.execute("delete from schema_version where version = 3")
    connection.commit()
    connection.close()
    with RecordStore(url) as records:  # opened by this version: migrated to 3
        assert [v.expression for v in records.list_visits("P-3")] == ["rest"]
        records.save_visit("P-3", record_of(visit), expression=PHOTO_SET, set_photos=[("rest", face_photo)])
    connection = sqlite3.connect(tmp_path / "old.sqlite3")
    assert connection.execute("select max(version) from schema_version").fetchone()[0] == SCHEMA_VERSION == 3
    assert connection.execute("select count(*) from visit_photos").fetchone()[0] == 1


def test_region_measure_reads_the_trend_photo_of_a_set_and_of_a_single_photo(visit, analyzer,
                                                                             face_photo):
    """The records page keeps eye scores of different measures apart by this."""
    from palsy_core.records import region_measure

    assert region_measure(record_of(visit), "eye") == "palpebral_fissure_flow"
    assert region_measure(record_of(visit), "mouth") in ("commissure_height",
                                                         "commissure_excursion")
    soft = analyzer.analyze(cv2.GaussianBlur(face_photo, (0, 0), 4.0)).to_dict()
    assert region_measure(soft, "eye") == "palpebral_fissure_height"
    assert region_measure({"headline": "an old record without regions"}, "eye") is None
