"""transform_cube: equals the transformer on all pixels (rounded to float32, to the bit), keeps
wavelengths right, skips invalid pixels."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest
from sklearn.decomposition import PCA
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import hsi_tumor as ht
from hsi_tumor.preprocessing import SavitzkyGolay, StandardNormalVariate, WavelengthRange
from tests.conftest import shared_data_path

WL = np.linspace(950.0, 1650.0, 15)


@pytest.fixture
def cube(rng):
    return ht.Cube(rng.random((23, 17, 15)).astype(np.float32) + 0.1, WL, {"fwhm": np.ones(15)})


@pytest.mark.parametrize("n_jobs", [1, 2])
@pytest.mark.parametrize("tile_rows", [None, 1, 5])
def test_equals_transform_of_all_pixels(cube, tile_rows, n_jobs):
    pipe = make_pipeline(
        StandardNormalVariate(),
        SavitzkyGolay(window_length=5, polyorder=2),
        PCA(n_components=4, random_state=0),
    ).fit(cube.pixels())
    out = ht.transform_cube(cube, pipe, tile_rows=tile_rows, n_jobs=n_jobs)
    # scikit-learn's own transform of each tile's pixels, to the bit
    step = tile_rows or 23
    per_tile = [pipe.transform(cube.data[r : r + step].reshape(-1, 15)) for r in range(0, 23, step)]
    np.testing.assert_array_equal(out.data.reshape(-1, 4), np.vstack(per_tile))
    # and of the whole cube up to float32 rounding of the product: scikit-learn's float32
    # PCA scores depend on how many rows BLAS gets at once (a few ulps)
    expected = pipe.transform(cube.pixels()).reshape(23, 17, 4)
    if tile_rows is None:
        np.testing.assert_array_equal(out.data, expected)
    np.testing.assert_allclose(out.data, expected, rtol=0, atol=8 * np.finfo(np.float32).eps)
    assert out.dtype == np.float32 and out.wavelengths is None and out.valid is None
    assert "fwhm" not in out.metadata


@pytest.mark.parametrize("whiten", [False, True])
def test_float64_tail_is_fused_and_exact(cube, whiten):
    """PCA fitted on float64 spectra: scikit-learn answers in float64, so the affine tail
    (PCA → StandardScaler) is fused into one float64 product: equal after rounding to float32."""
    pixels = cube.pixels()
    snv = StandardNormalVariate().fit(pixels)
    features = snv.transform(pixels).astype(np.float64)
    pca = PCA(n_components=5, whiten=whiten, random_state=0).fit(features)
    pipe = make_pipeline(snv, pca, StandardScaler().fit(pca.transform(features)))
    out = ht.transform_cube(cube, pipe, tile_rows=4)
    expected = pipe.transform(pixels)
    assert expected.dtype == np.float64
    np.testing.assert_array_max_ulp(out.data.reshape(-1, 5), expected.astype(np.float32), 1)
    np.testing.assert_allclose(out.data.reshape(-1, 5), expected, rtol=1e-7, atol=1e-7)


def test_wavelengths_kept_or_selected(cube):
    snv = StandardNormalVariate().fit(cube.pixels())
    kept = ht.transform_cube(cube, snv)
    np.testing.assert_array_equal(kept.wavelengths, WL)
    assert kept.metadata["fwhm"].size == 15
    sel = WavelengthRange(wavelengths=WL, min_nm=1100, max_nm=1400).fit(cube.pixels())
    part = ht.transform_cube(cube, make_pipeline(sel, StandardScaler()).fit(cube.pixels()))
    np.testing.assert_array_equal(part.wavelengths, WL[(WL >= 1100) & (WL <= 1400)])
    assert "fwhm" not in part.metadata
    assert part.sel(wavelengths=(1100, 1200)).n_bands >= 1


def test_invalid_pixels_are_reported_not_guessed(cube):
    data = cube.data.copy()
    data[3, 4, 2] = np.nan
    valid = np.ones((23, 17), bool)
    valid[10, 10] = False
    bad = ht.Cube(data, WL, valid=valid)
    snv = StandardNormalVariate().fit(cube.pixels())
    out = ht.transform_cube(bad, snv)
    assert np.isnan(out.data[3, 4]).all() and np.isnan(out.data[10, 10]).all()
    assert not out.valid[3, 4] and not out.valid[10, 10] and out.valid.sum() == 23 * 17 - 2
    np.testing.assert_allclose(out.data[0, 0], snv.transform(data[0, 0][None])[0], rtol=1e-6)


@pytest.mark.parametrize("n_jobs", [1, 2])
def test_tiles_without_a_valid_pixel_are_nan(cube, n_jobs):
    # The output is allocated empty: rows no tile writes (all pixels invalid) must be NaN too.
    data = cube.data.copy()
    data[0:4] = np.nan  # the first two tiles of 2 rows
    data[9, :, 3] = np.inf  # a whole row in the middle tile
    data[15, 2] = np.nan
    snv = StandardNormalVariate().fit(cube.pixels())
    out = ht.transform_cube(ht.Cube(data, WL), snv, tile_rows=2, n_jobs=n_jobs)
    invalid = ~np.isfinite(data).all(axis=2)
    np.testing.assert_array_equal(out.valid, ~invalid)
    assert np.isnan(out.data[invalid]).all()
    expected = snv.transform(data[~invalid])
    np.testing.assert_array_equal(out.data[~invalid], expected)


def test_calibrated_cube_streams_through(rng):
    raw = rng.integers(300, 3000, (40, 12, 15)).astype(np.uint16)
    raw[5, 5, 7] = 65535  # saturated: invalid pixel
    white, dark = np.full(15, 4000.0), np.full(15, 100.0)
    with pytest.warns(ht.CalibrationWarning):
        refl = ht.calibrate(ht.Cube(raw, WL), white, dark)
    snv = StandardNormalVariate().fit(refl.load().pixels()[:10])
    out = ht.transform_cube(refl, snv)
    assert not out.valid[5, 5] and out.valid.sum() == 40 * 12 - 1
    expected = snv.transform(((raw[0] - 100.0) / 3900.0).astype(np.float32))
    np.testing.assert_allclose(out.data[0], expected, rtol=1e-5, atol=1e-6)


def test_errors(cube):
    snv = StandardNormalVariate().fit(cube.pixels()[:, :10])
    with pytest.raises(ht.WavelengthError, match="fitted on 10 bands, the cube has 15"):
        ht.transform_cube(cube, snv)
    empty = ht.Cube(np.full((2, 2, 15), np.nan, np.float32), WL)
    with pytest.raises(ht.NoValidPixelsError, match="no valid pixel"):
        ht.transform_cube(empty, StandardNormalVariate().fit(cube.pixels()))


def test_real_indian_pines_chain_tile_by_tile_in_bounded_memory():
    folder = shared_data_path("indian-pines")
    cube = ht.read_cube(
        folder / "Indian_pines_corrected.npy",
        wavelengths=folder / "Indian_pines_corrected_bands.csv",
    )
    sample = cube.load().pixels()[::7].astype(np.float32)
    pipe = make_pipeline(
        StandardNormalVariate(),
        SavitzkyGolay(window_length=7, polyorder=2),
        PCA(n_components=10, random_state=0),
    ).fit(sample)

    def peak_of(fn):
        tracemalloc.start()
        try:
            result = fn()
            return result, tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    out, peak = peak_of(lambda: ht.transform_cube(cube, pipe, tile_rows=8))
    whole, whole_peak = peak_of(lambda: pipe.transform(cube.load().pixels()))
    np.testing.assert_array_equal(out.data, whole.reshape(145, 145, 10).astype(np.float32))
    # tiles of 8 rows instead of the whole cube and its float64 intermediates
    assert peak < whole_peak / 5, f"{peak / 2**20:.1f} MiB vs {whole_peak / 2**20:.1f} MiB"


def test_dask_cube_streams_in_whole_chunks(cube):
    da = pytest.importorskip("dask.array")
    lazy = ht.Cube(da.from_array(cube.data, chunks=(4, -1, -1)), WL)
    pipe = make_pipeline(StandardNormalVariate(), PCA(n_components=3, random_state=0))
    pipe.fit(cube.pixels())
    out = ht.transform_cube(lazy, pipe, n_jobs=2)
    np.testing.assert_array_equal(out.data, ht.transform_cube(cube, pipe).data)
