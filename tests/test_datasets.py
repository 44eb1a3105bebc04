"""Readers on small data sets written in the real on-disk layouts by the simulators."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest

from palsy_core import load_image
from trainers.data.datasets import (
    DatasetError,
    Sample,
    read_ckplus,
    read_class_folders,
    read_yfp,
    yfp_binary_label,
)
from palsy_core.errors import PalsyError
from trainers.data.simulate import (
    write_simulated_ckplus,
    write_simulated_class_folders,
    write_simulated_yfp,
)


@pytest.fixture(scope="module")
def faces(astronaut, astronaut_landmarks):
    return [(astronaut, astronaut_landmarks)]


@pytest.fixture(scope="module")
def yfp(tmp_path_factory, faces):
    root = tmp_path_factory.mktemp("yfp")
    expected = write_simulated_yfp(root, faces, n_subjects=3, frames_per_subject=4, seed=1,
                                   malformed_xml=2)
    return root, expected


def voc(*names: str) -> str:
    objects = "".join(
        f"<object><name>{name}</name><bndbox><xmin>1</xmin><ymin>2</ymin><xmax>30</xmax>"
        f"<ymax>40</ymax></bndbox></object>" for name in names)
    return f"<annotation><filename>1.bmp</filename>{objects}</annotation>"


def write_yfp_frame(root: Path, subject: str, n: int, xml: str | None) -> None:
    (root / "Image" / subject).mkdir(parents=True, exist_ok=True)
    (root / "Image" / subject / f"{n}.bmp").write_bytes(b"BM")  # readers never decode
    if xml is not None:
        (root / "Image_large_XML" / subject).mkdir(parents=True, exist_ok=True)
        (root / "Image_large_XML" / subject / f"{n}.xml").write_text(xml)


def test_yfp_written_then_read_back_with_malformed_labels_counted(yfp):
    root, expected = yfp
    with pytest.warns(UserWarning, match="malformed XML") as caught:
        report = read_yfp(root)
    assert report.samples == expected
    assert len(expected) == 3 * 4 - 2
    assert report.skipped == 2 and len(report.skipped_files) == 2
    assert all(path.suffix == ".xml" and "malformed" in reason
               for path, reason in report.skipped_files)
    assert len([w for w in caught if "malformed" in str(w.message)]) == 2
    assert {s.subject for s in report.samples} == {"yfp/P01", "yfp/P02", "yfp/P03"}
    assert all(s.dataset == "yfp" and s.path.suffix == ".bmp" for s in report.samples)


def test_yfp_frames_are_real_faces_and_boxes_fit_them(yfp, landmarker):
    root, expected = yfp
    sample = expected[0]
    rgb = load_image(sample.path)
    points = landmarker.detect(rgb).landmarks
    xml = (root / "Image_large_XML" / sample.path.parent.name / f"{sample.path.stem}.xml")
    text = xml.read_text()
    mouth_box = text[text.index("_Mouth</name>"):]
    box = [int(mouth_box.split(f"<{tag}>")[1].split("<")[0])
           for tag in ("xmin", "ymin", "xmax", "ymax")]
    for corner in (61, 291):
        assert box[0] - 4 <= points[corner, 0] <= box[2] + 4
        assert box[1] - 4 <= points[corner, 1] <= box[3] + 4


@pytest.mark.parametrize("names, eye, mouth, palsy", [
    (("Normal_Eyes", "Normal_Mouth"), 0.0, 0.0, 0),
    (("SlightPalsy_Eyes", "Normal_Mouth"), 0.5, 0.0, 0),
    (("Normal_Eyes", "SlightPalsy_Mouth"), 0.0, 0.5, 0),
    (("SlightPalsy_Eyes", "SlightPalsy_Mouth"), 0.5, 0.5, 1),
    (("StrongPalsy_Eyes", "Normal_Mouth"), 1.0, 0.0, 1),
    (("Normal_Eyes", "StrongPalsy_Mouth"), 0.0, 1.0, 1),
    (("SlightPalsy_Eyes", "StrongPalsy_Mouth"), 0.5, 1.0, 1),
    (("StrongPalsy_Mouth",), 0.0, 1.0, 1),                       # unlabelled eyes: normal
    (("SlightPalsy_Eye", "face", "SlightPalsy_Mouth"), 0.5, 0.5, 1),  # singular, extra box
    (("SlightPalsy_Eyes", "StrongPalsy_Eyes", "Normal_Mouth"), 1.0, 0.0, 1),  # stronger wins
])
def test_yfp_binary_rule_on_hand_written_xml(tmp_path, names, eye, mouth, palsy):
    write_yfp_frame(tmp_path, "P05", 1, voc(*names))
    [sample] = read_yfp(tmp_path).samples
    assert (sample.eye, sample.mouth, sample.palsy) == (eye, mouth, palsy)
    assert sample.label_combination == (palsy, eye, mouth, None)
    assert yfp_binary_label(eye, mouth) == palsy


def test_yfp_frames_without_usable_labels_are_skipped_and_counted(tmp_path):
    write_yfp_frame(tmp_path, "P01", 1, voc("StrongPalsy_Eyes", "Normal_Mouth"))
    write_yfp_frame(tmp_path, "P01", 2, None)                          # no XML
    write_yfp_frame(tmp_path, "P01", 3, voc("ModeratePalsy_Eyes"))     # unknown label
    write_yfp_frame(tmp_path, "P01", 10, voc("face"))                  # no region label
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        report = read_yfp(tmp_path)
    assert [s.path.name for s in report.samples] == ["1.bmp"]
    assert report.skipped == 3 and len(caught) == 3
    reasons = " | ".join(reason for _, reason in report.skipped_files)
    assert "no label file" in reasons and "unknown label 'ModeratePalsy_Eyes'" in reasons
    assert "no {Normal|SlightPalsy|StrongPalsy}_{Eyes|Mouth} object" in reasons


def test_yfp_frames_sort_numerically(tmp_path):
    for n in (10, 2, 1):
        write_yfp_frame(tmp_path, "P01", n, voc("Normal_Eyes", "Normal_Mouth"))
    assert [s.path.name for s in read_yfp(tmp_path).samples] == ["1.bmp", "2.bmp", "10.bmp"]


def test_ckplus_written_then_read_back(tmp_path, faces):
    expected = write_simulated_ckplus(tmp_path, faces, n_subjects=2, frames_per_subject=5,
                                      seed=2)
    (tmp_path / "cohn-kanade-images" / "S005" / "001" / "notes.png").write_bytes(b"x")
    with pytest.warns(UserWarning, match="notes.png"):
        report = read_ckplus(tmp_path)
    assert sorted(report.samples, key=str) == sorted(expected, key=str)
    assert len(expected) == 10 and report.skipped == 1
    assert {s.subject for s in expected} == {"ckplus/S005", "ckplus/S008"}
    assert all(s.palsy == 0 and s.eye == 0 and s.mouth == 0 for s in report.samples)
    emotions = sorted((tmp_path / "Emotion").rglob("*_emotion.txt"))
    assert len(emotions) == 4  # sequences of 4 + 1 frames per subject
    assert all(0 <= float(path.read_text()) <= 7 for path in emotions)
    assert load_image(expected[0].path).shape == (512, 512, 3)


def test_class_folders_written_then_read_back(tmp_path, faces):
    expected = write_simulated_class_folders(tmp_path, faces, 2, seed=3)
    report = read_class_folders(tmp_path)
    assert sorted(report.samples, key=str) == sorted(expected, key=str)
    assert {s.severity for s in report.samples} == {
        "mild_eye", "mild_mouth", "moderate_eye", "moderate_mouth", "severe_eye", "severe_mouth"}
    severe_mouth = [s for s in report.samples if s.severity == "severe_mouth"]
    assert all((s.palsy, s.eye, s.mouth) == (1, 0.0, 1.0) for s in severe_mouth)
    mild_eye = [s for s in report.samples if s.severity == "mild_eye"]
    assert all((s.eye, s.mouth) == (0.5, 0.0) for s in mild_eye)
    for sample in report.samples:
        assert sample.subject == f"folder/{sample.path.name.split('_')[0]}"


def test_class_folder_patients_from_file_names(tmp_path):
    for relative in ("normal/014_rest.jpg", "severe_eye/14-smile.png", "mild_mouth/anna.jpg",
                     "mild_mouth/.hidden.jpg", "mild_mouth/readme.txt"):
        (tmp_path / relative).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / relative).write_bytes(b"x")
    samples = {s.path.name: s for s in read_class_folders(tmp_path).samples}
    assert set(samples) == {"014_rest.jpg", "14-smile.png", "anna.jpg"}
    assert samples["014_rest.jpg"] == Sample(path=tmp_path / "normal/014_rest.jpg",
                                             subject="folder/14", dataset="folder", palsy=0)
    assert samples["14-smile.png"].subject == "folder/14"
    assert (samples["14-smile.png"].palsy, samples["14-smile.png"].eye) == (1, 1.0)
    assert samples["anna.jpg"].subject == "folder/anna"


@pytest.mark.parametrize("reader", [read_yfp, read_ckplus, read_class_folders])
def test_missing_or_empty_roots_give_clear_errors(tmp_path, reader):
    with pytest.raises(DatasetError, match="does not exist"):
        reader(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(PalsyError) as error:
        reader(tmp_path / "empty")
    assert isinstance(error.value, ValueError) and str(tmp_path / "empty") in str(error.value)


def test_yfp_without_label_folder_is_refused(tmp_path):
    (tmp_path / "Image" / "P01").mkdir(parents=True)
    with pytest.raises(DatasetError, match="Image_large_XML"):
        read_yfp(tmp_path)

