"""A clinic visit: the standard photo set analysed as one unit.

A facial-nerve clinic grades a patient from a set of movements, not one photo. The
standard set (:data:`MOVEMENTS`): rest, brow raise, gentle eye closure, tight eye
closure, closed-mouth smile, full smile (teeth), "eee" and pucker. :func:`analyze_visit`
analyses each photo once (:class:`palsy_core.Analyzer`), names the movement each photo
shows (the clinician's word, or detected from the blendshapes with a confidence),
measures how far each side moved from rest (:class:`MovementMeasure`), decides the
affected side over the whole set, and estimates eFACE and Sunnybrook scores
(:mod:`palsy_core.grading`).

Frames and units: every position is measured in the pupil frame of
:mod:`palsy_core.face.measurements` (x along the pupil line towards the subject's left, y
down the face, origin between the pupils) on landmarks with the head's turn undone
(:func:`palsy_core.face.pose.frontalize`), in millimetres. One scale serves the whole visit:
the rest photo's (iris, or the caller's mm per pixel), carried to the other photos by
the distance between the inner eye corners (landmarks 133 and 362), which does not change
with expression; an iris under a closed lid cannot give a scale. Sides are the subject's.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .analysis import AnalysisResult, Analyzer, AnalyzerOptions
from .errors import PalsyError
from .face import landmarks as lm
from .face.frame import FaceFrame
from .face.normal_range import EXPRESSION_THRESHOLDS
from .face.pose import frontalize
from .grading import MIN_MOVEMENT_MM, estimate_eface, estimate_sunnybrook
from .imageio import ImageSource
from .vocabulary import SIDES, Side

#: The standard photo set of a facial-nerve clinic, in the order a visit takes them.
MOVEMENTS: tuple[str, ...] = ("rest", "brow_raise", "gentle_eye_closure", "tight_eye_closure",
                              "closed_smile", "full_smile", "eee", "pucker")
#: What to ask the patient for each movement (the app's prompts).
MOVEMENT_PROMPTS: dict[str, str] = {
    "rest": "Relax the face, lips closed, eyes open, look at the lens.",
    "brow_raise": "Raise both eyebrows as high as you can.",
    "gentle_eye_closure": "Close your eyes gently, as in sleep.",
    "tight_eye_closure": "Squeeze your eyes shut as tight as you can.",
    "closed_smile": "Smile with your lips closed.",
    "full_smile": "Give the biggest smile you can, showing your teeth.",
    "eee": "Say a long 'eee', showing your lower teeth.",
    "pucker": "Pucker your lips as if to whistle or kiss.",
}
#: Titles for people.
MOVEMENT_TITLES: dict[str, str] = {
    "rest": "Rest", "brow_raise": "Brow raise", "gentle_eye_closure": "Gentle eye closure",
    "tight_eye_closure": "Tight eye closure", "closed_smile": "Closed-mouth smile",
    "full_smile": "Full smile (teeth)", "eee": "\"Eee\"", "pucker": "Pucker",
}
#: The expression each movement is analysed as (:meth:`Analyzer.analyze`): it picks the
#: normal limits of the photo's own verdict. "eee" and pucker have no counterpart: their
#: photos are analysed with the detected expression and their verdict does not apply.
ANALYSIS_EXPRESSION: dict[str, str | None] = {
    "rest": "rest", "brow_raise": "brow_raise", "gentle_eye_closure": "eyes_closed",
    "tight_eye_closure": "eyes_closed", "closed_smile": "smile", "full_smile": "smile",
    "eee": None, "pucker": None,
}
#: Movements whose photo's own three-state verdict means something (normal limits exist).
VERDICT_MOVEMENTS: tuple[str, ...] = ("rest", "closed_smile", "full_smile")

_ALIASES = {
    "neutral": "rest", "relaxed": "rest",
    "brow": "brow_raise", "brows": "brow_raise", "raise_brows": "brow_raise",
    "forehead": "brow_raise", "forehead_wrinkle": "brow_raise",
    "eyes_closed": "gentle_eye_closure", "eye_closure": "gentle_eye_closure",
    "gentle_closure": "gentle_eye_closure", "gentle_eyes_closed": "gentle_eye_closure",
    "tight_closure": "tight_eye_closure", "tight_eyes_closed": "tight_eye_closure",
    "full_eye_closure": "tight_eye_closure",
    "smile": "full_smile", "teeth": "full_smile", "full_smile_teeth": "full_smile",
    "open_mouth_smile": "full_smile", "big_smile": "full_smile",
    "closed_mouth_smile": "closed_smile", "lips_closed_smile": "closed_smile",
    "e": "eee", "ee": "eee", "eeee": "eee",
    "kiss": "pucker", "whistle": "pucker", "lip_pucker": "pucker",
}

#: Blendshape levels behind :func:`detect_movement` (MediaPipe scores, 0..1). The eyes-
#: closed and brow-raise levels are the measured ones of
#: :data:`palsy_core.face.normal_range.EXPRESSION_THRESHOLDS`; the others separate movements
#: no public photo set here shows (tight vs gentle closure, "eee", pucker, teeth), so
#: they are set from MediaPipe's documented meaning of each blendshape and report a lower
#: confidence (see :data:`UNCALIBRATED_CONFIDENCE_CAP`).
DETECTION_THRESHOLDS: dict[str, float] = {
    "eyes_closed": EXPRESSION_THRESHOLDS["eyes_closed"],  # mean eyeBlink
    "brow_raise": EXPRESSION_THRESHOLDS["brow_raise"],    # max(browInnerUp, mean browOuterUp)
    "smile": EXPRESSION_THRESHOLDS["smile"],              # mean mouthSmile
    # mean mouthUpperUp: the upper lip lifted off the teeth (London teeth smiles ~0.8,
    # closed-lip smiles ~0.0).
    "teeth": 0.30,
    # mouthPucker: above every London photo (relaxed faces reach 0.86, smiles 0.73;
    # at 0.60, 6 of 82 rest photos read as a pucker).
    "pucker": 0.90,
    "eee": 0.25,           # mean mouthStretch, above the mean mouthSmile (London max 0.15)
    "tight": 0.30,         # max(mean cheekSquint, mean browDown): the squeeze of a tight closure
}
#: Confidence ceiling of the distinctions no photo set here could check.
UNCALIBRATED_CONFIDENCE_CAP = 0.6

#: A movement's mean relative deficit (see :func:`affected_side_from_movements`) beyond
#: which the side with less movement is called affected. Set above the healthy spread:
#: the smile's mouth-corner excursion deficit of 75 healthy London people whose smile
#: moved a corner at least 3 mm (rest -> smile pairs) has median 11 %, 90th percentile
#: 35 %, 95th 53.5 % (``benchmarks/bench_visit.py``): MediaPipe's corners move 1-2 mm
#: between a photo and its mirror image, and a natural smile is not symmetric.
MOVEMENT_SIDE_MIN_DEFICIT = 0.55
#: A movement votes on the side only when its stronger side moved this far (mm): healthy
#: faint smiles (London Set "smiling" photos with a mouthSmile near 0) move each corner 1-2
#: mm, and their left-right deficit is noise.
SIDE_VOTE_MIN_MOVEMENT_MM = 3.0


def normalize_movement(movement: str | None) -> str | None:
    """"Full smile (teeth)" -> "full_smile"; None stays None.

    Raises
    ------
    ValueError
        For a movement that is not in :data:`MOVEMENTS` (nor a common alias of one).
    """
    if movement is None:
        return None
    key = str(movement).strip().lower().strip("\"'")
    for old, new in (("(", " "), (")", " "), ("-", " "), ('"', ""), ("'", "")):
        key = key.replace(old, new)
    key = "_".join(key.split())
    key = _ALIASES.get(key, key)
    if key not in MOVEMENTS:
        raise ValueError(f"Unknown movement {movement!r}: use one of "
                         f"{', '.join(MOVEMENTS)}.")
    return key


@dataclass(frozen=True)
class MovementGuess:
    """The movement a face shows, read from its blendshapes.

    Attributes
    ----------
    movement : str
        One of :data:`MOVEMENTS`.
    confidence : float
        0..1: how far the deciding blendshape is past its threshold (0.5 at the
        threshold, 1.0 at 0.25 past it), capped at :data:`UNCALIBRATED_CONFIDENCE_CAP`
        for distinctions no photo set here could check.
    basis : str
        The blendshape reading that decided, in words.
    """

    movement: str
    confidence: float
    basis: str

    def to_dict(self) -> dict:
        return {"movement": self.movement, "confidence": round(self.confidence, 3),
                "basis": self.basis}


def _confidence(level: float, threshold: float, calibrated: bool = True) -> float:
    value = 0.5 + 2.0 * min(abs(level - threshold), 0.25)
    return min(value, 1.0 if calibrated else UNCALIBRATED_CONFIDENCE_CAP)


def detect_movement(blendshapes: Mapping[str, float]) -> MovementGuess:
    """Which of the eight movements a face shows, from MediaPipe blendshape scores.

    Order of the decisions: closed eyes (tight when the cheeks or brows squeeze), a
    raised brow, a pucker, "eee" (lips stretched more than smiling), a smile (full when
    the upper lip lifts off the teeth), else rest.
    """
    def mean(*names: str) -> float:
        return float(np.mean([blendshapes.get(n, 0.0) for n in names]))

    t = DETECTION_THRESHOLDS
    blink = mean("eyeBlinkLeft", "eyeBlinkRight")
    if blink > t["eyes_closed"]:
        squeeze = max(mean("cheekSquintLeft", "cheekSquintRight"), mean("browDownLeft", "browDownRight"))
        tight = squeeze > t["tight"]
        return MovementGuess("tight_eye_closure" if tight else "gentle_eye_closure",
                             min(_confidence(blink, t["eyes_closed"]),
                                 _confidence(squeeze, t["tight"], calibrated=False)),
                             f"eyeBlink {blink:.2f} > {t['eyes_closed']:.2f}; squeeze (cheekSquint/"
                             f"browDown) {squeeze:.2f} {'>' if tight else '<='} {t['tight']:.2f}")
    brow = max(blendshapes.get("browInnerUp", 0.0), mean("browOuterUpLeft", "browOuterUpRight"))
    if brow > t["brow_raise"]:
        return MovementGuess("brow_raise", _confidence(brow, t["brow_raise"]),
                             f"brow raise {brow:.2f} > {t['brow_raise']:.2f}")
    smile = mean("mouthSmileLeft", "mouthSmileRight")
    pucker = blendshapes.get("mouthPucker", 0.0)
    if pucker > t["pucker"] and smile <= t["smile"]:
        return MovementGuess("pucker", _confidence(pucker, t["pucker"], calibrated=False),
                             f"mouthPucker {pucker:.2f} > {t['pucker']:.2f}, no smile")
    stretch = mean("mouthStretchLeft", "mouthStretchRight")
    if stretch > t["eee"] and stretch > smile:
        return MovementGuess("eee", _confidence(stretch, t["eee"], calibrated=False),
                             f"mouthStretch {stretch:.2f} > {t['eee']:.2f} and above mouthSmile")
    if smile > t["smile"]:
        teeth = mean("mouthUpperUpLeft", "mouthUpperUpRight")
        full = teeth > t["teeth"]
        return MovementGuess("full_smile" if full else "closed_smile",
                             min(_confidence(smile, t["smile"]),
                                 _confidence(teeth, t["teeth"], calibrated=False)),
                             f"mouthSmile {smile:.2f} > {t['smile']:.2f}; mouthUpperUp {teeth:.2f} "
                             f"{'>' if full else '<='} {t['teeth']:.2f}")
    level = max(blink / t["eyes_closed"], brow / t["brow_raise"], smile / t["smile"],
                pucker / t["pucker"], stretch / t["eee"])
    return MovementGuess("rest", _confidence(level, 1.0), "no movement blendshape past its threshold")


@dataclass
class VisitPhoto:
    """One photo of the set.

    Attributes
    ----------
    movement : str
        The movement it is taken as (stated, else detected).
    movement_source : {"stated", "detected"}
    detected : MovementGuess
        What the blendshapes show, also when a movement was stated.
    result : AnalysisResult
        The photo's usual analysis.
    mm_per_pixel : float
        The visit's scale carried to this photo (see the module docstring).
    """

    movement: str
    movement_source: str
    detected: MovementGuess
    result: AnalysisResult
    mm_per_pixel: float

    @property
    def verdict_applies(self) -> bool:
        """True when the photo's own verdict has normal limits to rest on."""
        return self.movement in VERDICT_MOVEMENTS

    def to_dict(self, include_landmarks: bool = True) -> dict:
        out = self.result.to_dict()
        if not include_landmarks:
            del out["landmarks"]
        out.update(movement=self.movement, movement_title=MOVEMENT_TITLES[self.movement],
                   movement_source=self.movement_source, detected_movement=self.detected.to_dict(),
                   verdict_applies=self.verdict_applies, visit_mm_per_pixel=round(self.mm_per_pixel, 5))
        return out


