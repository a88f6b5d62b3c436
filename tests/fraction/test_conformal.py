"""Conformal calibration of the interval: scores, the finite-sample quantile, per-bin offsets
against closed-form cases, and in a trained model and its file."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import hsi_tumor as ht
from hsi_tumor.datasets import as_specimens, simulate_cohort
from hsi_tumor.fraction._conformal import (
    BIN_EDGES,
    IntervalCalibration,
    _quantile,
    calibrate_interval,
    conformity_scores,
)
from hsi_tumor.fraction._estimate import learned_features, reference_and_valid, score_image
from tests.models.files import with_meta


def test_scores_are_the_distance_outside_the_interval():
    f = np.array([0.5, 0.5, 0.5, 0.5, 0.5, 0.0])
    lo = np.array([0.4, 0.4, 0.4, 0.6, 0.4, 0.0])  # 0.6 > f: the interval is [f, hi]
    hi = np.array([0.7, 0.7, 0.7, 0.7, 0.45, 0.1])  # 0.45 < f: the interval is [lo, f]
    y = np.array([0.2, 0.6, 0.9, 0.45, 0.5, 0.0])
    s = conformity_scores(y, f, lo, hi)
    np.testing.assert_allclose(s[:4], [0.2, -0.1, 0.2, 0.05])
    assert s[4] == -np.inf and s[5] == -np.inf  # the estimate itself: always covered


def test_finite_sample_quantile():
    scores = np.arange(1.0, 10.0)  # 9 scores: the ⌈10 × 0.9⌉ = 9th smallest
    assert _quantile(scores, 0.9) == 9.0
    assert _quantile(scores[:8], 0.9) == 1.0  # ⌈9 × 0.9⌉ = 9 > 8: no promise, whole range
    assert _quantile(np.full(20, -np.inf), 0.9) == -1.0  # bounded


def test_apply_widens_or_narrows_each_bin_and_keeps_the_estimate_inside():
    c = IntervalCalibration((0.0, 0.5, 1.0), (0.1, -0.05), (100, 100), 0.9)
    f = np.array([0.2, 0.8, 0.02, 0.8])
    lo = np.array([0.1, 0.7, 0.0, 0.78])
    hi = np.array([0.3, 0.9, 0.05, 0.82])
    lower, upper = c.apply(f, lo, hi)
    np.testing.assert_allclose(lower, [0.0, 0.75, 0.0, 0.8])  # 0.1-0.1; 0.7+0.05; clipped; f
    np.testing.assert_allclose(upper, [0.4, 0.85, 0.15, 0.8])
    assert np.all((lower <= f) & (f <= upper))


def test_offsets_reach_the_level_on_new_patients(rng):
    """Regressors whose interval is ±0.1 around the truth's mean, noise uniform in ±0.3 (a
    0.9 quantile of |noise| of 0.27): the offset is 0.17 and new pixels are covered 90 %."""

    def fit_predict(X_train, y_train, X_test):
        x = X_test[:, 0]
        return x, x - 0.1, x + 0.1

    n = 20_000
    x = rng.uniform(0.3, 0.7, n)
    y = x + rng.uniform(-0.3, 0.3, n)
    groups = rng.integers(0, 8, n)
    c = calibrate_interval(x[:, None], y, groups, fit_predict, level=0.9)
    assert c.bin_edges == BIN_EDGES and sum(c.counts) == n
    filled = [q for q, k in zip(c.offsets, c.counts, strict=True) if k >= 50]
    np.testing.assert_allclose(filled, 0.17, atol=0.01)
    x2 = rng.uniform(0.3, 0.7, n)
    y2 = x2 + rng.uniform(-0.3, 0.3, n)
    lower, upper = c.apply(x2, x2 - 0.1, x2 + 0.1)
    assert ((lower <= y2) & (y2 <= upper)).mean() == pytest.approx(0.9, abs=0.01)
    # one patient: nothing to hold out
    assert calibrate_interval(x[:, None], y, np.zeros(n), fit_predict, level=0.9) is None


@pytest.mark.parametrize(
    "change",
    [
        {"bin_edges": [0.0, 0.6, 0.5, 1.0]},
        {"offsets": [0.1, 2.0, 0.0, 0.0, 0.0, 0.0]},
        {"offsets": [0.1]},
        {"level": 1.5},
        {"counts": None},
    ],
)
def test_a_bad_record_is_refused(change):
    record = IntervalCalibration(BIN_EDGES, (0.0,) * 6, (1,) * 6, 0.9).to_dict()
    with pytest.raises((ValueError, TypeError)):
        IntervalCalibration.from_dict({**record, **change})


@pytest.fixture(scope="module")
def specimens():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ht.CalibrationWarning)
        return as_specimens(simulate_cohort(3, seed=3, shape=(40, 48), n_bands=40))


def test_a_learned_model_carries_its_calibration_into_its_file(specimens, tmp_path):
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):  # the regressors' OpenMP threads crawl on a busy 2-core runner
        model = ht.train_fraction(specimens[:2], random_state=0, max_pixels=1500, progress=False)
    c = model.interval_calibration
    assert isinstance(c, IntervalCalibration) and c.level == 0.9
    assert sum(c.counts) == model.training["n_pixels"]
    path = ht.save_model(model, tmp_path / "f.htmodel")
    assert ht.load_model(path).interval_calibration == c
    # the map's interval is the calibrated one
    test = specimens[2]
    result = ht.estimate_fraction(test.cube, model, mask=test.tissue, progress=False)
    ok = result.valid
    # the raw quantiles, recomputed through the model's own regressors
    valid, ref = reference_and_valid(test.cube, test.tissue, None)
    scores = score_image(test.cube, valid, ref, model.estimators["pca"], None)
    feats = learned_features(scores, valid, model.context_sigma)[ok]
    f = np.clip(model.estimators["fraction"].predict(feats), 0, 1)
    lo = np.clip(model.estimators["lower"].predict(feats), 0, 1)
    hi = np.clip(model.estimators["upper"].predict(feats), 0, 1)
    lower, upper = c.apply(f, lo, hi)
    np.testing.assert_allclose(result.lower[ok], lower, atol=1e-6)
    np.testing.assert_allclose(result.upper[ok], upper, atol=1e-6)
    # a damaged calibration in the file is refused (the file resealed, as anyone can)
    damaged = {**c.to_dict(), "offsets": [5.0, *c.offsets[1:]]}
    bad = with_meta(path, tmp_path / "bad.htmodel", interval_calibration=damaged)
    with pytest.raises(ht.ModelFileError, match="interval_calibration"):
        ht.load_model(bad)


def test_unmixing_has_no_interval_calibration(specimens):
    model = ht.train_fraction(specimens[:2], method="unmixing", random_state=0, progress=False)
    assert model.interval_calibration is None
