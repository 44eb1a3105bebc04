"""One photo in, a complete geometric assessment out.

:class:`Analyzer` owns the landmarker (created once, closed cleanly) and an optional
palsy model; :func:`analyze_image` uses a shared default analyzer. The result is a
typed, JSON-serialisable dataclass: numpy in, plain data out, torch and MediaPipe hidden.
"""

from __future__ import annotations

import os
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

import cv2
import numpy as np

from .assessment import Assessment, assess, normalize_expression
from .errors import ModelNotInstalledError, NoFaceError
from .face.features import FEATURE_NAMES, compute_features, keypoints_51
from .imageio import ImageSource, load_image
from .face.landmarks import FaceLandmarker, HeadPose, LandmarkerOptions
from .face.measurements import FaceMeasurements, measure_face
from .face.mirror_flow import mirror_flow
from .face.pose import frontalize
from .predictions import PalsyPrediction
from ._threads import model_threads

#: The landmarker sees at most this many pixels on the long side: it works on a 256 px
#: face crop internally, so bigger inputs only cost time. Landmarks are mapped back to
#: the full-resolution photo.
LANDMARKER_MAX_SIDE = 1280
#: JSON key of each task model's prediction in :meth:`AnalysisResult.to_dict`.
TASK_JSON_KEYS = {"severity": "severity", "parsing": "segmentation"}
#: What each task model gives, in words.
TASK_TITLES = {"severity": "Severity grade", "parsing": "Face parsing"}


class PalsyModel(Protocol):
    """A palsy predictor (``palsy_core.models.load_model("palsy")``): ``face`` is a
    :class:`palsy_core.models.AnalyzedFace` (which imports torch, hence not named here)."""

    def predict(self, face) -> PalsyPrediction: ...


@dataclass
class AnalysisResult:
    """Everything :meth:`Analyzer.analyze` found on one photo.

    Coordinates are pixels of the oriented photo (x right, y down); sides are the
    subject's. ``to_dict()`` gives the JSON form used by the CLI and the app.

    ``face`` is measured on the landmarks with the head's turn (yaw) undone
    (:func:`palsy_core.face.pose.frontalize`); ``face_uncorrected`` on the landmarks as found.
    ``assessment`` is the three-state verdict; ``affected_side`` and ``headline()`` are
    read from it, so ``affected_side`` is None unless the status is "asymmetry".
    """

    file: str | None
    image_size: tuple[int, int]
    faces_found: int
    landmarks: np.ndarray
    blendshapes: dict[str, float]
    head_pose: HeadPose
    features: np.ndarray
    face: FaceMeasurements
    warnings: list[str]
    palsy: PalsyPrediction | None
    #: Predictions of the task models (:attr:`AnalyzerOptions.task_models`), by task.
    predictions: dict[str, Any] = field(default_factory=dict)
    timings_ms: dict[str, float] = field(default_factory=dict)
    assessment: Assessment | None = None
    face_uncorrected: FaceMeasurements | None = None
    fitted_pose: HeadPose | None = None

    @property
    def measurements(self):
        return self.face.measurements

    @property
    def region_asymmetry(self):
        return self.face.regions

    @property
    def affected_side(self) -> str | None:
        """The subject's weaker side; None unless the verdict is "asymmetry"."""
        if self.assessment is None:
            return self.face.affected_side
        return self.assessment.affected_side

    @property
    def status(self) -> str | None:
        """"within_normal", "asymmetry" or "not_assessable"."""
        return self.assessment.status if self.assessment else None

    @property
    def expression(self) -> str:
        return self.face.expression

    def headline(self) -> str:
        """One sentence for a person: the verdict (see :meth:`Assessment.headline`)."""
        if self.assessment is not None:
            return self.assessment.headline()
        if self.affected_side is None:
            return "Within normal asymmetry: no side looks weaker than normal variation allows."
        regions = [name for name, r in self.region_asymmetry.items()
                   if r.weaker_side == self.affected_side]
        return (f"The subject's {self.affected_side} side looks weaker "
                f"({', '.join(regions)}).")

    def _pose_correction(self) -> dict[str, Any] | None:
        if self.fitted_pose is None:
            return None
        uncorrected = self.face_uncorrected
        return {
            "undone": "yaw",
            "fitted_pose": self.fitted_pose.to_dict(),
            "uncorrected_measurements": ({k: m.to_dict() for k, m in uncorrected.measurements.items()}
                                         if uncorrected else None),
        }

    def to_dict(self) -> dict[str, Any]:
        face = self.face.to_dict()
        return {
            "file": self.file,
            "image_size": list(self.image_size),
            "faces_found": self.faces_found,
            "landmarks": np.round(self.landmarks.astype(np.float64), 2).tolist(),
            "blendshapes": {k: round(v, 5) for k, v in self.blendshapes.items()},
            "head_pose": self.head_pose.to_dict(),
            "features": [float(v) for v in self.features],
            "feature_names": list(FEATURE_NAMES),
            "measurements": face["measurements"],
            "mm_per_pixel": face["mm_per_pixel"],
            "scale_source": face["scale_source"],
            "region_asymmetry": face["regions"],
            "mirror_flow": face["mirror_flow"],
            "affected_side": self.affected_side,
            "expression": self.expression,
            "headline": self.headline(),
            "assessment": self.assessment.to_dict() if self.assessment else None,
            "pose_correction": self._pose_correction(),
            "warnings": list(self.warnings),
            "palsy": self.palsy.to_dict() if self.palsy else None,
            **{TASK_JSON_KEYS[task]: prediction.to_dict()
               for task, prediction in self.predictions.items()},
            "timings_ms": {k: round(v, 2) for k, v in self.timings_ms.items()},
        }


