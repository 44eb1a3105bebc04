"""The trainers' modality and frozen-feature cache (trainers.data.cache): one landmarker
run per image content, mirror images as the landmarker finds them, features read back."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import torch
from PIL import Image

from palsy_core.face.landmarks import MIRRORED_INDEX
from palsy_core.models import ImageClassifier
from trainers.data.cache import ModalityStore, mirrored_digest

pytestmark = pytest.mark.slow


def test_cache_serves_mirror_images_as_the_landmarker_finds_them(simulated_pair, tmp_path,
                                                                 analyzer):
    from palsy_core import load_image

    yfp, _, _ = simulated_pair
    image = sorted(yfp.rglob("*.bmp"))[0]
    with ModalityStore(tmp_path / "cache") as store:
        digest = store.extract([image]).hashes[str(image)]
        face, mirror = store.load(digest), store.load(mirrored_digest(digest))
        both = store.vectors([digest, mirrored_digest(digest)], "coordinates")
    flipped = np.ascontiguousarray(load_image(image)[:, ::-1])
    found = analyzer.analyze(flipped)
    np.testing.assert_allclose(mirror.coordinates, found.landmarks[:, :2], atol=1e-3)
    np.testing.assert_allclose(mirror.handcrafted, found.features, rtol=1e-4, atol=1e-5)
    np.testing.assert_array_equal(both[1], mirror.coordinates.reshape(-1))
    # Its own detection: near the mirrored points of the photo, within landmarker noise.
    width = flipped.shape[1]
    x, x_mirror = face.coordinates[:, 0], mirror.coordinates[:, 0]
    np.testing.assert_allclose(x_mirror, width - x[MIRRORED_INDEX], atol=4)
    assert np.abs(mirror.rgb.astype(int) - face.rgb[:, ::-1]).mean() < 12


def test_cache_runs_landmarks_once_per_image_content(simulated_pair, tmp_path):
    yfp, ckplus, cache = simulated_pair
    images = sorted(ckplus.rglob("*.png"))[:4]
    copy = tmp_path / "renamed.png"
    shutil.copy(images[0], copy)
    blank = tmp_path / "blank.png"
    Image.fromarray(np.full((200, 200, 3), 128, np.uint8)).save(blank)
    with ModalityStore(tmp_path / "cache") as store:
        first = store.extract([*images, blank])
        again = store.extract([*images, copy, blank])
        assert first.landmarker_runs == 5 and again.landmarker_runs == 0
        assert again.no_face == [str(blank)] and len(again.hashes) == 5
        assert again.hashes[str(copy)] == again.hashes[str(images[0])]
        digests = [first.hashes[str(p)] for p in images]
        model = ImageClassifier("efficientnet_lite0")
        z1 = store.frozen_features(model, "rgb", digests)
        cached = sorted((tmp_path / "cache" / "frozen").rglob("*.npy"))
        assert len(cached) == 4
        stamps = [p.stat().st_mtime_ns for p in cached]
        z2 = store.frozen_features(model, "rgb", digests)
        assert [p.stat().st_mtime_ns for p in cached] == stamps  # read, not recomputed
        torch.testing.assert_close(z1, z2)
        with torch.no_grad():
            direct = model.frozen_features(model.preprocess(store.images(digests, "rgb")))
        torch.testing.assert_close(z1, direct, atol=1e-4, rtol=1e-4)
