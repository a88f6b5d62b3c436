"""Tissue masking: Otsu against closed forms, background, glare and the water-band ratio."""

from __future__ import annotations

import numpy as np
import pytest

import hsi_tumor as ht
from hsi_tumor.calibration import otsu_threshold, tissue_mask


def test_otsu_two_clusters(rng):
    low, high = rng.normal(0.1, 0.01, 5000), rng.normal(0.6, 0.02, 3000)
    t = otsu_threshold(np.concatenate([low, high]))
    assert low.max() < t < high.min()
    # closed form: two equal point masses -> the cut lies between them
    assert 1.0 <= otsu_threshold(np.r_[np.ones(10), np.full(10, 3.0), np.nan]) < 3.0
    assert otsu_threshold(np.full(4, 2.0)) == 2.0
    with pytest.raises(ht.NoValidPixelsError, match="no finite value"):
        otsu_threshold([np.nan])


def synthetic_scene(rng):
    wl = np.linspace(1000, 1700, 36)
    water = np.exp(-0.5 * ((wl - 1450) / 50) ** 2)
    tissue = 0.55 * (1 - 0.7 * water)
    cube = np.empty((60, 80, wl.size), np.float32)
    cube[:] = 0.04 + rng.normal(0, 0.005, (60, 80, 1))  # dark background
    y, x = np.mgrid[:60, :80]
    inside = (y - 30) ** 2 / 20**2 + (x - 40) ** 2 / 30**2 < 1
    cube[inside] = tissue + rng.normal(0, 0.01, (inside.sum(), wl.size))
    glare = (y - 25) ** 2 + (x - 35) ** 2 < 9
    cube[glare] = 0.97  # flat and bright
    plastic = (y > 48) & (x > 66)
    cube[plastic] = 0.5  # bright but no water band (a marker, a tray edge)
    return ht.Cube(cube, wl), inside & ~glare, glare, plastic


def test_mask_finds_tissue_not_glare_or_plastic(rng):
    cube, expected, glare, plastic = synthetic_scene(rng)
    mask = tissue_mask(cube)
    assert not mask[glare].any() and not mask[plastic].any()
    agreement = (mask == expected).mean()
    assert agreement > 0.99
    no_ratio = tissue_mask(cube, water_ratio=None)
    assert no_ratio[plastic].all()  # without the water test the plastic passes as tissue


def test_invalid_pixels_are_excluded(rng):
    cube, _, _, _ = synthetic_scene(rng)
    valid = np.ones(cube.shape, bool)
    valid[30, 40, :] = False
    mask = tissue_mask(ht.Cube(cube.data, cube.wavelengths, valid=valid))
    assert not mask[30, 40] and mask[30, 41]


def test_bright_background(rng):
    cube, expected, _, _ = synthetic_scene(rng)
    data = np.where(expected[..., None], cube.data, 0.8 * np.ones_like(cube.data))
    mask = tissue_mask(ht.Cube(data, cube.wavelengths), background="bright", water_ratio=None)
    assert (mask == expected).mean() > 0.98
    with pytest.raises(ht.InvalidOptionError, match="background"):
        tissue_mask(cube, background="grey")


def test_simulated_specimen_mask_matches_ground_truth():
    from hsi_tumor.datasets import simulate_specimen

    specimen = simulate_specimen(seed=3, shape=(96, 128), n_bands=64)
    mask = tissue_mask(specimen.calibrate())
    truth = specimen.tissue
    assert (mask == truth).mean() > 0.97
