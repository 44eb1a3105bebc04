"""Shared fixtures: real photos and one real landmarker / analyzer per test session."""

from __future__ import annotations

import os

import cv2
import numpy as np
import pytest

os.environ.setdefault("GLOG_minloglevel", "2")

from palsy_core import Analyzer, AnalyzerOptions, FaceLandmarker  # noqa: E402


@pytest.fixture(scope="session")
def simulated_pair(tmp_path_factory):
    """A tiny simulated YFP + CK+ pair and a modality cache, shared by the session."""
    from trainers.build_default_weights import make_simulated_dataset

    root = tmp_path_factory.getbasetemp() / "palsy_simulated"
    yfp, ckplus = make_simulated_dataset(root, palsy_subjects=3, healthy_subjects=4,
                                         frames_per_subject=6, seed=0)
    return yfp, ckplus, root / "cache"


@pytest.fixture(scope="session")
def astronaut() -> np.ndarray:
    """A real, public-domain face photo (512 x 512, one smiling face)."""
    from skimage import data

    return data.astronaut()


@pytest.fixture(scope="session")
def landmarker():
    with FaceLandmarker() as detector:
        yield detector


@pytest.fixture(scope="session")
def astronaut_landmarks(landmarker, astronaut) -> np.ndarray:
    """(478, 3) landmarks of the astronaut photo, pixels, from the real landmarker."""
    return landmarker.detect(astronaut).landmarks


@pytest.fixture(scope="session")
def analyzer():
    """A real analyzer without a palsy model (the geometry alone)."""
    with Analyzer(AnalyzerOptions(palsy_model=None)) as instance:
        yield instance


@pytest.fixture(scope="session")
def face_photo(astronaut, astronaut_landmarks) -> np.ndarray:
    """The astronaut's face filling a 512 px square: a clinic-style portrait."""
    xy = astronaut_landmarks[:, :2]
    centre = (xy.min(axis=0) + xy.max(axis=0)) / 2
    half = int(np.ptp(xy, axis=0).max() * 0.9)
    x0, y0 = (centre - half).astype(int)
    crop = astronaut[max(y0, 0):y0 + 2 * half, max(x0, 0):x0 + 2 * half]
    return cv2.resize(crop, (512, 512), interpolation=cv2.INTER_CUBIC)


def droop_point(rgb: np.ndarray, point_xy, shift_px: float, radius_px: float) -> np.ndarray:
    """Warp the photo so the skin around ``point_xy`` moves down by ``shift_px``.

    A smooth Gaussian displacement field (the way a paralysed mouth corner sags), applied
    with one inverse remap.
    """
    height, width = rgb.shape[:2]
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    weight = np.exp(-((xx - point_xy[0]) ** 2 + (yy - point_xy[1]) ** 2) / (2 * radius_px ** 2))
    return cv2.remap(rgb, xx, yy - shift_px * weight, cv2.INTER_LINEAR,
                     borderMode=cv2.BORDER_REFLECT)


@pytest.fixture(scope="session")
def drooped_face(landmarker, face_photo):
    """``face_photo`` with the subject's LEFT mouth corner (image right) drooping."""
    points = landmarker.detect(face_photo).landmarks
    corner = points[291, :2]  # subject's left commissure
    mouth_width = np.linalg.norm(points[291, :2] - points[61, :2])
    return droop_point(face_photo, corner, shift_px=0.18 * mouth_width,
                       radius_px=0.35 * mouth_width)


@pytest.fixture
def env(tmp_path, monkeypatch):
    """A fresh records database and an empty weights folder (no palsy model).

    Sign-in is off (the documented PALSY_AUTH=off demo setting): these tests are about the
    pages; tests/test_auth.py signs in through the real forms.
    """
    monkeypatch.setenv("PALSY_AUTH", "off")
    monkeypatch.setenv("PALSY_DB_URL", f"sqlite:///{tmp_path / 'records.sqlite3'}")
    weights = tmp_path / "weights"
    weights.mkdir()
    monkeypatch.setenv("PALSY_WEIGHTS_DIR", str(weights))
    return tmp_path
