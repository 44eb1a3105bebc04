"""Facial asymmetry over a short video clip.

Frames are sampled at 6 frames per second (the rate of the YouTube Facial Palsy data
set), the landmarker runs in VIDEO mode so the face is tracked from frame to frame, and
every sampled frame with a face gives one row of region asymmetry scores (brow, eye,
mouth; 1.0 is the edge of normal asymmetry, see :mod:`palsy_core.face.normal_range`).
Frames without a face are counted and skipped. The summary is the per-region median over
the frames, and the frame with the largest asymmetry is kept with its full analysis.

Usable from Python (:func:`analyze_video`), from the app, and from the command line
(``python -m palsy_core video CLIP.mp4``, see :func:`add_video_subcommand`).
"""

from __future__ import annotations

import json
import math
import os
import queue
import sys
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from time import perf_counter
from typing import Any

import cv2
import numpy as np

from palsy_core.analysis import Analyzer, AnalyzerOptions
from palsy_core.drawing import draw_overlay
from palsy_core.errors import NoFaceError, PalsyError, VideoError
from palsy_core.flatten import region_scores
from palsy_core.visit import detect_movement

__all__ = [
    "MAX_DURATION_S",
    "MAX_FRAME_SIDE",
    "SAMPLE_FPS",
    "VIDEO_SUFFIXES",
    "VideoAnalysis",
    "add_video_subcommand",
    "analyze_video",
]

#: Frames analysed per second of video (as the YFP data set was annotated).
SAMPLE_FPS = 6.0
#: Longest clip accepted, seconds. A clinical clip (rest, brow raise, eyes closed,
#: smile) takes 10-30 s; longer uploads are almost always the wrong file, and at 6 fps
#: two minutes already mean 720 landmarker runs.
MAX_DURATION_S = 120.0
#: Frames larger than this (longest side, pixels) are downscaled before analysis: the
#: landmarker works on 256 px crops anyway and asymmetry scores are scale-free.
MAX_FRAME_SIDE = 1280
#: File types the app and the CLI accept.
VIDEO_SUFFIXES = (".mp4", ".mov", ".avi", ".webm", ".m4v", ".mkv")

ProgressCallback = Callable[[float, str], None]


