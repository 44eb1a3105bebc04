"""What to consider next: the severity class combined with the geometric findings.

Every statement lives in one data file, ``palsy_core/data/recommendations.json``, with the
guideline or review it rests on; this module only decides which statements apply to
one analysed photo. They are decision support for a clinician, never a diagnosis.

Which statements apply
----------------------
- The verdict comes first (:attr:`AnalysisResult.assessment`): "not_assessable" gives
  only the retake statement; "within_normal" gives only the within-normal statement
  (the severity grade is then supporting detail).
- Otherwise the geometric rules: ``forehead_spared`` (the eye or mouth affected while
  the brow on that side does not droop, :func:`brow_spared`: exclude a central cause
  such as stroke, urgently), ``eye_closure_affected`` (the eye region affected), and,
  whenever a palsy is found, ``new_onset_steroids`` and ``recovery_stalled``. A region
  is affected when it is beyond its own limit or carries a good part of the combined
  score that called the asymmetry (:func:`region_flags`).
- Then the severity class's own statements (or "uncertain"'s), without repeating one.

Urgent statements come first.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path

from .assessment import SUPPORTING_SHARE
from .vocabulary import Side

DATA_FILE = Path(__file__).parent / "data" / "recommendations.json"
#: Display order of priorities.
PRIORITIES = ("urgent", "soon", "routine", "info")
#: Geometric rules, in the order they are considered.
RULES = ("forehead_spared", "eye_closure_affected", "new_onset_steroids", "recovery_stalled",
         "within_normal", "not_assessable")


@dataclass(frozen=True)
class Recommendation:
    """One statement for the clinician.

    Attributes
    ----------
    id : str
        The statement's key in the data file (a class statement's id, or a rule name).
    text : str
        Worded as decision support.
    priority : {"urgent", "soon", "routine", "info"}
    sources : tuple of str
        Full citations.
    trigger : str
        Why it applies to this photo, in words (e.g. "severity class moderate_eye").
    """

    id: str
    text: str
    priority: str
    sources: tuple[str, ...]
    trigger: str

    def to_dict(self) -> dict:
        return {"id": self.id, "text": self.text, "priority": self.priority,
                "sources": list(self.sources), "trigger": self.trigger}


@functools.lru_cache(maxsize=1)
def load_statements() -> dict:
    """The parsed data file (sources resolved to full citations on use)."""
    return json.loads(DATA_FILE.read_text(encoding="utf-8"))


def disclaimer() -> str:
    return load_statements()["disclaimer"]


def _make(entry: dict, *, id: str, trigger: str, **fields) -> Recommendation:
    sources = load_statements()["sources"]
    return Recommendation(id=id, text=entry["text"].format(**fields) if fields else entry["text"],
                          priority=entry["priority"],
                          sources=tuple(sources[key] for key in entry["sources"]),
                          trigger=trigger)


def class_recommendations(label: str) -> list[Recommendation]:
    """The statements of one severity class (or "uncertain")."""
    entries = load_statements()["classes"].get(label, [])
    return [_make(e, id=e["id"], trigger=f"severity class {label}") for e in entries]


def rule_recommendation(rule: str, **fields) -> Recommendation:
    """One geometric rule's statement, its ``{side}`` / ``{regions}`` filled in."""
    entry = load_statements()["rules"][rule]
    return _make(entry, id=rule, trigger=f"rule {rule}", **fields)


@dataclass(frozen=True)
class RegionFlag:
    """One region's geometric finding, from the assessment or the measurements."""

    beyond_limit: bool
    weaker_side: Side | None


def region_flags(result) -> dict[str, RegionFlag]:
    """Brow, eye and mouth: affected (beyond its own limit, or carrying at least
    :data:`SUPPORTING_SHARE` of a combined score that called asymmetry on its side), and
    which side is weaker."""
    assessment = getattr(result, "assessment", None)
    if assessment is not None:
        total = assessment.combined_score or 0.0
        supporting = {r.name for r in assessment.supporting_regions
                      if total > 0 and (r.share or 0.0) >= SUPPORTING_SHARE * total}
        return {r.name: RegionFlag(
                    r.decides_side and (r.beyond_limit or r.name in supporting),
                    r.weaker_side or (assessment.affected_side if r.name in supporting else None))
                for r in assessment.regions}
    return {name: RegionFlag(not r.within_normal, r.weaker_side)
            for name, r in result.region_asymmetry.items()}


def brow_spared(result, side: Side) -> bool:
    """True when the brow on the weaker ``side`` sits no lower than the other brow.

    A peripheral palsy lowers the brow of the weak side (at rest) and stops it rising (in
    a brow raise); a central one spares the forehead. From one photo at rest this is a
    weak sign: healthy brows differ by up to about 2 mm, and on the simulator's palsies
    the sign separates central from peripheral cases in most but not all faces
    (``tests/test_recommendations.py``). The statement therefore asks for the brow raise.
    """
    brow = result.measurements.get("brow_height")
    if brow is None:
        return False
    other = "right" if side == "left" else "left"
    return getattr(brow, side) >= getattr(brow, other)


def verdict(result) -> str:
    """"within_normal", "asymmetry" or "not_assessable" (from the assessment when there is one)."""
    assessment = getattr(result, "assessment", None)
    if assessment is not None:
        return assessment.status
    return "asymmetry" if result.affected_side else "within_normal"


def recommend(result, severity=None) -> list[Recommendation]:
    """The statements that apply to one analysed photo, urgent first.

    Parameters
    ----------
    result : AnalysisResult
    severity : SeverityPrediction, optional
        Default: ``result.predictions.get("severity")``.
    """
    severity = severity if severity is not None else result.predictions.get("severity")
    status = verdict(result)
    if status == "not_assessable":
        return [rule_recommendation("not_assessable")]
    if status == "within_normal":
        return [rule_recommendation("within_normal")]
    side = result.affected_side
    flags = region_flags(result)
    out = []
    lower = [name for name in ("eye", "mouth")
             if name in flags and flags[name].beyond_limit and flags[name].weaker_side == side]
    if lower and brow_spared(result, side):
        out.append(rule_recommendation("forehead_spared", side=side, regions=" and ".join(lower)))
    eye = flags.get("eye")
    if eye is not None and eye.beyond_limit and eye.weaker_side == side:
        out.append(rule_recommendation("eye_closure_affected", side=side))
    out.append(rule_recommendation("new_onset_steroids"))
    out.append(rule_recommendation("recovery_stalled"))
    if severity is not None:
        seen = {r.id for r in out}
        for r in class_recommendations(severity.label):
            if r.id not in seen and not (r.id.startswith("eye_protection")
                                         and "eye_closure_affected" in seen):
                out.append(r)
                seen.add(r.id)
    return sorted(out, key=lambda r: PRIORITIES.index(r.priority))


def attach_recommendations(result):
    """``result.predictions["severity"]`` with its recommendations and display role set."""
    severity = result.predictions.get("severity")
    if severity is None:
        return None
    return severity.with_recommendations(
        recommend(result, severity), supporting_detail_only=verdict(result) != "asymmetry")
