from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_array_equal
from sklearn.pipeline import make_pipeline
from sklearn.utils._param_validation import InvalidParameterError

from hsi_tumor._shared.errors import WavelengthError
from hsi_tumor.preprocessing import (
    WATER_ABSORPTION_RANGES,
    BadBandRemoval,
    StandardNormalVariate,
    WavelengthRange,
)
from tests.conftest import shared_data_path


def test_indian_pines_table_is_not_ascending_and_the_error_says_how_to_sort(indian_pines_bands):
    # AVIRIS has four spectrometers whose ranges overlap: the real band table goes back from
    # 696.50 nm (index 30) to 686.91 nm (index 31).
    centres = indian_pines_bands["center_nm"]
    with pytest.raises(
        WavelengthError,
        match=r"field 'wavelengths': wavelengths are not strictly ascending \(band 30: "
        r"696.5 nm, band 31: 686.91 nm\).*Fix: sort the bands",
    ):
        WavelengthRange(wavelengths=centres, min_nm=750).fit(np.zeros((1, centres.size)))


def test_indian_pines_nir_bands(indian_pines_bands):
    # README of the data set: 162 of the 200 bands are >= 750 nm.
    order = np.argsort(indian_pines_bands["center_nm"])
    centres = indian_pines_bands["center_nm"][order]
    crop = WavelengthRange(wavelengths=centres, min_nm=750).fit(np.zeros((1, 200)))
    assert crop.support_.sum() == 162
    assert_array_equal(crop.wavelengths_out_, centres[centres >= 750])
    names = crop.get_feature_names_out()
    assert names[0] == "754.38"
    assert names[-1] == "2489.11"
    assert names.dtype == object and len(names) == 162


def test_indian_pines_cube_pixels(indian_pines_bands):
    cube = np.load(shared_data_path("indian-pines", "Indian_pines_corrected.npy"))
    order = np.argsort(indian_pines_bands["center_nm"])
    pixels = cube.reshape(-1, cube.shape[-1])[:, order]
    crop = WavelengthRange(wavelengths=indian_pines_bands["center_nm"][order], min_nm=750)
    nir = crop.fit_transform(pixels)
    assert nir.dtype == np.float64  # uint16 counts become float64
    assert nir.shape == (145 * 145, 162)
    assert_array_equal(nir, pixels[:, -162:])
    assert nir[99 * 145 + 99, :].min() > 0


def test_default_bad_ranges_reproduce_the_indian_pines_water_band_removal(indian_pines_bands):
    # Independent reference: the 200-band Indian Pines cube is the 220-band AVIRIS image without
    # bands 104-108, 150-163 (water vapour) and 220 (detector edge). The default ranges plus
    # that edge drop exactly those bands from the 220 calibrated band centres.
    aviris = pytest.importorskip("spectral.io.aviris")
    path = shared_data_path("indian-pines", "92AV3C.spc")
    centres = np.asarray(aviris.read_aviris_bands(str(path)).centers)
    assert centres.size == 220
    order = np.argsort(centres)
    removal = BadBandRemoval(
        wavelengths=centres[order], bad_ranges=[*WATER_ABSORPTION_RANGES, (2495, 2505)]
    ).fit(np.zeros((1, 220)))
    removed_aviris_bands = np.sort(order[~removal.support_]) + 1
    expected = [*range(104, 109), *range(150, 164), 220]
    assert_array_equal(removed_aviris_bands, expected)
    np.testing.assert_allclose(
        removal.wavelengths_out_, np.sort(indian_pines_bands["center_nm"]), atol=0.006
    )


def test_range_limits_are_inclusive():
    wavelengths = np.array([900.0, 910.0, 920.0, 930.0])
    X = np.arange(8.0).reshape(2, 4)
    crop = WavelengthRange(wavelengths=wavelengths, min_nm=910, max_nm=930).fit(X)
    assert_array_equal(crop.transform(X), X[:, 1:])
    assert_array_equal(crop.support_, [False, True, True, True])
    assert_array_equal(crop.get_support(indices=True), [1, 2, 3])
    assert_array_equal(
        WavelengthRange(wavelengths=wavelengths, max_nm=905).fit_transform(X), X[:, :1]
    )
    assert_array_equal(WavelengthRange(wavelengths=wavelengths).fit_transform(X), X)


