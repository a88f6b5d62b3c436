"""Reliability curve and ECE against scikit-learn and closed forms."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.calibration import calibration_curve

from hsi_tumor._shared.errors import InvalidOptionError
from hsi_tumor.evaluation import reliability_curve


def test_matches_sklearn_calibration_curve():
    rng = np.random.default_rng(0)
    p = rng.beta(0.7, 0.7, 5000)
    y = rng.random(5000) < p**1.5  # over-confident model
    curve = reliability_curve(y, p, n_bins=10)
    observed, predicted = calibration_curve(y, p, n_bins=10, strategy="uniform")
    filled = curve.counts > 0
    np.testing.assert_allclose(curve.observed[filled], observed, atol=1e-12)
    np.testing.assert_allclose(curve.mean_predicted[filled], predicted, atol=1e-12)
    gaps = np.abs(curve.observed[filled] - curve.mean_predicted[filled])
    assert curve.ece == pytest.approx(np.sum(curve.counts[filled] * gaps) / 5000)
    assert curve.counts.sum() == 5000


def test_calibrated_probabilities_have_small_ece_and_miscalibrated_large():
    rng = np.random.default_rng(1)
    p = rng.random(200_000)
    assert reliability_curve(rng.random(p.size) < p, p).ece < 0.01
    assert reliability_curve(rng.random(p.size) < p**3, p).ece > 0.15


def test_closed_form_and_edges():
    curve = reliability_curve([0, 1, 1, 1], [0.0, 0.5, 1.0, np.nan], n_bins=2)
    # 0.0 → first bin; 0.5 and 1.0 → last (right-closed at 1); the NaN pixel is left out
    np.testing.assert_array_equal(curve.counts, [1, 2])
    np.testing.assert_allclose(curve.mean_predicted, [0.0, 0.75])
    assert curve.ece == pytest.approx((1 * 0 + 2 * 0.25) / 3)
    assert curve.to_dict()["counts"] == [1, 2]


def test_bad_input():
    with pytest.raises(InvalidOptionError, match="decision values"):
        reliability_curve([0, 1], [-1.0, 2.0])
    with pytest.raises(InvalidOptionError, match="one probability per label"):
        reliability_curve([0, 1, 1], [0.1, 0.2])


def test_class_balanced_ece_closed_form():
    # 8 negatives at p = 0.05 (bin 0), 2 positives and 2 negatives at p = 0.95 (bin 1):
    # gaps |0 - 0.05| = 0.05 and |0.5 - 0.95| = 0.45
    y = [0] * 8 + [1, 1, 0, 0]
    p = [0.05] * 8 + [0.95] * 4
    curve = reliability_curve(y, p, n_bins=2)
    # ECE: pixel-weighted, dominated by the 8 negatives of bin 0
    assert curve.ece == pytest.approx((8 * 0.05 + 4 * 0.45) / 12)
    # class-balanced: bin weights = mean of the bin's share of the positives (0, 1) and of the
    # negatives (8/10, 2/10): w = (0.4, 0.6)
    assert curve.ece_balanced == pytest.approx(0.4 * 0.05 + 0.6 * 0.45)
    # = mean of the expected gap seen by a positive (0.45) and by a negative (0.8*0.05+0.2*0.45)
    assert curve.ece_balanced == pytest.approx(0.5 * 0.45 + 0.5 * (0.8 * 0.05 + 0.2 * 0.45))
    assert curve.to_dict()["ece_balanced"] == pytest.approx(0.29)
    np.testing.assert_array_equal(curve.positives, [0, 2])


def test_class_balanced_ece_reveals_overconfidence_on_the_rare_class():
    # many well-calibrated negatives near 0, a few over-confident predictions near 1
    rng = np.random.default_rng(2)
    p = np.concatenate([np.full(95_000, 0.01), np.full(5_000, 0.97)])
    y = np.concatenate([rng.random(95_000) < 0.01, rng.random(5_000) < 0.54])
    curve = reliability_curve(y, p)
    assert curve.ece < 0.03  # small: 95 % of the pixels are in the first bin
    # about 3/4 of the positives are in the last bin, where the gap is 0.43
    assert curve.ece_balanced > 0.15 and curve.ece_balanced > 5 * curve.ece


def test_class_balanced_ece_of_perfect_calibration_is_zero_and_one_class_nan():
    curve = reliability_curve([0, 1, 0, 1], [0.5, 0.5, 0.5, 0.5], n_bins=4)
    assert curve.ece == 0 and curve.ece_balanced == 0
    assert np.isnan(reliability_curve([0, 0], [0.1, 0.2]).ece_balanced)
