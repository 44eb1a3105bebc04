"""What the pages call: analysis, video, records and model status, loaded once per server.

Heavy objects live in ``st.cache_resource`` and are shared by every browser session:

- a small pool of :class:`palsy_core.Analyzer` instances. MediaPipe's landmarker is not
  thread-safe; each analyzer serialises its own calls with a lock, and the pool hands one
  analyzer to one session at a time, so two sessions analyse in parallel on two cores
  and a tenth waits its turn (never shares an analyzer mid-call);
- the palsy (fusion) model, when installed: prediction only reads the network, so one
  instance serves every analyzer;
- the record store (one SQLAlchemy engine per database URL).

Per-session results (the current assessment, the last video) live in a session-scoped
resource (:func:`session_box`), so that toggling an overlay does not analyse the photo
again, and so that Streamlit releases them when the browser session disconnects (a
session-scoped ``st.cache_resource`` is cleared then; ``st.session_state`` is kept a
while for a reconnect). Photos are downscaled once on arrival to
:data:`MAX_ANALYSIS_SIDE`, so a 12 MP upload does not hold 36 MB per session.
"""

from __future__ import annotations

import hashlib
import logging
import os
import queue
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np
import streamlit as st

from palsy_core import AnalysisResult, Analyzer, AnalyzerOptions, load_image
from palsy_core.imageio import downscale
from palsy_core.errors import ModelNotInstalledError, PalsyError
from palsy_core.records import RecordStore, default_db_url

logger = logging.getLogger("palsy_app")

#: Analyzers kept per server process: one per core (at most two), since the landmarker
#: runs on the CPU and more would only queue on the same cores.
POOL_SIZE = max(1, min(2, os.cpu_count() or 1))
#: Longest a session waits for a free analyzer before it is told to try again.
POOL_WAIT_S = 60.0

#: Longer side, in pixels, a photo is downscaled to on arrival (memory per session; the
#: landmarker and the millimetre scale do not need more).
MAX_ANALYSIS_SIDE = 2048

_ASSESSMENT_KEY = "assessment"


class BusyError(PalsyError):
    """Every analyzer stayed busy for :data:`POOL_WAIT_S` seconds."""

    code = "busy"


@dataclass(frozen=True)
class ModelStatus:
    """Whether one of the app's models is installed, and what it was trained on.

    Attributes
    ----------
    key : str
        "palsy", "severity" or "segmentation".
    title : str
        What the model gives, in words.
    installed : bool
    name : str or None
        The installed model's name.
    simulated : bool
        True when its card says it was trained on simulated data.
    detail : str
        What it was trained on, or why it is not installed.
    card : dict or None
        The full model card (``ModelCard.to_dict()``).
    """

    key: str
    title: str
    installed: bool
    name: str | None = None
    simulated: bool = False
    detail: str = ""
    card: dict | None = None


@dataclass(frozen=True)
class Assessment:
    """One analysed photo of the current session.

    Attributes
    ----------
    result : AnalysisResult
    rgb : ndarray, shape (H, W, 3), uint8
        The photo as analysed (EXIF orientation applied).
    name : str
        File name, "camera" or "example photo".
    key : str
        Digest of the photo bytes and the scale, so an unchanged input is not analysed twice.
    mm_per_pixel : float or None
        The scale the clinician gave; None: from the iris.
    """

    result: AnalysisResult
    rgb: np.ndarray
    name: str
    key: str
    mm_per_pixel: float | None


class AnalyzerPool:
    """Up to ``size`` analyzers; each is lent to one caller at a time.

    Parameters
    ----------
    size : int
        Most analyzers ever created (they are created on demand).
    palsy_model : object or None
        Shared palsy predictor passed to every analyzer.
    """

    def __init__(self, size: int, palsy_model: Any = None, task_models: dict | None = None):
        self._size = size
        self._palsy_model = palsy_model
        self._task_models = dict(task_models or {})
        self._idle: queue.LifoQueue[Analyzer] = queue.LifoQueue()
        self._all: list[Analyzer] = []
        self._lock = threading.Lock()

    @property
    def created(self) -> int:
        """How many analyzers exist (never more than ``size``)."""
        return len(self._all)

    @contextmanager
    def lease(self, timeout_s: float = POOL_WAIT_S) -> Iterator[Analyzer]:
        """An analyzer for the duration of the ``with`` block.

        Raises
        ------
        BusyError
            When none is free within ``timeout_s``.
        """
        analyzer = self._take(timeout_s)
        try:
            yield analyzer
        finally:
            self._idle.put(analyzer)

    def _take(self, timeout_s: float) -> Analyzer:
        try:
            return self._idle.get_nowait()
        except queue.Empty:
            pass
        with self._lock:
            if len(self._all) < self._size:
                analyzer = Analyzer(AnalyzerOptions(palsy_model=self._palsy_model,
                                                    task_models=self._task_models))
                self._all.append(analyzer)
                return analyzer
        try:
            return self._idle.get(timeout=timeout_s)
        except queue.Empty:
            raise BusyError(
                "The server is busy analysing other photos. Wait a few seconds and try again."
            ) from None

    def close(self) -> None:
        """Release every analyzer's MediaPipe graph."""
        with self._lock:
            for analyzer in self._all:
                analyzer.close()
            self._all.clear()


