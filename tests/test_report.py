"""The one-page PDF report and the CSV table of an assessment."""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import io

import pytest
from pypdf import PdfReader

from palsy_core import PalsyPrediction
from palsy_core.report import (
    DISCLAIMER,
    MEASUREMENT_LABELS,
    assessment_csv,
    assessment_pdf,
    measurement_rows,
    region_chart_png,
)


@pytest.fixture(scope="module")
def drooped_result(analyzer, drooped_face):
    return analyzer.analyze(drooped_face, source="drooped.jpg")


def _pdf_text(pdf: bytes) -> tuple[int, str]:
    reader = PdfReader(io.BytesIO(pdf))
    return len(reader.pages), " ".join(page.extract_text() for page in reader.pages)


def test_pdf_is_one_page_with_every_part(drooped_result, drooped_face):
    pdf = assessment_pdf(drooped_result, drooped_face, patient="P-0042", visit_date=dt.date(2024, 5, 1),
                         expression="smile (Zoë)", created=dt.datetime(2024, 5, 1, 9, 30))
    assert pdf.startswith(b"%PDF-")
    pages, content = _pdf_text(pdf)
    assert pages == 1
    flat = " ".join(content.split())
    assert "P-0042" in flat
    assert "smile (Zoë)" in flat  # Unicode survives (embedded DejaVu font)
    assert "2024-05-01" in flat
    assert " ".join(drooped_result.headline().split()) in flat
    assert "The subject's left side looks weaker" in flat
    for label in MEASUREMENT_LABELS.values():
        assert label in flat
    assert f"{drooped_result.measurements['commissure_height'].left:.1f}" in flat
    assert "Decision support, not a diagnosis" in flat
    assert "model not installed" in flat
    reader = PdfReader(io.BytesIO(pdf))
    images = list(reader.pages[0].images)
    assert len(images) == 2  # the photo with its overlay, and the chart
    assert len(pdf) < 400_000


def test_pdf_without_photo_and_from_a_stored_dict(drooped_result):
    data = {key: value for key, value in drooped_result.to_dict().items() if key != "landmarks"}
    pages, content = _pdf_text(assessment_pdf(data))
    assert pages == 1
    assert "Commissure height" in content


def test_simulated_model_is_flagged(drooped_result, drooped_face):
    simulated = dataclasses.replace(
        drooped_result, palsy=PalsyPrediction(0.83, "demo_fusion", "simulated YFP-like faces", simulated=True))
    _, content = _pdf_text(assessment_pdf(simulated, drooped_face))
    flat = " ".join(content.split())
    assert "83%" in flat and "demo_fusion" in flat
    assert "trained on SIMULATED faces" in flat


def test_csv_has_every_measurement_region_and_warning(drooped_result):
    text = assessment_csv(drooped_result, patient="P-1", visit_date=dt.date(2024, 5, 1))
    rows = list(csv.DictReader(io.StringIO(text)))
    by_section: dict[str, list[dict]] = {}
    for row in rows:
        by_section.setdefault(row["section"], []).append(row)
    measurements = {row["name"]: row for row in by_section["measurement"]}
    assert set(measurements) == set(drooped_result.measurements)
    height = drooped_result.measurements["commissure_height"]
    assert float(measurements["commissure_height"]["left"]) == pytest.approx(height.left)
    assert float(measurements["commissure_height"]["difference"]) == pytest.approx(height.difference)
    regions = {row["name"]: row for row in by_section["region"]}
    assert float(regions["mouth"]["value"]) == pytest.approx(drooped_result.region_asymmetry["mouth"].score)
    assert "weaker side: left" in regions["mouth"]["note"]
    info = {row["name"]: row["value"] for row in by_section["info"]}
    assert info["patient"] == "P-1" and info["affected_side"] == "left"
    assert len(by_section.get("warning", [])) == len(drooped_result.warnings)
    assert {row["name"] for row in by_section["head_pose"]} == {"yaw", "pitch", "roll"}


def test_csv_never_starts_a_cell_with_a_formula(drooped_result):
    data = drooped_result.to_dict()
    data["warnings"] = ["=HYPERLINK(\"http://x\")"]
    rows = list(csv.DictReader(io.StringIO(assessment_csv(data, patient="P-1"))))
    assert [row["note"] for row in rows if row["section"] == "warning"] == ["'=HYPERLINK(\"http://x\")"]


def test_measurement_rows_and_chart(drooped_result):
    rows = measurement_rows(drooped_result)
    assert [row["key"] for row in rows] == list(drooped_result.measurements)
    assert rows[0]["measure"] == "Brow height" and rows[0]["unit"] == "mm"
    png = region_chart_png(drooped_result)
    assert png.startswith(b"\x89PNG")


def test_disclaimer_says_decision_support():
    assert DISCLAIMER.startswith("Decision support, not a diagnosis")