@dataclass(frozen=True)
class MovementMeasure:
    """How far each side moved from rest in one movement.

    Attributes
    ----------
    movement : str
        One of :data:`MOVEMENTS` (not "rest").
    measure : str
        "brow_elevation", "eye_closure", "commissure_excursion", "lower_lip_depression"
        or "commissure_medial_movement".
    description : str
    left, right : float
        The movement of each side, mm (positive in the movement's own direction).
    unit : str
        "mm".
    weaker_side : {"left", "right"} or None
        The side that moved less; None when neither moved :data:`MIN_MOVEMENT_MM`.
    deficit : float
        ``(stronger - weaker) / stronger``, 0..1 (0 when neither moved).
    ratio_percent : float or None
        Affected side / healthy side x 100, with the visit's affected side (the weaker
        side of this movement when the visit has none). None when the healthy side did
        not move.
    completeness_percent : dict or None
        Eye closure only: per side, the share of the rest fissure that closed (100 =
        lids meet).
    """

    movement: str
    measure: str
    description: str
    left: float
    right: float
    unit: str
    weaker_side: Side | None
    deficit: float
    ratio_percent: float | None
    completeness_percent: dict[str, float] | None = None

    def to_dict(self) -> dict:
        return {"movement": self.movement, "measure": self.measure,
                "description": self.description, "left": round(self.left, 3),
                "right": round(self.right, 3), "unit": self.unit,
                "weaker_side": self.weaker_side, "deficit": round(self.deficit, 4),
                "ratio_percent": None if self.ratio_percent is None else round(self.ratio_percent, 1),
                "completeness_percent": self.completeness_percent}


