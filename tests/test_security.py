"""Hostile input stays inert, weights never run code, and the CLI says what happened.

Issue 14: notes and file names as Markdown, CSV formulas, overlong patient codes,
booby-trapped weights folders, non-UTF-8 file names and the CLI's exit codes.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from PIL import Image

from app_testing import served_app

from palsy_core.errors import ModelNotInstalledError, PatientCodeError
from palsy_core.models import (ModelCard, ModelConfig, build_network, load_model, palsy_card, save_model,
                               write_palsy_weights)
from palsy_core.report import assessment_csv, assessment_pdf
from palsy_core.safe_text import check_patient_code, csv_cell, csv_text
from app_pages.ui.text import plain

ROOT = Path(__file__).resolve().parents[1]


# -- CSV: one rule for every writer ----------------------------------------------------------

@pytest.mark.parametrize("text", ["=1+1", "+1", "-1", "@SUM(A1)", "\t=1", "\r=1"])
def test_every_formula_start_is_neutralised(text):
    assert csv_cell(text) == "'" + text


def test_numbers_and_plain_text_are_left_alone():
    assert csv_cell(-1.5) == -1.5 and csv_cell("P-0042") == "P-0042" and csv_cell(None) is None


def test_a_line_break_or_carriage_return_never_splits_a_row():
    text = csv_text(["a", "b"], [["one\ntwo", "x\ry"], ["=cmd", 3]])
    assert list(csv.reader(io.StringIO(text, newline=""))) == [["a", "b"], ["one\ntwo", "x\ry"], ["'=cmd", "3"]]


def test_report_csv_uses_the_shared_rule():
    data = {"file": "=HYPERLINK(\"http://evil\")", "headline": "\tsneaky", "warnings": ["@cmd"]}
    rows = list(csv.DictReader(io.StringIO(assessment_csv(data, patient="P-1"))))
    values = {row["name"]: row for row in rows}
    assert values["source"]["value"].startswith("'=")
    assert values["headline"]["value"] == "'\tsneaky"
    assert values["warning_1"]["note"] == "'@cmd"


# -- patient codes, wherever they are used ---------------------------------------------------

@pytest.mark.parametrize("code", ["x" * 330, "Jane Doe", "P-1\n=cmd", "../../etc/passwd", ""])
def test_bad_patient_codes_are_refused_in_pdf_and_csv(code):
    data = {"headline": "h"}
    if code:
        with pytest.raises(PatientCodeError, match="pseudonymous patient code"):
            assessment_csv(data, patient=code)
        with pytest.raises(PatientCodeError, match="pseudonymous patient code"):
            assessment_pdf(data, patient=code, visit_date=dt.date(2024, 1, 1))
    with pytest.raises(PatientCodeError) as caught:
        check_patient_code(code)
    assert caught.value.title == "Patient code not valid"


def test_a_330_character_code_says_how_long_it_is():
    with pytest.raises(PatientCodeError, match="330 characters"):
        check_patient_code("P" * 330)


# -- Markdown: stored and file-supplied text is plain text -----------------------------------

@pytest.mark.parametrize("hostile", [
    "![x](http://host/pixel.png)",
    "[click me](http://host/)",
    "<img src=x onerror=alert(1)>",
    ":red[alarm] $x^2$ `code` **bold**",
    "see http://host/x or www.host.com",
])
def test_plain_leaves_no_markdown_construct(hostile):
    shown = plain(hostile)
    # Every character that opens a link, an image, HTML, code, emphasis, math or a
    # Streamlit directive is escaped; URLs cannot auto-link.
    assert not re.search(r"(?<!\\)[\[\]<>`*$]", shown)
    assert "://" not in shown and "www." not in shown
    assert shown.replace("\\", "") == hostile  # the same characters, only escaped


def test_plain_folds_lines_and_escapes_line_starts():
    assert plain("# title\n> quote") == "\\# title \\> quote"
    assert plain("1. item") == "1\\. item"


# -- weights never execute code --------------------------------------------------------------

class _Trap:
    """Unpickling this runs os.system: what a booby-trapped checkpoint would do."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def _card(name: str, config: ModelConfig) -> ModelCard:
    return palsy_card(name, config, trained_on="unit-test data", trained_on_simulated_data=True,
                      training_data={"samples": 0}, protocol={"protocol": "none"}, metrics={},
                      intended_use="tests only")


def _trapped_folder(tmp_path: Path, *, with_sha: bool) -> tuple[Path, Path]:
    """A weights folder whose card names a pickled, code-running 'checkpoint' as its backbone."""
    marker = tmp_path / "pwned"
    trap = tmp_path / "backbone.pth"
    torch.save({"model": _Trap(marker)}, trap)
    config = ModelConfig("fnn", structured_modality="blendshapes")
    net = build_network(config)
    image_config = ModelConfig("image", image_modality="rgb", image_architecture="efficientnet_lite0",
                               backbone={"kind": "checkpoint", "file": str(trap),
                                         **({"sha256": hashlib.sha256(trap.read_bytes()).hexdigest()}
                                            if with_sha else {})})
    folder = tmp_path / "weights"
    save_model(_card("trapped", config), write_palsy_weights(net), weights_dir=folder)
    card_path = folder / "palsy" / "trapped.json"
    card = json.loads(card_path.read_text())
    card["config"] = image_config.to_dict()  # the card now names the trap as its backbone
    card["architecture"] = "palsy_image"
    card_path.write_text(json.dumps(card))
    return folder, marker


