"""Healthy bands of the 29 asymmetry features, measured on the Face Research Lab London Set.

For each of the 82 people, the rest photo (``neutral/NNN_03.jpg``) and the smile photo
(``smiling/NNN_08.jpg``) are analysed as the app analyses a photo (MediaPipe landmarks,
:func:`palsy_core.compute_features`); each feature's distance from a perfectly
symmetric face (:func:`palsy_core.face.features.deviation_from_symmetry`, absolute) is
summarised per expression by its median and 95th percentile over the people. The
Asymmetry explorer draws the 95th percentile as the edge of the healthy band. Shape
features (no symmetric reference) get the 5th-95th percentile of their raw value.

Usage: ``python -m trainers.feature_bands [--faces ../shared/faces/london]
[--out palsy_core/data/feature_bands.json]``.

Cite: DeBruine, L., & Jones, B. (2017). Face Research Lab London Set (Version 5).
figshare. https://doi.org/10.6084/m9.figshare.5047666.v5
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
from pathlib import Path

import numpy as np

from trainers._london import load_work_photo, london_people, photo_paths
from trainers._run import exits_on_training_error

ATTRIBUTION = ("DeBruine, L., & Jones, B. (2017). Face Research Lab London Set (Version 5). figshare. "
               "https://doi.org/10.6084/m9.figshare.5047666.v5 (CC-BY 4.0)")


@exits_on_training_error
def main(argv: list[str] | None = None) -> int:
    from palsy_core import FaceLandmarker, compute_features
    from palsy_core.face.features import FEATURE_NAMES, SHAPE_FEATURES, deviation_from_symmetry, keypoints_51

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--faces", default=str(Path(__file__).resolve().parents[2] / "shared" / "faces" / "london"))
    parser.add_argument("--out", default=str(Path(__file__).resolve().parents[1] / "palsy_core" / "data"
                                             / "feature_bands.json"))
    args = parser.parse_args(argv)
    people = london_people(args.faces)
    rows = {"rest": [], "smile": []}
    with FaceLandmarker() as landmarker:
        for person in people:
            for expression, path in photo_paths(args.faces, person).items():
                found = landmarker.detect(load_work_photo(path))
                rows[expression].append(compute_features(keypoints_51(found.landmarks)))
    bands = {}
    for expression, features in rows.items():
        values = np.asarray(features, dtype=np.float64)
        deviation = np.abs(deviation_from_symmetry(values))
        bands[expression] = {}
        for index, name in enumerate(FEATURE_NAMES):
            if index in SHAPE_FEATURES:
                low, high = np.nanpercentile(values[:, index], [5, 95])
                bands[expression][name] = {"kind": "shape", "p5": round(float(low), 4),
                                           "p95": round(float(high), 4)}
            else:
                median, p95 = np.nanpercentile(deviation[:, index], [50, 95])
                bands[expression][name] = {"kind": "deviation", "median": round(float(median), 4),
                                           "p95": round(float(p95), 4)}
    document = {
        "what": "Healthy spread of each asymmetry feature: |deviation from a symmetric face| median and 95th "
                "percentile (shape features: 5th-95th percentile of the value), per expression.",
        "data": f"{len(people)} people of the Face Research Lab London Set, rest and smile photos, unaltered",
        "attribution": ATTRIBUTION,
        "made_by": "python -m trainers.feature_bands",
        "date": dt.date.today().isoformat(),
        "people": len(people),
        "bands": bands,
    }
    Path(args.out).write_text(json.dumps(document, indent=1) + "\n", encoding="utf-8")
    print(f"{len(people)} people; bands written to {args.out}")
    for name in ("brow_height_ratio", "eye_opening_ratio", "mouth_corner_angle"):
        print(name, "rest", bands["rest"][name], "smile", bands["smile"][name])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
