"""Is the verdict right on people it never saw? Person-held-out validity, with intervals.

Run::

    .venv/bin/python benchmarks/bench_validity.py [--faces ../shared/faces/london] [--folds 5]
    .venv/bin/python benchmarks/bench_validity.py --palsy DIR --healthy DIR \\
        [--side-pattern '(?P<side>left|right)'] [--labels labels.csv] [--expression smile]

On the Face Research Lab London Set (82 healthy adults at rest and smiling; DeBruine &
Jones 2017, CC-BY 4.0), k folds by person. For each fold the normal limits are refitted
without the held-out people (:func:`palsy_core.face.normal_range.fit_normal_limits`, at the
shipped limits' percentile per expression) and the palsy model is retrained and
recalibrated without them (as ``trainers.build_default_weights --faces`` does); then, on
the held-out people only:

- specificity: their unaltered rest and smile photos called within normal (not
  assessable counted separately);
- sensitivity: simulated palsy (warped half-faces) and composite palsy (their smile on one
  half, their rest photo on the other) made from them, called asymmetric *on the
  simulated side*;
- the palsy probability's ROC AUC on those photos, beside the plain largest region score's;
- how often the shipped verdict's ``regions_disagree`` warning (a region with a quarter of
  the asymmetry points to the other side) comes with a side, and with a wrong one.

Every figure has a 95 % interval from resampling people (bootstrap). The verdict under
refitted limits is :func:`palsy_core.assessment.combined_verdict` (one combined limit per
expression on the regions' signed differences, the eye read from the pixels by the mirror
flow, the side from the measure with the largest share), the rule
:func:`palsy_core.assessment.assess` reads; with the shipped limits it is checked to agree
with ``assess`` itself on every photo, and the agreement is printed. Beside it ("before"),
the same rule on the landmarks alone (the eye's landmark fissure, not deciding in a
smile), refitted the same way, so the two are compared on the same people.
``--verdict-only`` skips the palsy model's training (the AUCs). Photos are made at the
trainers' working size (675 px) and never written anywhere.

With ``--palsy DIR --healthy DIR`` it runs the whole analysis (:class:`palsy_core.Analyzer`
with the shipped limits and model) on a user's labelled photos: specificity, sensitivity,
side accuracy where a side is known (from ``--side-pattern``, a regular expression whose
group ``side`` matches ``left``/``right``/``l``/``r`` in the file name, or a CSV
``--labels`` with columns ``file,side``), not-assessable rates and the AUCs, with
intervals from resampling photos.
"""

from __future__ import annotations

import argparse
import csv
import os
import re
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("GLOG_minloglevel", "2")

TARGETS = {
    "specificity": ("healthy photos within normal (person-held-out)", ">=", 0.95),
    "sensitivity": ("simulated palsy of held-out people asymmetric on the right side", ">=", 0.90),
    "not_assessable": ("frontal studio photos not assessable", "<=", 0.05),
    "auc": ("palsy probability AUC (and above the plain region score's)", ">=", 0.97),
}
#: A stated "smile" for a composite: the patient was asked to smile.
_STATED = {"rest": "rest", "smile": "smile", "composite": "smile"}
#: Percentiles of the healthy combined scores at which the benchmark also reports the
#: combined score (specificity traded for sensitivity), beside the shipped limit.
OPERATING_PERCENTILES = (80.0, 90.0)


def _flow(rows, i):
    """Row ``i``'s mirror flow, from its cached aligned crop (as the analysis reads it)."""
    from palsy_core.face.mirror_flow import mirror_flow

    return mirror_flow(None, rows.landmarks[i], crop=rows.crops[i])


def _measure(landmarks, blendshapes, expression, flow=None):
    from palsy_core import measure_face
    from palsy_core.face.pose import frontalize

    frontal, pose = frontalize(landmarks, axes="yaw")
    return measure_face(frontal, blendshapes, expression=expression, flow=flow), pose


def _limit_rows(rows, index, flows):
    """Rows for fit_normal_limits: one per unaltered photo (frontalized, as measured)."""
    from palsy_core.face.measurements import FLOW_EYE_MEASURE, MEASUREMENT_NAMES

    out = []
    for i in index:
        expression = str(rows.source[i])
        measured, _ = _measure(rows.landmarks[i], rows.blendshape_dict(i), expression)
        row = {"person": str(rows.person[i]), "expression": expression}
        for n in MEASUREMENT_NAMES:
            m = measured.measurements[n]
            row.update({f"{n}_difference": m.difference, f"{n}_left": m.left,
                        f"{n}_right": m.right})
        fissure = flows[i].fissure_difference_mm
        row.update({f"{FLOW_EYE_MEASURE}_signed": fissure,
                    f"{FLOW_EYE_MEASURE}_difference": abs(fissure)})
        out.append(row)
    return out


