"""Every trainer end to end on a tiny simulated YFP + CK+ pair, on CPU, few epochs."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
from PIL import Image

from palsy_core import compute_features, keypoints_51
from palsy_core.face.landmarks import mirror_landmarks
from palsy_core.models import AnalyzedFace, load_model
from trainers import collect, fnn, fusion, image

pytestmark = pytest.mark.slow


def lopo_flags(simulated_pair, out, *extra):
    """A trainer's flags for a small LOPO run on the simulated pair, on CPU, into ``out``
    (test_ray runs the same run on Ray)."""
    yfp, ckplus, cache = simulated_pair
    return ["--yfp", str(yfp), "--ckplus", str(ckplus), "--cache", str(cache),
            "--protocol", "lopo", "--train-per-subject", "6", "--test-per-palsy-subject", "6",
            "--healthy-train-subjects", "2", "--healthy-test-subjects", "2",
            "--device", "cpu", "--no-progress", "--out", str(out), *extra]


def _table(run_dir):
    with open(run_dir / "results_table.csv", newline="") as f:
        return list(csv.reader(f))


def _filled_rows(table):
    return [row for row in table[1:] if row[2]]


def _check_table(run_dir, row):
    table = _table(run_dir)
    assert tuple(table[0]) == collect.COLUMNS
    assert [tuple(r[:2]) for r in table[1:14]] == list(collect.TABLE1)
    filled = _filled_rows(table)
    assert [tuple(r[:2]) for r in filled] == [row]
    for value in filled[0][2:]:
        assert 0.0 <= float(value) <= 100.0
    return filled[0]


def test_fnn_folds_as_separate_jobs_then_collect(simulated_pair, tmp_path):
    run = tmp_path / "fnn"
    for k in (0, 1):
        fnn.main(lopo_flags(simulated_pair, run, "--modality", "handcrafted", "--epochs", "3",
                        "--fold", str(k)))
    folds = [json.loads((run / "folds" / f"fold_0{k}.json").read_text()) for k in (0, 1)]
    for record in folds:
        # the held-out patient is tested, never trained on
        assert record["test_subject"].startswith("yfp/")
        assert record["n_test"] == len(record["predictions"]) > 0
        assert {p["subject"] for p in record["predictions"]} >= {record["test_subject"]}
        m = record["metrics"]
        assert m["tp"] + m["fp"] + m["fn"] + m["tn"] == record["n_test"]
    _check_table(run, ("Handcrafted Manual Features [24]", "Feed-forward Neural Network"))
    markdown = (run / "results_table.md").read_text()
    assert "2 of 3" in markdown and "82.80" in markdown  # folds present, paper's value
    with open(run / "per_fold.csv", newline="") as f:
        assert len(list(csv.reader(f))) == 3

    merged = tmp_path / "merged"
    other = tmp_path / "blend"
    fnn.main(lopo_flags(simulated_pair, other, "--modality", "blendshapes", "--epochs", "2",
                    "--fold", "0"))
    collect.main([str(run), str(other), "--out", str(merged)])
    rows = _filled_rows(_table(merged))
    assert [r[0] for r in rows] == ["Features of Facial Expressions",
                                    "Handcrafted Manual Features [24]"]

    with pytest.raises(SystemExit, match="other settings"):
        fnn.main(lopo_flags(simulated_pair, run, "--modality", "coordinates", "--fold", "2"))


def test_mirror_images_double_training_and_make_predictions_side_blind(
        simulated_pair, tmp_path, analyzer, astronaut):
    run, weights = tmp_path / "mirror", tmp_path / "weights"
    fnn.main(lopo_flags(simulated_pair, run, "--epochs", "20", "--mirror", "--fold", "0",
                    "--promote", "fnn_mirror", "--weights-dir", str(weights)))
    plain = tmp_path / "plain"
    fnn.main(lopo_flags(simulated_pair, plain, "--epochs", "20", "--fold", "0"))
    record, plain_record = (json.loads((r / "folds" / "fold_00.json").read_text())
                            for r in (run, plain))
    assert record["n_train"] == 2 * plain_record["n_train"]
    assert record["n_test"] == plain_record["n_test"]  # tested on the photos as they are
    card = json.loads((weights / "palsy" / "fnn_mirror.json").read_text())
    assert card["config"]["mirror_average"] is True
    assert card["protocol"]["mirror_images"] is True

    model = load_model("palsy", "fnn_mirror", weights_dir=weights)
    face = analyzer.analyze(astronaut)
    flipped = np.ascontiguousarray(astronaut[:, ::-1])
    points = mirror_landmarks(face.landmarks, astronaut.shape[1])
    features = compute_features(keypoints_51(points))
    p = model.predict(AnalyzedFace(astronaut, face.landmarks, face.blendshapes,
                                   face.features)).probability
    p_flipped = model.predict(AnalyzedFace(flipped, points, face.blendshapes, features)).probability
    assert p == pytest.approx(p_flipped, abs=1e-5)


def test_image_trainer_with_a_paper_model_on_line_segments(simulated_pair, tmp_path):
    """MLP-Mixer (random init, small input) on line segments, with early stopping."""
    run = tmp_path / "mixer"
    image.main(lopo_flags(simulated_pair, run, "--model", "mixer", "--allow-random-init",
                      "--input-size", "32", "--modality", "linesegment", "--epochs", "4",
                      "--fold", "0"))
    _check_table(run, ("BnW LineSegment Images", "MLP Mixer"))
    record = json.loads((run / "folds" / "fold_00.json").read_text())
    assert 1 <= record["training"]["image"]["epochs_run"] <= 4


def test_image_trainer_refuses_a_paper_model_without_checkpoint(simulated_pair, tmp_path):
    from palsy_core.errors import ModelNotInstalledError

    with pytest.raises(ModelNotInstalledError, match="--checkpoint"):
        image.main(lopo_flags(simulated_pair, tmp_path / "r50", "--model", "resnet50"))


def test_late_fusion(simulated_pair, tmp_path):
    run = tmp_path / "late"
    fusion.main(lopo_flags(simulated_pair, run, "--fusion", "late", "--fnn-epochs", "3",
                       "--image-epochs", "3", "--fold", "1"))
    row = _check_table(run, ("Handcrafted Manual Features + RGB Images",
                             "Late Fusion Model (EfficientNet-Lite0 + Feedforward Model)"))
    assert row
    record = json.loads((run / "folds" / "fold_01.json").read_text())
    assert set(record["training"]) == {"fnn", "image"}


def test_early_fusion_all_folds_promote_and_predict(simulated_pair, tmp_path, analyzer,
                                                    astronaut):
    run, weights = tmp_path / "early", tmp_path / "weights"
    fusion.main(lopo_flags(simulated_pair, run, "--fnn-epochs", "5", "--epochs", "5",
                       "--promote", "tiny_fusion", "--make-default", "--simulated-data",
                       "--weights-dir", str(weights)))
    _check_table(run, ("Handcrafted Manual Features + RGB Images",
                       "Early Fusion Model (EfficientNet-Lite0 + Feedforward Model)"))
    assert len(list((run / "folds").glob("fold_*.json"))) == 3
    card = json.loads((weights / "palsy" / "tiny_fusion.json").read_text())
    assert card["trained_on_simulated_data"] is True
    assert card["task"] == "palsy" and card["framework"] == "torch"
    assert card["architecture"] == "palsy_early" and card["config"]["image_modality"] == "rgb"
    assert len(card["config"]["feature_scaler"]["mean"]) == 29
    assert card["metrics"]["lopo_average"]["folds"] == 3

    model = load_model("palsy", weights_dir=weights)  # palsy/DEFAULT points at it
    result = analyzer.analyze(astronaut)
    face = AnalyzedFace(astronaut, result.landmarks, result.blendshapes, result.features)
    prediction = model.predict(face)
    assert 0.0 <= prediction.probability <= 1.0
    assert prediction.model == "tiny_fusion" and prediction.simulated is True
    # The promoted model reproduces the probability its trainer's network gives.
    again = model.predict(face)
    assert np.isclose(prediction.probability, again.probability)


def test_images_without_a_face_are_skipped_and_counted(simulated_pair, tmp_path):
    import shutil

    yfp, ckplus, cache = simulated_pair
    healthy = tmp_path / "ckplus"
    shutil.copytree(ckplus, healthy)
    blanks = []
    for subject in sorted((healthy / "cohn-kanade-images").iterdir()):
        blank = subject / "001" / f"{subject.name}_001_00000099.png"
        Image.fromarray(np.full((240, 320, 3), 90, np.uint8)).save(blank)
        blanks.append(str(blank))
    run = tmp_path / "run"
    flags = lopo_flags((yfp, healthy, cache), run, "--epochs", "1", "--fold", "0")
    flags[flags.index("--train-per-subject") + 1] = "50"  # every frame, blanks included
    fnn.main(flags)
    record = json.loads((run / "folds" / "fold_00.json").read_text())
    skipped = dict(record["skipped_files"])
    assert record["skipped_train"] == 2 and set(skipped) <= set(blanks)
    assert set(skipped.values()) == {"no face found"}
    assert not set(skipped) & {p["path"] for p in record["predictions"]}


def test_simulated_data_set_is_reused_replaced_when_stale_and_foreign_folders_refused(
        tmp_path):
    from trainers import build_default_weights
    from trainers._run import TrainingError
    from trainers.build_default_weights import make_simulated_dataset

    settings = dict(palsy_subjects=1, healthy_subjects=1, frames_per_subject=2)
    yfp, _ = make_simulated_dataset(tmp_path / "sim", **settings)
    first = sorted(yfp.rglob("*.*"))
    frame = first[0]
    assert frame.suffix == ".bmp" and Image.open(frame).size == (512, 512)  # the astronaut
    marker = first[0].with_name("kept.txt")
    marker.write_text("made after the set")
    assert make_simulated_dataset(tmp_path / "sim", **settings)[0] == yfp
    assert marker.exists()  # same settings and simulator: reused as it is

    stamp = tmp_path / "sim" / "SETTINGS"
    stamp.write_text(stamp.read_text().replace("simulator-v", "simulator-v0"))
    make_simulated_dataset(tmp_path / "sim", **settings)
    assert not marker.exists() and sorted(yfp.rglob("*.*")) == first
    assert "astronaut+grace_hopper" in stamp.read_text()  # both source faces by default

    make_simulated_dataset(tmp_path / "sim", **settings, photos=("grace_hopper",))
    assert stamp.read_text().split()[-1] == "grace_hopper"
    assert Image.open(frame).size == (512, 600)  # Grace Hopper

    foreign = tmp_path / "photos"
    foreign.mkdir()
    (foreign / "mine.png").write_bytes(b"")
    with pytest.raises(TrainingError, match="holds other files"):
        make_simulated_dataset(foreign, **settings)
    assert (foreign / "mine.png").exists()
    # Only main turns the error into an exit, with its message and no traceback.
    with pytest.raises(SystemExit, match="^error: .*holds other files"):
        build_default_weights.main(["--data", str(foreign), "--no-progress"])
    assert (foreign / "mine.png").exists()


def test_london_trainers_exit_with_a_message_on_a_folder_that_is_not_the_set(tmp_path):
    """london_people raises TrainingError below main; each trainer's main exits with it."""
    from trainers import build_default_weights, feature_bands, severity_simulated
    from trainers._london import london_people
    from trainers._run import TrainingError

    with pytest.raises(TrainingError, match="not the Face Research Lab London Set"):
        london_people(tmp_path)
    for folder in ("neutral", "smiling"):
        (tmp_path / folder).mkdir()
    with pytest.raises(TrainingError, match="no NNN_03.jpg / NNN_08.jpg photo pairs"):
        london_people(tmp_path)
    weights = tmp_path / "w"
    with pytest.raises(SystemExit, match="^error: no NNN_03.jpg"):
        build_default_weights.main(["--faces", str(tmp_path), "--weights-dir", str(weights)])
    with pytest.raises(SystemExit, match="^error: no NNN_03.jpg"):
        feature_bands.main(["--faces", str(tmp_path), "--out", str(tmp_path / "bands.json")])
    with pytest.raises(SystemExit, match="^error: no NNN_03.jpg"):
        severity_simulated.main(["--faces", str(tmp_path), "--out", str(tmp_path / "sim")])
    assert not weights.exists() and not (tmp_path / "bands.json").exists()
    assert not (tmp_path / "sim").exists()


