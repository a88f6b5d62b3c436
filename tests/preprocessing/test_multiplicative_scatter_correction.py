from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.utils._param_validation import InvalidParameterError

from hsi_tumor._shared.errors import WavelengthError
from hsi_tumor.preprocessing import DegenerateSpectrumWarning, MultiplicativeScatterCorrection


@pytest.fixture
def reference(rng):
    bands = np.linspace(0, 1, 120)
    return 0.4 + 0.3 * np.exp(-((bands - 0.4) ** 2) / 0.01) + 0.05 * rng.standard_normal(120)


def test_affine_copies_of_the_reference_map_back_to_it(kernel_path, reference, rng):
    offsets = rng.uniform(-1, 1, size=(50, 1))
    slopes = rng.uniform(0.2, 5, size=(50, 1))
    X = offsets + slopes * reference
    result = MultiplicativeScatterCorrection(reference=reference).fit_transform(X)
    assert_allclose(result, np.broadcast_to(reference, X.shape), rtol=1e-12, atol=1e-12)
    # With the learned mean reference (itself an affine copy), every row maps to that mean.
    msc = MultiplicativeScatterCorrection().fit(X)
    assert_allclose(msc.reference_, X.mean(axis=0))
    assert_allclose(msc.transform(X), np.broadcast_to(msc.reference_, X.shape), atol=1e-12)


def test_matches_per_row_least_squares_on_real_spectra(kernel_path, coffee_spectra):
    # Independent reference: np.polyfit of every spectrum on the mean spectrum, one at a time.
    reference = coffee_spectra.mean(axis=0)
    expected = np.empty_like(coffee_spectra)
    for i, spectrum in enumerate(coffee_spectra):
        slope, offset = np.polyfit(reference, spectrum, deg=1)
        expected[i] = (spectrum - offset) / slope
    msc = MultiplicativeScatterCorrection().fit(coffee_spectra)
    assert_allclose(msc.reference_, reference, rtol=1e-14)
    assert_allclose(msc.transform(coffee_spectra), expected, rtol=1e-9, atol=1e-12)


def test_single_spectrum_against_its_own_mean_is_identity(kernel_path, coffee_dir, coffee_spectrum):
    expected = np.loadtxt(coffee_dir / "reference_msc_mean.csv", delimiter=",")
    result = MultiplicativeScatterCorrection().fit_transform(coffee_spectrum[np.newaxis, :])
    assert_allclose(result[0], expected, rtol=1e-12)


def test_median_reference(coffee_spectra):
    msc = MultiplicativeScatterCorrection(reference="median").fit(coffee_spectra)
    assert_array_equal(msc.reference_, np.median(coffee_spectra, axis=0))


def test_reference_is_learned_from_training_data_only(reference, rng):
    X_train = rng.uniform(0.5, 2, size=(10, 1)) * reference
    X_test = 3 + 10 * reference[np.newaxis, :]
    msc = MultiplicativeScatterCorrection().fit(X_train)
    reference_before = msc.reference_.copy()
    msc.transform(X_test)
    assert_array_equal(msc.reference_, reference_before)


def test_float32_stays_float32(kernel_path, coffee_spectra):
    X32 = coffee_spectra.astype(np.float32)
    result = MultiplicativeScatterCorrection().fit_transform(X32)
    assert result.dtype == np.float32
    assert_allclose(
        result, MultiplicativeScatterCorrection().fit_transform(coffee_spectra), atol=1e-4
    )


def test_flat_and_uncorrelated_spectra_warn_and_give_zeros(kernel_path, reference):
    centred = reference - reference.mean()
    orthogonal = np.roll(centred, 7)
    orthogonal -= orthogonal.mean()
    orthogonal -= (orthogonal @ centred) / (centred @ centred) * centred  # corr(x, r) = 0
    X = np.vstack([2 * reference + 1, np.full(reference.size, 0.3), orthogonal])
    msc = MultiplicativeScatterCorrection(reference=reference).fit(X)
    with pytest.warns(DegenerateSpectrumWarning, match=r"2 of 3 spectra are flat or uncorrelated"):
        result = msc.transform(X)
    assert_allclose(result[0], reference)
    assert_array_equal(result[1:], 0)


def test_reference_with_wrong_length_names_the_parameter(reference):
    msc = MultiplicativeScatterCorrection(reference=reference[:-1])
    with pytest.raises(WavelengthError, match=r"field 'reference'.*119.*120 feature\(s\).*Fix"):
        msc.fit(np.ones((3, 120)) + reference)


def test_flat_reference_is_rejected():
    X = np.ones((4, 5))
    with pytest.raises(WavelengthError, match=r"reference spectrum is flat.*Fix"):
        MultiplicativeScatterCorrection().fit(X)
    with pytest.raises(WavelengthError, match="reference spectrum is flat"):
        MultiplicativeScatterCorrection(reference=np.full(5, 0.3)).fit(X + np.arange(5))


def test_bad_reference_option():
    with pytest.raises(InvalidParameterError, match="'reference' parameter"):
        MultiplicativeScatterCorrection(reference="average").fit(np.eye(3))


def test_needs_two_bands():
    with pytest.raises(ValueError, match=r"1 feature\(s\)"):
        MultiplicativeScatterCorrection().fit(np.ones((4, 1)))
