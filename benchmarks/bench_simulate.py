"""Speed of the palsy simulator: one simulated case on a 512 px photo.

Run: .venv/bin/python benchmarks/bench_simulate.py [--repeats N]
Prints p50 / p95 per call; target (issue 4): well under 100 ms per case on a 512 px photo
whose face fills the frame (the largest warp), on one CPU core.
"""

from __future__ import annotations

import argparse
import os
import time

import cv2
import numpy as np

os.environ.setdefault("GLOG_minloglevel", "2")

from palsy_core import FaceLandmarker  # noqa: E402
from trainers.data.simulate import simulate_healthy, simulate_palsy, vary_identity  # noqa: E402


def face_filling_photo(landmarker: FaceLandmarker) -> np.ndarray:
    """The astronaut's face cropped and scaled to fill a 512 px square."""
    from skimage import data

    photo = data.astronaut()
    xy = landmarker.detect(photo).landmarks[:, :2]
    centre = (xy.min(axis=0) + xy.max(axis=0)) / 2
    half = int(np.ptp(xy, axis=0).max() * 0.9)
    x0, y0 = (centre - half).astype(int)
    crop = photo[max(y0, 0):y0 + 2 * half, max(x0, 0):x0 + 2 * half]
    return cv2.resize(crop, (512, 512), interpolation=cv2.INTER_CUBIC)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=50)
    args = parser.parse_args()
    cv2.setNumThreads(1)
    with FaceLandmarker() as landmarker:
        photo = face_filling_photo(landmarker)
        points = landmarker.detect(photo).landmarks
    simulate_palsy(photo, points, side="left", seed=0)  # builds the mesh once
    calls = {
        "simulate_palsy full/severe": lambda i: simulate_palsy(
            photo, points, side="left", region="full", severity="severe", seed=i),
        "simulate_palsy mouth/mild": lambda i: simulate_palsy(
            photo, points, side="right", region="mouth", severity="mild", seed=i),
        "simulate_healthy": lambda i: simulate_healthy(photo, points, seed=i),
        "vary_identity": lambda i: vary_identity(photo, points, seed=i),
    }
    print(f"512 x 512 photo, face filling the frame, {args.repeats} repeats, 1 thread")
    for name, call in calls.items():
        times = []
        for i in range(args.repeats):
            start = time.perf_counter()
            call(i)
            times.append((time.perf_counter() - start) * 1000)
        print(f"{name:30s} p50 {np.percentile(times, 50):6.1f} ms   "
              f"p95 {np.percentile(times, 95):6.1f} ms   (target < 100 ms)")


if __name__ == "__main__":
    main()