def _weights_dir() -> str:
    from palsy_core.models import default_weights_dir

    return str(default_weights_dir())


@st.cache_resource(show_spinner="Loading the palsy model...")
def _load_palsy_model(weights_dir: str) -> tuple[Any, ModelStatus]:
    title = "Palsy probability (multimodal fusion model)"
    try:
        from palsy_core.models import load_palsy_model

        predictor = load_palsy_model(weights_dir=weights_dir)
    except ModelNotInstalledError as error:
        return None, ModelStatus("palsy", title, installed=False, detail=str(error))
    card = predictor.card
    return predictor, ModelStatus(
        "palsy", title, installed=True, name=card.name, simulated=card.trained_on_simulated_data,
        detail=card.trained_on, card=card.to_dict(),
    )


@st.cache_resource(show_spinner="Loading the face-parsing model...")
def _load_parsing_model(weights_dir: str) -> tuple[Any, ModelStatus]:
    title = "Face parsing and palsy-region segmentation"
    try:
        from palsy_core.models import load_model

        predictor = load_model("parsing", weights_dir=weights_dir)
    except ModelNotInstalledError as error:
        return None, ModelStatus("segmentation", title, installed=False, detail=str(error))
    card = predictor.card
    return predictor, ModelStatus(
        "segmentation", title, installed=True, name=card.name,
        simulated=card.trained_on_simulated_data, detail=card.trained_on, card=card.to_dict(),
    )


@st.cache_resource(show_spinner="Loading the severity model...")
def _load_severity_model(weights_dir: str) -> tuple[Any, ModelStatus]:
    title = "Severity class (mild / moderate / severe, eye / mouth)"
    try:
        from palsy_core.models import load_model

        predictor = load_model("severity", weights_dir=weights_dir)
    except ModelNotInstalledError as error:
        return None, ModelStatus("severity", title, installed=False, detail=str(error))
    card = predictor.card
    return predictor, ModelStatus(
        "severity", title, installed=True, name=card.name,
        simulated=card.trained_on_simulated_data, detail=card.trained_on, card=card.to_dict(),
    )


def _palsy_model() -> tuple[Any, ModelStatus]:
    # Keyed by the weights folder ($PALSY_WEIGHTS_DIR), so changing it needs no restart.
    return _load_palsy_model(_weights_dir())


def analyzer_pool() -> AnalyzerPool:
    """The server's analyzer pool for the current weights folder (created on first use)."""
    return _analyzer_pool(_weights_dir())


@st.cache_resource(show_spinner="Loading the face landmarker...")
def _analyzer_pool(weights_dir: str) -> AnalyzerPool:
    predictor, _ = _load_palsy_model(weights_dir)
    parsing, _ = _load_parsing_model(weights_dir)
    severity, _ = _load_severity_model(weights_dir)
    task_models = {task: model for task, model in (("parsing", parsing), ("severity", severity))
                   if model is not None}
    pool = AnalyzerPool(POOL_SIZE, predictor, task_models)
    # Close the MediaPipe graphs before MediaPipe's own executor shuts down: an
    # ``atexit`` hook runs too late (after thread shutdown) and fails noisily.
    threading._register_atexit(pool.close)
    return pool


def model_statuses() -> list[ModelStatus]:
    """Status of every model the app can show, in display order."""
    _, palsy = _palsy_model()
    return [
        palsy,
        _load_severity_model(_weights_dir())[1],
        _load_parsing_model(_weights_dir())[1],
    ]


@st.cache_resource(show_spinner=False)
def example_photo() -> np.ndarray:
    """A built-in, public-domain face photo: US Navy portrait of Grace Hopper, 512 x 600.

    Frontal, at rest, 84 px between the pupils: assessable with the default "rest" (the
    astronaut photo's face, 43 px between the pupils, is below the measured minimum size).
    """
    import matplotlib.cbook
    from PIL import Image

    with Image.open(matplotlib.cbook.get_sample_data("grace_hopper.jpg")) as photo:
        rgb = np.asarray(photo.convert("RGB"))
    rgb.setflags(write=False)
    return rgb


