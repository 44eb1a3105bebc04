"""The trainers' shared run sequence and settings (trainers._run), and where the training
data code lives (the import rules themselves: tests/test_layout.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from trainers._run import Promotion, TrainingError, run_record_promote

ROOT = Path(__file__).resolve().parents[1]


def test_training_data_code_lives_under_trainers():
    for name in ("simulate", "datasets", "sampling", "metrics"):
        assert not (ROOT / "palsy_core" / f"{name}.py").exists(), name
    for path in ("data/simulate.py", "data/datasets.py", "data/sampling.py", "data/cache.py",
                 "metrics.py"):
        assert (ROOT / "trainers" / path).is_file(), path


def test_folds_are_recorded_and_summarised_before_the_model_is_promoted(tmp_path):
    order, logged = [], []

    def record_folds():
        for fold in (0, 1):
            (tmp_path / f"fold_{fold}.json").write_text(json.dumps({"fold": fold}))
            order.append(f"fold {fold}")
        return [json.loads(p.read_text()) for p in sorted(tmp_path.glob("fold_*.json"))]

    def summarise(records):
        order.append("summary")
        return {"folds": len(records)}

    def promote(summary):
        order.append("promote")
        assert (tmp_path / "fold_1.json").is_file()  # every record is written first
        weights = tmp_path / "weights" / f"m{summary['folds']}.pt"
        weights.parent.mkdir()
        weights.write_bytes(b"weights")
        return weights

    summary, path = run_record_promote(record_folds, summarise, promote, make_default=True,
                                       log=logged.append)
    assert order == ["fold 0", "fold 1", "summary", "promote"]
    assert summary == {"folds": 2} and path == tmp_path / "weights" / "m2.pt"
    assert logged == [f"promoted: {path} (now the default)"]

    order.clear()
    summary, path = run_record_promote(record_folds, summarise, None, log=logged.append)
    assert order == ["fold 0", "fold 1", "summary"] and path is None and len(logged) == 1


def test_make_default_without_a_name_is_refused():
    with pytest.raises(TrainingError, match="--promote NAME"):
        Promotion(make_default=True)
    assert Promotion(name="m", make_default=True).make_default


def test_a_trainers_main_turns_a_training_error_into_an_exit_with_the_message(tmp_path):
    from trainers import fnn

    # Refused while the settings are built, before any data is read.
    with pytest.raises(SystemExit, match="^error: --make-default needs --promote NAME"):
        fnn.main(["--yfp", str(tmp_path), "--out", str(tmp_path / "run"), "--make-default"])
    assert not (tmp_path / "run").exists()
