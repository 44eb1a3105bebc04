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

A shift below one healthy SD is within healthy variation for any model that reads one
photo's landmarks: that bounds the palsy probability's person-held-out AUC on simulated
palsy, whatever the classifier.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import numpy as np

os.environ.setdefault("GLOG_minloglevel", "2")

from palsy_core import FaceLandmarker, measure_face  # noqa: E402
from palsy_core.face.mirror_flow import mirror_flow  # noqa: E402
from palsy_core.face.pose import frontalize  # noqa: E402
from trainers._geometry_training import KEY_MEASURES, simulated_shift  # noqa: E402
from trainers._london import (LONDON_CITATION, build_rows, load_work_photo,  # noqa: E402
                              london_people, photo_paths)
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


if __name__ == "__main__":
    main()
