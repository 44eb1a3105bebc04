"""Latency of analyze_image: cold start and warm per-photo p50 / p95.

Run: .venv/bin/python benchmarks/bench_analyze.py [--repeats N] [--palsy-model NAME]
Prints numbers; targets (issue 2): warm p50 < 40 ms on a 512 px photo, cold start < 3 s.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("GLOG_minloglevel", "2")

_COLD = """
import time; t0 = time.perf_counter()
from skimage import data; photo = data.astronaut(); t_photo = time.perf_counter() - t0
from palsy_core import Analyzer, AnalyzerOptions
with Analyzer(AnalyzerOptions(palsy_model={model!r})) as a:
    a.analyze(photo)
print(time.perf_counter() - t0 - t_photo)
"""


def photo_set() -> list[np.ndarray]:
    """Five 512 px face photos: the astronaut, mirrored, a face close-up, rotated, darker."""
    import cv2
    from skimage import data

    astronaut = data.astronaut()
    closeup = cv2.resize(astronaut[20:300, 90:370], (512, 512), interpolation=cv2.INTER_CUBIC)
    rotated = cv2.warpAffine(closeup, cv2.getRotationMatrix2D((256, 256), 8, 1.0), (512, 512),
                             borderMode=cv2.BORDER_REFLECT)
    return [astronaut, astronaut[:, ::-1].copy(), closeup, rotated, (closeup * 0.6).astype(np.uint8)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=40)
    parser.add_argument("--palsy-model", default=None,
                        help="include a palsy model ('default' or a name); default: geometry only")
    args = parser.parse_args()

    cold = []
    for _ in range(3):
        out = subprocess.run([sys.executable, "-c", _COLD.format(model=args.palsy_model)],
                             cwd=ROOT, capture_output=True, text=True, check=True)
        cold.append(float(out.stdout.strip().splitlines()[-1]))

    from palsy_core import Analyzer, AnalyzerOptions

    photos = photo_set()
    stages: dict[str, list[float]] = {}
    with Analyzer(AnalyzerOptions(palsy_model=args.palsy_model)) as analyzer:
        for photo in photos:
            analyzer.analyze(photo)  # warm-up
        totals = []
        for i in range(args.repeats):
            photo = photos[i % len(photos)]
            start = time.perf_counter()
            result = analyzer.analyze(photo)
            totals.append((time.perf_counter() - start) * 1000)
            for name, ms in result.timings_ms.items():
                stages.setdefault(name, []).append(ms)

    print(f"photos: {len(photos)} x 512 px, {args.repeats} warm calls, "
          f"palsy model: {args.palsy_model or 'none'}, cpu cores: {os.cpu_count()}")
    print(f"cold start (import + model load + first photo): "
          f"median {np.median(cold):.2f} s (runs: {', '.join(f'{c:.2f}' for c in cold)}) "
          f"[target < 3 s]")
    print(f"warm analyze_image: p50 {np.percentile(totals, 50):.1f} ms, "
          f"p95 {np.percentile(totals, 95):.1f} ms [target p50 < 40 ms]")
    for name, values in stages.items():
        print(f"  stage {name:<13} p50 {np.percentile(values, 50):7.2f} ms")


if __name__ == "__main__":
    main()
