"""Only our own messages reach the user: MediaPipe's native log lines are silenced by default."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
NATIVE_MARKERS = ("InitGoogle", "TensorFlow Lite", "face_landmarker_graph")


def _analyze(photo: Path, *extra: str) -> subprocess.CompletedProcess:
    # No GLOG_minloglevel: MediaPipe 1.2 ignores it, and a user's shell does not set it.
    env = {k: v for k, v in os.environ.items() if k not in {"GLOG_minloglevel", "PALSY_VERBOSE"}}
    return subprocess.run([sys.executable, "-m", "palsy_core", *extra, "analyze", str(photo),
                           "--no-palsy-model"], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=300)


def test_cli_stderr_is_quiet_unless_verbose(tmp_path, astronaut):
    photo = tmp_path / "face.png"
    Image.fromarray(astronaut).save(photo)

    quiet = _analyze(photo)
    assert quiet.returncode == 0, quiet.stderr
    assert quiet.stdout.startswith("{")
    assert quiet.stderr == ""

    verbose = _analyze(photo, "--verbose")
    assert verbose.returncode == 0, verbose.stderr
    assert any(marker in verbose.stderr for marker in NATIVE_MARKERS), verbose.stderr


def test_closed_pipe_is_not_an_error(tmp_path, astronaut):
    photo = tmp_path / "face.png"
    Image.fromarray(astronaut).save(photo)
    reader = subprocess.run(
        f"{sys.executable} -m palsy_core analyze {photo} {photo} --no-palsy-model | head -c 10",
        shell=True, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert reader.stdout == '{"file": "'
    assert "error" not in reader.stderr.lower(), reader.stderr
