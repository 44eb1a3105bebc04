"""What face parsing adds to one photo's analysis: p50 / p95 milliseconds, by stage.

Run: .venv/bin/python benchmarks/bench_segmentation.py [--repeats N] [--model NAME] [--threads T]

Times ``predict(AnalyzedFace)`` of the installed parsing model (the default unless
``--model``) on photos whose landmarks are already known (the analysis has them): the
aligned crop, the network, mapping the masks back to the photo and the summary.
Photos: the astronaut (512 px) and, when ../shared/faces/london is present, a 1350 px
London portrait (the size a studio camera gives). Target (issue 12): < 60 ms on the
2-core CPU. Without an installed model the same architecture with random weights is
timed (it costs the same) and the output says so.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("GLOG_minloglevel", "2")
LONDON = ROOT.parent / "shared" / "faces" / "london" / "neutral"


def photos() -> list[tuple[str, np.ndarray]]:
    from skimage import data

    from palsy_core.imageio import load_image

    out = [("astronaut 512 px", data.astronaut())]
    if LONDON.is_dir():
        first = sorted(LONDON.glob("*.jpg"))[0]
        out.append((f"London portrait {first.name} 1350 px", load_image(str(first))))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=40)
    parser.add_argument("--model", default=None, help="installed parsing model (default: DEFAULT)")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch CPU threads (default: torch's own, the app's setting)")
    args = parser.parse_args()

    import torch

    from palsy_core.face.frame import face_alignment
    from palsy_core.errors import ModelNotInstalledError
    from palsy_core.face.landmarks import FaceLandmarker
    from palsy_core.models import AnalyzedFace, ModelCard, load_model
    from palsy_core.models import _parsing
    from palsy_core.segmentation import affected_side_of, lateral_map, pixel_shares

    if args.threads:
        torch.set_num_threads(args.threads)
    try:
        model = load_model("parsing", args.model)
        label = f"model {model.card.name}"
    except ModelNotInstalledError as error:
        net = _parsing.FaceParsingNet()
        model = _parsing.ParsingPredictor(net, ModelCard(
            name="random", task="parsing", framework="torch", architecture=_parsing.ARCHITECTURE,
            trained_on="nothing", trained_on_simulated_data=True, intended_use="timing"))
        label = f"RANDOM weights, same architecture ({error})"
    size = model.config.input_size
    print(f"face parsing latency, {label}; torch threads {torch.get_num_threads()}, "
          f"{args.repeats} repeats")
    with FaceLandmarker() as landmarker:
        faces = [(name, rgb, landmarker.detect(rgb).landmarks) for name, rgb in photos()]
    for name, rgb, landmarks in faces:
        stages: dict[str, list[float]] = {k: [] for k in ("crop", "network", "to_photo",
                                                           "summary", "predict_total")}
        for repeat in range(args.repeats + 3):
            face = AnalyzedFace(rgb, landmarks, {}, np.zeros(29))
            t0 = time.perf_counter()
            crop = face.crop(size)
            t1 = time.perf_counter()
            logits, paralysed_logit, _ = model.predict_crop(crop)
            t2 = time.perf_counter()
            matrix = face_alignment(landmarks, size)
            labels, paralysed, box = _parsing._to_photo(logits, paralysed_logit, matrix,
                                                        rgb.shape[:2])
            t3 = time.perf_counter()
            affected_side_of(paralysed_logit > 0, logits.argmax(0).astype(np.uint8),
                             lateral_map(landmarks, (size, size), matrix))
            pixel_shares(labels[box], paralysed[box], total=labels.size)
            t4 = time.perf_counter()
            model.predict(AnalyzedFace(rgb, landmarks, {}, np.zeros(29)))
            t5 = time.perf_counter()
            if repeat >= 3:  # warm-up
                for key, value in zip(stages, (t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4)):
                    stages[key].append(value * 1000)
        print(f"\n{name}")
        for key, values in stages.items():
            print(f"  {key:14s} p50 {np.percentile(values, 50):7.1f} ms   "
                  f"p95 {np.percentile(values, 95):7.1f} ms")
    print("\ntarget: predict_total < 60 ms per photo")


if __name__ == "__main__":
    main()