_MOVEMENT_MEASURES = {
    "brow_raise": ("brow_elevation", "Rise of the brow's lower edge above its rest height."),
    "gentle_eye_closure": ("eye_closure", "Palpebral fissure at rest minus in the closure."),
    "tight_eye_closure": ("eye_closure", "Palpebral fissure at rest minus in the closure."),
    "closed_smile": ("commissure_excursion", "Distance the mouth corner moved from rest."),
    "full_smile": ("commissure_excursion", "Distance the mouth corner moved from rest."),
    "eee": ("lower_lip_depression", "Drop of the lower lip's edge half-way to the corner."),
    "pucker": ("commissure_medial_movement", "Movement of the mouth corner towards the midline."),
}


@dataclass
class _Positions:
    """Per-side landmark positions of one photo in the pupil frame, millimetres."""

    brow: dict[str, float]         # brow lower edge above the pupil line at the pupil (mm, up +)
    fissure: dict[str, float]      # lid gap at the middle of the eye
    corner: dict[str, np.ndarray]  # mouth corner (x towards the subject's left, y down)
    lower_lip: dict[str, float]    # lower lip outer edge y at x = the rest corner's x / 2
    canthal_px: float              # inner eye corners apart, pixels


def _positions(points: np.ndarray, scale: float, half_x: dict[str, float] | None = None) -> _Positions:
    frame = FaceFrame(points)
    brow, fissure, corner, lower = {}, {}, {}, {}
    sides = {"right": (lm.RIGHT_IRIS, lm.RIGHT_BROW_LOWER, lm.RIGHT_EYE_UPPER, lm.RIGHT_EYE_LOWER,
                       lm.RIGHT_MOUTH_CORNER),
             "left": (lm.LEFT_IRIS, lm.LEFT_BROW_LOWER, lm.LEFT_EYE_UPPER, lm.LEFT_EYE_LOWER,
                      lm.LEFT_MOUTH_CORNER)}
    for side, (iris, brow_line, upper, lower_lid, mouth_corner) in sides.items():
        px, py = frame.x[iris[0]], frame.y[iris[0]]
        mid = (frame.x[upper[0]] + frame.x[upper[-1]]) / 2
        brow[side] = (py - frame.y_at(brow_line, px)) * scale
        fissure[side] = (frame.y_at(lower_lid, mid) - frame.y_at(upper, mid)) * scale
        corner[side] = np.array([frame.x[mouth_corner], frame.y[mouth_corner]]) * scale
        x_half = (half_x[side] / scale) if half_x else frame.x[mouth_corner] / 2
        lower[side] = frame.y_at(lm.LIPS_OUTER_LOWER, x_half) * scale
    canthal = float(np.linalg.norm(points[133, :2] - points[362, :2]))
    return _Positions(brow, fissure, corner, lower, canthal)


