"""App start-up: models load in the background, the pool takes each one as it arrives."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_ui_services_import_loads_no_framework():
    """The first page imports ui.services: no torch, Keras or MediaPipe on that path."""
    code = ("import sys, ui.services\n"
            "heavy = [m for m in ('torch', 'keras', 'mediapipe') if m in sys.modules]\n"
            "assert not heavy, heavy\n")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


def test_loader_says_loading_until_each_model_arrives_then_the_real_status():
    from palsy_core.models import default_weights_dir
    from ui.services import ModelLoader

    arrived, go_on = threading.Event(), threading.Event()

    def after_each(loader):
        arrived.set()
        assert go_on.wait(60)

    loader = ModelLoader(str(default_weights_dir()), on_loaded=after_each)
    assert arrived.wait(120)
    # The palsy model is in; the loader waits before the next one.
    palsy = loader.status("palsy")
    assert palsy.installed and not palsy.loading and loader.predictor("palsy") is not None
    severity = loader.status("severity")
    assert severity.loading and not severity.installed and "loading" in severity.detail
    assert loader.predictor("severity") is None and not loader.done and loader.generation == 1
    go_on.set()
    assert loader.wait(120)
    assert loader.generation == 3
    assert all(loader.status(key).installed for key in ("palsy", "severity", "segmentation"))


def test_loader_reports_a_missing_model_as_not_installed(tmp_path):
    from ui.services import ModelLoader

    loader = ModelLoader(str(tmp_path))
    assert loader.wait(60)
    for key in ("palsy", "severity", "segmentation"):
        status = loader.status(key)
        assert not status.installed and not status.loading and status.detail


def test_pool_hands_out_analyzers_with_the_models_that_have_arrived(face_photo):
    from palsy_core.models import load_palsy_model
    from ui.services import AnalyzerPool

    pool = AnalyzerPool(1)
    try:
        with pool.lease() as analyzer:
            assert analyzer.analyze(face_photo).palsy is None
        before = pool.generation
        pool.set_models(load_palsy_model(), {})
        assert pool.generation == before + 1
        with pool.lease() as analyzer:
            assert analyzer.analyze(face_photo).palsy is not None
        assert pool.created == 1  # the analyzer without the model was closed
    finally:
        pool.close()


def test_an_analyzer_in_use_finishes_then_is_replaced(face_photo):
    from palsy_core.models import load_palsy_model
    from ui.services import AnalyzerPool

    pool = AnalyzerPool(1)
    try:
        with pool.lease() as old:
            pool.set_models(load_palsy_model(), {})
            assert old.analyze(face_photo).palsy is None  # still usable mid-lease
        with pool.lease() as new:
            assert new is not old and new.analyze(face_photo).palsy is not None
        with pytest.raises(RuntimeError):
            old.analyze(face_photo)  # closed when it came back
    finally:
        pool.close()
