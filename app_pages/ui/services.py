"""What the pages call: analysis, video, records and model status, loaded once per server.

Heavy objects live in ``st.cache_resource`` and are shared by every browser session:

- a small pool of :class:`palsy_core.Analyzer` instances. MediaPipe's landmarker is not
  thread-safe; each analyzer serialises its own calls with a lock, and the pool hands one
  analyzer to one session at a time, so two sessions analyse in parallel on two cores
  and a tenth waits its turn (never shares an analyzer mid-call);
- the palsy, severity and parsing models, loaded by a background thread that starts
  with the server (:class:`ModelLoader`): the first page, the verdict and the
  measurements need no model and do not wait for them (importing torch and Keras takes
  seconds; the loading starts once the first page is drawn). Each model joins the pool as it arrives; until then its section says
  "loading". Prediction only reads a network, so one instance serves every analyzer;
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
import time
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
        The model's task in the registry (:func:`palsy_core.models.load_model`):
        "palsy", "severity" or "parsing".
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
    loading : bool
        True while the background loader is still reading it (``installed`` is then
        False and ``detail`` says so).
    """

    key: str
    title: str
    installed: bool
    name: str | None = None
    simulated: bool = False
    detail: str = ""
    card: dict | None = None
    loading: bool = False


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
        self._models_of: dict[int, int] = {}  # id(analyzer) -> the model generation it holds
        self._generation = 0
        self._lock = threading.Lock()

    @property
    def created(self) -> int:
        """How many analyzers exist (never more than ``size``)."""
        return len(self._all)

    @property
    def generation(self) -> int:
        """Counts :meth:`set_models` calls: a result made under another generation lacks
        (or has other) model outputs."""
        return self._generation

    def set_models(self, palsy_model: Any = None, task_models: dict | None = None) -> None:
        """Give analyzers made from now on these models; the ones holding the old models
        are closed when they are next idle (one in use finishes its analysis first)."""
        with self._lock:
            self._palsy_model = palsy_model
            self._task_models = dict(task_models or {})
            self._generation += 1
        stale = []
        while True:
            try:
                stale.append(self._idle.get_nowait())
            except queue.Empty:
                break
        for analyzer in stale:
            self._retire(analyzer)

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
            if self._models_of.get(id(analyzer)) == self._generation:
                self._idle.put(analyzer)
            else:
                self._retire(analyzer)

    def _take(self, timeout_s: float) -> Analyzer:
        deadline = time.monotonic() + timeout_s
        while True:
            # An idle analyzer if there is one, else a new one if the pool has room, else
            # wait for one to come back; one with older models is retired, not used.
            try:
                analyzer = self._idle.get_nowait()
            except queue.Empty:
                with self._lock:
                    if len(self._all) < self._size:
                        return self._create()
                try:
                    analyzer = self._idle.get(timeout=max(deadline - time.monotonic(), 0.0))
                except queue.Empty:
                    raise BusyError(
                        "The server is busy analysing other photos. Wait a few seconds and try again."
                    ) from None
            if self._models_of.get(id(analyzer)) == self._generation:
                return analyzer
            self._retire(analyzer)

    def _create(self) -> Analyzer:
        """A new analyzer with the current models (called with the lock held)."""
        analyzer = Analyzer(AnalyzerOptions(palsy_model=self._palsy_model,
                                            task_models=self._task_models))
        self._all.append(analyzer)
        self._models_of[id(analyzer)] = self._generation
        return analyzer

    def _retire(self, analyzer: Analyzer) -> None:
        with self._lock:
            if analyzer in self._all:
                self._all.remove(analyzer)
            self._models_of.pop(id(analyzer), None)
        analyzer.close()

    def close(self) -> None:
        """Release every analyzer's MediaPipe graph."""
        with self._lock:
            for analyzer in self._all:
                analyzer.close()
            self._all.clear()
            self._models_of.clear()


#: What each task's model gives, in words. Which models there are, and everything about
#: them, comes from the registry (``palsy_core.models``: ``load_model``,
#: ``list_task_models`` and the cards); its task names are spelt out here because
#: importing it imports torch, which the first page must not wait for.
MODEL_TITLES = {
    "palsy": "Palsy probability",
    "severity": "Severity class (mild / moderate / severe, eye / mouth)",
    "parsing": "Face parsing and palsy-region segmentation",
}
#: Load order: the palsy probability first (it stands beside the verdict), the severity
#: model (Keras: the slowest import) next.
_MODEL_KEYS = ("palsy", "severity", "parsing")
LOADING_DETAIL = "loading... (the server has just started; this takes a few seconds)"
#: Seconds between the end of the first page's script run and the first model import:
#: torch's import holds the GIL for long stretches, and the first page's messages still
#: have to leave the server (measured: the page was ready ~1 s later without this wait).
FIRST_PAGE_GRACE_S = 1.0


