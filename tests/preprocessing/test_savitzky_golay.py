from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from scipy.signal import savgol_filter
from sklearn.utils._param_validation import InvalidParameterError

from hsi_tumor._shared.errors import WavelengthError
from hsi_tumor.preprocessing import SavitzkyGolay


def test_first_derivative_matches_chemotools_reference_in_the_interior(
    kernel_path, coffee_dir, coffee_spectrum
):
    # reference_sg_15_2.csv: window 15, polyorder 2, first derivative. Its first and last 7
    # points follow an edge rule that matches none of SciPy's modes, so only the interior
    # (points 7 ... 331) is compared; there it agrees to 5e-8 (stored digits).
    expected = np.loadtxt(coffee_dir / "reference_sg_15_2.csv", delimiter=",")
    sg = SavitzkyGolay(window_length=15, polyorder=2, deriv=1)
    result = sg.fit_transform(coffee_spectrum[np.newaxis, :])[0]
    assert_allclose(result[7:-7], expected[7:-7], rtol=0, atol=1e-7)


@pytest.mark.parametrize("mode", ["interp", "mirror", "constant", "nearest", "wrap"])
@pytest.mark.parametrize(
    ("window_length", "polyorder", "deriv", "delta"),
    [(5, 2, 0, 1.0), (11, 2, 0, 1.0), (15, 2, 1, 1.0), (21, 3, 2, 2.0), (7, 4, 1, 0.5)],
)
def test_matches_scipy_row_by_row(
    kernel_path, coffee_spectra, window_length, polyorder, deriv, delta, mode
):
    X = coffee_spectra[:8]
    expected = np.array(
        [savgol_filter(x, window_length, polyorder, deriv=deriv, delta=delta, mode=mode) for x in X]
    )
    sg = SavitzkyGolay(
        window_length=window_length, polyorder=polyorder, deriv=deriv, delta=delta, mode=mode
    )
    assert_allclose(sg.fit_transform(X), expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("mode", ["interp", "nearest"])
def test_polynomials_are_reproduced_exactly(kernel_path, mode):
    # Closed form, independent of SciPy: a least-squares polynomial fit of degree >= 2
    # reproduces a quadratic and its derivatives; in "interp" mode the edges too.
    t = np.arange(40.0)
    coefficients = np.array([[0.5, -0.2, 0.01], [3.0, 0.1, -0.002]])
    X = coefficients[:, [0]] + coefficients[:, [1]] * t + coefficients[:, [2]] * t**2
    derivatives = {
        0: X,
        1: (coefficients[:, [1]] + 2 * coefficients[:, [2]] * t) / 2.0,
        2: np.broadcast_to(2 * coefficients[:, [2]], X.shape) / 2.0**2,
    }
    inner = slice(None) if mode == "interp" else slice(4, -4)
    for deriv, expected in derivatives.items():
        sg = SavitzkyGolay(window_length=9, polyorder=3, deriv=deriv, delta=2.0, mode=mode)
        assert_allclose(sg.fit_transform(X)[:, inner], expected[:, inner], atol=1e-12)


def test_float32_stays_float32(kernel_path, coffee_spectra):
    sg = SavitzkyGolay(window_length=15, polyorder=2, deriv=1)
    result = sg.fit_transform(coffee_spectra.astype(np.float32))
    assert result.dtype == np.float32
    assert_allclose(result, sg.fit_transform(coffee_spectra), atol=1e-6)


def test_ints_become_float64(
    kernel_path,
):
    result = SavitzkyGolay(window_length=3, polyorder=1).fit_transform(np.arange(10).reshape(2, 5))
    assert result.dtype == np.float64
    assert_allclose(result, np.arange(10.0).reshape(2, 5), atol=1e-12)  # lines are kept


def test_does_not_modify_input(kernel_path, coffee_spectra):
    X = coffee_spectra[:3].copy()
    SavitzkyGolay().fit_transform(X)
    assert_array_equal(X, coffee_spectra[:3])


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"window_length": 10}, r"'window_length' parameter.*must be odd.*got 10.*Fix: use"),
        ({"window_length": 3, "polyorder": 3}, r"'polyorder' parameter.*less than window_length"),
        ({"polyorder": 1, "deriv": 2}, r"'deriv' parameter.*at most polyorder.*Fix: raise"),
        ({"window_length": 0}, r"'window_length' parameter.*range \[1, inf\)"),
        ({"polyorder": -1}, r"'polyorder' parameter"),
        ({"delta": 0.0}, r"'delta' parameter"),
        ({"mode": "reflect"}, r"'mode' parameter"),
    ],
)
def test_bad_parameters_raise_in_fit(params, message):
    sg = SavitzkyGolay(**params)  # __init__ validates nothing
    with pytest.raises(InvalidParameterError, match=message):
        sg.fit(np.ones((2, 30)))


def test_window_longer_than_the_spectrum():
    with pytest.raises(
        WavelengthError,
        match=r"field 'window_length': window_length=11 is longer than the spectra: X has 8 "
        r"feature\(s\).*Fix: use an odd window_length of at most 7",
    ):
        SavitzkyGolay().fit(np.ones((2, 8)))
    SavitzkyGolay(window_length=9).fit(np.ones((2, 9)))  # equal length is fine
