"""Normal limits: the shipped data file, the fitting, and real healthy faces within them."""

from __future__ import annotations

import json
import math
from pathlib import Path

import cv2
import numpy as np
import pytest

from palsy_core.face.landmarks import mirror_landmarks
from palsy_core.face.measurements import MEASUREMENT_NAMES, measure_face
from palsy_core.face.pose import frontalize
from palsy_core.face.normal_range import (
    ASSESSABLE_EXPRESSIONS, DEFAULT_LIMITS_FILE, FORMAT_VERSION, REGION_MEASURES,
    fit_combined_limit, fit_normal_limits, limits_for, load_normal_limits, outside_regions,
    signed_difference, signed_in_row, verdict_measures,
)
from palsy_core.face.measurements import FLOW_EYE_MEASURE

ROOT = Path(__file__).resolve().parents[1]
LONDON = ROOT.parent / "shared" / "faces" / "london"
needs_london = pytest.mark.skipif(
    not (LONDON / "neutral").is_dir(),
    reason=f"the Face Research Lab London Set is not at {LONDON} (see shared/faces/README.md)")


# -- the shipped data file ------------------------------------------------------------
def test_data_file_has_rest_and_smile_limits_for_every_measure():
    limits = load_normal_limits()
    assert DEFAULT_LIMITS_FILE.parent == Path(__import__("palsy_core").__file__).parent / "data"
    assert limits.format_version == FORMAT_VERSION
    assert set(ASSESSABLE_EXPRESSIONS) <= set(limits.expressions)
    assert limits.n_people == 82
    names = (*MEASUREMENT_NAMES, FLOW_EYE_MEASURE)
    for expression in ASSESSABLE_EXPRESSIONS:
        for name in names:
            m = limits.limits[expression][name]
            assert m.n == limits.n_people
            assert 0 < m.limit and m.ci_low <= m.limit <= m.ci_high
            assert m.unit == ("deg" if name == "smile_angle" else "mm")
        assert limits_for(expression) == {n: limits.limits[expression][n].limit for n in names}
    assert "10.6084/m9.figshare.5047666.v5" in limits.dataset
    assert limits.created and limits.git_commit and len(limits.landmarker_sha256) == 64
    assert all(0 < limits.percentile[e] <= 100 for e in ASSESSABLE_EXPRESSIONS)
    # The stated target: at most 5 % of held-out healthy photos outside, per expression.
    for expression in ASSESSABLE_EXPRESSIONS:
        result = limits.validation[expression]
        assert result["rate"] <= limits.validation["target_outside"] == 0.05
        assert result["ci95"][0] <= result["rate"] <= result["ci95"][1]
    assert load_normal_limits() is load_normal_limits()  # read once


@pytest.mark.parametrize("mirror_flow", [True, False])
def test_data_file_has_a_combined_limit_per_expression_validated_held_out(mirror_flow):
    """The verdict's limits (eye read from the pixels) and the landmarks-only ones."""
    limits = load_normal_limits()
    key = "combined" if mirror_flow else "combined_landmarks"
    for expression in ASSESSABLE_EXPRESSIONS:
        combined = limits.combined_for(expression, mirror_flow=mirror_flow)
        assert combined.measures == verdict_measures(expression, mirror_flow=mirror_flow)
        assert ("palpebral_fissure_flow" in combined.measures) == mirror_flow
        assert combined.n == limits.n_people  # one photo per person and expression
        assert 0 < combined.percentile <= 100
        assert 0 < combined.ci_low <= combined.limit <= combined.ci_high
        assert np.allclose(np.asarray(combined.correlation), np.asarray(combined.correlation).T)
        held_out = limits.validation[key][expression]
        assert held_out["rate"] <= limits.validation["target_outside"]
    with pytest.raises(KeyError, match="brow_raise"):
        limits.combined_for("brow_raise", mirror_flow=mirror_flow)


