"""Pixel metrics against scikit-learn and closed forms."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn import metrics as skm

from hsi_tumor._shared.errors import InvalidOptionError
from hsi_tumor.evaluation import area_error, confusion_counts, fuzzy_dice, pixel_metrics
from hsi_tumor.metrics._scores import (
    auc_from_histograms,
    metrics_from_confusion,
    score_histograms,
)


@pytest.fixture
def predictions():
    rng = np.random.default_rng(3)
    y = rng.integers(1, 4, 2000)
    noisy = rng.random(2000) < 0.3
    p = np.where(noisy, rng.integers(1, 4, 2000), y)
    score = np.clip(0.2 * rng.standard_normal(2000) + 0.4 * (y == 3) + 0.3, 0, 1)
    return y, p, score


def test_pixel_metrics_match_sklearn(predictions):
    y, p, score = predictions
    got = pixel_metrics(y, p, classes=[1, 2, 3], tumor_class=3, tumor_score=score)
    assert got["accuracy"] == pytest.approx(skm.accuracy_score(y, p), abs=1e-12)
    assert got["balanced_accuracy"] == pytest.approx(skm.balanced_accuracy_score(y, p), abs=1e-12)
    assert got["kappa"] == pytest.approx(skm.cohen_kappa_score(y, p), abs=1e-12)
    assert got["sensitivity"] == pytest.approx(skm.recall_score(y == 3, p == 3), abs=1e-12)
    assert got["specificity"] == pytest.approx(skm.recall_score(y != 3, p != 3), abs=1e-12)
    assert got["precision"] == pytest.approx(skm.precision_score(y == 3, p == 3), abs=1e-12)
    assert got["dice"] == pytest.approx(skm.f1_score(y == 3, p == 3), abs=1e-12)
    assert got["roc_auc"] == pytest.approx(skm.roc_auc_score(y == 3, score), abs=1e-12)


def test_confusion_counts_match_sklearn_and_ignore_other_ids(predictions):
    y, p, _ = predictions
    p = p.copy()
    p[:50] = 0  # not classified
    expected = skm.confusion_matrix(y[50:], p[50:], labels=[3, 1, 2])
    np.testing.assert_array_equal(confusion_counts(y, p, [3, 1, 2]), expected)


def test_metrics_vectorise_over_stacked_matrices(predictions):
    y, p, _ = predictions
    cms = np.stack([confusion_counts(y[i::3], p[i::3], [1, 2, 3]) for i in range(3)])
    stacked = metrics_from_confusion(cms, 2)
    for i in range(3):
        one = metrics_from_confusion(cms[i], 2)
        for k, v in one.items():
            assert stacked[k][i] == pytest.approx(float(v), abs=1e-12)


def test_undefined_metrics_are_nan():
    got = pixel_metrics([2, 2, 2], [2, 1, 2], classes=[1, 2], tumor_class=2, tumor_score=[1, 0, 1])
    assert got["sensitivity"] == pytest.approx(2 / 3)
    assert np.isnan(got["specificity"]) and np.isnan(got["roc_auc"])


def test_histogram_auc_is_exact_when_scores_fall_in_distinct_bins(predictions):
    y, _, _ = predictions
    rng = np.random.default_rng(0)
    score = (rng.integers(0, 1000, y.size) + 0.5) / 1000  # bin centres: ties are real ties
    hist = score_histograms(y == 3, score, bins=1000)
    assert auc_from_histograms(hist) == pytest.approx(skm.roc_auc_score(y == 3, score), abs=1e-12)


def test_fuzzy_dice_closed_forms():
    truth = np.zeros((6, 6))
    truth[1:4, 1:4] = 1
    assert fuzzy_dice(truth, truth) == pytest.approx(1.0)
    shifted = np.roll(truth, 1, axis=1)
    hard_dice = skm.f1_score(truth.ravel() > 0, shifted.ravel() > 0)
    assert fuzzy_dice(shifted, truth) == pytest.approx(hard_dice)  # binary maps: ordinary Dice
    half = truth * 0.5
    assert fuzzy_dice(half, truth) == pytest.approx(2 * 4.5 / (4.5 + 9))
    assert area_error(half, truth) == pytest.approx(-0.5)
    assert area_error(truth * 1.2, truth) == pytest.approx(0.2)


def test_fraction_metrics_respect_the_mask_and_count_nan_as_zero():
    truth = np.array([[1.0, 1.0, 0.0]])
    prob = np.array([[np.nan, 1.0, 1.0]])
    assert area_error(prob, truth) == pytest.approx(0.0)  # NaN counts 0, the false 1 adds 1
    assert fuzzy_dice(prob, truth, mask=np.array([[True, True, False]])) == pytest.approx(2 / 3)
    with pytest.raises(InvalidOptionError, match="fraction"):
        fuzzy_dice(prob, truth[:, :2])


def test_unknown_tumor_class_is_an_error():
    with pytest.raises(InvalidOptionError, match="tumor_class"):
        pixel_metrics([1, 2], [1, 2], classes=[1, 2], tumor_class=5)
