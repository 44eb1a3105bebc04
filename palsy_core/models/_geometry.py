"""The "geometry" modality: how asymmetric a face is, measured, for a palsy classifier.

A patient is always a face the model never saw, so the model is given nothing that
says who the face is (no raw coordinates, no pixels), only left-right *differences*,
measured on the landmarks with the head's turn undone (:func:`palsy_core.face.pose.frontalize`,
as the verdict measures):

- the ten millimetre measurements of :func:`palsy_core.measure_face` (brow height,
  MRD1/2, palpebral fissure, commissure height and excursion, smile angle, lip heights,
  dental show), as ``|left - right|``;
- the left-right difference of each paired MediaPipe blendshape (``|mouthSmileLeft -
  mouthSmileRight|``, ...; gaze pairs left out): the landmarker's own reading of a
  half-face that moves less;
- the brow, eye and mouth region scores and their maximum, against fixed reference
  limits (:data:`REFERENCE_LIMITS`, the project's first provisional limits; fixed here
  so that refitting the verdict's normal limits never changes this model's inputs);
- what the face is doing (mean smile, eye closure, jaw opening, brow raise), so the
  model can allow a smile its larger healthy asymmetry;
- the mirror flow (:mod:`palsy_core.face.mirror_flow`): how much lower each of five
  points of one half (brow, lids, mouth corner, upper lip) sits than its mirror point,
  and the palpebral fissure difference, read from the pixels by optical flow between
  the face and its mirror image, as ``|left - right|`` in mm (vertical only: a turned
  head shifts the halves sideways).

Why the mirror flow: it reads what the pixels did where the landmarks follow only in
part. Added to the landmark inputs below, it raised the pooled held-out AUC (same 5 person
folds, both views, as shipped) from 0.873 to 0.928: brow-only palsy 0.65 -> 0.79,
eye-only 0.76 -> 0.92, mild 0.76 -> 0.83; in a one-view check against the simulated
healthy controls (mirrored and slightly warped photos) 0.841 -> 0.905, so it is not
reading "processed photo". Its horizontal flow at the mouth corner added nothing (0.928
vs 0.929 in that check) and would follow a turned head, so it is left out.

Why no learned pixel features: on the London Set, 5 folds by person, EfficientNet-Lite0
features of the face crop (16 principal components) separated held-out simulated palsy from the unaltered
healthy photos better than the geometry (AUC 0.883 vs 0.864), but against *simulated*
healthy faces (mirrored and slightly warped photos of the same held-out people) they fell
to 0.551: they had learnt "processed photo", not palsy. Added to the geometry they lowered
that control from 0.841 to 0.833 (the left-right difference of the crop's and its mirror's
features: 0.828). So the shipped model reads geometry only.

What else was tried before the mirror flow (same 5 person folds, both mirror views,
pooled held-out AUC on simulated and composite palsy vs the unaltered photos; the
landmark inputs alone: 0.873; the plain
largest region score: 0.849): signed differences aligned to the side the largest region
names, each divided by its measured normal limit for the photo's expression, 0.868 (with
the aligned blendshape differences but no magnitudes, 0.810); without the blendshape
differences 0.872; the magnitudes divided by the normal limits added 0.873; separate
weights for rest and smile photos 0.866; one hidden layer of 8, 0.851; the left-right
displacement of all 225 mirrored landmark pairs, projected on a per-region side direction
(ridge, fitted on the training people) with its magnitude added, 0.882 (paired by-person
bootstrap of the gain: +0.009, 95 % CI 0.002-0.016), not shipped for so small a gain.
What capped every one of them was the landmarks (``benchmarks/bench_palsy_signal.py``),
which the mirror flow then went round: MediaPipe recovers about half of a simulated brow
drop and a fifth of a widened eye, so a mild simulated brow palsy moves the measured brow
0.45 mm (median) and a mild eye palsy the fissure 0.22 mm, under the healthy spread
between people (SD 0.77 mm and 0.28 mm); brow-only cases score AUC 0.65, eye-only 0.76,
mouth 0.94.

The figures above and below were measured on simulator v3, whose brow drop also dragged
the eyelids and the pupil down (narrowing that eye) and whose eye palsy stretched the iris
down, signals no real palsy gives. On simulator v5
(:data:`trainers.data.simulate.SIMULATOR_VERSION`), which keeps each effect on its own
feature, the shipped model scores a pooled AUC of 0.920 (brow-only 0.715, eye-only 0.923,
mild 0.831) against 0.846 for the plain region score; the model card holds the current
numbers.

Why the weights on asymmetry are held non-negative (:func:`asymmetry_inputs`): left
free, the regression gave the commissure's height difference, the mouth's region score
and the flow's mouth-corner drop *negative* weights, leaning on the flow's upper-lip drop
instead, which in the simulator moves with them. A patient whose corner droops more than
the simulator's lip would then score lower for it. Held at zero or above, the same person
folds give the same pooled AUC (0.9280 vs 0.9279) and the model carries better to palsy
made the other way (:func:`trainers._geometry_training.across_simulators`): trained on
warped half-faces and tested on smile-and-rest composites 0.941 vs 0.936, the other way
round 0.887 vs 0.865. The expression levels stay free: they say what healthy asymmetry
to expect, not how much there is.

Every input is a magnitude, so a face and its mirror image give the same vector (up to
the landmarker's own 1-2 px asymmetry; the mirror flow of one view serves both) and the
model cannot learn which side a training face leans to. The trainer standardises the
vector against *healthy* faces only (the feature scaler in the model card holds the healthy mean and spread), so each input reads
as "healthy standard deviations".
"""

from __future__ import annotations

import numpy as np
from torch import nn

