"""Labelled faces made from the Face Research Lab London Set, cached per person.

Every person of the set (``neutral/NNN_03.jpg`` at rest, ``smiling/NNN_08.jpg``
smiling) gives, at :data:`WORK_SIZE` px:

- real healthy faces: the two unaltered photos (``kind`` "real") and their mirror
  images ("mirror"), so a model sees real healthy asymmetry;
- simulated healthy faces: :func:`trainers.data.simulate.simulate_healthy` of each photo
  ("healthy_sim"), so a warp is no cue to palsy;
- simulated palsy: :data:`PALSY_PER_PHOTO` :func:`~trainers.data.simulate.simulate_palsy`
  cases per photo ("palsy_sim"; side, region, severity band and pattern drawn per
  case, two cases per severity band);
- composite palsy: :func:`~trainers.data.simulate.composite_palsy` of the person's rest and
  smile photos, each side ("composite").

Every synthetic image (all but "real") loses some detail or tilts a little half of the
time, whatever its label (:func:`~trainers.data.simulate.jitter_photo`). The landmarker then
runs on every image, as the app runs it on a photo: a model learns from what MediaPipe
finds, not from the simulator's own landmarks. The images are never written anywhere;
only landmarks, blendshapes, head pose, the 224 px aligned face crop, and the landmarks
and blendshapes of the flipped image (the app averages a photo and its mirror) are
cached, in ``.cache/london_faces/`` (one file per person, keyed by the recipe).

Cite the set wherever results depend on it: DeBruine, L., & Jones, B. (2017). Face
Research Lab London Set (Version 5). figshare. https://doi.org/10.6084/m9.figshare.5047666.v5
"""

from __future__ import annotations

import hashlib
import json
import os
import zlib
from dataclasses import dataclass
from pathlib import Path
from collections.abc import Iterable, Sequence

import numpy as np

from palsy_core.vocabulary import SIDES

from ._run import TrainingError

#: The data set's attribution, for model cards and benchmark output.
LONDON_CITATION = ("DeBruine, L., & Jones, B. (2017). Face Research Lab London Set "
                   "(Version 5). figshare. https://doi.org/10.6084/m9.figshare.5047666.v5")
