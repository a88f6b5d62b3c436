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