def _frontal(result: AnalysisResult) -> np.ndarray:
    return frontalize(result.landmarks, axes="yaw")[0]


@dataclass
class VisitAnalysis:
    """A visit's photo set analysed as one unit.

    Attributes
    ----------
    photos : list of VisitPhoto
        In the order given.
    movements : dict of str to MovementMeasure
        By movement, for each movement photographed with a rest photo in the set.
    affected_side : {"left", "right"} or None
        The subject's affected side over the whole set (:func:`affected_side_from_movements`,
        else the rest photo's verdict, else the smile's).
    affected_side_basis : str
        What decided it, in words.
    efACE, sunnybrook : dict
        :func:`palsy_core.grading.estimate_eface` / ``estimate_sunnybrook`` output.
    notes : list of str
        Worth knowing (a movement photographed twice, a stated movement the face
        contradicts, no rest photo, ...).
    """

    photos: list[VisitPhoto]
    movements: dict[str, MovementMeasure]
    affected_side: Side | None
    affected_side_basis: str
    efACE: dict[str, Any]
    sunnybrook: dict[str, Any]
    notes: list[str] = field(default_factory=list)

    def photo(self, movement: str) -> VisitPhoto | None:
        """The (first) photo of a movement, or None."""
        return next((p for p in self.photos if p.movement == movement), None)

    @property
    def checklist(self) -> dict[str, bool]:
        """Each movement of the standard set: photographed or not."""
        present = {p.movement for p in self.photos}
        return {m: m in present for m in MOVEMENTS}

    @property
    def missing(self) -> list[str]:
        return [m for m, ok in self.checklist.items() if not ok]

    def to_dict(self, include_landmarks: bool = True) -> dict[str, Any]:
        """The JSON form (the CLI's object); ``include_landmarks=False`` leaves out each
        photo's 478 landmarks (about 25 kB a photo), e.g. for storing a visit."""
        return {
            "photos": [p.to_dict(include_landmarks) for p in self.photos],
            "checklist": self.checklist,
            "missing": self.missing,
            "movements": {k: m.to_dict() for k, m in self.movements.items()},
            "affected_side": self.affected_side,
            "affected_side_basis": self.affected_side_basis,
            "efACE": self.efACE,
            "sunnybrook": self.sunnybrook,
            "notes": list(self.notes),
        }


