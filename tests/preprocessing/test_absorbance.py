from __future__ import annotations

import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.utils._param_validation import InvalidParameterError

from hsi_tumor.preprocessing import Absorbance, DegenerateSpectrumWarning


def test_closed_form(rng):
    A = rng.uniform(0, 3, size=(20, 50))
    R = 10.0**-A
    absorbance = Absorbance().fit(R)
    assert_allclose(absorbance.transform(R), A, rtol=1e-12, atol=1e-14)
    assert_allclose(absorbance.inverse_transform(A), R, rtol=1e-12)


def test_full_reflectance_is_positive_zero():
    A = Absorbance().fit_transform(np.ones((1, 3)))
    assert_array_equal(A, 0)
    assert not np.signbit(A).any()


def test_round_trip_on_real_absorbance_spectra(gasoline):
    # The gasoline spectra are stored as log(1/R): back to reflectance and forth again.
    spectra, _, _ = gasoline
    absorbance = Absorbance().fit(spectra)
    R = absorbance.inverse_transform(spectra)
    assert_allclose([R.min(), R.max()], 10.0 ** -np.array([spectra.max(), spectra.min()]))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing is clipped
        assert_allclose(absorbance.transform(R), spectra, rtol=1e-12, atol=1e-14)


def test_clipping_warns_once_with_the_count():
    R = np.array([[0.5, 0.0, -0.1], [2e-7, 0.1, 1.0]])
    absorbance = Absorbance().fit(R)
    with pytest.warns(DegenerateSpectrumWarning) as record:
        A = absorbance.transform(R)
    assert len(record) == 1
    message = str(record[0].message)
    assert (
        "3 of 6 reflectance values were below floor=1e-06 (2 of them zero or negative)" in message
    )
    assert "Fix:" in message
    assert_allclose(A, -np.log10([[0.5, 1e-6, 1e-6], [1e-6, 0.1, 1.0]]))


def test_floor_parameter():
    with pytest.warns(DegenerateSpectrumWarning, match="2 of 3 .* below floor=0.001"):
        A = Absorbance(floor=1e-3).fit_transform(np.array([[0.0, 1e-4, 0.01]]))
    assert_allclose(A, [[3.0, 3.0, 2.0]])
    for floor in (0.0, -1.0):
        with pytest.raises(InvalidParameterError, match="'floor' parameter of Absorbance"):
            Absorbance(floor=floor).fit(np.ones((1, 2)))


def test_float32_stays_float32_both_ways(rng):
    R = rng.uniform(0.01, 1, size=(5, 7)).astype(np.float32)
    absorbance = Absorbance().fit(R)
    A = absorbance.transform(R)
    assert A.dtype == np.float32
    back = absorbance.inverse_transform(A)
    assert back.dtype == np.float32
    assert_allclose(back, R, rtol=1e-5)
    with pytest.warns(DegenerateSpectrumWarning):  # float32 floor, still clipped at 1e-6
        assert_allclose(absorbance.transform(np.zeros((1, 7), np.float32)), 6.0, rtol=1e-6)


def test_tiny_floor_never_gives_infinity():
    R = np.zeros((1, 2), dtype=np.float32)
    with pytest.warns(DegenerateSpectrumWarning):
        A = Absorbance(floor=1e-50).fit_transform(R)
    assert A.dtype == np.float32
    assert np.all(np.isfinite(A))
