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


def test_pixels_invalid_in_any_band_are_excluded(rng):
    """Issue 17: a pixel with one invalid band (a dead column-band) stayed in the mask, and
    ``pixels()[mask]`` held NaN that scikit-learn refuses; classify_cube cannot classify it."""
    cube, expected, _, _ = synthetic_scene(rng)
    valid = np.ones(cube.shape, bool)
    valid[:, 40, 7] = False  # a dead column in one band, flagged
    data = cube.data.copy()
    data[20, 30, 3] = np.nan  # one NaN pixel-band, unflagged
    mask = tissue_mask(ht.Cube(data, cube.wavelengths, valid=valid))
    assert expected[20, 30] and expected[30, 40]
    assert not mask[:, 40].any() and not mask[20, 30]
    assert mask[30, 39] and mask[30, 41] and mask[20, 31]
    assert (mask == (expected & (np.arange(80) != 40))).mean() > 0.99


def test_simulated_capture_mask_holds_only_classifiable_pixels(tmp_path):
    """The README's quick start: fit scikit-learn on ``pixels()[tissue.ravel()]`` of the
    library's own simulated capture (616 NaN pixels in the mask before issue 17)."""
    from sklearn.decomposition import PCA

    from hsi_tumor.datasets import simulate_specimen

    specimen = simulate_specimen(seed=0, shape=(96, 128), n_bands=48)
    specimen.write_capture(tmp_path / "specimen_07")
    with pytest.warns(ht.CalibrationWarning):
        reflectance = ht.calibrate_capture(tmp_path / "specimen_07")
    dead = ~np.asarray(reflectance.valid).all(axis=2)
    tissue = tissue_mask(reflectance)
    assert (dead & specimen.tissue).sum() > 50  # the capture has dead column-bands in tissue
    assert not (tissue & dead).any()
    assert (tissue == (specimen.tissue & ~dead)).mean() > 0.97
    pixels = reflectance.load().pixels()[tissue.ravel()]
    assert np.isfinite(pixels).all()
    PCA(n_components=5).fit(pixels)  # raised "Input X contains NaN"
    model = ht.TumorModel.from_pipeline(
        _fitted_lda(reflectance, specimen.true_labels), wavelengths=reflectance.wavelengths
    )
    result = ht.classify_cube(reflectance, model, mask=tissue)
    assert result.n_invalid == 0  # the same pixels as classify_cube can classify
    np.testing.assert_array_equal(result.valid, tissue)


def _fitted_lda(cube, labels):
    from sklearn.discriminant_analysis import LinearDiscriminantAnalysis

    pixels, y = cube.load().pixels(), labels.ravel()
    ok = np.isfinite(pixels).all(axis=1) & (y > 0)
    return LinearDiscriminantAnalysis().fit(pixels[ok], y[ok])


def test_a_band_invalid_in_most_of_the_specimen_is_named(rng, caplog):
    cube, _, _, _ = synthetic_scene(rng)
    valid = np.ones(cube.shape, bool)
    valid[:, :, 0] = False  # a band whose references failed everywhere
    with caplog.at_level("WARNING", logger="hsi_tumor.calibration"):
        mask = tissue_mask(ht.Cube(cube.data, cube.wavelengths, valid=valid))
    assert not mask.any()
    assert "1000 nm" in caplog.text and "cube.sel(wavelengths=" in caplog.text


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