def analyze_visit(
    photos: Sequence[ImageSource] | Mapping[str, ImageSource],
    expressions: Sequence[str | None] | None = None,
    analyzer: Analyzer | None = None,
    *,
    mm_per_pixel: float | None = None,
    sources: Sequence[str] | None = None,
) -> VisitAnalysis:
    """Analyse a visit's photo set as one unit.

    Parameters
    ----------
    photos : sequence of (path, bytes or RGB uint8 array), or mapping movement -> photo
        The photos of one visit, each analysed once. A mapping states each photo's
        movement by its key.
    expressions : sequence of str or None, optional
        The movement each photo shows (:data:`MOVEMENTS`, or an alias such as "smile" or
        "eyes closed"), one per photo; None (the whole argument or one entry): detect it
        from the blendshapes (:func:`detect_movement`).
    analyzer : Analyzer, optional
        Reused when given (the app's cached one); else a geometry-only analyzer is
        created and closed.
    mm_per_pixel : float, optional
        Known scale (a ruler in the rest photo, the set taken at one distance): each
        photo's own analysis uses it, and the visit carries the rest photo's to the others
        (else the rest photo's iris).
    sources : sequence of str, optional
        Names of the photos, echoed in each photo's result.

    Returns
    -------
    VisitAnalysis

    Raises
    ------
    ValueError
        An empty set, an unknown movement, or ``expressions``/``sources`` of another length.
    ImageError, NoFaceError
        A photo that cannot be read or shows no face (its name is in the message).
    """
    if isinstance(photos, Mapping):
        expressions = list(photos.keys())
        photos = list(photos.values())
    photos = list(photos)
    if not photos:
        raise ValueError("A visit needs at least one photo.")
    stated = [None] * len(photos) if expressions is None else [normalize_movement(e) for e in expressions]
    if len(stated) != len(photos):
        raise ValueError(f"{len(photos)} photos but {len(stated)} expressions: give one per photo.")
    if sources is not None and len(sources) != len(photos):
        raise ValueError(f"{len(photos)} photos but {len(sources)} sources: give one per photo.")
    own = analyzer is None
    if own:
        analyzer = Analyzer(AnalyzerOptions(palsy_model=None))
    try:
        analysed = []
        for index, (photo, movement) in enumerate(zip(photos, stated)):
            name = sources[index] if sources is not None else None
            result = _analyze_one(analyzer, photo, movement, name, index, mm_per_pixel)
            guess = detect_movement(result.blendshapes)
            analysed.append((movement or guess.movement, "stated" if movement else "detected",
                             guess, result))
    finally:
        if own:
            analyzer.close()
    return _assemble(analysed, mm_per_pixel)


