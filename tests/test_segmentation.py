"""Face parsing (seed 004): the network's modules, its loss, the metrics, the mesh targets,
the trainer end-to-end, and the shipped model on real and simulated faces."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from trainers.data import simulate
from palsy_core.face.frame import face_alignment
from palsy_core.face.landmarks import mirror_landmarks
from palsy_core.models import AnalyzedFace, load_model, read_card
from palsy_core.models import _parsing as parsing
from palsy_core.segmentation import (CLASS_NAMES, FaceParsing, affected_side_of,
                                     confusion_matrix, lateral_map, mesh_depth_map,
                                     mesh_label_map, segmentation_overlay, segmentation_scores)

LONDON = Path(__file__).resolve().parents[2] / "shared" / "faces" / "london"


def _has_default_model() -> bool:
    return (Path(__file__).resolve().parents[1] / "weights" / "parsing" / "DEFAULT").is_file()


# -- the network's modules ----------------------------------------------------------------
def _grads_all(module: torch.nn.Module) -> list[str]:
    return [name for name, p in module.named_parameters()
            if p.requires_grad and (p.grad is None or not torch.any(p.grad != 0))]


def test_esc_block_shape_and_gradients():
    torch.manual_seed(0)
    block = parsing.ESCBlock(16)
    x = torch.randn(2, 16, 12, 10, requires_grad=True)
    y = block(x)
    assert y.shape == x.shape
    y.square().mean().backward()
    assert _grads_all(block) == []
    assert x.grad is not None and torch.any(x.grad != 0)


def test_aspp_and_conv_block_shapes_and_gradients():
    torch.manual_seed(0)
    conv = parsing.ConvBlock(3, 8)
    aspp = parsing.ASPP(8, 12, rates=(2, 4))
    x = torch.randn(2, 3, 40, 40)
    features = conv(x)
    assert features.shape == (2, 8, 20, 20)
    out = aspp(features)
    assert out.shape == (2, 12, 20, 20)
    out.square().mean().backward()
    assert _grads_all(conv) == [] and _grads_all(aspp) == []


def test_foreground_attention_sees_only_its_mask():
    torch.manual_seed(0)
    attention = parsing.ForegroundAttention(channels=8, num_queries=2, dim=8).eval()
    features = torch.randn(1, 8, 6, 6)
    masks = torch.zeros(1, 2, 6, 6, dtype=torch.bool)
    masks[0, 0, :3] = True          # query 0: top half only
    # query 1: empty mask -> attends everywhere
    before = attention(features, masks)
    changed = features.clone()
    changed[:, :, 3:] += 5.0        # change only the bottom half
    after = attention(changed, masks)
    assert torch.allclose(before[0, 0], after[0, 0], atol=1e-6)    # outside its mask
    assert not torch.allclose(before[0, 1], after[0, 1], atol=1e-3)  # attends everywhere
    features.requires_grad_(True)
    attention(features, masks).sum().backward()
    assert _grads_all(attention) == []
    # Its mask's pixels get gradient, the others only through the empty-mask query.
    assert torch.any(features.grad[0, :, :3] != 0)


@pytest.mark.slow
def test_network_outputs_and_every_parameter_learns():
    torch.manual_seed(0)
    net = parsing.FaceParsingNet(parsing.ParsingConfig(input_size=64))
    x = torch.randn(2, 3, 64, 64)
    out = net(x)
    k = len(CLASS_NAMES)
    assert out.logits.shape == (2, k, 64, 64)
    assert out.paralysed_logit.shape == (2, 1, 64, 64)
    assert out.depth.shape == (2, 1, 64, 64)
    assert out.coarse_logits.shape == (2, k + 1, 16, 16)
    labels = torch.randint(0, k, (2, 64, 64))
    paralysed = torch.randint(0, 2, (2, 64, 64))
    depth = torch.rand(2, 64, 64)
    depth[:, :10] = float("nan")
    losses = parsing.parsing_loss(out, labels, paralysed, depth)
    assert all(torch.isfinite(v) for v in losses.values())
    losses["total"].backward()
    assert _grads_all(net) == []


@pytest.mark.slow
def test_mirror_context_makes_the_network_see_the_other_half():
    torch.manual_seed(0)
    net = parsing.FaceParsingNet(parsing.ParsingConfig(input_size=64)).eval()
    x = torch.randn(1, 3, 64, 64)
    changed = x.clone()
    changed[..., :8] += 3.0      # only the far left columns
    with torch.no_grad():
        a, b = net(x).paralysed_logit, net(changed).paralysed_logit
    # Far right columns respond (through the mirror, beyond a plain receptive field).
    assert not torch.allclose(a[..., -8:], b[..., -8:], atol=1e-5)


# -- the loss ---------------------------------------------------------------------------------
def test_boundary_pixels_weigh_more():
    labels = torch.zeros(1, 16, 16, dtype=torch.long)
    labels[:, :, 8:] = 1                                  # boundary at columns 7 | 8
    confident = torch.zeros(1, 2, 16, 16)
    confident[:, 0] = torch.where(labels[0] == 0, 8.0, -8.0)
    confident[:, 1] = -confident[:, 0]

    def loss_with_error_at(row, col):
        logits = confident.clone()
        logits[0, :, row, col] = logits[0, :, row, col].flip(0)  # wrong there only
        return float(parsing.boundary_enhanced_ce(logits, labels))

    boundary = loss_with_error_at(5, 8)
    interior = loss_with_error_at(5, 13)
    assert boundary > 2 * interior
    assert parsing.boundary_map(labels)[0, 5, 7] and not parsing.boundary_map(labels)[0, 5, 13]


def test_boundary_bce_ignores_unlabelled_images():
    logit = torch.randn(2, 8, 8, requires_grad=True)
    target = torch.full((2, 8, 8), -1)
    assert float(parsing.boundary_enhanced_bce(logit, target).detach()) == 0.0


# -- metrics ------------------------------------------------------------------------------------
def test_metrics_against_hand_counts():
    truth = np.array([[0, 0, 1, 1],
                      [0, 2, 2, 1]])
    guess = np.array([[0, 1, 1, 1],
                      [0, 2, 0, 1]])
    c = confusion_matrix(guess, truth, 3)
    assert c.tolist() == [[2, 1, 0], [0, 3, 0], [1, 0, 1]]
    s = segmentation_scores(c)
    # class 0: tp 2, fp 1, fn 1 -> F1 4/6, IoU 2/4; class 1: tp 3, fp 1 -> F1 6/7, IoU 3/4;
    # class 2: tp 1, fn 1 -> F1 2/3, IoU 1/2.
    np.testing.assert_allclose(s.f1, [4 / 6, 6 / 7, 2 / 3])
    np.testing.assert_allclose(s.iou, [0.5, 0.75, 0.5])
    assert s.mean_iou == pytest.approx((0.5 + 0.75 + 0.5) / 3)
    assert s.pixel_accuracy == pytest.approx(6 / 8)
    # Ignored pixels (255) count nowhere.
    truth_ignored = truth.copy()
    truth_ignored[0, 1] = 255
    assert confusion_matrix(guess, truth_ignored, 3).sum() == 7


# -- mesh targets -------------------------------------------------------------------------------
def test_mesh_targets_on_a_real_face(astronaut, astronaut_landmarks):
    size = 160
    matrix = face_alignment(astronaut_landmarks, size)
    labels = mesh_label_map(astronaut_landmarks, (size, size), matrix)
    counts = np.bincount(labels.ravel(), minlength=5)
    assert counts[1] > 20 * counts[2] > 0 and counts[3] > 0 and counts[4] > 0
    # Mirror property: the mirrored face's map is the mirrored map (to a pixel's rounding).
    height, width = astronaut.shape[:2]
    mirrored = mesh_label_map(mirror_landmarks(astronaut_landmarks, width), (height, width))
    direct = mesh_label_map(astronaut_landmarks, (height, width))
    assert np.mean(mirrored[:, ::-1] == direct) > 0.998
    depth = mesh_depth_map(astronaut_landmarks, (size, size), matrix)
    face = labels > 0
    assert np.isfinite(depth[face]).mean() > 0.98 and np.isnan(depth[~face]).all()
    nose = np.round((astronaut_landmarks[1, :2] @ matrix[:, :2].T + matrix[:, 2])).astype(int)
    assert depth[nose[1], nose[0]] < np.nanpercentile(depth, 10)   # the nose tip is nearest
    # Lateral map: the subject's left eye lies at lateral > 0.
    lateral = lateral_map(astronaut_landmarks, (height, width))
    left_eye = np.round(astronaut_landmarks[473, :2]).astype(int)
    right_eye = np.round(astronaut_landmarks[468, :2]).astype(int)
    assert lateral[left_eye[1], left_eye[0]] > 0 > lateral[right_eye[1], right_eye[0]]


def test_affected_side_needs_a_real_share():
    labels = np.ones((10, 10), dtype=np.uint8)
    lateral = np.tile(np.arange(10) - 4.5, (10, 1))            # columns 5.. are the left
    region = np.zeros((10, 10), dtype=bool)
    region[:, 7:] = True
    side, shares = affected_side_of(region, labels, lateral)
    assert side == "left" and shares.left == pytest.approx(0.6) and shares.right == 0
    region[:] = False
    region[0, 8] = True                                         # 1 % of the half: noise
    assert affected_side_of(region, labels, lateral)[0] is None


def test_overlay_draws_legend_and_refuses_another_size():
    rgb = np.full((300, 300, 3), 128, dtype=np.uint8)
    labels = np.zeros((300, 300), dtype=np.uint8)
    labels[100:200, 100:200] = 1
    region = np.zeros((300, 300), dtype=bool)
    region[120:180, 150:200] = True
    result = FaceParsing(labels, region, CLASS_NAMES, {}, "left", None, "m", "t", True)
    out = segmentation_overlay(rgb, result)
    assert out.shape == rgb.shape and out[150, 175, 0] > out[150, 175, 2] + 50   # red region
    assert np.abs(out[:40, :40].astype(int) - 128).max() > 50                   # legend
    with pytest.raises(ValueError, match="photo it was made from"):
        segmentation_overlay(rgb[:200], result)


# -- trainer end-to-end -------------------------------------------------------------------------
@pytest.mark.slow
def test_trainer_end_to_end_on_tiny_simulated_set(tmp_path, astronaut, astronaut_landmarks):
    from trainers import segmentation as trainer

    faces = tmp_path / "faces"
    faces.mkdir()
    for seed in range(3):   # three "people" made from one public-domain photo
        rgb, _ = simulate.vary_identity(astronaut, astronaut_landmarks, seed=seed)
        cv2.imwrite(str(faces / f"p{seed}.png"), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    weights = tmp_path / "weights"
    out = tmp_path / "run"
    assert trainer.main(["--faces", str(faces), "--data", str(tmp_path / "data"),
                         "--out", str(out), "--tune-people", "1", "--test-people", "1",
                         "--epochs", "2", "--batch-size", "2", "--input-size", "96",
                         "--threads", "1", "--device", "cpu", "--overlays", "2",
                         "--promote", "tiny", "--weights-dir", str(weights), "--no-progress"]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["test"]["people"] == 1 and metrics["test"]["samples"] == 3
    assert 0 <= metrics["test"]["pixel_accuracy"] <= 100
    assert "| Models | Skin | Hair | Eyebrow | Eye | Mouth | FPP |" in (
        out / "results_table.md").read_text()
    assert len(list((out / "overlays").glob("*.png"))) == 2
    assert len((out / "progress.csv").read_text().splitlines()) == 3
    card = read_card("parsing", "tiny", weights)
    assert card.trained_on_simulated_data and card.metrics["test"]["samples"] == 3
    assert card.config["input_size"] == 96
    model = load_model("parsing", "tiny", weights)
    photo = astronaut[:400, 20:470]        # not square, not the crop size
    landmarks = astronaut_landmarks.copy()
    landmarks[:, 0] -= 20
    result = model.predict(AnalyzedFace(photo, landmarks, {}, np.zeros(29)))
    assert result.labels.shape == photo.shape[:2] and result.paralysed.shape == photo.shape[:2]
    assert result.to_dict()["class_names"][-1] == "paralysed"


# -- the shipped model --------------------------------------------------------------------------
@pytest.mark.skipif(not _has_default_model(), reason="no face-parsing model in weights/parsing")
def test_shipped_model_parses_a_photo_at_its_size(astronaut):
    from palsy_core import Analyzer, AnalyzerOptions

    with Analyzer(AnalyzerOptions(task_models={"parsing": "default"})) as analyzer:
        result = analyzer.analyze(astronaut)
    parsed = result.predictions["parsing"]
    assert parsed.labels.shape == astronaut.shape[:2]
    # Classes land where the mesh says they are (the photo is not in the training set).
    target = mesh_label_map(result.landmarks, astronaut.shape[:2])
    face = target > 0
    assert np.mean(parsed.labels[face] == target[face]) > 0.85
    for index, name in enumerate(CLASS_NAMES[1:], start=1):
        expected = np.mean(target == index)
        assert 0.6 * expected < parsed.pixel_share[name] < 1.4 * expected, name
    summary = result.to_dict()["segmentation"]
    assert summary["simulated"] is True and "labels" not in summary
    json.dumps(summary)
    assert segmentation_overlay(astronaut, parsed).shape == astronaut.shape


@pytest.mark.skipif(not _has_default_model(), reason="no face-parsing model in weights/parsing")
@pytest.mark.skipif(not LONDON.is_dir(), reason=f"London faces not found at {LONDON} "
                    "(a fresh clone has no ../shared; CI has it)")
@pytest.mark.slow
def test_paralysed_region_on_the_simulated_side_of_held_out_people(landmarker):
    from palsy_core import Analyzer, AnalyzerOptions
    from trainers.segmentation_data import _load_small

    card = read_card("parsing", open(Path(__file__).resolve().parents[1] / "weights"
                                          / "parsing" / "DEFAULT").read().strip())
    people = card.training_data["test_people"][:5]
    assert people, "the card names no held-out people"
    right = total = 0
    with Analyzer(AnalyzerOptions(task_models={"parsing": "default"})) as analyzer:
        for number, person in enumerate(people):
            rgb = _load_small(next((LONDON / "neutral").glob(f"{person}_*.jpg")))
            points = landmarker.detect(rgb).landmarks
            for side in ("left", "right"):
                case = simulate.simulate_palsy(rgb, points, side=side, region="full",
                                               severity="severe", seed=number)
                found = analyzer.analyze(case.image).predictions["parsing"].affected_side
                right += found == side
                total += 1
    assert right / total >= 0.8, f"{right}/{total} on the simulated side"


@pytest.mark.skipif(not _has_default_model(), reason="no face-parsing model in weights/parsing")
def test_report_gets_a_parsing_page(astronaut):
    import io

    from pypdf import PdfReader

    from palsy_core import Analyzer, AnalyzerOptions
    from palsy_core.report import assessment_pdf

    with Analyzer(AnalyzerOptions(task_models={"parsing": "default"})) as analyzer:
        result = analyzer.analyze(astronaut)
    pages = PdfReader(io.BytesIO(assessment_pdf(result, astronaut))).pages
    assert len(pages) == 2
    text = pages[1].extract_text()
    assert "Face parsing and the paralysed region" in text and "simulated palsy" in text
    assert len(pages[1].images) == 1


@pytest.mark.skipif(not _has_default_model(), reason="no face-parsing model in weights/parsing")
@pytest.mark.slow
def test_app_overlay_toggle_and_models_card(tmp_path, monkeypatch):
    import shutil

    from streamlit.testing.v1 import AppTest

    root = Path(__file__).resolve().parents[1]
    weights = tmp_path / "weights"
    shutil.copytree(root / "weights" / "parsing", weights / "parsing")   # parsing model only
    monkeypatch.setenv("PALSY_AUTH", "off")
    monkeypatch.setenv("PALSY_DB_URL", f"sqlite:///{tmp_path / 'records.sqlite3'}")
    monkeypatch.setenv("PALSY_WEIGHTS_DIR", str(weights))
    at = AppTest.from_file(str(root / "streamlit_app.py"), default_timeout=120)
    at.run()
    from app_pages.ui import services

    assert services.model_loader().wait(120), "the models did not load"  # they load in the background
    at.radio(key="assess_source").set_value("Example photo").run()
    assert not at.exception
    images_before = len(at.get("image"))
    at.toggle(key="assess_parsing").set_value(True).run()
    assert not at.exception
    assert len(at.get("image")) == images_before + 1
    warnings = "\n".join(str(w.value) for w in at.warning)
    assert "Trained on mesh-drawn masks and simulated palsy, not on patients" in warnings
    assert "Paralysed region" in "\n".join(str(m.value) for m in at.markdown)
    # The example is within normal: a region the network marks there is said not to be evidence.
    assert "Within normal asymmetry" in "\n".join(str(s.value) for s in at.success)
    assert "not evidence of palsy" in "\n".join(str(c.value) for c in at.caption)
    at.switch_page("app_pages/models.py").run()
    assert not at.exception
    assert "seed 004's face-parsing network" in "\n".join(str(m.value) for m in at.markdown)


@pytest.mark.skipif(not _has_default_model(), reason="no face-parsing model in weights/parsing")
def test_cli_summary_and_its_switch(tmp_path, astronaut, capsys):
    from palsy_core.cli import main

    photo = tmp_path / "face.png"
    cv2.imwrite(str(photo), cv2.cvtColor(astronaut, cv2.COLOR_RGB2BGR))
    assert main(["analyze", str(photo), "--no-palsy-model"]) == 0
    record = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    summary = record["segmentation"]
    assert summary["class_names"] == ["background", "skin", "brows", "eyes", "mouth", "paralysed"]
    assert set(summary["pixel_share"]) == set(summary["class_names"])
    assert summary["affected_side"] in ("left", "right", None)
    assert "parsing_model" in record["timings_ms"]
    assert main(["analyze", str(photo), "--no-palsy-model", "--no-segmentation"]) == 0
    assert "segmentation" not in json.loads(capsys.readouterr().out.strip().splitlines()[-1])
