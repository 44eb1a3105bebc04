"""The words results are written in: sides, regions and expressions, defined once.

Sides are the subject's own (their left is on the right of a frontal photo). Regions are
those the asymmetry verdict scores. Expressions are what the patient was asked to do;
:data:`EXPRESSION_LABELS` are the same words as people read them (and as the patient
records store them).
"""

from __future__ import annotations

from typing import Literal

__all__ = [
    "EXPRESSIONS",
    "EXPRESSION_LABELS",
    "OTHER_SIDE",
    "REGIONS",
    "SIDES",
    "Expression",
    "Region",
    "Side",
    "expression_label",
]

Side = Literal["left", "right"]
SIDES: tuple[Side, ...] = ("left", "right")
OTHER_SIDE: dict[Side, Side] = {"left": "right", "right": "left"}

Region = Literal["brow", "eye", "mouth"]
REGIONS: tuple[Region, ...] = ("brow", "eye", "mouth")

Expression = Literal["rest", "smile", "brow_raise", "eyes_closed"]
EXPRESSIONS: tuple[Expression, ...] = ("rest", "smile", "brow_raise", "eyes_closed")


def expression_label(expression: str) -> str:
    """An expression as people read it: ``"brow_raise"`` -> ``"brow raise"``."""
    return expression.replace("_", " ")


EXPRESSION_LABELS: tuple[str, ...] = tuple(expression_label(e) for e in EXPRESSIONS)
