"""One flattener behind every CSV: the CLI's, the report's and the records' tables of real
results are what they were before the flattener. tests/data/csv_golden.json holds the
results (the one-pass golden's four photos, landmarks left out) and the tables the code
before the flattener made of them."""

from __future__ import annotations

import datetime as dt
import json
import math
from pathlib import Path

import numpy as np
import pytest

from palsy_core.cli import _EMPTY_RESULT, _csv_row
from palsy_core.flatten import flatten_result, numeric_values, region_scores
from palsy_core.records import flatten_measurements
from palsy_core.report import assessment_csv

GOLDEN = json.loads((Path(__file__).resolve().parent / "data" / "csv_golden.json").read_text())
PHOTOS = GOLDEN["results"]


def _records() -> list[dict]:
    records = [{"file": name, "ok": True, "error": None, "error_code": None, **result}
               for name, result in PHOTOS.items()]
    records.append({"file": "nofile.jpg", "ok": False, "error": "No face", "error_code": "no_face",
                    **_EMPTY_RESULT})
    return records


def test_cli_csv_columns_and_cells_are_unchanged():
    header = list(_csv_row({"file": "", "ok": False, "error": None, **_EMPTY_RESULT}))
    assert header == GOLDEN["cli_header"]
    assert [[str(v) for v in _csv_row(r).values()] for r in _records()] == GOLDEN["cli_rows"]


@pytest.mark.parametrize("name", sorted(PHOTOS))
def test_report_csv_is_unchanged(name):
    assert assessment_csv(PHOTOS[name], patient="P-1", visit_date=dt.date(2024, 1, 2)) == GOLDEN["report"][name]


@pytest.mark.parametrize("name", sorted(PHOTOS))
def test_records_values_are_unchanged(name):
    values = flatten_measurements(PHOTOS[name])
    assert list(values) == list(GOLDEN["flatten_measurements"][name])
    assert values == pytest.approx(GOLDEN["flatten_measurements"][name], rel=0, abs=0)


def test_flatten_walks_mappings_and_keeps_other_leaves():
    data = {"a": {"b": {"c": 1.5, "d": "text"}, "e": [1, 2]}, "f": None, "g": {}}
    assert flatten_result(data) == {"a.b.c": 1.5, "a.b.d": "text", "a.e": [1, 2], "f": None}
    assert flatten_result(data, ("a", "missing"), depth=2) == {"a.b": {"c": 1.5, "d": "text"}, "a.e": [1, 2]}
    flat = {"x": 1, "y": np.float32(2.5), "z": math.nan, "t": True, "s": "1", "n": None, "i": np.int64(3)}
    assert numeric_values(flat) == {"x": 1.0, "y": 2.5, "i": 3.0}


def test_region_scores_follow_the_result():
    result = PHOTOS["astronaut"]
    scores = region_scores(result)
    assert scores == {region: r["score"] for region, r in result["region_asymmetry"].items()}
    assert region_scores({"region_asymmetry": None}) == {}


def test_excel_rows_are_unchanged():
    import io

    from openpyxl import load_workbook

    from palsy_core.export_xlsx import visits_to_xlsx

    book = load_workbook(io.BytesIO(visits_to_xlsx([PHOTOS[name] for name in sorted(PHOTOS)])))
    rows = [list(row) for row in book["Visits"].iter_rows(values_only=True)]
    assert rows == GOLDEN["xlsx_rows"]
