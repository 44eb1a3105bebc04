"""Round-robin sampling, leave-one-patient-out folds and patient-grouped splits."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from trainers.data.datasets import Sample, read_class_folders
from trainers.data.sampling import group_split, lopo_folds, round_robin_sample
from trainers.data.simulate import write_simulated_class_folders


def yfp_subject(name: str, counts: dict[tuple[float, float], int]) -> list[Sample]:
    """Frames of one YFP patient, ``counts[(eye, mouth)]`` frames per combination."""
    samples, n = [], 0
    for (eye, mouth), count in counts.items():
        for _ in range(count):
            n += 1
            palsy = int(max(eye, mouth) == 1.0 or min(eye, mouth) == 0.5)
            samples.append(Sample(path=Path(f"Image/{name}/{n}.bmp"), subject=f"yfp/{name}",
                                  dataset="yfp", palsy=palsy, eye=eye, mouth=mouth))
    return samples


def ckplus_subject(name: str, count: int) -> list[Sample]:
    return [Sample(path=Path(f"cohn-kanade-images/{name}/001/{name}_001_{i:08d}.png"),
                   subject=f"ckplus/{name}", dataset="ckplus", palsy=0)
            for i in range(1, count + 1)]


def test_round_robin_balances_label_combinations():
    frames = yfp_subject("P01", {(0.5, 0.0): 30, (1.0, 0.5): 5, (0.0, 1.0): 20})
    taken = round_robin_sample(frames, 15)
    assert Counter((s.eye, s.mouth) for s in taken) == {(0.5, 0.0): 5, (1.0, 0.5): 5,
                                                        (0.0, 1.0): 5}
    # Once a combination runs out the others keep taking turns.
    taken = round_robin_sample(frames, 20)
    assert Counter((s.eye, s.mouth) for s in taken) == {(0.5, 0.0): 8, (1.0, 0.5): 5,
                                                        (0.0, 1.0): 7}
    assert len(set(taken)) == 20


def test_round_robin_counts_per_subject():
    frames = (yfp_subject("P01", {(1.0, 0.0): 60}) + yfp_subject("P02", {(0.5, 0.5): 12})
              + ckplus_subject("S005", 3))
    per_subject = Counter(s.subject for s in round_robin_sample(frames, 50))
    assert per_subject == {"yfp/P01": 50, "yfp/P02": 12, "ckplus/S005": 3}


def test_round_robin_is_seeded_and_independent_of_other_subjects():
    frames = yfp_subject("P01", {(1.0, 0.0): 40, (0.0, 0.5): 40})
    first = round_robin_sample(frames, 10, seed=4)
    assert first == round_robin_sample(frames, 10, seed=4)
    assert first != round_robin_sample(frames, 10, seed=5)
    with_others = round_robin_sample(frames + yfp_subject("P02", {(1.0, 1.0): 30}), 10, seed=4)
    assert [s for s in with_others if s.subject == "yfp/P01"] == first
    with pytest.raises(ValueError, match="per_subject"):
        round_robin_sample(frames, 0)


def test_lopo_follows_the_papers_protocol():
    patients = [s for k in range(21)
                for s in yfp_subject(f"P{k:02d}", {(1.0, 0.0): 30, (0.5, 0.5): 30, (0.0, 0.0): 5})]
    healthy = [s for k in range(40) for s in ckplus_subject(f"S{k:03d}", 60)]
    folds = lopo_folds(patients, healthy)
    assert len(folds) == 21
    assert sorted(f.test_subject for f in folds) == sorted({s.subject for s in patients})
    for fold in folds:
        train = Counter(s.subject for s in fold.train)
        test = Counter(s.subject for s in fold.test)
        assert not set(train) & set(test)
        assert fold.test_subject in test and fold.test_subject not in train
        # Train: 20 patients + 20 healthy subjects, 50 samples each.
        assert sum(1 for s in train if s.startswith("yfp/")) == 20
        assert sum(1 for s in train if s.startswith("ckplus/")) == 20
        assert set(train.values()) == {50}
        # Test: the held-out patient's 50 + 2 from each of 20 other healthy subjects.
        assert test[fold.test_subject] == 50
        healthy_test = {s: n for s, n in test.items() if s.startswith("ckplus/")}
        assert len(healthy_test) == 20 and set(healthy_test.values()) == {2}
        assert len(fold.test) == 90 and len(fold.train) == 2000


def test_lopo_rotates_few_healthy_subjects_and_tests_every_patient_once():
    patients = [s for k in range(5) for s in yfp_subject(f"P{k}", {(1.0, 1.0): 8})]
    healthy = [s for k in range(5) for s in ckplus_subject(f"S{k:03d}", 6)]
    folds = lopo_folds(patients, healthy, train_per_subject=4, test_per_palsy_subject=4)
    assert Counter(f.test_subject for f in folds) == {f"yfp/P{k}": 1 for k in range(5)}
    tested_healthy = set()
    for fold in folds:
        train = {s.subject for s in fold.train}
        test = {s.subject for s in fold.test}
        assert not train & test
        healthy_train = {s for s in train if s.startswith("ckplus/")}
        healthy_test = {s for s in test if s.startswith("ckplus/")}
        assert len(healthy_train) == 3 and len(healthy_test) == 2  # 20:20 scaled to 5
        tested_healthy |= healthy_test
    assert len(tested_healthy) == 5


def test_lopo_refuses_what_it_cannot_split():
    one_patient = yfp_subject("P01", {(1.0, 1.0): 5})
    two_healthy = ckplus_subject("S001", 3) + ckplus_subject("S002", 3)
    with pytest.raises(ValueError, match="at least 2 palsy patients"):
        lopo_folds(one_patient, two_healthy)
    patients = one_patient + yfp_subject("P02", {(1.0, 1.0): 5})
    with pytest.raises(ValueError, match="at least 2 healthy subjects"):
        lopo_folds(patients, ckplus_subject("S001", 3))
    with pytest.raises(ValueError, match="both palsy and healthy"):
        lopo_folds(patients, two_healthy + yfp_subject("P02", {(0.0, 0.0): 2}))


def test_group_split_keeps_each_patient_on_one_side(tmp_path, astronaut, astronaut_landmarks):
    write_simulated_class_folders(tmp_path, [(astronaut, astronaut_landmarks)], 3, seed=0)
    samples = read_class_folders(tmp_path).samples
    train, test = group_split(samples, 0.25, seed=1)
    assert sorted(train + test, key=str) == sorted(samples, key=str)
    assert not {s.subject for s in train} & {s.subject for s in test}
    assert len(test) >= 0.25 * len(samples) and train
    assert group_split(samples, 0.25, seed=1) == (train, test)
    with pytest.raises(ValueError, match="at least 2 patients"):
        group_split([s for s in samples if s.subject == samples[0].subject], 0.5)
    with pytest.raises(ValueError, match="test_fraction"):
        group_split(samples, 1.0)