@dataclass(frozen=True)
class LandmarkAssessment:
    """What one face's landmarks say on their own: measures and verdict (no model).

    The fields of the same names in :class:`AnalysisResult`.
    """

    #: Measured on the landmarks with the head's turn (yaw) undone.
    face: FaceMeasurements
    #: Measured on the landmarks as given.
    face_uncorrected: FaceMeasurements
    #: The pose fitted to the landmarks (:func:`palsy_core.face.pose.frontalize`); the
    #: verdict judges the head's turn and nod by it.
    fitted_pose: HeadPose
    assessment: Assessment


def assess_landmarks(landmarks: np.ndarray, blendshapes: dict[str, float], *,
                     photo: np.ndarray | None = None,
                     expression: str | None = None, mm_per_pixel: float | None = None,
                     faces_found: int = 1) -> LandmarkAssessment:
    """Pose-corrected measurements and the verdict from one face's landmarks.

    The one place both :meth:`Analyzer.analyze` (detected landmarks) and
    :func:`palsy_core.correction.reanalyze` (a clinician's corrected ones) measure and
    judge a face, so the same landmarks always get the same verdict.

    Parameters
    ----------
    landmarks : ndarray, shape (478, 3)
        Pixels of the oriented photo (x right, y down, z depth scaled like x).
    blendshapes : dict
        MediaPipe's blendshape scores of the face.
    photo : ndarray, shape (H, W, 3) uint8, optional
        The photo the landmarks are in: the eye is then read from its pixels
        (:func:`palsy_core.face.mirror_flow.mirror_flow`); without it, from the landmarks,
        and the verdict says so.
    expression : str, optional
        The stated expression ("rest", "smile", "brow raise", "eyes closed"); None:
        detect it from the blendshapes.
    mm_per_pixel : float, optional
        Known scale; default from the iris diameter.
    faces_found : int
        Faces the landmarker found in the photo (several give a warning).

    Raises
    ------
    ValueError
        For an unknown ``expression``.
    """
    stated = normalize_expression(expression)
    # Undo the head's turn before measuring: a turn foreshortens one side (see pose.py).
    frontal, fitted_pose = frontalize(landmarks, axes="yaw")
    # The flow reads the photo where the landmarks lie, so it takes them as found.
    flow = None if photo is None else mirror_flow(photo, landmarks)
    measured = measure_face(frontal, blendshapes, mm_per_pixel=mm_per_pixel, expression=stated,
                            flow=flow)
    uncorrected = measure_face(landmarks, blendshapes, mm_per_pixel=mm_per_pixel,
                               expression=stated, flow=flow)
    verdict = assess(measured, head_pose=fitted_pose,
                     pupil_distance_px=measured.interpupillary_distance_mm / measured.mm_per_pixel,
                     blendshapes=blendshapes, stated_expression=stated, faces_found=faces_found)
    return LandmarkAssessment(measured, uncorrected, fitted_pose, verdict)


