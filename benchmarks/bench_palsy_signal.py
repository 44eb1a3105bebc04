"""How much of a simulated palsy the landmarks carry: the ceiling of the palsy probability.

Run: .venv/bin/python benchmarks/bench_palsy_signal.py --faces ../shared/faces/london [--people N]

Prints, on the Face Research Lab London Set (DeBruine & Jones 2017, CC-BY 4.0):

1. Recovery: for every tenth person (or ``--people`` of them), each region warped at
   the simulator's named mild and severe strength on the rest photo; the region's key
   measure (brow height, palpebral fissure, commissure height) as the simulator moved it
   (its own moved landmarks), as MediaPipe's landmarks found it on the warped photo, and
   as the mirror flow read it from the pixels (:mod:`palsy_core.face.mirror_flow`: the
   brow's and mouth corner's drop, the fissure difference), in mm, and their ratios.
2. The shift of the key measure in the training and test faces (``.cache/london_faces``,
   made by ``python -m trainers.build_default_weights --faces ...``) against each person's
   unaltered photo, beside the healthy spread of that measure
   (:func:`trainers._geometry_training.simulated_shift`).

3. The ceiling itself, person-held-out (5 folds by person): simulated palsy drawn as the
   training faces are (:func:`trainers._london.draw_palsy_case`, on every rest and smile
   photo) measured on the simulator's own moved landmarks ("exact": every point read
   perfectly), beside the landmarks MediaPipe found on the cached warped faces ("found").
   For each: the ROC AUC of a logistic regression on the ten left-right measurement
   differences, the three region scores and the expression, against the unaltered photos;
   and the verdict's landmark-only combined limit (:func:`~palsy_core.assessment.
   combined_verdict`, refitted without the held-out people at the shipped percentile):
   healthy photos within normal, palsy asymmetric on the simulated side, by expression.

A shift below one healthy SD is within healthy variation for any model that reads one
photo's landmarks: that bounds the palsy probability's person-held-out AUC on simulated
palsy, whatever the classifier. Section 3 measures that bound: what perfect landmarks
would give against the issue's targets (AUC 0.97; 90 % on the right side).
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import numpy as np

os.environ.setdefault("GLOG_minloglevel", "2")

from palsy_core import FaceLandmarker, measure_face  # noqa: E402
from palsy_core.assessment import combined_verdict  # noqa: E402
from palsy_core.face.frame import FaceFrame  # noqa: E402
from palsy_core.face.landmarks import MIRRORED_INDEX  # noqa: E402
from palsy_core.face.measurements import MEASUREMENT_NAMES  # noqa: E402
from palsy_core.face.mirror_flow import mirror_flow  # noqa: E402
from palsy_core.face.normal_range import (REGION_MEASURES, fit_combined_limit,  # noqa: E402
                                          load_normal_limits, verdict_measures)
from palsy_core.face.pose import frontalize  # noqa: E402
from trainers._geometry_training import KEY_MEASURES, simulated_shift  # noqa: E402
from trainers._london import (LONDON_CITATION, PALSY_BANDS, build_rows,  # noqa: E402
                              draw_palsy_case, load_work_photo, london_people, person_folds,
                              person_seed, photo_paths)
from trainers._person_eval import bootstrap_by_person, roc_auc  # noqa: E402
from trainers.data.simulate import simulate_palsy  # noqa: E402


def _difference(points: np.ndarray, name: str) -> float:
    """Signed left - right of measure ``name`` (mm) with the head's turn undone."""
    points = np.asarray(points, np.float64)
    if points.shape[1] == 3:
        points, _ = frontalize(points, axes="yaw")
    m = measure_face(points).measurements[name]
    return m.left - m.right


#: The mirror flow's reading of each key measure's left - right difference (mm): a
#: dropped brow or mouth corner lowers the left height.
FLOW_READING = {
    "brow_height": lambda flow: -flow.drop_mm["brow"],
    "palpebral_fissure_height": lambda flow: flow.fissure_difference_mm,
    "commissure_height": lambda flow: -flow.drop_mm["mouth_corner"],
}


