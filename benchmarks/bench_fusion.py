"""Fusion model: inference latency, cached-embedding LOPO speed, and fusion vs single modalities.

Run: .venv/bin/python benchmarks/bench_fusion.py [--repeats N] [--skip-table] [--paper-recipe]

Prints three things (targets from issue 4):

1. latency of the default fusion model's ``predict`` per photo on CPU, p50 / p95 ms
   (target: under 40 ms on 2 cores);
2. time of a full LOPO of the early-fusion head with cached frozen embeddings, against
   recomputing the EfficientNet-Lite0 embeddings every epoch (measured for one epoch and
   extrapolated), and the speed-up (target: minutes, not hours, for 21 folds);
3. F1 / precision / recall under LOPO on held-out simulated patients of the early-fusion
   model and of each single-modality model it fuses (handcrafted FNN, EfficientNet-Lite0
   on RGB crops), trained by our trainers with the same folds and seeds, and the recipe
   of the shipped model (mirror images, 100 FNN epochs, modality dropout in the head;
   ``--paper-recipe``: the paper's settings, none of these).

The simulated data set is the one ``trainers.build_default_weights`` makes (reused from
``.cache/simulated_default`` when present).
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import os
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("GLOG_minloglevel", "2")


def bench_latency(repeats: int) -> None:
    import torch
    from skimage import data

    from palsy_core import Analyzer, AnalyzerOptions
    from palsy_core.models import AnalyzedFace, load_model

    model = load_model("palsy")
    photos = [data.astronaut(), np.ascontiguousarray(data.astronaut()[:, ::-1])]
    with Analyzer(AnalyzerOptions(palsy_model=None)) as analyzer:
        faces = [analyzer.analyze(p) for p in photos]
    inputs = [(p, r.landmarks, r.blendshapes, r.features) for p, r in zip(photos, faces)]
    for args in inputs:  # warm-up: first calls allocate
        model.predict(AnalyzedFace(*args))
    times = []
    for i in range(repeats):
        start = time.perf_counter()
        model.predict(AnalyzedFace(*inputs[i % len(inputs)]))
        times.append((time.perf_counter() - start) * 1000)
    p50, p95 = np.percentile(times, [50, 95])
    print(f"1. fusion inference ({model.name}, {torch.get_num_threads()} CPU threads): "
          f"p50 {p50:.1f} ms, p95 {p95:.1f} ms per photo over {repeats} calls "
          f"(target < 40 ms)")


def bench_lopo_speed(yfp: Path, ckplus: Path, frames: int, healthy_subjects: int) -> None:
    """Early-fusion head LOPO from cached embeddings vs recomputing them per epoch."""
    import torch

    from trainers.data.datasets import read_ckplus, read_yfp
    from trainers.data.cache import ModalityStore
    from palsy_core.models import EarlyFusionHead, FeatureScaler, create_model
    from trainers.data.sampling import lopo_folds

    torch.manual_seed(0)
    healthy_test = max(1, healthy_subjects // 4)
    folds = lopo_folds(read_yfp(yfp).samples, read_ckplus(ckplus).samples,
                       train_per_subject=frames, test_per_palsy_subject=frames,
                       healthy_train_subjects=healthy_subjects - healthy_test,
                       healthy_test_subjects=healthy_test)
    epochs, batch = 100, 128
    backbone = create_model("efficientnet_lite0").eval()
    fnn = create_model("fnn_handcrafted").eval()
    with ModalityStore() as store:
        report = store.extract({str(s.path) for f in folds for s in (*f.train, *f.test)})

        def fold_inputs(fold):
            kept = [s for s in fold.train if str(s.path) in report.hashes]
            digests = [report.hashes[str(s.path)] for s in kept]
            labels = torch.tensor([s.palsy for s in kept])
            raw = store.vectors(digests, "handcrafted")
            vectors = FeatureScaler.fit(raw).transform(raw)
            with torch.no_grad():
                structured = fnn.embed(torch.from_numpy(vectors))
            return digests, labels, structured

        def train_head(image_emb, structured, labels, n_epochs):
            head = EarlyFusionHead(image_emb.shape[1] + structured.shape[1]).train()
            optimizer = torch.optim.SGD(head.parameters(), lr=0.01)
            for _ in range(n_epochs):
                order = torch.randperm(len(labels))
                for s in range(0, len(labels), batch):
                    idx = order[s:s + batch]
                    if len(idx) < 2:
                        continue
                    loss = torch.nn.functional.cross_entropy(head(image_emb[idx], structured[idx]),
                                                             labels[idx])
                    optimizer.zero_grad()
                    loss.backward()
                    optimizer.step()

        store.frozen_features(backbone, "rgb", list(report.hashes.values()))  # fill the cache
        start = time.perf_counter()
        for fold in folds:
            digests, labels, structured = fold_inputs(fold)
            image_emb = store.frozen_features(backbone, "rgb", digests)  # read from disk
            train_head(image_emb, structured, labels, epochs)
        cached = time.perf_counter() - start

        digests, labels, structured = fold_inputs(folds[0])
        start = time.perf_counter()
        # One epoch of recomputing: every training photo through the backbone again.
        with torch.no_grad():
            image_emb = torch.cat([backbone.frozen_features(backbone.preprocess(
                store.images(digests[s:s + 64], "rgb"))) for s in range(0, len(digests), 64)])
        train_head(image_emb, structured, labels, 1)
        per_epoch = time.perf_counter() - start
    n_train = len(digests)
    recompute = per_epoch * epochs * len(folds)
    print(f"2. LOPO of the fusion head, {len(folds)} folds x {epochs} epochs, ~{n_train} "
          f"training photos per fold:\n"
          f"   cached embeddings: {cached:.1f} s measured\n"
          f"   recomputing embeddings every epoch: {per_epoch:.1f} s per epoch measured -> "
          f"{recompute / 60:.1f} min extrapolated\n"
          f"   speed-up: {recompute / cached:.0f}x")
    paper_images = 40 * 50  # 20 patients + 20 healthy subjects, 50 samples each
    paper_cached = cached / len(folds) / n_train * paper_images * 21
    paper_recompute = per_epoch / n_train * paper_images * epochs * 21
    print(f"   the paper's 21-fold LOPO ({paper_images} training photos per fold), "
          f"extrapolated: cached {paper_cached / 60:.1f} min vs recomputing "
          f"{paper_recompute / 3600:.1f} h")


def bench_table(yfp: Path, ckplus: Path, frames: int, healthy_subjects: int,
                paper_recipe: bool, out: Path) -> None:
    """LOPO F1 of the fusion model and each single modality it fuses."""
    from trainers import build_default_weights as recipe
    from trainers import collect, fnn, fusion, image

    healthy_test = max(1, healthy_subjects // 4)
    common = ["--yfp", str(yfp), "--ckplus", str(ckplus), "--protocol", "lopo",
              "--train-per-subject", str(frames), "--test-per-palsy-subject", str(frames),
              "--healthy-train-subjects", str(healthy_subjects - healthy_test),
              "--healthy-test-subjects", str(healthy_test), "--device", "cpu", "--no-progress"]
    fnn_epochs, fusion_extra = [], []
    if not paper_recipe:
        common.append("--mirror")
        fnn_epochs = ["--epochs", str(recipe.FNN_EPOCHS)]
        fusion_extra = ["--fnn-epochs", str(recipe.FNN_EPOCHS),
                        "--modality-dropout", str(recipe.MODALITY_DROPOUT)]
    runs = {"fnn": out / "fnn_handcrafted", "image": out / "efficientnet_rgb",
            "fusion": out / "early_fusion"}
    timings = {}
    for name, main, extra in (
            ("fnn", fnn.main, ["--modality", "handcrafted", *fnn_epochs]),
            ("image", image.main, ["--model", "efficientnet_lite0", "--modality", "rgb"]),
            ("fusion", fusion.main, ["--fusion", "early", *fusion_extra])):
        start = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()):  # each trainer prints its table
            main([*common, *extra, "--out", str(runs[name])])
        timings[name] = time.perf_counter() - start
    collect.collect(list(runs.values()), out)
    with open(out / "results_table.csv", newline="") as f:
        rows = [r for r in csv.reader(f)][1:]
    print("3. held-out simulated patients (LOPO, threshold 0.5):")
    print(f"   {'Data Modality':45s} {'Model':62s} {'F1':>6s} {'Prec':>6s} {'Rec':>6s}")
    for row in rows:
        if row[2]:
            print(f"   {row[0]:45s} {row[1]:62s} {row[2]:>6s} {row[3]:>6s} {row[4]:>6s}")
    print("   trainer wall time: "
          + ", ".join(f"{k} {v / 60:.1f} min" for k, v in timings.items()))
    print(f"   tables: {out / 'results_table.md'}")


def main() -> None:
    from trainers.build_default_weights import make_simulated_dataset

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=100)
    parser.add_argument("--data", type=Path, default=ROOT / ".cache" / "simulated_default")
    parser.add_argument("--palsy-subjects", type=int, default=20)
    parser.add_argument("--healthy-subjects", type=int, default=20)
    parser.add_argument("--frames", type=int, default=24)
    parser.add_argument("--paper-recipe", action="store_true",
                        help="part 3: the paper's settings instead of the shipped model's")
    parser.add_argument("--skip-table", action="store_true", help="skip part 3 (the slow one)")
    parser.add_argument("--out", type=Path, default=ROOT / "runs" / "bench_fusion")
    args = parser.parse_args()
    os.chdir(ROOT)  # the default caches live under the repository

    bench_latency(args.repeats)
    yfp, ckplus = make_simulated_dataset(args.data, palsy_subjects=args.palsy_subjects,
                                         healthy_subjects=args.healthy_subjects,
                                         frames_per_subject=args.frames)
    bench_lopo_speed(yfp, ckplus, args.frames, args.healthy_subjects)
    if not args.skip_table:
        bench_table(yfp, ckplus, args.frames, args.healthy_subjects, args.paper_recipe,
                    args.out)


if __name__ == "__main__":
    main()