@pytest.mark.parametrize("with_sha", [True, False])
def test_a_pickled_backbone_is_refused_and_never_run(tmp_path, with_sha):
    folder, marker = _trapped_folder(tmp_path, with_sha=with_sha)
    with pytest.raises(ModelNotInstalledError, match="pickled Python object|without a sha256"):
        load_model("palsy", "trapped", folder)
    assert not marker.exists()


def test_a_backbone_file_swapped_after_training_is_refused(tmp_path):
    folder, marker = _trapped_folder(tmp_path, with_sha=True)
    (tmp_path / "backbone.pth").write_bytes(b"something else")
    with pytest.raises(ModelNotInstalledError, match="sha256 differs"):
        load_model("palsy", "trapped", folder)


def test_weights_file_that_differs_from_its_card_is_refused(tmp_path):
    config = ModelConfig("fnn", structured_modality="blendshapes")
    save_model(_card("plain", config), write_palsy_weights(build_network(config)), weights_dir=tmp_path)
    weights = tmp_path / "palsy" / json.loads((tmp_path / "palsy" / "plain.json").read_text())["weights_file"]
    torch.save({"weights": {}, "extra": [1, 2, 3]}, weights)
    with pytest.raises(ModelNotInstalledError, match="sha256"):
        load_model("palsy", "plain", tmp_path)


# -- CLI: exit codes and awkward file names --------------------------------------------------

def _cli(*args, cwd=ROOT):
    return subprocess.run([sys.executable, "-m", "palsy_core", *args], cwd=cwd, capture_output=True,
                          timeout=300, env={**os.environ, "PYTHONPATH": str(ROOT), "GLOG_minloglevel": "2"})


@pytest.mark.slow
def test_cli_exit_codes(tmp_path, astronaut):
    good = tmp_path / "face.jpg"
    Image.fromarray(astronaut).save(good)
    assert _cli("analyze", str(good), "--no-palsy-model").returncode == 0
    assert _cli("analyze", str(good), str(tmp_path / "missing.jpg"), "--no-palsy-model").returncode == 1
    assert _cli("analyze").returncode == 2  # usage: no input
    blocked = _cli("analyze", str(good), "--no-palsy-model", "--csv", str(tmp_path / "no" / "such" / "dir.csv"))
    assert blocked.returncode == 2 and b"Cannot write the CSV file" in blocked.stderr


@pytest.mark.slow
def test_cli_csv_with_a_non_utf8_file_name(tmp_path, astronaut):
    folder = os.fsencode(tmp_path)
    latin1 = os.path.join(folder, b"caf\xe9-photo.jpg")  # Latin-1 name: not valid UTF-8
    Image.fromarray(astronaut).save(os.fsdecode(latin1), format="JPEG")
    out = tmp_path / "out.csv"
    result = _cli("analyze", os.fsdecode(latin1), "--no-palsy-model", "--csv", str(out))
    assert result.returncode == 0, result.stderr.decode(errors="replace")[-2000:]
    line = json.loads(result.stdout.decode("utf-8"))
    assert line["ok"] and line["file"].endswith("caf\\xe9-photo.jpg")
    rows = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8"))))
    assert rows[0]["file"].endswith("caf\\xe9-photo.jpg") and rows[0]["ok"] == "True"


@pytest.mark.slow
def test_cli_refuses_a_huge_file_without_reading_it(tmp_path):
    from palsy_core.imageio import MAX_FILE_BYTES

    huge = tmp_path / "huge.jpg"
    with open(huge, "wb") as handle:
        handle.truncate(MAX_FILE_BYTES + 1)
    result = _cli("analyze", str(huge), "--no-palsy-model")
    line = json.loads(result.stdout)
    assert result.returncode == 1 and line["error_code"] == "file_too_large" and "was not read" in line["error"]


# -- the server answers only to the host names it serves -------------------------------------

def _upgrade_status(port: int, host: str) -> str:
    """Status line of a WebSocket upgrade to the app's stream, sent with this Host header."""
    import base64
    import socket

    with socket.create_connection(("127.0.0.1", port), timeout=10) as connection:
        key = base64.b64encode(os.urandom(16)).decode()
        connection.sendall((f"GET /_stcore/stream HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\n"
                            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
                            f"Origin: http://{host}\r\n\r\n").encode())
        return connection.recv(200).decode(errors="replace").splitlines()[0]


@pytest.mark.slow
def test_server_refuses_a_foreign_host_header(tmp_path):
    """DNS rebinding: a page on evil.example resolving to 127.0.0.1 gets no session."""
    env = {**os.environ, "PALSY_DB_URL": f"sqlite:///{tmp_path / 'records.sqlite3'}", "GLOG_minloglevel": "2"}
    with served_app(tmp_path, env) as (url, _log):
        port = int(url.rsplit(":", 1)[1])
        assert _upgrade_status(port, f"127.0.0.1:{port}").split()[1] == "101"
        assert _upgrade_status(port, f"localhost:{port}").split()[1] == "101"
        assert _upgrade_status(port, f"evil.example:{port}").split()[1] == "403"
        assert _upgrade_status(port, "127.0.0.1.evil.example").split()[1] == "403"
