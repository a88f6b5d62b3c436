"""Chromophore spectra: band positions and strengths against the published values."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.signal import argrelmax

from hsi_tumor import InvalidOptionError, WavelengthError
from hsi_tumor.datasets import (
    BANDS,
    absorption,
    band_averaged_absorption,
    chromophore_absorption,
)

WL = np.arange(900.0, 2501.0, 1.0)


@pytest.mark.parametrize(("name", "band"), [(n, b) for n, bs in BANDS.items() for b in bs])
def test_band_maxima_at_published_positions(name, band):
    spectrum = chromophore_absorption(name, WL)
    peaks = WL[argrelmax(spectrum)[0]]
    assert np.min(np.abs(peaks - band)) <= 15


@pytest.mark.parametrize(
    ("wavelength", "published", "rtol"),
    # water μa (mm⁻¹), Hale & Querry 1973 / Kou et al. 1993
    [(970, 0.045, 0.15), (1190, 0.10, 0.2), (1450, 3.0, 0.15), (1930, 12.0, 0.15)],
)
def test_water_strengths(wavelength, published, rtol):
    assert chromophore_absorption("water", [wavelength])[0] == pytest.approx(published, rel=rtol)


def test_lipid_and_collagen_strengths():
    lipid = chromophore_absorption("lipid", [1210, 1730])
    assert lipid[0] == pytest.approx(0.1, rel=0.3)  # van Veen 2005 / Nachabé 2010
    assert lipid[1] > 5 * lipid[0]  # first C–H overtone far stronger than the second
    collagen = chromophore_absorption("collagen", [1300, 1500, 2170])
    assert collagen[1] > 3 * collagen[0] and collagen[2] > collagen[1]


def test_water_dominates_the_1450_band_of_tissue():
    mua = absorption([1300, 1450], water=0.75, lipid=0.05, collagen=0.1)
    assert mua[1] / mua[0] > 10


def test_absorption_broadcasts_over_pixels():
    water = np.full((4, 5), 0.7)
    out = absorption([1000, 1200, 1400], water=water, lipid=0.1, collagen=0.1)
    assert out.shape == (4, 5, 3)
    expected = (
        0.7 * chromophore_absorption("water", [1200])[0]
        + 0.1 * chromophore_absorption("lipid", [1200])[0]
        + 0.1 * chromophore_absorption("collagen", [1200])[0]
        + 0.002
    )
    assert out[2, 3, 1] == pytest.approx(expected)


def test_band_average_smooths_but_keeps_level():
    wl = np.linspace(900, 1700, 40)
    sharp = chromophore_absorption("water", wl)
    smooth = band_averaged_absorption("water", wl)
    assert np.allclose(smooth, sharp, rtol=0.25)
    assert smooth.max() < sharp.max()  # a band averages the peak with its flanks


def test_errors_name_field_and_fix():
    with pytest.raises(WavelengthError, match="900–2500 nm"):
        chromophore_absorption("water", [800, 900])
    with pytest.raises(InvalidOptionError, match="unknown chromophore 'blood'"):
        chromophore_absorption("blood", [1000])
