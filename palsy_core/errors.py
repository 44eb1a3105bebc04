"""Errors raised by palsy_core.

Every error carries a message written for the person in front of the app or the CLI:
what went wrong with *their* input and what to do next. Callers show ``str(error)``
as it is, under the class's ``title``; no traceback is ever needed to understand one.
"""

from __future__ import annotations


class PalsyError(Exception):
    """Base class of every error palsy_core raises on purpose."""

    #: A short, stable machine-readable code (used in CLI JSON and the app).
    code = "error"
    #: A short heading for the message, as the app shows it.
    title = "Cannot continue"


class ImageError(PalsyError):
    """The input could not be turned into a usable RGB photo."""

    code = "bad_image"
    title = "The photo cannot be used"


class EmptyFileError(ImageError):
    code = "empty_file"
    title = "The file is empty"


class NotAnImageError(ImageError):
    code = "not_an_image"
    title = "This file is not a photo"


class TruncatedImageError(ImageError):
    code = "truncated_image"
    title = "The photo is incomplete"


class ImageTooLargeError(ImageError):
    code = "image_too_large"
    title = "The photo is too large"


class ImageTooSmallError(ImageError):
    code = "image_too_small"
    title = "The photo is too small"


class NoFaceError(PalsyError):
    code = "no_face"
    title = "No face found"


class VideoError(PalsyError):
    """A video could not be opened or decoded."""

    code = "bad_video"
    title = "The video cannot be analysed"


class ModelNotInstalledError(PalsyError):
    """A model's weights (or the landmarker's model file) are missing or damaged."""

    code = "model_not_installed"
    title = "Model not installed"


class DatasetError(PalsyError, ValueError):
    """A data set root is missing or holds nothing in the expected layout."""

    code = "bad_dataset"
    title = "Data set not usable"


class UnreadableFileError(ImageError):
    """The file exists but the operating system refused to read it (permissions, a device)."""

    code = "unreadable_file"
    title = "The file cannot be read"


class FileTooLargeError(ImageError):
    """The file is bigger than any photo we accept; refused before it is read."""

    code = "file_too_large"
    title = "The file is too large"


class PatientCodeError(PalsyError, ValueError):
    """A patient code is not a valid pseudonymous code."""

    code = "bad_patient_code"
    title = "Patient code not valid"
