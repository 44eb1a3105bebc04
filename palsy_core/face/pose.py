"""Head pose from the landmarks themselves, and measuring as if the face looked at the camera.

A turned head foreshortens the far side of the face, so left-right differences read in
the image drift with the turn. MediaPipe's 478 landmarks are 3-D (``z`` is depth, scaled
like ``x``), so the head's rotation can be undone before measuring: *frontalizing*.

The rotation is found the way MediaPipe's own geometry pipeline finds it: a weighted
Procrustes fit of its canonical face mesh (468 vertices, centimetres) to the landmarks,
on the 33 stable points and weights that the pipeline uses. Both come from the geometry
metadata inside ``face_landmarker.task``; nothing here is hand-typed.

Frames
------
Landmarks: pixels, x right, y down, z smaller = nearer the camera (as
:mod:`palsy_core.face.landmarks` returns them). Internally we work in MediaPipe's canonical
frame: x right, y up, z towards the camera, i.e. ``(x, -y, -z)``; the projection is
orthographic (the landmarker's own model of the image).

Limits (measured by ``benchmarks/bench_pose_tolerance.py``): on landmarks rotated exactly,
frontalizing removes the drift; on real turned faces MediaPipe's depth is less reliable
than its x and y, so the refusal thresholds in :mod:`palsy_core.face.normal_range` are set on
the landmarker's answers for re-rendered turned faces, not on the exact rotation.
"""

from __future__ import annotations

import functools
import zipfile

import numpy as np

from .landmarks import HeadPose, head_pose_from_matrix, landmarker_model_path

_GEOMETRY_FILE = "geometry_pipeline_metadata_landmarks.binarypb"
#: Canonical-frame conversion of the landmark frame (x right, y down, z away) and back.
_TO_CANONICAL = np.array([1.0, -1.0, -1.0])


def _protobuf_fields(buffer: bytes):
    """(field number, wire type, value) of a serialized protobuf message, in order."""
    def varint(position):
        value = shift = 0
        while True:
            byte = buffer[position]
            position += 1
            value |= (byte & 0x7F) << shift
            shift += 7
            if byte < 0x80:
                return value, position

    position = 0
    while position < len(buffer):
        key, position = varint(position)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, position = varint(position)
        elif wire == 2:
            size, position = varint(position)
            value, position = buffer[position:position + size], position + size
        elif wire == 5:
            value, position = buffer[position:position + 4], position + 4
        elif wire == 1:
            value, position = buffer[position:position + 8], position + 8
        else:
            raise ValueError(f"Unsupported protobuf wire type {wire} in {_GEOMETRY_FILE}.")
        yield number, wire, value


@functools.cache
def canonical_face() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """MediaPipe's canonical face mesh and its Procrustes landmark basis.

    Returns
    -------
    vertices : ndarray, shape (468, 3)
        Canonical face, centimetres, x right, y up, z towards the camera.
    basis : ndarray of int, shape (33,)
        Landmark indices the pose fit uses.
    weights : ndarray, shape (33,)
        Their weights.

    Notes
    -----
    Parsed from ``GeometryPipelineMetadata`` (field 1: the ``Mesh3d``, whose field 3 is the
    vertex buffer of x, y, z, u, v per vertex; field 2: the weighted landmark references).
    """
    with zipfile.ZipFile(landmarker_model_path()) as bundle:
        metadata = bundle.read(_GEOMETRY_FILE)
    vertices, basis, weights = [], [], []
    for number, _, value in _protobuf_fields(metadata):
        if number == 1:
            for field_number, wire, item in _protobuf_fields(value):
                if field_number == 3 and wire == 5:
                    vertices.append(np.frombuffer(item, dtype="<f4")[0])
                elif field_number == 3 and wire == 2:  # packed encoding
                    vertices.extend(np.frombuffer(item, dtype="<f4"))
        elif number == 2:
            ref = {n: v for n, _, v in _protobuf_fields(value)}
            basis.append(int(ref.get(1, 0)))
            weights.append(float(np.frombuffer(ref[2], dtype="<f4")[0]) if 2 in ref else 0.0)
    mesh = np.asarray(vertices, dtype=np.float64).reshape(-1, 5)[:, :3]
    return mesh, np.asarray(basis, dtype=np.intp), np.asarray(weights, dtype=np.float64)


