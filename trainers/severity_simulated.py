"""Write the simulated six-class severity set (+ "normal") the default severity model trains on.

From every person of a folder in the London Set layout (``neutral/NNN_03.jpg`` at rest,
``smiling/NNN_08.jpg`` smiling; 82 consenting adults, CC-BY 4.0) it writes, for each of
the two photos, the unaltered photo as ``normal`` and one simulated palsy per severity
class (:func:`trainers.data.simulate.simulate_palsy`, peripheral pattern, a random side,
the strength drawn inside the class's band)::

    python -m trainers.severity_simulated --faces ../shared/faces/london \\
        --out .cache/severity/london_sim      # 109 s on 2 shared CPU cores

    OUT/<class>/<NNN>_<rest|smile>.jpg            # NNN: the person, so splits group by it

The images are derived from the London Set: they stay outside the repository (``.cache``
or ``/tmp``), never committed; weights trained on them carry its attribution.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

# The set's people, their two photos, its citation and the severity bands (the
# simulator calls up to 0.4 mild, up to 0.7 moderate) are the London builder's.
from ._london import LONDON_CITATION, SEVERITY_BANDS, london_people, photo_paths
from ._run import exits_on_training_error

#: The London photos are 1350 px; the landmarker works on a 256 px face crop and the
#: models on a 224 px aligned crop, so 640 px keeps every detail they use.
WORKING_SIDE = 640


def write_dataset(faces_dir: Path, out: Path, *, people: int | None = None, seed: int = 0,
                  progress: bool = True) -> dict:
    """Write the class folders; returns a summary (counts, people, skipped photos)."""
    import cv2
    from PIL import Image

    from palsy_core.models._severity import SEVERITY_CLASSES
    from palsy_core.errors import NoFaceError
    from palsy_core.imageio import load_image
    from palsy_core.face.landmarks import FaceLandmarker, LandmarkerOptions
    from trainers.data.simulate import SIDES, simulate_palsy

    ids = london_people(faces_dir)[:people]
    rng = np.random.default_rng(seed)
    counts: dict[str, int] = {}
    skipped = []
    start = time.perf_counter()
    with FaceLandmarker(LandmarkerOptions()) as landmarker:
        for number, person in enumerate(ids, start=1):
            for expression, photo in photo_paths(faces_dir, person).items():
                rgb = load_image(photo)
                factor = WORKING_SIDE / max(rgb.shape[:2])
                if factor < 1:
                    rgb = cv2.resize(rgb, (round(rgb.shape[1] * factor),
                                           round(rgb.shape[0] * factor)),
                                     interpolation=cv2.INTER_AREA)
                try:
                    points = landmarker.detect(rgb).landmarks
                except NoFaceError:
                    skipped.append(photo.relative_to(faces_dir).as_posix())
                    continue
                images = {"normal": rgb}
                for class_name in SEVERITY_CLASSES:
                    level, region = class_name.split("_")
                    case = simulate_palsy(rgb, points, side=SIDES[rng.integers(2)],
                                          region=region,
                                          severity=float(rng.uniform(*SEVERITY_BANDS[level])),
                                          seed=int(rng.integers(2**31)))
                    images[class_name] = case.image
                for class_name, image in images.items():
                    path = out / class_name / f"{person}_{expression}.jpg"
                    path.parent.mkdir(parents=True, exist_ok=True)
                    Image.fromarray(image).save(path, quality=92)
                    counts[class_name] = counts.get(class_name, 0) + 1
            if progress:
                elapsed = time.perf_counter() - start
                print(f"person {number}/{len(ids)} ({person}): {elapsed:.0f} s", file=sys.stderr)
    summary = {"source": str(faces_dir), "people": len(ids), "images_per_class": counts,
               "skipped_photos": skipped, "seed": seed, "severity_bands": SEVERITY_BANDS,
               "working_side_px": WORKING_SIDE, "pattern": "peripheral",
               "attribution": LONDON_CITATION}
    (out / "dataset.json").write_text(json.dumps(summary, indent=2) + "\n")
    return summary


@exits_on_training_error
def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--faces", type=Path, default=Path("../shared/faces/london"),
                   help="a folder in the London Set layout")
    p.add_argument("--out", type=Path, default=Path(".cache/severity/london_sim"))
    p.add_argument("--people", type=int, default=None, help="only the first N people")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    if not args.faces.is_dir():
        raise SystemExit(f"error: {args.faces} is not a folder; give the London Set's root "
                         "(with neutral/ and smiling/).")
    summary = write_dataset(args.faces, args.out, people=args.people, seed=args.seed)
    print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