def _analyze_one(analyzer: Analyzer, photo: ImageSource, movement: str | None,
                 name: str | None, index: int, mm_per_pixel: float | None) -> AnalysisResult:
    expression = ANALYSIS_EXPRESSION[movement] if movement else None
    try:
        return analyzer.analyze(photo, source=name, expression=expression, mm_per_pixel=mm_per_pixel)
    except PalsyError as error:
        what = f" ({MOVEMENT_TITLES[movement].lower()})" if movement else ""
        raise type(error)(f"Photo {index + 1}{what}: {error}") from error


def visit_from_results(results: Sequence[AnalysisResult],
                       movements: Sequence[str | None],
                       mm_per_pixel: float | None = None) -> VisitAnalysis:
    """A visit from photos already analysed (the app's cached results; corrected landmarks).

    Parameters
    ----------
    results : sequence of AnalysisResult
    movements : sequence of str or None
        One per result; None: detect it.
    mm_per_pixel : float, optional
        Known scale of the rest photo.
    """
    if len(results) != len(movements):
        raise ValueError(f"{len(results)} results but {len(movements)} movements.")
    analysed = []
    for result, movement in zip(results, movements):
        movement = normalize_movement(movement)
        guess = detect_movement(result.blendshapes)
        analysed.append((movement or guess.movement, "stated" if movement else "detected", guess, result))
    return _assemble(analysed, mm_per_pixel)


def _assemble(analysed, mm_per_pixel) -> VisitAnalysis:
    notes = []
    seen: dict[str, int] = {}
    for movement, source, guess, _ in analysed:
        seen[movement] = seen.get(movement, 0) + 1
        if source == "stated" and guess.movement != movement and guess.confidence >= 0.75:
            notes.append(f"A photo stated as {MOVEMENT_TITLES[movement].lower()} looks like "
                         f"{MOVEMENT_TITLES[guess.movement].lower()} ({guess.basis}).")
    for movement, count in seen.items():
        if count > 1:
            notes.append(f"{count} photos of {MOVEMENT_TITLES[movement].lower()}: the first one is "
                         "used for the movements and scores.")
    frontal = [_frontal(result) for *_, result in analysed]
    rest_index = next((i for i, (m, *_) in enumerate(analysed) if m == "rest"), None)
    if rest_index is not None:
        rest_result = analysed[rest_index][3]
        rest_scale = mm_per_pixel or rest_result.face.mm_per_pixel
        rest_canthal = float(np.linalg.norm(frontal[rest_index][133, :2] - frontal[rest_index][362, :2]))
    else:
        notes.append("No rest photo: movements (and the scale items that need them) cannot be "
                     "measured; each photo keeps its own iris scale.")
    photos, positions = [], {}
    for index, (movement, source, guess, result) in enumerate(analysed):
        if rest_index is None:
            scale = mm_per_pixel or result.face.mm_per_pixel
        else:
            canthal = float(np.linalg.norm(frontal[index][133, :2] - frontal[index][362, :2]))
            scale = rest_scale * rest_canthal / canthal
        photos.append(VisitPhoto(movement, source, guess, result, scale))
        if movement not in positions:
            positions[movement] = (index, scale)
    measured: dict[str, _Positions] = {}
    if rest_index is not None:
        measured["rest"] = _positions(frontal[rest_index], photos[rest_index].mm_per_pixel)
        # The lower lip is followed at the same place in every photo: half-way to the rest corner.
        half = {side: measured["rest"].corner[side][0] / 2 for side in SIDES}
        for movement, (index, scale) in positions.items():
            if movement != "rest":
                measured[movement] = _positions(frontal[index], scale, half)
    raw = {m: _movement_values(m, measured["rest"], measured[m])
           for m in MOVEMENTS if m != "rest" and m in measured}
    side, basis = affected_side_from_movements(raw)
    if side is None:
        side, basis = _side_from_verdicts(photos, basis)
    movements = {m: _movement_measure(m, values, side) for m, values in raw.items()}
    efACE = estimate_eface(measured, movements, side)
    sunnybrook = estimate_sunnybrook(measured, movements, side)
    return VisitAnalysis(photos, movements, side, basis, efACE, sunnybrook, notes)


