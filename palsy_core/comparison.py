"""Two visits side by side: every measure and scale item with its change, and a verdict
per region that knows how much a repeat photo of an unchanged face moves a measure.

The "no real change" band of each measure is measured, not chosen:
``palsy_core/data/repeat_photo_bands.json``, written by
``benchmarks/bench_repeat_photo.py`` (the 95th percentile of the change of each measure's
left-right difference when the 82 London Set photos are re-framed, rotated +-3 deg,
downscaled or re-compressed; it says so itself). A change inside the band is reported as
no real change; beyond it, as improved or worse. The eye's statement reads the eye as the
verdict does, from the pixels (the mirror flow's eye-opening difference, with a band of its
own), when both photos carry such a reading; visits saved before it, or photos too soft
for it, are compared by the landmarks' fissure height, which follows about a fifth of a
lid's movement. The smile's movement from rest has a
band too (both photos of the visit re-taken); other movements have none yet (no public
photo set here shows them), so their changes are listed without a verdict. Simulated
repeat photos leave out a real re-take's change of expression and light, so every band is
a floor.

A visit is anything :func:`visit_dict` accepts: a :class:`palsy_core.VisitAnalysis`, its
``to_dict()``, one photo's ``AnalysisResult`` (or its dict), or the stored visits of one
day (``palsy_core.records.VisitRecord`` objects or plain dicts with ``assessment`` and
``expression``).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .analysis import AnalysisResult
from .face.measurements import FLOW_EYE_MEASURE, MEASUREMENT_NAMES
from .face.mirror_flow import eye_readable
from .visit import MOVEMENTS, VisitAnalysis
from .vocabulary import Expression

#: The shipped bands (found next to this module, wherever installed).
REPEAT_BANDS_FILE = Path(__file__).resolve().parent / "data" / "repeat_photo_bands.json"
#: Each region's measure in the statements, and its words.
REGION_MEASURES: dict[str, tuple[str, str]] = {
    "brow": ("brow_height", "brow-height difference"),
    "eye": ("palpebral_fissure_height", "eye-opening difference"),
    "mouth": ("commissure_height", "mouth-corner difference"),
}
#: The eye's statement when both photos carry the eye read from the pixels (as the
#: verdict reads it): the landmarks follow about a fifth of a lid's movement.
FLOW_EYE_STATEMENT = (FLOW_EYE_MEASURE, "eye-opening difference (read from the pixels)")
#: Each expression (stored visits spell it with a space) as a movement of the photo set.
RECORD_EXPRESSION_MOVEMENT: dict[Expression, str] = {
    "rest": "rest", "smile": "full_smile", "brow_raise": "brow_raise", "eyes_closed": "gentle_eye_closure"}
#: Scale totals and whether a higher number is better.
_TOTALS = {"efACE": {"static": True, "dynamic": True, "synkinesis": True, "total": True},
           "sunnybrook": {"resting": False, "voluntary": True, "synkinesis": False, "total": True}}


@functools.lru_cache(maxsize=2)
def _load_bands(path: str) -> dict:
    return json.loads(Path(path).read_text(encoding="utf-8"))


def repeat_photo_bands(path: str | None = None) -> dict:
    """The measured repeat-photo bands with their provenance (the data file, parsed)."""
    return _load_bands(str(Path(path).resolve()) if path else str(REPEAT_BANDS_FILE))


def band_for(measure: str, movement: str, bands: dict | None = None) -> float:
    """The repeat-photo band (mm; degrees for the smile angle) of a measure's left-right
    difference: the smile's for smile photos, the rest's for every other movement."""
    return float(_bands_of(movement, bands)[measure]["difference_band"])


def _bands_of(movement: str, bands: dict | None = None) -> dict:
    """The bands of every measure for a photo of ``movement``: the smile's for smile
    photos, the rest's for every other movement."""
    document = bands or repeat_photo_bands()
    expression = "smile" if movement in ("closed_smile", "full_smile") else "rest"
    return document["bands"][expression]


def movement_band(movement: str, bands: dict | None = None) -> dict | None:
    """``{"side_band" (mm), "ratio_band" (points of %)}`` of a movement, or None where
    none is measured (only the smiles' so far: the London Set has no other movement)."""
    document = bands or repeat_photo_bands()
    key = "full_smile" if movement in ("closed_smile", "full_smile") else movement
    return (document.get("movement_bands") or {}).get(key)


def visit_dict(visit: Any) -> dict:
    """Any visit form as ``{"photos": [...], "movements", "efACE", "sunnybrook", ...}``.

    Each photo dict carries ``movement`` and ``measurements``.

    Raises
    ------
    ValueError
        For something that is not a visit, a photo result or stored visits.
    """
    if isinstance(visit, VisitAnalysis):
        return visit.to_dict(include_landmarks=False)
    if isinstance(visit, AnalysisResult):
        visit = visit.to_dict()
    if isinstance(visit, Mapping) and "photos" in visit:
        return dict(visit)
    if isinstance(visit, Mapping) and "measurements" in visit:  # one photo's analysis
        return {"photos": [_as_photo(visit, None)], "movements": {}, "efACE": None, "sunnybrook": None}
    if isinstance(visit, Mapping) and isinstance(visit.get("assessment"), Mapping):  # a stored visit
        return _from_records([visit])
    if hasattr(visit, "assessment"):  # a records.VisitRecord
        return _from_records([visit])
    if isinstance(visit, Sequence) and not isinstance(visit, (str, bytes)) and visit:
        return _from_records(list(visit))
    raise ValueError("Not a visit: give a VisitAnalysis (or its to_dict()), a photo's analysis, "
                     "or the stored visits of one day.")


