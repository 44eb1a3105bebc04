"""Measure the normal limits of left-right asymmetry on healthy people and write them.

    python -m trainers.normal_range --faces ../shared/faces/london [--out FILE]

Runs the project's landmarker (:class:`palsy_core.Analyzer`, geometry only) on every
neutral ("rest", ``neutral/NNN_03.jpg``) and smiling ("smile", ``smiling/NNN_08.jpg``)
photo of the Face Research Lab London Set layout, measures every left-right difference
of :data:`palsy_core.face.measurements.MEASUREMENT_NAMES` (mm via the iris scale; the smile
angle in degrees) with the expression stated by the folder, exactly as the analysis
measures a photo (landmarks turned back to face the camera about the vertical axis,
:func:`palsy_core.face.pose.frontalize`, then :func:`palsy_core.measure_face`), and the eye's
palpebral fissure difference read from the pixels
(:func:`palsy_core.face.mirror_flow.mirror_flow` of the photo under the landmarks as found:
``palpebral_fissure_flow``), and writes the limits per expression to
``palsy_core/data/normal_limits.json`` (or ``--out``).

The percentile
--------------
A face is called outside normal when ANY of the verdict's region measures
(:func:`palsy_core.face.normal_range.verdict_regions`: brow height, the eye's fissure
difference read from the pixels, commissure height and excursion) exceeds its limit. Three or four
chances to cross means each limit must be a high percentile for the face to stay inside
95 % of the time, while limits wider than needed let real palsy through. So the command
tries percentiles 90-100 in steps of 0.25 and keeps, for each expression, the smallest
whose leave-one-person-out outside rate (limits fitted on the other people, the held-out
person's photo tested) is at most ``--target-outside``. The data file records the choice, the
held-out rates with exact binomial 95 % intervals and the whole search.

The verdict itself reads one combined limit per expression
(:class:`palsy_core.face.normal_range.CombinedLimit`: the deciding measures' signed differences
taken together under their healthy correlation); its percentile is chosen the same way,
by leave-one-person-out on the combined score, and stored under ``combined`` with its
bootstrap interval and, in ``validation.combined``, its held-out rates. The same rule on
the landmarks alone (the landmarks' fissure, not deciding in a smile), for landmarks
judged without their photo, is chosen the same way and stored under
``combined_landmarks``.

Landmarks are cached per photo content (and landmarker model) under
``.cache/normal_range`` so reruns only measure; photos are read where they lie and never
copied.

Data: DeBruine, L., & Jones, B. (2017). Face Research Lab London Set (Version 5).
figshare. https://doi.org/10.6084/m9.figshare.5047666.v5 (CC-BY 4.0).
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import os
import subprocess
import sys
from pathlib import Path
from collections.abc import Callable, Sequence

import numpy as np

from palsy_core.face import landmarks as lm
from palsy_core.face.measurements import FLOW_EYE_MEASURE, MEASUREMENT_NAMES, measure_face
from palsy_core.face.mirror_flow import mirror_flow
from palsy_core.face.pose import frontalize
from palsy_core.face.normal_range import (
    ASSESSABLE_EXPRESSIONS, DEFAULT_LIMITS_FILE, DIFFERENCE_SUFFIX, SIGNED_SUFFIX, NormalLimits,
    fit_combined_limit, fit_normal_limits, outside_regions, signed_in_row, verdict_measures,
    verdict_regions,
)
from palsy_core.imageio import load_image

DATASET_CITATION = ("DeBruine, L., & Jones, B. (2017). Face Research Lab London Set "
                    "(Version 5). figshare. https://doi.org/10.6084/m9.figshare.5047666.v5 "
                    "(CC-BY 4.0)")
#: Sub-folder and file suffix of each expression in the London Set layout.
LONDON_LAYOUT = {"rest": ("neutral", "_03.jpg"), "smile": ("smiling", "_08.jpg")}
#: How each photo was measured, for the data file.
MEASURED_AS = ("palsy_core.Analyzer landmarks (photo downscaled to 1280 px), turned back about "
               "the vertical axis (palsy_core.face.pose.frontalize, axes='yaw'), then "
               "palsy_core.measure_face with the folder's expression; mm from an 11.77 mm iris. "
               "palpebral_fissure_flow: palsy_core.face.mirror_flow.mirror_flow of the "
               "full-resolution photo under the landmarks as found")
#: Percentiles tried, in increasing order; the smallest that meets the target is kept.
DEFAULT_GRID = tuple(float(p) for p in np.arange(90.0, 100.01, 0.25))
DEFAULT_CACHE = Path(".cache/normal_range")
#: Bump when what is cached per photo changes.
_CACHE_VERSION = 1


# -- landmarks, cached ------------------------------------------------------------------
def _file_hash(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def landmarker_sha256() -> str:
    """sha256 of the ``face_landmarker.task`` the Analyzer uses."""
    from palsy_core.face.landmarks import landmarker_model_path

    return _file_hash(landmarker_model_path())


class LandmarkCache:
    """Landmarks, blendshapes and head pose of photos, on disk, keyed by file content.

    One folder per landmarker model (its hash), so another model never reads stale
    points. The Analyzer is created on the first photo not in the cache.
    """

    def __init__(self, cache_dir: Path = DEFAULT_CACHE):
        self.model_sha256 = landmarker_sha256()
        self.folder = Path(cache_dir) / f"v{_CACHE_VERSION}-{self.model_sha256[:16]}"
        self._analyzer = None
        self.landmarker_runs = 0

    def __enter__(self) -> LandmarkCache:
        return self

    def __exit__(self, *exc) -> None:
        if self._analyzer is not None:
            self._analyzer.close()
            self._analyzer = None

    def face(self, path: Path) -> dict | None:
        """``{"landmarks", "blendshapes", "yaw", "pitch", "roll", "faces_found"}`` or None
        when the landmarker finds no face."""
        entry = self.folder / f"{_file_hash(path)}.npz"
        if not entry.is_file():
            self._measure(path, entry)
        with np.load(entry) as data:
            if not bool(data["face"]):
                return None
            return {
                "landmarks": data["landmarks"],
                "blendshapes": dict(zip((str(n) for n in data["blendshape_names"]),
                                        (float(v) for v in data["blendshape_values"]))),
                "yaw": float(data["pose"][0]), "pitch": float(data["pose"][1]),
                "roll": float(data["pose"][2]), "faces_found": int(data["faces_found"]),
            }

    def _measure(self, path: Path, entry: Path) -> None:
        from palsy_core import Analyzer, AnalyzerOptions
        from palsy_core.errors import NoFaceError

        if self._analyzer is None:
            self._analyzer = Analyzer(AnalyzerOptions(palsy_model=None))
        self.landmarker_runs += 1
        entry.parent.mkdir(parents=True, exist_ok=True)
        tmp = entry.with_name(f".{entry.stem}.{os.getpid()}.tmp.npz")
        try:
            result = self._analyzer.analyze(str(path))
        except NoFaceError:
            np.savez(tmp, face=np.array(False))
        else:
            pose = result.head_pose
            np.savez(tmp, face=np.array(True), landmarks=result.landmarks.astype(np.float32),
                     blendshape_names=np.array(list(result.blendshapes)),
                     blendshape_values=np.array(list(result.blendshapes.values()), np.float32),
                     pose=np.array([pose.yaw, pose.pitch, pose.roll]),
                     faces_found=np.array(result.faces_found))
        os.replace(tmp, entry)


# -- the measurement table --------------------------------------------------------------
def london_photos(faces_dir: Path) -> list[tuple[str, str, Path]]:
    """``(person, expression, path)`` of every rest and smile photo, sorted."""
    faces_dir = Path(faces_dir)
    if not faces_dir.is_dir():
        raise FileNotFoundError(f"{faces_dir} is not a folder; give the London Set's root "
                                "(with neutral/ and smiling/).")
    photos = []
    for expression, (sub, suffix) in LONDON_LAYOUT.items():
        for path in sorted((faces_dir / sub).glob(f"*{suffix}")):
            photos.append((path.name[:-len(suffix)], expression, path))
    if not photos:
        raise FileNotFoundError(f"No photos named neutral/NNN_03.jpg or smiling/NNN_08.jpg "
                                f"under {faces_dir}.")
    return photos


def measure_people(faces_dir: Path, *, cache_dir: Path = DEFAULT_CACHE,
                   progress: bool = False):
    """Every measure on every rest and smile photo: one row per photo.

    Parameters
    ----------
    faces_dir : path
        A folder in the London Set layout (``neutral/NNN_03.jpg``, ``smiling/NNN_08.jpg``).
    cache_dir : path
        Where landmarks are cached by photo content.
    progress : bool
        Print one line per photo measured afresh.

    Returns
    -------
    pandas.DataFrame
        Columns ``person``, ``expression`` ("rest"/"smile", from the folder),
        ``detected_expression`` (from the blendshapes), ``file``, per measure
        ``<name>_left``, ``<name>_right``, ``<name>_difference`` (mm; degrees for the
        smile angle; on the yaw-frontalized landmarks, as the analysis measures), ``yaw``,
        ``pitch``, ``roll`` (degrees, the landmarker's), ``interpupillary_px``,
        ``mm_per_pixel`` and ``faces_found``. Photos without a face are left out (a line
        on stderr names them).
    """
    import pandas as pd

    rows = []
    with LandmarkCache(cache_dir) as cache:
        for person, expression, path in london_photos(faces_dir):
            before = cache.landmarker_runs
            face = cache.face(path)
            if progress and cache.landmarker_runs > before:
                print(f"landmarks: {path}", file=sys.stderr)
            if face is None:
                print(f"no face found, left out: {path}", file=sys.stderr)
                continue
            # As the analysis measures: the head's turn undone first; the eye also read
            # from the photo's pixels under the landmarks as found (only the region scores,
            # not stored here, would read the flow in measure_face).
            flow = mirror_flow(load_image(path), face["landmarks"])
            frontal, _ = frontalize(face["landmarks"], axes="yaw")
            measured = measure_face(frontal, face["blendshapes"], expression=expression)
            row = {"person": person, "expression": expression,
                   "detected_expression": measured.detected_expression, "file": str(path)}
            for name in MEASUREMENT_NAMES:
                m = measured.measurements[name]
                row[f"{name}_left"] = m.left
                row[f"{name}_right"] = m.right
                row[name + DIFFERENCE_SUFFIX] = m.difference
            # "+" = the subject's left eye open wider (a weak eye closes less).
            row[FLOW_EYE_MEASURE + SIGNED_SUFFIX] = flow.fissure_difference_mm
            row[FLOW_EYE_MEASURE + DIFFERENCE_SUFFIX] = abs(flow.fissure_difference_mm)
            row.update(yaw=face["yaw"], pitch=face["pitch"], roll=face["roll"],
                       interpupillary_px=float(np.linalg.norm(
                           face["landmarks"][lm.LEFT_IRIS[0], :2]
                           - face["landmarks"][lm.RIGHT_IRIS[0], :2])),
                       mm_per_pixel=measured.mm_per_pixel, faces_found=face["faces_found"])
            rows.append(row)
    return pd.DataFrame(rows)


# -- leave one person out ---------------------------------------------------------------
def exact_interval(k: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Clopper-Pearson interval of a proportion k / n."""
    from scipy.stats import binomtest

    ci = binomtest(k, n).proportion_ci(confidence_level=confidence, method="exact")
    return float(ci.low), float(ci.high)


def _outside_rate(flags: list[bool]) -> dict:
    """``outside``, ``n``, ``rate`` and its exact ``ci95`` of held-out photos (or people)."""
    k, n = int(sum(flags)), len(flags)
    low, high = exact_interval(k, n)
    return {"outside": k, "n": n, "rate": k / n, "ci95": [low, high]}


def _held_out_rates(outside: dict[str, dict[str, bool]], people: Sequence[str],
                    expressions: Sequence[str]) -> dict:
    """The outside rates of a leave-one-person-out run (``outside[expression][person]``):
    per expression, ``any_photo`` (people with at least one photo outside) and
    ``all_photos`` (every photo pooled)."""
    out = {e: _outside_rate(list(outside[e].values())) for e in expressions}
    out["any_photo"] = _outside_rate([any(outside[e].get(p, False) for e in expressions)
                                      for p in people])
    out["all_photos"] = _outside_rate([flag for e in expressions for flag in outside[e].values()])
    return out


def _smallest_passing_percentile(held_out: Callable[[float], dict], grid: Sequence[float],
                                 target_outside: float) -> tuple[dict[str, float], list]:
    """Per expression, the smallest percentile of ``grid`` whose held-out outside rate
    (``held_out(percentile)[expression]["rate"]``) is at most ``target_outside`` (the
    largest tried if none is), and the search: ``[(percentile, {expression: rate})]``."""
    search, chosen = [], {}
    for percentile in grid:
        result = held_out(percentile)
        rates = {e: result[e]["rate"] for e in ASSESSABLE_EXPRESSIONS}
        search.append((percentile, rates))
        for e, rate in rates.items():
            if rate <= target_outside:
                chosen.setdefault(e, percentile)
        if len(chosen) == len(rates):
            break
    return {e: chosen.get(e, grid[-1]) for e in ASSESSABLE_EXPRESSIONS}, search


def leave_one_person_out(table, percentile: float | dict[str, float],
                         expressions: Sequence[str] = ASSESSABLE_EXPRESSIONS,
                         regions: dict | None = None) -> dict:
    """How often a held-out healthy person's photo is called outside normal.

    For each person: limits fitted on everyone else (no bootstrap), then the verdict
    rule on each of their photos: outside when any measure of a region that decides for
    the photo's expression (:func:`palsy_core.face.normal_range.verdict_regions`; ``regions``
    instead, when given) exceeds its limit.

    Returns
    -------
    dict
        Per expression: ``outside``, ``n``, ``rate``, ``ci95`` and ``by_region`` (how
        many photos each region put outside); ``any_photo``: people with at least one
        photo outside; ``all_photos``: every photo pooled.
    """
    rows = table.to_dict("records")
    people = sorted({r["person"] for r in rows})
    outside = {e: {} for e in expressions}
    regions_hit = {e: {} for e in expressions}
    for person in people:
        train = [r for r in rows if r["person"] != person]
        limits = fit_normal_limits(train, percentile, expressions=expressions, n_bootstrap=0)
        for r in rows:
            if r["person"] != person or r["expression"] not in expressions:
                continue
            diffs = {k[:-len(DIFFERENCE_SUFFIX)]: v for k, v in r.items()
                     if k.endswith(DIFFERENCE_SUFFIX)}
            hit = outside_regions(diffs, limits.limits_for(r["expression"]),
                                  regions if regions is not None
                                  else verdict_regions(r["expression"]))
            outside[r["expression"]][person] = bool(hit)
            for region in hit:
                regions_hit[r["expression"]][region] = regions_hit[r["expression"]].get(region, 0) + 1
    out = _held_out_rates(outside, people, expressions)
    for e in expressions:
        out[e]["by_region"] = regions_hit[e]
    return out


def choose_percentile(table, grid: Sequence[float],
                      target_outside: float) -> tuple[dict[str, float], list]:
    """Per expression, the smallest percentile of ``grid`` whose held-out outside rate is at
    most ``target_outside`` (the largest tried if none is), and the search:
    ``[(percentile, {expression: rate})]``."""
    return _smallest_passing_percentile(lambda p: leave_one_person_out(table, p), grid,
                                        target_outside)


def leave_one_person_out_combined(table, percentile: dict[str, float],
                                  expressions: Sequence[str] = ASSESSABLE_EXPRESSIONS, *,
                                  mirror_flow: bool = True) -> dict:
    """How often a held-out healthy person's photo scores above the combined limit
    (:class:`palsy_core.face.normal_range.CombinedLimit`) fitted on everyone else: the
    verdict's (eye read from the pixels), or with ``mirror_flow=False`` the landmarks-only
    one.

    Returns the same layout as :func:`leave_one_person_out` (without ``by_region``)."""
    rows = table.to_dict("records")
    people = sorted({r["person"] for r in rows})
    outside = {e: {} for e in expressions}
    for e in expressions:
        measures = verdict_measures(e, mirror_flow=mirror_flow)
        for person in people:
            mine = [r for r in rows if r["person"] == person and r["expression"] == e]
            if not mine:
                continue
            limit = fit_combined_limit([r for r in rows if r["person"] != person], e,
                                       percentile[e], n_bootstrap=0, measures=measures)
            outside[e][person] = any(
                limit.score({m: signed_in_row(r, m) for m in measures}) > limit.limit
                for r in mine)
    return _held_out_rates(outside, people, expressions)


def choose_combined_percentile(table, grid: Sequence[float], target_outside: float, *,
                               mirror_flow: bool = True) -> tuple[dict[str, float], list]:
    """As :func:`choose_percentile`, for the combined limit."""
    return _smallest_passing_percentile(
        lambda p: leave_one_person_out_combined(table, {e: p for e in ASSESSABLE_EXPRESSIONS},
                                                mirror_flow=mirror_flow),
        grid, target_outside)


def _git_commit() -> str:
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True,
                                check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "palsy_core/face/measurements.py",
                                "palsy_core/face/normal_range.py", "palsy_core/face/mirror_flow.py",
                                "trainers/normal_range.py"],
                               capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return commit + ("+uncommitted-measurement-code" if dirty else "")


