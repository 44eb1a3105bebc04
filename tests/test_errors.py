"""Each error class carries its own user-facing title and code: no table elsewhere maps
errors to words, so a new error cannot be shown without a title of its own. Library code
never ends the process: the CLI's main returns its exit status."""

from __future__ import annotations

from pathlib import Path

import pytest

from palsy_core.accounts import AccountError
from palsy_core.errors import PalsyError
from palsy_core.records import RecordBusyError


def _all_subclasses(cls: type) -> list[type]:
    found = []
    for sub in cls.__subclasses__():
        found += [sub, *_all_subclasses(sub)]
    return found


ERRORS = sorted(set(_all_subclasses(PalsyError)), key=lambda cls: cls.__qualname__)


@pytest.mark.parametrize("cls", ERRORS, ids=lambda cls: cls.__qualname__)
def test_every_error_class_has_its_own_title_and_code(cls):
    assert "title" in vars(cls) and cls.title.strip() and not cls.title.endswith(".")
    assert "code" in vars(cls) and cls.code.isidentifier()


def test_titles_and_codes_are_unique():
    assert {AccountError, RecordBusyError} <= set(ERRORS)
    assert len({cls.code for cls in ERRORS}) == len(ERRORS)
    assert len({cls.title for cls in ERRORS}) == len(ERRORS)


def test_the_cli_shows_the_title_and_the_message(tmp_path, capsys):
    from palsy_core.cli import main

    (tmp_path / "a.jpg").write_bytes(b"")
    assert main(["visit", str(tmp_path / "a.jpg")]) == 1
    from palsy_core.errors import EmptyFileError

    err = capsys.readouterr().err.strip()
    assert err.startswith(f"{EmptyFileError.title}: ") and "a.jpg" in err


def test_main_returns_exit_codes_and_never_raises_system_exit(capsys):
    from palsy_core.cli import EXIT_OK, EXIT_USAGE, main

    assert main(["analyze"]) == EXIT_USAGE  # no photo named
    assert "the following arguments are required: paths" in capsys.readouterr().err
    assert main(["analyze", "x.jpg", "--expression", "wink"]) == EXIT_USAGE
    assert "invalid choice: 'wink'" in capsys.readouterr().err
    assert main(["--help"]) == EXIT_OK
    assert "analyze" in capsys.readouterr().out


def test_library_code_never_raises_system_exit():
    """Only the command line's entry points may end the process (``sys.exit(main())``)."""
    import ast

    package = Path(__file__).resolve().parents[1] / "palsy_core"
    offenders = []
    for path in sorted(package.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            name = ast.unparse(node.func) if isinstance(node, ast.Call) else None
            if isinstance(node, ast.Raise) and node.exc is not None and "SystemExit" in ast.unparse(node.exc):
                offenders.append(f"{path.name}:{node.lineno}")
            elif name in ("sys.exit", "exit", "quit", "os._exit") and not (
                    path.name == "__main__.py" or _under_main_guard(tree, node)):
                offenders.append(f"{path.name}:{node.lineno}")
    assert offenders == []


def _under_main_guard(tree, target) -> bool:
    import ast

    for node in tree.body:
        if isinstance(node, ast.If) and "__name__" in ast.unparse(node.test):
            if any(child is target for child in ast.walk(node)):
                return True
    return False
