"""Errors raised by palsy_core.

Every error carries a message written for the person in front of the app or the CLI:
what went wrong with *their* input and what to do next. Callers show ``str(error)``
as it is; no traceback is ever needed to understand one.
"""

from __future__ import annotations


class PalsyError(Exception):
    """Base class of every error palsy_core raises on purpose."""

    #: A short, stable machine-readable code (used in CLI JSON and the app).
    code = "error"


class ImageError(PalsyError):
    """The input could not be turned into a usable RGB photo."""

    code = "bad_image"


class EmptyFileError(ImageError):
    code = "empty_file"


class NotAnImageError(ImageError):
    code = "not_an_image"


class TruncatedImageError(ImageError):
    code = "truncated_image"


class ImageTooLargeError(ImageError):
    code = "image_too_large"


class ImageTooSmallError(ImageError):
    code = "image_too_small"


class NoFaceError(PalsyError):
    code = "no_face"


class VideoError(PalsyError):
    """A video could not be opened or decoded."""

    code = "bad_video"


class ModelNotInstalledError(PalsyError):
    """A model's weights (or the landmarker's model file) are missing or damaged."""

    code = "model_not_installed"


class DatasetError(PalsyError, ValueError):
    """A data set root is missing or holds nothing in the expected layout."""

    code = "bad_dataset"