def _movement_values(movement: str, rest: _Positions, moved: _Positions) -> dict[str, Any]:
    values = {}
    for side in SIDES:
        if movement == "brow_raise":
            values[side] = moved.brow[side] - rest.brow[side]
        elif movement in ("gentle_eye_closure", "tight_eye_closure"):
            values[side] = rest.fissure[side] - moved.fissure[side]
        elif movement in ("closed_smile", "full_smile"):
            values[side] = float(np.linalg.norm(moved.corner[side] - rest.corner[side]))
        elif movement == "eee":
            values[side] = moved.lower_lip[side] - rest.lower_lip[side]
        else:  # pucker: the corner's distance from the midline shrinks
            values[side] = abs(rest.corner[side][0]) - abs(moved.corner[side][0])
    if movement in ("gentle_eye_closure", "tight_eye_closure"):
        values["completeness"] = {
            s: round(float(np.clip(100.0 * values[s] / rest.fissure[s], 0.0, 100.0)), 1)
            if rest.fissure[s] > 0 else None for s in SIDES}
    return values


def _deficit(left: float, right: float) -> tuple[str | None, float]:
    stronger = max(left, right)
    if stronger < MIN_MOVEMENT_MM:
        return None, 0.0
    weaker_side = "left" if left < right else "right"
    return weaker_side, float((stronger - max(min(left, right), 0.0)) / stronger)


def affected_side_from_movements(raw: Mapping[str, Mapping[str, float]]) -> tuple[str | None, str]:
    """The side that moves less over the set, when it clearly does.

    Each movement whose stronger side moved at least :data:`SIDE_VOTE_MIN_MOVEMENT_MM` votes with
    its signed deficit (+ when the left moved less); the mean vote beyond
    :data:`MOVEMENT_SIDE_MIN_DEFICIT` names the side.

    Returns
    -------
    side : {"left", "right"} or None
    basis : str
        In words.
    """
    votes = []
    for movement, values in raw.items():
        weaker, deficit = _deficit(values["left"], values["right"])
        if weaker is not None and max(values["left"], values["right"]) >= SIDE_VOTE_MIN_MOVEMENT_MM:
            votes.append(deficit if weaker == "left" else -deficit)
    if not votes:
        return None, "no movement photo with a rest photo"
    mean = float(np.mean(votes))
    if abs(mean) <= MOVEMENT_SIDE_MIN_DEFICIT:
        return None, (f"movements: mean deficit {abs(mean):.0%} over {len(votes)} movement(s), "
                      f"within {MOVEMENT_SIDE_MIN_DEFICIT:.0%}")
    side = "left" if mean > 0 else "right"
    return side, f"movements: the {side} side moves {abs(mean):.0%} less (mean over {len(votes)})"


def _side_from_verdicts(photos: Sequence[VisitPhoto], movement_basis: str) -> tuple[str | None, str]:
    for wanted in VERDICT_MOVEMENTS:
        photo = next((p for p in photos if p.movement == wanted), None)
        if photo is not None and photo.result.status == "asymmetry":
            return photo.result.affected_side, (f"{movement_basis}; the {MOVEMENT_TITLES[wanted].lower()} "
                                                f"photo's verdict (asymmetry)")
    return None, f"{movement_basis}; no photo's verdict shows asymmetry"


def _movement_measure(movement: str, values: Mapping[str, Any], side: str | None) -> MovementMeasure:
    measure, description = _MOVEMENT_MEASURES[movement]
    left, right = float(values["left"]), float(values["right"])
    weaker, deficit = _deficit(left, right)
    affected = side or weaker
    ratio = None
    if affected is not None:
        healthy = right if affected == "left" else left
        if healthy >= MIN_MOVEMENT_MM:
            ratio = 100.0 * max(left if affected == "left" else right, 0.0) / healthy
    return MovementMeasure(movement, measure, description, left, right, "mm", weaker, deficit,
                           ratio, values.get("completeness"))
