"""Landmark editor: drag a misplaced measurement landmark on the photo, or re-fit an iris.

A Streamlit custom component declared from static files in ``frontend/`` (plain HTML and
JavaScript, no build step, nothing fetched from a network). It shows the face, cropped
from the photo, with only the measurement handles of :data:`palsy_core.correction.HANDLES`
and the subject's R and L marked over the face; it returns the moved handles. The photo
reaches the browser inside the component's arguments (this signed-in session's
WebSocket), never at a /media URL.
"""

from __future__ import annotations

import base64
import io
from pathlib import Path
from typing import Optional

import numpy as np
import streamlit.components.v1 as components

from palsy_core.correction import handle_positions

_FRONTEND = Path(__file__).resolve().parent / "frontend"
_component = components.declare_component("landmark_editor", path=str(_FRONTEND))

#: Longer side of the face crop sent to the browser, pixels.
DISPLAY_SIDE = 720


def _crop_box(rgb: np.ndarray, landmarks: np.ndarray) -> tuple[int, int, int, int]:
    """The face (landmark box with a margin), clipped to the photo: x0, y0, x1, y1."""
    xy = np.asarray(landmarks)[:, :2]
    lo, hi = xy.min(axis=0), xy.max(axis=0)
    margin = 0.12 * (hi - lo).max()
    height, width = rgb.shape[:2]
    x0, y0 = max(int(lo[0] - margin), 0), max(int(lo[1] - margin), 0)
    x1, y1 = min(int(hi[0] + margin) + 1, width), min(int(hi[1] + margin) + 1, height)
    return x0, y0, x1, y1


def landmark_editor(rgb: np.ndarray, landmarks: np.ndarray, *, key: str, token: str,
                    moves: Optional[dict] = None) -> Optional[dict]:
    """Draw the editor; the handles the clinician moved, in photo pixels.

    Parameters
    ----------
    rgb : ndarray (H, W, 3) uint8
        The photo as analysed.
    landmarks : ndarray (478, 3)
        The landmarks to start from (pixels of ``rgb``): as detected, so moves are
        always relative to the detector's answer.
    key : str
        Streamlit widget key.
    token : str
        Changes when the photo (or the starting point) changes: the editor then starts over.
    moves : dict, optional
        Moves already made (photo pixels), shown as moved.

    Returns
    -------
    dict or None
        ``{handle key: {"x", "y"[, "r"]}}`` in photo pixels (``r``: an iris radius);
        None before the clinician moves anything.
    """
    from PIL import Image

    x0, y0, x1, y1 = _crop_box(rgb, landmarks)
    crop = Image.fromarray(np.ascontiguousarray(rgb[y0:y1, x0:x1]))
    scale = min(1.0, DISPLAY_SIDE / max(crop.size))
    if scale < 1.0:
        crop = crop.resize((round(crop.size[0] * scale), round(crop.size[1] * scale)), Image.LANCZOS)
    buffer = io.BytesIO()
    crop.save(buffer, format="JPEG", quality=88)
    image = "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")

    def to_view(item: dict) -> dict:
        out = dict(item, x=(item["x"] - x0) * scale, y=(item["y"] - y0) * scale)
        if item.get("r") is not None:
            out["r"] = item["r"] * scale
        return out

    handles = [to_view(h) for h in handle_positions(landmarks)]
    # The subject's right is on the side of their right iris (image left unless mirrored).
    right_x = (float(landmarks[468, 0]) - x0) * scale
    left_x = (float(landmarks[473, 0]) - x0) * scale
    sides = [{"x": right_x, "text": "Subject's R"}, {"x": left_x, "text": "Subject's L"}]
    view_moves = {k: to_view(v) for k, v in (moves or {}).items()}
    value = _component(image=image, width=crop.size[0], height=crop.size[1], handles=handles,
                       sides=sides, moves=view_moves, token=token, key=key, default=None)
    if not value or not isinstance(value, dict) or not value.get("moves"):
        return None

    def to_photo(item: dict) -> dict:
        out = {"x": x0 + float(item["x"]) / scale, "y": y0 + float(item["y"]) / scale}
        if item.get("r") is not None:
            out["r"] = float(item["r"]) / scale
        return out

    return {k: to_photo(v) for k, v in value["moves"].items()}