def _rate(hit: np.ndarray, groups: np.ndarray, n_boot: int) -> dict:
    from trainers._person_eval import bootstrap_by_person

    hit = np.asarray(hit, bool)
    if len(hit) == 0:
        return {"rate": float("nan"), "k": 0, "n": 0, "ci95": [float("nan")] * 2}
    low, high = bootstrap_by_person(lambda idx: float(hit[idx].mean()), groups, n=n_boot)
    return {"rate": float(hit.mean()), "k": int(hit.sum()), "n": int(len(hit)),
            "ci95": [low, high]}


def _auc(y, score, groups, n_boot) -> dict:
    from trainers._person_eval import bootstrap_by_person, roc_auc

    y, score = np.asarray(y), np.asarray(score)
    low, high = bootstrap_by_person(lambda idx: roc_auc(y[idx], score[idx]), groups, n=n_boot)
    return {"auc": roc_auc(y, score), "ci95": [low, high]}


def _line(label: str, entry: dict, target: str = "") -> str:
    counts = f" ({entry['k']}/{entry['n']})" if "k" in entry else ""
    low, high = entry["ci95"]
    if "auc" in entry:
        figures = f"{entry['auc']:7.4f}{counts:>12s}  95% CI {low:.4f}-{high:.4f}"
    else:
        figures = f"{entry['rate']:7.1%}{counts:>12s}  95% CI {low:.1%}-{high:.1%}"
    return (f"  {label:58s} {figures}"
            + (f"   target {target}" if target else ""))


def _target(key: str) -> str:
    _, op, value = TARGETS[key]
    return f"{op} {value:.0%}" if key != "auc" else f"{op} {value:.2f}"


