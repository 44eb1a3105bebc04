"""A closed browser tab ends its session at once (app_pages/ui/session_end.py's hook into Streamlit).

Fails if a Streamlit upgrade breaks any step: the session-scoped cache's on_release on
disconnect, the event-loop scheduling, or Runtime.close_session of the stored session.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest

from app_testing import served_app

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="Debian's chromium is not installed (apt-get install chromium)"
)

# A minimal page that installs the hook, as streamlit_app.py does, and reports shutdowns.
# The server runs in the repository root, as the app does (`python -m` puts it on the path).
SCRIPT = """
import logging
import streamlit as st
from app_pages.ui import session_end
logging.basicConfig(level=logging.WARNING)
logging.getLogger("palsy_app").setLevel(logging.INFO)
session_end.end_session_on_disconnect()
st.write("session", st.context.headers.get("host", "?"))
"""


@pytest.mark.slow
def test_closing_the_tab_shuts_the_session_down(tmp_path):
    script = tmp_path / "page.py"
    script.write_text(SCRIPT)
    with served_app(tmp_path, {**os.environ, "GLOG_minloglevel": "2"}, script=script) as (url, log_path):
        from playwright.sync_api import sync_playwright

        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM,
                                                 args=["--no-sandbox", "--disable-gpu"])
            page = browser.new_page()
            page.goto(url)
            page.get_by_text("session").first.wait_for(timeout=60_000)
            assert "ended with its tab" not in log_path.read_text()
            page.close()
            deadline = time.monotonic() + 20
            while "ended with its tab" not in log_path.read_text() and time.monotonic() < deadline:
                time.sleep(0.2)
            browser.close()
        assert "ended with its tab" in log_path.read_text(), log_path.read_text()[-2000:]
        assert "Traceback" not in log_path.read_text()