def landmarker_recovery(faces: Path, people: list[str]) -> dict:
    """{(region, severity): [(simulated mm, landmarks mm, mirror flow mm), ...]}, left
    side, each against the unaltered photo."""
    out: dict = {}
    with FaceLandmarker() as landmarker:
        for person in people:
            rgb = load_work_photo(photo_paths(faces, person)["rest"])
            face = landmarker.detect(rgb)
            flow_before = mirror_flow(rgb, face.landmarks)
            for region, (name, _) in KEY_MEASURES.items():
                before = _difference(face.landmarks, name)
                for severity in ("mild", "severe"):
                    case = simulate_palsy(rgb, face.landmarks, side="left", region=region,
                                          severity=severity, seed=1)
                    found = landmarker.detect(case.image).landmarks
                    read = FLOW_READING[name]
                    out.setdefault((region, severity), []).append(
                        (_difference(case.landmarks, name) - before,
                         _difference(found, name) - before,
                         read(mirror_flow(case.image, found)) - read(flow_before)))
    return out


#: Mesh points with a distinct mirror point: one of each pair for the dense asymmetry.
_PAIRED = np.flatnonzero(np.arange(468) < MIRRORED_INDEX[:468])
#: Healthy principal components the dense asymmetry is whitened onto.
DENSE_COMPONENTS = 20


def _dense_asymmetry(frontal: np.ndarray) -> np.ndarray:
    """Every mesh point's offset from its mirror point's reflection, in the pupils'
    :class:`~palsy_core.face.frame.FaceFrame` in units of the pupil distance, one of each
    pair."""
    frame = FaceFrame(frontal)
    points = np.column_stack([frame.x, frame.y])[:468] / frame.eye_distance_px
    reflected = points[MIRRORED_INDEX[:468]] * [-1.0, 1.0]
    return (points - reflected)[_PAIRED].ravel()


def _case_row(person, expression, palsy, side, severity, points, blendshapes) -> dict:
    """One case, measured as the verdict measures it (the head's turn undone, landmarks
    only: no photo, so no mirror flow): its labels, the logistic regression's inputs
    (measures, and the dense asymmetry), per-side values for the combined limit, and the
    measurements themselves."""
    frontal, _ = frontalize(np.asarray(points, np.float64), axes="yaw")
    measured = measure_face(frontal, blendshapes, expression=expression)
    m = measured.measurements
    inputs = [m[n].difference for n in MEASUREMENT_NAMES]
    inputs += [measured.regions[r].score for r in REGION_MEASURES]
    inputs.append(float(expression == "smile"))
    row = {"person": person, "expression": expression, "palsy": palsy, "side": side,
           "severity": severity, "inputs": np.array(inputs), "measured": measured,
           "dense": _dense_asymmetry(frontal)}
    for n in MEASUREMENT_NAMES:
        row.update({f"{n}_left": m[n].left, f"{n}_right": m[n].right})
    return row


def exact_and_found(faces: Path, rows) -> tuple[list[dict], list[dict]]:
    """(exact, found) case rows: the unaltered photos in both, then simulated palsy on the
    simulator's own landmarks (exact) or as MediaPipe found it on the warped photos."""
    healthy, exact, found = [], [], []
    for i in np.flatnonzero(rows.kind == "real"):
        person, expression = str(rows.person[i]), str(rows.source[i])
        blendshapes, points = rows.blendshape_dict(i), rows.landmarks[i]
        healthy.append(_case_row(person, expression, 0, "", "", points, blendshapes))
        rgb = load_work_photo(photo_paths(faces, person)[expression])
        # Fresh draws (not the training faces' own), from the same recipe.
        rng = np.random.default_rng(person_seed(person, 1) + (expression == "smile"))
        for band in PALSY_BANDS:
            recipe = draw_palsy_case(rng, band)
            case = simulate_palsy(rgb, points, **recipe)
            exact.append(_case_row(person, expression, 1, recipe["side"], band,
                                   case.landmarks, blendshapes))
    for i in np.flatnonzero(rows.kind == "palsy_sim"):
        expression = str(rows.source[i])
        found.append(_case_row(str(rows.person[i]), expression, 1, str(rows.side[i]),
                               str(rows.severity[i]), rows.landmarks[i],
                               rows.blendshape_dict(i)))
    return healthy + exact, healthy + found


