"""Readers for the palsy data sets in the layouts their owners distribute.

Three layouts are understood (spec ``models-and-training.md`` section 1):

- YouTube Facial Palsy (YFP): frames ``Image*/<subject>/<n>.bmp`` and one PASCAL-VOC XML
  per frame, ``Image_large_XML/<subject>/<n>.xml``, with one ``<object>`` per labelled
  region named ``{Normal|SlightPalsy|StrongPalsy}_{Eyes|Mouth}``.
- CK+ (healthy subjects): ``cohn-kanade-images/S005/001/S005_001_00000011.png``.
- Class folders (the six-class severity set and the like): ``root/<class>/<image>``.

Every reader returns a :class:`DatasetReport`: the usable frames as :class:`Sample`
records (paths and labels only; nothing is decoded) and the files it had to skip, with
the reason. Subjects are prefixed by the data set ("yfp/P01", "ckplus/S005",
"folder/14") so subjects of different sets never collide in a split.
"""

from __future__ import annotations

import re
import warnings
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from palsy_core.errors import DatasetError
from palsy_core.imageio import IMAGE_SUFFIXES
from palsy_core.models._severity import SEVERITY_CLASSES
#: Region intensity of each severity: YFP knows only "slight" (0.5) and "strong" (1.0),
#: and a moderate palsy is already plainly visible at rest, so it counts as strong.
INTENSITY_OF_SEVERITY = {"mild": 0.5, "moderate": 1.0, "severe": 1.0}
#: YFP label words and the region intensity each stands for.
YFP_INTENSITY = {"normal": 0.0, "slightpalsy": 0.5, "strongpalsy": 1.0}

_HEALTHY_CLASS_NAMES = {"normal", "healthy", "control", "controls", "none"}
_YFP_LABEL = re.compile(r"^\s*(normal|slightpalsy|strongpalsy)[\s_-]*(eyes?|mouth)\s*$",
                        re.IGNORECASE)
_CKPLUS_FRAME = re.compile(r"^(S\d+)_(\d+)_(\d+)$", re.IGNORECASE)
_LEADING_NUMBER = re.compile(r"^(\d+)(?=[_\-\s.]|$)")


@dataclass(frozen=True)
class Sample:
    """One labelled frame of a data set.

    Attributes
    ----------
    path : Path
        The image file.
    subject : str
        Person the frame shows, prefixed by the data set ("yfp/P01", "ckplus/S005",
        "folder/14"). Splits group by it.
    dataset : {"yfp", "ckplus", "folder"}
    palsy : int
        1 when the frame counts as facial palsy, else 0. For YFP this is the binary rule
        of spec section 2 (any region StrongPalsy, or both regions SlightPalsy); CK+
        frames are 0; class-folder frames are 1 unless the class is a healthy one.
    eye, mouth : float
        Region intensities: 0 normal, 0.5 slight, 1 strong.
    severity : str or None
        The six-class name (e.g. "moderate_mouth") for class-folder frames whose class is
        one; None otherwise.
    """

    path: Path
    subject: str
    dataset: Literal["yfp", "ckplus", "folder"]
    palsy: int
    eye: float = 0.0
    mouth: float = 0.0
    severity: str | None = None

    @property
    def label_combination(self) -> tuple:
        """The labels that tell frames apart for round-robin sampling.

        ``(palsy, eye, mouth, severity)``: e.g. a YFP frame with SlightPalsy eyes and a
        Normal mouth is ``(0, 0.5, 0.0, None)``.
        """
        return (self.palsy, self.eye, self.mouth, self.severity)


@dataclass
class DatasetReport:
    """What a reader found.

    Attributes
    ----------
    samples : list of Sample
        Usable frames, sorted by subject then by frame number.
    skipped : int
        How many files were left out.
    skipped_files : list of (Path, str)
        Each skipped file with the reason, e.g. a malformed XML label.
    """

    samples: list[Sample] = field(default_factory=list)
    skipped: int = 0
    skipped_files: list[tuple[Path, str]] = field(default_factory=list)

    def skip(self, path: Path, reason: str) -> None:
        """Record a file left out, and warn about it."""
        self.skipped += 1
        self.skipped_files.append((path, reason))
        warnings.warn(f"Skipped {path}: {reason}", stacklevel=3)


