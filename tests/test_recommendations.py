"""Recommendations: every class and rule has text and a source; the forehead-sparing rule
tells a simulated central palsy from a peripheral one on a real photo."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from palsy_core.models._severity import SEVERITY_CLASSES
from palsy_core.recommendations import (PRIORITIES, RULES, class_recommendations,
                                        disclaimer, load_statements, recommend,
                                        rule_recommendation)

LONDON = Path(__file__).resolve().parents[1].parent / "shared" / "faces" / "london"
#: Words that would state a diagnosis rather than support one.
DIAGNOSTIC_WORDS = re.compile(r"\b(you have|diagnosed with|this is a stroke|confirms?)\b", re.I)


def test_every_class_and_rule_has_text_and_a_resolvable_source():
    data = load_statements()
    for label in (*SEVERITY_CLASSES, "normal", "uncertain"):
        items = class_recommendations(label)
        assert items, f"class {label} has no statement"
        for item in items:
            assert len(item.text) > 40 and item.sources and item.priority in PRIORITIES
            assert all(re.search(r"(19|20)\d\d|https://", s) for s in item.sources), item.sources
    for rule in RULES:
        item = rule_recommendation(rule, side="left", regions="mouth")
        assert len(item.text) > 40 and item.sources and item.priority in PRIORITIES
        assert "{" not in item.text, f"rule {rule} left a placeholder unfilled"
    used = {key for group in data["classes"].values() for e in group for key in e["sources"]}
    used |= {key for e in data["rules"].values() for key in e["sources"]}
    assert used <= set(data["sources"]), f"unknown source keys {used - set(data['sources'])}"
    assert "not a diagnosis" in disclaimer()


def test_statements_are_worded_as_decision_support():
    data = load_statements()
    texts = [e["text"] for group in data["classes"].values() for e in group]
    texts += [e["text"] for e in data["rules"].values()]
    for text in texts:
        assert not DIAGNOSTIC_WORDS.search(text), text


def _london_faces(n: int):
    if not (LONDON / "neutral" / "001_03.jpg").is_file():
        pytest.skip(f"the London Set is not at {LONDON} (a fresh clone has no ../shared)")
    import cv2

    from palsy_core import load_image
    from palsy_core.face.landmarks import FaceLandmarker

    faces = []
    with FaceLandmarker() as landmarker:
        for path in sorted((LONDON / "neutral").glob("*_03.jpg"))[:n]:
            rgb = cv2.resize(load_image(path), (640, 640), interpolation=cv2.INTER_AREA)
            faces.append((rgb, landmarker.detect(rgb).landmarks))
    return faces


@pytest.fixture(scope="module")
def london_faces():
    return _london_faces(6)


@pytest.fixture(scope="module")
def analyzer():
    from palsy_core.analysis import Analyzer

    with Analyzer() as analyzer:
        yield analyzer


def test_forehead_sparing_fires_on_central_palsy_not_on_peripheral(london_faces, analyzer):
    """Severe full-face palsy on 6 real faces x 2 sides, central and peripheral.

    From one photo at rest the sign is weak (healthy brows differ by up to ~2 mm, the
    simulated brow drop is ~1.5 mm), so the test asks for most cases, not all: the rule
    fires on at least 9 of 12 central palsies and at most 4 of 12 peripheral ones.
    """
    from trainers.data.simulate import simulate_palsy

    fired = {"central": [], "peripheral": []}
    for rgb, points in london_faces:
        for side in ("left", "right"):
            for pattern in fired:
                case = simulate_palsy(rgb, points, side=side, region="full", severity="severe",
                                      pattern=pattern, seed=3)
                result = analyzer.analyze(case.image)
                assert result.affected_side == side, (pattern, result.headline())
                ids = [r.id for r in recommend(result)]
                assert {"new_onset_steroids", "recovery_stalled"} <= set(ids)
                if "forehead_spared" in ids:
                    assert ids[0] == "forehead_spared"  # urgent, so first
                fired[pattern].append("forehead_spared" in ids)
    print({k: f"{sum(v)}/{len(v)}" for k, v in fired.items()})
    assert sum(fired["central"]) >= 9, fired
    assert sum(fired["peripheral"]) <= 4, fired


def test_a_healthy_photo_gets_only_the_within_normal_statement(london_faces, analyzer):
    rgb, _ = london_faces[0]
    result = analyzer.analyze(rgb)
    assert result.affected_side is None
    assert [r.id for r in recommend(result)] == ["within_normal"]


def test_an_eye_that_carries_the_verdict_gets_eye_advice_within_its_own_limit(london_faces,
                                                                              analyzer):
    """Simulated palsy on 6 real faces x 2 sides: wherever the verdict names the simulated
    side and the eye carries a good part of the combined score, the eye statement is
    given, also when the eye alone is within its own limit. Severe eye-only palsy is named
    on (nearly) every face, read from the pixels; in the mildest palsy (strength 0.2-0.3)
    the eye carries the verdict on a few faces while within its own limit (2 here: a
    full-face one at 0.28 and an eye-only one at 0.2)."""
    from palsy_core.recommendations import SUPPORTING_SHARE
    from trainers.data.simulate import simulate_palsy

    within_own_limit = 0
    for region, severity in (("eye", "severe"), ("full", 0.28), ("eye", 0.2)):
        named = 0
        for rgb, points in london_faces:
            for side in ("left", "right"):
                case = simulate_palsy(rgb, points, side=side, region=region,
                                      severity=severity, seed=3)
                result = analyzer.analyze(case.image)
                assessment = result.assessment
                if assessment.affected_side != side:
                    continue
                named += 1
                eye = next(r for r in assessment.regions if r.name == "eye")
                if eye.share >= SUPPORTING_SHARE * assessment.combined_score:
                    assert "eye_closure_affected" in [r.id for r in recommend(result)]
                    within_own_limit += not eye.beyond_limit
        if severity == "severe":
            assert named >= 10, named
    assert within_own_limit >= 1
