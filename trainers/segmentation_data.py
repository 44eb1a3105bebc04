"""Training data for face parsing: built from a folder of faces, or read from labelled folders.

Mesh-derived set (no hand labelling), from the London Face set's layout
(``neutral/NNN_03.jpg``, ``smiling/NNN_08.jpg``) or any folder of frontal face photos::

    python -m trainers.segmentation --faces ../shared/faces/london --data .cache/segmentation/london ...

Per person (each photo first scaled to :data:`WORK_SIDE` px): the rest photo with a
healthy face's small asymmetry, the real smile, two simulated palsies of the rest photo
and one of the smile (random side, region, strength and pattern), and, when the person
has both photos, the rest/smile composite (one half smiles, the paralysed half stays at
rest). Every sample is cropped as the app crops a photo (the landmarker's own landmarks on
that image, :func:`palsy_core.face.frame.align_face_crop`); the targets are drawn from the
simulator's landmarks (for real photos the detected ones): class map from the mesh
polygons, depth from the mesh's z, the paralysed region from the simulator's mask.
People are split train / tune / test (60 / 10 / 12 of 82 by default): nobody appears in
two parts. The set is written as one ``.npz`` under ``--data`` (keep it out of the
repository: it holds crops of the volunteers' faces).

Labelled folders (for admins with hand-labelled data): LaPa
(``ROOT/{train,val,test}/{images,labels}/``, label PNGs of LaPa's 11 ids) or any
``ROOT/images/*.jpg`` + ``ROOT/labels/*.png`` with the same ids. Hair (LaPa 10) and the
nose are mapped as :data:`LAPA_TO_CLASSES` says; such images carry no paralysis labels
(ignored by that loss term).
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass, fields
from pathlib import Path
from collections.abc import Iterator

import cv2
import numpy as np

from palsy_core.imageio import IMAGE_SUFFIXES

from ._run import TrainingError

#: Photos are scaled to this long side before simulation and cropping (the crop is
#: 160 px: more resolution only slows the simulator).
WORK_SIDE = 512
#: Set format; bump when a change makes old cached sets wrong.
SET_VERSION = 1
#: LaPa label ids -> our classes: 0 bg, 1 skin, 2/3 brows, 4/5 eyes, 6 nose (skin),
#: 7 upper lip, 8 inner mouth, 9 lower lip (mouth), 10 hair (background: not a class here).
LAPA_TO_CLASSES = np.array([0, 1, 2, 2, 3, 3, 1, 4, 4, 4, 0], dtype=np.uint8)
SPLITS = ("train", "tune", "test")


@dataclass
class ParsingSet:
    """Aligned crops and their targets, row-aligned.

    images (N, S, S, 3) uint8; labels (N, S, S) uint8 (255 ignore); paralysed (N, S, S)
    int8 (1/0, -1 unlabelled); depth (N, S, S) float16 (NaN unknown); landmarks (N, 478, 3)
    float32, the *detected* landmarks in crop pixels (what the app would know); person,
    kind, side, split: (N,) str.
    """

    images: np.ndarray
    labels: np.ndarray
    paralysed: np.ndarray
    depth: np.ndarray
    landmarks: np.ndarray
    person: np.ndarray
    kind: np.ndarray
    side: np.ndarray
    split: np.ndarray

    def __len__(self) -> int:
        return len(self.images)

    def subset(self, mask: np.ndarray) -> ParsingSet:
        return ParsingSet(**{f.name: getattr(self, f.name)[mask] for f in fields(self)})

    def part(self, split: str) -> ParsingSet:
        return self.subset(self.split == split)

    def save(self, path: Path, manifest: dict) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp.npz")
        np.savez_compressed(tmp, **{f.name: getattr(self, f.name) for f in fields(self)})
        tmp.replace(path)
        path.with_suffix(".json").write_text(json.dumps(manifest, indent=2) + "\n")

    @classmethod
    def load(cls, path: Path) -> ParsingSet:
        with np.load(path, allow_pickle=False) as data:
            return cls(**{f.name: data[f.name] for f in fields(cls)})


def london_pairs(faces: Path) -> list[tuple[str, Path | None, Path | None]]:
    """(person, rest photo, smile photo) from the London layout, or one photo per person
    from a flat folder of faces (each file its own person)."""
    neutral, smiling = faces / "neutral", faces / "smiling"
    if neutral.is_dir():
        rest = {p.name.split("_")[0]: p for p in neutral.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES}
        smile = ({p.name.split("_")[0]: p for p in smiling.iterdir()
                  if p.suffix.lower() in IMAGE_SUFFIXES} if smiling.is_dir() else {})
        return [(pid, rest.get(pid), smile.get(pid)) for pid in sorted(set(rest) | set(smile))]
    photos = sorted(p for p in faces.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    return [(p.stem, p, None) for p in photos]


def split_people(people: list[str], *, tune: int, test: int, seed: int) -> dict[str, str]:
    """Person -> "train" / "tune" / "test", a seeded shuffle (same people, same split)."""
    order = sorted(people)
    np.random.default_rng(seed).shuffle(order)
    return {p: ("test" if i < test else "tune" if i < test + tune else "train")
            for i, p in enumerate(order)}


def build_mesh_set(faces: Path, out: Path, *, size: int = 160, tune: int = 10, test: int = 12,
                   seed: int = 0, limit: int | None = None, progress: bool = True) -> Path:
    """Build (or reuse, when its manifest matches) the mesh-derived set; returns its path.

    ``limit``: only the first people (sorted), for tests.
    """
    from trainers.data import simulate
    from palsy_core.face.landmarks import FaceLandmarker

    pairs = london_pairs(faces)[:limit] if limit else london_pairs(faces)
    if not pairs:
        raise TrainingError(f"no face photos in {faces} (expected neutral/ and smiling/ "
                            "folders or image files).")
    key = {"set_version": SET_VERSION, "simulator_version": simulate.SIMULATOR_VERSION,
           "faces": str(faces.resolve()), "people": [p for p, _, _ in pairs], "size": size,
           "tune": tune, "test": test, "seed": seed, "work_side": WORK_SIDE,
           "composite": hasattr(simulate, "composite_palsy")}
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:12]
    path = out / f"parsing_set_{digest}.npz"
    if path.is_file():
        return path
    split = split_people([p for p, _, _ in pairs], tune=tune, test=test, seed=seed)
    rows: list[dict] = []
    start = time.perf_counter()
    with FaceLandmarker() as landmarker:
        for number, (person, rest_path, smile_path) in enumerate(pairs):
            rng = np.random.default_rng([seed, int(hashlib.sha256(person.encode()).hexdigest()[:8], 16)])
            for case_kind, image, truth, paralysed, side in _person_cases(
                    landmarker, rest_path, smile_path, rng, simulate):
                row = _crop_sample(landmarker, image, truth, paralysed, size)
                if row is None:
                    continue
                row.update(person=person, kind=case_kind, side=side or "", split=split[person])
                rows.append(row)
            if progress:
                print(f"  built {number + 1}/{len(pairs)} people, {len(rows)} samples "
                      f"({time.perf_counter() - start:.0f} s)", flush=True)
    data = ParsingSet(**{f.name: np.stack([r[f.name] for r in rows]) if f.name in (
        "images", "labels", "paralysed", "depth", "landmarks") else np.array([r[f.name] for r in rows])
        for f in fields(ParsingSet)})
    counts = {s: {"people": len(set(data.person[data.split == s])),
                  "samples": int((data.split == s).sum())} for s in SPLITS}
    kinds = {k: int((data.kind == k).sum()) for k in sorted(set(data.kind))}
    data.save(path, {**key, "counts": counts, "kinds": kinds,
                     "build_seconds": round(time.perf_counter() - start, 1)})
    return path


def _load_small(path: Path) -> np.ndarray:
    from palsy_core.imageio import load_image

    rgb = load_image(str(path))
    factor = WORK_SIDE / max(rgb.shape[:2])
    if factor < 1:
        rgb = cv2.resize(rgb, (round(rgb.shape[1] * factor), round(rgb.shape[0] * factor)),
                         interpolation=cv2.INTER_AREA)
    return rgb


def _detect(landmarker, rgb: np.ndarray) -> np.ndarray | None:
    from palsy_core.errors import NoFaceError

    try:
        return landmarker.detect(rgb).landmarks
    except NoFaceError:
        return None


def _person_cases(landmarker, rest_path, smile_path, rng, simulate) -> Iterator[tuple]:
    """(kind, image, truth landmarks, paralysed mask or None, side) for one person."""
    photos = {}
    for name, path in (("rest", rest_path), ("smile", smile_path)):
        if path is not None:
            rgb = _load_small(path)
            points = _detect(landmarker, rgb)
            if points is not None:
                photos[name] = (rgb, points)
    sides = list(rng.permutation(simulate.SIDES)) * 3

    def palsy(rgb, points):
        side = sides.pop()
        region = str(rng.choice(["full", "full", "mouth", "eye", "brow"]))
        pattern = "peripheral" if region == "brow" else str(rng.choice(simulate.PATTERNS))
        case = simulate.simulate_palsy(rgb, points, side=side, region=region,
                                       severity=float(rng.uniform(0.3, 1.0)), pattern=pattern,
                                       seed=int(rng.integers(1 << 30)))
        return case

    if "rest" in photos:
        rgb, points = photos["rest"]
        healthy = simulate.simulate_healthy(rgb, points, seed=int(rng.integers(1 << 30)))
        yield "rest", healthy.image, healthy.landmarks, None, None
        for _ in range(2):
            case = palsy(rgb, points)
            yield f"rest_palsy_{case.region}", case.image, case.landmarks, case.masks["paralysed"], case.side
    if "smile" in photos:
        rgb, points = photos["smile"]
        yield "smile", rgb, points, None, None
        case = palsy(rgb, points)
        yield f"smile_palsy_{case.region}", case.image, case.landmarks, case.masks["paralysed"], case.side
    if "rest" in photos and "smile" in photos and hasattr(simulate, "composite_palsy") \
            and photos["rest"][0].shape == photos["smile"][0].shape:
        side = sides.pop()
        case = simulate.composite_palsy(*photos["rest"], *photos["smile"], side=side)
        yield "composite", case.image, case.landmarks, case.masks["paralysed"], case.side


def _crop_sample(landmarker, image, truth, paralysed, size) -> dict | None:
    from palsy_core.face.frame import align_face_crop, face_alignment
    from palsy_core.segmentation import mesh_depth_map, mesh_label_map, transform_points

    detected = _detect(landmarker, image)
    if detected is None:
        return None
    matrix = face_alignment(detected, size)
    crop_landmarks = detected.copy()
    crop_landmarks[:, :2] = transform_points(detected, matrix)
    if paralysed is None:
        region = np.zeros((size, size), dtype=np.int8)
    else:
        region = cv2.warpAffine(paralysed.astype(np.uint8), matrix, (size, size),
                                flags=cv2.INTER_NEAREST).astype(np.int8)
    return {
        "images": align_face_crop(image, detected, size=size),
        "labels": mesh_label_map(truth, (size, size), matrix),
        "paralysed": region,
        "depth": mesh_depth_map(truth, (size, size), matrix).astype(np.float16),
        "landmarks": crop_landmarks.astype(np.float32),
    }


def read_labelled_folders(root: Path, *, size: int = 160, seed: int = 0,
                          progress: bool = True) -> ParsingSet:
    """Image + label-PNG folders (LaPa ids) aligned and cropped like the app's input.

    ``ROOT/{train,val,test}/{images,labels}`` keeps LaPa's split (val -> tune); a flat
    ``ROOT/{images,labels}`` is split 80/10/10 by file (the folders name no people).
    """
    from palsy_core.face.frame import align_face_crop, face_alignment
    from palsy_core.imageio import load_image
    from palsy_core.face.landmarks import FaceLandmarker
    from palsy_core.segmentation import mesh_depth_map, transform_points

    parts = [(s, root / d) for s, d in (("train", "train"), ("tune", "val"), ("test", "test"))
             if (root / d / "images").is_dir()] or [(None, root)]
    rows, skipped = [], []
    rng = np.random.default_rng(seed)
    with FaceLandmarker() as landmarker:
        for split, folder in parts:
            images = sorted(p for p in (folder / "images").iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
            for number, path in enumerate(images):
                label_path = folder / "labels" / (path.stem + ".png")
                if not label_path.is_file():
                    skipped.append(f"{path.name}: no labels/{label_path.name}")
                    continue
                rgb = load_image(str(path))
                ids = cv2.imread(str(label_path), cv2.IMREAD_GRAYSCALE)
                if ids is None or ids.shape != rgb.shape[:2]:
                    skipped.append(f"{path.name}: label PNG missing or of another size")
                    continue
                points = _detect(landmarker, rgb)
                if points is None:
                    skipped.append(f"{path.name}: no face found")
                    continue
                matrix = face_alignment(points, size)
                mapped = np.where(ids < len(LAPA_TO_CLASSES),
                                  LAPA_TO_CLASSES[np.minimum(ids, len(LAPA_TO_CLASSES) - 1)], 255)
                crop_points = points.copy()
                crop_points[:, :2] = transform_points(points, matrix)
                rows.append({
                    "images": align_face_crop(rgb, points, size=size),
                    "labels": cv2.warpAffine(mapped.astype(np.uint8), matrix, (size, size),
                                             flags=cv2.INTER_NEAREST, borderValue=255),
                    "paralysed": np.full((size, size), -1, dtype=np.int8),
                    "depth": mesh_depth_map(points, (size, size), matrix).astype(np.float16),
                    "landmarks": crop_points.astype(np.float32),
                    "person": path.stem, "kind": "labelled", "side": "",
                    "split": split or str(rng.choice(SPLITS, p=[0.8, 0.1, 0.1])),
                })
                if progress and number % 200 == 0:
                    print(f"  read {number + 1}/{len(images)} from {folder}", flush=True)
    if skipped:
        print(f"  skipped {len(skipped)} files, e.g. {skipped[0]}", flush=True)
    if not rows:
        raise TrainingError(f"no usable image + label pairs under {root}.")
    return ParsingSet(**{f.name: np.stack([r[f.name] for r in rows]) if f.name in (
        "images", "labels", "paralysed", "depth", "landmarks") else np.array([r[f.name] for r in rows])
        for f in fields(ParsingSet)})
