"""How much does a measure change between two photos of one unchanged face?

The "no real change" band of :func:`palsy_core.compare_visits`. A person re-photographed
at a later visit is never framed the same way twice; the London Set (DeBruine & Jones
2017, CC-BY 4.0, https://doi.org/10.6084/m9.figshare.5047666.v5) has one photo per person
and expression, so we make the changes a repeat photo brings and measure again with the
real landmarker:

- in-plane rotation of +3 and -3 degrees (about the photo's centre),
- scale: the photo downscaled to 85 % (the face further from the camera),
- JPEG re-compression at quality 60,
- a different framing: 4 % cropped off the left and top, or off the right and bottom.

For every one of the 82 people's rest (neutral NNN_03) and smile (smiling NNN_08) photos,
each altered photo is measured as the analysis measures (Analyzer: landmarks, the head's
turn undone, :func:`palsy_core.measure_face` with the folder's expression), and we take
the change of each measure's left-right difference (and of each side's value) from the
unaltered photo. The band is the 95th percentile of the absolute change over people x
alterations: a change inside it is what a repeat photo of the same face shows. The eye
read from the pixels (``palpebral_fissure_flow``, the verdict's eye) gets its band the
same way, over the pairs where the verdict reads it (sharp enough, large enough).

The smile's movement (mouth-corner excursion from rest, :mod:`palsy_core.visit`) gets its
band the same way, with both photos of the visit re-taken: each altered rest photo with
the next alteration's smile photo, against the unaltered pair (each side's mm and the
affected/healthy ratio in points).

Run: ``python benchmarks/bench_repeat_photo.py --faces ../shared/faces/london [--write]``
(about 75 s on 2 cores; ``--write`` stores the bands in
``palsy_core/data/repeat_photo_bands.json`` with their provenance).
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("GLOG_minloglevel", "2")

from palsy_core import Analyzer, AnalyzerOptions  # noqa: E402
from palsy_core.face.landmarks import landmarker_model_path  # noqa: E402
from palsy_core.face.measurements import FLOW_EYE_MEASURE, MEASUREMENT_NAMES  # noqa: E402
from palsy_core.visit import visit_from_results  # noqa: E402

DATASET = ("DeBruine, L., & Jones, B. (2017). Face Research Lab London Set (Version 5). "
           "figshare. https://doi.org/10.6084/m9.figshare.5047666.v5 (CC-BY 4.0)")
PERCENTILE = 95.0
FOLDERS = {"rest": ("neutral", "03"), "smile": ("smiling", "08")}


def _rotate(rgb, degrees):
    h, w = rgb.shape[:2]
    matrix = cv2.getRotationMatrix2D((w / 2, h / 2), degrees, 1.0)
    return cv2.warpAffine(rgb, matrix, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)


def _jpeg(rgb, quality):
    ok, data = cv2.imencode(".jpg", rgb[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, quality])
    return cv2.imdecode(data, cv2.IMREAD_COLOR)[:, :, ::-1].copy()


def _crop(rgb, left, top, right, bottom):
    h, w = rgb.shape[:2]
    return np.ascontiguousarray(rgb[int(h * top):h - int(h * bottom), int(w * left):w - int(w * right)])


#: The alterations a repeat photo brings, by name.
ALTERATIONS = {
    "rotate_+3deg": lambda rgb: _rotate(rgb, 3.0),
    "rotate_-3deg": lambda rgb: _rotate(rgb, -3.0),
    "scale_85pct": lambda rgb: cv2.resize(rgb, None, fx=0.85, fy=0.85, interpolation=cv2.INTER_AREA),
    "jpeg_q60": lambda rgb: _jpeg(rgb, 60),
    "crop_left_top_4pct": lambda rgb: _crop(rgb, 0.04, 0.04, 0.0, 0.0),
    "crop_right_bottom_4pct": lambda rgb: _crop(rgb, 0.0, 0.0, 0.04, 0.04),
}


def _measures(result):
    return {name: (m.left, m.right, m.difference) for name, m in result.measurements.items()}


def _flow_eye(result):
    """The eye-opening difference read from the pixels (mm), or None where the verdict
    would not read it (too soft, too small)."""
    flow = result.face.mirror_flow
    return abs(flow.fissure_difference_mm) if flow is not None and flow.sharp_enough else None


def _smile_movement(rest, smile):
    move = visit_from_results([rest, smile], ["rest", "full_smile"]).movements["full_smile"]
    return move.left, move.right, move.ratio_percent


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--faces", type=Path, default=ROOT.parent / "shared" / "faces" / "london")
    parser.add_argument("--limit", type=int, default=None, help="only the first N people (a quick look)")
    parser.add_argument("--write", action="store_true",
                        help="store the bands in palsy_core/data/repeat_photo_bands.json")
    args = parser.parse_args(argv)
    from palsy_core.imageio import load_image

    people = sorted(p.stem.split("_")[0] for p in (args.faces / "neutral").glob("*_03.jpg"))
    people = [p for p in people if (args.faces / "smiling" / f"{p}_08.jpg").exists()][:args.limit]
    changes = {e: {n: {"difference": [], "side": []} for n in MEASUREMENT_NAMES} for e in FOLDERS}
    flow_changes = {e: [] for e in FOLDERS}
    movement_changes = {"side": [], "ratio_percent": []}
    results = {}
    start = time.perf_counter()
    failed = 0
    with Analyzer(AnalyzerOptions(palsy_model=None)) as analyzer:
        for count, person in enumerate(people, 1):
            for expression, (folder, suffix) in FOLDERS.items():
                rgb = load_image(args.faces / folder / f"{person}_{suffix}.jpg")
                results[expression] = [analyzer.analyze(rgb, expression=expression)]
                base = _measures(results[expression][0])
                base_eye = _flow_eye(results[expression][0])
                for alter in ALTERATIONS.values():
                    try:
                        altered = analyzer.analyze(alter(rgb), expression=expression)
                    except Exception:  # a face lost in an altered photo: counted, not measured
                        failed += 1
                        results[expression].append(None)
                        continue
                    results[expression].append(altered)
                    moved = _measures(altered)
                    for name in MEASUREMENT_NAMES:
                        (l0, r0, d0), (l1, r1, d1) = base[name], moved[name]
                        changes[expression][name]["difference"].append(abs(d1 - d0))
                        changes[expression][name]["side"] += [abs(l1 - l0), abs(r1 - r0)]
                    moved_eye = _flow_eye(altered)
                    if base_eye is not None and moved_eye is not None:
                        flow_changes[expression].append(abs(moved_eye - base_eye))
            # A repeat visit re-takes both photos: each altered rest photo with the next
            # alteration's smile photo.
            left0, right0, ratio0 = _smile_movement(results["rest"][0], results["smile"][0])
            for k in range(len(ALTERATIONS)):
                rest, smile = results["rest"][1 + k], results["smile"][1 + (k + 1) % len(ALTERATIONS)]
                if rest is None or smile is None:
                    continue
                left1, right1, ratio1 = _smile_movement(rest, smile)
                movement_changes["side"] += [abs(left1 - left0), abs(right1 - right0)]
                if ratio0 is not None and ratio1 is not None:
                    movement_changes["ratio_percent"].append(abs(ratio1 - ratio0))
            if count % 10 == 0:
                print(f"  {count}/{len(people)} people, {time.perf_counter() - start:.0f} s", flush=True)
    bands = {}
    print(f"\n{len(people)} people x {len(ALTERATIONS)} alterations ({failed} altered photos without a face)")
    print(f"{'measure':28s} {'expr':6s} {'p95 |d diff|':>12s} {'p95 |d side|':>12s} {'max':>7s}  n")
    for expression in FOLDERS:
        bands[expression] = {}
        for name in MEASUREMENT_NAMES:
            diffs = np.asarray(changes[expression][name]["difference"])
            sides = np.asarray(changes[expression][name]["side"])
            unit = "deg" if name == "smile_angle" else "mm"
            bands[expression][name] = {
                "difference_band": round(float(np.percentile(diffs, PERCENTILE)), 3),
                "side_band": round(float(np.percentile(sides, PERCENTILE)), 3),
                "difference_max": round(float(diffs.max()), 3),
                "n": int(diffs.size), "unit": unit}
            print(f"{name:28s} {expression:6s} {bands[expression][name]['difference_band']:12.2f} "
                  f"{bands[expression][name]['side_band']:12.2f} {diffs.max():7.2f}  {diffs.size}")
        # The eye read from the pixels: one signed difference, no per-side values.
        diffs = np.asarray(flow_changes[expression])
        bands[expression][FLOW_EYE_MEASURE] = {
            "difference_band": round(float(np.percentile(diffs, PERCENTILE)), 3),
            "difference_max": round(float(diffs.max()), 3), "n": int(diffs.size), "unit": "mm"}
        print(f"{FLOW_EYE_MEASURE:28s} {expression:6s} "
              f"{bands[expression][FLOW_EYE_MEASURE]['difference_band']:12.2f} {'-':>12s} "
              f"{diffs.max():7.2f}  {diffs.size}")
    side = np.asarray(movement_changes["side"])
    ratio = np.asarray(movement_changes["ratio_percent"])
    movement_bands = {"full_smile": {
        "side_band": round(float(np.percentile(side, PERCENTILE)), 3),
        "ratio_band": round(float(np.percentile(ratio, PERCENTILE)), 2),
        "n_side": int(side.size), "n_ratio": int(ratio.size), "unit": "mm; ratio in points of %"}}
    print(f"smile movement (rest -> smile, both photos re-taken): p95 |d one side| "
          f"{movement_bands['full_smile']['side_band']:.2f} mm (n={side.size}), p95 |d ratio| "
          f"{movement_bands['full_smile']['ratio_band']:.1f} points (n={ratio.size})")
    if args.write:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True,
                                text=True).stdout.strip()
        document = {
            "format_version": 1,
            "bands": bands,
            "movement_bands": movement_bands,
            "percentile": PERCENTILE,
            "n_people": len(people),
            "alterations": list(ALTERATIONS),
            "altered_photos_without_face": failed,
            "dataset": DATASET,
            "created": dt.date.today().isoformat(),
            "git_commit": commit,
            "landmarker_sha256": hashlib.sha256(landmarker_model_path().read_bytes()).hexdigest(),
            "measured_as": ("palsy_core.Analyzer on the unaltered and each altered photo (yaw undone, "
                            "measure_face with the folder's expression: rest or smile); band = the "
                            f"{PERCENTILE:g}th percentile over people x alterations of |change| of each "
                            "measure's left-right difference (difference_band) or of one side's value "
                            "(side_band); palpebral_fissure_flow: |change| of the eye-opening "
                            "difference read from the pixels (palsy_core.face.mirror_flow), over the "
                            "pairs where the verdict reads it"),
            "produced_by": "python benchmarks/bench_repeat_photo.py --faces ../shared/faces/london --write",
            "notes": ("Simulated repeat photos (rotation, scale, JPEG, framing) of one photo per person: "
                      "they leave out a real re-take's change of expression intensity, lighting and "
                      "head pose, so a real repeat photo changes more; read the band as a floor."),
        }
        out = ROOT / "palsy_core" / "data" / "repeat_photo_bands.json"
        out.write_text(json.dumps(document, indent=1) + "\n")
        print(f"wrote {out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
