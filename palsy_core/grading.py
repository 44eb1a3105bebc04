"""eFACE-style and Sunnybrook estimates from a visit's photographs.

Estimates, not grades: the clinician grades; this module says what the photographs'
millimetres suggest, item by item, and leaves every item that landmarks cannot see as
``None`` with status ``"needs_clinician"``. The mapping from measures to item scores is
one documented data file, ``palsy_core/data/grading_map.json`` (each item's definition,
parameters and sources: Banks et al. 2015 for eFACE, Miller et al. 2021 and Guarin et al.
2018 for Auto-eFACE and Emotrics, Ross et al. 1996 for Sunnybrook, and this project's
normal limits). :func:`palsy_core.analyze_visit` calls both estimators; they take the
visit's measured positions and movements (:mod:`palsy_core.visit`).

Item status: ``"estimated"`` (a number), ``"needs_clinician"`` (photographs cannot
measure it), ``"missing_photo"`` (the set lacks the photo it needs, or the rest photo).
Totals run over the estimated items only, on the scale's own range, and say which items
they rest on.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from .face.normal_range import limits_for
from .vocabulary import OTHER_SIDE, SIDES, Side

#: The shipped mapping (found next to this module, wherever installed).
GRADING_MAP_FILE = Path(__file__).resolve().parent / "data" / "grading_map.json"
#: Below this movement of the healthy side (mm) no affected/healthy ratio is computed
#: (the grades here and the visit's movement ratios alike).
MIN_MOVEMENT_MM = 1.0


@functools.lru_cache(maxsize=4)
def _load(path: str) -> dict:
    document = json.loads(Path(path).read_text(encoding="utf-8"))
    if document.get("format_version") != 1:
        raise ValueError(f"{path}: unsupported grading map format {document.get('format_version')!r}.")
    return document


def grading_map(path: str | None = None) -> dict:
    """The mapping from measures to item scores (the data file, parsed; read once)."""
    return _load(str(Path(path).resolve()) if path else str(GRADING_MAP_FILE))


def _item(spec: Mapping[str, Any], status: str, score: float | None = None, *,
          side: Side | None = None, detail: str = "", inputs: dict | None = None,
          raw: float | None = None) -> dict:
    out = {"key": spec["key"], "title": spec["title"], "status": status,
           "score": None if score is None else round(float(score), 1),
           "scored_side": side, "detail": detail or spec.get("reason", ""),
           "definition": spec.get("definition", ""), "sources": list(spec.get("sources", ())),
           "inputs": inputs or {}}
    if raw is not None:
        out["raw"] = round(float(raw), 1)
    return out


def _first_photo(spec, measured) -> str | None:
    return next((m for m in spec.get("photos", ()) if m in measured), None)


def _missing(spec, measured) -> dict:
    if "rest" not in measured:
        return _item(spec, "missing_photo", detail="needs the rest photo")
    wanted = spec.get("photos") or [spec.get("photo", "rest")]
    return _item(spec, "missing_photo", detail="needs a photo of: " + " or ".join(w.replace("_", " ")
                                                                                 for w in wanted))


def _scale_summary(spec: dict, details: dict, side) -> dict:
    """The keys both scales share: range, total rule, scored side, items by status."""
    by_status = {status: [k for k, d in details.items() if d["status"] == status]
                 for status in ("estimated", "needs_clinician", "missing_photo")}
    return {"range": spec["total_range"], "total_rule": spec["total_rule"], "scored_side": side,
            "measurable": by_status["estimated"], "needs_clinician": by_status["needs_clinician"],
            "missing_photo": by_status["missing_photo"]}


def _worst_synkinesis(item, measured, side, excess_of, dead_zone, span, digits):
    """(side, score, photo, excess) for the photo with the largest unwanted movement.

    ``excess_of(measured, photo, side)`` is the unwanted movement; the score falls from
    100 linearly over ``span`` beyond the ``dead_zone`` healthy faces show.
    """
    photos = [m for m in item["photos"] if m in measured]

    def score_for(s):
        worst = max(photos, key=lambda p: excess_of(measured, p, s))
        excess = excess_of(measured, worst, s)
        over = max(0.0, excess - dead_zone)
        return max(0.0, 100.0 - 100.0 * over / span), worst, round(excess, digits)

    return _worse(side, score_for)


def _worse(side: Side | None, score_for: Callable[[Side], tuple]) -> tuple:
    """Score on the affected side, or on the side that scores worse when none is known."""
    if side is not None:
        return (side, *score_for(side))
    options = [(s, *score_for(s)) for s in SIDES]
    return min(options, key=lambda option: option[1])


# -- measures shared by both scales -------------------------------------------------------

def _static_value(measured, measure: str, side: Side) -> float:
    rest = measured["rest"]
    if measure == "brow_height":
        return rest.brow[side]
    if measure == "palpebral_fissure_height":
        return rest.fissure[side]
    if measure == "commissure_height":
        return -rest.corner[side][1]  # up the face, from the pupil line
    raise KeyError(measure)


def _eye_narrowing(measured, movement: str, side: Side) -> float:
    """Affected minus healthy share of the rest fissure closed in ``movement`` (points)."""
    rest, moved = measured["rest"], measured[movement]

    def closed(s):
        return 100.0 * (rest.fissure[s] - moved.fissure[s]) / rest.fissure[s] if rest.fissure[s] > 0 else 0.0

    return closed(side) - closed(OTHER_SIDE[side])


def _mouth_movement(measured, movement: str, side: Side) -> float:
    """Affected minus healthy distance the mouth corner moved in ``movement`` (mm)."""
    rest, moved = measured["rest"], measured[movement]

    def moved_mm(s):
        return float(np.linalg.norm(moved.corner[s] - rest.corner[s]))

    return moved_mm(side) - moved_mm(OTHER_SIDE[side])


def _ratio_for(movements, movement: str, side: Side) -> float | None:
    m = movements[movement]
    healthy = m.right if side == "left" else m.left
    affected = m.left if side == "left" else m.right
    if healthy < MIN_MOVEMENT_MM:
        return None
    return 100.0 * max(affected, 0.0) / healthy


def _band(value: float, bands) -> int:
    return next(grade for threshold, grade in bands if value >= threshold)


# -- eFACE ---------------------------------------------------------------------------

def estimate_eface(measured: Mapping[str, Any],
                   movements: Mapping[str, Any], side: Side | None,
                   mapping: dict | None = None) -> dict[str, Any]:
    """eFACE-style static / dynamic / synkinesis profile and total (estimate).

    Parameters
    ----------
    measured : mapping movement -> positions
        Per-side positions in mm (:mod:`palsy_core.visit`); empty without a rest photo.
    movements : mapping movement -> MovementMeasure
    side : {"left", "right"} or None
        The visit's affected side.
    mapping : dict, optional
        Another grading map (default: the shipped one).

    Returns
    -------
    dict
        ``label``, ``items`` (key -> score 0-100, or None), ``item_details`` (key ->
        status, score, raw, scored side, inputs, definition, sources), ``static``,
        ``dynamic``, ``synkinesis`` (group means), ``total`` (mean of the estimated items,
        0-100, 100 = normal; None when none is), ``range``, ``measurable``,
        ``needs_clinician``, ``missing_photo``.
    """
    spec = (mapping or grading_map())["efACE"]
    rest_limits = limits_for("rest")
    details = {}
    for item in spec["items"]:
        details[item["key"]] = _eface_item(item, measured, movements, side, rest_limits)
    groups = {}
    for group in ("static", "dynamic", "synkinesis"):
        scores = [d["score"] for item, d in zip(spec["items"], details.values())
                  if item["group"] == group and d["status"] == "estimated"]
        groups[group] = round(float(np.mean(scores)), 1) if scores else None
    estimated = [d["score"] for d in details.values() if d["status"] == "estimated"]
    return {
        "label": (mapping or grading_map())["label"],
        "scale": spec["title"],
        "items": {k: d["score"] for k, d in details.items()},
        "item_details": details,
        **groups,
        "total": round(float(np.mean(estimated)), 1) if estimated else None,
        **_scale_summary(spec, details, side),
    }


def _eface_item(item, measured, movements, side, rest_limits) -> dict:
    method = item["method"]
    if method == "needs_clinician":
        return _item(item, "needs_clinician")
    if method == "static_difference":
        if "rest" not in measured:
            return _missing(item, measured)
        limit = rest_limits[item["measure"]]

        def score_for(s):
            delta = _static_value(measured, item["measure"], s) - _static_value(measured, item["measure"], OTHER_SIDE[s])
            excess = max(0.0, abs(delta) - limit)
            raw = float(np.clip(100.0 + np.sign(delta) * 100.0 * excess / item["span_mm"], 0.0, 200.0))
            return 100.0 - abs(100.0 - raw), raw, round(delta, 3)

        s, score, raw, delta = _worse(side, score_for)
        return _item(item, "estimated", score, side=s, raw=raw,
                     inputs={"difference_mm": delta, "difference_is": f"{s} minus {OTHER_SIDE[s]}",
                             "normal_limit_mm": limit, "span_mm": item["span_mm"]})
    movement = _first_photo(item, measured)
    if movement is None or "rest" not in measured:
        return _missing(item, measured)
    if method == "movement_ratio":
        m = movements[movement]

        def score_for(s):
            ratio = _ratio_for(movements, movement, s)
            return (None, None) if ratio is None else (min(ratio, 100.0), ratio)

        if side is None:
            s = m.weaker_side or "left"
            score, ratio = score_for(s)
        else:
            s = side
            score, ratio = score_for(side)
        if score is None:
            return _item(item, "missing_photo", side=s,
                         detail=f"the healthy side barely moved in the {movement.replace('_', ' ')} photo",
                         inputs={"left_mm": round(m.left, 3), "right_mm": round(m.right, 3)})
        return _item(item, "estimated", score, side=s,
                     inputs={"photo": movement, "left_mm": round(m.left, 3), "right_mm": round(m.right, 3),
                             "ratio_percent": round(ratio, 1)})
    if method == "eye_narrowing":
        s, score, worst, excess = _worst_synkinesis(item, measured, side, _eye_narrowing,
                                                    item["dead_zone_percent"], item["span_percent"], 1)
        return _item(item, "estimated", score, side=s,
                     inputs={"photo": worst, "excess_narrowing_points": excess,
                             "dead_zone_points": item["dead_zone_percent"]})
    if method == "mouth_movement":
        s, score, worst, excess = _worst_synkinesis(item, measured, side, _mouth_movement,
                                                    item["dead_zone_mm"], item["span_mm"], 2)
        return _item(item, "estimated", score, side=s,
                     inputs={"photo": worst, "excess_movement_mm": excess, "dead_zone_mm": item["dead_zone_mm"]})
    raise ValueError(f"Unknown grading method {method!r} in the grading map.")


# -- Sunnybrook --------------------------------------------------------------------------

def estimate_sunnybrook(measured: Mapping[str, Any],
                        movements: Mapping[str, Any], side: Side | None,
                        mapping: dict | None = None) -> dict[str, Any]:
    """Sunnybrook composite estimate: voluntary movement - resting symmetry - synkinesis.

    Parameters are those of :func:`estimate_eface`.

    Returns
    -------
    dict
        ``label``, ``items`` (``"resting.eye"``, ``"voluntary.lip_pucker"``, ... -> points
        or grade, or None), ``item_details``, ``resting`` (0-20), ``voluntary`` (20-100),
        ``synkinesis`` (0-15), ``total`` (the composite, 100 = normal; None when no
        voluntary item is estimated), ``range``, ``measurable``, ``needs_clinician``,
        ``missing_photo``. Each part is prorated over its estimated items.
    """
    full = mapping or grading_map()
    spec = full["sunnybrook"]
    rest_limits = limits_for("rest")
    details: dict[str, dict] = {}
    for item in spec["resting"]["items"]:
        details[f"resting.{item['key']}"] = _resting_item(item, measured, side, rest_limits)
    for item in spec["voluntary"]["items"]:
        details[f"voluntary.{item['key']}"] = _voluntary_item(item, spec["voluntary"], measured,
                                                               movements, side)
    for item in spec["synkinesis"]["items"]:
        details[f"synkinesis.{item['key']}"] = _synkinesis_item(item, spec["synkinesis"], measured, side)

    def estimated(part):
        return [(k, d) for k, d in details.items() if k.startswith(part + ".") and d["status"] == "estimated"]

    resting_items = estimated("resting")
    max_points = {f"resting.{i['key']}": i["max_points"] for i in spec["resting"]["items"]}
    resting = None
    if resting_items:
        points = sum(d["score"] for _, d in resting_items)
        available = sum(max_points[k] for k, _ in resting_items)
        resting = spec["resting"]["multiplier"] * points * sum(max_points.values()) / available
    voluntary_items = estimated("voluntary")
    voluntary = (spec["voluntary"]["multiplier"] * 5 * float(np.mean([d["score"] for _, d in voluntary_items]))
                 if voluntary_items else None)
    synkinesis_items = estimated("synkinesis")
    synkinesis = (5 * float(np.mean([d["score"] for _, d in synkinesis_items]))
                  if synkinesis_items else None)
    total = None
    if voluntary is not None:
        total = voluntary - (resting or 0.0) - (synkinesis or 0.0)
    return {
        "label": full["label"],
        "scale": spec["title"],
        "items": {k: d["score"] for k, d in details.items()},
        "item_details": details,
        "resting": None if resting is None else round(resting, 1),
        "voluntary": None if voluntary is None else round(voluntary, 1),
        "synkinesis": None if synkinesis is None else round(synkinesis, 1),
        "total": None if total is None else round(total, 1),
        **_scale_summary(spec, details, side),
    }


def _resting_item(item, measured, side, rest_limits) -> dict:
    if item["method"] == "needs_clinician":
        return _item(item, "needs_clinician")
    if "rest" not in measured:
        return _missing(item, measured)
    limit = rest_limits[item["measure"]]
    s = side or "left"
    delta = _static_value(measured, item["measure"], s) - _static_value(measured, item["measure"], OTHER_SIDE[s])
    flagged = abs(delta) > limit
    if item["key"] == "eye":
        words = ("wide" if delta > 0 else "narrow") if flagged else "normal"
    else:
        words = ("corner pulled up/out" if delta > 0 else "corner dropped") if flagged else "normal"
    return _item(item, "estimated", 1.0 if flagged else 0.0, side=side, detail=words,
                 inputs={"difference_mm": round(delta, 3), "normal_limit_mm": limit,
                         "difference_is": f"{s} minus {OTHER_SIDE[s]}"})


def _voluntary_item(item, part, measured, movements, side) -> dict:
    if item["method"] == "needs_clinician":
        return _item(item, "needs_clinician")
    movement = _first_photo(item, measured)
    if movement is None or "rest" not in measured:
        return _missing(item, measured)
    m = movements[movement]
    s = side or m.weaker_side or "left"
    ratio = _ratio_for(movements, movement, s)
    if ratio is None:
        return _item(item, "missing_photo", side=s,
                     detail=f"the healthy side barely moved in the {movement.replace('_', ' ')} photo")
    grade = _band(ratio, part["grade_bands_ratio_percent"])
    return _item(item, "estimated", grade, side=s, detail=part["grade_words"][str(grade)],
                 inputs={"photo": movement, "left_mm": round(m.left, 3), "right_mm": round(m.right, 3),
                         "ratio_percent": round(ratio, 1)})


def _synkinesis_item(item, part, measured, side) -> dict:
    if item["method"] == "needs_clinician":
        return _item(item, "needs_clinician")
    movement = _first_photo(item, measured)
    if movement is None or "rest" not in measured:
        return _missing(item, measured)
    if item["method"] == "eye_narrowing_grade":
        value_of, bands, key = _eye_narrowing, part["grade_bands_eye_percent"], "excess_narrowing_points"
    else:
        value_of, bands, key = _mouth_movement, part["grade_bands_mouth_mm"], "excess_movement_mm"

    def score_for(s):
        value = value_of(measured, movement, s)
        return -_band(value, bands), round(value, 2)  # worse = more synkinesis = lower key

    s, negative_grade, value = _worse(side, score_for)
    grade = -negative_grade
    return _item(item, "estimated", grade, side=s, detail=part["grade_words"][str(grade)],
                 inputs={"photo": movement, key: value})
