"""principal_component_guide against scikit-learn's PCA on the same pixels (sign-insensitive)."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.decomposition import PCA

import hsi_tumor as ht
from hsi_tumor.spatial import principal_component_guide


def sklearn_guide(data, valid):
    out = np.full(data.shape[:2], np.nan)
    out[valid] = PCA(n_components=1, svd_solver="full").fit_transform(data[valid])[:, 0]
    return out


def assert_same_up_to_sign(guide, expected, rtol=1e-7):
    np.testing.assert_array_equal(np.isnan(guide), np.isnan(expected))
    ok = ~np.isnan(expected)
    sign = np.sign(np.dot(guide[ok], expected[ok]))
    scale = np.abs(expected[ok]).max()
    np.testing.assert_allclose(sign * guide[ok], expected[ok], rtol=0, atol=rtol * scale)


def spectra(rng, rows=30, cols=20, bands=12, offset=0.0):
    base = rng.normal(size=(rows, cols, 3)) * [5.0, 2.0, 0.5]
    loadings = rng.normal(size=(3, bands))
    return offset + base @ loadings + rng.normal(0, 0.1, (rows, cols, bands))


def test_matches_sklearn_pca(rng):
    data = spectra(rng)
    guide = principal_component_guide(data)
    assert guide.dtype == np.float64 and guide.shape == (30, 20)
    assert_same_up_to_sign(guide, sklearn_guide(data, np.ones((30, 20), bool)))
    # the sign: the largest-magnitude loading of the component is positive
    centred = data.reshape(-1, 12) - data.reshape(-1, 12).mean(axis=0)
    loading = np.linalg.lstsq(guide.reshape(-1, 1), centred, rcond=None)[0][0]
    assert loading[np.argmax(np.abs(loading))] > 0


def test_tiles_mask_and_invalid_pixels(rng):
    data = spectra(rng)
    data[3, 4, 7] = np.nan
    valid = np.ones(data.shape, bool)
    valid[10, :5, 2] = False  # per pixel-band validity: the whole pixel is left out
    mask = rng.random(data.shape[:2]) > 0.2
    cube = ht.Cube(data.astype(np.float32), np.arange(12) * 50.0 + 1000, valid=valid)
    keep = mask & np.isfinite(data).all(axis=2) & valid.all(axis=2)
    expected = sklearn_guide(data.astype(np.float32).astype(np.float64), keep)
    for tile_rows in (None, 1, 7):
        guide = principal_component_guide(cube, mask=mask, tile_rows=tile_rows)
        assert_same_up_to_sign(guide, expected, rtol=1e-6)


def test_memory_mapped_cube(rng, tmp_path):
    data = spectra(rng).astype(np.float32)
    mapped = np.lib.format.open_memmap(tmp_path / "cube.npy", "w+", np.float32, data.shape)
    mapped[:] = data
    mapped.flush()
    cube = ht.Cube(np.load(tmp_path / "cube.npy", mmap_mode="r"), None)
    guide = principal_component_guide(cube, tile_rows=4)
    assert_same_up_to_sign(guide, sklearn_guide(data.astype(np.float64), np.ones((30, 20), bool)))


def test_large_offset_does_not_cancel(rng):
    # raw-count-like spectra: a large common level, small variations around it
    data = spectra(rng, offset=1e8)
    expected = sklearn_guide(data, np.ones(data.shape[:2], bool))
    assert_same_up_to_sign(principal_component_guide(data, tile_rows=3), expected, rtol=1e-6)


def test_errors(rng):
    with pytest.raises(ht.CubeFormatError, match="rows, cols, bands"):
        principal_component_guide(np.ones((4, 5)))
    with pytest.raises(ht.NoValidPixelsError, match="at least two"):
        principal_component_guide(np.full((3, 3, 4), np.nan))
    with pytest.raises(ht.InvalidOptionError, match="shape") as info:
        principal_component_guide(spectra(rng), mask=np.ones((3, 3), bool))
    assert info.value.field == "mask"
    with pytest.raises(ht.NoValidPixelsError, match="no pixel"):
        principal_component_guide(spectra(rng), mask=np.zeros((30, 20), bool))
