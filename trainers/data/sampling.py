"""Sampling and subject-grouped splits for the training protocol of seed 000.

The protocol (spec ``models-and-training.md`` section 3): leave-one-patient-out over the
palsy patients; each fold trains on the other patients and on a group of healthy CK+
subjects, 50 samples each, and tests on the held-out patient's 50 samples plus 2 samples
from each of a *different* group of healthy subjects. Samples are drawn per subject in
round-robin over the label combinations, so that no severity combination dominates.

Every split here keeps each subject wholly on one side: frames of one person are near
duplicates, and a person on both sides would inflate every score.
"""

from __future__ import annotations

import zlib
from collections import defaultdict
from dataclasses import dataclass, field
from collections.abc import Iterable, Sequence

import numpy as np

from .datasets import Sample


@dataclass
class Fold:
    """One leave-one-patient-out fold.

    Attributes
    ----------
    index : int
        0-based fold number.
    test_subject : str or None
        The held-out palsy patient (e.g. "yfp/P07"); None for a fold that is a single
        patient-grouped split rather than a LOPO fold.
    train, test : list of Sample
        No subject appears in both.
    """

    index: int
    test_subject: str | None
    train: list[Sample] = field(default_factory=list)
    test: list[Sample] = field(default_factory=list)


def round_robin_sample(samples: Iterable[Sample], per_subject: int, *, seed: int = 0
                       ) -> list[Sample]:
    """Take up to ``per_subject`` samples of every subject, balanced over label combinations.

    For each subject, while fewer than ``per_subject`` samples are taken, one sample is
    taken from each distinct :attr:`Sample.label_combination` in turn (combinations in
    sorted order; within a combination, in a random order fixed by ``seed``), skipping
    combinations that have run out. A subject with fewer samples than the target gives
    all of them.

    Parameters
    ----------
    samples : iterable of Sample
    per_subject : int
        Target count per subject (> 0).
    seed : int
        A subject's draw depends only on the seed and that subject's own samples, so
        adding other subjects does not change it.

    Returns
    -------
    list of Sample
        Grouped by subject (subjects in sorted order), in the order they were taken.
    """
    if int(per_subject) != per_subject or per_subject < 1:
        raise ValueError(f"per_subject must be a positive whole number, not {per_subject!r}")
    by_subject = _by_subject(samples)
    taken: list[Sample] = []
    for subject in sorted(by_subject):
        rng = np.random.default_rng([seed, zlib.crc32(subject.encode())])
        by_label: dict[tuple, list[Sample]] = defaultdict(list)
        for sample in by_subject[subject]:
            by_label[sample.label_combination].append(sample)
        queues = []
        for label in sorted(by_label, key=_sortable):
            group = by_label[label]
            queues.append([group[i] for i in rng.permutation(len(group))])
        target = min(per_subject, len(by_subject[subject]))
        chosen: list[Sample] = []
        depth = 0
        while len(chosen) < target:
            for queue in queues:
                if depth < len(queue) and len(chosen) < target:
                    chosen.append(queue[depth])
            depth += 1
        taken.extend(chosen)
    return taken