def test_bad_band_limits_are_inclusive_and_empty_ranges_drop_nothing():
    wavelengths = np.array([1355.0, 1360.0, 1405.0, 1410.0, 1815.0, 1935.0, 1940.0])
    X = np.arange(14.0).reshape(2, 7)
    removal = BadBandRemoval(wavelengths=wavelengths).fit(X)
    assert_array_equal(removal.wavelengths_out_, [1355.0, 1410.0, 1940.0])
    assert_array_equal(removal.transform(X), X[:, [0, 3, 6]])
    assert_array_equal(BadBandRemoval(wavelengths=wavelengths, bad_ranges=[]).fit_transform(X), X)


def test_feature_names_are_short_decimals_and_flow_through_a_pipeline():
    wavelengths = np.array([400.02, 1450.0, 1452.5, 2489.11], dtype=np.float32)
    pipeline = make_pipeline(
        WavelengthRange(wavelengths=wavelengths, min_nm=1000), StandardNormalVariate()
    ).fit(np.random.default_rng(0).random((3, 4)))
    assert_array_equal(pipeline.get_feature_names_out(), ["1450.0", "1452.5", "2489.11"])
    assert pipeline[0].wavelengths_out_.dtype == np.float32


def test_without_wavelengths_columns_stand_in_and_names_are_the_input_names():
    X = np.arange(12.0).reshape(2, 6)
    crop = WavelengthRange(min_nm=2, max_nm=3).fit(X)
    assert_array_equal(crop.transform(X), X[:, 2:4])
    assert_array_equal(crop.wavelengths_out_, [2.0, 3.0])
    assert_array_equal(crop.get_feature_names_out(), ["x2", "x3"])
    assert_array_equal(crop.get_feature_names_out([f"b{i}" for i in range(6)]), ["b2", "b3"])
    with pytest.raises(ValueError, match="input_features should have length equal"):
        crop.get_feature_names_out(["a", "b"])


def test_float32_stays_float32():
    X = np.ones((2, 3), dtype=np.float32)
    assert WavelengthRange(min_nm=1).fit_transform(X).dtype == np.float32
    assert BadBandRemoval().fit_transform(X).dtype == np.float32


@pytest.mark.parametrize("selector", [WavelengthRange, BadBandRemoval])
@pytest.mark.parametrize(
    ("wavelengths", "message"),
    [
        ([900.0, 910.0], r"2 wavelengths for 3 bands.*Fix: give exactly one"),
        ([[900.0, 910.0, 920.0]], r"wavelengths must be 1-D, got shape \(1, 3\)"),
        (
            [900.0, 920.0, 910.0],
            r"wavelengths are not strictly ascending \(band 1: 920 nm, band 2: 910 nm\)",
        ),
        ([900.0, 900.0, 910.0], r"wavelengths are not strictly ascending"),
        ([900.0, np.nan, 910.0], r"wavelengths contain NaN or inf"),
        (["a", "b", "c"], r"wavelengths are not numbers"),
    ],
)
def test_bad_wavelengths(selector, wavelengths, message):
    with pytest.raises(WavelengthError, match=rf"field 'wavelengths': {message}"):
        selector(wavelengths=wavelengths).fit(np.ones((2, 3)))


def test_empty_selection_names_the_limits_and_the_range_of_the_bands():
    with pytest.raises(
        WavelengthError,
        match=r"field 'min_nm/max_nm': the range min_nm=1800, max_nm=None keeps none of the 3 "
        r"feature\(s\) \(bands\) of X, which span 900–1100 nm. Fix: check",
    ):
        WavelengthRange(wavelengths=[900, 1000, 1100], min_nm=1800).fit(np.ones((2, 3)))
    with pytest.raises(WavelengthError, match=r"field 'bad_ranges': removing bad_ranges="):
        BadBandRemoval(wavelengths=[1360, 1400], bad_ranges=[(1300, 1500)]).fit(np.ones((2, 2)))


def test_bad_parameters():
    with pytest.raises(InvalidParameterError, match=r"'min_nm'.*must not exceed 'max_nm'.*swap"):
        WavelengthRange(min_nm=1000, max_nm=900).fit(np.ones((2, 3)))
    with pytest.raises(InvalidParameterError, match=r"'min_nm' parameter"):
        WavelengthRange(min_nm="900").fit(np.ones((2, 3)))
    for bad_ranges in ([(1400, 1350)], [1350, 1400], [(1, 2, 3)], [(np.nan, 2)], [("a", "b")]):
        with pytest.raises(InvalidParameterError, match=r"'bad_ranges' parameter.*low < high"):
            BadBandRemoval(bad_ranges=bad_ranges).fit(np.ones((2, 3)))
