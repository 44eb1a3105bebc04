"""Image input: every format a clinic produces decodes upright; bad files get their own message."""

import io
import os
import threading

import numpy as np
import pytest
from PIL import Image

from palsy_core import (
    EmptyFileError,
    ImageTooLargeError,
    ImageTooSmallError,
    NotAnImageError,
    TruncatedImageError,
    load_image,
)
from palsy_core.errors import FileTooLargeError, ImageError, UnreadableFileError
from palsy_core.imageio import IMAGE_SUFFIXES, MAX_FILE_BYTES, downscale


def _encode(img: Image.Image, fmt: str, **kwargs) -> bytes:
    buffer = io.BytesIO()
    img.save(buffer, format=fmt, **kwargs)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def photo(astronaut):
    return Image.fromarray(astronaut)


@pytest.mark.parametrize("fmt,kwargs,tolerance", [
    ("PNG", {}, 0), ("BMP", {}, 0), ("TIFF", {}, 0),
    ("JPEG", {"quality": 95}, 12), ("WEBP", {"quality": 95}, 14),
])
def test_common_formats_decode_to_rgb(photo, astronaut, fmt, kwargs, tolerance):
    rgb = load_image(_encode(photo, fmt, **kwargs))
    assert rgb.dtype == np.uint8 and rgb.shape == astronaut.shape
    assert np.abs(rgb.astype(int) - astronaut).mean() <= tolerance


def test_every_listed_suffix_is_a_format_that_loads_and_a_walk_finds(tmp_path, astronaut):
    from palsy_core.cli import iter_inputs

    small = Image.fromarray(astronaut).resize((96, 96))
    for suffix in IMAGE_SUFFIXES:
        small.save(tmp_path / f"photo{suffix.upper()}")  # upper-case names are walked too
        assert load_image(tmp_path / f"photo{suffix.upper()}").shape == (96, 96, 3)
    (tmp_path / "notes.txt").write_text("not walked")
    assert len(list(iter_inputs([str(tmp_path)]))) == len(IMAGE_SUFFIXES)


def test_path_input(tmp_path, photo, astronaut):
    path = tmp_path / "face.png"
    photo.save(path)
    assert np.array_equal(load_image(path), astronaut)
    assert np.array_equal(load_image(str(path)), astronaut)


def test_exif_orientation_is_applied(photo, astronaut):
    exif = Image.Exif()
    exif[0x0112] = 6  # stored sideways; viewers rotate 90 degrees clockwise
    sideways = photo.transpose(Image.Transpose.ROTATE_90)
    rgb = load_image(_encode(sideways, "JPEG", quality=95, exif=exif))
    assert rgb.shape == astronaut.shape
    assert np.abs(rgb.astype(int) - astronaut).mean() < 12


def test_png_alpha_is_composited_on_white(astronaut):
    rgba = np.dstack([astronaut, np.full(astronaut.shape[:2], 255, np.uint8)])
    rgba[:100, :100, 3] = 0
    rgb = load_image(_encode(Image.fromarray(rgba, "RGBA"), "PNG"))
    assert rgb.shape == astronaut.shape
    assert (rgb[:100, :100] == 255).all()
    assert np.array_equal(rgb[200:, 200:], astronaut[200:, 200:])


def test_grayscale_16bit_cmyk_and_palette(photo, astronaut):
    gray = load_image(_encode(photo.convert("L"), "PNG"))
    assert gray.shape == astronaut.shape and (gray[..., 0] == gray[..., 2]).all()

    deep = (np.asarray(photo.convert("L"), dtype=np.uint16) * 257)
    sixteen = load_image(_encode(Image.fromarray(deep), "PNG"))
    assert sixteen.dtype == np.uint8
    assert np.abs(sixteen[..., 0].astype(int) - np.asarray(photo.convert("L"))).max() <= 1

    cmyk = load_image(_encode(photo.convert("CMYK"), "JPEG", quality=95))
    assert cmyk.shape == astronaut.shape
    assert np.abs(cmyk.astype(int) - astronaut).mean() < 15

    palette = load_image(_encode(photo.convert("P"), "PNG"))
    assert palette.shape == astronaut.shape