def _record_field(record: Any, name: str, default: Any = None) -> Any:
    return record.get(name, default) if isinstance(record, Mapping) else getattr(record, name, default)


def _as_photo(assessment: Mapping[str, Any], expression: str | None) -> dict:
    photo = dict(assessment)
    if "movement" not in photo:
        key = expression or photo.get("expression") or "rest"
        photo["movement"] = RECORD_EXPRESSION_MOVEMENT.get(str(key).replace(" ", "_"), key)
    return photo


def _from_records(records: list) -> dict:
    photos, efACE, sunnybrook, movements = [], None, None, {}
    for record in records:
        if isinstance(record, AnalysisResult):
            record = record.to_dict()
        if isinstance(record, Mapping) and ("measurements" in record or "photos" in record):
            assessment = record  # an analysis (of a photo or a visit), not a stored visit
        else:
            assessment = _record_field(record, "assessment", record)
        if isinstance(assessment, Mapping) and "photos" in assessment:  # a stored whole visit
            photos += list(assessment["photos"])
            movements = assessment.get("movements") or movements
            efACE = assessment.get("efACE") or efACE
            sunnybrook = assessment.get("sunnybrook") or sunnybrook
        elif isinstance(assessment, Mapping) and "measurements" in assessment:
            photos.append(_as_photo(assessment, _record_field(record, "expression")))
        else:
            raise ValueError("A stored visit without an assessment cannot be compared.")
    first = records[0]
    return {"photos": photos, "movements": movements, "efACE": efACE, "sunnybrook": sunnybrook,
            "visit_date": str(_record_field(first, "visit_date", "") or ""),
            "patient": _record_field(first, "patient")}


def _first(photos: list[dict], movement: str) -> dict | None:
    return next((p for p in photos if p.get("movement") == movement and p.get("measurements")), None)


@dataclass
class VisitComparison:
    """Two visits compared.

    Attributes
    ----------
    rows : list of dict
        One per measure (per movement photographed at both visits), movement and scale
        item: ``section`` ("measure", "movement", "efACE", "sunnybrook"), ``movement``,
        ``name``, ``unit``, ``before``, ``after``, ``change`` (after - before), ``band``
        (the repeat-photo band, measures only), ``verdict`` ("improved", "worse",
        "no real change", or "" where no band is measured), and for measures
        ``before_left``, ``before_right``, ``after_left``, ``after_right`` (not for
        ``palpebral_fissure_flow``, the eye read from the pixels: it has no per-side
        values, and a row only where both photos carry a reading the verdict trusts).
    statements : dict of str to str
        One line per region (brow, eye, mouth) that both visits measured, and
        ``smile_movement`` when both visits have a smile and a rest photo.
    basis_movement : str or None
        The movement the statements rest on (rest when both visits have it).
    """

    rows: list[dict]
    statements: dict[str, str]
    basis_movement: str | None
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"rows": self.rows, "statements": self.statements,
                "basis_movement": self.basis_movement, "notes": list(self.notes),
                "band_source": "palsy_core/data/repeat_photo_bands.json (benchmarks/bench_repeat_photo.py)"}


def _flow_eye(photo: Mapping[str, Any]) -> float | None:
    """A photo's eye-opening difference read from the pixels (mm), or None where it has
    none the verdict would read (saved before, too soft, too small)."""
    flow = photo.get("mirror_flow")
    if not isinstance(flow, Mapping) or not eye_readable(
            float(flow.get("eye_sharpness", 0.0)), float(flow.get("pupil_distance_px", 0.0))):
        return None
    return abs(float(flow["fissure_difference_mm"]))


def _verdict(change: float, band: float, lower_is_better: bool = True) -> str:
    if abs(change) <= band:
        return "no real change"
    better = change < 0 if lower_is_better else change > 0
    return "improved" if better else "worse"