@dataclass
class VideoAnalysis:
    """What a clip shows, frame by frame and in summary.

    Attributes
    ----------
    source : str
        File name (or "upload").
    duration_s : float
        Length of the clip in seconds (as decoded).
    source_fps : float
        Frame rate stored in the file (0 when the container does not say).
    sample_fps : float
        Frames analysed per second of video.
    frames_sampled : int
        Sampled frames, with or without a face.
    frames_without_face : int
        Sampled frames skipped because no face was found.
    regions : tuple of str
        Region names, the columns of ``asymmetry`` (e.g. brow, eye, mouth).
    times_s : ndarray, shape (F,)
        Time of each analysed frame (with a face), seconds from the start.
    asymmetry : ndarray, shape (F, R)
        Region asymmetry score per analysed frame; 1.0 is the edge of normal asymmetry.
    affected_sides : list of str or None
        The affected side each analysed frame suggests (None: within normal asymmetry).
    skipped_times_s : ndarray, shape (K,)
        Times of the sampled frames skipped for want of a face, seconds.
    median_asymmetry : dict of str to float
        Per-region median of ``asymmetry`` over the analysed frames.
    worst_frame_index : int
        Row of ``asymmetry`` with the largest single region score.
    worst_frame : ndarray, shape (H, W, 3), uint8
        That frame, RGB.
    worst_result : AnalysisResult
        Its full analysis (landmarks, measurements, headline fields).
    timings_ms : dict of str to float
        ``decode`` and ``analyze`` totals, and ``per_frame`` mean analysis time.
    movements : list of str
        The movement each analysed frame shows (:func:`palsy_core.visit.detect_movement`).
    movement_frames : dict of str to (time_s, frame, AnalysisResult)
        Per movement shown, its clearest frame (the detection's highest confidence): the
        clip as a photo set (:meth:`segments`, ``palsy_core.visit.visit_from_results``).
    """

    source: str
    duration_s: float
    source_fps: float
    sample_fps: float
    frames_sampled: int
    frames_without_face: int
    regions: tuple[str, ...]
    times_s: np.ndarray
    asymmetry: np.ndarray
    affected_sides: list[str | None]
    skipped_times_s: np.ndarray
    median_asymmetry: dict[str, float]
    worst_frame_index: int
    worst_frame: np.ndarray = field(repr=False)
    worst_result: Any = field(repr=False)
    timings_ms: dict[str, float] = field(default_factory=dict)
    movements: list[str] = field(default_factory=list)
    movement_frames: dict[str, tuple[float, np.ndarray, Any]] = field(default_factory=dict, repr=False)

    def segments(self, min_frames: int = 2) -> list[dict[str, Any]]:
        """The clip split into the movements it shows: runs of at least ``min_frames``
        consecutive analysed frames showing one movement (a single frame is a blink or a
        passing expression), each ``{"movement", "start_s", "end_s", "frames"}``."""
        out: list[dict[str, Any]] = []
        start = 0
        for index in range(1, len(self.movements) + 1):
            if index == len(self.movements) or self.movements[index] != self.movements[start]:
                if index - start >= min_frames:
                    out.append({"movement": self.movements[start], "start_s": float(self.times_s[start]),
                                "end_s": float(self.times_s[index - 1]), "frames": index - start})
                start = index
        return out

    @property
    def frames_analyzed(self) -> int:
        """Sampled frames in which a face was found."""
        return int(len(self.times_s))

    @property
    def worst_time_s(self) -> float:
        """Time of the worst frame, seconds from the start."""
        return float(self.times_s[self.worst_frame_index])

    def series_csv(self) -> str:
        """The per-frame scores as CSV: ``time_s`` then one column per region."""
        lines = [",".join(("time_s",) + self.regions)]
        for time_s, row in zip(self.times_s, self.asymmetry):
            lines.append(",".join([f"{time_s:.3f}"] + [f"{value:.4f}" for value in row]))
        return "\n".join(lines) + "\n"

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable summary and time series (no images, no landmarks)."""
        return {
            "source": self.source,
            "duration_s": round(self.duration_s, 3),
            "source_fps": round(self.source_fps, 3),
            "sample_fps": self.sample_fps,
            "frames_sampled": self.frames_sampled,
            "frames_analyzed": self.frames_analyzed,
            "frames_without_face": self.frames_without_face,
            "skipped_times_s": [round(float(t), 3) for t in self.skipped_times_s],
            "regions": list(self.regions),
            "median_asymmetry": {key: round(value, 4) for key, value in self.median_asymmetry.items()},
            "worst_frame": {
                "time_s": round(self.worst_time_s, 3),
                "region_asymmetry": {
                    region: round(float(value), 4)
                    for region, value in zip(self.regions, self.asymmetry[self.worst_frame_index])
                },
                "affected_side": self.affected_sides[self.worst_frame_index],
            },
            "series": [
                {"time_s": round(float(t), 3), **{r: round(float(v), 4) for r, v in zip(self.regions, row)}}
                for t, row in zip(self.times_s, self.asymmetry)
            ],
            "timings_ms": {key: round(value, 1) for key, value in self.timings_ms.items()},
        }


def analyze_video(
    source: str | os.PathLike | bytes,
    *,
    name: str | None = None,
    sample_fps: float = SAMPLE_FPS,
    max_duration_s: float = MAX_DURATION_S,
    progress: ProgressCallback | None = None,
    analyzer_options: Any = None,
) -> VideoAnalysis:
    """Analyse a short clip frame by frame.

    Parameters
    ----------
    source : path or bytes
        The video file, or its bytes (e.g. an upload; written to a temporary file since
        the decoder reads files).
    name : str, optional
        Name to report (defaults to the file name, or "upload").
    sample_fps : float
        Frames analysed per second of video.
    max_duration_s : float
        Longer clips are refused.
    progress : callable, optional
        ``progress(fraction, message)`` with fraction in [0, 1], called after every
        sampled frame.
    analyzer_options : AnalyzerOptions, optional
        Options of the core analyzer (its running mode is forced to "video").

    Returns
    -------
    VideoAnalysis

    Raises
    ------
    VideoError
        The file is empty, not a video, in a codec this build cannot decode, has no
        decodable frame, or is longer than ``max_duration_s``.
    NoFaceError
        No sampled frame shows a face.
    """
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
        if not data:
            raise VideoError("The video file is empty (0 bytes). Upload the clip again.")
        suffix = Path(name).suffix if name and Path(name).suffix else ".mp4"
        with tempfile.TemporaryDirectory(prefix="palsy-video-") as folder:
            path = Path(folder) / f"clip{suffix}"
            path.write_bytes(data)
            return _analyze_path(path, name or "upload", sample_fps, max_duration_s, progress, analyzer_options)
    path = Path(source)
    if not path.is_file():
        raise VideoError(f"No video file at {path}.")
    if path.stat().st_size == 0:
        raise VideoError(f"The video file {path.name} is empty (0 bytes).")
    return _analyze_path(path, name or path.name, sample_fps, max_duration_s, progress, analyzer_options)


def _analyze_path(
    path: Path,
    name: str,
    sample_fps: float,
    max_duration_s: float,
    progress: ProgressCallback | None,
    analyzer_options: Any,
) -> VideoAnalysis:
    capture = cv2.VideoCapture(str(path))
    if not capture.isOpened():
        raise VideoError(
            f"{name} could not be opened as a video: it is not a video file or its codec is not "
            "supported. Convert it to MP4 (H.264) and upload it again."
        )
    source_fps = _finite(capture.get(cv2.CAP_PROP_FPS))
    frame_count = _finite(capture.get(cv2.CAP_PROP_FRAME_COUNT))
    declared_s = frame_count / source_fps if source_fps > 0 and frame_count > 0 else 0.0
    if declared_s > max_duration_s + 0.5:
        capture.release()
        raise VideoError(_too_long(name, declared_s, max_duration_s))
    expected = max(1, math.ceil((declared_s or max_duration_s) * sample_fps))

    options = replace(analyzer_options or AnalyzerOptions(), running_mode="video")
    times: list[float] = []
    rows: list[dict[str, float]] = []
    sides: list[str | None] = []
    skipped: list[float] = []
    worst: tuple[float, int, np.ndarray, Any] | None = None
    movements: list[str] = []
    clearest: dict[str, tuple[float, float, np.ndarray, Any]] = {}
    sampled = without_face = 0
    analyze_s = 0.0
    started_wall = perf_counter()
    # Frames are decoded on a thread of their own while the landmarker works on the one
    # before: OpenCV's decoder releases the GIL, so on two cores decoding costs no time.
    decoder = _FrameDecoder(capture, name, source_fps, sample_fps, max_duration_s)
    try:
        with Analyzer(options) as analyzer:
            for time_s, rgb in decoder:
                sampled += 1
                started = perf_counter()
                try:
                    result = analyzer.analyze(rgb, source=name, timestamp_ms=int(round(time_s * 1000)))
                except NoFaceError:
                    without_face += 1
                    skipped.append(time_s)
                    result = None
                analyze_s += perf_counter() - started
                if result is not None:
                    scores = region_scores({"region_asymmetry": {
                        region: r.to_dict() for region, r in result.region_asymmetry.items()}})
                    rows.append(scores)
                    times.append(time_s)
                    sides.append(result.affected_side)
                    guess = detect_movement(result.blendshapes)
                    movements.append(guess.movement)
                    if guess.movement not in clearest or guess.confidence > clearest[guess.movement][0]:
                        clearest[guess.movement] = (guess.confidence, time_s, rgb, result)
                    peak = max(scores.values(), default=0.0)
                    if worst is None or peak > worst[0]:
                        worst = (peak, len(rows) - 1, rgb, result)
                if progress is not None:
                    done = min(sampled / expected, 0.99)
                    progress(done, f"Frame {sampled} of about {expected} ({time_s:.1f} s)")
    finally:
        decoder.close()
    wall_s = perf_counter() - started_wall

    if decoder.decoded == 0:
        raise VideoError(
            f"{name} contains no frame that could be decoded: the file is damaged or its codec "
            "is not supported. Convert it to MP4 (H.264) and upload it again."
        )
    if worst is None:
        raise NoFaceError(
            f"No face was found in any of the {sampled} frames sampled from {name}. Film the "
            "whole face from the front, in good light, and upload the clip again."
        )
    if progress is not None:
        progress(1.0, f"Done: {len(rows)} frames analysed, {without_face} without a face")
    regions = tuple(rows[0])
    asymmetry = np.array([[row.get(region, np.nan) for region in regions] for row in rows], dtype=float)
    return VideoAnalysis(
        source=name,
        duration_s=max(decoder.last_time_s, declared_s),
        source_fps=source_fps,
        sample_fps=sample_fps,
        frames_sampled=sampled,
        frames_without_face=without_face,
        regions=regions,
        times_s=np.array(times, dtype=float),
        asymmetry=asymmetry,
        affected_sides=sides,
        skipped_times_s=np.array(skipped, dtype=float),
        median_asymmetry={region: float(np.nanmedian(asymmetry[:, i])) for i, region in enumerate(regions)},
        worst_frame_index=worst[1],
        worst_frame=worst[2],
        worst_result=worst[3],
        timings_ms={
            "decode": decoder.decode_s * 1000,
            "analyze": analyze_s * 1000,
            "per_frame": analyze_s * 1000 / max(sampled, 1),
            "wall": wall_s * 1000,
        },
        movements=movements,
        movement_frames={m: (t, frame, r) for m, (_, t, frame, r) in clearest.items()},
    )


class _FrameDecoder:
    """The sampled frames of a clip, RGB, decoded ahead on a thread of its own.

    Iterating yields ``(time_s, rgb)`` for each sampled frame, in order; frames between
    samples are only grabbed (demuxed and decoded, never converted). An error of the
    decoding thread (a clip longer than allowed) is raised in the iterating one. Owns
    ``capture`` and releases it in :meth:`close`.

    Attributes (final once iteration has ended)
    ----------
    decoded : int
        Frames decoded.
    last_time_s : float
        Time of the last decoded frame, seconds.
    decode_s : float
        Seconds the decoding thread spent decoding and converting.
    """

    #: Frames decoded ahead: enough to ride out a slow frame, few enough to bound memory
    #: (a 1280 px RGB frame is 2.8 MB).
    DEPTH = 4
    _END = object()

    def __init__(self, capture: cv2.VideoCapture, name: str, source_fps: float,
                 sample_fps: float, max_duration_s: float):
        self._capture = capture
        self._name = name
        self._source_fps = source_fps
        self._step_s = 1.0 / sample_fps
        self._max_duration_s = max_duration_s
        self.decoded = 0
        self.last_time_s = 0.0
        self.decode_s = 0.0
        self._queue: queue.Queue = queue.Queue(maxsize=self.DEPTH)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="palsy-video-decoder", daemon=True)
        self._thread.start()

    def __iter__(self):
        while True:
            item = self._queue.get()
            if item is self._END:
                return
            if isinstance(item, BaseException):
                raise item
            yield item

    def close(self) -> None:
        """Stop decoding (also midway), wait for the thread, release the file."""
        self._stop.set()
        while self._thread.is_alive():
            try:  # unblock a put() waiting for room
                self._queue.get(timeout=0.05)
            except queue.Empty:
                pass
        self._capture.release()

    def _put(self, item) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _run(self) -> None:
        next_sample_s = 0.0
        try:
            while not self._stop.is_set():
                started = perf_counter()
                if not self._capture.grab():
                    break
                time_s = _frame_time_s(self._capture, self.decoded, self._source_fps)
                self.decoded += 1
                self.last_time_s = time_s
                if time_s > self._max_duration_s + self._step_s:
                    raise VideoError(_too_long(self._name, time_s, self._max_duration_s))
                if time_s + 1e-6 < next_sample_s:
                    self.decode_s += perf_counter() - started
                    continue
                next_sample_s = (math.floor(time_s / self._step_s + 1e-6) + 1) * self._step_s
                ok, bgr = self._capture.retrieve()
                if not ok or bgr is None:
                    self.decode_s += perf_counter() - started
                    continue
                rgb = _downscale(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
                self.decode_s += perf_counter() - started
                if not self._put((time_s, rgb)):
                    return
        except BaseException as error:  # handed to the iterating thread
            self._put(error)
            return
        self._put(self._END)


def _frame_time_s(capture: cv2.VideoCapture, index: int, fps: float) -> float:
    # Containers with variable frame rate (phone .mov/.webm) carry real timestamps;
    # fall back on index / fps where the decoder reports none.
    position_ms = _finite(capture.get(cv2.CAP_PROP_POS_MSEC))
    if position_ms > 0 or index == 0:
        return position_ms / 1000.0
    return index / fps if fps > 0 else index / 30.0


def _downscale(rgb: np.ndarray) -> np.ndarray:
    height, width = rgb.shape[:2]
    scale = MAX_FRAME_SIDE / max(height, width)
    if scale >= 1:
        return rgb
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)


def _finite(value: float) -> float:
    return float(value) if value is not None and math.isfinite(value) and value > 0 else 0.0


def _too_long(name: str, seconds: float, limit: float) -> str:
    return (
        f"{name} is {seconds:.0f} s long; clips of at most {limit:.0f} s are analysed. "
        "Trim it to the part showing the expressions (rest, brow raise, eyes closed, smile)."
    )


# -- command line ----------------------------------------------------------------


def add_video_subcommand(subparsers: Any) -> None:
    """Register ``video PATH`` on the CLI's ``argparse`` subparsers.

    ``python -m palsy_core video CLIP.mp4 [--fps 6] [--json]`` prints the per-region
    median asymmetry, the worst frame and the frames without a face (``--json``: the
    full :meth:`VideoAnalysis.to_dict`). Exit status 0 on success, 2 on a
    ``PalsyError`` (message on stderr).
    """
    parser = subparsers.add_parser(
        "video",
        help="analyse facial asymmetry over a short video clip (6 frames per second)",
        description=(
            "Analyse a short clip (mp4, mov, avi, webm; at most "
            f"{MAX_DURATION_S:.0f} s): region asymmetry per sampled frame, the median over frames, "
            "the worst frame, and how many frames had no face."
        ),
    )
    parser.add_argument("path", help="video file")
    parser.add_argument("--fps", type=float, default=SAMPLE_FPS, help="frames analysed per second (default 6)")
    parser.add_argument("--json", action="store_true", help="print the full result as JSON")
    parser.add_argument("--worst-frame", metavar="PNG", help="save the worst frame with its overlay to this file")
    parser.set_defaults(handler=_run_video_command)


def _run_video_command(args: Any) -> int:
    try:
        if not args.fps > 0:
            raise VideoError("--fps must be a positive number of frames per second.")
        analysis = analyze_video(args.path, sample_fps=args.fps)
    except PalsyError as error:
        print(f"error ({error.code}): {error}", file=sys.stderr)
        return 2
    if args.worst_frame:
        from PIL import Image

        overlay = draw_overlay(analysis.worst_frame, np.asarray(analysis.worst_result.landmarks))
        Image.fromarray(overlay).save(args.worst_frame)
    if args.json:
        print(json.dumps(analysis.to_dict(), indent=2))
        return 0
    print(f"{analysis.source}: {analysis.duration_s:.1f} s, {analysis.frames_sampled} frames sampled "
          f"at {analysis.sample_fps:g} fps, {analysis.frames_without_face} without a face")
    print("median region asymmetry (1.0 = edge of normal):")
    for region, value in analysis.median_asymmetry.items():
        print(f"  {region:>6}: {value:.2f}")
    worst = analysis.to_dict()["worst_frame"]
    scores = ", ".join(f"{region} {value:.2f}" for region, value in worst["region_asymmetry"].items())
    print(f"worst frame at {worst['time_s']:.2f} s: {scores}; affected side: {worst['affected_side'] or 'none'}")
    return 0