def build_limits(table, *, grid: Sequence[float] = DEFAULT_GRID, target_outside: float = 0.05,
                 percentile: float | dict[str, float] | None = None, n_bootstrap: int = 2000,
                 seed: int = 0,
                 landmarker_hash: str = "") -> NormalLimits:
    """Choose the percentile (unless given), fit the limits and record their validation."""
    if percentile is None:
        percentile, search = choose_percentile(table, grid, target_outside)
        how = (f"per expression, the smallest percentile of {grid[0]:g}-{grid[-1]:g} (steps "
               f"of {grid[1] - grid[0]:g}) whose leave-one-person-out outside rate is at most "
               f"{target_outside:.0%}")
    else:
        search, how = [], "given on the command line"
    validation = leave_one_person_out(table, percentile)
    validation["target_outside"] = target_outside
    validation["percentile_search"] = [{"percentile": p, "outside_rate": r} for p, r in search]
    validation["rule"] = ("a photo is outside when any of brow_height, palpebral_fissure_flow, "
                          "commissure_height or commissure_excursion exceeds its limit for the "
                          "photo's expression; limits fitted without the held-out person")
    if not isinstance(percentile, dict):
        percentile = {e: float(percentile) for e in ASSESSABLE_EXPRESSIONS}
    chosen = {}
    for key, flow, measures in (
            ("combined", True, "brow_height, palpebral_fissure_flow, commissure_height and "
                               "commissure_excursion"),
            ("combined_landmarks", False, "brow_height, palpebral_fissure_height (not in a "
                                          "smile), commissure_height and commissure_excursion")):
        chosen[key], search = choose_combined_percentile(table, grid, target_outside,
                                                         mirror_flow=flow)
        held = leave_one_person_out_combined(table, chosen[key], mirror_flow=flow)
        held["percentile_search"] = [{"percentile": p, "outside_rate": r} for p, r in search]
        held["rule"] = (f"a photo is outside when its combined score ({measures}: signed "
                        "differences scaled by their healthy RMS, squared Mahalanobis length "
                        "under the shrunk healthy correlation) exceeds the combined limit for "
                        "its expression; fitted without the held-out person")
        validation[key] = held
    combined_percentile, combined = chosen["combined"], validation["combined"]
    notes = ("Percentile " + ", ".join(f"{p:g} ({e})" for e, p in percentile.items())
             + f": {how}. Held out, "
             + ", ".join(f"{validation[e]['outside']} of {validation[e]['n']} {e} photos"
                         for e in ASSESSABLE_EXPRESSIONS)
             + " fall outside. Wider limits would only lose sensitivity to real palsy. "
             "Three or four measures each get a chance to cross, so the percentile lands near the "
             "largest healthy difference; with this many people the held-out rate's interval "
             "is wide, and a bootstrap interval of so high a percentile cannot reach above "
             "the largest difference observed: read its upper end as a floor. "
             "The verdict itself reads one combined limit per expression (key 'combined'), at "
             "percentile " + ", ".join(f"{p:g} ({e})" for e, p in combined_percentile.items())
             + " of the healthy combined scores, chosen the same way: held out, "
             + ", ".join(f"{combined[e]['outside']} of {combined[e]['n']} {e} photos"
                         for e in ASSESSABLE_EXPRESSIONS)
             + " fall outside; the per-measure limits explain it region by region. "
             "The eye is read from the pixels (palpebral_fissure_flow); landmarks given "
             "without their photo are judged by 'combined_landmarks', chosen the same way.")
    return fit_normal_limits(
        table, percentile, n_bootstrap=n_bootstrap, seed=seed,
        combined_percentile=combined_percentile,
        combined_landmarks_percentile=chosen["combined_landmarks"],
        dataset=DATASET_CITATION, created=dt.date.today().isoformat(),
        git_commit=_git_commit(), landmarker_sha256=landmarker_hash,
        measured_as=MEASURED_AS,
        validation=validation, notes=notes)


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--faces", type=Path, required=True,
                   help="London Set root (neutral/NNN_03.jpg, smiling/NNN_08.jpg)")
    p.add_argument("--out", type=Path, default=DEFAULT_LIMITS_FILE, help="limits file to write")
    p.add_argument("--table", type=Path, default=None,
                   help="also write the per-photo measurements here (CSV)")
    p.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    p.add_argument("--percentile", type=float, default=None,
                   help="use this percentile instead of choosing one by leave-one-person-out")
    p.add_argument("--target-outside", type=float, default=0.05,
                   help="largest held-out rate of healthy photos called outside")
    p.add_argument("--bootstrap", type=int, default=2000, help="resamples of people")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)

    try:
        table = measure_people(args.faces, cache_dir=args.cache, progress=True)
    except FileNotFoundError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if args.table:
        table.to_csv(args.table, index=False)
    limits = build_limits(table, target_outside=args.target_outside, percentile=args.percentile,
                          n_bootstrap=args.bootstrap, seed=args.seed,
                          landmarker_hash=landmarker_sha256())
    limits.save(args.out)
    print(format_limits(limits))
    print(f"written: {args.out}")
    return 0