def _signed_rows(signed: np.ndarray, measures, expression="rest") -> list[dict]:
    """Rows whose right side is 10 mm and left side makes the given signed differences."""
    rows = []
    for i, values in enumerate(signed):
        row = {"person": f"p{i}", "expression": expression}
        for m, v in zip(measures, values):
            if m == FLOW_EYE_MEASURE:  # read as one signed difference
                row[f"{m}_signed"] = v
                continue
            # signed = right - left when smaller is weaker, else left - right
            left = 10.0 - v if signed_difference(m, 0.0, 1.0) > 0 else 10.0 + v
            row.update({f"{m}_left": left, f"{m}_right": 10.0})
        rows.append(row)
    return rows


def test_combined_limit_is_the_stated_percentile_of_healthy_scores():
    measures = verdict_measures("rest")
    rng = np.random.default_rng(3)
    signed = rng.normal(size=(60, len(measures))) * [0.8, 0.3, 1.0, 2.5]
    rows = _signed_rows(signed, measures)
    fitted = fit_combined_limit(rows, "rest", 95, n_bootstrap=0)
    assert [signed_in_row(rows[0], m) for m in measures] == pytest.approx(signed[0])
    # By hand: z = signed / RMS, R = 0.9 corr(z) + 0.1 I (uncentred), score = z' R^-1 z.
    z = signed / np.sqrt((signed ** 2).mean(axis=0))
    r = 0.9 * (z.T @ z) / len(z) + 0.1 * np.eye(len(measures))
    scores = np.einsum("ij,ij->i", z, np.linalg.solve(r, z.T).T)
    assert fitted.limit == pytest.approx(np.percentile(scores, 95))
    one = dict(zip(measures, signed[7]))
    assert fitted.score(one) == pytest.approx(scores[7])
    assert sum(fitted.contributions(one).values()) == pytest.approx(scores[7])
    # Mirror images: the same score, the other side; the fit does not change.
    mirrored = {m: -v for m, v in one.items()}
    assert fitted.score(mirrored) == pytest.approx(fitted.score(one))
    assert {fitted.weaker_side(one), fitted.weaker_side(mirrored)} == {"left", "right"}
    refit = fit_combined_limit(_signed_rows(-signed, measures), "rest", 95, n_bootstrap=0)
    assert refit.limit == pytest.approx(fitted.limit)
    # Scale: millimetres times a constant change no score.
    scaled = fit_combined_limit(_signed_rows(3 * signed, measures), "rest", 95, n_bootstrap=0)
    assert scaled.limit == pytest.approx(fitted.limit)
    assert scaled.score({m: 3 * v for m, v in one.items()}) == pytest.approx(fitted.score(one))


def test_combined_bootstrap_interval_holds_the_estimate():
    measures = verdict_measures("smile")
    rng = np.random.default_rng(4)
    rows = _signed_rows(rng.normal(size=(40, len(measures))), measures, "smile")
    fitted = fit_combined_limit(rows, "smile", 90, n_bootstrap=200, seed=1)
    assert fitted.ci_low <= fitted.limit <= fitted.ci_high and fitted.ci_low < fitted.ci_high
    assert fitted.n == 40
    with pytest.raises(ValueError, match="percentile"):
        fit_combined_limit(rows, "smile", 120)


def test_expressions_without_limits_are_refused_by_name():
    with pytest.raises(KeyError, match="brow_raise"):
        limits_for("brow_raise")


def test_a_data_file_of_another_format_is_refused(tmp_path):
    data = json.loads(DEFAULT_LIMITS_FILE.read_text())
    data["format_version"] = FORMAT_VERSION + 1
    (tmp_path / "limits.json").write_text(json.dumps(data))
    with pytest.raises(ValueError, match="regenerate it"):
        load_normal_limits(tmp_path / "limits.json")
    with pytest.raises(FileNotFoundError, match="trainers.normal_range"):
        load_normal_limits(tmp_path / "missing.json")


def test_saved_limits_load_back_equal(tmp_path):
    limits = load_normal_limits()
    limits.save(tmp_path / "copy.json")
    assert load_normal_limits(tmp_path / "copy.json") == limits


# -- the fitting ----------------------------------------------------------------------
def _rows(values_by_person: dict[str, float], expression: str = "rest",
          measure: str = "brow_height") -> list[dict]:
    return [{"person": p, "expression": expression, measure + "_difference": v}
            for p, v in values_by_person.items()]


