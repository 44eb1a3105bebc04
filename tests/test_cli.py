"""The CLI over a mixed batch: one JSON line per input, in order; failures reported, batch goes on."""

import csv
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from palsy_core import compute_features, keypoints_51

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]


def _run(*args):
    return subprocess.run([sys.executable, "-m", "palsy_core", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)


def test_cli_batch(tmp_path, astronaut):
    from skimage import data

    photos = tmp_path / "photos"
    (photos / "sub").mkdir(parents=True)
    Image.fromarray(astronaut).save(photos / "a_face.jpg", quality=95)
    Image.fromarray(astronaut[:, ::-1]).save(photos / "sub" / "b_mirrored.png")
    Image.fromarray(data.coffee()).save(photos / "c_no_face.png")
    (photos / "d_empty.jpg").write_bytes(b"")
    good = (photos / "a_face.jpg").read_bytes()
    (photos / "e_truncated.jpg").write_bytes(good[: len(good) // 3])
    (photos / "f_notes.jpg").write_text("not a photo")
    (photos / "ignored.txt").write_text("directories are walked for images only")
    missing = tmp_path / "missing.jpg"
    out_csv = tmp_path / "out.csv"

    proc = _run("analyze", str(photos), str(missing), "--csv", str(out_csv), "--no-palsy-model")
    assert proc.returncode == 1, proc.stderr
    lines = [json.loads(line) for line in proc.stdout.splitlines()]
    names = [Path(r["file"]).name for r in lines]
    assert names == ["a_face.jpg", "c_no_face.png", "d_empty.jpg", "e_truncated.jpg",
                     "f_notes.jpg", "b_mirrored.png", "missing.jpg"]
    by_name = dict(zip(names, lines))
    required = {"file", "ok", "error", "image_size", "faces_found", "landmarks", "blendshapes",
                "head_pose", "features", "measurements", "region_asymmetry", "affected_side",
                "timings_ms"}
    assert all(required <= set(r) for r in lines)
    assert "Traceback" not in proc.stdout + proc.stderr

    face = by_name["a_face.jpg"]
    assert face["ok"] and face["error"] is None and face["image_size"] == [512, 512]
    assert face["faces_found"] == 1 and len(face["landmarks"]) == 478
    assert len(face["blendshapes"]) == 52 and len(face["features"]) == 29
    # The printed features follow from the printed landmarks.
    recomputed = compute_features(keypoints_51(np.array(face["landmarks"])))
    assert np.allclose(recomputed, face["features"], atol=0.05)
    assert by_name["b_mirrored.png"]["ok"]

    errors = {n: (r["ok"], r["error_code"], r["error"]) for n, r in by_name.items() if not r["ok"]}
    assert errors["c_no_face.png"][1] == "no_face"
    assert errors["d_empty.jpg"][1] == "empty_file"
    assert errors["e_truncated.jpg"][1] == "truncated_image"
    assert errors["f_notes.jpg"][1] == "not_an_image"
    assert "not found" in errors["missing.jpg"][2]
    assert len({e[2] for e in errors.values()}) == len(errors)  # each its own message

    with open(out_csv, newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [Path(r["file"]).name for r in rows] == names
    assert rows[0]["ok"] == "True" and float(rows[0]["f8_eye_width_ratio"]) > 0.8
    assert float(rows[0]["brow_height_left"]) > 0


def test_cli_all_good_exits_zero(tmp_path, astronaut):
    path = tmp_path / "face.png"
    Image.fromarray(astronaut).save(path)
    proc = _run("analyze", str(path), "--no-palsy-model")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["ok"] is True


def test_cli_assessment_and_stated_expression(tmp_path, face_photo, drooped_face):
    """JSON "assessment": three states; affected_side is null unless the status is asymmetry."""
    from skimage import data

    Image.fromarray(face_photo).save(tmp_path / "a_healthy.png")
    Image.fromarray(drooped_face).save(tmp_path / "b_drooped.png")
    Image.fromarray(data.coffee()).save(tmp_path / "c_no_face.png")
    out_csv = tmp_path / "out.csv"
    proc = _run("analyze", str(tmp_path), "--expression", "smile", "--no-palsy-model",
                "--csv", str(out_csv))
    records = {Path(r["file"]).name: r for r in map(json.loads, proc.stdout.splitlines())}
    for record in records.values():
        verdict = record["assessment"]
        assert {"status", "affected_side", "regions", "reasons"} <= set(verdict)
        assert verdict["affected_side"] == record["affected_side"]
        assert (verdict["affected_side"] is not None) == (verdict["status"] == "asymmetry")
    healthy, drooped = records["a_healthy.png"]["assessment"], records["b_drooped.png"]["assessment"]
    assert healthy["status"] == "within_normal" and healthy["expression_source"] == "stated"
    assert drooped["status"] == "asymmetry" and drooped["affected_side"] == "left"
    mouth = next(r for r in drooped["regions"] if r["name"] == "mouth")
    assert mouth["beyond_limit"] and mouth["difference_mm"] > mouth["limit_mm"]
    missing = records["c_no_face.png"]["assessment"]
    assert missing["status"] == "not_assessable" and missing["reasons"][0]["code"] == "no_face"
    with open(out_csv, newline="") as handle:
        statuses = [row["status"] for row in csv.DictReader(handle)]
    assert statuses == ["within_normal", "asymmetry", "not_assessable"]

    # The stated expression wins: "rest" on a broad smile is flagged once, not assessed.
    proc = _run("analyze", str(tmp_path / "a_healthy.png"), "--expression", "rest", "--no-palsy-model")
    record = json.loads(proc.stdout)
    verdict = record["assessment"]
    assert verdict["status"] == "not_assessable" and record["affected_side"] is None
    assert [r["code"] for r in verdict["reasons"]] == ["expression_contradicted"]
    assert verdict["expression_mismatch"] and not any("rest" in w for w in record["warnings"])

