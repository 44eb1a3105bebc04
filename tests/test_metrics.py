"""Metrics against confusion matrices counted by hand."""

from __future__ import annotations

import pytest

from trainers.metrics import average_fold_metrics, binary_metrics


def test_hand_counted_confusion_matrix():
    #            tp tp fn fp tn tn tn
    y_true = [1, 1, 1, 0, 0, 0, 0]
    y_pred = [1, 1, 0, 1, 0, 0, 0]
    m = binary_metrics(y_true, y_pred)
    assert (m["tp"], m["fp"], m["fn"], m["tn"]) == (2, 1, 1, 3)
    assert m["precision"] == pytest.approx(2 / 3)
    assert m["recall"] == pytest.approx(2 / 3)
    assert m["f1"] == pytest.approx(2 / 3)
    assert m["accuracy"] == pytest.approx(5 / 7)


def test_a_lopo_like_fold():
    # Held-out patient: 50 palsy frames, 40 caught; 40 healthy test frames, 4 false alarms.
    y_true = [1] * 50 + [0] * 40
    y_pred = [1] * 40 + [0] * 10 + [1] * 4 + [0] * 36
    m = binary_metrics(y_true, y_pred)
    assert (m["tp"], m["fp"], m["fn"], m["tn"]) == (40, 4, 10, 36)
    assert m["precision"] == pytest.approx(40 / 44)
    assert m["recall"] == pytest.approx(0.8)
    assert m["f1"] == pytest.approx(2 * 40 / (2 * 40 + 4 + 10))
    assert m["accuracy"] == pytest.approx(76 / 90)


def test_zero_division_gives_zero():
    m = binary_metrics([0, 0, 0], [0, 0, 0])      # no positives at all
    assert (m["precision"], m["recall"], m["f1"], m["accuracy"]) == (0.0, 0.0, 0.0, 1.0)
    m = binary_metrics([1, 1], [0, 0])            # nothing predicted positive
    assert (m["precision"], m["recall"], m["f1"]) == (0.0, 0.0, 0.0)
    m = binary_metrics([], [])
    assert m["accuracy"] == 0.0 and m["tp"] == 0


def test_booleans_are_accepted_and_bad_labels_refused():
    assert binary_metrics([True, False], [True, True])["fp"] == 1
    with pytest.raises(ValueError, match="only 0 and 1"):
        binary_metrics([0, 2], [0, 1])
    with pytest.raises(ValueError, match="3 labels but y_pred has 2"):
        binary_metrics([0, 1, 1], [0, 1])


def test_average_over_folds():
    folds = [binary_metrics([1, 1, 0, 0], [1, 1, 0, 0]),    # perfect
             binary_metrics([1, 1, 0, 0], [1, 0, 1, 0])]    # half right
    summary = average_fold_metrics(folds)
    assert summary["f1"] == pytest.approx((1.0 + 0.5) / 2)
    assert summary["precision"] == pytest.approx(0.75)
    assert summary["recall"] == pytest.approx(0.75)
    assert summary["accuracy"] == pytest.approx(0.75)
    assert summary["f1_std"] == pytest.approx(0.25)
    assert summary["folds"] == 2
    with pytest.raises(ValueError, match="No fold"):
        average_fold_metrics([])
    with pytest.raises(ValueError, match="no 'recall'"):
        average_fold_metrics([{"f1": 1.0, "precision": 1.0, "accuracy": 1.0}])
