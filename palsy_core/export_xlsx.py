"""Excel (.xlsx) export of visits: one row per visit and expression, Emotrics' layout.

Emotrics users read a spreadsheet with one row per photo and, per measure, the left,
right and difference columns with units in the header; this module writes that layout
(the subject's left and right), then the verdict, and the eFACE and Sunnybrook estimates
where the visit has them (a whole visit's photos share them). A second sheet, "About",
says what the columns mean. Text cells pass :func:`palsy_core.safe_text.csv_cell`, so a
note or file name starting with "=" is text, never a formula.
"""

from __future__ import annotations

import datetime as dt
import io
import os
from collections.abc import Iterable, Mapping
from typing import Any

from .comparison import visit_dict
from .flatten import flatten_result
from .face.measurements import MEASUREMENT_NAMES
from .safe_text import csv_cell

#: Emotrics-style titles of the measures.
MEASURE_TITLES = {
    "brow_height": "Brow height", "mrd1": "MRD1", "mrd2": "MRD2",
    "palpebral_fissure_height": "Palpebral fissure height",
    "commissure_height": "Commissure height", "commissure_excursion": "Commissure excursion",
    "smile_angle": "Smile angle", "upper_lip_height": "Upper lip height",
    "lower_lip_height": "Lower lip height", "dental_show": "Dental show",
}
_FIXED = ("Patient", "Visit date", "Visit id", "Photo", "Expression", "Expression source",
          "Status", "Affected side (photo)", "Affected side (visit)")


def _header() -> list[str]:
    header = list(_FIXED)
    for name in MEASUREMENT_NAMES:
        unit = "deg" if name == "smile_angle" else "mm"
        title = MEASURE_TITLES[name]
        header += [f"{title} L ({unit})", f"{title} R ({unit})", f"{title} difference ({unit})",
                   f"{title} difference (%)"]
    header += ["Movement L (mm)", "Movement R (mm)", "Movement affected/healthy (%)"]
    return header


def _scale_columns(visits: list[dict]) -> list[tuple[str, str, str, str]]:
    """(scale, "item" or "total", key, title) of every scale item and total any visit has."""
    columns: list[tuple[str, str, str, str]] = []
    for scale, title, totals in (("efACE", "eFACE est.", ("static", "dynamic", "synkinesis", "total")),
                                 ("sunnybrook", "Sunnybrook est.", ("resting", "voluntary", "synkinesis", "total"))):
        keys: list[str] = []
        for visit in visits:
            for key in ((visit.get(scale) or {}).get("items") or {}):
                if key not in keys:
                    keys.append(key)
        if keys:
            columns += [(scale, "item", key, f"{title} {key}") for key in keys]
            columns += [(scale, "total", key, f"{title} {key} (total)") for key in totals]
    return columns


def visits_to_xlsx(visits: Iterable[Any], path: str | os.PathLike | None = None) -> bytes:
    """Write visits to an Excel workbook.

    Parameters
    ----------
    visits : iterable
        Each a :class:`palsy_core.VisitAnalysis` (or its ``to_dict()``), one photo's
        analysis, a stored visit (``palsy_core.records.VisitRecord`` or a plain dict with
        ``patient``, ``visit_date``, ``visit_id``, ``expression`` and ``assessment``, as
        ``RecordStore`` stores it), or a list of stored visits of one day.
    path : path, optional
        Also write the workbook there.

    Returns
    -------
    bytes
        The ``.xlsx`` file.
    """
    from openpyxl import Workbook
    from openpyxl.styles import Font

    rows_in = [(_meta(v), visit_dict(v)) for v in visits]
    header = _header()
    scale_columns = _scale_columns([v for _, v in rows_in])
    header += [title for *_, title in scale_columns]
    book = Workbook()
    sheet = book.active
    sheet.title = "Visits"
    sheet.append(header)
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    sheet.freeze_panes = "E2"
    for meta, visit in rows_in:
        for photo in visit["photos"]:
            sheet.append([_cell(v) for v in _row(meta, visit, photo, scale_columns)])
    about = book.create_sheet("About")
    for line in _about_lines():
        about.append([line])
    buffer = io.BytesIO()
    book.save(buffer)
    data = buffer.getvalue()
    if path is not None:
        with open(path, "wb") as handle:
            handle.write(data)
    return data


def _meta(visit: Any) -> dict:
    def get(name):
        if isinstance(visit, Mapping):
            return visit.get(name)
        if isinstance(visit, (list, tuple)) and visit:
            return _get(visit[0], name)
        return getattr(visit, name, None)

    return {"patient": get("patient"), "visit_date": get("visit_date"), "visit_id": get("visit_id")}


def _get(record: Any, name: str) -> Any:
    return record.get(name) if isinstance(record, Mapping) else getattr(record, name, None)


def _cell(value: Any) -> Any:
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    return csv_cell(value)


def _row(meta: dict, visit: dict, photo: dict, scale_columns) -> list:
    movement = photo.get("movement") or photo.get("expression") or ""
    values = flatten_result(photo, ("assessment", "measurements"), depth=3)
    row = [meta["patient"] or visit.get("patient") or "", meta["visit_date"] or visit.get("visit_date") or "",
           meta["visit_id"], photo.get("file") or "", movement.replace("_", " "),
           photo.get("movement_source") or "", values.get("assessment.status") or "",
           photo.get("affected_side") or "", visit.get("affected_side") or ""]
    for name in MEASUREMENT_NAMES:
        row += [values.get(f"measurements.{name}.{key}") for key in ("left", "right", "difference",
                                                                     "percent_difference")]
    moved = (visit.get("movements") or {}).get(movement) or {}
    row += [moved.get("left"), moved.get("right"), moved.get("ratio_percent")]
    for scale, kind, key, _ in scale_columns:
        values = visit.get(scale) or {}
        row.append(values.get(key) if kind == "total" else (values.get("items") or {}).get(key))
    return row


def _about_lines() -> list[str]:
    return [
        "Facial palsy assessment: visits export",
        "One row per visit and photo (expression). L and R are the SUBJECT's left and right.",
        "Millimetres from the iris (11.77 mm average adult iris) unless a scale was given; "
        "heights along the face's own axes (pupil line and midline).",
        "Difference = |L - R|; difference (%) = that difference as a share of the larger side.",
        "Movement: how far each side moved from the rest photo in this photo's movement "
        "(brow rise, eye closure, mouth-corner excursion, lower-lip drop, pucker), and the "
        "affected side's movement as a share of the healthy side's.",
        "eFACE and Sunnybrook columns are ESTIMATES FROM PHOTOGRAPHS, not a clinician's "
        "grading; empty where photographs cannot measure an item (needs clinician) or the "
        "visit lacks the photo. Mapping and sources: palsy_core/data/grading_map.json.",
        "Decision support, not a diagnosis.",
    ]
