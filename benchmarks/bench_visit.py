"""Visit analysis on healthy people and on simulated palsy: the numbers behind the defaults.

On the 82 adults of the Face Research Lab London Set (DeBruine & Jones 2017, CC-BY 4.0,
https://doi.org/10.6084/m9.figshare.5047666.v5), each person's rest (neutral NNN_03)
and smile (smiling NNN_08) photos make a two-photo visit (:func:`palsy_core.analyze_visit`,
stated "rest" and "smile"). Printed:

1. Healthy movement asymmetry: the smile's mouth-corner excursion deficit
   ``(stronger - weaker) / stronger`` (percentiles); its 95th percentile is what
   :data:`palsy_core.visit.MOVEMENT_SIDE_MIN_DEFICIT` must exceed.
2. Healthy visits: how often an affected side is named, and the eFACE-style and
   Sunnybrook estimates (percentiles; 100 = normal).
3. Simulated palsy (:func:`trainers.data.simulate.simulate_palsy`, the subject's right side,
   whole hemiface, the same warp on both photos) at mild / moderate / severe on the first
   ``--sim-people`` people: the side named and the estimates.
4. Time per visit of two photos.
5. The movement :func:`palsy_core.detect_movement` reads from each photo's blendshapes.

Run: ``python benchmarks/bench_visit.py --faces ../shared/faces/london`` (about 5 minutes
on 2 cores).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("GLOG_minloglevel", "2")

from palsy_core import Analyzer, AnalyzerOptions, load_image  # noqa: E402
from trainers.data.simulate import simulate_palsy  # noqa: E402
from palsy_core.visit import MOVEMENT_SIDE_MIN_DEFICIT, SIDE_VOTE_MIN_MOVEMENT_MM, analyze_visit  # noqa: E402


def _pcts(values, qs=(5, 50, 95)) -> str:
    values = np.asarray([v for v in values if v is not None], dtype=float)
    if not values.size:
        return "n=0"
    return " ".join(f"p{q}={np.percentile(values, q):.1f}" for q in qs) + \
        f" min={values.min():.1f} max={values.max():.1f} n={values.size}"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--faces", type=Path, default=ROOT.parent / "shared" / "faces" / "london")
    parser.add_argument("--limit", type=int, default=None, help="only the first N people")
    parser.add_argument("--sim-people", type=int, default=10)
    args = parser.parse_args(argv)
    people = sorted(p.stem.split("_")[0] for p in (args.faces / "neutral").glob("*_03.jpg"))
    people = [p for p in people if (args.faces / "smiling" / f"{p}_08.jpg").exists()][:args.limit]
    deficits, stronger, sides, eface, eface_static, sunny, times = [], [], [], [], [], [], []
    detected = {"rest": {}, "smile": {}}
    sim = {s: {"side": [], "eface": [], "static": [], "sunny": []} for s in ("mild", "moderate", "severe")}
    with Analyzer(AnalyzerOptions(palsy_model=None)) as analyzer:
        for count, person in enumerate(people):
            rest = load_image(args.faces / "neutral" / f"{person}_03.jpg")
            smile = load_image(args.faces / "smiling" / f"{person}_08.jpg")
            start = time.perf_counter()
            visit = analyze_visit([rest, smile], ["rest", "smile"], analyzer=analyzer)
            times.append(time.perf_counter() - start)
            smile_move = visit.movements["full_smile"]
            deficits.append(100 * smile_move.deficit)
            stronger.append(max(smile_move.left, smile_move.right))
            sides.append(visit.affected_side)
            eface.append(visit.efACE["total"])
            eface_static.append(visit.efACE["static"])
            sunny.append(visit.sunnybrook["total"])
            for photo, folder in zip(visit.photos, ("rest", "smile")):
                detected[folder][photo.detected.movement] = detected[folder].get(photo.detected.movement, 0) + 1
            if count < args.sim_people:
                rest_points = visit.photo("rest").result.landmarks
                smile_points = visit.photo("full_smile").result.landmarks
                for severity in sim:
                    palsied = analyze_visit(
                        [simulate_palsy(rest, rest_points, side="right", severity=severity, seed=count).image,
                         simulate_palsy(smile, smile_points, side="right", severity=severity, seed=count).image],
                        ["rest", "smile"], analyzer=analyzer)
                    sim[severity]["side"].append(palsied.affected_side)
                    sim[severity]["eface"].append(palsied.efACE["total"])
                    sim[severity]["static"].append(palsied.efACE["static"])
                    sim[severity]["sunny"].append(palsied.sunnybrook["total"])
            if (count + 1) % 10 == 0:
                print(f"  {count + 1}/{len(people)} people", flush=True)
    n = len(people)
    print(f"\n1. Healthy smile excursion deficit, % ({n} people): {_pcts(deficits, (50, 90, 95, 99))}")
    print(f"   stronger side's excursion, mm: {_pcts(stronger)}")
    moved = [d for d, s in zip(deficits, stronger) if s >= SIDE_VOTE_MIN_MOVEMENT_MM]
    print(f"   deficit where the stronger side moved >= SIDE_VOTE_MIN_MOVEMENT_MM ({SIDE_VOTE_MIN_MOVEMENT_MM:g} mm): "
          f"{_pcts(moved, (50, 90, 95, 99))}")
    print(f"   MOVEMENT_SIDE_MIN_DEFICIT = {100 * MOVEMENT_SIDE_MIN_DEFICIT:.0f} %: "
          f"{sum(d > 100 * MOVEMENT_SIDE_MIN_DEFICIT for d in moved)} of {len(moved)} such healthy smiles "
          "beyond it")
    named = sum(s is not None for s in sides)
    print(f"2. Healthy visits with an affected side named: {named} of {n} ({100 * named / n:.1f} %)")
    print(f"   eFACE total:  {_pcts(eface)}")
    print(f"   eFACE static: {_pcts(eface_static)}")
    print(f"   Sunnybrook composite: {_pcts(sunny)}")
    print(f"3. Simulated palsy, subject's right side ({args.sim_people} people):")
    for severity, rows in sim.items():
        right = sum(s == "right" for s in rows["side"])
        wrong = sum(s == "left" for s in rows["side"])
        print(f"   {severity:8s} side right {right}/{len(rows['side'])}, left {wrong}; "
              f"eFACE total median {np.median(rows['eface']):.1f}, static median {np.median(rows['static']):.1f}; "
              f"Sunnybrook median {np.median(rows['sunny']):.1f}")
    print(f"4. Time per two-photo visit: median {1000 * np.median(times):.0f} ms (2 cores, shared)")
    print("5. Movement detected from the blendshapes (detect_movement) on the London photos:")
    for folder, counts in detected.items():
        print(f"   {folder:5s} photos: " + ", ".join(f"{m} {c}" for m, c in sorted(counts.items(), key=lambda kv: -kv[1])))
    return 0


if __name__ == "__main__":
    sys.exit(main())