def london(args) -> dict:
    """The person-held-out figures on the London Set (see the module notes)."""
    from palsy_core.assessment import assess, combined_verdict
    from palsy_core.face.normal_range import (fit_combined_limit, fit_normal_limits,
                                              load_normal_limits, verdict_measures)
    from trainers._geometry_training import TEST_KINDS, largest_region_score
    from trainers._london import LONDON_CITATION, build_rows, london_people, person_folds

    started = time.perf_counter()
    people = london_people(args.faces)
    rows = build_rows(args.faces, cache_dir=args.cache, people=people, progress=False)
    folds = person_folds(people, args.folds, seed=args.seed)
    shipped = load_normal_limits()
    percentile = dict(shipped.percentile)
    combined_percentile = {e: c.percentile for e, c in shipped.combined.items()}
    landmarks_percentile = {e: c.percentile for e, c in shipped.combined_landmarks.items()}
    test = np.flatnonzero(np.isin(rows.kind, TEST_KINDS))
    flows = {i: _flow(rows, i) for i in
             np.flatnonzero(np.isin(rows.kind, TEST_KINDS) | (rows.kind == "real"))}

    probability = None
    if not args.verdict_only:
        from palsy_core.models._geometry import GEOMETRY_HIDDEN
        from trainers._geometry_training import cross_validate, geometry_matrices

        # Probability: each fold's model never saw its held-out people.
        x, x_mirror = geometry_matrices(rows)
        probability, _, _ = cross_validate(x, rows, folds, GEOMETRY_HIDDEN, seed=args.seed,
                                           x_mirror=x_mirror)
    plain = largest_region_score(rows)

    # Beside the shipped rules, the combined score at looser percentiles: how much
    # sensitivity the verdict could buy with specificity (never used for the verdict).
    looser = {f"combined_p{p:g}": p for p in OPERATING_PERCENTILES}
    rules = ("combined", "combined_landmarks", *looser)
    status = {r: np.empty(len(rows), dtype=object) for r in rules}
    side = {r: np.empty(len(rows), dtype=object) for r in rules}
    agree = total = soft = 0
    # The shipped verdict's regions_disagree warning, on the simulated palsy it calls
    # asymmetric with a side: (warned, on the wrong side) per photo.
    disagree = {}
    for fold_people in folds:
        train = np.flatnonzero(~np.isin(rows.person, fold_people) & (rows.kind == "real"))
        healthy_rows = _limit_rows(rows, train, flows)
        limits = fit_normal_limits(healthy_rows, percentile, n_bootstrap=0,
                                   combined_percentile=combined_percentile,
                                   combined_landmarks_percentile=landmarks_percentile)
        loose = {(r, e, flow): fit_combined_limit(
                     healthy_rows, e, p, n_bootstrap=0,
                     measures=verdict_measures(e, mirror_flow=flow))
                 for r, p in looser.items() for e in combined_percentile
                 for flow in (True, False)}
        for i in test[np.isin(rows.person[test], fold_people)]:
            expression = _STATED[str(rows.source[i])]
            blendshapes = rows.blendshape_dict(i)
            measured, pose = _measure(rows.landmarks[i], blendshapes, expression, flows[i])
            ipd_px = measured.interpupillary_distance_mm / measured.mm_per_pixel
            verdict = assess(measured, head_pose=pose, pupil_distance_px=ipd_px,
                             blendshapes=blendshapes, stated_expression=expression)
            if verdict.status == "not_assessable":
                for r in rules:
                    status[r][i], side[r][i] = "not_assessable", None
                continue
            # The shipped limits: the rule must give assess's own verdict. A photo too soft
            # round the eyes is judged on the landmarks alone, as assess does.
            flow = measured.eye_from_pixels
            soft += not flow
            total += 1
            agree += (combined_verdict(measured, shipped.combined_for(expression,
                                                                      mirror_flow=flow),
                                       expression=expression)[:2]
                      == (verdict.status, verdict.affected_side))
            if rows.palsy[i] == 1 and verdict.affected_side is not None:
                disagree[i] = ("regions_disagree" in {w.code for w in verdict.warnings},
                               verdict.affected_side != rows.side[i])
            status["combined"][i], side["combined"][i], _ = combined_verdict(
                measured, limits.combined_for(expression, mirror_flow=flow),
                expression=expression)
            landmarks_only, _ = _measure(rows.landmarks[i], blendshapes, expression)
            status["combined_landmarks"][i], side["combined_landmarks"][i], _ = combined_verdict(
                landmarks_only, limits.combined_for(expression, mirror_flow=False),
                expression=expression)
            for r in looser:
                status[r][i], side[r][i], _ = combined_verdict(
                    measured, loose[r, expression, flow], expression=expression)

    healthy = test[rows.kind[test] == "real"]
    palsied = test[rows.palsy[test] == 1]
    groups = rows.person
    n = args.bootstrap
    out = {"dataset": LONDON_CITATION, "people": len(people), "folds": args.folds,
           "seconds": time.perf_counter() - started,
           "agreement_with_assess": (agree, total), "too_soft": soft,
           "regions_disagree": {
               "named": len(disagree), "warned": sum(w for w, _ in disagree.values()),
               "wrong": sum(x for _, x in disagree.values()),
               "wrong_warned": sum(w and x for w, x in disagree.values())},
           "combined_percentile": combined_percentile,
           "landmarks_percentile": landmarks_percentile,
           "looser": list(looser)}
    for rule in rules:
        out[rule] = _verdict_figures(rows, status[rule], side[rule], healthy, palsied, n)
    scored = np.concatenate([healthy, palsied])
    if probability is not None:
        out["auc_probability"] = _auc(rows.palsy[scored], probability[scored], groups[scored], n)
    out["auc_plain_region_score"] = _auc(rows.palsy[scored], plain[scored], groups[scored], n)
    for name in ("composite", "mild", "moderate", "severe"):
        keep = (rows.kind[palsied] == "composite" if name == "composite"
                else (rows.kind[palsied] == "palsy_sim") & (rows.severity[palsied] == name))
        sub = np.concatenate([healthy, palsied[keep]])
        if probability is not None:
            out[f"auc_probability_{name}"] = _auc(rows.palsy[sub], probability[sub],
                                                  groups[sub], n)
        out[f"auc_plain_{name}"] = _auc(rows.palsy[sub], plain[sub], groups[sub], n)
    return out


