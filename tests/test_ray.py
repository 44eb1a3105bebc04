"""LOPO folds as Ray tasks: the same fold records and Table 1 as a sequential run."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

# Not imported here: the trainer imports it, with usage statistics off, as it would be run.
if importlib.util.find_spec("ray") is None:
    pytest.skip("ray is not installed (pip install -r requirements-dev.txt)",
                allow_module_level=True)

from trainers import fusion  # noqa: E402
from test_trainers import lopo_flags  # noqa: E402  (the same small run)

ROOT = Path(__file__).resolve().parents[1]


def _folds(run_dir: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted((run_dir / "folds").glob("fold_*.json"))]


def test_folds_on_a_local_ray_with_two_workers_match_the_sequential_run(simulated_pair,
                                                                         tmp_path):
    # Early fusion exercises every stage a fold has: the FNN, the image model on cached
    # frozen features (filled by the driver before the tasks start), the head, mirrors.
    flags = ("--fnn-epochs", "3", "--image-epochs", "2", "--epochs", "3", "--mirror")
    sequential, on_ray = tmp_path / "sequential", tmp_path / "ray"
    fusion.main(lopo_flags(simulated_pair, sequential, *flags))
    fusion.main(lopo_flags(simulated_pair, on_ray, *flags, "--ray", "--ray-num-cpus", "2"))

    expected, got = _folds(sequential), _folds(on_ray)
    assert len(got) == len(expected) == 3
    for a, b in zip(expected, got):
        assert (a["fold"], a["test_subject"], a["n_train"], a["n_test"]) == \
               (b["fold"], b["test_subject"], b["n_train"], b["n_test"])
        assert [p["path"] for p in a["predictions"]] == [p["path"] for p in b["predictions"]]
        for p, q in zip(a["predictions"], b["predictions"]):
            assert q["probability"] == pytest.approx(p["probability"], abs=1e-4)
        assert a["metrics"] == b["metrics"]
        assert a["training"]["head"]["epochs_run"] == b["training"]["head"]["epochs_run"]
    for name in ("results_table.csv", "per_fold.csv"):
        table = (sequential / name).read_text().replace(str(sequential), "RUN")
        assert (on_ray / name).read_text().replace(str(on_ray), "RUN") == table
    # Every cache write went through a temporary name and a rename: none is left over.
    cache = simulated_pair[2]
    assert not [p for p in cache.rglob(".*tmp*")]


def test_ray_refuses_to_run_a_single_fold(simulated_pair, tmp_path):
    with pytest.raises(SystemExit, match="drop --fold"):
        fusion.main(lopo_flags(simulated_pair, tmp_path / "one", "--fold", "0", "--ray"))


def test_trainers_import_no_ray_without_the_flag():
    code = ("import sys, trainers.fnn, trainers.image, trainers.fusion, trainers.collect\n"
            "p = trainers.fnn.build_parser().parse_args(['--out', 'x', '--ray'])\n"
            "assert p.ray == 'local', p.ray\n"
            "assert 'ray' not in sys.modules, 'ray imported'\n")
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)
