"""The library's version (model cards and reports record it)."""

__version__ = "0.1.0"
