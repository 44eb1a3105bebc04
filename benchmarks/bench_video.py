"""Throughput of the per-frame video core path on a 640 x 480 clip, beside the landmarker.

Run: .venv/bin/python benchmarks/bench_video.py [--seconds 4] [--face PATH]

The clip is made here from a real photo (scikit-image's astronaut, or ``--face``, e.g. a
London Set portrait read from where it lies) whose face moves and grows over the frames,
written with OpenCV to a temporary folder (nothing is kept). Printed:

- the bare landmarker in VIDEO mode on the decoded RGB frames (the floor);
- the core path per frame: landmarks (VIDEO mode), the 29 features, the measurements
  and the verdict (``Analyzer`` in video mode, as ``analyze_video`` runs it), by stage;
- decoding (grab + retrieve + BGR->RGB);
- the whole ``analyze_video`` with every frame sampled (``sample_fps`` = the clip's), and
  at its 6 fps against the same loop decoding on the analysing thread (as it did before).

Target (issue 15): the core path at 30 fps or more.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("GLOG_minloglevel", "2")

WIDTH, HEIGHT, FPS = 640, 480, 30


def make_clip(path: Path, photo: np.ndarray, seconds: float,
              size: tuple[int, int] = (WIDTH, HEIGHT)) -> Path:
    """A 30 fps clip (640 x 480 by default) of ``photo``'s face drifting and zooming (mp4v)."""
    import cv2

    width, height = size

    n = int(round(seconds * FPS))
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), FPS, (width, height))
    if not writer.isOpened():
        raise SystemExit("OpenCV cannot write mp4v here")
    h, w = photo.shape[:2]
    for i in range(n):
        phase = i / max(n - 1, 1)
        scale = (0.8 + 0.2 * np.sin(np.pi * phase)) * height / h  # grows, then shrinks
        dx = 40 * np.sin(2 * np.pi * phase)
        dy = 15 * np.cos(2 * np.pi * phase)
        matrix = np.array([[scale, 0, width / 2 - scale * w / 2 + dx],
                           [0, scale, height / 2 - scale * h / 2 + dy]], np.float32)
        frame = cv2.warpAffine(photo, matrix, (width, height), flags=cv2.INTER_LINEAR,
                               borderMode=cv2.BORDER_REPLICATE)
        writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    writer.release()
    return path


def decode_all(path: Path) -> tuple[list[np.ndarray], float]:
    """Every frame as RGB (at most 1280 px, as analyze_video hands them to the analyzer),
    and the seconds per frame it took."""
    import cv2

    from palsy_core.video import _downscale

    capture = cv2.VideoCapture(str(path))
    frames = []
    start = time.perf_counter()
    while True:
        ok, bgr = capture.read()
        if not ok:
            break
        frames.append(_downscale(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)))
    elapsed = time.perf_counter() - start
    capture.release()
    return frames, elapsed / max(len(frames), 1)


def _stats(seconds: list[float]) -> tuple[float, float, float]:
    """(p50, mean, p10) in milliseconds. On a busy machine p10 is nearest what an idle
    one would give."""
    ms = np.asarray(seconds) * 1000
    return float(np.percentile(ms, 50)), float(ms.mean()), float(np.percentile(ms, 10))


def time_core_path(frames: list[np.ndarray], rounds: int) -> dict[str, list[float]]:
    """Per-frame seconds of the bare landmarker and of the core path and its stages.

    Each runs in VIDEO mode on its own graph, over the whole clip, in alternating
    passes (``rounds`` each), so that a busy machine slows them alike and their ratio
    stays meaningful. (Alternating frame by frame instead costs both graphs their
    caches.)
    """
    import mediapipe as mp

    from palsy_core.analysis import Analyzer, AnalyzerOptions
    from palsy_core.errors import NoFaceError
    from palsy_core.face.landmarks import FaceLandmarker, LandmarkerOptions

    times: dict[str, list[float]] = {}
    clip_ms = int(len(frames) * 1000 / FPS) + 1000
    with FaceLandmarker(LandmarkerOptions(running_mode="video")) as bare, \
            Analyzer(AnalyzerOptions(running_mode="video")) as core:
        for round_ in range(rounds):
            for i, rgb in enumerate(frames):
                image = mp.Image(image_format=mp.ImageFormat.SRGB,
                                 data=np.ascontiguousarray(rgb))
                start = time.perf_counter()
                bare._landmarker.detect_for_video(image, round_ * clip_ms + int(i * 1000 / FPS))
                times.setdefault("landmarker", []).append(time.perf_counter() - start)
            for i, rgb in enumerate(frames):
                start = time.perf_counter()
                try:
                    frame = core.analyze(rgb, timestamp_ms=round_ * clip_ms + int(i * 1000 / FPS))
                except NoFaceError:
                    times.setdefault("core", []).append(time.perf_counter() - start)
                    continue
                times.setdefault("core", []).append(time.perf_counter() - start)
                for name, ms in frame.timings_ms.items():
                    if name != "total":
                        times.setdefault(name, []).append(ms / 1000)
    return times


def time_analyze_video(path: Path, sample_fps: float) -> tuple[float, dict]:
    """Wall seconds of the whole analyze_video, and its timings."""
    from palsy_core.video import analyze_video

    start = time.perf_counter()
    result = analyze_video(path, sample_fps=sample_fps)
    return time.perf_counter() - start, result


