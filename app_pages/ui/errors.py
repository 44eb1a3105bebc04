"""Errors as the person in front of the app should see them.

palsy_core's errors already say what went wrong with *their* input and what to do next;
they are shown as they are, under a short title. Anything else is a bug: its traceback
goes to the server log, and the page shows a plain message without internals.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, TypeVar

import streamlit as st

from palsy_core.errors import PalsyError
from app_pages.ui.text import plain

logger = logging.getLogger("palsy_app")

T = TypeVar("T")


def show_error(error: BaseException, action: str) -> None:
    """Show an error on the page: specific for palsy_core errors, generic for bugs.

    Parameters
    ----------
    error : BaseException
    action : str
        What the app was doing, e.g. "analysing the photo" (used for unexpected errors).
    """
    if isinstance(error, PalsyError):
        message = str(error)
        message = message[:1].upper() + message[1:]
        title = error.title  # each error class carries its own
        # Messages quote file names and typed text: shown as plain text, never as Markdown.
        if message.lower().startswith(title.lower()):
            st.error(plain(message), icon=":material/error:")
        else:
            st.error(f"**{plain(title)}.** {plain(message)}", icon=":material/error:")
        return
    logger.error("Unexpected error while %s", action, exc_info=error)
    st.error(
        f"**Something went wrong while {action}.** This is a fault in the software, not in your "
        "file; it has been logged for the administrator. Try again, or try another file.",
        icon=":material/error:",
    )


def attempt(action: str, function: Callable[..., T], *args: Any, **kwargs: Any) -> T | None:
    """Call ``function``; on any error show it (see :func:`show_error`) and return None.

    Streamlit's own control flow (``st.rerun``, ``st.stop``) derives from BaseException
    and passes through untouched.
    """
    try:
        return function(*args, **kwargs)
    except Exception as error:  # every error must become a message, never a traceback
        show_error(error, action)
        return None