# -- the London geometry model: person splits, calibration, the default's build ----------------
from pathlib import Path  # noqa: E402

from trainers._person_eval import PlattScaling, roc_auc, split_people  # noqa: E402

LONDON = Path(__file__).resolve().parents[1].parent / "shared" / "faces" / "london"
needs_london = pytest.mark.skipif(
    not (LONDON / "neutral" / "001_03.jpg").is_file(),
    reason="the Face Research Lab London Set is not at ../shared/faces/london")


def test_person_folds_and_calibration_split_never_share_a_person():
    from trainers._london import person_folds

    people = [f"{i:03d}" for i in range(1, 83)]
    folds = person_folds(people, 5)
    assert sorted(p for fold in folds for p in fold) == people
    assert max(map(len, folds)) - min(map(len, folds)) <= 1
    for fold in folds:
        train = sorted(set(people) - set(fold))
        fit, calibration = split_people(train, 0.2, seed=0)
        assert not set(fit) & set(calibration) and not (set(fit) | set(calibration)) & set(fold)
        assert sorted(fit + calibration) == train and len(calibration) == round(0.2 * len(train))


def test_platt_scaling_recovers_a_known_curve_and_keeps_the_ranking():
    rng = np.random.default_rng(0)
    logit = rng.normal(0, 3, size=4000)
    y = (rng.random(4000) < 1 / (1 + np.exp(-(0.5 * logit - 1.0)))).astype(int)
    platt = PlattScaling.fit(logit, y)
    # Classes are weighted equally: the intercept absorbs the sample's prevalence.
    prevalence = y.mean()
    shift = np.log((1 - prevalence) / prevalence)
    assert platt.a == pytest.approx(0.5, abs=0.05)
    assert platt.b == pytest.approx(-1.0 + shift, abs=0.15)
    assert roc_auc(y, platt.apply(logit)) == pytest.approx(roc_auc(y, logit))
    with pytest.raises(ValueError, match="both classes"):
        PlattScaling.fit(logit, np.ones_like(y))