def _verdict_figures(rows, status, side, healthy, palsied, n) -> dict:
    """Specificity, sensitivity (on the simulated side) and their breakdowns of one rule."""
    groups = rows.person
    out = {}
    assessable_healthy = healthy[status[healthy] != "not_assessable"]
    out["specificity"] = _rate(status[healthy] == "within_normal", groups[healthy], n)
    out["specificity_assessable"] = _rate(status[assessable_healthy] == "within_normal",
                                          groups[assessable_healthy], n)
    out["not_assessable_healthy"] = _rate(status[healthy] == "not_assessable", groups[healthy], n)
    for expression in ("rest", "smile"):
        subset = healthy[rows.source[healthy] == expression]
        out[f"specificity_{expression}"] = _rate(status[subset] == "within_normal",
                                                 groups[subset], n)
    correct = (status == "asymmetry") & (side == rows.side)
    out["sensitivity"] = _rate(correct[palsied], groups[palsied], n)
    out["asymmetric_any_side"] = _rate(status[palsied] == "asymmetry", groups[palsied], n)
    unnamed = np.array([s is None for s in side[palsied]], bool)
    out["asymmetric_no_side"] = _rate((status[palsied] == "asymmetry") & unnamed,
                                      groups[palsied], n)
    out["not_assessable_palsy"] = _rate(status[palsied] == "not_assessable", groups[palsied], n)
    simulated = palsied[rows.kind[palsied] == "palsy_sim"]
    for name in ("mild", "moderate", "severe"):
        subset = simulated[rows.severity[simulated] == name]
        out[f"sensitivity_{name}"] = _rate(correct[subset], groups[subset], n)
    for region in ("full", "mouth", "eye", "brow"):
        subset = simulated[rows.region[simulated] == region]
        out[f"sensitivity_region_{region}"] = _rate(correct[subset], groups[subset], n)
    subset = palsied[rows.kind[palsied] == "composite"]
    out["sensitivity_composite"] = _rate(correct[subset], groups[subset], n)
    return out


#: The breakdown lines of each rule, in print order.
_BREAKDOWN = ("mild", "moderate", "severe", "region_full", "region_mouth", "region_eye",
              "region_brow", "composite")


def print_london(out: dict) -> None:
    agree, total = out["agreement_with_assess"]
    new, old = out["combined"], out["combined_landmarks"]
    print(f"London Set, person-held-out: {out['people']} people, {out['folds']} folds by person "
          f"({out['seconds']:.0f} s). {out['dataset']}")
    print("Verdict: one combined limit per expression (percentile "
          + ", ".join(f"{p:g} {e}" for e, p in out["combined_percentile"].items())
          + "), the eye read from the pixels, refitted without the held-out people; it "
          f"agrees with palsy_core.assessment.assess under the shipped limits on {agree} of "
          f"{total} assessable photos ({out['too_soft']} of them too soft round the eyes for the "
          "flow, the simulator's jittered copies, judged on the landmarks as assess does). "
          "Beside it ('before'), the same rule on the landmarks "
          "alone (percentile " + ", ".join(f"{p:g} {e}" for e, p in
                                          out["landmarks_percentile"].items())
          + "), refitted the same way.")
    print("\nHealthy people (unaltered photos):                               verdict | before")
    for label, key, target in (("within normal (all photos)", "specificity", "specificity"),
                               ("  at rest", "specificity_rest", ""),
                               ("  smiling", "specificity_smile", ""),
                               ("within normal (assessable photos)", "specificity_assessable", ""),
                               ("not assessable", "not_assessable_healthy", "not_assessable")):
        print(_line(label, new[key], _target(target) if target else ""))
        print(_line("    before", old[key]))
    print("\nSimulated palsy from held-out people (asymmetric, on the simulated side):")
    print(_line("all (warped + composite)", new["sensitivity"], _target("sensitivity")))
    print(_line("    before", old["sensitivity"]))
    print(_line("  asymmetric, either side", new["asymmetric_any_side"]))
    print(_line("    before", old["asymmetric_any_side"]))
    print(_line("  asymmetric, side not named (the eye alone in a smile)",
                new["asymmetric_no_side"]))
    for key in _BREAKDOWN:
        print(_line(f"  {key.replace('_', ' ')}", new[f"sensitivity_{key}"]))
        print(_line("    before", old[f"sensitivity_{key}"]))
    print(_line("  not assessable", new["not_assessable_palsy"]))
    warned = out["regions_disagree"]
    print(f"  regions_disagree warning (shipped limits): on {warned['warned']} of "
          f"{warned['named']} palsy photos given a side, and on {warned['wrong_warned']} of the "
          f"{warned['wrong']} given the wrong side")
    print("\nThe combined score at looser limits (percentile of healthy scores, refitted per "
          "fold; not the verdict): specificity | sensitivity on the right side")
    for rule in out["looser"]:
        figures = out[rule]
        print(_line(f"  p{rule.split('_p')[-1]}: healthy within normal", figures["specificity"]))
        print(_line(f"  p{rule.split('_p')[-1]}: palsy on the right side", figures["sensitivity"]))
        print("      mild | eye-only | brow-only: " + " | ".join(
            f"{figures[k]['rate']:.1%}" for k in ("sensitivity_mild", "sensitivity_region_eye",
                                                   "sensitivity_region_brow")))
    print("\nPalsy probability vs the plain largest region score (ROC AUC, same photos):")
    if "auc_probability" in out:
        print(_line("probability", out["auc_probability"], _target("auc")))
    print(_line("plain largest region score", out["auc_plain_region_score"]))
    for key in ("mild", "moderate", "severe", "composite"):
        if f"auc_probability_{key}" in out:
            print(_line(f"  {key}: probability", out[f"auc_probability_{key}"]))
        print(_line(f"  {key}: plain region score", out[f"auc_plain_{key}"]))
    auc = ""
    if "auc_probability" in out:
        beats = out["auc_probability"]["auc"] > out["auc_plain_region_score"]["auc"]
        auc = (f"; probability AUC {_verdict(out['auc_probability'], 'auc')} and "
               f"{'above' if beats else 'NOT above'} the plain region score's")
    print(f"\nTargets: healthy within normal {_verdict(new['specificity'], 'specificity')} "
          f"(before {old['specificity']['rate']:.3f}); sensitivity "
          f"{_verdict(new['sensitivity'], 'sensitivity')} (before "
          f"{old['sensitivity']['rate']:.3f}); not assessable "
          f"{_verdict(new['not_assessable_healthy'], 'not_assessable')}{auc}.")


