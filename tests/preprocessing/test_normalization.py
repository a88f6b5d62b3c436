from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.preprocessing import normalize

from hsi_tumor.preprocessing import (
    AreaNormalization,
    DegenerateSpectrumWarning,
    MinMaxNormalization,
    VectorNormalization,
)


def test_area_closed_form(coffee_spectra):
    result = AreaNormalization().fit_transform(coffee_spectra)
    assert_allclose(result, coffee_spectra / np.abs(coffee_spectra).sum(axis=1, keepdims=True))
    if np.all(coffee_spectra >= 0):
        assert_allclose(result.sum(axis=1), 1)


def test_area_uses_absolute_values():
    derivative_like = np.array([[1.0, -1.0, 2.0, -2.0]])  # plain sum 0
    assert_allclose(AreaNormalization().fit_transform(derivative_like), derivative_like / 6)


def test_vector_matches_scikit_learn_and_numpy(coffee_spectra, rng):
    X = np.vstack([coffee_spectra, rng.standard_normal((5, coffee_spectra.shape[1]))])
    result = VectorNormalization().fit_transform(X)
    assert_allclose(result, normalize(X, norm="l2"), rtol=1e-12)
    assert_allclose(result, X / np.linalg.norm(X, axis=1, keepdims=True), rtol=1e-12)
    assert_allclose(np.linalg.norm(result, axis=1), 1)


def test_min_max_closed_form(coffee_spectra):
    result = MinMaxNormalization().fit_transform(coffee_spectra)
    low = coffee_spectra.min(axis=1, keepdims=True)
    high = coffee_spectra.max(axis=1, keepdims=True)
    assert_allclose(result, (coffee_spectra - low) / (high - low))
    assert_array_equal(result.min(axis=1), 0)
    assert_allclose(result.max(axis=1), 1)


@pytest.mark.parametrize(
    ("transformer", "degenerate_row", "message"),
    [
        (AreaNormalization(), [0.0, 0.0, 0.0], "have area 0"),
        (VectorNormalization(), [0.0, 0.0, 0.0], "have Euclidean length 0"),
        (MinMaxNormalization(), [0.3, 0.3, 0.3], r"have range \(maximum - minimum\) 0"),
    ],
)
def test_degenerate_rows_warn_and_give_zeros(transformer, degenerate_row, message):
    X = np.array([[1.0, 2.0, 3.0], degenerate_row, [3.0, 0.5, 1.0]])
    with pytest.warns(DegenerateSpectrumWarning, match=rf"1 of 3 spectra {message}.*Fix"):
        result = transformer.fit_transform(X)
    assert_array_equal(result[1], 0)
    assert_allclose(result[[0, 2]], transformer.fit_transform(X[[0, 2]]))


@pytest.mark.parametrize(
    "transformer", [AreaNormalization(), VectorNormalization(), MinMaxNormalization()]
)
def test_float32_stays_float32_and_scale_is_removed(transformer, coffee_spectra):
    X32 = coffee_spectra.astype(np.float32)
    result = transformer.fit_transform(X32)
    assert result.dtype == np.float32
    assert_allclose(result, transformer.fit_transform(coffee_spectra), rtol=1e-4, atol=1e-6)
    assert_allclose(transformer.transform(7.5 * coffee_spectra), result, rtol=1e-4, atol=1e-6)