def estimate_rotation(landmarks: np.ndarray) -> np.ndarray:
    """Head rotation (3 x 3, canonical face -> camera) fitted to 3-D landmarks.

    Parameters
    ----------
    landmarks : ndarray, shape (>=468, 3)
        Pixels and MediaPipe depth, as :class:`palsy_core.FaceLandmarker` returns them.

    Returns
    -------
    ndarray, shape (3, 3)
        Proper rotation R with ``camera ~ s * R @ canonical + t`` (canonical frame axes).
    """
    mesh, basis, weights = canonical_face()
    source = mesh[basis]
    target = np.asarray(landmarks, dtype=np.float64)[basis, :3] * _TO_CANONICAL
    w = weights / weights.sum()
    source = source - w @ source
    target = target - w @ target
    u, _, vt = np.linalg.svd((source * w[:, None]).T @ target)
    flip = np.sign(np.linalg.det(vt.T @ u.T))
    return vt.T @ np.diag([1.0, 1.0, flip]) @ u.T


def pose_from_rotation(rotation: np.ndarray) -> HeadPose:
    """Yaw, pitch and roll (degrees) of a rotation, as :class:`HeadPose` defines them."""
    matrix = np.eye(4)
    matrix[:3, :3] = rotation
    return head_pose_from_matrix(matrix)


def rotation_from_pose(yaw: float, pitch: float, roll: float = 0.0) -> np.ndarray:
    """The rotation ``Ry(yaw) @ Rx(pitch) @ Rz(roll)`` (degrees), canonical frame."""
    a, b, c = np.radians([yaw, pitch, roll])
    ry = np.array([[np.cos(a), 0, np.sin(a)], [0, 1, 0], [-np.sin(a), 0, np.cos(a)]])
    rx = np.array([[1, 0, 0], [0, np.cos(b), -np.sin(b)], [0, np.sin(b), np.cos(b)]])
    rz = np.array([[np.cos(c), -np.sin(c), 0], [np.sin(c), np.cos(c), 0], [0, 0, 1]])
    return ry @ rx @ rz


def rotate_landmarks(landmarks: np.ndarray, rotation: np.ndarray) -> np.ndarray:
    """Apply a rotation (canonical frame) to 3-D landmarks about their centroid.

    Orthographic: the rotated x, y are where the points would appear in the image, z
    their new depth. Used to frontalize (with the inverse of the head's rotation) and to
    simulate a turned head.
    """
    points = np.asarray(landmarks, dtype=np.float64)
    canonical = points[:, :3] * _TO_CANONICAL
    centre = canonical.mean(axis=0)
    turned = (canonical - centre) @ np.asarray(rotation).T + centre
    out = points.copy()
    out[:, :3] = turned * _TO_CANONICAL
    return out.astype(np.asarray(landmarks).dtype, copy=False)


def frontalize(landmarks: np.ndarray, axes: str = "yaw") -> tuple[np.ndarray, HeadPose]:
    """The landmarks as they would be with the head facing the camera.

    Parameters
    ----------
    landmarks : ndarray, shape (478, 3)
    axes : {"yaw", "all"}
        "yaw" (default) turns the head back about the camera's vertical axis only: the
        turn is what foreshortens one side more than the other, and the landmarker's
        depth on a nodding head is too unreliable to undo the pitch (measured by
        ``benchmarks/bench_pose_tolerance.py``: undoing it made the drift larger). "all"
        undoes the whole fitted rotation (exact on exactly rotated landmarks).

    Returns
    -------
    frontal : ndarray, shape (478, 3)
        Landmarks rotated about their centroid; pixels as the input.
    pose : HeadPose
        The head pose fitted to the input (what was, in part, undone).
    """
    rotation = estimate_rotation(landmarks)
    pose = pose_from_rotation(rotation)
    if axes == "all":
        undo = rotation.T
    elif axes == "yaw":
        undo = rotation_from_pose(-pose.yaw, 0.0)
    else:
        raise ValueError(f"axes must be 'yaw' or 'all', not {axes!r}.")
    return rotate_landmarks(landmarks, undo), pose
