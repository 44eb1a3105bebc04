"""The trainers' disk cache of modalities and frozen-backbone features, keyed by content.

:class:`ModalityStore` keys everything by the sha256 of the image file's bytes, so the
landmarker runs once per image ever, whatever the file is called or wherever it lies.
It stores the five modalities of :mod:`palsy_core.modalities` for the photo and for its
mirror image (served under :func:`mirrored_digest` keys). It also caches the output of
an image model's frozen backbone layers per image, keyed by content hash, backbone
architecture, backbone checkpoint hash, pixel normalisation and input size: training
epochs then start from those tensors instead of the photo.
"""

from __future__ import annotations

import hashlib
import os
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING
from collections.abc import Iterable, Sequence

import numpy as np

from palsy_core.errors import PalsyError
from palsy_core.modalities import (IMAGE_MODALITIES, MODALITIES, FaceModalities,
                                   mirrored_arrays, modalities_from_face)

if TYPE_CHECKING:
    import torch

    from palsy_core.models._image import ImageClassifier


#: Bump when the extraction code changes what it produces: old cache entries are
#: then simply not found and recomputed.
EXTRACTOR_VERSION = 3
#: Environment variable naming the cache folder (default ``.cache/palsy`` under the
#: working directory).
CACHE_ENV = "PALSY_CACHE_DIR"
#: Frozen features with at least this many values are cached as float16 (ResNet50's
#: 1024 x 14 x 14 map, Mixer's 196 x 768 tokens) to halve the disk they take.
_FLOAT16_FROM = 65536
#: Appended to an image's content hash to name its mirror image in the store.
MIRROR_SUFFIX = "+mirror"
#: Prefix of a cache entry's arrays for the flipped photo.
_MIRROR_KEY = "mirror_"


def mirrored_digest(digest: str) -> str:
    """Store key of the mirror image of the image with content hash ``digest``."""
    return digest + MIRROR_SUFFIX