def _logistic_regression(x: np.ndarray, y: np.ndarray, *, l2: float = 1.0,
                         steps: int = 25) -> np.ndarray:
    """Weights (bias last) of a class-balanced, L2-penalised logistic regression, fitted
    by Newton's method."""
    x1 = np.hstack([x, np.ones((len(x), 1))])
    sample_weight = np.where(y == 1, 0.5 / y.mean(), 0.5 / (1 - y.mean()))
    penalty = l2 * np.eye(x1.shape[1])
    penalty[-1, -1] = 0.0
    w = np.zeros(x1.shape[1])
    for _ in range(steps):
        p = 1.0 / (1.0 + np.exp(-x1 @ w))
        gradient = x1.T @ (sample_weight * (p - y)) + penalty @ w
        hessian = (x1 * (sample_weight * p * (1 - p))[:, None]).T @ x1 + penalty
        w -= np.linalg.solve(hessian, gradient)
    return w


def ceiling(cases: list[dict], folds: list[list[str]], landmark_percentile: dict) -> dict:
    """Person-held-out AUC and verdict figures of one set of case rows (see section 3)."""
    person = np.array([c["person"] for c in cases])
    y = np.array([c["palsy"] for c in cases])
    x = np.stack([c["inputs"] for c in cases])
    dense = np.stack([c["dense"] for c in cases])
    severity = np.array([c["severity"] for c in cases])
    expression = np.array([c["expression"] for c in cases])
    smile = (expression == "smile").astype(float)[:, None]
    score = {"measures": np.full(len(cases), np.nan), "dense": np.full(len(cases), np.nan)}
    hit = np.zeros(len(cases), bool)
    for fold_people in folds:
        test, train = np.isin(person, fold_people), ~np.isin(person, fold_people)
        reference = x[train & (y == 0)]
        scaled = (x - reference.mean(0)) / (reference.std(0) + 1e-9)
        # The dense asymmetry in units of the healthy training faces' own variation along
        # its main directions; the magnitudes too, as a palsy on either side is palsy.
        healthy = dense[train & (y == 0)]
        _, spread, directions = np.linalg.svd(healthy - healthy.mean(0), full_matrices=False)
        whitened = ((dense - healthy.mean(0)) @ directions[:DENSE_COMPONENTS].T
                    / (spread[:DENSE_COMPONENTS] / np.sqrt(len(healthy))))
        for name, inputs, l2 in (("measures", scaled, 1.0),
                                 ("dense", np.hstack([whitened, np.abs(whitened), smile]), 10.0)):
            w = _logistic_regression(inputs[train], y[train], l2=l2)
            score[name][test] = np.hstack([inputs[test], np.ones((test.sum(), 1))]) @ w
        limits = {e: fit_combined_limit(
                      [c for c, t in zip(cases, train) if t and c["palsy"] == 0], e, p,
                      n_bootstrap=0, measures=verdict_measures(e, mirror_flow=False))
                  for e, p in landmark_percentile.items()}
        for i in np.flatnonzero(test):
            c = cases[i]
            status, side, _ = combined_verdict(c["measured"], limits[c["expression"]],
                                               expression=c["expression"])
            hit[i] = (status == "within_normal" if c["palsy"] == 0
                      else status == "asymmetry" and side == c["side"])

    def interval(statistic, keep):
        index = np.flatnonzero(keep)
        low, high = bootstrap_by_person(lambda idx: statistic(index[idx]), person[index],
                                        n=500)
        return statistic(index), low, high

    def auc(index, name="measures"):
        return roc_auc(y[index], score[name][index])

    def rate(index):
        return float(hit[index].mean())

    out = {"auc": {"measures": interval(auc, np.ones(len(y), bool))}, "verdict": {}}
    for band in dict.fromkeys(PALSY_BANDS):
        out["auc"][f"measures, {band}"] = interval(auc, (y == 0) | (severity == band))
    out["auc"]["dense"] = interval(lambda index: auc(index, "dense"), np.ones(len(y), bool))
    out["auc"]["dense, mild"] = interval(lambda index: auc(index, "dense"),
                                         (y == 0) | (severity == "mild"))
    out["verdict"]["healthy within normal"] = interval(rate, y == 0)
    out["verdict"]["palsy, right side"] = interval(rate, y == 1)
    for e in landmark_percentile:
        out["verdict"][f"palsy, right side ({e})"] = interval(rate, (y == 1) & (expression == e))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--faces", type=Path, default=Path("../shared/faces/london"))
    parser.add_argument("--cache", type=Path, default=Path(".cache/london_faces"))
    parser.add_argument("--people", type=int, default=None,
                        help="people for the recovery check (default: every tenth)")
    args = parser.parse_args()
    everyone = london_people(args.faces)
    sample = everyone[:args.people] if args.people else everyone[::10]
    print(f"Data: {LONDON_CITATION}\n")
    print(f"1. Recovery of the simulator's displacement, {len(sample)} people, rest photos, "
          "left side (median over people; mm): by MediaPipe's landmarks and by the mirror "
          "flow")
    print(f"  {'region':6s} {'severity':8s} {'simulated':>9s} {'landmarks':>9s} {'ratio':>6s} "
          f"{'flow':>6s} {'ratio':>6s}")
    for (region, severity), found in landmarker_recovery(args.faces, sample).items():
        found = np.array(found)
        sign = np.sign(found[:, 0])
        print(f"  {region:6s} {severity:8s} {np.median(np.abs(found[:, 0])):9.2f} "
              f"{np.median(sign * found[:, 1]):9.2f} {np.median(found[:, 1] / found[:, 0]):6.2f} "
              f"{np.median(sign * found[:, 2]):6.2f} {np.median(found[:, 2] / found[:, 0]):6.2f}")
    rows = build_rows(args.faces, cache_dir=args.cache, people=everyone, progress=False)
    print(f"\n2. Shift of the key measure towards the palsied side in the {len(everyone)} "
          "people's simulated faces (one region at a time), against the same person's "
          "unaltered photo; healthy SD = spread of that left-right difference on the "
          "unaltered photos (mm):")
    for region, entry in simulated_shift(rows).items():
        print(f"  {region:5s} {entry['measure']:24s} healthy SD {entry['healthy_sd']:.2f}")
        for band, b in entry["bands"].items():
            print(f"      {band:8s} n={b['n']:3d}  median {b['median']:+.2f} "
                  f"[{b['q25']:+.2f}, {b['q75']:+.2f}]  above 1 healthy SD: "
                  f"{b['share_above_healthy_sd']:.0%}")
    landmark_percentile = {e: c.percentile
                           for e, c in load_normal_limits().combined_landmarks.items()}
    folds = person_folds(everyone, 5)
    exact, found = exact_and_found(args.faces, rows)
    print("\n3. The ceiling: person-held-out (5 folds by person) on simulated palsy read "
          "from the simulator's own landmarks (exact) and from what MediaPipe found on the "
          "warped photos (found), against the unaltered photos (95% CI, people resampled). "
          "Targets (issue 9): AUC >= 0.97; >= 90% on the right side.")
    results = {"exact": ceiling(exact, folds, landmark_percentile),
               "found": ceiling(found, folds, landmark_percentile)}
    print(f"  {'':52s} {'exact':>22s} {'found':>22s}")
    for kind, label in (("auc", "logistic regression AUC: {}"),
                        ("verdict", "{} (landmark limit, refitted)")):
        for key in results["exact"][kind]:
            cells = []
            for name in ("exact", "found"):
                value, low, high = results[name][kind][key]
                cells.append(f"{value:.3f} ({low:.3f}-{high:.3f})" if kind == "auc"
                             else f"{value:5.1%} ({low:.1%}-{high:.1%})")
            print(f"  {label.format(key):52s} {cells[0]:>22s} {cells[1]:>22s}")
    print("  ('measures': the ten measurement differences, region scores and expression; "
          f"'dense': every mesh point's mirror asymmetry on {DENSE_COMPONENTS} healthy "
          "components. The shipped model adds the mirror flow to the found landmarks: "
          "its AUC is bench_validity.py's.)")


if __name__ == "__main__":
    main()
