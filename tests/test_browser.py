"""End to end in a real browser: `streamlit run` on 127.0.0.1 and Debian's Chromium via Playwright.

Uploads a face photo, waits for the headline, saves a screenshot under the test's tmp
dir; then uploads a file that is not a photo and expects the specific error.
"""

from __future__ import annotations

import io
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from app_testing import give_file, served_app

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="Debian's chromium is not installed (apt-get install chromium)"
)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """The app served by `streamlit run` on a free local port, with its own records and weights.

    Sign-in is off (PALSY_AUTH=off, the documented demo setting): this test is about the
    pages in a real browser; tests/test_auth.py covers signing in.
    """
    folder = tmp_path_factory.mktemp("browser")
    (folder / "weights").mkdir()
    env = {**os.environ, "PALSY_AUTH": "off", "PALSY_DB_URL": f"sqlite:///{folder / 'records.sqlite3'}",
           "PALSY_WEIGHTS_DIR": str(folder / "weights"), "GLOG_minloglevel": "2"}
    with served_app(folder, env) as (url, _log):
        yield url


@pytest.fixture(scope="module")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    with sync_api.sync_playwright() as playwright:
        instance = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        yield instance
        instance.close()


@pytest.mark.slow
def test_upload_photo_then_bad_file(server, browser, tmp_path, drooped_face):
    photo = tmp_path / "drooped.jpg"
    Image.fromarray(drooped_face).save(photo, quality=92)
    bad = tmp_path / "notes.jpg"
    bad.write_bytes(b"these are my notes, not a photo" * 20)

    page = browser.new_page(viewport={"width": 1400, "height": 1800}, accept_downloads=True)
    page.goto(server)
    uploader = page.locator("[data-testid=stFileUploaderDropzoneInput]")
    uploader.wait_for(state="attached", timeout=60_000)
    # The astronaut smiles: state it, or the verdict rightly refuses a "rest" photo.
    give_file(page, photo, "smile")
    headline = page.locator(".st-key-headline")
    headline.wait_for(timeout=60_000)
    card = headline.inner_text()
    assert "The subject's left side looks weaker" in card and "Mouth: commissure" in card
    # The table is drawn on a canvas; its cells exist as a hidden accessible grid.
    page.get_by_text("Commissure height", exact=True).first.wait_for(state="attached", timeout=30_000)
    page.screenshot(path=str(tmp_path / "assessment.png"), full_page=True)
    assert (tmp_path / "assessment.png").stat().st_size > 10_000

    for label, magic in (("PDF report", b"%PDF-"), ("CSV table", b"section,name,")):
        with page.expect_download(timeout=60_000) as download:
            page.get_by_role("button", name=label).click()
        assert Path(download.value.path()).read_bytes().startswith(magic)

    uploader.set_input_files(str(bad))
    error = page.locator("[data-testid=stAlertContentError]").first
    error.wait_for(timeout=60_000)
    assert "This file is not a photo" in error.inner_text()
    assert page.locator(".st-key-headline").count() == 0
    assert "Traceback" not in page.locator("body").inner_text()
    assert page.locator("[data-testid=stException]").count() == 0
    page.screenshot(path=str(tmp_path / "bad_file.png"), full_page=True)
    page.close()


@pytest.mark.slow
def test_photo_without_a_face(server, browser, tmp_path):
    """A grey photo shows the specific no-face message, and no exception box."""
    grey = tmp_path / "grey.png"
    buffer = io.BytesIO()
    Image.fromarray(np.full((320, 320, 3), 128, np.uint8)).save(buffer, format="PNG")
    grey.write_bytes(buffer.getvalue())
    page = browser.new_page()
    page.goto(server)
    uploader = page.locator("[data-testid=stFileUploaderDropzoneInput]")
    uploader.wait_for(state="attached", timeout=60_000)
    give_file(page, grey)
    error = page.locator("[data-testid=stAlertContentError]").first
    error.wait_for(timeout=60_000)
    assert "No face found" in error.inner_text()
    assert page.locator("[data-testid=stException]").count() == 0
    page.close()