def test_roc_auc_counts_ties_half():
    assert roc_auc([1, 1, 0, 0], [0.9, 0.5, 0.5, 0.1]) == pytest.approx(0.875)
    assert roc_auc([1, 0], [0.2, 0.8]) == 0.0
    assert np.isnan(roc_auc([1, 1], [0.2, 0.8]))


@needs_london
def test_london_build_promotes_a_calibrated_geometry_model(tmp_path, analyzer, face_photo,
                                                          drooped_face):
    """The default's build end to end on six people (2 folds), into a temporary folder."""
    import os

    from trainers import build_default_weights
    from trainers._london import london_people

    people = london_people(LONDON)[:6]
    faces = tmp_path / "faces"
    for folder, suffix in (("neutral", "_03.jpg"), ("smiling", "_08.jpg")):
        (faces / folder).mkdir(parents=True)
        for person in people:  # links, never copies, of the photos
            os.symlink(LONDON / folder / f"{person}{suffix}", faces / folder / f"{person}{suffix}")
    status = build_default_weights.main([
        "--faces", str(faces), "--cache", str(tmp_path / "cache"), "--folds", "2",
        "--bootstrap", "20", "--weights-dir", str(tmp_path / "w"), "--name", "tiny_geometry",
        "--no-progress"])
    assert status == 0
    card = json.loads((tmp_path / "w" / "palsy" / "tiny_geometry.json").read_text())
    held_out = card["metrics"]["person_held_out"]
    assert held_out["n_people"] == 6 and held_out["n_folds"] == 2
    for key in ("roc_auc", "roc_auc_ci95_low", "f1_at_0_5", "brier", "ece",
                "plain_region_score_roc_auc"):
        assert 0.0 <= held_out[key] <= 1.0
    assert card["config"]["calibration"]["method"] == "platt"
    across = card["metrics"]["across_simulators_roc_auc"]
    assert set(across) == {"palsy_sim_to_composite", "composite_to_palsy_sim"}
    assert all(0.0 <= v <= 1.0 for v in across.values())
    assert "zero or above" in card["protocol"]["constraint"]
    assert "DeBruine" in card["attribution"][0]
    kinds = card["training_data"]["rows_by_kind"]
    assert kinds["composite"] == 12 and kinds["real"] == 12
    from trainers.data.simulate import SIMULATOR_VERSION
    assert card["training_data"]["simulator_version"] == SIMULATOR_VERSION
    assert (tmp_path / "w" / "palsy" / "DEFAULT").read_text().strip() == "tiny_geometry"
    model = load_model("palsy", "tiny_geometry", tmp_path / "w")
    healthy = analyzer.analyze(face_photo)
    drooped = analyzer.analyze(drooped_face)
    p_healthy = model.predict(AnalyzedFace(face_photo, healthy.landmarks, healthy.blendshapes,
                                           healthy.features)).probability
    p_drooped = model.predict(AnalyzedFace(drooped_face, drooped.landmarks, drooped.blendshapes,
                                           drooped.features)).probability
    assert p_drooped > p_healthy


