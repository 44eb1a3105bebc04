"""Text that came from a user or a file, made safe where it leaves the program.

Two rules live here, and every writer uses them:

- **Patient codes** are pseudonymous: 1-40 letters, digits, ``_``, ``.`` or ``-``,
  starting with a letter or digit. The same check guards saving a visit, the PDF and
  CSV reports and any file name built from a code, so a name typed by mistake (or a
  330-character string) is refused everywhere with the same message.
- **CSV cells**: a spreadsheet runs a cell that starts with ``=``, ``+``, ``-``, ``@``,
  a tab or a carriage return as a formula (OWASP "CSV injection"); such a text cell is
  prefixed with ``'``. Numbers are written as numbers. Line breaks inside a cell are
  kept, and the ``csv`` module quotes that cell (CRLF line ends, ``QUOTE_MINIMAL``), so
  a note never splits a row.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Sequence
from typing import Any

from .errors import PatientCodeError

__all__ = ["PATIENT_CODE_MAX", "check_patient_code", "csv_cell", "csv_text", "is_patient_code"]

#: Longest patient code, in characters.
PATIENT_CODE_MAX = 40

_PATIENT_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,%d}$" % (PATIENT_CODE_MAX - 1))
# First characters that make a spreadsheet treat a cell as a formula.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def is_patient_code(text: str | None) -> bool:
    """True when ``text`` (surrounding spaces ignored) is a valid pseudonymous code."""
    return bool(_PATIENT_CODE.match((text or "").strip()))


def check_patient_code(text: str | None) -> str:
    """The code with surrounding spaces removed.

    Raises
    ------
    PatientCodeError
        When it is empty, too long, or holds anything but letters, digits, ``_``,
        ``.`` and ``-``.
    """
    code = (text or "").strip()
    if not _PATIENT_CODE.match(code):
        length = f" (this one has {len(code)} characters)" if len(code) > PATIENT_CODE_MAX else ""
        raise PatientCodeError(
            f"Enter a pseudonymous patient code: 1-{PATIENT_CODE_MAX} letters, digits, '-', '_' or "
            f"'.', no spaces{length}, for example P-0042. Never use the patient's name."
        )
    return code


def csv_cell(value: Any) -> Any:
    """One CSV cell: text that a spreadsheet would run as a formula gets a leading ``'``.

    Non-text values (numbers, None, booleans) are returned unchanged.
    """
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def csv_text(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """A whole CSV document with every cell passed through :func:`csv_cell`.

    Lines end with CRLF (RFC 4180): the ``csv`` module then quotes any cell holding a
    line feed *or* a carriage return, so no cell can split a row.
    """
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([csv_cell(name) for name in header])
    for row in rows:
        writer.writerow([csv_cell(value) for value in row])
    return out.getvalue()