def yfp_binary_label(eye: float, mouth: float) -> int:
    """The binary palsy label of a YFP frame from its region intensities.

    Palsy when any region is strong (1.0), or both regions are slight (>= 0.5) (seed 001,
    section 2.2.1).
    """
    if max(eye, mouth) >= 1.0 or (eye >= 0.5 and mouth >= 0.5):
        return 1
    return 0


def read_yfp(root: str | Path) -> DatasetReport:
    """Read the YouTube Facial Palsy data set.

    Parameters
    ----------
    root : path
        The folder holding ``Image*/`` (frames) and ``Image_large_XML/`` (labels).

    Returns
    -------
    DatasetReport
        One sample per frame that has a readable label file. Frames without one and
        malformed label files are skipped, counted and warned about. When several
        ``Image*`` folders hold the same subject and frame, the first by name is used.
        A region with no ``<object>`` in the XML counts as Normal: the clinicians
        labelled only regions where palsy can be observed.

    Raises
    ------
    DatasetError
        When ``root`` does not exist, has no ``Image*`` frame folder or no
        ``Image_large_XML`` label folder, or no frame could be labelled.
    """
    root = _existing_dir(root, "YFP")
    xml_dir = root / "Image_large_XML"
    image_dirs = sorted(p for p in root.iterdir()
                        if p.is_dir() and p.name.lower().startswith("image")
                        and not p.name.lower().endswith("xml"))
    if not image_dirs:
        raise DatasetError(f"{root} is not a YFP folder: it has no Image*/<subject>/ "
                           "frame folder.")
    if not xml_dir.is_dir():
        raise DatasetError(f"{root} is not a YFP folder: it has no Image_large_XML/ "
                           "label folder.")
    report = DatasetReport()
    frames: dict[tuple[str, str], Path] = {}
    for image_dir in image_dirs:
        for path in _images_in(image_dir, depth=2):
            frames.setdefault((path.parent.name, path.stem), path)
    for (subject, stem), path in sorted(frames.items(), key=lambda kv: _frame_order(kv[0])):
        label_path = xml_dir / subject / f"{stem}.xml"
        if not label_path.is_file():
            report.skip(path, f"no label file {label_path.relative_to(root)}")
            continue
        try:
            eye, mouth = _read_yfp_xml(label_path)
        except ValueError as error:
            report.skip(label_path, str(error))
            continue
        report.samples.append(Sample(path=path, subject=f"yfp/{subject}", dataset="yfp",
                                     palsy=yfp_binary_label(eye, mouth), eye=eye,
                                     mouth=mouth))
    if not report.samples:
        raise DatasetError(f"No labelled YFP frame found under {root} "
                           f"({report.skipped} files skipped).")
    return report


def read_ckplus(root: str | Path) -> DatasetReport:
    """Read CK+ frames as healthy samples.

    Parameters
    ----------
    root : path
        The folder holding ``cohn-kanade-images/`` (or that folder itself).

    Returns
    -------
    DatasetReport
        Every frame ``S<subject>/<sequence>/S<subject>_<sequence>_<frame>.png`` as a
        healthy sample (palsy 0, intensities 0); the emotion labels are not needed.
        Image files whose name does not follow that pattern are skipped and counted.

    Raises
    ------
    DatasetError
        When ``root`` does not exist or holds no CK+ frame.
    """
    root = _existing_dir(root, "CK+")
    images_dir = root / "cohn-kanade-images"
    if not images_dir.is_dir():
        images_dir = root
    report = DatasetReport()
    for path in sorted(_images_in(images_dir, depth=3)):
        match = _CKPLUS_FRAME.match(path.stem)
        if not match:
            report.skip(path, "not named S<subject>_<sequence>_<frame>")
            continue
        subject = match.group(1).upper()
        report.samples.append(Sample(path=path, subject=f"ckplus/{subject}",
                                     dataset="ckplus", palsy=0))
    if not report.samples:
        raise DatasetError(f"No CK+ frame (cohn-kanade-images/S005/001/S005_001_00000011"
                           f".png style) found under {root}.")
    report.samples.sort(key=lambda s: (s.subject, s.path.name))
    return report


