"""The geometry palsy model's training aids: what the landmarker saw of a simulated palsy."""

from __future__ import annotations

import numpy as np
import pytest

from palsy_core.face import landmarks as lm
from palsy_core import measure_face
from trainers._geometry_training import simulated_shift, weakness_towards
from trainers._london import FaceRows


def test_weakness_towards_reads_each_side_and_direction():
    # Brow: the weak one sits lower (smaller); eye: the weak one is open wider (larger).
    assert weakness_towards(10.0, 12.0, "left", smaller_is_weaker=True) == 2.0
    assert weakness_towards(10.0, 12.0, "right", smaller_is_weaker=True) == -2.0
    assert weakness_towards(10.0, 12.0, "right", smaller_is_weaker=False) == 2.0


def _rows(faces) -> FaceRows:
    """FaceRows of (person, kind, side, region, severity, landmarks, blendshapes)."""
    names = tuple(faces[0][-1])
    n = len(faces)
    column = lambda k: np.array([f[k] for f in faces])  # noqa: E731
    points = np.stack([f[5] for f in faces]).astype(np.float32)
    shapes = np.array([[f[6][name] for name in names] for f in faces], np.float32)
    return FaceRows(person=column(0), source=np.array(["rest"] * n), kind=column(1),
                    palsy=np.array([int(f[1] == "palsy_sim") for f in faces]),
                    side=column(2), region=column(3), severity=column(4), landmarks=points,
                    blendshapes=shapes, blendshape_names=names,
                    head_pose=np.zeros((n, 3), np.float32),
                    crops=np.zeros((n, 1, 1, 3), np.uint8), mirror_landmarks=points,
                    mirror_blendshapes=shapes)


def test_simulated_shift_measures_a_known_brow_drop_on_either_side(landmarker, face_photo):
    """A real face's left brow moved down 6 px, and the mirror image of that (the right
    brow down): both read as the same drop towards the labelled side, in mm, against
    each person's own unaltered photo; an eye and mouth that did not move read ~0."""
    face = landmarker.detect(face_photo)
    width = face_photo.shape[1]
    drop_px = 6.0
    drooped = face.landmarks.copy()
    drooped[list(lm.LEFT_BROW_LOWER), 1] += drop_px
    mirrored = lm.mirror_landmarks(face.landmarks, width)
    mirrored_drooped = lm.mirror_landmarks(drooped, width)
    shapes = face.blendshapes
    rows = _rows([
        ("A", "real", "", "", "", face.landmarks, shapes),
        ("A", "palsy_sim", "left", "brow", "mild", drooped, shapes),
        ("B", "real", "", "", "", mirrored, shapes),
        ("B", "palsy_sim", "right", "brow", "mild", mirrored_drooped, shapes),
        ("A", "palsy_sim", "left", "eye", "mild", face.landmarks, shapes),
        ("B", "palsy_sim", "right", "mouth", "mild", mirrored, shapes),
    ])
    shift = simulated_shift(rows)

    mm_per_px = measure_face(face.landmarks).mm_per_pixel
    brow = shift["brow"]["bands"]["mild"]
    assert brow["n"] == 2
    assert brow["q25"] == pytest.approx(drop_px * mm_per_px, rel=0.1)
    assert brow["q75"] == pytest.approx(drop_px * mm_per_px, rel=0.1)
    assert shift["eye"]["bands"]["mild"]["median"] == pytest.approx(0.0, abs=1e-6)
    assert shift["mouth"]["bands"]["mild"]["median"] == pytest.approx(0.0, abs=0.05)
    # A face and its mirror differ only in sign: healthy spread of |L - R| about its mean.
    left_right = measure_face(face.landmarks).measurements["brow_height"]
    assert shift["brow"]["healthy_sd"] == pytest.approx(abs(left_right.left - left_right.right),
                                                        abs=0.05)
    assert shift["brow"]["measure"] == "brow_height"


def test_the_flipped_views_crop_is_rebuilt_from_the_cached_crop(landmarker, face_photo):
    """The trainers cache one aligned crop per image; the flipped image's crop under its
    own landmarks (what the app's mirror view reads) is resampled from it: within a few
    grey levels of the crop made from the flipped photo itself, closer than a plain flip."""
    from palsy_core.face.frame import align_face_crop
    from palsy_core.face.mirror_flow import CROP_SIZE
    from trainers._geometry_training import _flipped_view_crop, geometry_matrices

    face = landmarker.detect(face_photo)
    flipped = np.ascontiguousarray(face_photo[:, ::-1])
    mirror = landmarker.detect(flipped)
    row = _rows([("p1", "real", "", "", "", face.landmarks, face.blendshapes)])
    row.crops = align_face_crop(face_photo, face.landmarks, CROP_SIZE)[None]
    row.mirror_landmarks = mirror.landmarks[None].astype(np.float32)
    row.mirror_blendshapes = np.array([[mirror.blendshapes[n] for n in row.blendshape_names]],
                                      np.float32)
    truth = align_face_crop(flipped, mirror.landmarks, CROP_SIZE).astype(float)
    inner = np.s_[16:-16, 16:-16]  # the border is replicated, not resampled
    rebuilt = np.abs(_flipped_view_crop(row, 0).astype(float) - truth)[inner].mean()
    plain = np.abs(row.crops[0][:, ::-1].astype(float) - truth)[inner].mean()
    assert rebuilt < 4.0 and rebuilt < plain, (rebuilt, plain)
    x, x_mirror = geometry_matrices(row)
    assert x.shape == x_mirror.shape and np.isfinite(x).all()


def test_training_never_lets_more_asymmetry_lower_the_probability():
    """A real fit on inputs where healthy faces happen to show *more* of one asymmetry
    (as the simulator's correlations can make it look): its weight towards palsy is held
    at zero, while an expression level may still count against palsy."""
    import torch

    from palsy_core.models._geometry import asymmetry_inputs, geometry_input_names
    from trainers._geometry_training import fit_net

    names = geometry_input_names()
    rng = np.random.default_rng(0)
    y = np.repeat([0, 1], 200)
    x = rng.normal(1.0, 0.3, size=(len(y), len(names))).astype(np.float32)
    signal = names.index("mirror_upper_lip_drop")
    misleading = names.index("commissure_height_difference")
    level = names.index("mouthSmile_level")
    x[:, signal] += 1.5 * y
    x[:, misleading] -= 0.8 * y
    x[:, level] -= 0.8 * y
    net, _ = fit_net(x, y, (), epochs=200)
    toward_palsy = (net.head.weight[1] - net.head.weight[0]).detach().numpy()
    assert toward_palsy[signal] > 0.5
    assert toward_palsy[misleading] == pytest.approx(0.0, abs=1e-6)
    assert toward_palsy[level] < -0.1  # free: not an asymmetry
    assert (toward_palsy[asymmetry_inputs()] >= -1e-6).all()



def test_the_shipped_model_reads_more_asymmetry_as_more_palsy():
    """What the app loads: every asymmetry magnitude adds palsy evidence or none."""
    from palsy_core.models import load_model
    from palsy_core.models._geometry import asymmetry_inputs

    model = load_model("palsy")
    head = model.net.structured.head.weight.detach().numpy()
    toward_palsy = head[1] - head[0]
    assert toward_palsy.shape == asymmetry_inputs().shape
    assert (toward_palsy[asymmetry_inputs()] >= 0).all()
    assert (toward_palsy > 0).sum() >= 10  # not a model that ignores its inputs