from ..face.mirror_flow import MIRROR_FLOW_NAMES, MirrorFlow
from ._fnn import FeedForwardClassifier

#: Paired blendshapes whose left-right difference is an input (MediaPipe names without
#: the Left/Right suffix). Gaze (eyeLook*) is left out: it is not facial-nerve work.
BLENDSHAPE_PAIRS = (
    "browDown", "browOuterUp", "cheekSquint", "eyeBlink", "eyeSquint", "eyeWide",
    "mouthDimple", "mouthFrown", "mouthLowerDown", "mouthPress", "mouthSmile",
    "mouthStretch", "mouthUpperUp", "noseSneer",
)
#: Expression levels given as context (each the mean over the two sides where paired).
EXPRESSION_INPUTS = ("mouthSmile", "eyeBlink", "jawOpen", "browInnerUp")
#: Fixed reference limits (mm) of the region-score inputs: the project's provisional
#: limits before they were measured, kept here so the inputs never move.
REFERENCE_LIMITS = {"brow_height": 2.0, "palpebral_fissure_height": 1.5,
                    "commissure_height": 2.0, "commissure_excursion": 3.0}
#: Hidden widths of the geometry FNN: none, i.e. logistic regression. Hidden layers of
#: 8 or 16-32 units scored lower in person-held-out AUC
#: (trainers/build_default_weights.py --faces prints the comparison).
GEOMETRY_HIDDEN: tuple[int, ...] = ()


def _measurement_names() -> tuple[str, ...]:
    from ..face.measurements import MEASUREMENT_NAMES

    return MEASUREMENT_NAMES


def asymmetry_inputs() -> np.ndarray:
    """Which entries of the geometry vector are asymmetry magnitudes (True), as opposed
    to what the face is doing (the ``*_level`` context inputs, False).

    The shipped logistic regression may only *add* palsy evidence for a magnitude: its
    weight on each is held at zero or above (:func:`trainers._geometry_training.fit_net`),
    so a face that is more asymmetric in any measure never scores a lower probability.
    """
    return np.array([not name.endswith("_level") for name in geometry_input_names()])


def geometry_input_names() -> list[str]:
    """Names of the geometry vector's entries, in order."""
    return ([f"{m}_difference" for m in _measurement_names()]
            + [f"{b}_difference" for b in BLENDSHAPE_PAIRS]
            + ["brow_score", "eye_score", "mouth_score", "largest_region_score"]
            + [f"{e}_level" for e in EXPRESSION_INPUTS]
            + [f"mirror_{name}" for name in MIRROR_FLOW_NAMES])


def geometry_vector(landmarks: np.ndarray, blendshapes: dict[str, float],
                    flow: MirrorFlow) -> np.ndarray:
    """The geometry modality of one face, float32 (see :func:`geometry_input_names`).

    Parameters
    ----------
    landmarks : ndarray, shape (478, 3)
        MediaPipe landmarks in pixels (irises included), as the landmarker found them;
        the head's turn is undone here.
    blendshapes : dict of str to float
        The 52 MediaPipe scores.
    flow : MirrorFlow
        :func:`palsy_core.face.mirror_flow.mirror_flow` of the photo, or of its flipped
        image (:func:`~palsy_core.face.mirror_flow.flow_view` says which): magnitudes
        only are read, which are the same for both.

    Raises
    ------
    ValueError
        When a blendshape the vector needs is missing.
    """
    from ..face.measurements import measure_face
    from ..face.pose import frontalize

    needed = [f"{b}{s}" for b in BLENDSHAPE_PAIRS for s in ("Left", "Right")]
    needed += ["jawOpen", "browInnerUp"]
    missing = [n for n in needed if n not in blendshapes]
    if missing:
        raise ValueError(f"The geometry modality needs MediaPipe's 52 blendshapes; "
                         f"missing {missing[:3]}.")
    points = np.asarray(landmarks, np.float64)
    if points.shape[1] == 3:
        points, _ = frontalize(points, axes="yaw")
    measured = measure_face(points, blendshapes).measurements
    mm = [measured[name].difference for name in _measurement_names()]
    shapes = [abs(blendshapes[f"{b}Left"] - blendshapes[f"{b}Right"]) for b in BLENDSHAPE_PAIRS]
    score = {name: measured[name].difference / limit for name, limit in REFERENCE_LIMITS.items()}
    regions = [score["brow_height"], score["palpebral_fissure_height"],
               max(score["commissure_height"], score["commissure_excursion"])]
    context = [(blendshapes[f"{e}Left"] + blendshapes[f"{e}Right"]) / 2
               if f"{e}Left" in blendshapes else blendshapes[e] for e in EXPRESSION_INPUTS]
    pixels = list(np.abs(flow.as_array()))
    vector = np.array(mm + shapes + regions + [max(regions)] + context + pixels,
                      dtype=np.float64)
    return np.nan_to_num(vector, nan=0.0, posinf=0.0, neginf=0.0).astype(np.float32)


def geometry_fnn(hidden: tuple[int, ...] = GEOMETRY_HIDDEN,
                 n_inputs: int | None = None) -> FeedForwardClassifier:
    """A small FNN on the geometry vector: ``hidden`` ReLU layers, then two logits.

    ``hidden=()`` is logistic regression (the embedding is the input itself).
    ``n_inputs`` defaults to the length of :func:`geometry_vector`.
    """
    n_in = n_inputs or len(geometry_input_names())
    layers: list[nn.Module] = []
    width = n_in
    for size in hidden:
        layers += [nn.Linear(width, size), nn.ReLU()]
        width = size
    body = nn.Sequential(*layers) if layers else nn.Identity()
    return FeedForwardClassifier(body, n_in, width)