def test_bench_validity_scores_a_users_labelled_folders(tmp_path, capsys, face_photo,
                                                        drooped_face):
    """--palsy/--healthy: verdict, side from the file name, and both AUCs, on real analyses."""
    import argparse
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "bench_validity", Path(__file__).resolve().parents[1] / "benchmarks" / "bench_validity.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    (tmp_path / "palsy").mkdir()
    (tmp_path / "healthy").mkdir()
    Image.fromarray(drooped_face).save(tmp_path / "palsy" / "a_left.png")
    Image.fromarray(np.ascontiguousarray(drooped_face[:, ::-1])).save(
        tmp_path / "palsy" / "b_right.png")
    Image.fromarray(face_photo).save(tmp_path / "healthy" / "c.png")
    Image.fromarray(np.ascontiguousarray(face_photo[:, ::-1])).save(tmp_path / "healthy" / "d.png")
    out = bench.folders(argparse.Namespace(
        palsy=tmp_path / "palsy", healthy=tmp_path / "healthy",
        side_pattern=r"_(?P<side>left|right)\.", labels=None, expression="smile", model=None,
        bootstrap=50))
    assert (out["n_palsy"], out["n_healthy"], out["no_face"]) == (2, 2, 0)
    assert out["sensitivity_right_side"]["k"] == 2 and out["specificity"]["k"] == 2
    assert out["auc_probability"]["auc"] == 1.0 and out["auc_plain_region_score"]["auc"] == 1.0
    labels = bench._side_labels([Path("x_R.jpg"), Path("y.jpg")], r"_(?P<side>[lr])\.", None)
    assert labels == {"x_R.jpg": "right"}


@needs_london
def test_severity_simulated_writes_every_class_of_both_photos_of_a_person(tmp_path):
    """One London person: the unaltered photo and one simulated palsy per severity class, of
    the rest and the smile photo, named by person and expression, with the set's citation
    (the derived images stay in tmp_path)."""
    from palsy_core.models._severity import SEVERITY_CLASSES
    from trainers import severity_simulated
    from trainers._london import LONDON_CITATION, london_people

    person = london_people(LONDON)[0]
    summary = severity_simulated.write_dataset(LONDON, tmp_path, people=1, progress=False)
    classes = ("normal", *SEVERITY_CLASSES)
    assert summary["people"] == 1 and summary["skipped_photos"] == []
    assert summary["images_per_class"] == dict.fromkeys(classes, 2)
    assert summary["attribution"] == LONDON_CITATION
    for class_name in classes:
        assert sorted(p.name for p in (tmp_path / class_name).iterdir()) == [
            f"{person}_rest.jpg", f"{person}_smile.jpg"]
