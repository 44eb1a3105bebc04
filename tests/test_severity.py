"""Six-class severity: seed 003's CNN, the trainer end to end, inference through the
registry and the analysis, "uncertain", and that a geometry-only run never loads Keras."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from palsy_core.models._severity import SEVERITY_CLASSES

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_seed_cnn_is_the_papers_network():
    from palsy_core.models._severity import build_seed_cnn

    model = build_seed_cnn(len(SEVERITY_CLASSES))
    kinds = [type(layer).__name__ for layer in model.layers]
    assert kinds == ["Rescaling"] + ["Conv2D", "MaxPooling2D", "Dropout"] * 4 + [
        "Flatten", "Dense", "Dense"]
    convs = [layer for layer in model.layers if kinds[model.layers.index(layer)] == "Conv2D"]
    assert [c.filters for c in convs] == [16, 32, 64, 128]
    assert all(layer.rate == 0.25 for layer in model.layers if type(layer).__name__ == "Dropout")
    assert model.layers[0].scale == pytest.approx(1 / 255)
    hidden, out = model.layers[-2], model.layers[-1]
    assert hidden.units == 256 and hidden.activation.__name__ == "relu"
    assert out.units == 6 and out.activation.__name__ == "linear"  # logits
    assert tuple(model.input_shape) == (None, 224, 224, 3)
    # 14 x 14 x 128 after four poolings -> Dense 256: the ~6.4 M weights of the seed.
    assert hidden.kernel.shape == (14 * 14 * 128, 256)


def test_labels_and_uncertain():
    from palsy_core.models._severity import UNCERTAIN, label_of, softmax

    classes = list(SEVERITY_CLASSES) + ["normal"]
    p = softmax(np.array([0.1, 3.0, 0.2, 0.1, 0.0, 0.0, 0.5]))
    assert p.sum() == pytest.approx(1.0)
    assert label_of(p, classes, 0.5) == ("mild_mouth", "mild_mouth")
    assert label_of(p, classes, 0.99) == (UNCERTAIN, "mild_mouth")


def test_yfp_grades_become_classes():
    from trainers.severity import yfp_class

    assert yfp_class(0.0, 0.0) == "normal"
    assert yfp_class(0.5, 0.0) == "mild_eye"
    assert yfp_class(0.0, 1.0) == "severe_mouth"
    assert yfp_class(1.0, 0.5) == "severe_eye"
    assert yfp_class(0.5, 0.5) == "mild_eye"  # a tie goes to the eye (the urgent one)


def test_importing_palsy_core_and_a_geometry_analysis_load_neither_keras_nor_torch():
    code = ("import sys, numpy as np, palsy_core\n"
            "from palsy_core.recommendations import load_statements\n"
            "load_statements()\n"
            "assert 'keras' not in sys.modules and 'torch' not in sys.modules, "
            "[m for m in ('keras', 'torch') if m in sys.modules]\n")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


@pytest.fixture(scope="module")
def class_folders(tmp_path_factory):
    """A tiny six-class + normal set from the astronaut photo, person ids in file names."""
    from PIL import Image
    from skimage import data

    from palsy_core.face.landmarks import FaceLandmarker
    from trainers.data.simulate import simulate_healthy, vary_identity, write_simulated_class_folders

    root = tmp_path_factory.mktemp("severity_set")
    rgb = data.astronaut()
    with FaceLandmarker() as landmarker:
        points = landmarker.detect(rgb).landmarks
    write_simulated_class_folders(root, [(rgb, points)], per_class=4, seed=1)
    (root / "normal").mkdir()
    for person in range(1, 9):
        image, moved = vary_identity(rgb, points, seed=person)
        case = simulate_healthy(image, moved, seed=person)
        Image.fromarray(case.image).save(root / "normal" / f"{person}_1.jpg", quality=92)
    return root


def _train(class_folders, out, *args):
    from trainers import severity

    return severity.main(["--data", str(class_folders), "--out", str(out),
                          "--cache", str(out.parent / "cache"), "--no-progress", *args])


@pytest.mark.slow
def test_trainer_end_to_end_and_inference(class_folders, tmp_path):
    from palsy_core.analysis import Analyzer, AnalyzerOptions
    from palsy_core.models import load_model, read_card

    weights = tmp_path / "weights"
    run = tmp_path / "run_cnn"
    assert _train(class_folders, run, "--arch", "seed_cnn", "--epochs", "2", "--batch-size", "8",
                  "--promote", "tiny_cnn", "--make-default", "--weights-dir", str(weights),
                  "--simulated-data") == 0
    for name in ("curves.png", "curves.html", "confusion_matrix.png", "confusion_matrix.csv",
                 "per_class.csv", "metrics.json", "card.json", "fold_0.json"):
        assert (run / name).is_file(), name
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["classes"] == list(SEVERITY_CLASSES) + ["normal"]
    assert metrics["person_ids_in_file_names"] is True
    fold = json.loads((run / "fold_0.json").read_text())
    assert not set(fold["test_people"]) & {p["person"] for p in fold["test_predictions"]} - set(
        fold["test_people"])
    assert len(fold["history"]["loss"]) == 2 and "val_accuracy" in fold["history"]

    card = read_card("severity", "tiny_cnn", weights)
    assert card.framework == "keras" and card.trained_on_simulated_data
    assert (weights / "severity" / "tiny_cnn.keras").is_file()
    model = load_model("severity", weights_dir=weights)
    with Analyzer(AnalyzerOptions(task_models={"severity": model})) as analyzer:
        image = next((class_folders / "severe_mouth").glob("*.jpg"))
        result = analyzer.analyze(image)
    prediction = result.predictions["severity"]
    out = result.to_dict()["severity"]
    assert set(out) >= {"class", "probabilities", "recommendations"}
    assert set(out["probabilities"]) == set(card.config["classes"])
    assert sum(out["probabilities"].values()) == pytest.approx(1.0, abs=1e-3)
    assert out["class"] in [*card.config["classes"], "uncertain"]
    assert prediction.recommendations, "every graded photo gets at least one statement"
    assert all(r["sources"] for r in out["recommendations"])

    # The PDF report gets a severity page (grade, bars, recommendations with sources).
    from palsy_core.report import assessment_pdf

    def pages(pdf: bytes) -> int:
        return pdf.count(b"/Type /Page") - pdf.count(b"/Type /Pages")

    with_grade = assessment_pdf(result)
    result.predictions.pop("severity")
    assert pages(with_grade) == pages(assessment_pdf(result)) + 1


@pytest.mark.slow
def test_geometry_variant_trains_and_predicts(class_folders, tmp_path):
    from palsy_core.models import AnalyzedFace, load_model
    from palsy_core.analysis import Analyzer

    weights = tmp_path / "weights"
    assert _train(class_folders, tmp_path / "run_geo", "--arch", "geometry_mlp", "--epochs", "3",
                  "--promote", "tiny_geo", "--weights-dir", str(weights)) == 0
    model = load_model("severity", "tiny_geo", weights_dir=weights)
    image = next((class_folders / "moderate_eye").glob("*.jpg"))
    with Analyzer() as analyzer:
        result = analyzer.analyze(image)
    from palsy_core import load_image

    face = AnalyzedFace(load_image(image), result.landmarks, result.blendshapes, result.features)
    prediction = model.predict(face)
    assert sum(prediction.probabilities.values()) == pytest.approx(1.0, abs=1e-4)
    # The same face twice gives the same answer (eval mode: no dropout at inference).
    assert model.predict(face).probabilities == prediction.probabilities


def test_file_names_without_person_ids_are_reported(tmp_path, capsys):
    from trainers.severity import read_items

    for name in ("mild_eye", "normal"):
        (tmp_path / name).mkdir()
        for stem in ("alpha", "beta"):
            (tmp_path / name / f"{stem}.jpg").write_bytes(b"")
    _, classes, layout, has_ids = read_items(tmp_path)
    assert classes == ["mild_eye", "normal"] and layout == "class_folders" and not has_ids


def test_trainer_reads_the_yfp_layout_grades_as_classes(tmp_path):
    from skimage import data

    from palsy_core.face.landmarks import FaceLandmarker
    from trainers.data.simulate import write_simulated_yfp
    from trainers.severity import read_items, yfp_class

    rgb = data.astronaut()
    with FaceLandmarker() as landmarker:
        points = landmarker.detect(rgb).landmarks
    samples = write_simulated_yfp(tmp_path, [(rgb, points)], n_subjects=3, frames_per_subject=4,
                                  seed=2)
    items, classes, layout, has_ids = read_items(tmp_path)
    assert layout == "yfp" and has_ids
    assert {item.person for item in items} == {"yfp/P01", "yfp/P02", "yfp/P03"}
    expected = {s.path: yfp_class(s.eye, s.mouth) for s in samples}
    assert {item.path: item.label for item in items} == expected
    assert set(classes) == set(expected.values()) and "moderate_eye" not in classes
