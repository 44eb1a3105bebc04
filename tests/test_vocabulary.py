"""One vocabulary: results, records, the CLI, the grading and the simulator speak the words
of palsy_core.vocabulary (real results: the one-pass golden's photos)."""

from __future__ import annotations

import json
from pathlib import Path

from palsy_core.vocabulary import (EXPRESSION_LABELS, EXPRESSIONS, OTHER_SIDE, REGIONS, SIDES,
                                   expression_label)

PHOTOS = json.loads((Path(__file__).resolve().parent / "data" / "csv_golden.json").read_text())["results"]


def test_results_speak_the_vocabulary():
    from palsy_core.face.normal_range import REGION_MEASURES

    assert tuple(REGION_MEASURES) == REGIONS
    for result in PHOTOS.values():
        assert tuple(result["region_asymmetry"]) == REGIONS
        assert result["affected_side"] in (*SIDES, None)
        assert result["expression"] in EXPRESSIONS
        assert result["assessment"]["detected_expression"] in EXPRESSIONS
        for region in result["region_asymmetry"].values():
            assert region["weaker_side"] in (*SIDES, None)


def test_sides_pair_up_and_labels_read_as_words():
    assert all(OTHER_SIDE[side] != side and OTHER_SIDE[OTHER_SIDE[side]] == side for side in SIDES)
    assert expression_label("brow_raise") == "brow raise" and "eyes closed" in EXPRESSION_LABELS


def test_every_user_speaks_it():
    from palsy_core import records
    from palsy_core.face import measurements
    from palsy_core.cli import EXPRESSION_CHOICES, build_parser
    from palsy_core.comparison import RECORD_EXPRESSION_MOVEMENT
    from trainers.data import simulate

    assert records.EXPRESSIONS == EXPRESSION_LABELS
    assert measurements.EXPRESSIONS is EXPRESSIONS
    assert EXPRESSION_CHOICES == ("detect", *EXPRESSIONS)
    assert set(RECORD_EXPRESSION_MOVEMENT) == set(EXPRESSIONS)
    assert simulate.SIDES is SIDES and set(simulate.PALSY_REGIONS) == {*REGIONS, "full"}
    args = build_parser().parse_args(["analyze", "x.jpg", "--expression", "eyes_closed"])
    assert args.expression == "eyes_closed"


def test_a_record_expression_becomes_its_movement():
    from palsy_core.comparison import _as_photo

    movements = {label: _as_photo({}, label)["movement"] for label in EXPRESSION_LABELS}
    assert movements == {"rest": "rest", "smile": "full_smile", "brow raise": "brow_raise",
                         "eyes closed": "gentle_eye_closure"}
    assert _as_photo({}, "eyes_closed")["movement"] == "gentle_eye_closure"
    assert _as_photo({}, "pucker")["movement"] == "pucker"
