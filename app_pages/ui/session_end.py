"""Release a browser session's memory as soon as its tab closes.

Streamlit keeps a disconnected session (its script runner and the last run's variables,
its uploads, its images and download callables) in memory for a reconnect, and drops
it only lazily: on a quiet server a closed tab's photos stay in memory indefinitely.
For a clinic server holding patients' photos we prefer to end the session at once: a
tab that reconnects after a network blip starts a fresh session (sign in again; saved
visits are in the database, nothing is lost).

The hook, kept in this one module:

- a session-scoped ``st.cache_resource`` entry (public API) whose ``on_release`` runs
  when the session disconnects;
- it schedules ``Runtime.close_session`` (a public method of the runtime singleton) on
  the server's event loop, after the disconnect has finished, for a session that is no
  longer active; the session shuts down (uploads and images released);
- then glibc's ``malloc_trim`` hands the freed pages back to the operating system.

``tests/test_session_end.py`` fails if a Streamlit upgrade stops any step of this.
"""

from __future__ import annotations

import asyncio
import ctypes
import logging

import streamlit as st
from streamlit.runtime import Runtime
from streamlit.runtime.scriptrunner import get_script_run_ctx

logger = logging.getLogger("palsy_app")

__all__ = ["end_session_on_disconnect", "return_freed_memory"]


def end_session_on_disconnect() -> None:
    """Arrange for this browser session to be shut down when its connection closes."""
    ctx = get_script_run_ctx()
    if ctx is not None and Runtime.exists():
        _watch(ctx.session_id)


@st.cache_resource(scope="session", show_spinner=False, on_release=lambda session_id: _close_soon(session_id))
def _watch(session_id: str) -> str:
    return session_id


def _close_soon(session_id: str) -> None:
    try:
        loop = asyncio.get_running_loop()  # on_release runs on the server's event loop
    except RuntimeError:
        return
    loop.call_soon(_close, session_id)


def _close(session_id: str) -> None:
    if not Runtime.exists():
        return
    runtime = Runtime.instance()
    if runtime.is_active_session(session_id):  # a cache clear in a live session: keep it
        return
    runtime.close_session(session_id)
    return_freed_memory()
    logger.info("Session %s ended with its tab: its photos and uploads are released", session_id[:8])


def return_freed_memory() -> None:
    """Hand freed memory back to the operating system (glibc's ``malloc_trim``).

    glibc keeps the freed pixels of large photos in its arenas for reuse; without this
    a server's memory stays at its high-water mark after the sessions are gone.
    """
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc (macOS, musl): freed memory is still reused
        pass
