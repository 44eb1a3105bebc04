"""Turn whatever a user hands us (a path, uploaded bytes, an array) into an RGB photo.

The result is always an ``(H, W, 3)`` ``uint8`` array in RGB order, in the orientation a
person sees the photo: EXIF orientation is applied, so landmark pixel coordinates refer
to the upright image. Anything we cannot use is refused with an :class:`ImageError`
subclass whose message says what is wrong and what to do.
"""

from __future__ import annotations

import io
import os
import stat
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from .errors import (
    EmptyFileError,
    FileTooLargeError,
    ImageError,
    ImageTooLargeError,
    ImageTooSmallError,
    NotAnImageError,
    TruncatedImageError,
    UnreadableFileError,
)

ImageSource = str | os.PathLike | bytes | bytearray | memoryview | np.ndarray

#: File types read as photos (lower case): what a walked folder yields and an upload
#: accepts, for the CLI, the app, the trainers and the benchmarks alike.
IMAGE_SUFFIXES: tuple[str, ...] = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")

#: Largest photo we decode, in pixels (width x height). 50 MP covers every phone and
#: DSLR photo; larger files are almost always decompression bombs or scans.
MAX_PIXELS = 50_000_000
#: Smallest usable side, in pixels: below this a face is too small for the landmarker
#: and millimetre measurements would rest on a handful of pixels.
MIN_SIDE = 64
#: Largest file we read, in bytes, checked before reading: an uncompressed 50 MP TIFF
#: is 150 MB; anything bigger is not a photo we can use and is never read into memory.
MAX_FILE_BYTES = 256 * 1024 * 1024


def load_image(
    source: ImageSource, *, max_pixels: int = MAX_PIXELS, min_side: int = MIN_SIDE
) -> np.ndarray:
    """Decode a photo into an upright RGB ``uint8`` array.

    Parameters
    ----------
    source : path, bytes or ndarray
        A file path, the file's bytes (e.g. an upload), or an image array: ``(H, W)``
        grey, ``(H, W, 3)`` RGB or ``(H, W, 4)`` RGBA, any integer or float dtype (floats
        are read as 0..1).
    max_pixels : int
        Refuse images with more pixels than this (decompression-bomb guard). Checked from
        the file header, before decoding.
    min_side : int
        Refuse images whose shorter side is below this many pixels.

    Returns
    -------
    ndarray
        ``(H, W, 3)`` uint8 RGB, EXIF orientation applied. Transparent areas are
        composited onto white; 16-bit and float images are scaled to 8 bits; CMYK and
        palette images are converted.

    Raises
    ------
    ImageError
        A subclass naming the problem: :class:`EmptyFileError`, :class:`NotAnImageError`,
        :class:`TruncatedImageError`, :class:`ImageTooLargeError`,
        :class:`ImageTooSmallError`.
    """
    if isinstance(source, np.ndarray):
        rgb = _array_to_rgb(source)
    else:
        rgb = _decode(source, max_pixels)
    _check_size(rgb.shape[1], rgb.shape[0], max_pixels, min_side)
    return rgb


def _decode(source: ImageSource, max_pixels: int) -> np.ndarray:
    name = "the upload"
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        name = path.name
        data = read_file_bounded(path)
    else:
        data = bytes(source)
        if len(data) > MAX_FILE_BYTES:
            raise FileTooLargeError(_too_big_message(name, len(data)))
    if not data:
        raise EmptyFileError(f"{name} is empty (0 bytes): choose the photo file again.")
    try:
        # Pillow refuses (DecompressionBombError) above twice its own pixel limit; below
        # that it only warns, and our own, lower limit is applied from the header just
        # after. Pillow's global limit is never changed: other threads decode too.
        img = Image.open(io.BytesIO(data))
    except UnidentifiedImageError:
        raise NotAnImageError(
            f"{name} is not an image we can read. Use a JPEG, PNG, BMP, WebP or TIFF photo."
        ) from None
    except Image.DecompressionBombError:
        raise ImageTooLargeError(
            f"{name} declares more pixels than any photo (over {max_pixels / 1e6:.0f} MP): it may be "
            "a decompression bomb. Resize or crop the photo and try again."
        ) from None
    except (OSError, SyntaxError, ValueError) as exc:  # a header that starts right and breaks off
        raise TruncatedImageError(
            f"{name} is damaged or incomplete ({exc}). Export or copy the photo again."
        ) from None
    width, height = img.size
    if width * height > max_pixels:
        raise ImageTooLargeError(
            f"{name} is {width} x {height} pixels ({width * height / 1e6:.0f} MP), over the "
            f"{max_pixels / 1e6:.0f} MP limit. Resize or crop the photo and try again."
        )
    try:
        img.load()
        img = ImageOps.exif_transpose(img)
        return _pil_to_rgb(img)
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise TruncatedImageError(
            f"{name} is damaged or incomplete ({exc or 'no pixel data'}). Export or copy the photo again."
        ) from None


