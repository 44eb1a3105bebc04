"""One flattener behind every table of results: an analysis result's dict form as
``dotted.path -> value`` leaves.

The CLI's CSV (one wide row per photo), the report's CSV (one row per value), the
records' stored values (numbers only, for trends and their CSV), the Excel export and the
video's per-frame series all read a result through :func:`flatten_result`, so a value is
found under the same path everywhere: ``measurements.brow_height.left`` (millimetres),
``region_asymmetry.eye.score`` (1.0 = edge of normal), ``head_pose.yaw`` (degrees),
``palsy.probability``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

__all__ = ["flatten_result", "numeric_values", "region_scores"]


def flatten_result(data: Mapping[str, Any], sections: Iterable[str] | None = None,
                   *, depth: int | None = None) -> dict[str, Any]:
    """The leaves of a result's dict form under dotted paths, in the dict's order.

    Parameters
    ----------
    data : Mapping
        ``AnalysisResult.to_dict()``, a CLI record, or any part of them.
    sections : iterable of str, optional
        Only these top-level keys (those missing from ``data`` are skipped); every key
        when omitted.
    depth : int, optional
        Stop after this many path parts: the value there is the leaf even when it is a
        mapping (``depth=2`` gives ``"measurements.brow_height" -> {left, right, ...}``).

    Returns
    -------
    dict of str to object
        Mappings are walked; every other value (number, text, None, list) is a leaf,
        kept as it is.
    """
    flat: dict[str, Any] = {}
    keys = data.keys() if sections is None else [key for key in sections if key in data]
    for key in keys:
        _walk(flat, str(key), data[key], 1, depth)
    return flat


def numeric_values(flat: Mapping[str, Any]) -> dict[str, float]:
    """The finite numbers of a flattened result as floats (text, None, NaN, booleans and
    lists left out)."""
    numbers: dict[str, float] = {}
    for path, value in flat.items():
        if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool):
            number = float(value)
            if np.isfinite(number):
                numbers[path] = number
    return numbers


def region_scores(data: Mapping[str, Any]) -> dict[str, float]:
    """``{region: score}`` from a result's dict form (its ``region_asymmetry.<region>.score``
    leaves; 1.0 = edge of normal), in the result's region order."""
    flat = flatten_result(data, ("region_asymmetry",), depth=3)
    return {path.split(".")[1]: float(value) for path, value in flat.items()
            if path.count(".") == 2 and path.endswith(".score")}


def _walk(flat: dict[str, Any], path: str, value: Any, level: int, depth: int | None) -> None:
    if isinstance(value, Mapping) and (depth is None or level < depth):
        for key, item in value.items():
            _walk(flat, f"{path}.{key}", item, level + 1, depth)
    else:
        flat[path] = value
