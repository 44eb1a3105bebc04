"""Train and evaluate the geometry palsy classifier on faces split by person.

Used by :mod:`trainers.build_default_weights` (``--faces``) and
``benchmarks/bench_validity.py``. See :mod:`trainers._person_eval` for the splits and
the calibration.
"""

from __future__ import annotations

from dataclasses import dataclass
from collections.abc import Sequence

import numpy as np

from ._london import FaceRows
from ._person_eval import PlattScaling, split_people

#: Share of a training split's people held out to fit the Platt scaling.
CALIBRATION_FRACTION = 0.2
#: Full-batch Adam steps, learning rate and L2 weight decay of the geometry FNN.
EPOCHS = 400
LEARNING_RATE = 1e-2
WEIGHT_DECAY = 1e-3
#: Kinds of row a model is scored on: simulated and composite palsy against the
#: unaltered healthy photos (never the mirrored or simulated healthy ones).
TEST_KINDS = ("real", "palsy_sim", "composite")


def _flipped_view_crop(rows: FaceRows, i: int) -> np.ndarray:
    """The aligned crop of row ``i``'s flipped image under the landmarks found on it,
    resampled from the cached crop (the images themselves are not cached)."""
    import cv2

    from palsy_core.face.frame import face_alignment
    from palsy_core.face.landmarks import MIRRORED_INDEX
    from palsy_core.face.mirror_flow import CROP_SIZE

    def homogeneous(matrix):
        return np.vstack([matrix, [0.0, 0.0, 1.0]])

    # The image's width (not cached) from the two detections: x on the flipped image is
    # width - x of the mirror landmark on the photo.
    width = float(np.median(rows.landmarks[i][:, 0]
                            + rows.mirror_landmarks[i][MIRRORED_INDEX, 0]))
    own = homogeneous(face_alignment(rows.landmarks[i], CROP_SIZE))
    flipped = homogeneous(face_alignment(rows.mirror_landmarks[i], CROP_SIZE))
    # Pixel columns: column j of the flipped image is column width - 1 - j of the photo.
    flip = np.array([[-1.0, 0.0, width - 1.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    # A pixel of the flipped view's crop -> flipped image -> photo -> the cached crop.
    to_cached = own @ flip @ np.linalg.inv(flipped)
    return cv2.warpAffine(rows.crops[i], to_cached[:2], (CROP_SIZE, CROP_SIZE),
                          flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                          borderMode=cv2.BORDER_REPLICATE)


def geometry_matrices(rows: FaceRows) -> tuple[np.ndarray, np.ndarray]:
    """(N, D) geometry vectors of every row (see :mod:`palsy_core.models._geometry`): of
    the landmarks found on each photo, and of those found on its flipped image, as the
    app averages over the two; a row whose flipped image showed no face gets its own
    photo's vector there. Both views share the mirror flow of the view
    :func:`~palsy_core.face.mirror_flow.flow_view` picks, as in the app.
    """
    from palsy_core.face.mirror_flow import flow_view, mirror_flow
    from palsy_core.models._geometry import geometry_vector

    has_mirror = np.isfinite(rows.mirror_landmarks).all(axis=(1, 2))
    x, x_mirror = [], []
    for i in range(len(rows)):
        views = [(rows.landmarks[i], rows.crops[i])]
        if has_mirror[i]:
            views.append((rows.mirror_landmarks[i], _flipped_view_crop(rows, i)))
        landmarks, crop = views[flow_view([crop for _, crop in views])]
        flow = mirror_flow(None, landmarks, crop=crop)
        x.append(geometry_vector(rows.landmarks[i], rows.blendshape_dict(i), flow))
        x_mirror.append(geometry_vector(rows.mirror_landmarks[i],
                                        rows.blendshape_dict(i, mirror=True), flow)
                        if has_mirror[i] else x[-1])
    return np.stack(x), np.stack(x_mirror)


#: Each region's key measure and whether the weaker side's value is the smaller one (as
#: :mod:`palsy_core.face.measurements` scores the regions: the weak brow and mouth corner sit
#: lower, the weak eye is open wider).
KEY_MEASURES = {"brow": ("brow_height", True), "eye": ("palpebral_fissure_height", False),
                "mouth": ("commissure_height", True)}


def weakness_towards(left: float, right: float, side: str, smaller_is_weaker: bool) -> float:
    """How much weaker ``side`` reads than the other side, in the measure's unit."""
    own, other = (left, right) if side == "left" else (right, left)
    return other - own if smaller_is_weaker else own - other


def simulated_shift(rows: FaceRows) -> dict:
    """How far the simulated palsy moved each region's key measure, as the landmarker saw it.

    For every "palsy_sim" row of a region alone (a "full" palsy may be central, which
    spares the brow): the key measure's weakness
    towards the labelled side minus the same on the same person's unaltered photo of the
    same expression (so the person's own asymmetry cancels), measured on the landmarks
    with the head's turn undone, as the model's inputs are. Beside it, the spread (SD) of
    the signed left-right difference over the unaltered photos: the healthy variation a
    single photo has to beat. A shift well under one healthy SD cannot be told from a
    healthy face by any model reading these landmarks.

    Returns
    -------
    dict
        ``{region: {"measure", "healthy_sd", "bands": {severity: {"n", "median", "q25",
        "q75", "share_above_healthy_sd"}}}}``, millimetres.
    """
    from palsy_core import measure_face
    from palsy_core.face.pose import frontalize

    def measures(i):
        points, _ = frontalize(np.asarray(rows.landmarks[i], np.float64), axes="yaw")
        return measure_face(points, rows.blendshape_dict(i)).measurements

    real = {(rows.person[i], rows.source[i]): i for i in np.flatnonzero(rows.kind == "real")}
    measured = {}

    def get(i):
        if i not in measured:
            measured[i] = measures(i)
        return measured[i]

    out = {}
    for region, (name, smaller_is_weaker) in KEY_MEASURES.items():
        healthy = [get(i)[name].left - get(i)[name].right for i in real.values()]
        healthy_sd = float(np.std(healthy))
        bands = {}
        for severity in sorted(set(rows.severity[rows.kind == "palsy_sim"])):
            shifts = []
            for i in np.flatnonzero((rows.kind == "palsy_sim") & (rows.severity == severity)
                                    & (rows.region == region)):
                reference = real.get((rows.person[i], rows.source[i]))
                if reference is None:
                    continue
                case, base = get(i)[name], get(reference)[name]
                shifts.append(weakness_towards(case.left, case.right, rows.side[i],
                                               smaller_is_weaker)
                              - weakness_towards(base.left, base.right, rows.side[i],
                                                 smaller_is_weaker))
            if shifts:
                q25, median, q75 = np.percentile(shifts, [25, 50, 75])
                bands[str(severity)] = {
                    "n": len(shifts), "median": float(median), "q25": float(q25),
                    "q75": float(q75),
                    "share_above_healthy_sd": float(np.mean(np.array(shifts) > healthy_sd))}
        out[region] = {"measure": name, "healthy_sd": healthy_sd, "bands": bands}
    return out


def largest_region_score(rows: FaceRows) -> np.ndarray:
    """The plain baseline: max of RegionAsymmetry.score over brow, eye and mouth."""
    from palsy_core import measure_face

    return np.array([max(r.score for r in measure_face(rows.landmarks[i],
                                                       rows.blendshape_dict(i)).regions.values())
                     for i in range(len(rows))])


@dataclass
class TrainedGeometry:
    """A trained geometry FNN, its healthy-reference scaler and its calibration."""

    net: object
    scaler: object
    calibration: PlattScaling
    hidden: tuple

    def logit(self, x: np.ndarray) -> np.ndarray:
        import torch

        with torch.inference_mode():
            logits = self.net(torch.from_numpy(self.scaler.transform(x)))
        return (logits[:, 1] - logits[:, 0]).numpy().astype(np.float64)

    def probability(self, x: np.ndarray, x_mirror: np.ndarray | None = None) -> np.ndarray:
        """Calibrated probabilities; with ``x_mirror``, averaged over the two views as
        :class:`palsy_core.models.PalsyPredictor` averages a photo and its mirror."""
        p = self.calibration.apply(self.logit(x))
        if x_mirror is None:
            return p
        return (p + self.calibration.apply(self.logit(x_mirror))) / 2


def healthy_reference_scaler(x: np.ndarray, y: np.ndarray):
    """Standardisation against the healthy rows: their mean and spread.

    A spread is never taken below a tenth of the spread over all rows: an input that
    healthy faces hold almost constant (a blendshape difference of 1e-6) would
    otherwise turn any landmarker wobble into hundreds of standard deviations.
    """
    from palsy_core.models import FeatureScaler

    healthy = x[y == 0].astype(np.float64)
    floor = 0.1 * x.astype(np.float64).std(axis=0) + 1e-6
    return FeatureScaler(healthy.mean(axis=0).astype(np.float32),
                         np.maximum(healthy.std(axis=0), floor).astype(np.float32))


def _hold_palsy_weights_non_negative(head, columns) -> None:
    """Project a two-logit linear head so that each of ``columns`` adds palsy evidence
    or none: the palsy-minus-healthy weight is clipped at zero, the two logits' mean
    weight kept."""
    import torch

    with torch.no_grad():
        weight = head.weight
        toward_palsy = weight[1] - weight[0]
        mean = (weight[1] + weight[0]) / 2
        toward_palsy = torch.where(columns, toward_palsy.clamp(min=0.0), toward_palsy)
        weight[0] = mean - toward_palsy / 2
        weight[1] = mean + toward_palsy / 2


def fit_net(x: np.ndarray, y: np.ndarray, hidden: tuple, *, seed: int = 0,
            epochs: int = EPOCHS):
    """The geometry FNN trained full-batch with class-balanced cross-entropy.

    Inputs are standardised against the healthy rows of ``x`` (the scaler is returned).
    Logistic regression (``hidden=()``) is held monotone: its weight on every asymmetry
    magnitude (:func:`palsy_core.models._geometry.asymmetry_inputs`) stays at zero or
    above, projected after each step (why: :mod:`palsy_core.models._geometry`). Hidden
    layers are trained unconstrained, for the architecture comparison only.
    """
    import torch

    from palsy_core.models._geometry import asymmetry_inputs, geometry_fnn

    scaler = healthy_reference_scaler(x, y)
    torch.manual_seed(seed)
    net = geometry_fnn(hidden, x.shape[1])
    monotone = torch.from_numpy(asymmetry_inputs()) if not hidden else None
    inputs = torch.from_numpy(scaler.transform(x))
    target = torch.from_numpy(np.asarray(y, np.int64))
    counts = np.bincount(y, minlength=2).astype(np.float32)
    loss_fn = torch.nn.CrossEntropyLoss(weight=torch.from_numpy(counts.sum() / (2 * counts)))
    optimiser = torch.optim.Adam(net.parameters(), lr=LEARNING_RATE, weight_decay=WEIGHT_DECAY)
    net.train()
    for _ in range(epochs):
        optimiser.zero_grad()
        loss = loss_fn(net(inputs), target)
        loss.backward()
        optimiser.step()
        if monotone is not None:
            _hold_palsy_weights_non_negative(net.head, monotone)
    return net.eval(), scaler


def train_calibrated(x: np.ndarray, rows: FaceRows, people: Sequence[str], hidden: tuple, *,
                     x_mirror: np.ndarray | None = None, seed: int = 0) -> TrainedGeometry:
    """Fit on most of ``people``, Platt-calibrate on the rest (by person).

    With ``x_mirror`` both views of every row are used, each as a row of its own.
    """
    views = [x] if x_mirror is None else [x, x_mirror]
    fit_people, calibration_people = split_people(people, CALIBRATION_FRACTION, seed)
    fit_rows = np.isin(rows.person, fit_people)
    net, scaler = fit_net(np.concatenate([v[fit_rows] for v in views]),
                          np.tile(rows.palsy[fit_rows], len(views)), hidden, seed=seed)
    model = TrainedGeometry(net, scaler, PlattScaling(1.0, 0.0), hidden)
    held = np.isin(rows.person, calibration_people) & np.isin(rows.kind, TEST_KINDS)
    model.calibration = PlattScaling.fit(
        np.concatenate([model.logit(v[held]) for v in views]),
        np.tile(rows.palsy[held], len(views)))
    return model


#: Pairs (trained on, tested on) of palsy makers for :func:`across_simulators`.
SIMULATOR_PAIRS = (("palsy_sim", "composite"), ("composite", "palsy_sim"))


def across_simulators(x: np.ndarray, rows: FaceRows, folds: Sequence[Sequence[str]],
                      hidden: tuple, *, x_mirror: np.ndarray | None = None,
                      seed: int = 0) -> dict[str, float]:
    """Person-held-out AUC on palsy made one way by a model that saw palsy made only the
    other way: warped half-faces ("palsy_sim") against smile-and-rest composites.

    A patient's palsy is made by neither, so a model that scores well only on the maker
    it was trained on has learnt the maker. Healthy rows are kept whole in training;
    scored on the held-out people's unaltered photos against their palsy of the other
    maker.

    Returns
    -------
    dict
        ``{"<trained>_to_<tested>": pooled AUC}``.
    """
    from ._person_eval import roc_auc

    out = {}
    for trained, tested in SIMULATOR_PAIRS:
        # Each fold's model from cross_validate on the healthy rows and one maker's palsy;
        # then scored on the other maker's palsy of the fold's held-out people.
        train = np.flatnonzero((rows.palsy == 0) | (rows.kind == trained))
        _, _, models = cross_validate(x[train], rows.take(train), folds, hidden, seed=seed,
                                      x_mirror=None if x_mirror is None else x_mirror[train])
        scored = np.flatnonzero((rows.kind == "real") | (rows.kind == tested))
        probability = np.full(len(rows), np.nan)
        for model, test_people in zip(models, folds):
            test = scored[np.isin(rows.person[scored], test_people)]
            probability[test] = model.probability(
                x[test], None if x_mirror is None else x_mirror[test])
        out[f"{trained}_to_{tested}"] = roc_auc(rows.palsy[scored], probability[scored])
    return out


def cross_validate(x: np.ndarray, rows: FaceRows, folds: Sequence[Sequence[str]],
                   hidden: tuple, *, x_mirror: np.ndarray | None = None, seed: int = 0):
    """Out-of-fold calibrated probabilities of every row (NaN where never tested);
    with ``x_mirror`` trained on both views and averaged over them, as shipped."""
    probability = np.full(len(rows), np.nan)
    fold_of = np.full(len(rows), -1)
    models = []
    for k, test_people in enumerate(folds):
        train_people = sorted(set(rows.person) - set(test_people))
        model = train_calibrated(x, rows, train_people, hidden, x_mirror=x_mirror,
                                 seed=seed + k)
        test = np.isin(rows.person, test_people)
        probability[test] = model.probability(
            x[test], None if x_mirror is None else x_mirror[test])
        fold_of[test] = k
        models.append(model)
    return probability, fold_of, models