def _load_one(key: str, weights_dir: str | None) -> tuple[Any, ModelStatus]:
    """Load one model; a missing one gives its status, never an exception."""
    title = MODEL_TITLES[key]
    try:
        from palsy_core.models import load_model

        predictor = load_model(key, weights_dir=weights_dir)
    except ModelNotInstalledError as error:
        return None, ModelStatus(key, title, installed=False, detail=str(error))
    card = predictor.card
    return predictor, ModelStatus(
        key, title, installed=True, name=card.name, simulated=card.trained_on_simulated_data,
        detail=card.trained_on, card=card.to_dict(),
    )


class ModelLoader:
    """Loads the app's three models on a background thread, one after the other.

    Parameters
    ----------
    weights_dir : str or None
        The weights folder; None: the library's default (``$PALSY_WEIGHTS_DIR`` or the
        repository's ``weights/``), found on the loading thread, since finding it imports
        ``palsy_core.models`` and with it torch.
    on_loaded : callable, optional
        Called with the loader after each model (e.g. to hand the models to the pool).
    delay_s : float
        Seconds the loading thread waits before its first import (see :data:`FIRST_PAGE_GRACE_S`).

    ``status(key)`` and ``predictor(key)`` answer at once: a model still loading has a
    status with ``loading=True`` and no predictor. ``generation`` counts the models
    loaded so far, so a page can tell that one arrived since it last drew.
    """

    def __init__(self, weights_dir: str | None, on_loaded: Callable[["ModelLoader"], None] | None = None,
                 *, start: bool = True, delay_s: float = 0.0):
        self.weights_dir = weights_dir
        self._delay_s = delay_s
        self._on_loaded = on_loaded
        self._loaded: dict[str, tuple[Any, ModelStatus]] = {}
        self._predictors: dict[str, Any] = {}
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, name="model-loader", daemon=True)
        self._start_lock = threading.Lock()
        if start:
            self.start()

    def start(self) -> None:
        """Start loading (once; later calls do nothing)."""
        with self._start_lock:
            if self._thread.ident is None:
                self._thread.start()

    def _run(self) -> None:
        time.sleep(self._delay_s)
        for key in _MODEL_KEYS:
            try:
                loaded = _load_one(key, self.weights_dir)
            except Exception as error:  # noqa: BLE001 - one broken model must not stop the others
                logger.exception("Loading the %s model failed", key)
                loaded = (None, ModelStatus(
                    key, MODEL_TITLES[key], installed=False,
                    detail=f"could not be loaded ({type(error).__name__}: {error})"))
            self._predictors[key] = loaded[0]
            if self._on_loaded is not None:
                try:
                    self._on_loaded(self)
                except Exception:  # noqa: BLE001
                    logger.exception("Handing the %s model to the analyzers failed", key)
            # Published last: a page that sees the new status finds the model in the pool.
            self._loaded[key] = loaded
        self._done.set()

    @property
    def generation(self) -> int:
        return len(self._loaded)

    @property
    def done(self) -> bool:
        """Every model loaded (or found missing)."""
        return len(self._loaded) == len(_MODEL_KEYS)

    def wait(self, timeout_s: float | None = None) -> bool:
        """Start if not started, and block until every model is loaded (or tried); False
        on timeout."""
        self.start()
        return self._done.wait(timeout_s)

    def predictor(self, key: str) -> Any:
        return self._predictors.get(key)

    def status(self, key: str) -> ModelStatus:
        loaded = self._loaded.get(key)
        if loaded is not None:
            return loaded[1]
        return ModelStatus(key, MODEL_TITLES[key], installed=False, detail=LOADING_DETAIL,
                           loading=True)


def _weights_dir() -> str:
    from palsy_core.models import default_weights_dir

    return str(default_weights_dir())


def _weights_key() -> str | None:
    # The library reads this variable (palsy_core.models.default_weights_dir); resolving
    # the folder here would import torch with palsy_core.models before the first page.
    return os.environ.get("PALSY_WEIGHTS_DIR") or None


