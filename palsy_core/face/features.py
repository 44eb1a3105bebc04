"""The 29 handcrafted asymmetry features of Parra-Dominguez et al.

Parra-Dominguez, Garcia-Capulin, Sanchez-Yanez: Automatic facial palsy diagnosis as a
classification problem using regional information extracted from a photograph,
Diagnostics 12(7), 2022, as used by Oo, Lee, Lim (a multimodal fusion model with MLP
Mixer and handcrafted features for facial palsy detection). The original authors'
definitions exactly, vectorised over a batch of faces. Inputs are the 51 key points
P0..P50 in pixel coordinates (x right, y down); "right"/"left" are the subject's sides.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from .landmarks import KEYPOINTS_51_DLIB68, KEYPOINTS_51_MEDIAPIPE

#: Feature names in spec order (index = position in the 29-vector).
FEATURE_NAMES: tuple[str, ...] = (
    "brow_outer_angle",          # f0  ang(P0, P9)
    "brow_middle_angle",         # f1  ang(P2, P7)
    "brow_inner_angle",          # f2  ang(P4, P5)
    "brow_height_ratio",         # f3
    "brow_outer_slope",          # f4
    "brow_middle_slope",         # f5
    "brow_inner_slope",          # f6
    "eye_corner_angle",          # f7  ang(P19, P10)
    "eye_width_ratio",           # f8
    "eye_to_face_side_ratio",    # f9
    "eye_to_nose_ala_ratio",     # f10
    "eye_opening_ratio",         # f11
    "eye_outer_opening_ratio",   # f12
    "eye_inner_opening_ratio",   # f13
    "mouth_corner_angle",        # f14 ang(P34, P28)
    "lip_to_eye_ratio",          # f15
    "lip_outer_height_ratio",    # f16
    "lip_inner_height_ratio",    # f17
    "lip_corner_to_bottom",      # f18
    "lip_outer_height",          # f19
    "lip_inner_height",          # f20
    "lip_half_perimeter",        # f21
    "nose_ala_angle",            # f22 ang(P27, P23)
    "nose_lip_angle",            # f23 ang(P37, P22)
    "nose_to_lip_ratio",         # f24
    "brow_middle_to_lip",        # f25
    "brow_inner_to_lip",         # f26
    "chin_to_lip",               # f27
    "philtrum_length",           # f28
)
NUM_FEATURES = len(FEATURE_NAMES)

#: The facial region each feature describes (for grouping in reports).
FEATURE_REGIONS: tuple[str, ...] = ("brow",) * 7 + ("eye",) * 7 + ("mouth",) * 8 + ("nose",) * 7

_ANGLE_FEATURES = (0, 1, 2, 7, 14, 22)
_RATIO_FEATURES = (3, 8, 9, 10, 11, 12, 13, 15, 16, 17, 24)
_SLOPE_FEATURES = (4, 5, 6)
_VERTICAL_FEATURES = (23,)
#: Features that describe shape, not asymmetry: they have no symmetric reference.
SHAPE_FEATURES = (18, 19, 20, 21, 25, 26, 27, 28)


def keypoints_51(
    landmarks: np.ndarray, scheme: Literal["mediapipe", "dlib68"] = "mediapipe"
) -> np.ndarray:
    """Pick the 51 spec key points P0..P50 out of a landmark set.

    Parameters
    ----------
    landmarks : ndarray, shape (K, D) or (N, K, D), D >= 2
        478 MediaPipe landmarks or 68 dlib landmarks, in pixels.
    scheme : {"mediapipe", "dlib68"}

    Returns
    -------
    ndarray, shape (51, 2) or (N, 51, 2), float64
    """
    indices = {"mediapipe": KEYPOINTS_51_MEDIAPIPE, "dlib68": KEYPOINTS_51_DLIB68}[scheme]
    points = np.asarray(landmarks, dtype=np.float64)
    needed = {"mediapipe": 468, "dlib68": 68}[scheme]
    if points.shape[-2] < needed:
        raise ValueError(f"The {scheme} scheme needs at least {needed} landmarks, "
                         f"got {points.shape[-2]}.")
    return points[..., indices, :2]


def compute_features(points51: np.ndarray) -> np.ndarray:
    """The 29 asymmetry features from the 51 key points.

    Parameters
    ----------
    points51 : ndarray, shape (51, 2) or (N, 51, 2)
        P0..P50 in pixels (x right, y down). Normalised [0, 1] coordinates must be
        multiplied by the image width and height first.

    Returns
    -------
    ndarray, shape (29,) or (N, 29), float64
        Raw values in spec order: degrees, ratios in [0, 1], slopes, lengths relative
        to the face or mouth width. See :data:`FEATURE_NAMES`. All are invariant to
        rotation, scale and mirroring except f3, which (as the spec defines it) compares
        mean brow y coordinates and so also depends on where the face sits in the image.
    """
    pts = np.asarray(points51, dtype=np.float64)
    single = pts.ndim == 2
    if single:
        pts = pts[None]
    if pts.shape[1:] != (51, 2):
        raise ValueError(f"compute_features needs (N, 51, 2) points, got {pts.shape}.")
    p = _level_face_sides(pts)
    x, y = p[..., 0], p[..., 1]

    def P(i):
        return p[:, i]

    def d(i, j):
        return np.linalg.norm(P(i) - P(j), axis=-1)

    def ang(i, j):
        return np.abs(np.degrees(np.arctan2(y[:, i] - y[:, j], x[:, i] - x[:, j])))

    def slope(i, j):
        return np.abs(y[:, i] - y[:, j]) / np.maximum(np.abs(x[:, i] - x[:, j]), 1e-6)

    a = d(49, 48)  # face width
    h = d(34, 28)  # mouth width
    f = np.empty((p.shape[0], NUM_FEATURES))
    # Brows
    f[:, 0], f[:, 1], f[:, 2] = ang(0, 9), ang(2, 7), ang(4, 5)
    f[:, 3] = symmetry_ratio(y[:, 0:5].mean(axis=1), y[:, 5:10].mean(axis=1))
    f[:, 4], f[:, 5], f[:, 6] = slope(9, 0), slope(7, 2), slope(5, 4)
    # Eyes
    f[:, 7] = ang(19, 10)
    f[:, 8] = symmetry_ratio(d(13, 10), d(19, 16))
    f[:, 9] = symmetry_ratio(d(10, 48), d(49, 19))
    f[:, 10] = symmetry_ratio(d(10, 23), d(19, 27))
    q = (np.abs(y[:, 11] - y[:, 15]) + np.abs(y[:, 12] - y[:, 14])) / 2
    r = (np.abs(y[:, 17] - y[:, 21]) + np.abs(y[:, 18] - y[:, 20])) / 2
    q = np.where(q <= 1e-4, 0.0, q)
    r = np.where(r <= 1e-4, 0.0, r)
    with np.errstate(divide="ignore", invalid="ignore"):
        f[:, 11] = np.where((q < r) & (r != 0), q / r, np.where(q != 0, r / q, 0.0))
    f[:, 12] = symmetry_ratio(d(11, 15), d(18, 20))
    f[:, 13] = symmetry_ratio(d(12, 14), d(17, 21))
    # Mouth
    f[:, 14] = ang(34, 28)
    f[:, 15] = symmetry_ratio(d(37, 10), d(19, 37))
    f[:, 16] = symmetry_ratio(d(29, 39), d(33, 35))
    f[:, 17] = symmetry_ratio(d(30, 38), d(32, 36))
    f[:, 18] = _safe_div(np.maximum(d(37, 28), d(37, 34)), a)
    f[:, 19] = _safe_div(np.maximum(d(29, 39), d(33, 35)), h)
    f[:, 20] = _safe_div(np.maximum(d(30, 38), d(32, 36)), h)
    right_half = _perimeter(p, (28, 29, 30, 31, 37, 38, 39))
    left_half = _perimeter(p, (31, 32, 33, 34, 35, 36, 37))
    f[:, 21] = _safe_div(np.maximum(right_half, left_half), h)
    # Nose and combined
    f[:, 22] = ang(27, 23)
    f[:, 23] = ang(37, 22)
    f[:, 24] = symmetry_ratio(d(23, 37), d(27, 37))
    f[:, 25] = _safe_div(np.maximum(d(37, 2), d(7, 37)), a)
    f[:, 26] = _safe_div(np.maximum(d(37, 3), d(6, 37)), a)
    f[:, 27] = _safe_div(d(50, 37), a)
    f[:, 28] = _safe_div(d(31, 25), a)
    return f[0] if single else f


def symmetry_ratio(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """``min(u, v) / max(u, v)``: 1 when symmetric. Defined as 1 when both are 0."""
    u, v = np.asarray(u, dtype=np.float64), np.asarray(v, dtype=np.float64)
    hi, lo = np.maximum(u, v), np.minimum(u, v)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(hi == 0, 1.0, lo / np.where(hi == 0, 1.0, hi))


def deviation_from_symmetry(features: np.ndarray) -> np.ndarray:
    """How far each feature is from its value on a perfectly symmetric face.

    Angles (f0, f1, f2, f7, f14, f22): degrees away from horizontal,
    ``min(theta, 180 - theta)``; f23: degrees away from vertical, ``|theta - 90|``;
    ratios: ``1 - ratio``; slopes f4-f6: the slope itself. Shape features
    (:data:`SHAPE_FEATURES`) have no symmetric reference and give NaN.

    Parameters
    ----------
    features : ndarray, shape (29,) or (N, 29)
    """
    f = np.asarray(features, dtype=np.float64)
    dev = np.full_like(f, np.nan)
    ang = f[..., _ANGLE_FEATURES]
    dev[..., _ANGLE_FEATURES] = np.minimum(ang, 180.0 - ang)
    dev[..., _VERTICAL_FEATURES] = np.abs(f[..., _VERTICAL_FEATURES] - 90.0)
    dev[..., _RATIO_FEATURES] = 1.0 - f[..., _RATIO_FEATURES]
    dev[..., _SLOPE_FEATURES] = f[..., _SLOPE_FEATURES]
    return dev


def _level_face_sides(pts: np.ndarray) -> np.ndarray:
    """Rotate every face about P48 so that P48 -> P49 is horizontal."""
    origin = pts[:, 48:49, :]
    delta = pts[:, 49] - pts[:, 48]
    theta = np.arctan2(delta[:, 1], delta[:, 0])
    cos, sin = np.cos(-theta), np.sin(-theta)
    rotation = np.stack([np.stack([cos, -sin], -1), np.stack([sin, cos], -1)], -2)
    return np.einsum("nij,nkj->nki", rotation, pts - origin) + origin


def _perimeter(p: np.ndarray, order: tuple[int, ...]) -> np.ndarray:
    ring = p[:, list(order) + [order[0]]]
    return np.linalg.norm(np.diff(ring, axis=1), axis=-1).sum(axis=1)


def _safe_div(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den == 0, 0.0, num / np.where(den == 0, 1.0, den))