def _verdict(entry: dict, key: str) -> str:
    _, op, target = TARGETS[key]
    value = entry.get("rate", entry.get("auc"))
    met = value >= target if op == ">=" else value <= target
    return f"{'met' if met else 'MISSED'} ({value:.3f} {op} {target})"


# -- a user's labelled folders --------------------------------------------------------------
def _images(folder: Path) -> list[Path]:
    from palsy_core.imageio import IMAGE_SUFFIXES

    return sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)


def _side_labels(paths, pattern, labels_csv) -> dict[Path, str]:
    words = {"left": "left", "l": "left", "right": "right", "r": "right"}
    out = {}
    if labels_csv:
        with open(labels_csv, newline="") as handle:
            for row in csv.DictReader(handle):
                side = words.get(str(row.get("side", "")).strip().lower())
                if side:
                    out[Path(row["file"]).name] = side
    if pattern:
        regex = re.compile(pattern, re.IGNORECASE)
        if "side" not in regex.groupindex:
            raise SystemExit("error: --side-pattern needs a named group (?P<side>...)")
        for path in paths:
            match = regex.search(path.name)
            if match and match.group("side") and match.group("side").lower() in words:
                out.setdefault(path.name, words[match.group("side").lower()])
    return out


def folders(args) -> dict:
    from palsy_core import Analyzer, AnalyzerOptions
    from palsy_core.errors import PalsyError

    palsy_paths, healthy_paths = _images(args.palsy), _images(args.healthy)
    if not palsy_paths or not healthy_paths:
        raise SystemExit("error: --palsy and --healthy must each hold photos")
    sides = _side_labels(palsy_paths, args.side_pattern, args.labels)
    records = []
    with Analyzer(AnalyzerOptions(palsy_model=args.model or "default")) as analyzer:
        for label, paths in ((1, palsy_paths), (0, healthy_paths)):
            for path in paths:
                try:
                    result = analyzer.analyze(path, expression=args.expression)
                except PalsyError as error:
                    records.append(dict(path=path, palsy=label, status="no_face", side=None,
                                        probability=np.nan, plain=np.nan, error=str(error)))
                    continue
                records.append(dict(
                    path=path, palsy=label, status=result.assessment.status,
                    side=result.assessment.affected_side,
                    probability=result.palsy.probability if result.palsy else np.nan,
                    plain=max(r.score for r in result.region_asymmetry.values())))
    status = np.array([r["status"] for r in records], dtype=object)
    y = np.array([r["palsy"] for r in records])
    groups = np.array([str(r["path"]) for r in records])
    n = args.bootstrap
    healthy, palsied = np.flatnonzero(y == 0), np.flatnonzero(y == 1)
    out = {"n_palsy": len(palsied), "n_healthy": len(healthy),
           "no_face": int(np.sum(status == "no_face"))}
    out["specificity"] = _rate(status[healthy] == "within_normal", groups[healthy], n)
    out["not_assessable_healthy"] = _rate(status[healthy] == "not_assessable", groups[healthy], n)
    out["asymmetric"] = _rate(status[palsied] == "asymmetry", groups[palsied], n)
    out["asymmetric_no_side"] = _rate(np.array([status[i] == "asymmetry"
                                                and records[i]["side"] is None for i in palsied],
                                               bool), groups[palsied], n)
    out["not_assessable_palsy"] = _rate(status[palsied] == "not_assessable", groups[palsied], n)
    known = [i for i in palsied if records[i]["path"].name in sides]
    hit = [status[i] == "asymmetry" and records[i]["side"] == sides[records[i]["path"].name]
           for i in known]
    out["sensitivity_right_side"] = _rate(np.array(hit), groups[known], n)
    probability = np.array([r["probability"] for r in records], float)
    plain = np.array([r["plain"] for r in records], float)
    scored = np.flatnonzero(np.isfinite(plain) & np.isfinite(probability))
    if len(scored):
        out["auc_probability"] = _auc(y[scored], probability[scored], groups[scored], n)
    scored_plain = np.flatnonzero(np.isfinite(plain))
    out["auc_plain_region_score"] = _auc(y[scored_plain], plain[scored_plain],
                                         groups[scored_plain], n)
    return out


