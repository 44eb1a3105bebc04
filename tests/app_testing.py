"""Helpers shared by the AppTest and browser suites: photos as upload bytes, element
texts, a served app."""

from __future__ import annotations

import io
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from PIL import Image


def jpeg(rgb: np.ndarray) -> bytes:
    """An RGB array as the bytes of a JPEG upload (quality 92)."""
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, format="JPEG", quality=92)
    return buffer.getvalue()


def texts(elements) -> str:
    """The values of AppTest elements, one per line."""
    return "\n".join(str(element.value) for element in elements)


ROOT = Path(__file__).resolve().parents[1]


@contextmanager
def served_app(folder: Path, env: dict[str, str], *, script: Path = ROOT / "streamlit_app.py",
               cwd: Path = ROOT) -> Iterator[tuple[str, Path]]:
    """``streamlit run script`` on a free local port, healthy, for a with-block.

    Yields the app's URL and the server's log file (``folder/streamlit.log``); the server
    is stopped (killed if it does not stop within 15 s) when the block ends. ``env`` is the
    server's whole environment.
    """
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    log_path = folder / "streamlit.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", str(script), "--server.port", str(port),
             "--server.address", "127.0.0.1", "--server.headless", "true"],
            cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            url = f"http://127.0.0.1:{port}"
            wait_until_healthy(url, process, log_path)
            yield url, log_path
        finally:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def wait_until_healthy(url: str, process, log_path=None, timeout_s: float = 60.0) -> None:
    """Block until the Streamlit server at ``url`` answers its health check.

    Fails the test (with the tail of ``log_path``, if given) when the process exits or
    ``timeout_s`` passes first.
    """
    import time
    import urllib.request

    import pytest

    deadline = time.monotonic() + timeout_s
    while True:
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2):
                return
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                log = log_path.read_text()[-2000:] if log_path is not None else ""
                pytest.fail(f"streamlit did not start: {log}")
            time.sleep(0.25)


def choose_expression(page, expression: str) -> None:
    """Pick the Assess page's "Expression asked for" in a Playwright page, and return once
    the app's rerun for it is over: a file given to the uploader during that rerun is
    lost now and then (Streamlit 1.67; 1 upload in 4 just after the server started)."""
    page.locator("[data-testid=stSelectbox]").first.click()
    page.get_by_role("option", name=expression, exact=True).click()
    page.wait_for_function(
        "value => document.querySelector('input[aria-label=\"Expression asked for\"]').value === value",
        arg=expression)
    page.locator("[data-test-script-state=notRunning]").wait_for(timeout=60_000)


def give_file(page, path, expression: str | None = None) -> None:
    """Give the Assess page's uploader one file (after picking ``expression``, if given),
    and return once the uploader lists it.

    A file given just after the server started is now and then never taken (Streamlit
    1.67: the uploader stays empty and no run starts; 7 times in 17 while the models'
    imports ran; a second try in the same page was lost too, 3 times in 3): then the page
    is reloaded, a fresh session, and the file given once more.
    """
    for attempt in range(2):
        uploader = page.locator("[data-testid=stFileUploaderDropzoneInput]")
        uploader.wait_for(state="attached", timeout=60_000)
        if expression is not None:
            choose_expression(page, expression)
        uploader.set_input_files(str(path))
        listed = page.locator("[data-testid=stFileUploader]").get_by_text(Path(path).name, exact=True)
        try:
            listed.first.wait_for(timeout=10_000 if attempt == 0 else 60_000)
            return
        except Exception:  # playwright's TimeoutError
            if attempt:
                raise
            page.reload()