#: Long side (px) the photos are reduced to before simulating: the 1350 px originals
#: cost four times the warp time for landmarks no better placed (the landmarker works
#: on a 256 px face crop).
WORK_SIZE = 675
#: Simulated palsy cases per photo (two per severity band: mild, moderate, severe).
PALSY_PER_PHOTO = 6
#: Strength bands of the severity names (as simulate.write_simulated_class_folders).
SEVERITY_BANDS = {"mild": (0.2, 0.4), "moderate": (0.45, 0.7), "severe": (0.75, 1.0)}
#: The severity band of each simulated case of a photo, in the order they are drawn.
PALSY_BANDS = tuple(name for name in SEVERITY_BANDS for _ in range(PALSY_PER_PHOTO // 3))
#: Regions of simulated cases and their chances (mouth-led palsy is the commonest).
REGION_CHANCES = {"full": 0.35, "mouth": 0.3, "eye": 0.2, "brow": 0.15}
#: Bump when what a person's cache file holds changes.
RECIPE_VERSION = 2
EXPRESSIONS = ("rest", "smile")


@dataclass
class FaceRows:
    """Analysed faces, one row each (arrays share the first axis).

    Attributes
    ----------
    person : ndarray of str
        The London id ("001"), the unit of every split.
    source : ndarray of str
        "rest" or "smile": the photo the face was made from ("composite": both).
    kind : ndarray of str
        "real", "mirror", "healthy_sim", "palsy_sim" or "composite".
    palsy : ndarray of int
    side : ndarray of str
        The subject's affected side, "" when healthy.
    region, severity : ndarray of str
        "" when healthy.
    landmarks : ndarray (N, 478, 3) float32
        What the landmarker found, pixels of the :data:`WORK_SIZE` image.
    blendshapes : ndarray (N, 52) float32
    blendshape_names : tuple of str
    head_pose : ndarray (N, 3) float32
        Yaw, pitch, roll in degrees.
    crops : ndarray (N, 224, 224, 3) uint8
        The aligned face crop (:func:`palsy_core.align_face_crop`).
    mirror_landmarks, mirror_blendshapes : ndarray
        What the landmarker found on the left-right flipped image (pixels of the flipped
        image), as the app finds them for models that average over mirror images; NaN
        where it found no face there.
    """

    person: np.ndarray
    source: np.ndarray
    kind: np.ndarray
    palsy: np.ndarray
    side: np.ndarray
    region: np.ndarray
    severity: np.ndarray
    landmarks: np.ndarray
    blendshapes: np.ndarray
    blendshape_names: tuple
    head_pose: np.ndarray
    crops: np.ndarray
    mirror_landmarks: np.ndarray
    mirror_blendshapes: np.ndarray

    def __len__(self) -> int:
        return len(self.person)

    def take(self, index) -> FaceRows:
        fields = {name: getattr(self, name)[index] for name in _ARRAY_FIELDS}
        return FaceRows(blendshape_names=self.blendshape_names, **fields)

    def blendshape_dict(self, i: int, mirror: bool = False) -> dict[str, float]:
        values = self.mirror_blendshapes[i] if mirror else self.blendshapes[i]
        return {n: float(v) for n, v in zip(self.blendshape_names, values)}

    @classmethod
    def concatenate(cls, parts: Sequence[FaceRows]) -> FaceRows:
        fields = {name: np.concatenate([getattr(p, name) for p in parts])
                  for name in _ARRAY_FIELDS}
        return cls(blendshape_names=parts[0].blendshape_names, **fields)


_ARRAY_FIELDS = ("person", "source", "kind", "palsy", "side", "region", "severity",
                 "landmarks", "blendshapes", "head_pose", "crops", "mirror_landmarks",
                 "mirror_blendshapes")


def london_people(faces_dir: str | os.PathLike) -> list[str]:
    """Ids of the people with both a rest and a smile photo under ``faces_dir``.

    Raises
    ------
    TrainingError
        When the folder does not hold the set's layout.
    """
    root = Path(faces_dir)
    neutral, smiling = root / "neutral", root / "smiling"
    if not neutral.is_dir() or not smiling.is_dir():
        raise TrainingError(f"{root} is not the Face Research Lab London Set (expected "
                            "neutral/NNN_03.jpg and smiling/NNN_08.jpg); download it from "
                            "https://doi.org/10.6084/m9.figshare.5047666.v5")
    rest = {p.name[:3] for p in neutral.glob("*_03.jpg")}
    smile = {p.name[:3] for p in smiling.glob("*_08.jpg")}
    people = sorted(rest & smile)
    if not people:
        raise TrainingError(f"no NNN_03.jpg / NNN_08.jpg photo pairs in {root}")
    return people


def photo_paths(faces_dir: str | os.PathLike, person: str) -> dict[str, Path]:
    root = Path(faces_dir)
    return {"rest": root / "neutral" / f"{person}_03.jpg",
            "smile": root / "smiling" / f"{person}_08.jpg"}


def load_work_photo(path: Path) -> np.ndarray:
    """A photo reduced to :data:`WORK_SIZE` px on its long side (RGB uint8)."""
    import cv2

    from palsy_core import load_image

    rgb = load_image(path)
    factor = WORK_SIZE / max(rgb.shape[:2])
    if factor >= 1.0:
        return rgb
    size = (round(rgb.shape[1] * factor), round(rgb.shape[0] * factor))
    return cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)


def person_seed(person: str, seed: int = 0) -> int:
    return zlib.crc32(f"{person}:{seed}".encode())


def make_person_faces(rest_rgb: np.ndarray, smile_rgb: np.ndarray, landmarker, *,
                      person: str, seed: int = 0):
    """Every labelled image of one person (see the module notes), landmarked.

    Yields ``(labels, image, FaceLandmarks)`` with labels a dict of source, kind, palsy,
    side, region and severity; images on which the landmarker finds no face are skipped.
    """
    from palsy_core.errors import NoFaceError
    from trainers.data.simulate import (composite_palsy, jitter_photo, simulate_healthy,
                                     simulate_palsy)

    rng = np.random.default_rng(person_seed(person, seed))
    photos = {"rest": rest_rgb, "smile": smile_rgb}
    found = {}
    for source, rgb in photos.items():
        try:
            found[source] = landmarker.detect(rgb)
        except NoFaceError:
            continue

    def emit(labels, image, jitter=True):
        if jitter:
            image, _ = jitter_photo(image, None, seed=int(rng.integers(2**31)))
        try:
            return labels, image, landmarker.detect(image)
        except NoFaceError:
            return None

    for source, face in found.items():
        rgb, points = photos[source], face.landmarks
        healthy = dict(source=source, palsy=0, side="", region="", severity="")
        yield healthy | {"kind": "real"}, rgb, face
        out = emit(healthy | {"kind": "mirror"}, np.ascontiguousarray(rgb[:, ::-1]))
        if out:
            yield out
        case = simulate_healthy(rgb, points, seed=int(rng.integers(2**31)))
        out = emit(healthy | {"kind": "healthy_sim"}, case.image)
        if out:
            yield out
        for band in PALSY_BANDS:
            recipe = draw_palsy_case(rng, band)
            case = simulate_palsy(rgb, points, **recipe)
            out = emit(dict(source=source, kind="palsy_sim", palsy=1, side=recipe["side"],
                            region=recipe["region"], severity=case.severity), case.image)
            if out:
                yield out
    if len(found) == 2:
        for side in SIDES:
            case = composite_palsy(rest_rgb, found["rest"].landmarks, smile_rgb,
                                   found["smile"].landmarks, side=side)
            out = emit(dict(source="composite", kind="composite", palsy=1, side=side,
                            region=case.region, severity=case.severity), case.image)
            if out:
                yield out


def draw_palsy_case(rng: np.random.Generator, band: str) -> dict:
    """The keyword arguments of one :func:`~trainers.data.simulate.simulate_palsy` case of
    severity ``band``: side, region (:data:`REGION_CHANCES`), pattern (a fifth of the
    cases that can be central are), strength within the band, and the case's seed."""
    regions = list(REGION_CHANCES)
    side = SIDES[rng.integers(2)]
    region = regions[rng.choice(len(regions), p=list(REGION_CHANCES.values()))]
    pattern = "central" if region != "brow" and rng.random() < 0.2 else "peripheral"
    return dict(side=side, region=region, severity=float(rng.uniform(*SEVERITY_BANDS[band])),
                pattern=pattern, seed=int(rng.integers(2**31)))


def recipe_key(seed: int) -> str:
    from trainers.data.simulate import SIMULATOR_VERSION

    text = json.dumps([RECIPE_VERSION, SIMULATOR_VERSION, WORK_SIZE, PALSY_PER_PHOTO,
                       SEVERITY_BANDS, REGION_CHANCES, seed], sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def build_rows(faces_dir: str | os.PathLike, *, cache_dir: str | os.PathLike = ".cache/london_faces",
               people: Iterable[str] | None = None, seed: int = 0,
               progress: bool = True) -> FaceRows:
    """The labelled faces of ``people`` (default: all), from the cache where present."""
    from palsy_core import FaceLandmarker
    from palsy_core.face.frame import align_face_crop
    from palsy_core.errors import NoFaceError

    people = list(people) if people is not None else london_people(faces_dir)
    folder = Path(cache_dir) / recipe_key(seed)
    folder.mkdir(parents=True, exist_ok=True)
    parts = []
    landmarker = None
    try:
        for number, person in enumerate(people, start=1):
            path = folder / f"{person}.npz"
            if not path.is_file():
                if landmarker is None:
                    landmarker = FaceLandmarker()
                paths = photo_paths(faces_dir, person)
                rest, smile = (load_work_photo(paths[k]) for k in EXPRESSIONS)
                rows = []
                for labels, image, face in make_person_faces(rest, smile, landmarker,
                                                             person=person, seed=seed):
                    try:
                        mirror = landmarker.detect(np.ascontiguousarray(image[:, ::-1]))
                    except NoFaceError:
                        mirror = None
                    rows.append((labels, face, align_face_crop(image, face.landmarks), mirror))
                _save_person(path, person, rows)
                if progress:
                    print(f"  faces of person {person} ({number}/{len(people)}): "
                          f"{len(rows)} images", flush=True)
            parts.append(_load_person(path))
    finally:
        if landmarker is not None:
            landmarker.close()
    return FaceRows.concatenate(parts)


def _save_person(path: Path, person: str, rows) -> None:
    labels = [r[0] for r in rows]
    faces = [r[1] for r in rows]
    names = tuple(faces[0].blendshapes)
    arrays = dict(
        person=np.array([person] * len(rows)),
        source=np.array([l["source"] for l in labels]),
        kind=np.array([l["kind"] for l in labels]),
        palsy=np.array([l["palsy"] for l in labels], dtype=np.int64),
        side=np.array([l["side"] for l in labels]),
        region=np.array([l["region"] for l in labels]),
        severity=np.array([l["severity"] or "" for l in labels]),
        landmarks=np.stack([f.landmarks for f in faces]).astype(np.float32),
        blendshapes=np.array([[f.blendshapes[n] for n in names] for f in faces], np.float32),
        head_pose=np.array([[f.head_pose.yaw, f.head_pose.pitch, f.head_pose.roll]
                            for f in faces], np.float32),
        crops=np.stack([r[2] for r in rows]),
        mirror_landmarks=np.stack([r[3].landmarks if r[3] is not None
                                   else np.full_like(r[1].landmarks, np.nan) for r in rows]
                                  ).astype(np.float32),
        mirror_blendshapes=np.array([[r[3].blendshapes.get(n, np.nan) if r[3] is not None
                                      else np.nan for n in names] for r in rows], np.float32),
        blendshape_names=np.array(names),
    )
    tmp = path.with_name(path.stem + ".tmp.npz")
    np.savez_compressed(tmp, **arrays)
    os.replace(tmp, path)


def _load_person(path: Path) -> FaceRows:
    with np.load(path) as data:
        fields = {name: data[name] for name in _ARRAY_FIELDS}
        names = tuple(str(n) for n in data["blendshape_names"])
    return FaceRows(blendshape_names=names, **fields)


def person_folds(people: Sequence[str], k: int, seed: int = 0) -> list[list[str]]:
    """``people`` dealt into ``k`` folds at random (sizes differ by at most one)."""
    order = np.random.default_rng(seed).permutation(sorted(people))
    return [sorted(order[i::k].tolist()) for i in range(k)]
