"""The photo set of the visit being taken in this browser session.

Each photo is analysed once (the server's analyzer pool) with its expression detected;
the movement the clinician confirms, and any landmark correction, are applied by
recomputation from the landmarks (:func:`palsy_core.correction.reanalyze`: no second
landmarker run). Photos and results live in the session's box (``services.session_box``),
released when the browser session ends.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any, Optional

import numpy as np

from palsy_core import AnalysisResult, load_image
from palsy_core.correction import apply_moves, reanalyze
from palsy_core.imageio import downscale
from palsy_core.visit import ANALYSIS_EXPRESSION, VisitAnalysis, detect_movement, visit_from_results
from app_pages.ui import services

_BOX_KEY = "visit_photos"


@dataclass
class SetPhoto:
    """One photo of the set being taken.

    Attributes
    ----------
    key : str
        Digest of the photo's pixels.
    name : str
        File name or "camera: <movement>".
    rgb : ndarray
        The photo as analysed (downscaled on arrival).
    detected : AnalysisResult
        Analysed with its expression detected.
    movement : str
        The movement it is taken as (detected until the clinician confirms another).
    moves : dict
        Landmark handles the clinician moved (photo pixels); empty: as detected.
    """

    key: str
    name: str
    rgb: np.ndarray
    detected: AnalysisResult
    movement: str
    moves: dict = field(default_factory=dict)
    _cache: dict = field(default_factory=dict, repr=False)

    @property
    def corrected(self) -> bool:
        return bool(self.moves)

    @property
    def landmarks(self) -> np.ndarray:
        return apply_moves(self.detected.landmarks, self.moves) if self.moves else self.detected.landmarks

    def result(self) -> AnalysisResult:
        """The analysis as the set uses it: the confirmed movement's limits, corrected landmarks."""
        cache_key = (self.movement, json.dumps(self.moves, sort_keys=True))
        if cache_key not in self._cache:
            self._cache.clear()
            self._cache[cache_key] = reanalyze(self.detected, self.landmarks, photo=self.rgb,
                                               expression=ANALYSIS_EXPRESSION[self.movement])
        return self._cache[cache_key]


def photos() -> list[SetPhoto]:
    """The set so far, in the order added."""
    return services.session_box().setdefault(_BOX_KEY, [])


def add_photo(data: bytes | np.ndarray, name: str, movement: Optional[str] = None, *,
              from_upload: bool = False) -> Optional[SetPhoto]:
    """Analyse a photo and add it to the set (a photo already in the set is not added twice;
    one the clinician removed is not added again from the uploader that still holds it).

    Raises
    ------
    PalsyError
        ImageError / NoFaceError with a message for the user; BusyError.
    """
    rgb, _ = downscale(load_image(data), services.MAX_ANALYSIS_SIDE)
    key = hashlib.sha256(np.ascontiguousarray(rgb).tobytes()).hexdigest()
    current = photos()
    if from_upload and key in _removed():
        return None
    for photo in current:
        if photo.key == key:
            if movement:
                photo.movement = movement
            return photo
    with services.analyzer_pool().lease() as analyzer:
        result = analyzer.analyze(rgb, source=name)
    rgb.setflags(write=False)
    photo = SetPhoto(key, name, rgb, result, movement or detect_movement(result.blendshapes).movement)
    current.append(photo)
    return photo


def _removed() -> set:
    return services.session_box().setdefault("visit_removed", set())


def remove_photo(key: str) -> None:
    current = photos()
    current[:] = [p for p in current if p.key != key]
    _removed().add(key)


def clear() -> None:
    """Start a new visit: no photos, nothing removed."""
    photos().clear()
    _removed().clear()


def visit() -> Optional[VisitAnalysis]:
    """The set analysed as one unit (None while it is empty)."""
    current = photos()
    if not current:
        return None
    return visit_from_results([p.result() for p in current], [p.movement for p in current])


def visit_dict(analysis: VisitAnalysis) -> dict[str, Any]:
    """``analysis.to_dict()`` with each corrected photo's landmarks kept and marked."""
    data = analysis.to_dict(include_landmarks=False)
    side = analysis.affected_side
    data["headline"] = (f"Photo set of {len(analysis.photos)}: "
                        + (f"the subject's {side} side moves less." if side else "no side clearly weaker."))
    for photo, entry in zip(data["photos"], photos()):
        photo["landmarks_corrected"] = entry.corrected
        if entry.corrected:
            photo["landmarks"] = np.round(entry.landmarks.astype(np.float64), 2).tolist()
            photo["landmark_moves"] = {k: {a: round(float(v), 2) for a, v in m.items()}
                                       for k, m in entry.moves.items()}
    return data


def save_key(visit_date: str) -> str:
    """Same photos, movements, corrections and date: the same saved visit."""
    digest = hashlib.sha256(visit_date.encode())
    for photo in photos():
        digest.update(f"{photo.key}:{photo.movement}:{json.dumps(photo.moves, sort_keys=True)}".encode())
    return "set:" + digest.hexdigest()


def stored_overlay(jpeg: bytes, landmarks: Optional[list] = None) -> np.ndarray:
    """A stored photo with the measurement overlay drawn: on the stored (corrected)
    landmarks when the visit kept them, else on landmarks found again now."""
    from palsy_core.drawing import draw_overlay

    key = ("overlay", hashlib.sha256(jpeg).hexdigest(), landmarks is not None)
    box = services.session_box()
    if key not in box:
        rgb = load_image(jpeg)
        if landmarks is None:
            with services.analyzer_pool().lease() as analyzer:
                points = analyzer.analyze(rgb).landmarks
        else:
            points = np.asarray(landmarks, dtype=np.float64)
        overlay = draw_overlay(rgb, points)
        # The face with some context, so the two visits' faces are compared at one size.
        low, high = points[:, :2].min(axis=0), points[:, :2].max(axis=0)
        pad = (high - low) * 0.3
        x0, y0 = np.maximum(low - pad, 0).astype(int)
        x1, y1 = np.minimum(high + pad, overlay.shape[1::-1]).astype(int)
        box[key] = np.ascontiguousarray(overlay[y0:y1, x0:x1])
    return box[key]