def read_file_bounded(path: str | os.PathLike, max_bytes: int = MAX_FILE_BYTES) -> bytes:
    """A file's bytes, after checking (without reading) that it exists, is a regular file
    and is at most ``max_bytes`` long.

    Raises
    ------
    ImageError
        The file is missing or not a regular file.
    FileTooLargeError
        Bigger than ``max_bytes``; nothing was read.
    UnreadableFileError
        The operating system refused to open or read it (permissions, an I/O error).
    """
    path = Path(path)
    name = path.name
    try:
        info = path.stat()
    except FileNotFoundError:
        raise ImageError(f"{name}: file not found.") from None
    except OSError as error:
        raise UnreadableFileError(f"{name} cannot be read ({error.strerror or error}).") from None
    if not stat.S_ISREG(info.st_mode):
        raise ImageError(f"{name} is not a regular file (a folder or a device): give a photo file.")
    if info.st_size > max_bytes:
        raise FileTooLargeError(_too_big_message(name, info.st_size, max_bytes))
    try:
        with open(path, "rb") as handle:
            data = handle.read(max_bytes + 1)  # bounded even if the file grew since stat()
    except PermissionError:
        raise UnreadableFileError(
            f"{name} cannot be read: permission denied. Ask for read access to the file, or copy it "
            "somewhere you can read."
        ) from None
    except OSError as error:
        raise UnreadableFileError(f"{name} cannot be read ({error.strerror or error}).") from None
    if len(data) > max_bytes:
        raise FileTooLargeError(_too_big_message(name, len(data), max_bytes))
    return data


def _too_big_message(name: str, size: int, limit: int = MAX_FILE_BYTES) -> str:
    return (f"{name} is {size / 1e6:.0f} MB, over the {limit / 1e6:.0f} MB limit for a photo; it was "
            "not read. Export the photo at a normal size (a few MB) and try again.")


def downscale(rgb: np.ndarray, max_side: int) -> tuple[np.ndarray, float]:
    """Shrink a photo so its longer side is at most ``max_side`` pixels.

    Parameters
    ----------
    rgb : ndarray, shape (H, W, 3), uint8
    max_side : int
        Pixels.

    Returns
    -------
    rgb : ndarray
        The same array when already small enough, else a new, smaller one (area-averaged).
    factor : float
        New size / old size (1.0 when unchanged). A known scale in mm per pixel must be
        divided by it.
    """
    height, width = rgb.shape[:2]
    longest = max(height, width)
    if longest <= max_side:
        return rgb, 1.0
    factor = max_side / longest
    size = (max(1, round(width * factor)), max(1, round(height * factor)))
    small = Image.fromarray(rgb).resize(size, Image.Resampling.BOX if factor < 0.5 else Image.Resampling.BILINEAR,
                                        reducing_gap=3.0)
    return np.ascontiguousarray(np.asarray(small)), size[0] / width


def _pil_to_rgb(img: Image.Image) -> np.ndarray:
    mode = img.mode
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        return _array_to_rgb(np.asarray(img))
    if mode == "P":
        img = img.convert("RGBA" if "transparency" in img.info else "RGB")
    elif mode in ("LA", "PA", "La", "RGBa"):
        img = img.convert("RGBA")
    if img.mode == "RGBA":
        background = Image.new("RGB", img.size, (255, 255, 255))
        background.paste(img, mask=img.getchannel("A"))
        img = background
    elif img.mode != "RGB":
        img = img.convert("RGB")  # CMYK, YCbCr, L, 1, LAB, HSV
    return np.ascontiguousarray(np.asarray(img, dtype=np.uint8))


def _array_to_rgb(array: np.ndarray) -> np.ndarray:
    a = np.asarray(array)
    if a.ndim == 3 and a.shape[2] == 1:
        a = a[..., 0]
    if a.ndim not in (2, 3) or (a.ndim == 3 and a.shape[2] not in (3, 4)):
        raise NotAnImageError(
            f"An image array must be (H, W), (H, W, 3) or (H, W, 4); got shape {a.shape}."
        )
    if a.dtype == np.uint8:
        a8 = a
    elif a.dtype == bool:
        a8 = a.astype(np.uint8) * 255
    elif np.issubdtype(a.dtype, np.floating):
        a8 = (np.clip(np.nan_to_num(a), 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
    elif np.issubdtype(a.dtype, np.integer):
        # 16-bit photos (PIL gives them as I;16 or I) hold 0..65535; 8-bit data that
        # arrives in a wider integer type is left as it is.
        top = int(a.max()) if a.size else 0
        full_scale = 255 if top <= 255 else 65535 if top <= 65535 else np.iinfo(a.dtype).max
        a8 = (a.astype(np.float64) * (255.0 / full_scale) + 0.5).clip(0, 255).astype(np.uint8)
    else:
        raise NotAnImageError(f"Unsupported image array type {a.dtype}.")
    if a8.ndim == 2:
        a8 = np.repeat(a8[..., None], 3, axis=2)
    elif a8.shape[2] == 4:
        alpha = a8[..., 3:4].astype(np.float32) / 255.0
        a8 = (a8[..., :3] * alpha + 255.0 * (1.0 - alpha) + 0.5).astype(np.uint8)
    return np.ascontiguousarray(a8)


def _check_size(width: int, height: int, max_pixels: int, min_side: int) -> None:
    if width * height > max_pixels:
        raise ImageTooLargeError(
            f"The image is {width} x {height} pixels, over the {max_pixels / 1e6:.0f} MP "
            "limit. Resize or crop it and try again."
        )
    if min(width, height) < min_side:
        raise ImageTooSmallError(
            f"The image is only {width} x {height} pixels; a face photo needs at least "
            f"{min_side} pixels on its shorter side (ideally 400 or more)."
        )