def test_the_limit_is_the_stated_percentile_counted_by_hand():
    # Ten people, differences 1..10 mm. Linear interpolation between order statistics:
    # the 90th percentile sits 0.9 * 9 = 8.1 ranks up: 9 + 0.1 * (10 - 9) = 9.1 mm;
    # the median half-way between 5 and 6; the 100th is the largest.
    rows = _rows({f"p{i}": float(i) for i in range(1, 11)})
    for percentile, expected in ((90, 9.1), (50, 5.5), (100, 10.0), (0, 1.0)):
        fitted = fit_normal_limits(rows, percentile, expressions=["rest"], n_bootstrap=0)
        assert fitted.limits["rest"]["brow_height"].limit == pytest.approx(expected)
        assert fitted.limits["rest"]["brow_height"].n == 10
    # NaN (no value) is left out of the count.
    rows.append({"person": "p11", "expression": "rest", "brow_height_difference": math.nan})
    fitted = fit_normal_limits(rows, 100, expressions=["rest"], n_bootstrap=0)
    assert fitted.limits["rest"]["brow_height"].n == 10
    assert fitted.n_people == 11


def test_each_expression_gets_its_own_limits():
    rows = (_rows({f"p{i}": float(i) for i in range(5)}, "rest")
            + _rows({f"p{i}": 10.0 * i for i in range(5)}, "smile"))
    fitted = fit_normal_limits(rows, 100, n_bootstrap=0)
    assert fitted.limits_for("rest") == {"brow_height": 4.0}
    assert fitted.limits_for("smile") == {"brow_height": 40.0}
    # ... and may have its own percentile.
    fitted = fit_normal_limits(rows, {"rest": 50, "smile": 100}, n_bootstrap=0)
    assert fitted.limits_for("rest") == {"brow_height": 2.0}
    assert fitted.limits_for("smile") == {"brow_height": 40.0}
    assert fitted.percentile == {"rest": 50.0, "smile": 100.0}


def test_bootstrap_interval_contains_the_estimate_and_resamples_people():
    rng = np.random.default_rng(3)
    rows = _rows({f"p{i}": float(v) for i, v in enumerate(np.abs(rng.normal(0, 1, 60)))})
    fitted = fit_normal_limits(rows, 90, expressions=["rest"], n_bootstrap=500, seed=1)
    m = fitted.limits["rest"]["brow_height"]
    assert m.ci_low < m.limit < m.ci_high
    assert fitted.bootstrap["resampled"] == "people"
    # A person with two photos is one unit: doubling everyone's photos changes nothing.
    doubled = rows + [dict(r) for r in rows]
    again = fit_normal_limits(doubled, 90, expressions=["rest"], n_bootstrap=500, seed=1)
    assert again.limits["rest"]["brow_height"].limit == pytest.approx(m.limit)
    assert again.limits["rest"]["brow_height"].n == 60


def test_outside_when_any_region_measure_exceeds_its_limit():
    limits = {"brow_height": 2.0, "palpebral_fissure_height": 1.0, "commissure_height": 2.0,
              "commissure_excursion": 5.0}
    assert set(REGION_MEASURES) == {"brow", "eye", "mouth"}
    within = {"brow_height": 2.0, "palpebral_fissure_height": 0.5, "commissure_height": 1.0,
              "commissure_excursion": 4.0, "smile_angle": 99.0}  # not a verdict measure
    assert outside_regions(within, limits) == []
    assert outside_regions({**within, "commissure_excursion": 5.1}, limits) == ["mouth"]
    assert outside_regions({**within, "brow_height": 2.5, "palpebral_fissure_height": 1.2},
                           limits) == ["brow", "eye"]


