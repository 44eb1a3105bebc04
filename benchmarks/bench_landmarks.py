"""Landmark accuracy on real faces: MediaPipe against the lab's manual landmarks.

    python benchmarks/bench_landmarks.py [--faces ../shared/faces/london]

The neutral photos of the Face Research Lab London Set (DeBruine & Jones 2017, CC-BY 4.0,
https://doi.org/10.6084/m9.figshare.5047666.v5) come with the lab's manual landmarks
(webmorph's 189-point template, ``neutral/NNN_03.tem``). We compare the landmarks the app
finds (:class:`palsy_core.Analyzer`, cached by :mod:`trainers.normal_range`) with the
template points whose meaning is unambiguous in both schemes (checked by plotting the
numbered template on the photos): the pupil centres, the eye corners, the mouth corners
and the lip's midline edges. Errors are in millimetres at the iris scale the
measurements use (11.77 mm over MediaPipe's iris diameter), and also as a percentage of
the manual interpupillary distance, which needs no assumed size.

Then what the error means for the measures: the left-right differences the verdict reads
are differences of heights in the pupil-line frame, so the landmarker's error on one side
relative to the other is what they inherit. Where the manual points give the same
quantity (the height of one mouth corner over the other = the signed commissure height
difference; the height of one pupil over the other, which tilts the frame and so every
height difference), we print the spread of MediaPipe minus manual next to the normal limit.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np


from palsy_core.face import landmarks as lm  # noqa: E402
from palsy_core.face.frame import FaceFrame  # noqa: E402
from palsy_core.face.measurements import measure_face  # noqa: E402
from palsy_core.face.normal_range import load_normal_limits  # noqa: E402
from palsy_core.face.pose import frontalize  # noqa: E402
from trainers.normal_range import DEFAULT_CACHE, LandmarkCache  # noqa: E402

#: Template point -> (what it is, the MediaPipe landmark playing the same part). Sides
#: are the subject's; the template's first two points are the pupils, image-left first.
TEMPLATE_TO_MEDIAPIPE: dict[int, tuple[str, int]] = {
    0: ("right pupil centre", lm.RIGHT_IRIS[0]),
    1: ("left pupil centre", lm.LEFT_IRIS[0]),
    18: ("right eye, outer corner", 33),
    22: ("right eye, inner corner", 133),
    23: ("left eye, inner corner", 362),
    27: ("left eye, outer corner", 263),
    87: ("right mouth corner", lm.RIGHT_MOUTH_CORNER),
    93: ("left mouth corner", lm.LEFT_MOUTH_CORNER),
    90: ("upper lip, top edge at the midline", 0),
    106: ("lower lip, bottom edge at the midline", 17),
}


def read_tem(path: Path) -> np.ndarray:
    """The points of a webmorph ``.tem`` file, (N, 2) pixels."""
    lines = path.read_text().split("\n")
    count = int(lines[0])
    return np.array([[float(v) for v in line.split()[:2]] for line in lines[1:1 + count]])


def summary(values) -> str:
    v = np.asarray(values, dtype=np.float64)
    return (f"mean {v.mean():5.2f}  median {np.median(v):5.2f}  p95 {np.percentile(v, 95):5.2f}"
            f"  max {v.max():5.2f}")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--faces", type=Path, default=Path("../shared/faces/london"))
    p.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    args = p.parse_args(argv)
    photos = sorted((args.faces / "neutral").glob("*_03.jpg"))
    if not photos:
        print(f"No neutral/NNN_03.jpg photos under {args.faces}; give --faces.", file=sys.stderr)
        return 2

    errors_mm = {k: [] for k in TEMPLATE_TO_MEDIAPIPE}
    errors_ipd = {k: [] for k in TEMPLATE_TO_MEDIAPIPE}
    offsets_mm = {k: [] for k in TEMPLATE_TO_MEDIAPIPE}  # MediaPipe - manual, x and y
    pupil_tilt_mm, corner_offset = [], []  # (MediaPipe, manual) pairs
    ipd_mm, brow_signed, skipped = [], [], []
    with LandmarkCache(args.cache) as cache:
        for photo in photos:
            tem_path = photo.with_suffix(".tem")
            face = cache.face(photo)
            if face is None or not tem_path.is_file():
                skipped.append(photo.name)
                continue
            manual = read_tem(tem_path)
            if manual[0, 0] > manual[1, 0]:
                raise ValueError(f"{tem_path}: the first point should be the image-left pupil.")
            mesh = face["landmarks"][:, :2].astype(np.float64)
            mm_per_px = measure_face(face["landmarks"], expression="rest").mm_per_pixel
            # The brow difference as the analysis measures it (head's turn undone).
            frontal, _ = frontalize(face["landmarks"], axes="yaw")
            brow = measure_face(frontal, expression="rest").measurements["brow_height"]
            brow_signed.append(brow.left - brow.right)
            manual_ipd = float(np.linalg.norm(manual[1] - manual[0]))
            ipd_mm.append(manual_ipd * mm_per_px)
            for t, (_, m) in TEMPLATE_TO_MEDIAPIPE.items():
                err = float(np.linalg.norm(mesh[m] - manual[t]))
                errors_mm[t].append(err * mm_per_px)
                offsets_mm[t].append((mesh[m] - manual[t]) * mm_per_px)
                errors_ipd[t].append(100.0 * err / manual_ipd)
            # Heights in each source's own pupil frame, as the measurements take them.
            auto_h = FaceFrame(mesh[[lm.LEFT_MOUTH_CORNER, lm.RIGHT_MOUTH_CORNER]],
                               right_eye=mesh[lm.RIGHT_IRIS[0]], left_eye=mesh[lm.LEFT_IRIS[0]]).y
            man_h = FaceFrame(manual[[93, 87]], right_eye=manual[0], left_eye=manual[1]).y
            # Signed commissure height difference, left - right = right corner's height
            # below the pupils minus the left one's.
            corner_offset.append(((auto_h[0] - auto_h[1]) * mm_per_px,
                                  (man_h[0] - man_h[1]) * mm_per_px))
            # How much higher MediaPipe puts the left pupil than the right one, relative to
            # the lab: this tilts the frame and shifts every left-right height difference.
            auto_dy = mesh[lm.LEFT_IRIS[0], 1] - mesh[lm.RIGHT_IRIS[0], 1]
            man_dy = manual[1, 1] - manual[0, 1]
            pupil_tilt_mm.append((auto_dy - man_dy) * mm_per_px)

    n = len(ipd_mm)
    print(f"Landmarks: MediaPipe (palsy_core.Analyzer) vs the lab's manual .tem points, "
          f"{n} neutral photos of the London Set"
          + (f" ({len(skipped)} skipped: {', '.join(skipped)})" if skipped else ""))
    print("Error = distance between the two points; mm at the iris scale (11.77 mm iris), "
          "and % of the manual interpupillary distance.")
    print("Bias = mean of MediaPipe minus manual (x to the image's right, y down), mm; what is "
          "left after it is the random part.")
    print(f"{'point (template -> mesh)':50s} {'error, mm':52s} {'% IPD mean/p95':15s} "
          f"{'bias x, y mm':14s} {'error without bias, mean mm'}")
    for t, (name, m) in TEMPLATE_TO_MEDIAPIPE.items():
        e_ipd = np.asarray(errors_ipd[t])
        offsets = np.asarray(offsets_mm[t])
        bias = offsets.mean(axis=0)
        random_part = np.linalg.norm(offsets - bias, axis=1).mean()
        print(f"{name + f' ({t} -> {m})':50s} {summary(errors_mm[t]):52s} "
              f"{e_ipd.mean():4.1f} / {np.percentile(e_ipd, 95):4.1f}    "
              f"{bias[0]:+5.2f}, {bias[1]:+5.2f}   {random_part:5.2f}")
    ipd = np.asarray(ipd_mm)
    print(f"\nManual interpupillary distance at the iris scale: mean {ipd.mean():.1f} mm, "
          f"sd {ipd.std(ddof=1):.1f} mm (adults: mean 63 mm, sd 3.8 mm, Dodgson 2004; a lower "
          "mean here means the iris scale reads millimetres that much small)")

    limits = load_normal_limits().limits_for("rest")
    offsets = np.asarray(corner_offset)
    disagreement = offsets[:, 0] - offsets[:, 1]
    tilt = np.asarray(pupil_tilt_mm)
    print("\nWhat the landmark error does to the measures (rest photos):")
    print(f"  commissure height difference (left - right): MediaPipe minus manual: "
          f"bias {disagreement.mean():+.2f} mm, sd {disagreement.std(ddof=1):.2f} mm, "
          f"p95 |.| {np.percentile(np.abs(disagreement), 95):.2f} mm, max |.| "
          f"{np.abs(disagreement).max():.2f} mm; correlation of the two "
          f"{np.corrcoef(offsets[:, 0], offsets[:, 1])[0, 1]:.2f}. Healthy spread of the "
          f"difference: sd {offsets[:, 1].std(ddof=1):.2f} mm by hand, "
          f"{offsets[:, 0].std(ddof=1):.2f} mm by MediaPipe; normal limit "
          f"{limits['commissure_height']:.2f} mm.")
    brow = np.asarray(brow_signed)
    print(f"  pupil height, left relative to right: MediaPipe minus manual: bias "
          f"{tilt.mean():+.2f} mm, sd {tilt.std(ddof=1):.2f} mm, p95 |.| "
          f"{np.percentile(np.abs(tilt), 95):.2f} mm. It tilts the pupil-line frame, which "
          f"shifts the brow height difference by as much (healthy spread of that difference "
          f"by MediaPipe: sd {brow.std(ddof=1):.2f} mm; normal limit "
          f"{limits['brow_height']:.2f} mm) and the commissure height difference by about "
          "mouth width / IPD of it.")
    print("  The limits were measured with this landmarker, so its noise is inside them, not "
          "added on top: a landmarker with less noise would allow tighter limits.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
