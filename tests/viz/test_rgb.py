"""Pseudo-RGB images."""

from __future__ import annotations

import matplotlib.image
import numpy as np
import pytest

import hsi_tumor as ht
from hsi_tumor.viz import default_rgb_wavelengths, save_rgb_png
from tests.conftest import shared_data_path


def test_stretch_is_percentile_based(rng):
    data = np.zeros((10, 10, 3))
    data[..., 0] = np.arange(100).reshape(10, 10)  # red ramp 0..99
    data[..., 1] = 5.0  # flat green
    data[0, 0, 2] = np.nan
    rgb = ht.pseudo_rgb(ht.Cube(data, [700, 800, 900]), (700, 800, 900), percentiles=(0, 100))
    np.testing.assert_allclose(rgb[..., 0].ravel(), np.arange(100) / 99, atol=1e-6)
    assert np.all(rgb[..., 1] == 0) and rgb[0, 0, 2] == 0
    assert rgb.dtype == np.float32


def test_defaults(rng):
    nir = ht.Cube(rng.random((2, 2, 7)), np.linspace(900, 1700, 7))
    assert default_rgb_wavelengths(nir) == (
        pytest.approx(1567, abs=1),
        1300.0,
        pytest.approx(1033, abs=1),
    )
    vis = ht.Cube(rng.random((2, 2, 5)), [400, 500, 600, 700, 800])
    assert default_rgb_wavelengths(vis) == (640.0, 550.0, 460.0)
    flagged = ht.Cube(
        rng.random((2, 2, 5)), [400, 500, 600, 700, 800], {"default_bands": [4, 0, 1]}
    )
    assert default_rgb_wavelengths(flagged) == (800.0, 400.0, 500.0)


def test_save_png(tmp_path, rng):
    image = rng.random((5, 6, 3))
    path = save_rgb_png(image, tmp_path / "sub" / "rgb.png")
    back = matplotlib.image.imread(path)
    assert back.shape[:2] == (5, 6)
    np.testing.assert_allclose(back[..., :3], image, atol=1 / 255)


def test_real_indian_pines_true_colour():
    folder = shared_data_path("indian-pines")
    cube = ht.read_cube(
        folder / "Indian_pines_corrected.npy",
        wavelengths=folder / "Indian_pines_corrected_bands.csv",
    )
    rgb = ht.pseudo_rgb(cube)
    assert rgb.shape == (145, 145, 3)
    assert 0.3 < rgb.mean() < 0.7  # stretched into the display range