def test_leave_one_person_out_counts_held_out_maxima():
    from trainers.normal_range import leave_one_person_out

    pd = pytest.importorskip("pandas")
    # At the 100th percentile a held-out person is outside exactly when they hold the
    # largest value of some verdict measure: here p0 (brow and mouth) and p1 (eye).
    rows = []
    for i in range(10):
        rows.append({"person": f"p{i}", "expression": "rest",
                     "brow_height_difference": 5.0 if i == 0 else 0.1 * i,
                     "palpebral_fissure_flow_difference": 3.0 if i == 1 else 0.1,
                     "commissure_height_difference": 4.0 if i == 0 else 0.2,
                     "commissure_excursion_difference": 0.3})
    result = leave_one_person_out(pd.DataFrame(rows), 100.0, expressions=["rest"])
    assert result["rest"]["outside"] == 2 and result["rest"]["n"] == 10
    assert result["rest"]["by_region"] == {"brow": 1, "mouth": 1, "eye": 1}
    low, high = result["rest"]["ci95"]
    assert low < 0.2 < high


@pytest.mark.parametrize("combined", [False, True])
def test_percentile_search_keeps_the_smallest_passing_percentile(combined):
    """Both limits (per measure and combined) are chosen by one rule: per expression the
    first percentile of the grid whose held-out rate is at most the target, the search
    stopping once every expression has one."""
    from trainers.normal_range import choose_combined_percentile, choose_percentile

    pd = pytest.importorskip("pandas")
    rng = np.random.default_rng(0)
    rows = []
    for i in range(30):
        for expression in ("rest", "smile"):
            row = {"person": f"p{i}", "expression": expression}
            for name in ("brow_height", "palpebral_fissure_height", "commissure_height",
                         "commissure_excursion"):
                left, right = 10 + rng.normal(0, 1, 2)
                row.update({f"{name}_left": left, f"{name}_right": right,
                            f"{name}_difference": abs(left - right)})
            signed = rng.normal(0, 1)  # the eye read from the pixels: one signed value
            row.update({f"{FLOW_EYE_MEASURE}_signed": signed,
                        f"{FLOW_EYE_MEASURE}_difference": abs(signed)})
            rows.append(row)
    # With 30 people 5 % is out of reach (whoever holds a largest difference is outside
    # even at the 100th percentile): per measure 95 (smile) and 100 (rest) pass 20 %,
    # combined 90 for both, so the search stops there.
    grid, target = (80.0, 90.0, 95.0, 100.0), 0.2
    choose = choose_combined_percentile if combined else choose_percentile
    chosen, search = choose(pd.DataFrame(rows), grid, target)
    tried = [p for p, _ in search]
    assert tried == list(grid[:len(tried)])
    for expression, percentile in chosen.items():
        rates = {p: r[expression] for p, r in search}
        assert rates[percentile] <= target
        assert all(rates[p] > target for p in tried if p < percentile)
    assert max(chosen.values()) == tried[-1]


# -- measure_face and the limits ------------------------------------------------------
def test_stated_expression_picks_the_limits(astronaut_landmarks):
    detected = measure_face(astronaut_landmarks)
    for expression in ASSESSABLE_EXPRESSIONS:
        m = measure_face(astronaut_landmarks, expression=expression)
        assert m.expression == m.limits_expression == expression
        assert m.detected_expression == detected.detected_expression
        assert m.regions["brow"].normal_limit == limits_for(expression)["brow_height"]
    other = measure_face(astronaut_landmarks, expression="brow_raise")
    assert other.limits_expression == "rest"
    assert all("No normal limits for brow raise photos" in r.note for r in other.regions.values())
    with pytest.raises(ValueError, match="expression must be one of"):
        measure_face(astronaut_landmarks, expression="grin")


def test_limits_are_scale_free_and_mirror_free(astronaut_landmarks):
    """The same face at any resolution, or mirrored, gets the same millimetres and scores."""
    base = measure_face(astronaut_landmarks, expression="rest")
    scaled = measure_face(astronaut_landmarks * 3.7, expression="rest")
    mirrored = measure_face(mirror_landmarks(astronaut_landmarks, 512), expression="rest")
    for name in MEASUREMENT_NAMES:
        assert scaled.measurements[name].difference == pytest.approx(
            base.measurements[name].difference, abs=2e-3)
        assert mirrored.measurements[name].difference == pytest.approx(
            base.measurements[name].difference, abs=2e-3)
    for region in REGION_MEASURES:
        assert scaled.regions[region].score == pytest.approx(base.regions[region].score, abs=2e-3)