def test_array_inputs(astronaut):
    assert np.array_equal(load_image(astronaut), astronaut)
    floats = load_image(astronaut / 255.0)
    assert np.abs(floats.astype(int) - astronaut).max() <= 1
    assert load_image(astronaut[..., 0]).shape == astronaut.shape


def test_empty_file(tmp_path):
    path = tmp_path / "empty.jpg"
    path.write_bytes(b"")
    with pytest.raises(EmptyFileError, match="empty"):
        load_image(path)


def test_not_an_image():
    with pytest.raises(NotAnImageError, match="not an image"):
        load_image(b"%PDF-1.4 this is a document, not a photo")


def test_truncated_file(photo):
    data = _encode(photo, "JPEG", quality=95)
    with pytest.raises(TruncatedImageError, match="damaged or incomplete"):
        load_image(data[: len(data) // 2])


def test_decompression_bomb_is_refused_before_decoding():
    bomb = _encode(Image.new("1", (12_000, 12_000)), "PNG")
    assert len(bomb) < 1_000_000  # tiny file, 144 megapixels
    with pytest.raises(ImageTooLargeError, match="144 MP"):
        load_image(bomb)


def test_tiny_image():
    with pytest.raises(ImageTooSmallError, match="at least 64 pixels"):
        load_image(_encode(Image.new("RGB", (40, 30)), "PNG"))


def test_missing_file(tmp_path):
    with pytest.raises(Exception, match="file not found"):
        load_image(tmp_path / "nope.jpg")


# -- awkward files (issue 14): each its own clear message, never a raw OSError --------------

def test_header_only_jpeg_is_incomplete_not_an_oserror(photo):
    data = _encode(photo, "JPEG")
    header_only = data[: data.index(b"\xff\xda")]  # every marker up to the scan, no pixels
    with pytest.raises(TruncatedImageError, match="damaged or incomplete") as caught:
        load_image(header_only)
    assert caught.value.title == "The photo is incomplete"


def test_unreadable_file_says_permission_denied(tmp_path, photo, monkeypatch):
    path = tmp_path / "locked.jpg"
    path.write_bytes(_encode(photo, "JPEG"))
    path.chmod(0o000)
    if os.geteuid() == 0:
        # root reads any file, and this machine's Python is not runnable by another user:
        # the operating system's refusal is reproduced at the one call that opens the file.
        def refuse(*args, **kwargs):
            raise PermissionError(13, "Permission denied", str(path))

        monkeypatch.setattr("palsy_core.imageio.open", refuse, raising=False)
    with pytest.raises(UnreadableFileError, match="permission denied") as caught:
        load_image(path)
    assert caught.value.title == "The file cannot be read"


def test_huge_file_is_refused_before_it_is_read(tmp_path):
    path = tmp_path / "huge.jpg"
    with open(path, "wb") as handle:  # sparse: 300 MB on paper, no disk used
        handle.truncate(MAX_FILE_BYTES + 1)
    with pytest.raises(FileTooLargeError, match="was not read"):
        load_image(path)


def test_directory_and_device_are_not_photos(tmp_path):
    with pytest.raises(ImageError, match="not a regular file"):
        load_image("/dev/null")


@pytest.mark.slow
def test_decompression_bomb_limit_never_switches_pillow_globally():
    bomb = _encode(Image.new("L", (20_000, 20_000)), "PNG")  # 400 MP declared, a few kB on disk
    limit = Image.MAX_IMAGE_PIXELS
    seen = set()
    stop = threading.Event()

    def watch() -> None:
        while not stop.is_set():
            seen.add(Image.MAX_IMAGE_PIXELS)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        for _ in range(20):
            with pytest.raises(ImageTooLargeError, match="MP"):
                load_image(bomb)
    finally:
        stop.set()
        watcher.join()
    assert seen == {limit} and Image.MAX_IMAGE_PIXELS == limit


def test_downscale_keeps_small_photos_and_shrinks_big_ones(astronaut):
    same, factor = downscale(astronaut, 2048)
    assert same is astronaut and factor == 1.0
    big = np.repeat(np.repeat(astronaut, 8, axis=0), 6, axis=1)  # 4096 x 3072 px
    small, factor = downscale(big, 2048)
    assert small.shape == (2048, 1536, 3) and factor == pytest.approx(0.5)
