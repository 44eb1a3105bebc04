"""Server memory with many sessions holding large photos, and after they close.

Run: .venv/bin/python benchmarks/bench_memory.py [--sessions 20] [--megapixels 12] [--batch 5]

Starts `streamlit run` on 127.0.0.1 (its own records file, sign-in off: this measures the
photos, not the sign-in form) and drives Debian's Chromium through Playwright, on loopback
only: N sessions each upload a different 12 MP JPEG and wait for the headline, at most
``--batch`` uploads in flight at once, and all N stay open. It prints the server's resident
memory (VmRSS from /proc) at start, with one warm session, with all N open, and after the
N browser tabs close (their sessions disconnect: the per-session photos are released).
Prints numbers; never fails on a slow machine.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_app import headline_of, start_server  # noqa: E402  (the same server start, on loopback)


def rss_mb(pid: int) -> float:
    """Resident memory of a process, in MB (VmRSS)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def big_photos(count: int, megapixels: float, folder: Path) -> list[Path]:
    """``count`` distinct 4:3 JPEGs of about ``megapixels`` MP (the astronaut, upscaled and shifted)."""
    from skimage import data

    width = int(round((megapixels * 1e6 * 4 / 3) ** 0.5))
    height = width * 3 // 4
    base = Image.fromarray(data.astronaut()).resize((height, height), Image.Resampling.BICUBIC)
    paths = []
    for index in range(count):
        canvas = Image.new("RGB", (width, height), (200 + index, 200, 200))
        canvas.paste(base, ((width - height) // 2 + 8 * index - 80, 0))
        noise = np.random.default_rng(index).integers(0, 6, size=(height, width, 3), dtype=np.uint8)
        canvas = Image.fromarray(np.clip(np.asarray(canvas, dtype=np.int16) + noise - 3, 0, 255).astype(np.uint8))
        path = folder / f"big{index:02d}.jpg"
        canvas.save(path, quality=90)
        paths.append(path)
    return paths


def settle(pid: int, seconds: float) -> float:
    """RSS after waiting ``seconds`` (disconnects and releases are asynchronous)."""
    time.sleep(seconds)
    return rss_mb(pid)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=20)
    parser.add_argument("--megapixels", type=float, default=12.0)
    parser.add_argument("--batch", type=int, default=5, help="uploads in flight at once (bounded load)")
    args = parser.parse_args()
    chromium = shutil.which("chromium")
    if chromium is None:
        raise SystemExit("Debian's chromium is needed: apt-get install chromium")
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        images = big_photos(args.sessions + 1, args.megapixels, folder)
        size = Image.open(images[0]).size
        print(f"photos: {args.sessions} JPEGs of {size[0]} x {size[1]} px "
              f"({size[0] * size[1] / 1e6:.1f} MP, {images[0].stat().st_size / 1e6:.1f} MB each)")
        process, url, _ = start_server(folder, None)
        try:
            print(f"server started: RSS {settle(process.pid, 2):.0f} MB")
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(
                    executable_path=chromium, args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
                warm = browser.new_page()
                warm.goto(url)
                warm.locator("[data-testid=stFileUploaderDropzoneInput]").set_input_files(str(images[-1]))
                headline_of(warm, images[-1]).wait_for(timeout=180_000)
                warm.close()
                baseline = settle(process.pid, 5)
                print(f"after one warm session (models loaded) closed: RSS {baseline:.0f} MB")

                pages, failed = [], 0
                for start in range(0, args.sessions, args.batch):
                    batch = []
                    for image in images[start:min(start + args.batch, args.sessions)]:
                        page = browser.new_page()
                        page.goto(url)
                        page.locator("[data-testid=stFileUploaderDropzoneInput]").set_input_files(str(image))
                        batch.append((page, image))
                    for page, image in batch:
                        try:
                            headline_of(page, image).wait_for(timeout=180_000)
                        except Exception:  # noqa: BLE001 - counted, the benchmark goes on
                            failed += 1
                    pages.extend(page for page, _ in batch)
                held = settle(process.pid, 3)
                print(f"{args.sessions} sessions open, each with its {args.megapixels:.0f} MP photo analysed "
                      f"({failed} failed): RSS {held:.0f} MB, {(held - baseline) / args.sessions:.1f} MB per session "
                      "above the warm baseline")
                for page in pages:
                    page.close()
                browser.close()
            after = [settle(process.pid, 5)]
            after.append(settle(process.pid, 10))
            print(f"after the {args.sessions} tabs closed: RSS {after[0]:.0f} MB after 5 s, {after[1]:.0f} MB "
                  f"after 15 s ({held - after[1]:.0f} MB released; {after[1] - baseline:+.0f} MB against the "
                  "warm baseline)")
            # Streamlit keeps a closed session's widget state for a reconnect (config.toml:
            # server.disconnectedSessionTTL, 60 s); its upload and overlay images go after that.
            late = settle(process.pid, 80)
            print(f"95 s after the tabs closed (past the reconnect window): RSS {late:.0f} MB "
                  f"({late - baseline:+.0f} MB against the warm baseline)")
        finally:
            process.terminate()
            process.wait(timeout=15)


if __name__ == "__main__":
    main()
