"""What the severity grade adds to one photo's analysis, in milliseconds (p50 / p95).

Times ``predictor.predict(face)`` (everything the Analyzer adds for the grade: the
model's inputs from the analysed face, the network, the softmax) for the installed
default severity model, and for seed 003's CNN at its full 224 x 224 input (the shipped
CNN if one is installed, else an untrained one: the time does not depend on the weights),
plus attaching the recommendations. Target: under 30 ms per photo on a 2-core CPU::

    python benchmarks/bench_severity.py [--repeats 50] [--photo PATH] [--threads N]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np



def _times(fn, repeats: int, warmup: int = 3) -> np.ndarray:
    for _ in range(warmup):
        fn()
    out = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        out.append((time.perf_counter() - start) * 1000.0)
    return np.array(out)


def _line(name: str, ms: np.ndarray) -> str:
    return (f"{name:<48} p50 {np.percentile(ms, 50):7.2f} ms   p95 {np.percentile(ms, 95):7.2f} ms"
            f"   (n={len(ms)})")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--repeats", type=int, default=50)
    p.add_argument("--photo", type=Path, default=None,
                   help="a face photo (default: scikit-image's astronaut)")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    args = p.parse_args(argv)

    import torch

    from palsy_core import load_image
    from palsy_core.analysis import Analyzer
    from palsy_core.errors import ModelNotInstalledError
    from palsy_core.models import AnalyzedFace, ModelCard, load_model
    from palsy_core.models._severity import SeverityPredictor, build_seed_cnn
    from palsy_core.recommendations import attach_recommendations

    if args.threads:
        torch.set_num_threads(args.threads)
    if args.photo is not None:
        rgb = load_image(args.photo)
    else:
        from skimage import data

        rgb = data.astronaut()
    with Analyzer() as analyzer:
        result = analyzer.analyze(rgb)
    import os

    print(f"torch threads: {torch.get_num_threads()}; photo {rgb.shape[1]} x {rgb.shape[0]}; "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs (others' work slows "
          "every number here)")

    def fresh_face():
        # A new AnalyzedFace per call: the aligned crop is part of the cost.
        return AnalyzedFace(rgb, result.landmarks, result.blendshapes, result.features)

    try:
        default = load_model("severity")
    except ModelNotInstalledError as error:
        default = None
        print(f"no default severity model installed: {error}")
    if default is not None:
        ms = _times(lambda: default.predict(fresh_face()), args.repeats)
        print(_line(f"default ({default.card.name}, {default.card.architecture})", ms))
        result.predictions["severity"] = default.predict(fresh_face())
        ms = _times(lambda: attach_recommendations(result), args.repeats)
        print(_line("  + recommendations", ms))

    classes = ["mild_eye", "mild_mouth", "moderate_eye", "moderate_mouth", "severe_eye",
               "severe_mouth", "normal"]
    card = ModelCard(name="seed_cnn_untrained", task="severity", framework="keras",
                     architecture="seed_cnn", trained_on="(timing only)",
                     trained_on_simulated_data=True, intended_use="timing",
                     config={"classes": classes, "input_size": 224})
    cnn = SeverityPredictor(card=card, model=build_seed_cnn(len(classes)))
    ms = _times(lambda: cnn.predict(fresh_face()), args.repeats)
    print(_line("seed 003 CNN, 224 x 224 (weights do not matter)", ms))
    return 0


if __name__ == "__main__":
    sys.exit(main())
