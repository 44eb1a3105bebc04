"""A clinic visit end to end in a real browser (`streamlit run` + Debian's Chromium via
Playwright): a photo set of a London Set person uploaded at once and saved, a landmark
dragged in the landmark editor, a second visit saved, the two compared, exported to PDF
and Excel, and reopened on the records page; the pages at phone width (390 px) need no
sideways scrolling.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from test_browser import browser, server  # noqa: F401 (the shared fixtures)

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
LONDON = ROOT.parent / "shared" / "faces" / "london"


def no_sideways_scroll(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")


def wait_text(page, text: str, timeout: int = 90_000) -> None:
    page.get_by_text(text).first.wait_for(timeout=timeout)


@pytest.fixture(scope="module")
def photo_files(tmp_path_factory, landmarker):
    from conftest import droop_point

    rest, smile = LONDON / "neutral" / "001_03.jpg", LONDON / "smiling" / "001_08.jpg"
    if not (rest.exists() and smile.exists()):
        pytest.skip(f"London Set photos not found under {LONDON} (see /work/shared/faces/README.md)")
    folder = tmp_path_factory.mktemp("visit_photos")
    rgb = np.asarray(Image.open(rest).convert("RGB"))
    points = landmarker.detect(rgb).landmarks
    width = np.linalg.norm(points[291, :2] - points[61, :2])
    drooped = droop_point(rgb, points[291, :2], shift_px=0.2 * width, radius_px=0.35 * width)
    Image.fromarray(drooped).save(folder / "rest_drooped.jpg", quality=92)
    return folder / "rest_drooped.jpg", rest, smile


def test_visit_saved_corrected_compared_exported_reopened(server, browser, tmp_path, photo_files):  # noqa: F811
    drooped, rest, smile = photo_files
    page = browser.new_page(viewport={"width": 1400, "height": 1800}, accept_downloads=True)
    page.goto(f"{server}/visit")
    code = page.get_by_label("Patient code (pseudonymous)", exact=True)
    code.wait_for(timeout=60_000)
    code.fill("P-0900")
    code.press("Enter")
    uploader = page.locator("[data-testid=stFileUploaderDropzoneInput]")
    uploader.wait_for(state="attached", timeout=60_000)

    # Visit 1: the drooped rest photo and the smile, uploaded together.
    uploader.set_input_files([str(drooped), str(smile)])
    wait_text(page, "Movement from rest")
    wait_text(page, "Detected: Closed-mouth smile")

    # Drag the subject's left mouth corner in the landmark editor (a custom component).
    frame = page.frame_locator("iframe[title*=landmark_editor]")
    handle = frame.locator("g.h[data-key=mouth_corner_L] circle.dot")
    handle.wait_for(timeout=60_000)
    handle.scroll_into_view_if_needed()
    box = handle.bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x, y - 6, steps=4)
    page.mouse.move(x, y - 12, steps=4)
    page.mouse.up()
    wait_text(page, "Corrected: 1 landmark(s) moved on this photo.")

    page.get_by_role("button", name="Save visit").click()
    wait_text(page, "Saved as visit 1 of patient P-0900")
    page.get_by_role("button", name="Save visit").click()  # again: stored once
    wait_text(page, "Already saved as visit 1")
    with page.expect_download(timeout=60_000) as download:
        page.get_by_role("button", name="Excel (.xlsx) of this visit").click()
    assert Path(download.value.path()).read_bytes().startswith(b"PK")

    # Visit 2: the same person without the droop.
    page.get_by_role("button", name="Start a new visit").click()
    wait_text(page, "Add the photos of the visit")
    fresh = page.locator(".st-key-visit_uploads_1 [data-testid=stFileUploaderDropzoneInput]")  # a new uploader
    fresh.wait_for(state="attached", timeout=60_000)
    fresh.set_input_files([str(rest), str(smile)])
    wait_text(page, "Movement from rest")
    page.get_by_role("button", name="Save visit").click()
    wait_text(page, "Saved as visit 2 of patient P-0900")
    page.screenshot(path=str(tmp_path / "visit.png"), full_page=True)

    # Compared: a statement per region, both photos, the table; PDF and Excel.
    page.goto(f"{server}/compare")
    wait_text(page, "Change by region")
    body = page.locator("body").inner_text()
    assert "Mouth-corner difference" in body and "improved, beyond the change that repeat photos" in body
    for label, magic in (("PDF of the comparison", b"%PDF-"), ("Excel (.xlsx)", b"PK")):
        with page.expect_download(timeout=60_000) as download:
            page.get_by_role("button", name=label).click()
        assert Path(download.value.path()).read_bytes().startswith(magic)
    page.screenshot(path=str(tmp_path / "compare.png"), full_page=True)

    # Reopened from the records page.
    page.goto(f"{server}/records")
    wait_text(page, "Photo set of 2")
    assert "landmarks corrected" not in page.locator("body").inner_text()  # visit 2 (latest) is shown
    assert page.locator("[data-testid=stException]").count() == 0
    assert "Traceback" not in page.locator("body").inner_text()

    # Phone width: no sideways scrolling on the visit and compare pages.
    phone = browser.new_page(viewport={"width": 390, "height": 844})
    for path, marker in (("compare", "Change by region"), ("visit", "Checklist"), ("records", "One visit"),
                         ("", "Assess a photo"), ("explorer", "Asymmetry explorer")):
        phone.goto(f"{server}/{path}")
        wait_text(phone, marker)
        phone.wait_for_timeout(2000)  # the rest of the page draws
        phone.screenshot(path=str(tmp_path / f"{path or 'assess'}_390.png"), full_page=True)
        assert no_sideways_scroll(phone), f"{path} scrolls sideways at 390 px"
    phone.close()
    page.close()
