"""Latency of one photo's analysis beside the bare landmarker, for each set of models.

Run: .venv/bin/python benchmarks/bench_analyze.py [--repeats N] [--no-cold]

Measured in one process, interleaved round-robin (so a busy machine slows every variant
alike), on five 512 px photos:

- floor: the bare MediaPipe landmarker on the photo (one ``detect``);
- geometry: landmarks, features, measurements, verdict (no model);
- geometry + palsy: and the palsy probability (default model, with its mirror view);
- all three models: and the severity and face-parsing models.

Every figure is printed beside the floor as a ratio. Targets (issue 15): geometry +
palsy p50 <= 40 ms and <= 3.3 x the floor; all three p50 <= 100 ms. The machine may be
shared: p10 (the least disturbed runs) is printed too. Also: the stages of the full
pass, the torch thread setting and the parsing network's runtime (the measurements
behind palsy_core/models/_runtime.py), and the cold start (import + load + first photo).
Prints numbers; never fails on a slow machine.
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
os.environ.setdefault("GLOG_minloglevel", "2")

#: The variants, by name: AnalyzerOptions keyword arguments (None: the bare landmarker).
VARIANTS = {
    "floor (landmarker)": None,
    "geometry": {"palsy_model": None},
    "geometry + palsy": {"palsy_model": "default"},
    "all three models": {"palsy_model": "default",
                         "task_models": {"severity": "default", "parsing": "default"}},
}
#: Targets: variant -> (p50 ms, p50 x floor or None).
TARGETS = {"geometry + palsy": (40.0, 3.3), "all three models": (100.0, None)}

_COLD = """
import time; t0 = time.perf_counter()
from skimage import data; photo = data.astronaut(); t_photo = time.perf_counter() - t0
from palsy_core import Analyzer, AnalyzerOptions
with Analyzer(AnalyzerOptions(palsy_model="default",
                              task_models={"severity": "default", "parsing": "default"})) as a:
    a.analyze(photo)
print(time.perf_counter() - t0 - t_photo)
"""


def percentiles(values: list[float]) -> tuple[float, float, float]:
    return tuple(float(np.percentile(values, q)) for q in (10, 50, 95))


def timed(fn, repeats: int) -> list[float]:
    out = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        out.append((time.perf_counter() - start) * 1000)
    return out


def runtime_figures(photo: np.ndarray, repeats: int) -> None:
    """The parsing network under the thread settings and memory formats compared."""
    import torch

    from palsy_core import FaceLandmarker, LandmarkerOptions
    from palsy_core.face.features import compute_features, keypoints_51
    from palsy_core.models import AnalyzedFace, load_model

    with FaceLandmarker(LandmarkerOptions()) as landmarker:
        found = landmarker.detect(photo)
    face = AnalyzedFace(photo, found.landmarks, found.blendshapes,
                        compute_features(keypoints_51(found.landmarks)))
    channels_last = load_model("parsing")  # as the app runs it (palsy_core/models/_runtime.py)
    contiguous = load_model("parsing")
    contiguous.net.to(memory_format=torch.contiguous_format)
    crop = face.crop(channels_last.config.input_size)
    threads = torch.get_num_threads()
    print("parsing network, one 160 px crop (predict_crop):")
    for count in sorted({1, os.cpu_count() or 1}):
        torch.set_num_threads(count)
        channels_last.predict_crop(crop)
        p10, p50, _ = percentiles(timed(lambda: channels_last.predict_crop(crop), max(repeats // 6, 5)))
        print(f"  torch threads {count}: p10 {p10:6.1f} ms, p50 {p50:6.1f} ms")
    torch.set_num_threads(1)
    results = {"contiguous (NCHW)": [], "channels-last": []}
    for i in range(repeats * 2):
        order = (("channels-last", channels_last), ("contiguous (NCHW)", contiguous))
        for name, model in order[::-1] if i % 2 else order:  # alternate who goes first
            start = time.perf_counter()
            model.predict_crop(crop)
            results[name].append((time.perf_counter() - start) * 1000)
    for name, values in results.items():
        p10, p50, _ = percentiles(values[4:])
        print(f"  torch threads 1, {name:<18} (interleaved): p10 {p10:6.1f} ms, p50 {p50:6.1f} ms")
    torch.set_num_threads(threads)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=60, help="warm calls per variant")
    parser.add_argument("--no-cold", action="store_true", help="skip the cold-start runs")
    args = parser.parse_args()

    from palsy_core import Analyzer, AnalyzerOptions, FaceLandmarker, LandmarkerOptions
    from palsy_core.examples import astronaut_photo_set

    photos = astronaut_photo_set()
    runners, closers = {}, []
    for name, options in VARIANTS.items():
        if options is None:
            landmarker = FaceLandmarker(LandmarkerOptions())
            runners[name] = landmarker.detect
            closers.append(landmarker)
        else:
            analyzer = Analyzer(AnalyzerOptions(**options))
            runners[name] = analyzer.analyze
            closers.append(analyzer)
    times: dict[str, list[float]] = {name: [] for name in VARIANTS}
    stages: dict[str, list[float]] = {}
    try:
        for run in runners.values():
            for photo in photos:
                run(photo)  # warm-up
        for i in range(args.repeats):
            photo = photos[i % len(photos)]
            for name, run in runners.items():
                start = time.perf_counter()
                out = run(photo)
                times[name].append((time.perf_counter() - start) * 1000)
                if name == "all three models":
                    for stage, ms in out.timings_ms.items():
                        stages.setdefault(stage, []).append(ms)
    finally:
        for closer in closers:
            closer.close()

    print(f"photos: {len(photos)} x 512 px, {args.repeats} warm calls per variant, interleaved; "
          f"cpu cores: {os.cpu_count()}, load average {os.getloadavg()[0]:.1f}")
    floor10, floor50, _ = percentiles(times["floor (landmarker)"])
    for name, values in times.items():
        p10, p50, p95 = percentiles(values)
        line = (f"{name:<20} p10 {p10:6.1f} ms ({p10 / floor10:4.2f} x floor)  "
                f"p50 {p50:6.1f} ms ({p50 / floor50:4.2f} x floor)  p95 {p95:6.1f} ms")
        if name in TARGETS:
            limit_ms, limit_ratio = TARGETS[name]
            met = p50 <= limit_ms and (limit_ratio is None or p50 / floor50 <= limit_ratio)
            target = f"p50 <= {limit_ms:.0f} ms" + (f", <= {limit_ratio} x floor" if limit_ratio else "")
            line += f"  [target {target}: {'met' if met else 'MISSED'}]"
        print(line)
    print("stages of the full pass (p50 ms; the mirror view's landmarks run on a second "
          "thread meanwhile, 'mirror_landmarks' is the wait left for them):")
    for stage, values in stages.items():
        print(f"  {stage:<17} {np.percentile(values, 50):7.2f}")

    runtime_figures(photos[2], args.repeats)

    if not args.no_cold:
        cold = []
        for _ in range(3):
            out = subprocess.run([sys.executable, "-c", _COLD], cwd=ROOT, capture_output=True,
                                 text=True, check=True)
            cold.append(float(out.stdout.strip().splitlines()[-1]))
        print(f"cold start, all three models (import + load + first photo): median "
              f"{np.median(cold):.2f} s (runs: {', '.join(f'{c:.2f}' for c in cold)})")


if __name__ == "__main__":
    main()