def time_decoding_on_the_same_thread(path: Path, sample_fps: float) -> float:
    """Wall seconds of the loop analyze_video ran before it decoded on a thread of its
    own: grab, retrieve and convert each sampled frame, then analyse it, in turn."""
    import math

    import cv2

    from palsy_core.analysis import Analyzer, AnalyzerOptions
    from palsy_core.errors import NoFaceError
    from palsy_core.video import _downscale  # as analyze_video does, to 1280 px at most

    start = time.perf_counter()
    capture = cv2.VideoCapture(str(path))
    fps = capture.get(cv2.CAP_PROP_FPS)
    index, next_sample_s, step_s = 0, 0.0, 1.0 / sample_fps
    with Analyzer(AnalyzerOptions(running_mode="video")) as analyzer:
        while capture.grab():
            time_s, index = index / fps, index + 1
            if time_s + 1e-6 < next_sample_s:
                continue
            next_sample_s = (math.floor(time_s / step_s + 1e-6) + 1) * step_s
            ok, bgr = capture.retrieve()
            try:
                analyzer.analyze(_downscale(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)),
                                 timestamp_ms=int(round(time_s * 1000)))
            except NoFaceError:
                pass
    capture.release()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=4.0, help="clip length")
    parser.add_argument("--rounds", type=int, default=5,
                        help="alternated passes of the landmarker and the core path, and "
                             "runs of analyze_video at 6 fps and of the loop that decodes "
                             "in turn")
    parser.add_argument("--size", type=int, nargs=2, default=(WIDTH, HEIGHT),
                        metavar=("WIDTH", "HEIGHT"),
                        help="frame size (1920 1080: a phone clip, downscaled to 1280 px)")
    parser.add_argument("--face", type=Path, default=None,
                        help="a face photo to move over the frames (default: the astronaut)")
    args = parser.parse_args()

    from palsy_core.imageio import load_image

    if args.face is not None:
        photo = load_image(args.face)
        source = args.face.name
    else:
        from skimage import data

        photo, source = data.astronaut(), "skimage astronaut"
    with tempfile.TemporaryDirectory(prefix="bench-video-") as folder:
        path = make_clip(Path(folder) / "clip.mp4", photo, args.seconds, tuple(args.size))
        frames, decode_s = decode_all(path)
        cpu_start = time.process_time()
        wall_start = time.perf_counter()
        times = time_core_path(frames, args.rounds)
        cpu_s = time.process_time() - cpu_start
        wall_s = time.perf_counter() - wall_start
        every_s, every = time_analyze_video(path, FPS)
        # Decoding ahead on a thread against decoding in turn, alternated so that a busy
        # machine slows both alike.
        threaded, in_turn = [], []
        for _ in range(args.rounds):
            sampled_s, sampled = time_analyze_video(path, 6.0)
            threaded.append(sampled_s)
            in_turn.append(time_decoding_on_the_same_thread(path, 6.0))

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"clip: {len(frames)} frames, {args.size[0]} x {args.size[1]} at {FPS} fps, face from {source}; "
          f"cpu cores {os.cpu_count()}, load average {load:.1f}")
    floor_p50, floor_mean, floor_p10 = _stats(times["landmarker"])
    core_p50, core_mean, core_p10 = _stats(times["core"])
    print(f"bare landmarker (VIDEO mode): p50 {floor_p50:.1f} ms, mean {floor_mean:.1f} ms "
          f"({1000 / floor_mean:.0f} fps), p10 {floor_p10:.1f} ms ({1000 / floor_p10:.0f} fps)")
    print(f"core path (landmarks + features + measurements): p50 {core_p50:.1f} ms, mean "
          f"{core_mean:.1f} ms = {1000 / core_mean:.1f} fps, p10 {core_p10:.1f} ms = "
          f"{1000 / core_p10:.0f} fps [target >= 30 fps]; {core_p50 / floor_p50:.2f} x the "
          f"landmarker (p50), {core_p10 / floor_p10:.2f} x (p10)")
    for name in [k for k in times if k not in ("landmarker", "core")]:
        p50, mean, p10 = _stats(times[name])
        print(f"  {name:>12}: p50 {p50:.2f} ms, mean {mean:.2f} ms, p10 {p10:.2f} ms")
    # CPU time is immune to a busy machine's waiting (not to its caches).
    passes = len(times["landmarker"]) // len(frames)
    print(f"CPU time of landmarker + core per frame: {cpu_s * 1000 / len(frames) / passes:.1f} ms "
          f"(wall {wall_s * 1000 / len(frames) / passes:.1f} ms)")
    print(f"decode (read + BGR->RGB + downscale to 1280 px): {decode_s * 1000:.2f} ms per frame")
    print(f"analyze_video, every frame: {every_s:.2f} s for {every.frames_sampled} frames = "
          f"{every.frames_sampled / every_s:.1f} fps ({every_s * 1000 / every.frames_sampled:.1f} "
          f"ms per frame, {every_s * 1000 / every.frames_sampled / floor_mean:.2f} x the "
          f"landmarker mean); stages: " + ", ".join(f"{k} {v:.0f} ms"
                                                      for k, v in every.timings_ms.items()))
    sampled_s, in_turn_s = float(np.median(threaded)), float(np.median(in_turn))
    print(f"analyze_video at 6 fps (median of {args.rounds}): {sampled_s:.2f} s for a "
          f"{sampled.duration_s:.1f} s clip ({sampled.frames_sampled} frames) = "
          f"{sampled.duration_s / sampled_s:.1f} x real time; decoding in turn on one thread: "
          f"{in_turn_s:.2f} s ({in_turn_s / sampled_s:.2f} x as long)")


if __name__ == "__main__":
    main()
