"""Server memory with many sessions holding large photos, and after they close.

Run: .venv/bin/python benchmarks/bench_memory.py [--sessions 20] [--megapixels 12] [--batch 5]

Starts `streamlit run` on 127.0.0.1 (its own records file, sign-in off: this measures the
photos, not the sign-in form) and drives Debian's Chromium through Playwright, on loopback
only: after a warm-up batch, N sessions each upload a different 12 MP JPEG and wait for the
headline (at most ``--batch`` uploads in flight at once) and all N stay open; then the N
tabs close (app_pages/ui/session_end.py ends their sessions). It prints the server's resident memory
(VmRSS from /proc) at each step, for ``--rounds`` rounds: a second round that ends where
the first did shows the memory is reused, not leaked.
Prints numbers; never fails on a slow machine.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image


from bench_app import app_server, chromium_path, headline_of, launch_browser  # noqa: E402  (the same server start and browser, on loopback)


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


def open_sessions(browser, url: str, images: list[Path], batch: int) -> tuple[int, list]:
    """One tab per photo, at most ``batch`` uploads in flight; returns (failures, open pages)."""
    pages, failed = [], 0
    for start in range(0, len(images), batch):
        opened = []
        for image in images[start:start + batch]:
            page = browser.new_page()
            page.goto(url)
            page.locator("[data-testid=stFileUploaderDropzoneInput]").set_input_files(str(image))
            opened.append((page, image))
        for page, image in opened:
            try:
                headline_of(page, image).wait_for(timeout=180_000)
            except Exception:  # noqa: BLE001 - counted, the benchmark goes on
                failed += 1
        pages.extend(page for page, _ in opened)
    return failed, pages


def settle(pid: int, seconds: float) -> float:
    """RSS after waiting ``seconds`` (disconnects and releases are asynchronous)."""
    time.sleep(seconds)
    return rss_mb(pid)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=20)
    parser.add_argument("--megapixels", type=float, default=12.0)
    parser.add_argument("--batch", type=int, default=5, help="uploads in flight at once (bounded load)")
    parser.add_argument("--rounds", type=int, default=2, help="open-and-close rounds (is memory reused?)")
    args = parser.parse_args()
    chromium = chromium_path()
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        images = big_photos(args.sessions + args.batch, args.megapixels, folder)
        size = Image.open(images[0]).size
        print(f"photos: {args.sessions} JPEGs of {size[0]} x {size[1]} px "
              f"({size[0] * size[1] / 1e6:.1f} MP, {images[0].stat().st_size / 1e6:.1f} MB each)")
        with app_server(folder, None) as (process, url, _):
            print(f"server started: RSS {settle(process.pid, 2):.0f} MB")
            with sync_playwright() as playwright:
                browser = launch_browser(playwright, chromium)
                # Warm-up: one batch at once, so every pooled analyzer and model is loaded.
                _, warm_pages = open_sessions(browser, url, images[args.sessions:], args.batch)
                for page in warm_pages:
                    page.close()
                baseline = settle(process.pid, 10)
                print(f"after a warm-up batch of {args.batch} sessions (models and analyzers loaded) closed: "
                      f"RSS {baseline:.0f} MB")
                for round_ in range(1, args.rounds + 1):
                    failures, pages = open_sessions(browser, url, images[:args.sessions], args.batch)
                    held = settle(process.pid, 3)
                    print(f"round {round_}: {args.sessions} sessions open, each with its {args.megapixels:.0f} MP "
                          f"photo analysed ({failures} failed): RSS {held:.0f} MB, "
                          f"{(held - baseline) / args.sessions:.1f} MB per session above the warm baseline")
                    for page in pages:
                        page.close()
                    after = settle(process.pid, 15)
                    print(f"round {round_}: 15 s after the {args.sessions} tabs closed: RSS {after:.0f} MB "
                          f"({held - after:.0f} MB released; {after - baseline:+.0f} MB against the warm baseline)")
                browser.close()


if __name__ == "__main__":
    main()
