"""User- and file-supplied text (notes, codes, file names, model card fields) shown inert.

Streamlit renders Markdown in ``st.markdown``, ``st.caption``, ``st.error`` and friends:
a note ``![x](http://host/pixel.png)`` would make the viewer's browser fetch that
address, and ``[text](url)`` would become a link. Every such string goes through
:func:`plain` before it is embedded in Markdown; whole blocks of stored text are shown
with ``st.text`` (never Markdown) instead.
"""

from __future__ import annotations

import re

__all__ = ["plain"]

# Characters that start a Markdown or HTML construct anywhere in a line: links and
# images ([ ] ( after ]), raw HTML (< >), code (`), emphasis (* _ ~), math ($),
# Streamlit's :color[...] directives (need [), tables (|) and escapes (\\).
_SPECIAL = re.compile(r"([\\`*_{}\[\]<>|~$])")
# Constructs that only count at the start of a line: headings, quotes, lists, rules.
_LINE_START = re.compile(r"^(\s*)([#>+\-=])")
_NUMBERED = re.compile(r"^(\s*\d+)([.)])")


def plain(text: object) -> str:
    """``text`` shown as the same characters and nothing else when embedded in Markdown.

    Line breaks fold to spaces; Markdown/HTML metacharacters are backslash-escaped, and
    ``://`` becomes ``:\\/\\/`` so a bare URL is not turned into a link either. Ordinary
    punctuation (. , ( ) - ' ") is left as it is, so messages read naturally.
    """
    value = " ".join(str(text if text is not None else "").split())
    value = _SPECIAL.sub(r"\\\1", value)
    value = value.replace("://", ":\\/\\/").replace("www.", "www\\.")
    value = _NUMBERED.sub(r"\1\\\2", value)
    return _LINE_START.sub(r"\1\\\2", value)