def read_class_folders(root: str | Path) -> DatasetReport:
    """Read a ``root/<class>/<image>`` data set.

    Parameters
    ----------
    root : path
        Folder with one sub-folder per class.

    Returns
    -------
    DatasetReport
        One sample per image. The class is the folder name; a six-class name (e.g.
        "severe_mouth") sets ``severity`` and the region intensity (mild 0.5, moderate
        and severe 1.0); a healthy class ("normal", "healthy", "control") gives palsy 0,
        any other class palsy 1. The patient is the leading number of the file name
        ("14_smile.jpg" -> "folder/14") when there is one, else the file stem.

    Raises
    ------
    DatasetError
        When ``root`` does not exist or has no class folder with images.
    """
    root = _existing_dir(root, "class-folder")
    report = DatasetReport()
    for class_dir in sorted(p for p in root.iterdir() if p.is_dir()):
        class_name = class_dir.name.lower()
        severity = class_name if class_name in SEVERITY_CLASSES else None
        eye = mouth = 0.0
        if severity is not None:
            level, region = severity.split("_")
            if region == "eye":
                eye = INTENSITY_OF_SEVERITY[level]
            else:
                mouth = INTENSITY_OF_SEVERITY[level]
        palsy = 0 if class_name in _HEALTHY_CLASS_NAMES else 1
        for path in sorted(_images_in(class_dir, depth=1)):
            match = _LEADING_NUMBER.match(path.stem)
            patient = str(int(match.group(1))) if match else path.stem
            report.samples.append(Sample(path=path, subject=f"folder/{patient}",
                                         dataset="folder", palsy=palsy, eye=eye,
                                         mouth=mouth, severity=severity))
    if not report.samples:
        raise DatasetError(f"No image found in class folders under {root}: expected "
                           "root/<class name>/<image>.")
    return report


def _existing_dir(root: str | Path, what: str) -> Path:
    path = Path(root)
    if not path.exists():
        raise DatasetError(f"The {what} data set folder {path} does not exist.")
    if not path.is_dir():
        raise DatasetError(f"The {what} data set path {path} is a file, not a folder.")
    return path


def _images_in(folder: Path, depth: int) -> list[Path]:
    """Image files exactly ``depth`` levels below ``folder`` (hidden files ignored)."""
    pattern = "/".join(["*"] * depth)
    return [p for p in folder.glob(pattern)
            if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
            and not any(part.startswith(".") for part in p.relative_to(folder).parts)]


def _frame_order(key: tuple[str, str]) -> tuple:
    # Frames are numbered 1, 2, ... 10: sort numerically, not as text.
    subject, stem = key
    return (subject, int(stem) if stem.isdigit() else float("inf"), stem)


def _read_yfp_xml(path: Path) -> tuple[float, float]:
    """(eye, mouth) intensities of one YFP label file; ValueError when unusable."""
    try:
        tree = ET.parse(path)
    except ET.ParseError as error:
        raise ValueError(f"malformed XML ({error})") from None
    intensity = {"eye": None, "mouth": None}
    for obj in tree.getroot().iter("object"):
        name = (obj.findtext("name") or "").strip()
        match = _YFP_LABEL.match(name)
        if not match:
            if "palsy" in name.lower() or "normal" in name.lower():
                raise ValueError(f"unknown label {name!r}")
            continue  # objects other than the two regions are not ours to judge
        region = "eye" if match.group(2).lower().startswith("eye") else "mouth"
        value = YFP_INTENSITY[match.group(1).lower()]
        # Two boxes on one region: the stronger label wins.
        intensity[region] = max(value, intensity[region] or 0.0)
    if intensity["eye"] is None and intensity["mouth"] is None:
        raise ValueError("no {Normal|SlightPalsy|StrongPalsy}_{Eyes|Mouth} object")
    return intensity["eye"] or 0.0, intensity["mouth"] or 0.0