def lopo_folds(
    palsy_samples: Iterable[Sample],
    healthy_samples: Iterable[Sample],
    *,
    train_per_subject: int = 50,
    test_per_palsy_subject: int = 50,
    healthy_train_subjects: int = 20,
    healthy_test_subjects: int = 20,
    test_per_healthy_subject: int = 2,
    seed: int = 0,
) -> list[Fold]:
    """Leave-one-patient-out folds of seed 000's protocol.

    Fold ``k`` holds out palsy patient ``k`` (patients in sorted order). Its training set
    is ``train_per_subject`` round-robin samples of every other patient and of
    ``healthy_train_subjects`` healthy subjects; its test set is
    ``test_per_palsy_subject`` samples of the held-out patient and
    ``test_per_healthy_subject`` samples of each of ``healthy_test_subjects`` *other*
    healthy subjects.

    The healthy subjects are shuffled once (by ``seed``) and the window of test subjects
    rotates from fold to fold, so over the folds every healthy subject gets tested. When
    there are fewer healthy subjects than the two groups need, both groups shrink in
    proportion (each keeps at least one subject) and stay disjoint.

    Returns
    -------
    list of Fold

    Raises
    ------
    ValueError
        With fewer than two palsy patients or two healthy subjects (nothing to train or
        to test on), or a non-positive count.
    AssertionError
        Should a subject ever land on both sides of a fold (a bug, checked every fold).
    """
    counts = dict(train_per_subject=train_per_subject,
                  test_per_palsy_subject=test_per_palsy_subject,
                  healthy_train_subjects=healthy_train_subjects,
                  healthy_test_subjects=healthy_test_subjects,
                  test_per_healthy_subject=test_per_healthy_subject)
    for name, value in counts.items():
        if int(value) != value or value < 1:
            raise ValueError(f"{name} must be a positive whole number, not {value!r}")
    patients = _by_subject(palsy_samples)
    healthy = _by_subject(healthy_samples)
    if len(patients) < 2:
        raise ValueError(f"Leave-one-patient-out needs at least 2 palsy patients; got "
                         f"{len(patients)}.")
    if len(healthy) < 2:
        raise ValueError(f"Each fold needs healthy subjects to train on and others to test "
                         f"on: at least 2 healthy subjects; got {len(healthy)}.")
    shared = set(patients) & set(healthy)
    if shared:
        raise ValueError(f"Subjects appear among both palsy and healthy samples: "
                         f"{sorted(shared)[:5]}")

    n_test, n_train = _healthy_group_sizes(len(healthy), healthy_test_subjects,
                                           healthy_train_subjects)
    order = [sorted(healthy)[i] for i in np.random.default_rng(seed).permutation(len(healthy))]
    folds = []
    for index, held_out in enumerate(sorted(patients)):
        start = (index * n_test) % len(order)
        rotated = order[start:] + order[:start]
        healthy_test, healthy_train = rotated[:n_test], rotated[n_test:n_test + n_train]
        train_pool = [s for p in sorted(patients) if p != held_out for s in patients[p]]
        train_pool += [s for h in healthy_train for s in healthy[h]]
        train = round_robin_sample(train_pool, train_per_subject, seed=seed)
        test = round_robin_sample(patients[held_out], test_per_palsy_subject, seed=seed)
        test += round_robin_sample([s for h in healthy_test for s in healthy[h]],
                                   test_per_healthy_subject, seed=seed)
        overlap = {s.subject for s in train} & {s.subject for s in test}
        if overlap:
            raise AssertionError(f"Fold {index}: subjects on both sides: {sorted(overlap)}")
        folds.append(Fold(index=index, test_subject=held_out, train=train, test=test))
    return folds


def group_split(samples: Sequence[Sample], test_fraction: float, seed: int = 0
                ) -> tuple[list[Sample], list[Sample]]:
    """Split samples into train and test with every subject (patient) on one side only.

    Subjects are shuffled by ``seed`` and moved to the test side until it holds at least
    ``test_fraction`` of the samples; both sides keep at least one subject.

    Parameters
    ----------
    samples : sequence of Sample
    test_fraction : float in (0, 1)
    seed : int

    Returns
    -------
    (train, test) : lists of Sample, each in the input order.

    Raises
    ------
    ValueError
        With fewer than two subjects, or a fraction outside (0, 1).
    """
    samples = list(samples)
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction must be between 0 and 1, not {test_fraction!r}")
    by_subject = _by_subject(samples)
    if len(by_subject) < 2:
        raise ValueError(f"A patient-grouped split needs at least 2 patients; got "
                         f"{len(by_subject)}. Name files with a leading patient number "
                         "(e.g. 14_smile.jpg) so patients can be told apart.")
    subjects = sorted(by_subject)
    order = [subjects[i] for i in np.random.default_rng(seed).permutation(len(subjects))]
    test_subjects: set[str] = set()
    test_count = 0
    for subject in order[:-1]:  # the last subject always stays on the training side
        if test_count >= test_fraction * len(samples):
            break
        test_subjects.add(subject)
        test_count += len(by_subject[subject])
    train = [s for s in samples if s.subject not in test_subjects]
    test = [s for s in samples if s.subject in test_subjects]
    return train, test


def _by_subject(samples: Iterable[Sample]) -> dict[str, list[Sample]]:
    groups: dict[str, list[Sample]] = defaultdict(list)
    for sample in samples:
        groups[sample.subject].append(sample)
    return dict(groups)


def _healthy_group_sizes(available: int, want_test: int, want_train: int) -> tuple[int, int]:
    if available >= want_test + want_train:
        return want_test, want_train
    n_test = min(max(1, round(available * want_test / (want_test + want_train))),
                 available - 1)
    return n_test, available - n_test


def _sortable(label: tuple) -> tuple:
    # Label tuples mix numbers and None (severity); order None first, deterministically.
    return tuple((value is not None, value if value is not None else 0) for value in label)
