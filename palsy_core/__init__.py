"""palsy_core: facial palsy assessment from face photos.

Public API::

    from palsy_core import analyze_image
    result = analyze_image("photo.jpg")
    result.affected_side, result.region_asymmetry["mouth"].score, result.to_dict()

Coordinates are pixels of the upright photo (x right, y down); "left"/"right" are the
subject's sides. All computation lives here; the app and the trainers only call it.
"""

from ._version import __version__
from .analysis import (
    AnalysisResult,
    Analyzer,
    AnalyzerOptions,
    analyze_image,
    default_analyzer,
)
from .assessment import Assessment, Reason, RegionFinding, assess
from .drawing import draw_overlay, render_line_segments
from .errors import (
    EmptyFileError,
    ImageError,
    ImageTooLargeError,
    ImageTooSmallError,
    ModelNotInstalledError,
    NoFaceError,
    NotAnImageError,
    PalsyError,
    TruncatedImageError,
    VideoError,
)
from .face.features import FEATURE_NAMES, compute_features, deviation_from_symmetry, keypoints_51
from .face.frame import align_face_crop
from .face.landmarks import FaceLandmarker, FaceLandmarks, HeadPose, LandmarkerOptions
from .face.measurements import FaceMeasurements, Measurement, RegionAsymmetry, measure_face
from .imageio import load_image
from .predictions import PalsyPrediction
from .visit import (MOVEMENTS, MovementGuess, MovementMeasure, VisitAnalysis, VisitPhoto,
                    analyze_visit, detect_movement, visit_from_results)
from .comparison import VisitComparison, compare_visits
from .export_xlsx import visits_to_xlsx

__all__ = [
    "AnalysisResult", "Analyzer", "AnalyzerOptions", "PalsyPrediction", "analyze_image",
    "default_analyzer", "Assessment", "Reason", "RegionFinding", "assess", "align_face_crop", "draw_overlay", "render_line_segments",
    "EmptyFileError", "ImageError", "ImageTooLargeError", "ImageTooSmallError",
    "ModelNotInstalledError", "NoFaceError", "NotAnImageError", "PalsyError",
    "TruncatedImageError", "VideoError", "FEATURE_NAMES", "compute_features",
    "deviation_from_symmetry", "keypoints_51", "load_image", "FaceLandmarker",
    "FaceLandmarks", "HeadPose", "LandmarkerOptions", "FaceMeasurements", "Measurement",
    "RegionAsymmetry", "measure_face", "MOVEMENTS", "MovementGuess", "MovementMeasure",
    "VisitAnalysis", "VisitPhoto", "analyze_visit", "detect_movement", "visit_from_results",
    "VisitComparison", "compare_visits", "visits_to_xlsx",
]
