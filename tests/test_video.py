"""Video analysis: sampling at 6 fps, frames without a face, clear errors, the CLI."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from palsy_core.errors import NoFaceError, VideoError
from palsy_core.video import VideoAnalysis, add_video_subcommand, analyze_video

pytestmark = pytest.mark.slow

FPS = 30


def write_clip(path: Path, frames: list[np.ndarray], fps: int = FPS, codec: str = "mp4v") -> Path:
    """Write RGB frames as a video file with OpenCV."""
    height, width = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*codec), fps, (width, height))
    assert writer.isOpened(), f"OpenCV cannot write {codec} here"
    for frame in frames:
        writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    writer.release()
    return path


@pytest.fixture(scope="module")
def clip(tmp_path_factory, face_photo, drooped_face) -> Path:
    """3 s at 30 fps: 1 s healthy face, 0.5 s grey (no face), 1.5 s drooped face."""
    grey = np.full_like(face_photo, 90)
    frames = [face_photo] * 30 + [grey] * 15 + [drooped_face] * 45
    return write_clip(tmp_path_factory.mktemp("video") / "clip.mp4", frames)


@pytest.fixture(scope="module")
def analysis(clip) -> tuple[VideoAnalysis, list[tuple[float, str]]]:
    calls: list[tuple[float, str]] = []
    result = analyze_video(clip, progress=lambda fraction, message: calls.append((fraction, message)))
    return result, calls


def test_frames_are_sampled_at_6_fps_and_faceless_ones_skipped(analysis):
    result, _ = analysis
    assert result.sample_fps == 6.0 and result.source_fps == pytest.approx(FPS)
    assert result.duration_s == pytest.approx(3.0, abs=0.05)
    assert result.frames_sampled == 18
    assert result.frames_without_face == 3  # 1.0, 1.17, 1.33 s fall on the grey frames
    assert np.allclose(result.skipped_times_s, [1.0, 7 / 6, 8 / 6], atol=0.02)
    assert result.frames_analyzed == 15
    assert np.allclose(np.diff(result.times_s[:6]), 1 / 6, atol=0.02)
    assert result.regions == ("brow", "eye", "mouth")
    assert result.asymmetry.shape == (15, 3)


def test_summary_and_worst_frame_find_the_drooped_part(analysis, drooped_face):
    result, _ = analysis
    assert result.median_asymmetry["mouth"] == pytest.approx(np.median(result.asymmetry[:, 2]))
    assert result.worst_time_s >= 1.5  # the drooped half
    assert result.affected_sides[result.worst_frame_index] == "left"
    assert result.worst_result.affected_side == "left"
    assert result.worst_frame.shape == drooped_face.shape
    healthy = result.asymmetry[result.times_s < 1.0, 2]
    drooped = result.asymmetry[result.times_s >= 1.5, 2]
    assert drooped.min() > healthy.max()


def test_progress_is_reported_to_the_end(analysis):
    _, calls = analysis
    fractions = [fraction for fraction, _ in calls]
    assert len(calls) == 19  # once per sampled frame, and once when done
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    assert "without a face" in calls[-1][1]


def test_json_form_and_series_csv(analysis):
    result, _ = analysis
    data = json.loads(json.dumps(result.to_dict()))
    assert data["frames_without_face"] == 3 and len(data["series"]) == 15
    assert data["worst_frame"]["affected_side"] == "left"
    lines = result.series_csv().splitlines()
    assert lines[0] == "time_s,brow,eye,mouth" and len(lines) == 16


def test_bytes_input_and_other_containers(tmp_path, face_photo):
    clip = write_clip(tmp_path / "short.avi", [face_photo] * 12, codec="MJPG")
    result = analyze_video(clip.read_bytes(), name="short.avi")
    assert result.source == "short.avi" and result.frames_sampled == 3 and result.frames_without_face == 0


def test_broken_videos_give_clear_errors(tmp_path, face_photo):
    corrupt = tmp_path / "corrupt.mp4"
    corrupt.write_bytes(b"\x00\x00\x00\x18ftypmp42" + np.random.default_rng(0).bytes(5000))
    with pytest.raises(VideoError, match="MP4"):
        analyze_video(corrupt)
    with pytest.raises(VideoError, match="empty"):
        analyze_video(b"", name="empty.mp4")
    with pytest.raises(VideoError, match="No video file"):
        analyze_video(tmp_path / "missing.mp4")
    long_clip = write_clip(tmp_path / "long.mp4", [face_photo] * 60, fps=10)
    with pytest.raises(VideoError, match="at most 2 s"):
        analyze_video(long_clip, max_duration_s=2)


def test_a_clip_without_any_face(tmp_path):
    blank = write_clip(tmp_path / "blank.mp4", [np.full((240, 320, 3), 128, np.uint8)] * 20)
    with pytest.raises(NoFaceError, match="No face was found in any of the 4 frames"):
        analyze_video(blank)


def test_cli_subcommand(clip, capsys, tmp_path):
    parser = argparse.ArgumentParser(prog="palsy_core")
    add_video_subcommand(parser.add_subparsers(dest="command"))
    worst = tmp_path / "worst.png"
    args = parser.parse_args(["video", str(clip), "--json", "--worst-frame", str(worst)])
    assert args.handler(args) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["frames_sampled"] == 18
    assert cv2.imread(str(worst)) is not None
    args = parser.parse_args(["video", str(tmp_path / "missing.mp4")])
    assert args.handler(args) == 2
    assert "error (bad_video)" in capsys.readouterr().err


# -- the per-frame core path, as fast as the landmarker allows (issue 15) ----------------------

WIDTH, HEIGHT = 640, 480


def _moving_face(photo: np.ndarray, n: int) -> list[np.ndarray]:
    """640 x 480 frames of ``photo`` drifting and zooming."""
    frames = []
    h, w = photo.shape[:2]
    for i in range(n):
        phase = i / max(n - 1, 1)
        scale = 0.6 + 0.3 * np.sin(np.pi * phase)
        shift = np.array([WIDTH / 2 - scale * w / 2 + 40 * np.sin(2 * np.pi * phase),
                          HEIGHT / 2 - scale * h / 2 + 15 * np.cos(2 * np.pi * phase)])
        matrix = np.array([[scale, 0, shift[0]], [0, scale, shift[1]]], np.float32)
        frames.append(cv2.warpAffine(photo, matrix, (WIDTH, HEIGHT), flags=cv2.INTER_LINEAR,
                                     borderMode=cv2.BORDER_REPLICATE))
    return frames


@pytest.fixture(scope="module")
def moving_clip(tmp_path_factory, face_photo):
    return write_clip(tmp_path_factory.mktemp("moving") / "moving.mp4", _moving_face(face_photo, 60))


def _plain_loop(path: Path, sample_fps: float = 6.0) -> tuple[list[float], np.ndarray]:
    """The clip analysed the obvious way: decode every frame in turn, analyse the sampled
    ones with the video-mode analyzer. What analyze_video must reproduce."""
    from palsy_core.analysis import Analyzer, AnalyzerOptions

    capture = cv2.VideoCapture(str(path))
    fps = capture.get(cv2.CAP_PROP_FPS)
    times, rows, index, next_sample_s, step_s = [], [], 0, 0.0, 1.0 / sample_fps
    with Analyzer(AnalyzerOptions(running_mode="video")) as analyzer:
        while True:
            ok, bgr = capture.read()
            if not ok:
                break
            time_s, index = index / fps, index + 1
            if time_s + 1e-6 < next_sample_s:
                continue
            next_sample_s = (np.floor(time_s / step_s + 1e-6) + 1) * step_s
            result = analyzer.analyze(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB),
                                      timestamp_ms=int(round(time_s * 1000)))
            times.append(time_s)
            rows.append([r.score for r in result.region_asymmetry.values()])
    capture.release()
    return times, np.array(rows)


def test_decoding_ahead_on_a_thread_gives_the_plain_loops_results(moving_clip):
    times, scores = _plain_loop(moving_clip)
    result = analyze_video(moving_clip)
    assert result.frames_sampled == len(times) == 12
    assert np.allclose(result.times_s, times, atol=1e-3)
    assert np.allclose(result.asymmetry, scores, rtol=0, atol=1e-9)
    assert result.timings_ms["wall"] > 0


def test_an_error_midway_stops_the_decoding_thread(tmp_path, face_photo):
    import threading

    clip = write_clip(tmp_path / "long.mp4", [face_photo] * 45, fps=10)  # 4.5 s
    # Declared 4.5 s passes the check on the header (half a second of slack); the frame
    # at 4.2 s fails on the decoding thread, and the error reaches the caller.
    with pytest.raises(VideoError, match="at most 4 s"):
        analyze_video(clip, max_duration_s=4.1, sample_fps=30)
    assert not any(t.name == "palsy-video-decoder" for t in threading.enumerate())
