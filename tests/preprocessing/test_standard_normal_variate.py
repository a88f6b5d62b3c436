from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.exceptions import NotFittedError

from hsi_tumor.preprocessing import DegenerateSpectrumWarning, StandardNormalVariate


def test_matches_chemotools_reference(coffee_dir, coffee_spectrum):
    # reference_snv.csv is (x - mean) / std(ddof=1) to 5e-10 (10 significant digits are
    # stored); with ddof=0 it would differ by 5e-3, so this pins the ddof.
    expected = np.loadtxt(coffee_dir / "reference_snv.csv", delimiter=",")
    result = StandardNormalVariate().fit_transform(coffee_spectrum[np.newaxis, :])
    assert_allclose(result[0], expected, rtol=0, atol=1e-9)


def test_matches_numpy_closed_form_on_real_spectra(coffee_spectra):
    expected = (coffee_spectra - coffee_spectra.mean(axis=1, keepdims=True)) / coffee_spectra.std(
        axis=1, ddof=1, keepdims=True
    )
    result = StandardNormalVariate().fit_transform(coffee_spectra)
    assert_allclose(result, expected, rtol=1e-12, atol=1e-12)
    assert_allclose(result.mean(axis=1), 0, atol=1e-12)
    assert_allclose(result.std(axis=1, ddof=1), 1, rtol=1e-12)


def test_removes_offset_and_positive_scale(coffee_spectra):
    snv = StandardNormalVariate().fit(coffee_spectra)
    assert_allclose(snv.transform(0.3 + 2.5 * coffee_spectra), snv.transform(coffee_spectra))


def test_float32_stays_float32_and_ints_become_float64(coffee_spectra):
    X32 = coffee_spectra.astype(np.float32)
    result = StandardNormalVariate().fit_transform(X32)
    assert result.dtype == np.float32
    assert_allclose(result, StandardNormalVariate().fit_transform(coffee_spectra), atol=1e-4)
    ints = np.array([[1, 2, 4], [3, 3, 9]], dtype=np.int16)
    assert StandardNormalVariate().fit_transform(ints).dtype == np.float64


@pytest.mark.parametrize(
    ("flat_value", "n_bands", "rounding_residue"),
    [(0.0, 200, False), (1e6, 200, False), (0.3, 200, True), (0.7, 339, True)],
)
def test_flat_spectrum_warns_and_gives_zeros(flat_value, n_bands, rounding_residue):
    X = np.vstack(
        [np.linspace(0, 1, n_bands), np.full(n_bands, flat_value), np.linspace(2, 0, n_bands)]
    )
    # For 0.3 and 0.7 the computed mean is off by rounding and the deviations do not vanish;
    # without the rounding tolerance that row would become noise of order 1, not zeros.
    assert (np.var(X[1]) > 0) == rounding_residue
    with pytest.warns(DegenerateSpectrumWarning, match=r"1 of 3 spectra are flat"):
        result = StandardNormalVariate().fit_transform(X)
    assert_array_equal(result[1], 0)
    assert np.all(np.isfinite(result))
    assert_allclose(result[[0, 2]], StandardNormalVariate().fit_transform(X[[0, 2]]))


def test_needs_two_bands():
    with pytest.raises(ValueError, match=r"1 feature\(s\)"):
        StandardNormalVariate().fit(np.ones((4, 1)))


def test_transform_checks_band_count_and_fit():
    with pytest.raises(NotFittedError):
        StandardNormalVariate().transform(np.ones((2, 3)))
    snv = StandardNormalVariate().fit(np.arange(6.0).reshape(2, 3))
    with pytest.raises(ValueError, match="X has 4 features"):
        snv.transform(np.ones((2, 4)))


def test_rejects_nan():
    with pytest.raises(ValueError, match="NaN"):
        StandardNormalVariate().fit_transform(np.array([[1.0, np.nan, 2.0]]))