def format_limits(limits: NormalLimits) -> str:
    """The limits, their intervals and the held-out outside rates as a text table."""
    lines = ["percentile " + ", ".join(f"{p:g} ({e})" for e, p in limits.percentile.items())
             + f"; {limits.n_people} people",
             f"{'measure':26s} " + " ".join(f"{e + ' limit [95% CI]':>26s}"
                                             for e in limits.expressions)]
    for name in (*MEASUREMENT_NAMES, FLOW_EYE_MEASURE):
        cells = []
        for e in limits.expressions:
            m = limits.limits[e][name]
            cells.append(f"{m.limit:6.2f} [{m.ci_low:5.2f}, {m.ci_high:5.2f}] {m.unit:3s} n={m.n}")
        lines.append(f"{name:26s} " + " ".join(f"{c:>26s}" for c in cells))
    v = limits.validation
    for key in (*limits.expressions, "any_photo", "all_photos"):
        if key in v:
            r = v[key]
            lines.append(f"held-out outside, {key:10s}: {r['outside']}/{r['n']} = {r['rate']:.1%} "
                         f"(95% CI {r['ci95'][0]:.1%}-{r['ci95'][1]:.1%})")
    for key in ("combined", "combined_landmarks"):
        for e, c in getattr(limits, key).items():
            r = v.get(key, {}).get(e)
            held = (f"; held-out outside {r['outside']}/{r['n']} = {r['rate']:.1%} (95% CI "
                    f"{r['ci95'][0]:.1%}-{r['ci95'][1]:.1%})" if r else "")
            lines.append(f"{key.replace('_', ' ')} limit, {e:5s}: {c.limit:.2f} [{c.ci_low:.2f}, "
                         f"{c.ci_high:.2f}] = p{c.percentile:g} of {c.n} photos over "
                         f"{', '.join(c.measures)}{held}")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
