"""Each error class carries its own user-facing title and code: no table elsewhere maps
errors to words, so a new error cannot be shown without a title of its own."""

from __future__ import annotations

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
