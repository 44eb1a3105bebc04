"""How photo quality moves the palsy probability and the eye readings of a healthy face.

Run: .venv/bin/python benchmarks/bench_photo_quality.py [--faces ../shared/faces/london] [--every 1]

On every ``--every``-th person of the Face Research Lab London Set (DeBruine & Jones 2017,
CC-BY 4.0), rest and smile photos at the trainers' working size (675 px), the whole
analysis (:class:`palsy_core.Analyzer` with the shipped palsy model, the folder's
expression stated) on the photo as it is and after each of: a side-light gradient
(brightness x0.7 at the image's left edge to x1.3 at its right), JPEG at quality 25, and
Gaussian blurs of sigma 0.75 to 2 px, and the photo shrunk to 55 % (about 60 px between the
pupils) and saved as JPEG quality 70. Printed per change: the mean probability, the share
at 50 % or more, the median change against the unaltered photo, how many verdicts read
"asymmetry" (and how many the landmarks alone would give, from
:func:`palsy_core.correction.reanalyze` without the photo), the median eye sharpness
(:attr:`palsy_core.face.mirror_flow.MirrorFlow.eye_sharpness`), how many photos were too
soft (or the face too small) for the verdict to read the eye from the flow, and the mean
eye-opening difference as the landmarks and as the mirror flow read it (mm). The sharpness
gate (:data:`palsy_core.face.mirror_flow.MIN_EYE_SHARPNESS`) was chosen from these figures; the
small JPEG face shows the flow's own minimum face size
(:data:`palsy_core.face.mirror_flow.MIN_FLOW_PUPIL_DISTANCE_PX`) at work.

The shipped model and limits were fitted on these people's photos, so the levels are
in-sample; the *changes* a perturbation makes are what this measures. Healthy faces only:
a change that raises them is a false alarm a clinician would see on a poorer photo.
"""

from __future__ import annotations

import argparse
import functools
import os
from pathlib import Path

import cv2
import numpy as np

os.environ.setdefault("GLOG_minloglevel", "2")

from palsy_core import Analyzer, AnalyzerOptions  # noqa: E402
from palsy_core.correction import reanalyze  # noqa: E402
from trainers._london import (LONDON_CITATION, load_work_photo, london_people,  # noqa: E402
                              photo_paths)


def side_light(rgb: np.ndarray, low: float = 0.7, high: float = 1.3) -> np.ndarray:
    gain = np.linspace(low, high, rgb.shape[1])[None, :, None]
    return np.clip(rgb * gain, 0, 255).astype(np.uint8)


def jpeg(rgb: np.ndarray, quality: int = 25) -> np.ndarray:
    ok, data = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR),
                            [cv2.IMWRITE_JPEG_QUALITY, quality])
    return cv2.cvtColor(cv2.imdecode(data, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


def blur(rgb: np.ndarray, sigma: float = 1.5) -> np.ndarray:
    return cv2.GaussianBlur(rgb, (0, 0), sigma)


def small_jpeg(rgb: np.ndarray, factor: float = 0.55, quality: int = 70) -> np.ndarray:
    """Shrunk (0.55: about 60 px between the pupils of a London work photo) and saved as a
    JPEG, as a face in a public photo."""
    shrunk = cv2.resize(rgb, None, fx=factor, fy=factor, interpolation=cv2.INTER_AREA)
    return jpeg(shrunk, quality)


CHANGES = {"as taken": lambda rgb: rgb, "side light x0.7-1.3": side_light,
           "JPEG quality 25": jpeg,
           **{f"blur sigma {s:g} px": functools.partial(blur, sigma=s)
              for s in (0.75, 1.0, 1.5, 2.0)},
           "small (x0.55) JPEG 70": small_jpeg}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--faces", type=Path, default=Path("../shared/faces/london"))
    parser.add_argument("--every", type=int, default=1, help="every N-th person")
    args = parser.parse_args()
    people = london_people(args.faces)[::args.every]
    found = {name: [] for name in CHANGES}
    with Analyzer(AnalyzerOptions(palsy_model="default")) as analyzer:
        for person in people:
            for expression, path in photo_paths(args.faces, person).items():
                rgb = load_work_photo(path)
                for name, change in CHANGES.items():
                    image = change(rgb)
                    result = analyzer.analyze(image, expression=expression)
                    landmarks_only = reanalyze(result, result.landmarks, expression=expression)
                    fissure = result.measurements["palpebral_fissure_height"]
                    flow = result.face.mirror_flow
                    found[name].append((result.palsy.probability, result.assessment.status,
                                        fissure.difference, abs(flow.fissure_difference_mm),
                                        landmarks_only.assessment.status, flow.eye_sharpness,
                                        not result.face.eye_from_pixels))
    print(f"Data: {LONDON_CITATION}")
    print(f"{len(people)} people x rest and smile = {len(found['as taken'])} healthy photos "
          "(in-sample for the shipped model: read the changes)\n")
    print(f"  {'photo':22s} {'mean p':>7s} {'p >= 0.5':>9s} {'median |change|':>16s} "
          f"{'asymmetry':>10s} {'(landmarks)':>12s} {'sharpness':>10s} {'soft/small':>10s} "
          f"{'eye diff: landmarks':>20s} {'flow (mm)':>10s}")
    reference = np.array([row[0] for row in found["as taken"]])
    for name, rows in found.items():
        p = np.array([row[0] for row in rows])
        print(f"  {name:22s} {p.mean():7.3f} {np.mean(p >= 0.5):9.0%} "
              f"{np.median(np.abs(p - reference)):16.3f} "
              f"{sum(row[1] == 'asymmetry' for row in rows):10d} "
              f"{sum(row[4] == 'asymmetry' for row in rows):12d} "
              f"{np.median([row[5] for row in rows]):10.2f} "
              f"{sum(row[6] for row in rows):10d} "
              f"{np.mean([row[2] for row in rows]):20.2f} "
              f"{np.mean([row[3] for row in rows]):10.2f}")


if __name__ == "__main__":
    main()