def content_hash(path: str | os.PathLike) -> str:
    """sha256 (hex) of a file's bytes: the cache key of everything derived from it."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def default_cache_dir() -> Path:
    return Path(os.environ.get(CACHE_ENV, ".cache/palsy"))


@dataclass
class ExtractionReport:
    """Which images of a request have a face, and why the others were left out.

    Attributes
    ----------
    hashes : dict of str to str
        Image path -> content hash, for every image with a face.
    no_face : list of str
        Paths where the landmarker found no face.
    unreadable : dict of str to str
        Paths that could not be read or decoded -> the reason.
    landmarker_runs : int
        How many images needed the landmarker this time (0 when all were cached).
    """

    hashes: dict[str, str] = field(default_factory=dict)
    no_face: list[str] = field(default_factory=list)
    unreadable: dict[str, str] = field(default_factory=dict)
    landmarker_runs: int = 0

    @property
    def skipped(self) -> int:
        return len(self.no_face) + len(self.unreadable)

    def summary(self) -> dict:
        return {"with_face": len(self.hashes), "no_face": len(self.no_face),
                "unreadable": len(self.unreadable), "landmarker_runs": self.landmarker_runs,
                "no_face_files": list(self.no_face)[:50],
                "unreadable_files": dict(list(self.unreadable.items())[:50])}


class ModalityStore:
    """Disk cache of modalities and frozen-backbone features, keyed by image content.

    Parameters
    ----------
    cache_dir : path, optional
        Default: ``$PALSY_CACHE_DIR`` or ``.cache/palsy``.

    It owns a landmarker only during :meth:`extract`; using it as a context manager
    (or calling :meth:`close`) is harmless and kept for symmetry with the analyzer.
    """

    def __init__(self, cache_dir: str | os.PathLike | None = None):
        self.cache_dir = Path(cache_dir) if cache_dir is not None else default_cache_dir()
        self._modality_dir = self.cache_dir / f"modalities-v{EXTRACTOR_VERSION}"
        self._analyzer = None
        self._vectors: dict[tuple[str, str], np.ndarray] = {}

    def __enter__(self) -> ModalityStore:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        if self._analyzer is not None:
            self._analyzer.close()
            self._analyzer = None

    # -- modalities -----------------------------------------------------------------
    def _entry(self, digest: str) -> Path:
        digest = digest.removesuffix(MIRROR_SUFFIX)
        return self._modality_dir / digest[:2] / f"{digest}.npz"

    def _read(self, digest: str, modalities: Sequence[str]) -> dict[str, np.ndarray]:
        """Cached modalities of an image or (``mirrored_digest`` key) of its mirror.

        The mirror's are what the landmarker found on the flipped photo; derived from
        the photo's (:func:`mirrored_arrays`) only where it found no face there.
        """
        with np.load(self._entry(digest)) as data:
            if not bool(data["face"]):
                raise KeyError(f"image {digest[:12]} has no face")
            if not digest.endswith(MIRROR_SUFFIX):
                return {m: data[m] for m in modalities}
            if bool(data["mirror_face"]):
                return {m: data[_MIRROR_KEY + m] for m in modalities}
            arrays = {m: data[m] for m in modalities}
            return mirrored_arrays(arrays, landmarks=data["coordinates"],
                                   image_width=int(data["image_width"]),
                                   blendshape_names=[str(n) for n in data["blendshape_names"]])

    def extract(self, paths: Iterable[str | os.PathLike], *,
                progress: bool = False) -> ExtractionReport:
        """Make sure every image's modalities are cached; report which have a face.

        Images already in the cache (by content) are not decoded again.
        """
        report = ExtractionReport()
        paths = [str(p) for p in paths]
        try:
            self._extract_all(paths, report, progress)
        finally:
            # The landmarker lives only while extracting: an unclosed MediaPipe graph
            # would crash the interpreter at exit should a caller forget close().
            self.close()
        return report

    def _extract_all(self, paths: list[str], report: ExtractionReport, progress: bool) -> None:
        from tqdm.auto import tqdm

        for path in tqdm(paths, desc="modalities", unit="img", disable=not progress):
            try:
                digest = content_hash(path)
            except OSError as error:
                report.unreadable[path] = f"cannot read: {error.strerror or error}"
                continue
            entry = self._entry(digest)
            if not entry.is_file():
                report.landmarker_runs += 1
                reason = self._extract_one(path, entry)
                if reason is not None:
                    report.unreadable[path] = reason
                    continue
            with np.load(entry) as data:
                found = bool(data["face"])
            if found:
                report.hashes[path] = digest
            else:
                report.no_face.append(path)

    def _extract_one(self, path: str, entry: Path) -> str | None:
        """Run the analysis on one image and cache the result; a reason when unreadable."""
        from palsy_core.analysis import Analyzer, AnalyzerOptions
        from palsy_core.errors import ImageError, NoFaceError
        from palsy_core.imageio import load_image

        try:
            rgb = load_image(path)
        except ImageError as error:
            return str(error)
        if self._analyzer is None:
            self._analyzer = Analyzer(AnalyzerOptions(palsy_model=None))
        entry.parent.mkdir(parents=True, exist_ok=True)
        try:
            result = self._analyzer.analyze(rgb, source=path)
        except NoFaceError:
            _atomic_savez(entry, face=np.array(False))
            return None
        except PalsyError as error:
            return str(error)
        arrays = _modality_arrays(rgb, result)
        # The flipped photo gets its own landmarks: the landmarker is not mirror-symmetric,
        # and a model trained on exact mirrors of its points never sees that noise.
        flipped = np.ascontiguousarray(rgb[:, ::-1])
        try:
            mirror = _modality_arrays(flipped, self._analyzer.analyze(flipped))
        except PalsyError:
            mirror = {}
        _atomic_savez(entry, face=np.array(True), image_width=np.array(rgb.shape[1]),
                      mirror_face=np.array(bool(mirror)), **arrays,
                      **{_MIRROR_KEY + name: value for name, value in mirror.items()})
        return None

    def load(self, digest: str) -> FaceModalities:
        """The cached modalities of one image (by content hash, or
        :func:`mirrored_digest` for its mirror image) with a face."""
        arrays = self._read(digest, MODALITIES)
        return FaceModalities(**arrays, blendshape_names=self.blendshape_names(digest))

    def vectors(self, digests: Sequence[str], modality: str) -> np.ndarray:
        """A structured modality of many images, (N, D) float32 (memoised in memory)."""
        rows = []
        for digest in digests:
            key = (digest, modality)
            if key not in self._vectors:
                array = self._read(digest, [modality])[modality]
                self._vectors[key] = np.asarray(array, np.float32).reshape(-1)
            rows.append(self._vectors[key])
        return np.stack(rows) if rows else np.zeros((0, 0), np.float32)

    def blendshape_names(self, digest: str) -> tuple[str, ...]:
        with np.load(self._entry(digest)) as data:
            return tuple(str(n) for n in data["blendshape_names"])

    def images(self, digests: Sequence[str], modality: str) -> np.ndarray:
        """An image modality of many images: (N, 224, 224, 3) or (N, 224, 224) uint8."""
        if modality not in IMAGE_MODALITIES:
            raise ValueError(f"{modality!r} is not an image modality "
                             f"({', '.join(IMAGE_MODALITIES)}).")
        return np.stack([self._read(digest, [modality])[modality] for digest in digests])

    # -- frozen backbone features --------------------------------------------------------
    def frozen_features(self, model: ImageClassifier, modality: str, digests: Sequence[str],
                        *, device: str = "cpu", batch_size: int = 64,
                        progress: bool = False) -> torch.Tensor:
        """Output of ``model``'s frozen layers for many images, (N, ...) on CPU.

        float32, or float16 for large feature maps (cast with ``.float()`` before use).
        Computed once per (image, backbone, checkpoint, normalisation, size, modality)
        and cached; later calls only read files.
        """
        import torch
        from tqdm.auto import tqdm

        folder = self.cache_dir / "frozen" / frozen_cache_tag(model) / modality
        files = [folder / d[:2] / f"{d}.npy" for d in digests]
        todo = sorted({d for d, f in zip(digests, files) if not f.is_file()})
        if todo:
            model = model.to(device).eval()
            bar = tqdm(total=len(todo), desc=f"{model.architecture} features", unit="img",
                       disable=not progress)
            for start in range(0, len(todo), batch_size):
                chunk = todo[start:start + batch_size]
                x = model.preprocess(self.images(chunk, modality))
                with torch.inference_mode(), _autocast(device):
                    z = model.frozen_features(x.to(device)).float().cpu().numpy()
                for digest, value in zip(chunk, z):
                    target = folder / digest[:2] / f"{digest}.npy"
                    target.parent.mkdir(parents=True, exist_ok=True)
                    if value.size >= _FLOAT16_FROM:
                        value = value.astype(np.float16)
                    _atomic_save(target, value)
                bar.update(len(chunk))
            bar.close()
        if not files:
            return torch.zeros(0)
        return torch.from_numpy(np.stack([np.load(f) for f in files]))


def _modality_arrays(rgb: np.ndarray, result) -> dict[str, np.ndarray]:
    """A cache entry's arrays: the five modalities of an analysed photo and the names of
    its blendshapes."""
    mods = modalities_from_face(rgb, result.landmarks, result.blendshapes, result.features)
    return {"rgb": mods.rgb, "linesegment": mods.linesegment, "coordinates": mods.coordinates,
            "blendshapes": mods.blendshapes, "handcrafted": mods.handcrafted,
            "blendshape_names": np.array(mods.blendshape_names)}


def frozen_cache_tag(model: ImageClassifier) -> str:
    """Folder name identifying a backbone's frozen layers exactly."""
    source = model.backbone_source
    return (f"{model.architecture}-{source['sha256'][:16]}-{model.pixel_norm}"
            f"-{model.input_size}")


def _autocast(device: str):
    import contextlib

    import torch

    if str(device).startswith("cuda"):
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def _atomic_savez(path: Path, **arrays) -> None:
    # Write then rename, so an interrupted run never leaves a half-written cache entry;
    # the unique name lets processes on several machines share one cache folder.
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp.npz")
    np.savez_compressed(tmp, **arrays)
    os.replace(tmp, path)


def _atomic_save(path: Path, array: np.ndarray) -> None:
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp.npy")
    np.save(tmp, array)
    os.replace(tmp, path)
