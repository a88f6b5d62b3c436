"""Fraction-estimate metrics against hand computations on small maps."""

import json

import numpy as np
import pytest

from hsi_tumor import HsiTumorError
from hsi_tumor.metrics import fraction_calibration, fraction_estimate_metrics, fuzzy_dice
from hsi_tumor.metrics._fraction import (
    N_SUMS,
    calibration_from_sums,
    fraction_estimate_sums,
    metrics_from_fraction_estimate_sums,
)

TRUE = np.array([[0.0, 0.0, 0.25, 0.5], [0.75, 1.0, 1.0, np.nan]])
ESTIMATE = np.array([[0.1, np.nan, 0.45, 0.5], [0.55, 0.9, 1.0, 0.3]])
LOWER = np.array([[0.0, np.nan, 0.3, 0.4], [0.4, 0.8, 0.95, 0.0]])
UPPER = np.array([[0.2, np.nan, 0.6, 0.6], [0.8, 1.0, 1.0, 1.0]])


def test_metrics_match_a_hand_computation():
    m = fraction_estimate_metrics(ESTIMATE, TRUE, lower=LOWER, upper=UPPER)
    # the NaN true fraction is left out; the NaN estimate counts as 0 and not covered
    e = np.array([0.1, 0.0, 0.45, 0.5, 0.55, 0.9, 1.0])
    f = np.array([0.0, 0.0, 0.25, 0.5, 0.75, 1.0, 1.0])
    assert m["fraction_fuzzy_dice"] == pytest.approx(2 * np.minimum(e, f).sum() / (e + f).sum())
    assert m["fraction_area_error"] == pytest.approx((3.5 - 3.5) / 3.5)
    # partial pixels: 0.25, 0.5, 0.75 estimated 0.45, 0.5, 0.55
    assert m["fraction_mae_partial"] == pytest.approx((0.2 + 0.0 + 0.2) / 3)
    # covered: 0 in [0, .2] yes; the pixel without interval is left out; .25 in [.3, .6] no;
    # .5 yes; .75 yes; 1 in [.8, 1] yes; 1 in [.95, 1] yes  -> 5 of 6, partial 2 of 3
    assert m["fraction_coverage"] == pytest.approx(5 / 6)
    assert m["fraction_coverage_partial"] == pytest.approx(2 / 3)
    # fuzzy Dice is the one of hsi_tumor.metrics.fuzzy_dice on the same maps
    assert m["fraction_fuzzy_dice"] == pytest.approx(fuzzy_dice(ESTIMATE, TRUE))


def test_mask_and_no_interval():
    mask = np.array([[True, True, True, False], [False, False, False, True]])
    m = fraction_estimate_metrics(ESTIMATE, TRUE, mask)
    # pixels 0, 0, 0.25 estimated 0.1, 0 (NaN), 0.45
    assert m["fraction_area_error"] == pytest.approx((0.55 - 0.25) / 0.25)
    assert m["fraction_mae_partial"] == pytest.approx(0.2)
    assert np.isnan(m["fraction_coverage"]) and np.isnan(m["fraction_coverage_partial"])


def test_sums_add_up_to_the_pooled_metrics():
    a = fraction_estimate_sums(ESTIMATE[:1], TRUE[:1], lower=LOWER[:1], upper=UPPER[:1])
    b = fraction_estimate_sums(ESTIMATE[1:], TRUE[1:], lower=LOWER[1:], upper=UPPER[1:])
    assert a.shape == (N_SUMS,)
    pooled = metrics_from_fraction_estimate_sums(a + b)
    whole = fraction_estimate_metrics(ESTIMATE, TRUE, lower=LOWER, upper=UPPER)
    for key, value in whole.items():
        assert float(pooled[key]) == pytest.approx(value)
    # a stack of specimens' sums gives one value per specimen
    stacked = metrics_from_fraction_estimate_sums(np.stack([a, b]))
    assert stacked["fraction_mae_partial"].shape == (2,)
    assert stacked["fraction_mae_partial"][0] == pytest.approx(0.1)  # 0.25->0.45, 0.5->0.5


def test_calibration_curve_and_coverage_by_true_fraction():
    c = fraction_calibration(ESTIMATE, TRUE, lower=LOWER, upper=UPPER)
    # bins of the estimate: 0.0 (NaN->0) and 0.1 in bins 0 and 1; 0.45 bin 4; 0.5, 0.55 bin 5;
    # 0.9 and 1.0 in the last bin (1.0 is closed on the right)
    assert c.counts.tolist() == [1, 1, 0, 0, 1, 2, 0, 0, 0, 2]
    np.testing.assert_allclose(c.mean_estimated[[0, 1, 4, 5, 9]], [0.0, 0.1, 0.45, 0.525, 0.95])
    np.testing.assert_allclose(c.mean_true[[0, 1, 4, 5, 9]], [0.0, 0.0, 0.25, 0.625, 1.0])
    assert np.isnan(c.mean_true[2]) and np.isnan(c.mean_estimated[8])
    gap = (0 + 0.1 + 0.2 + 2 * 0.1 + 2 * 0.05) / 7
    assert c.mean_absolute_error == pytest.approx(gap)
    assert c.coverage_labels == ("0", "0–0.2", "0.2–0.4", "0.4–0.6", "0.6–0.8", "0.8–1", "1")
    # true 0 (covered; the other 0 has no interval); 0.25 (not); 0.5, 0.75, 1, 1 (covered)
    assert c.coverage_counts.tolist() == [1, 0, 1, 1, 1, 0, 2]
    np.testing.assert_allclose(c.coverage[[0, 2, 3, 4, 6]], [1.0, 0.0, 1.0, 1.0, 1.0])
    assert np.isnan(c.coverage[1]) and np.isnan(c.coverage[5])
    # by bin of the estimate: 0.1 (covered), 0.45 (not), 0.5 and 0.55 (both), 0.9 and 1.0
    # (both); the NaN estimate has no interval
    np.testing.assert_allclose(c.coverage_by_estimate[[1, 4, 5, 9]], [1.0, 0.0, 1.0, 1.0])
    assert np.isnan(c.coverage_by_estimate[[0, 2, 3, 6, 7, 8]]).all()
    d = c.to_dict()
    json.dumps(d, allow_nan=False)
    assert d["counts"] == c.counts.tolist() and d["coverage"][1] is None


def test_bin_edges_of_the_partial_coverage_bins():
    f = np.array([1e-9, 0.2, 0.2 + 1e-9, 0.8, 1 - 1e-9])
    c = fraction_calibration(f, f, lower=f, upper=f)
    assert c.coverage_counts.tolist() == [0, 2, 1, 0, 1, 1, 0]
    assert np.nanmin(c.coverage) == 1.0


def test_calibration_without_interval_has_no_coverage():
    c = fraction_calibration(ESTIMATE, TRUE)
    assert np.isnan(c.coverage).all() and np.isnan(c.coverage_by_estimate).all()
    assert c.coverage_counts.sum() == 0


def test_bad_input_is_named():
    with pytest.raises(HsiTumorError, match="differ in shape"):
        fraction_estimate_metrics(ESTIMATE[:, :3], TRUE)
    with pytest.raises(HsiTumorError, match="expected"):
        calibration_from_sums(np.zeros(5))