def print_folders(out: dict, args) -> None:
    print(f"\nYour photos: {out['n_palsy']} palsy ({args.palsy}), {out['n_healthy']} healthy "
          f"({args.healthy}); no face found in {out['no_face']}. Shipped limits and model; "
          "intervals from resampling photos.")
    print(_line("healthy within normal", out["specificity"], _target("specificity")))
    print(_line("healthy not assessable", out["not_assessable_healthy"], _target("not_assessable")))
    print(_line("palsy asymmetric (any side)", out["asymmetric"]))
    print(_line("palsy asymmetric, side not named", out["asymmetric_no_side"]))
    if out["sensitivity_right_side"]["n"]:
        print(_line("palsy asymmetric on the labelled side", out["sensitivity_right_side"],
                    _target("sensitivity")))
    else:
        print("  (no side labels: give --side-pattern or --labels for the side figure)")
    print(_line("palsy not assessable", out["not_assessable_palsy"]))
    if "auc_probability" in out:
        print(_line("palsy probability AUC", out["auc_probability"], _target("auc")))
    print(_line("plain largest region score AUC", out["auc_plain_region_score"]))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--faces", type=Path, default=ROOT.parent / "shared" / "faces" / "london",
                        help="the London Set (neutral/, smiling/)")
    parser.add_argument("--cache", type=Path, default=ROOT / ".cache" / "london_faces")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--bootstrap", type=int, default=1000)
    parser.add_argument("--palsy", type=Path, help="a folder of palsy photos")
    parser.add_argument("--healthy", type=Path, help="a folder of healthy photos")
    parser.add_argument("--side-pattern", help="regex with a (?P<side>...) group on file names")
    parser.add_argument("--labels", type=Path, help="CSV with columns file,side")
    parser.add_argument("--expression", help="the expression the photos show (default: detected)")
    parser.add_argument("--model", help="palsy model name (default: the shipped default)")
    parser.add_argument("--verdict-only", action="store_true",
                        help="London part: skip the palsy model's training and its AUCs")
    parser.add_argument("--with-london", action="store_true",
                        help="with --palsy/--healthy: run the London part too")
    args = parser.parse_args(argv)
    if (args.palsy is None) != (args.healthy is None):
        parser.error("give both --palsy and --healthy")
    import torch

    torch.set_num_threads(1)
    print("Targets: " + "; ".join(f"{text} {op} {value}" for text, op, value in TARGETS.values()))
    if args.palsy is None or args.with_london:
        if (args.faces / "neutral").is_dir():
            print_london(london(args))
        else:
            print(f"The London Set is not at {args.faces}: skipping the person-held-out part.")
    if args.palsy is not None:
        print_folders(folders(args), args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