# -- real healthy people ---------------------------------------------------------------
@needs_london
@pytest.mark.parametrize("person", ["001", "002", "003"])
def test_real_healthy_faces_are_within_their_limits(analyzer, person):
    for expression, path in (("rest", LONDON / "neutral" / f"{person}_03.jpg"),
                             ("smile", LONDON / "smiling" / f"{person}_08.jpg")):
        result = analyzer.analyze(str(path))
        # Measured as the limits were: the head's turn undone first.
        frontal, _ = frontalize(result.landmarks, axes="yaw")
        measured = measure_face(frontal, result.blendshapes, expression=expression)
        within = [name for name, r in measured.regions.items() if r.within_normal]
        assert len(within) >= 2, (path.name, measured.regions)
        assert 50 < measured.interpupillary_distance_mm < 75


@needs_london
def test_real_face_millimetres_do_not_depend_on_the_photo_size(analyzer):
    """Half the pixels, the same millimetres (up to the landmarker's noise)."""
    from palsy_core import load_image

    rgb = load_image(LONDON / "neutral" / "001_03.jpg")
    small = cv2.resize(rgb, (rgb.shape[1] // 2, rgb.shape[0] // 2), interpolation=cv2.INTER_AREA)
    full = measure_face(analyzer.analyze(rgb).landmarks, expression="rest")
    half = measure_face(analyzer.analyze(small).landmarks, expression="rest")
    assert half.mm_per_pixel == pytest.approx(2 * full.mm_per_pixel, rel=0.05)
    for names in REGION_MEASURES.values():
        for name in names:
            assert half.measurements[name].difference == pytest.approx(
                full.measurements[name].difference, abs=0.5)


@needs_london
def test_measure_people_makes_one_row_per_photo(tmp_path):
    """The trainer's table on a two-person folder (links to the set, nothing copied)."""
    from trainers.normal_range import measure_people

    for sub, suffix in (("neutral", "_03.jpg"), ("smiling", "_08.jpg")):
        (tmp_path / "faces" / sub).mkdir(parents=True)
        for person in ("001", "002"):
            (tmp_path / "faces" / sub / f"{person}{suffix}").symlink_to(
                LONDON / sub / f"{person}{suffix}")
    table = measure_people(tmp_path / "faces", cache_dir=tmp_path / "cache")
    assert sorted(zip(table.person, table.expression)) == [
        ("001", "rest"), ("001", "smile"), ("002", "rest"), ("002", "smile")]
    for name in MEASUREMENT_NAMES:
        assert np.allclose(table[f"{name}_difference"],
                           (table[f"{name}_left"] - table[f"{name}_right"]).abs(), atol=2e-3)
    assert (table.interpupillary_px > 150).all() and table.yaw.abs().max() < 15
    # The eye read from the pixels, as the analysis reads these photos.
    from palsy_core import Analyzer, AnalyzerOptions

    with Analyzer(AnalyzerOptions(palsy_model=None)) as analyzer:
        path = tmp_path / "faces" / "neutral" / "001_03.jpg"
        flow = analyzer.analyze(str(path)).face.mirror_flow
    row = table[(table.person == "001") & (table.expression == "rest")].iloc[0]
    assert row[f"{FLOW_EYE_MEASURE}_signed"] == pytest.approx(flow.fissure_difference_mm)
    assert row[f"{FLOW_EYE_MEASURE}_difference"] == abs(row[f"{FLOW_EYE_MEASURE}_signed"])
    # Cached by content: one entry per photo, and a second pass gives the same table.
    assert len(list((tmp_path / "cache").rglob("*.npz"))) == 4
    again = measure_people(tmp_path / "faces", cache_dir=tmp_path / "cache")
    assert again.drop(columns="file").equals(table.drop(columns="file"))
    limits = fit_normal_limits(table, 100, n_bootstrap=0)
    assert limits.n_people == 2
