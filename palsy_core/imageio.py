"""Turn whatever a user hands us (a path, uploaded bytes, an array) into an RGB photo.

The result is always an ``(H, W, 3)`` ``uint8`` array in RGB order, in the orientation a
person sees the photo: EXIF orientation is applied, so landmark pixel coordinates refer
to the upright image. Anything we cannot use is refused with an :class:`ImageError`
subclass whose message says what is wrong and what to do.
"""

from __future__ import annotations

import io
import os
import warnings
from pathlib import Path
from typing import Union

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from .errors import (
    EmptyFileError,
    ImageError,
    ImageTooLargeError,
    ImageTooSmallError,
    NotAnImageError,
    TruncatedImageError,
)

ImageSource = Union[str, os.PathLike, bytes, bytearray, memoryview, np.ndarray]

#: Largest photo we decode, in pixels (width x height). 50 MP covers every phone and
#: DSLR photo; larger files are almost always decompression bombs or scans.
MAX_PIXELS = 50_000_000
#: Smallest usable side, in pixels: below this a face is too small for the landmarker
#: and millimetre measurements would rest on a handful of pixels.
MIN_SIDE = 64


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
        if not path.is_file():
            raise ImageError(f"{name}: file not found.")
        data = path.read_bytes()
    else:
        data = bytes(source)
    if not data:
        raise EmptyFileError(f"{name} is empty (0 bytes): choose the photo file again.")
    try:
        with warnings.catch_warnings():
            # PIL warns (and only errors above 2x its own limit) on big images; we apply
            # our own limit below from the header, before any pixel is decoded.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            saved_limit = Image.MAX_IMAGE_PIXELS
            Image.MAX_IMAGE_PIXELS = None
            try:
                img = Image.open(io.BytesIO(data))
            finally:
                Image.MAX_IMAGE_PIXELS = saved_limit
    except UnidentifiedImageError:
        raise NotAnImageError(
            f"{name} is not an image we can read. Use a JPEG, PNG, BMP, WebP or TIFF photo."
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
    except (OSError, SyntaxError, ValueError) as exc:
        raise TruncatedImageError(
            f"{name} is damaged or incomplete ({exc}). Export or copy the photo again."
        ) from None


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