def compare_visits(before: Any, after: Any, *, bands: dict | None = None) -> VisitComparison:
    """Every measure and scale item of two visits with its change, and one line per region.

    Parameters
    ----------
    before, after : visit
        Anything :func:`visit_dict` accepts (usually the earlier visit first).
    bands : dict, optional
        Another repeat-photo band document (default: the shipped one).

    Returns
    -------
    VisitComparison
    """
    old, new = visit_dict(before), visit_dict(after)
    rows, notes = [], []
    movements_both = [m for m in _ordered_movements(old, new)
                      if _first(old["photos"], m) and _first(new["photos"], m)]
    for movement in movements_both:
        photo_a, photo_b = _first(old["photos"], movement), _first(new["photos"], movement)
        a, b = photo_a["measurements"], photo_b["measurements"]
        for name in MEASUREMENT_NAMES:
            if name not in a or name not in b:
                continue
            band = band_for(name, movement, bands)
            change = b[name]["difference"] - a[name]["difference"]
            rows.append({"section": "measure", "movement": movement, "name": name,
                         "unit": a[name].get("unit", "mm"),
                         "before": a[name]["difference"], "after": b[name]["difference"],
                         "change": round(change, 3), "band": band, "verdict": _verdict(change, band),
                         "before_left": a[name]["left"], "before_right": a[name]["right"],
                         "after_left": b[name]["left"], "after_right": b[name]["right"]})
        x, y = _flow_eye(photo_a), _flow_eye(photo_b)
        if x is not None and y is not None and FLOW_EYE_MEASURE in _bands_of(movement, bands):
            band = band_for(FLOW_EYE_MEASURE, movement, bands)
            rows.append({"section": "measure", "movement": movement, "name": FLOW_EYE_MEASURE,
                         "unit": "mm", "before": x, "after": y, "change": round(y - x, 3),
                         "band": band, "verdict": _verdict(y - x, band)})
    for movement, m_old in (old.get("movements") or {}).items():
        m_new = (new.get("movements") or {}).get(movement)
        if not m_new:
            continue
        band = movement_band(movement, bands)
        for key, unit in (("left", "mm"), ("right", "mm"), ("ratio_percent", "%")):
            x, y = m_old.get(key), m_new.get(key)
            change = None if x is None or y is None else round(y - x, 3)
            row_band = None if band is None else band["ratio_band" if key == "ratio_percent" else "side_band"]
            verdict = ("" if row_band is None or change is None else
                       _verdict(change, row_band, lower_is_better=False))
            rows.append({"section": "movement", "movement": movement, "name": f"{m_old['measure']}.{key}",
                         "unit": unit, "before": x, "after": y, "change": change,
                         "band": row_band, "verdict": verdict})
    for scale, totals in _TOTALS.items():
        s_old, s_new = old.get(scale) or {}, new.get(scale) or {}
        if not s_old or not s_new:
            continue
        for key, value in (s_old.get("items") or {}).items():
            y = (s_new.get("items") or {}).get(key)
            rows.append({"section": scale, "movement": None, "name": key, "unit": "",
                         "before": value, "after": y,
                         "change": None if value is None or y is None else round(y - value, 1),
                         "band": None, "verdict": ""})
        for key in totals:
            x, y = s_old.get(key), s_new.get(key)
            rows.append({"section": scale, "movement": None, "name": key, "unit": "",
                         "before": x, "after": y,
                         "change": None if x is None or y is None else round(y - x, 1),
                         "band": None, "verdict": ""})
    basis = next((m for m in ("rest", "full_smile", "closed_smile") if m in movements_both), None)
    statements = {}
    if basis is None:
        notes.append("The two visits share no rest or smile photo: no region statement.")
    else:
        for region, (measure, words) in REGION_MEASURES.items():
            candidates = [(measure, words)]
            if region == "eye":  # the pixels' reading first, where both photos have one
                candidates.insert(0, FLOW_EYE_STATEMENT)
            row, words = next((r, w) for m, w in candidates for r in rows
                              if r["section"] == "measure" and r["movement"] == basis
                              and r["name"] == m)
            statements[region] = _statement(words, row, basis)
    smile = next((r for r in rows if r["section"] == "movement" and r["verdict"]
                  and r["name"] == "commissure_excursion.ratio_percent"), None)
    if smile is not None:
        statements["smile_movement"] = _statement("smile movement, affected/healthy", smile, "rest")
    if old.get("efACE") and new.get("efACE") and old["efACE"].get("scored_side") != new["efACE"].get("scored_side"):
        notes.append("The visits' scores were read on different sides (the affected side changed): "
                     "compare the scale items with care.")
    return VisitComparison(rows, statements, basis, notes)


def _ordered_movements(old: dict, new: dict) -> list[str]:
    seen = [p.get("movement") for p in old["photos"] + new["photos"]]
    return [m for m in MOVEMENTS if m in seen] + sorted({m for m in seen if m and m not in MOVEMENTS})


def _statement(words: str, row: dict, movement: str) -> str:
    unit = row["unit"] if row["unit"] != "%" else "points"
    head = (f"{words[0].upper()}{words[1:]} {row['before']:.1f} \u2192 {row['after']:.1f} "
            f"{row['unit']}")
    where = "" if movement == "rest" else f" (in the {movement.replace('_', ' ')} photo)"
    if row["verdict"] == "no real change":
        return (f"{head}{where}: no change beyond what repeat photos of one person show "
                f"(\u00b1{row['band']:.1f} {unit}).")
    return (f"{head}{where}: {row['verdict']}, beyond the change that repeat photos of one person "
            f"show (\u00b1{row['band']:.1f} {unit}).")
