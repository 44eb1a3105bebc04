"""One assessment as a one-page PDF report and as a CSV table.

The PDF holds what a clinician files or hands over: the photo with the landmark overlay,
the headline, a chart of the region asymmetry scores against the edge of normal, the
millimetre measurements per side, warnings, which models produced what (with a plain
warning when a model was trained on simulated faces), the date, and a disclaimer. Text is
set in DejaVu Sans (shipped with matplotlib, a dependency of MediaPipe), so any Unicode
patient code or note prints as typed.
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from ._version import __version__
from .drawing import draw_overlay
from .face.frame import face_box
from .flatten import flatten_result
from .recommendations import disclaimer as recommendations_disclaimer
from .safe_text import check_patient_code, csv_text
from .segmentation import SIMULATED_WARNING, segmentation_overlay

__all__ = [
    "DISCLAIMER",
    "MEASUREMENT_LABELS",
    "REGION_LABELS",
    "assessment_csv",
    "assessment_pdf",
    "measurement_rows",
    "region_chart_png",
]

#: Shown on every report and in the app: what the numbers are and are not.
DISCLAIMER = (
    "Decision support, not a diagnosis. Measurements come from automatic landmarks on one "
    "photo and assume an average adult iris (11.77 mm) unless a scale was given; the limits "
    "of normal asymmetry are provisional. A clinician must examine the patient and decide."
)

#: Names a clinician reads, per measurement key of :mod:`palsy_core.face.measurements`.
MEASUREMENT_LABELS: dict[str, str] = {
    "brow_height": "Brow height",
    "mrd1": "MRD1 (pupil to upper lid)",
    "mrd2": "MRD2 (pupil to lower lid)",
    "palpebral_fissure_height": "Palpebral fissure height",
    "commissure_height": "Commissure height",
    "commissure_excursion": "Commissure excursion",
    "smile_angle": "Smile angle",
    "upper_lip_height": "Upper lip height",
    "lower_lip_height": "Lower lip height",
    "dental_show": "Dental show",
}

#: Region names a clinician reads.
REGION_LABELS: dict[str, str] = {"brow": "Brow", "eye": "Eye", "mouth": "Mouth"}

_FONT_DIR = "mpl-data/fonts/ttf"
_CSV_COLUMNS = ("section", "name", "left", "right", "difference", "percent_difference", "value", "unit", "note")


def measurement_rows(result: Any) -> list[dict[str, Any]]:
    """The measurements as table rows, in the order of the measurement module.

    Parameters
    ----------
    result : AnalysisResult or dict
        The assessment, or its ``to_dict()``.

    Returns
    -------
    list of dict
        ``key``, ``measure`` (label), ``left``, ``right``, ``difference`` (values in
        ``unit``: mm, or deg for the smile angle), ``percent_difference`` (% of the
        larger side), ``unit``, ``description``. Left and right are the subject's.
    """
    rows = []
    for key, m in _items(_as_dict(result), "measurements"):
        rows.append({
            "key": key,
            "measure": MEASUREMENT_LABELS.get(key, key.replace("_", " ").capitalize()),
            "left": m["left"],
            "right": m["right"],
            "difference": m["difference"],
            "percent_difference": m["percent_difference"],
            "unit": m["unit"],
            "description": m.get("description", ""),
        })
    return rows


def assessment_csv(result: Any, *, patient: str | None = None, visit_date: dt.date | None = None) -> str:
    """The assessment as one CSV table (one header, one row per value).

    Parameters
    ----------
    result : AnalysisResult or dict
    patient : str, optional
        Pseudonymous patient code, written as an ``info`` row.
    visit_date : datetime.date, optional

    Returns
    -------
    str
        Columns ``section, name, left, right, difference, percent_difference, value,
        unit, note``. Sections: ``info`` (headline, affected side, expression, scale,
        model), ``measurement`` (left/right/difference per measure, mm or deg),
        ``region`` (asymmetry score in ``value``, 1.0 = edge of normal; the decisive
        difference and weaker side), ``head_pose`` (degrees).
    """
    if patient:
        patient = check_patient_code(patient)  # the same rule as the records: no names, no 330-char codes
    data = _as_dict(result)
    values = flatten_result(data, ("file", "assessment", "headline", "affected_side", "expression",
                                   "mm_per_pixel", "scale_source"), depth=2)
    rows: list[dict[str, Any]] = []

    def info(name: str, value: Any, unit: str = "", note: str = "") -> None:
        rows.append({"section": "info", "name": name, "value": value, "unit": unit, "note": note})

    if patient:
        info("patient", patient)
    if visit_date:
        info("visit_date", visit_date.isoformat())
    info("source", values.get("file") or "")
    info("status", values.get("assessment.status", ""), "", "within_normal | asymmetry | not_assessable")
    if values.get("assessment.reasons"):
        info("not_assessable_reasons", " ".join(r["code"] for r in values["assessment.reasons"]))
    info("headline", values.get("headline", ""))
    info("affected_side", values.get("affected_side") or "none")
    info("expression_detected", values.get("assessment.detected_expression") or values.get("expression", ""))
    info("mm_per_pixel", _round(values.get("mm_per_pixel"), 5), "mm/px",
         f"scale from {values.get('scale_source', '')}")
    palsy = data.get("palsy")
    if palsy:
        info("palsy_probability", _round(palsy["probability"], 4), "", _model_note(palsy))
    else:
        info("palsy_probability", "", "", "model not installed")
    for row in measurement_rows(data):
        rows.append({
            "section": "measurement", "name": row["key"], "left": row["left"], "right": row["right"],
            "difference": row["difference"], "percent_difference": row["percent_difference"],
            "unit": row["unit"],
        })
    for region, r in _items(data, "region_asymmetry"):
        note = f"weaker side: {r['weaker_side']}" if r.get("weaker_side") else "within normal asymmetry"
        rows.append({
            "section": "region", "name": region, "difference": r["difference"], "value": r["score"],
            "unit": "score", "note": f"{note}; decided by {r['measure']}; normal limit {r['normal_limit']}",
        })
    for axis, value in _items(data, "head_pose"):
        rows.append({"section": "head_pose", "name": axis, "value": value, "unit": "deg"})
    for index, warning in enumerate(data.get("warnings") or []):
        rows.append({"section": "warning", "name": f"warning_{index + 1}", "note": warning})

    return csv_text(_CSV_COLUMNS, ([row.get(key, "") for key in _CSV_COLUMNS] for row in rows))


def region_chart_png(result: Any, *, width_px: int = 900, height_px: int = 420) -> bytes:
    """Horizontal bar chart of the region asymmetry scores, as PNG bytes.

    Bars beyond 1.0 (the edge of normal asymmetry, dashed) are orange and name the
    weaker side. Drawn with matplotlib's object API (no pyplot state, thread-safe).
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    data = _as_dict(result)
    regions = data.get("region_asymmetry") or {}
    names = list(regions)[::-1]  # first region on top
    scores = [float(regions[name]["score"]) for name in names]
    figure = Figure(figsize=(width_px / 150, height_px / 150), dpi=150)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    colours = ["#e67e22" if score > 1.0 else "#2e86c1" for score in scores]
    axes.barh([REGION_LABELS.get(n, n) for n in names], scores, color=colours, height=0.55)
    limit = max(2.0, max(scores, default=0.0) * 1.15)
    axes.set_xlim(0, limit)
    axes.axvline(1.0, color="#444444", linestyle="--", linewidth=1)
    axes.text(1.0, len(names) - 0.45, " edge of normal", fontsize=7, va="bottom", color="#444444")
    for y, (name, score) in enumerate(zip(names, scores)):
        side = regions[name].get("weaker_side")
        label = f"{score:.2f}" + (f"  weaker: {side}" if side else "")
        axes.text(min(score, limit) + limit * 0.01, y, label, va="center", fontsize=7)
    axes.set_xlabel("asymmetry score (left-right difference / normal limit)", fontsize=7)
    axes.tick_params(labelsize=7)
    axes.spines[["top", "right"]].set_visible(False)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def assessment_pdf(
    result: Any,
    photo: np.ndarray | None = None,
    *,
    patient: str | None = None,
    visit_date: dt.date | None = None,
    expression: str | None = None,
    created: dt.datetime | None = None,
) -> bytes:
    """A one-page A4 PDF report of one assessment.

    Parameters
    ----------
    result : AnalysisResult or dict
        The assessment, or its ``to_dict()`` (its landmarks are drawn on the photo).
    photo : ndarray, shape (H, W, 3), uint8, optional
        The analysed photo; the overlay is drawn on it. Left out of the report when None.
    patient : str, optional
        Pseudonymous patient code.
    visit_date : datetime.date, optional
        Defaults to today.
    expression : str, optional
        The expression the clinician asked for (the detected one is printed too).
    created : datetime.datetime, optional
        Timestamp printed in the footer and stored as the PDF's creation date
        (default: now).

    Returns
    -------
    bytes
        The PDF file.
    """
    from fpdf.fonts import FontFace

    if patient:
        patient = check_patient_code(patient)  # a name, or a code that would run off the page, is refused
    data = _as_dict(result)
    created = created or dt.datetime.now()
    pdf, family, width = _new_pdf("Facial asymmetry assessment", created, page_breaks=False)

    # Title line and identification.
    pdf.set_font(family, "B", 15)
    pdf.cell(width, 8, "Facial asymmetry assessment", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(family, "", 9)
    ident = [f"Visit date: {(visit_date or created.date()).isoformat()}"]
    if patient:
        ident.insert(0, f"Patient: {patient}")
    detected = ((data.get("assessment") or {}).get("detected_expression")
                or data.get("expression") or "").replace("_", " ")
    ident.append(f"Expression: {expression or 'not stated'} (detected: {detected or 'unknown'})")
    pdf.cell(width, 5, "   |   ".join(ident), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(2)

    # Headline, boxed, coloured by the verdict's status.
    status = (data.get("assessment") or {}).get("status")
    if status is None:  # a visit stored before the three-state verdict
        status = "asymmetry" if data.get("affected_side") is not None else "within_normal"
    pdf.set_fill_color(*{"asymmetry": (253, 235, 208), "not_assessable": (234, 236, 238)}
                       .get(status, (214, 234, 248)))
    pdf.set_font(family, "B", 11)
    pdf.multi_cell(width, 6, data.get("headline", ""), align="L", fill=True, padding=2, new_x="LMARGIN", new_y="NEXT")
    pdf.ln(3)

    # Photo with overlay (left) and the region chart (right).
    top = pdf.get_y()
    image_w = 72.0
    if photo is not None:
        landmarks = np.asarray(data["landmarks"], dtype=np.float64)
        overlay = draw_overlay(np.asarray(photo), landmarks)
        # The face with some context, so the overlay's lines are readable on paper.
        x0, y0, x1, y1 = face_box(landmarks, overlay.shape, margin=0.3)
        image = _fit(Image.fromarray(overlay[y0:y1, x0:x1]), 900)
        image_h = image_w * image.height / image.width
        if image_h > 80:  # portrait photos: keep the page to one page
            image_w, image_h = image_w * 80 / image_h, 80.0
        jpeg = io.BytesIO()
        image.save(jpeg, format="JPEG", quality=88)  # embedded as-is: a fraction of a PNG's size
        pdf.image(jpeg, x=pdf.l_margin, y=top, w=image_w, h=image_h)
        pdf.set_xy(pdf.l_margin, top + image_h)
        pdf.set_font(family, "", 7)
        pdf.cell(image_w / 2, 3.5, "< subject's right", align="L")
        pdf.cell(image_w / 2, 3.5, "subject's left >", align="R")
        image_h += 3.5
        chart_x = pdf.l_margin + image_w + 6
    else:
        image_h = 0.0
        chart_x = pdf.l_margin
    chart_w = pdf.l_margin + width - chart_x
    chart_h = chart_w * 420 / 900
    pdf.image(io.BytesIO(region_chart_png(data)), x=chart_x, y=top, w=chart_w, h=chart_h)
    pdf.set_xy(chart_x, top + chart_h + 1)
    pdf.set_font(family, "", 7.5)
    pose = data.get("head_pose") or {}
    scale = data.get("mm_per_pixel")
    scale_text = (f"{scale:.4f} mm/px from "
                  f"{'the iris diameter (11.77 mm assumed)' if data.get('scale_source') == 'iris' else 'a known scale'}"
                  if scale else "unknown")
    side_note = ("Left and right are the subject's own sides (the subject's right is on the image's left "
                 "in an unmirrored photo).")
    pdf.multi_cell(
        chart_w, 3.6,
        f"Score = left-right difference of the region's key measure / its normal limit; above 1.0 is "
        f"outside normal asymmetry.\nHead pose: yaw {pose.get('yaw', 0):+.1f}, pitch {pose.get('pitch', 0):+.1f}, "
        f"roll {pose.get('roll', 0):+.1f} deg.  Scale: {scale_text}.\n{side_note}",
        align="L", new_x="LEFT", new_y="NEXT",
    )
    pdf.set_y(max(top + image_h, pdf.get_y()) + 3)

    # Measurements table.
    pdf.set_font(family, "B", 10)
    pdf.cell(width, 6, "Measurements (subject's left and right)", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(family, "", 8.5)
    headings = FontFace(emphasis="BOLD", fill_color=(230, 230, 230))
    pdf.set_fill_color(246, 246, 246)  # zebra rows
    with pdf.table(
        col_widths=(52, 22, 22, 24, 22, 14),
        text_align=("LEFT", "RIGHT", "RIGHT", "RIGHT", "RIGHT", "CENTER"),
        line_height=4.6,
        headings_style=headings,
        borders_layout="HORIZONTAL_LINES",
        cell_fill_mode="ROWS",
    ) as table:
        table.row(["Measure", "Left", "Right", "Difference", "% diff.", "Unit"])
        for row in measurement_rows(data):
            table.row([
                row["measure"], f"{row['left']:.1f}", f"{row['right']:.1f}",
                f"{row['difference']:.1f}", f"{row['percent_difference']:.0f} %", row["unit"],
            ])
    pdf.ln(2)

    # Warnings.
    warnings = data.get("warnings") or []
    if warnings:
        pdf.set_font(family, "B", 9)
        pdf.cell(width, 5, "Warnings", new_x="LMARGIN", new_y="NEXT")
        pdf.set_font(family, "", 7.5)
        for warning in warnings:
            pdf.multi_cell(width, 3.6, f"- {warning}", align="L", new_x="LMARGIN", new_y="NEXT")
        pdf.ln(1.5)

    # Provenance.
    pdf.set_font(family, "B", 9)
    pdf.cell(width, 5, "How this was produced", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(family, "", 7.5)
    lines = [
        "Landmarks: MediaPipe Face Landmarker (478 points, blendshapes, head pose).",
        "Measurements: Emotrics definitions (Guarin et al. 2018) in a pupil-aligned frame; normal limits "
        "are provisional engineering defaults (palsy_core.face.normal_range).",
    ]
    palsy = data.get("palsy")
    if palsy:
        lines.append(f"Palsy probability: {palsy['probability']:.0%} from {_model_note(palsy)}.")
    else:
        lines.append("Palsy probability: model not installed.")
    for line in lines:
        pdf.multi_cell(width, 3.6, line, align="L", new_x="LMARGIN", new_y="NEXT")
    if palsy and palsy.get("simulated"):
        pdf.ln(1)
        pdf.set_fill_color(250, 219, 216)
        pdf.set_font(family, "B", 8.5)
        pdf.multi_cell(
            width, 4.2,
            "WARNING: the palsy model was trained on SIMULATED faces, not on real patients. Its "
            "probability is a demonstration and must not be used for any clinical decision.",
            fill=True, padding=1.5, new_x="LMARGIN", new_y="NEXT",
        )

    # Disclaimer and footer, anchored to the bottom of the page.
    pdf.set_y(pdf.h - 24)
    pdf.set_draw_color(160, 160, 160)
    pdf.line(pdf.l_margin, pdf.get_y(), pdf.l_margin + width, pdf.get_y())
    pdf.ln(1.5)
    pdf.set_font(family, "B", 8)
    pdf.multi_cell(width, 3.8, DISCLAIMER, align="L", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(family, "", 7)
    pdf.cell(width, 4, f"Generated {created:%Y-%m-%d %H:%M} by palsy_core {__version__}.",
             new_x="LMARGIN", new_y="NEXT")
    parsed = getattr(result, "predictions", {}).get("parsing")
    if parsed is not None and photo is not None:
        _parsing_page(pdf, family, parsed, np.asarray(photo), data["landmarks"])
    if data.get("severity"):
        _severity_page(pdf, family, data["severity"])
    return bytes(pdf.output())


def _severity_page(pdf: Any, family: str, severity: Mapping[str, Any]) -> None:
    """A page with the six-class grade, its probabilities as bars, and the recommended
    next steps with their sources (``severity`` is the JSON form of the prediction)."""
    pdf.add_page()
    width = pdf.epw
    pdf.set_font(family, "B", 13)
    pdf.cell(width, 8, "Severity grade and next steps", new_x="LMARGIN", new_y="NEXT")
    if severity.get("simulated"):
        pdf.set_fill_color(250, 219, 216)
        pdf.set_font(family, "B", 8.5)
        pdf.multi_cell(width, 4.2, "WARNING: the severity model was trained on SIMULATED palsy "
                       "(healthy volunteers' photos warped to look palsied), not on real patients. "
                       "Its grade is a demonstration and must not be used for any clinical decision.",
                       fill=True, padding=1.5, align="L", new_x="LMARGIN", new_y="NEXT")
        pdf.ln(1.5)
    label = severity["class"]
    probabilities = severity["probabilities"]
    top = severity.get("top_class") or max(probabilities, key=probabilities.get)
    pdf.set_font(family, "B", 10)
    if label == "uncertain":
        text = (f"Grade: uncertain (no class reaches {severity['uncertain_below']:.0%}; most likely "
                f"{top.replace('_', ' ')}, {probabilities[top]:.0%}).")
    else:
        text = f"Grade: {label.replace('_', ' ')} ({probabilities[label]:.0%})."
    if severity.get("supporting_detail_only"):
        text += " Supporting detail only: the measurements decide the verdict."
    pdf.multi_cell(width, 5, text, align="L", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(family, "", 8)
    bar_x, bar_w = pdf.l_margin + 32, 90.0
    for name, value in probabilities.items():
        y = pdf.get_y() + 0.8
        pdf.cell(32, 4.6, name.replace("_", " "))
        pdf.set_fill_color(*((192, 57, 43) if name == top else (149, 165, 166)))
        pdf.rect(bar_x, y, max(bar_w * float(value), 0.3), 3, style="F")
        pdf.set_x(bar_x + bar_w + 2)
        pdf.cell(15, 4.6, f"{float(value):.0%}", new_x="LMARGIN", new_y="NEXT")
    pdf.multi_cell(width, 3.6, f"Model {severity.get('model')}, trained on "
                   f"{severity.get('trained_on')}.", align="L", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(2)
    pdf.set_font(family, "B", 10)
    pdf.cell(width, 6, "Next steps to consider", new_x="LMARGIN", new_y="NEXT")
    for item in severity.get("recommendations") or []:
        pdf.set_font(family, "B", 8.5)
        pdf.multi_cell(width, 4, f"[{item['priority']}] {item['text']}", align="L",
                       new_x="LMARGIN", new_y="NEXT")
        pdf.set_font(family, "", 7)
        pdf.multi_cell(width, 3.3, "Source: " + "; ".join(item["sources"]), align="L",
                       new_x="LMARGIN", new_y="NEXT")
        pdf.ln(1.2)
    pdf.set_font(family, "", 7.5)
    pdf.multi_cell(width, 3.6, recommendations_disclaimer(), align="L", new_x="LMARGIN", new_y="NEXT")


def _parsing_page(pdf: Any, family: str, parsed: Any, photo: np.ndarray, landmarks: Any) -> None:
    """A page with the face-parsing overlay and its legend, the paralysed region in words, and
    the simulated-training warning (only from an AnalysisResult: a dict has no masks)."""
    x0, y0, x1, y1 = face_box(landmarks, photo.shape)
    window = (slice(y0, y1), slice(x0, x1))
    cropped = replace(parsed, labels=parsed.labels[window], paralysed=parsed.paralysed[window])
    image = _fit(Image.fromarray(segmentation_overlay(photo[window], cropped)), 1000)
    pdf.add_page()
    width = pdf.epw
    pdf.set_font(family, "B", 13)
    pdf.cell(width, 8, "Face parsing and the paralysed region", new_x="LMARGIN", new_y="NEXT")
    image_w = 110.0
    image_h = image_w * image.height / image.width
    if image_h > 150:
        image_w, image_h = image_w * 150 / image_h, 150.0
    jpeg = io.BytesIO()
    image.save(jpeg, format="JPEG", quality=88)
    top = pdf.get_y() + 2
    pdf.image(jpeg, x=pdf.l_margin, y=top, w=image_w, h=image_h)
    pdf.set_xy(pdf.l_margin, top + image_h)
    pdf.set_font(family, "", 7.5)
    pdf.cell(image_w / 2, 3.5, "< subject's right", align="L")
    pdf.cell(image_w / 2, 3.5, "subject's left >", align="R", new_x="LMARGIN", new_y="NEXT")
    summary = parsed.to_dict()
    side = summary["affected_side"]
    text = (f"Paralysed region (red hatching): the subject's {side} side, "
            f"{summary['paralysed_share_of_hemiface']:.0%} of that half of the face."
            if side else "Paralysed region: none found.")
    pdf.set_font(family, "B", 9.5)
    pdf.ln(2)
    pdf.multi_cell(width, 4.6, text, new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(family, "", 8)
    pdf.multi_cell(width, 3.8, f"Model {summary['model']}: skin, brows, eyes and mouth as the landmark mesh "
                   "draws them (hair is not segmented), trained on " + summary["trained_on"] + ".",
                   new_x="LMARGIN", new_y="NEXT")
    if summary["simulated"]:
        pdf.ln(1)
        pdf.set_fill_color(250, 219, 216)
        pdf.set_font(family, "B", 8.5)
        pdf.multi_cell(width, 4.2, "WARNING: " + SIMULATED_WARNING, fill=True, padding=1.5,
                       new_x="LMARGIN", new_y="NEXT")


def _new_pdf(title: str, created: dt.datetime, *, page_breaks: bool):
    """An A4 document with its first page: (pdf, font family, usable width in mm)."""
    from fpdf import FPDF

    pdf = FPDF(format="A4", unit="mm")
    if page_breaks:
        pdf.set_auto_page_break(True, margin=14)
    else:
        pdf.set_auto_page_break(False)
    pdf.set_margins(14, 12, 14)
    pdf.set_creation_date(created.astimezone(dt.timezone.utc) if created.tzinfo else created)
    pdf.set_title(title)
    pdf.set_creator("palsy_core")
    family = _set_up_font(pdf)
    pdf.add_page()
    return pdf, family, pdf.epw


def _set_up_font(pdf: Any) -> str:
    # DejaVu prints any Unicode a clinician types; the core Helvetica would only do Latin-1.
    import matplotlib

    folder = Path(matplotlib.__file__).parent / _FONT_DIR
    regular, bold = folder / "DejaVuSans.ttf", folder / "DejaVuSans-Bold.ttf"
    if regular.is_file() and bold.is_file():
        pdf.add_font("DejaVu", "", regular)
        pdf.add_font("DejaVu", "B", bold)
        return "DejaVu"
    return "Helvetica"


def _fit(image: Image.Image, max_side: int) -> Image.Image:
    # Keeps the PDF small: a 12 MP phone photo would otherwise be embedded whole.
    if max(image.size) > max_side:
        image = image.copy()
        image.thumbnail((max_side, max_side))
    return image


def _as_dict(result: Any) -> Mapping[str, Any]:
    if isinstance(result, Mapping):
        return result
    return result.to_dict()


def _items(data: Mapping[str, Any], section: str) -> list[tuple[str, Any]]:
    """``(name, value)`` of each item of one section of the flattened result (none when the
    section is missing or None)."""
    return [(path.partition(".")[2], value)
            for path, value in flatten_result(data, (section,), depth=2).items() if "." in path]


def _model_note(palsy: Mapping[str, Any]) -> str:
    note = f"{palsy.get('model', 'unknown model')}, trained on {palsy.get('trained_on', 'unknown data')}"
    return note + (" (SIMULATED data)" if palsy.get("simulated") else "")


def _round(value: Any, digits: int) -> Any:
    return round(float(value), digits) if isinstance(value, (int, float)) else ""


def comparison_pdf(
    comparison: Any,
    *,
    before: Mapping[str, Any],
    after: Mapping[str, Any],
    patient: str | None = None,
    overlays: tuple[np.ndarray | None, np.ndarray | None] = (None, None),
    created: dt.datetime | None = None,
) -> bytes:
    """A PDF report of two visits compared (:func:`palsy_core.comparison.compare_visits`).

    Parameters
    ----------
    comparison : VisitComparison or dict
        The comparison (or its ``to_dict()``).
    before, after : mapping
        Each visit's ``visit_date`` and ``label`` (e.g. "Visit 3 (photo set)").
    patient : str, optional
        Pseudonymous patient code.
    overlays : pair of ndarray or None
        Each visit's photo with its overlay already drawn (RGB uint8), printed side by
        side; left out where None.
    created : datetime.datetime, optional
        Timestamp in the footer (default: now).

    Returns
    -------
    bytes
        The PDF file: the statement per region, the photos, then every measure and scale
        item with its change (as many pages as the table needs).
    """
    from fpdf.fonts import FontFace

    if patient:
        patient = check_patient_code(patient)
    data = comparison.to_dict() if hasattr(comparison, "to_dict") else dict(comparison)
    created = created or dt.datetime.now()
    pdf, family, width = _new_pdf("Visit comparison", created, page_breaks=True)
    pdf.set_font(family, "B", 15)
    pdf.cell(width, 8, "Visit comparison", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(family, "", 9)
    ident = [f"Before: {before.get('label', '')} {before.get('visit_date', '')}",
             f"After: {after.get('label', '')} {after.get('visit_date', '')}"]
    if patient:
        ident.insert(0, f"Patient: {patient}")
    pdf.multi_cell(width, 5, "   |   ".join(ident), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(2)
    pdf.set_font(family, "B", 10)
    pdf.cell(width, 6, "Change by region", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(family, "", 9)
    for region, statement in (data.get("statements") or {}).items():
        pdf.multi_cell(width, 5, f"{region.capitalize()}: {statement}", new_x="LMARGIN", new_y="NEXT")
    for note in data.get("notes") or []:
        pdf.multi_cell(width, 5, note, new_x="LMARGIN", new_y="NEXT")
    pdf.ln(2)
    shown = [(label, o) for label, o in zip(("Before", "After"), overlays) if o is not None]
    if shown:
        top, image_w = pdf.get_y(), (width - 6) / 2
        heights = []
        for index, (label, overlay) in enumerate(shown):
            image = _fit(Image.fromarray(np.asarray(overlay)), 900)
            image_h = min(image_w * image.height / image.width, 95.0)
            jpeg = io.BytesIO()
            image.save(jpeg, format="JPEG", quality=88)
            x = pdf.l_margin + index * (image_w + 6)
            pdf.image(jpeg, x=x, y=top, h=image_h)
            pdf.set_xy(x, top + image_h)
            pdf.set_font(family, "", 7)
            pdf.cell(image_w, 4, f"{label}  (< subject's right | subject's left >)")
            heights.append(image_h + 4)
        pdf.set_xy(pdf.l_margin, top + max(heights) + 2)
    pdf.set_font(family, "B", 10)
    pdf.cell(width, 6, "Every measure and scale item", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(family, "", 7.5)
    headings = ("Section", "Movement", "Item", "Before", "After", "Change", "Repeat-photo band", "Verdict")
    with pdf.table(col_widths=(16, 22, 40, 16, 16, 16, 20, 22), headings_style=FontFace(emphasis="BOLD"),
                   line_height=4.2, text_align=("LEFT", "LEFT", "LEFT", "RIGHT", "RIGHT", "RIGHT", "RIGHT", "LEFT")) as table:
        table.row(headings)
        for row in data.get("rows") or []:
            unit = row.get("unit") or ""
            table.row([str(row.get("section", "")), str(row.get("movement") or "").replace("_", " "),
                       f"{str(row.get('name', '')).replace('_', ' ')}{f' ({unit})' if unit else ''}",
                       _cell_number(row.get("before")), _cell_number(row.get("after")),
                       _cell_number(row.get("change"), signed=True),
                       "" if row.get("band") is None else f"\u00b1{row['band']:.1f}",
                       str(row.get("verdict") or "")])
    pdf.ln(2)
    pdf.set_font(family, "", 7)
    pdf.multi_cell(width, 3.5,
                   "Sides are the subject's. Measures are left-right differences (mm; degrees for the smile "
                   "angle); a change within the repeat-photo band (95th percentile of the change when photos of "
                   "one unchanged face are re-taken, benchmarks/bench_repeat_photo.py) is no real change. eFACE "
                   "and Sunnybrook rows are ESTIMATES FROM PHOTOGRAPHS, not a clinician's grading; empty where "
                   f"photographs cannot measure an item. Decision support, not a diagnosis. palsy_core "
                   f"{__version__}, {created:%Y-%m-%d %H:%M}.", new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())


def _cell_number(value: Any, signed: bool = False) -> str:
    if value is None or not isinstance(value, (int, float)):
        return "" if value is None else str(value)
    return f"{value:+.1f}" if signed else f"{value:.1f}"