def assess(source: bytes | np.ndarray, name: str, mm_per_pixel: float | None,
           expression: str | None = None) -> Assessment:
    """Analyse a photo, or return this session's assessment if the input is unchanged.

    Parameters
    ----------
    source : bytes or ndarray
        Uploaded/captured file bytes, or an RGB array (the example photo).
    name : str
        Shown in reports; not stored unless the clinician saves the visit.
    mm_per_pixel : float or None
        Known scale; None to derive it from the iris.
    expression : str or None
        The expression the clinician asked for (the verdict's stated expression); None
        to detect it.

    Raises
    ------
    PalsyError
        ImageError / NoFaceError subclasses with a message for the user; BusyError.
    """
    digest = hashlib.sha256(source if isinstance(source, bytes) else np.ascontiguousarray(source).tobytes())
    digest.update(repr((mm_per_pixel, expression)).encode())
    key = digest.hexdigest()
    box = session_box()
    current = box.get(_ASSESSMENT_KEY)
    if isinstance(current, Assessment) and current.key == key:
        return current
    box.pop(_ASSESSMENT_KEY, None)  # the old photo's memory goes before the new one is decoded
    rgb, factor = downscale(load_image(source), MAX_ANALYSIS_SIDE)
    # A known scale was given for the original pixels: the smaller photo has bigger ones.
    scale = mm_per_pixel / factor if mm_per_pixel else mm_per_pixel
    with analyzer_pool().lease() as analyzer:
        result = analyzer.analyze(rgb, source=name, mm_per_pixel=scale, expression=expression)
    # A small counter in session_state (the heavy objects are in the box): tests and the
    # benchmark check that a rerun does not analyse the photo again.
    st.session_state["analyses_run"] = st.session_state.get("analyses_run", 0) + 1
    rgb.setflags(write=False)
    assessment = Assessment(result=result, rgb=rgb, name=name, key=key, mm_per_pixel=mm_per_pixel)
    box[_ASSESSMENT_KEY] = assessment
    return assessment


def current_assessment() -> Assessment | None:
    """The last photo assessed in this browser session, if any."""
    current = session_box().get(_ASSESSMENT_KEY)
    return current if isinstance(current, Assessment) else None


def forget_assessment() -> None:
    """Drop the session's assessment (e.g. after a failed upload replaced the photo)."""
    session_box().pop(_ASSESSMENT_KEY, None)


def session_box() -> dict[str, Any]:
    """This browser session's heavy state (assessment, photo, downloads).

    A session-scoped resource: when the browser session disconnects, Streamlit drops it
    and :func:`_release_box` empties it, so the photos and results go at once, even
    though ``st.session_state`` (which also points at it, under ``"session_box"``) is
    kept a while for a reconnect.
    """
    # The token ties the box to this session_state: a session that starts over (sign-in,
    # sign-out clear the state) gets a fresh box, as does every AppTest (one session id).
    token = st.session_state.setdefault("session_box_token", uuid.uuid4().hex)
    box = _session_box(token)
    st.session_state["session_box"] = box
    return box


def _release_box(box: dict[str, Any]) -> None:
    box.clear()


@st.cache_resource(scope="session", show_spinner=False, on_release=_release_box)
def _session_box(token: str) -> dict[str, Any]:
    return {}


def release_session() -> None:
    """Drop this session's heavy state now (sign-out, sign-in)."""
    session_box().clear()


def analyze_video(data: bytes, name: str, progress: Callable[[float, str], None]):
    """Analyse an uploaded clip (see :func:`palsy_core.video.analyze_video`).

    Each call opens its own landmarker in VIDEO mode: tracking state belongs to one
    clip, so video analyses never share a landmarker.
    """
    from palsy_core.video import analyze_video as run

    return run(data, name=name, progress=progress, analyzer_options=AnalyzerOptions(palsy_model=None))


@st.cache_resource(show_spinner=False)
def _record_store(url: str) -> RecordStore:
    return RecordStore(url)


def record_store() -> RecordStore:
    """The record store for ``$PALSY_DB_URL`` (or the default SQLite file)."""
    return _record_store(default_db_url())


def provenance(result: AnalysisResult) -> dict[str, Any]:
    """What produced an assessment, stored with a saved visit."""
    from palsy_core import __version__

    _, palsy = _palsy_model()
    return {
        "palsy_core": __version__,
        "landmarker": "MediaPipe Face Landmarker (face_landmarker.task)",
        "scale_source": result.face.scale_source,
        "mm_per_pixel": result.face.mm_per_pixel,
        "palsy_model": (
            {"name": palsy.name, "trained_on": palsy.detail, "simulated": palsy.simulated}
            if palsy.installed else None
        ),
    }


def installed_palsy_cards() -> list[dict[str, Any]]:
    """Model cards (``ModelCard.to_dict()``) of every palsy model in the weights folder.

    A damaged card is returned as ``{"name": ..., "error": message}``.
    """
    from palsy_core.models import list_installed_models, read_card

    folder = _weights_dir()
    cards = []
    for name in list_installed_models(folder):
        try:
            cards.append(read_card(name, folder).to_dict())
        except (ModelNotInstalledError, ValueError) as error:
            cards.append({"name": name, "error": str(error)})
    return cards


def landmarker_file() -> tuple[str, float]:
    """Path and size (MB) of the face landmark model in use."""
    from palsy_core.landmarks import landmarker_model_path

    path = landmarker_model_path()
    return str(path), path.stat().st_size / 1e6