@dataclass(frozen=True)
class AnalyzerOptions:
    """Options of :class:`Analyzer`.

    Attributes
    ----------
    running_mode : {"image", "video"}
        "video" tracks one face across frames; give ``timestamp_ms`` to each call.
    landmarker_model_path : str, optional
        Another ``face_landmarker.task`` file.
    palsy_model : None, "default", a registered name, or an object with ``predict``
        The fusion model giving the palsy probability. None: no probability.
        A name whose weights are missing gives no probability and a warning.
    task_models : dict
        Further models by task (``"severity"``, ``"parsing"``): ``"default"``, a name in
        the registry (:func:`palsy_core.models.load_model`) or a predictor object. Each
        prediction lands in ``AnalysisResult.predictions[task]``; a missing model gives
        a warning, not an error.
    """

    running_mode: Literal["image", "video"] = "image"
    landmarker_model_path: str | None = None
    palsy_model: Any = None
    task_models: dict[str, Any] = field(default_factory=dict)


class Analyzer:
    """Reusable analysis pipeline: landmarks, features, measurements, palsy probability.

    One pass per photo: it is decoded once; the mirror view a palsy model averages over
    (``wants_mirror_view``) is found by a second landmarker on a worker thread while this
    thread finds the photo's own landmarks and runs the measurements and task models
    (MediaPipe releases the GIL, so the two detections share the two cores); every task
    model gets one :class:`~palsy_core.models.AnalyzedFace`, whose aligned crop is made
    once; the palsy model predicts the photo and its mirror as one batch. While models
    run, torch uses :data:`palsy_core._threads.MODEL_THREADS` threads.

    Thread-safe (calls are serialised around each landmarker). Close it, or use it as a
    context manager, to release the MediaPipe graphs.
    """

    def __init__(self, options: AnalyzerOptions | None = None):
        self.options = options or AnalyzerOptions()
        self._landmarker = FaceLandmarker(LandmarkerOptions(
            model_path=self.options.landmarker_model_path,
            running_mode=self.options.running_mode,
        ))
        self._palsy_model, self._palsy_warning = _resolve_palsy_model(self.options.palsy_model)
        self._task_models, self._task_warnings = _resolve_task_models(self.options.task_models)
        # The mirror view's own landmarker and thread (a landmarker serves one call at a
        # time); only in image mode, where the mirror view is used.
        self._mirror_landmarker: FaceLandmarker | None = None
        self._mirror_worker: ThreadPoolExecutor | None = None
        if (self.options.running_mode == "image"
                and getattr(self._palsy_model, "wants_mirror_view", False)):
            self._mirror_landmarker = FaceLandmarker(LandmarkerOptions(
                model_path=self.options.landmarker_model_path, running_mode="image"))
            self._mirror_worker = ThreadPoolExecutor(1, thread_name_prefix="mirror-landmarks")

    def __enter__(self) -> Analyzer:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        if self._mirror_worker is not None:
            self._mirror_worker.shutdown(wait=True)  # no detection left running on it
            self._mirror_landmarker.close()
        self._landmarker.close()

    @property
    def palsy_model(self) -> PalsyModel | None:
        return self._palsy_model

    def analyze(
        self,
        image: ImageSource,
        *,
        source: str | None = None,
        timestamp_ms: int | None = None,
        mm_per_pixel: float | None = None,
        expression: str | None = None,
    ) -> AnalysisResult:
        """Analyse the largest face in a photo.

        Parameters
        ----------
        image : path, bytes or ndarray
            Anything :func:`palsy_core.load_image` accepts.
        source : str, optional
            A name for the photo, echoed in the result (default: the path, if given).
        timestamp_ms : int, optional
            Frame time in "video" mode.
        mm_per_pixel : float, optional
            Known scale; default from the iris diameter.
        expression : str, optional
            What the patient was asked to do ("rest", "smile", "brow raise", "eyes
            closed"): it wins over the expression the face seems to show and picks the
            normal limits; a face that contradicts it makes the photo not assessable, said
            once, in the assessment. None: detect it.

        Raises
        ------
        ImageError, NoFaceError
        ValueError
            For an unknown ``expression``.
        """
        stated = normalize_expression(expression)
        timings: dict[str, float] = {}
        start = clock = time.perf_counter()

        def lap(name: str) -> None:
            nonlocal clock
            now = time.perf_counter()
            timings[name] = (now - clock) * 1000.0
            clock = now

        if source is None and isinstance(image, (str, os.PathLike)):
            source = str(image)
        rgb = load_image(image)
        lap("decode")
        landmarker_input, to_photo = self._landmarker_input(rgb)
        # The mirror view is detected on the worker thread meanwhile (see the class doc).
        mirror_job = self._start_mirror_view(rgb, landmarker_input, to_photo)
        try:
            face = self._detect(landmarker_input, to_photo, timestamp_ms)
        except BaseException:
            if mirror_job is not None:
                mirror_job.cancel()
            raise
        lap("landmarks")
        features = compute_features(keypoints_51(face.landmarks))
        lap("features")
        geometry = assess_landmarks(face.landmarks, face.blendshapes, photo=rgb, expression=stated,
                                    mm_per_pixel=mm_per_pixel, faces_found=face.faces_found)
        lap("measurements")
        predictions, palsy = {}, None
        with model_threads():
            if self._task_models or self._palsy_model is not None:
                from .models import AnalyzedFace  # torch: loaded with the first model, not the library

                analysed = AnalyzedFace(rgb, face.landmarks, face.blendshapes, features,
                                        flow=geometry.face.mirror_flow)
            for task, model in self._task_models.items():
                predictions[task] = model.predict(analysed)
                lap(f"{task}_model")
            if self._palsy_model is not None:
                if mirror_job is not None:
                    mirror_view = mirror_job.result()
                    lap("mirror_landmarks")  # the wait left after the work above
                    if mirror_view is not None:
                        analysed.mirror = AnalyzedFace(*mirror_view)
                palsy = self._palsy_model.predict(analysed)
                lap("palsy_model")
        timings["total"] = (time.perf_counter() - start) * 1000.0
        result = AnalysisResult(
            file=source,
            image_size=(int(rgb.shape[1]), int(rgb.shape[0])),
            faces_found=face.faces_found,
            landmarks=face.landmarks,
            blendshapes=face.blendshapes,
            head_pose=face.head_pose,
            features=features,
            face=geometry.face,
            warnings=self._warnings(geometry.fitted_pose, geometry.face, geometry.assessment),
            palsy=palsy,
            predictions=predictions,
            timings_ms=timings,
            assessment=geometry.assessment,
            face_uncorrected=geometry.face_uncorrected,
            fitted_pose=geometry.fitted_pose,
        )
        if "severity" in predictions:
            # The grade's next steps combine it with the geometric findings and verdict.
            # Imported here: only a grade needs them (~3 ms kept out of `import palsy_core`).
            from .recommendations import attach_recommendations

            result.predictions["severity"] = attach_recommendations(result)
        return result

    def _start_mirror_view(self, photo: np.ndarray, landmarker_input: np.ndarray,
                           to_photo: np.ndarray | None) -> Future | None:
        """Find the mirror view on the worker thread; its future gives the view or None."""
        if self._mirror_worker is None:
            return None
        return self._mirror_worker.submit(self._mirror_view, photo, landmarker_input, to_photo)

    def _mirror_view(self, photo: np.ndarray, landmarker_input: np.ndarray,
                     to_photo: np.ndarray | None) -> tuple | None:
        """The flipped photo with its own landmarks, for models that average over mirrors.

        The landmarker is not mirror-symmetric (its points on a flipped photo differ from
        the flipped points by 1-2 px), and asymmetry features magnify that: averaging
        over both detections gives a photo and its mirror image the same probability.
        Image mode only (in video mode the tracker would see a jump); None when no face
        is found. A big photo is not resized again: the landmarker's copy is flipped.
        """
        flipped = np.ascontiguousarray(landmarker_input[:, ::-1])
        try:
            face = self._mirror_landmarker.detect(flipped)
        except NoFaceError:
            return None
        if to_photo is not None:
            face.landmarks = face.landmarks * to_photo
            flipped = np.ascontiguousarray(photo[:, ::-1])
        return (flipped, face.landmarks, face.blendshapes,
                compute_features(keypoints_51(face.landmarks)))

    @staticmethod
    def _landmarker_input(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """The photo as the landmarker sees it (at most :data:`LANDMARKER_MAX_SIDE`), made
        once for both views, and the factors taking its pixels back to the photo's."""
        height, width = rgb.shape[:2]
        factor = LANDMARKER_MAX_SIDE / max(height, width)
        if factor >= 1.0:
            return rgb, None
        small = cv2.resize(rgb, (round(width * factor), round(height * factor)),
                           interpolation=cv2.INTER_AREA)
        scale = np.array([width / small.shape[1], height / small.shape[0], width / small.shape[1]],
                         dtype=np.float32)
        return small, scale

    def _detect(self, landmarker_input: np.ndarray, to_photo: np.ndarray | None,
                timestamp_ms: int | None):
        face = self._landmarker.detect(landmarker_input, timestamp_ms)
        if to_photo is not None:
            face.landmarks = face.landmarks * to_photo
        return face

    def _warnings(self, pose: HeadPose, measured: FaceMeasurements,
                  verdict: Assessment) -> list[str]:
        """Warnings beside the verdict; what makes a photo not assessable is said once, in
        ``verdict.reasons``, and not repeated here. ``pose`` is the fitted pose the verdict
        judged the turn by, so the numbers printed are the ones behind its reason."""
        out = [w.message for w in verdict.warnings]
        if self._palsy_model is not None and {r.code for r in verdict.reasons} & {"head_turned",
                                                                                   "head_nodded"}:
            out.append(f"The head is turned (yaw {pose.yaw:+.0f} deg, pitch {pose.pitch:+.0f} deg): "
                       "the palsy probability is unreliable too, not only the measurements.")
        out.extend(measured.notes)
        if self._palsy_warning:
            out.append(self._palsy_warning)
        out.extend(self._task_warnings)
        return out


def _resolve_palsy_model(spec) -> tuple[PalsyModel | None, str | None]:
    if spec is None:
        return None, None
    if not isinstance(spec, str):
        return spec, None
    from .models import load_model  # torch: loaded with the first model, not the library

    try:
        return load_model("palsy", None if spec == "default" else spec), None
    except ModelNotInstalledError as exc:
        return None, f"Palsy probability not available: {exc}"


def _resolve_task_models(specs: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    models, warnings = {}, []
    for task, spec in specs.items():
        if spec is None:
            continue
        if not isinstance(spec, str):
            models[task] = spec
            continue
        from .models import load_model  # torch: loaded with the first model, not the library

        try:
            models[task] = load_model(task, None if spec == "default" else spec)
        except ModelNotInstalledError as exc:
            warnings.append(f"{TASK_TITLES[task]} not available: {exc}")
    return models, warnings


_default_analyzer: Analyzer | None = None
_default_lock = threading.Lock()


def default_analyzer() -> Analyzer:
    """The shared analyzer behind :func:`analyze_image` (default palsy model if installed)."""
    global _default_analyzer
    with _default_lock:
        if _default_analyzer is None:
            _default_analyzer = Analyzer(AnalyzerOptions(palsy_model="default"))
            # Close before interpreter shutdown stops MediaPipe's executor threads; a
            # plain atexit hook runs after that and fails noisily.
            threading._register_atexit(_default_analyzer.close)
        return _default_analyzer


def analyze_image(image: ImageSource, **kwargs) -> AnalysisResult:
    """Analyse one photo with the shared default :class:`Analyzer`.

    Parameters
    ----------
    image : path, bytes or ndarray (RGB uint8)
    **kwargs
        ``source``, ``mm_per_pixel``, ``expression``: see :meth:`Analyzer.analyze`.
    """
    return default_analyzer().analyze(image, **kwargs)
