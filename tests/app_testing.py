"""Helpers shared by the AppTest suites: photos as upload bytes, element texts."""

from __future__ import annotations

import io

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