def model_loader() -> ModelLoader:
    """The server's model loader for the current weights folder (started on first use)."""
    return _server(_weights_key())[1]


def analyzer_pool() -> AnalyzerPool:
    """The server's analyzer pool for the current weights folder (created on first use)."""
    return _server(_weights_key())[0]


def start_model_loading() -> None:
    """Start the background loading of the models (idempotent).

    Called at the end of a script run, once the first page is drawn: importing torch and
    Keras holds the GIL for long stretches, and would otherwise stall that first page.
    """
    model_loader().start()


def models_loading() -> bool:
    """True while the background loader is still reading a model."""
    return not model_loader().done


def models_generation() -> int:
    """How many models have arrived so far (see :attr:`ModelLoader.generation`)."""
    return model_loader().generation


@st.cache_resource(show_spinner=False)
def _server(weights_dir: str | None) -> tuple[AnalyzerPool, ModelLoader]:
    # Keyed by $PALSY_WEIGHTS_DIR (None: the default folder), so changing it needs no restart.
    pool = AnalyzerPool(POOL_SIZE)
    # Close the MediaPipe graphs before MediaPipe's own executor shuts down: an
    # ``atexit`` hook runs too late (after thread shutdown) and fails noisily.
    threading._register_atexit(pool.close)

    def hand_to_pool(loader: ModelLoader) -> None:
        task_models = {task: loader.predictor(task) for task in _MODEL_KEYS
                       if task != "palsy" and loader.predictor(task) is not None}
        pool.set_models(loader.predictor("palsy"), task_models)

    return pool, ModelLoader(weights_dir, on_loaded=hand_to_pool, start=False, delay_s=FIRST_PAGE_GRACE_S)


#: Session key: how many models had arrived when this run drew their statuses.
MODELS_DRAWN_KEY = "_models_drawn"


def model_statuses() -> list[ModelStatus]:
    """Status of every model the app can show, in display order (never waits for one).

    Also notes how many had arrived, for :func:`models_drawn`, at the run's first call:
    the sidebar draws these at the start of a run, and a model that arrives while the
    page below it runs must still bring a rerun, or the sidebar keeps saying
    "loading...". A later call in the same run (the page's own) must not overwrite it:
    it did, and a model arriving between the two left the sidebar stale."""
    loader = model_loader()
    st.session_state.setdefault(MODELS_DRAWN_KEY, loader.generation)
    return [loader.status(key) for key in _MODEL_KEYS]


def begin_run() -> None:
    """Forget the previous run's count of drawn models (call before anything draws)."""
    st.session_state.pop(MODELS_DRAWN_KEY, None)


def models_drawn() -> int:
    """How many models had arrived when this run first drew their statuses (on a page
    run that drew none, as many as have arrived now)."""
    return st.session_state.get(MODELS_DRAWN_KEY, model_loader().generation)


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
    pool = analyzer_pool()
    # The models' generation too: a model that arrived since adds its output on a rerun.
    digest.update(repr((mm_per_pixel, expression, pool.generation)).encode())
    key = digest.hexdigest()
    box = session_box()
    current = box.get(_ASSESSMENT_KEY)
    if isinstance(current, Assessment) and current.key == key:
        return current
    box.pop(_ASSESSMENT_KEY, None)  # the old photo's memory goes before the new one is decoded
    rgb, factor = downscale(load_image(source), MAX_ANALYSIS_SIDE)
    # A known scale was given for the original pixels: the smaller photo has bigger ones.
    scale = mm_per_pixel / factor if mm_per_pixel else mm_per_pixel
    with pool.lease() as analyzer:
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

    palsy = model_loader().status("palsy")
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


def installed_cards(task: str) -> list[dict[str, Any]]:
    """Model cards (``ModelCard.to_dict()``) of every installed model of ``task``, as the
    registry lists them (``palsy_core.models.list_task_models``).

    A damaged card is returned as ``{"name": ..., "error": message}``.
    """
    from palsy_core.models import list_task_models, read_card

    folder = _weights_dir()
    cards = []
    for name in list_task_models(task, folder):
        try:
            cards.append(read_card(task, name, folder).to_dict())
        except (ModelNotInstalledError, ValueError) as error:
            cards.append({"name": name, "error": str(error)})
    return cards


def landmarker_file() -> tuple[str, float]:
    """Path and size (MB) of the face landmark model in use."""
    from palsy_core.face.landmarks import landmarker_model_path

    path = landmarker_model_path()
    return str(path), path.stat().st_size / 1e6
