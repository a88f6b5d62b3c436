"""Chromophore spectra against the published values they come from (issue 16).

Water is checked against the Segelstein (1981) reference table in ../shared/data (parsed here
on its own, not through the package); lipid against the published values of van Veen et al.
(2005) and Anderson et al. (2006); the hemoglobin of whole blood against Bosschaart et al.
(2014), the compilation it comes from, and against Prahl's independent molar extinction
table (Gratzer and Kollias) at 900–970 nm.
"""

from __future__ import annotations

from pathlib import Path

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
from hsi_tumor.datasets._chromophores import (
    BLOOD_WATER,
    COLLAGEN_ANCHORS,
    LIPID_ANCHORS,
    WHOLE_BLOOD_ANCHORS,
    blood_absorption,
    chromophore_table,
    water_table,
)
from hsi_tumor.datasets._parameters import SOURCES

WL = np.arange(900.0, 2501.0, 1.0)
REFERENCES = Path(__file__).resolve().parents[3] / "shared" / "data" / "optics-references"


def reference_water(name: str) -> tuple[np.ndarray, np.ndarray]:
    """(nm, μa mm⁻¹) of a refractiveindex.info YAML table: μa = 4πk/λ."""
    path = REFERENCES / name
    if not path.exists():
        pytest.skip(f"{path} is absent (the shared reference data is not on this machine)")
    rows = []
    block = path.read_text(encoding="utf-8").split("data: |", 1)[1]
    for line in block.splitlines()[1:]:
        parts = line.split()
        if len(parts) != 3:
            if rows:
                break
            continue
        rows.append([float(v) for v in parts])
    table = np.array(rows)
    return table[:, 0] * 1000.0, 4 * np.pi * table[:, 2] / (table[:, 0] * 1e-3)


@pytest.mark.parametrize(("low", "high", "tolerance"), [(900, 1700, 0.05), (1700, 2500, 0.10)])
def test_water_within_5_and_10_percent_of_segelstein_on_a_5nm_grid(low, high, tolerance):
    wl, mua = reference_water("water_segelstein1981.yml")
    grid = np.arange(low, high + 1, 5.0)
    reference = np.interp(grid, wl, mua)  # linear in μa: another interpolant than the package's
    error = np.abs(chromophore_absorption("water", grid) / reference - 1)
    assert error.max() < tolerance, grid[np.argmax(error)]


def test_the_vendored_water_table_is_segelstein_unchanged():
    wl, mua = reference_water("water_segelstein1981.yml")
    ours_wl, ours = water_table()
    keep = (wl >= ours_wl[0] - 1e-6) & (wl <= ours_wl[-1] + 1e-6)
    np.testing.assert_allclose(ours_wl, wl[keep], rtol=1e-12)
    np.testing.assert_allclose(ours, mua[keep], rtol=1e-12)


def test_water_agrees_with_the_coarse_hale_querry_table_within_20_percent():
    """Hale & Querry (1973), the other measured table, has a 25–200 nm grid in the NIR; at its
    points the two agree within 20 % (17–18 % at 1800 and 2200 nm) except at 1200 nm, where
    its one coarse point lies 18 % below the peak Segelstein resolves (the reason the old typed
    anchors were 16–24 % low there)."""
    wl, mua = reference_water("water_hale_querry1973.yml")
    inside = (wl >= 900) & (wl <= 2500) & (np.abs(wl - 1200) > 1)
    assert inside.sum() >= 10
    np.testing.assert_allclose(chromophore_absorption("water", wl[inside]), mua[inside], rtol=0.2)
    at_1200 = mua[np.argmin(np.abs(wl - 1200))]
    assert 1.1 < chromophore_absorption("water", [1200])[0] / at_1200 < 1.3


@pytest.mark.parametrize(
    ("nm", "published"),
    # water μa (mm⁻¹) at its maxima, Segelstein's table
    [(970, 0.0453), (1200, 0.1257), (1930, 12.4)],
)
def test_water_band_strengths(nm, published):
    assert chromophore_absorption("water", [nm])[0] == pytest.approx(published, rel=0.05)


@pytest.mark.parametrize(("name", "band"), [(n, b) for n, bs in BANDS.items() for b in bs])
def test_band_maxima_at_published_positions(name, band):
    spectrum = chromophore_absorption(name, WL)
    peaks = WL[argrelmax(spectrum)[0]]
    assert np.min(np.abs(peaks - band)) <= 15


@pytest.mark.parametrize(
    ("nm", "published_per_m", "rtol"),
    # van Veen et al. 2005 (omlc fat spectrum, m⁻¹): maxima, trough, flank
    [(930, 13.10, 0.01), (1040, 7.029, 0.01), (970, 1.528, 0.1), (880, 1.636, 0.01)],
)
def test_lipid_below_1100_nm_is_van_veen(nm, published_per_m, rtol):
    # 880 nm lies outside the simulator's range: read the table directly
    wl = np.array([r[0] for r in LIPID_ANCHORS])
    if nm < 900:
        value = LIPID_ANCHORS[int(np.flatnonzero(wl == nm)[0])][1]
    else:
        value = chromophore_absorption("lipid", [nm])[0]
    assert value == pytest.approx(published_per_m / 1000, rel=rtol)


def test_lipid_bands_above_1100_nm_are_anderson():
    # Anderson et al. 2006 via Hui et al. 2016, Table 1: 1.65 and 10.5 cm⁻¹
    lipid = chromophore_absorption("lipid", [1210, 1730])
    np.testing.assert_allclose(lipid, [0.165, 1.05], rtol=1e-9)


def test_every_value_names_its_source():
    for rows in (LIPID_ANCHORS, COLLAGEN_ANCHORS):
        assert all(source in SOURCES for _, _, source in rows)
    assert {s for *_, s in COLLAGEN_ANCHORS} == {"assumption"}  # no numeric source found
    table = chromophore_table()
    assert "Bosschaart et al. 2014" in table and "van Veen et al. 2005" in table


def test_whole_blood_is_bosschaarts_compilation():
    wl = np.array([r[0] for r in WHOLE_BLOOD_ANCHORS])
    parts = {n: chromophore_absorption(n, wl) for n in ("oxyhemoglobin", "deoxyhemoglobin")}
    water = chromophore_absorption("water", wl)
    oxy = blood_absorption(1.0, parts["oxyhemoglobin"], parts["deoxyhemoglobin"], water)
    deoxy = blood_absorption(0.0, parts["oxyhemoglobin"], parts["deoxyhemoglobin"], water)
    np.testing.assert_allclose(oxy, [r[1] for r in WHOLE_BLOOD_ANCHORS], rtol=1e-9)
    np.testing.assert_allclose(deoxy, [r[2] for r in WHOLE_BLOOD_ANCHORS], rtol=1e-9)


@pytest.mark.parametrize(
    ("nm", "oxy", "deoxy"),
    # Prahl's table (Gratzer & Kollias), molar extinction in cm⁻¹/M
    # (at 970 nm deoxy differs by 25 %, at 1000 nm by 70 %: the compilations part there)
    [(900, 1198.0, 761.84), (920, 1224.0, 777.36), (950, 1204.0, 602.24)],
)
def test_hemoglobin_agrees_with_prahls_independent_table_within_20_percent(nm, oxy, deoxy):
    per_mm = 2.303 * 150.0 / 64500.0 / 10.0  # 150 g/L, 64,500 g/mol, cm⁻¹ -> mm⁻¹
    ours = (
        chromophore_absorption("oxyhemoglobin", [nm])[0],
        chromophore_absorption("deoxyhemoglobin", [nm])[0],
    )
    np.testing.assert_allclose(ours, [oxy * per_mm, deoxy * per_mm], rtol=0.2)


def test_blood_matters_below_1100_nm_and_water_beyond():
    tissue = absorption([920, 1600], water=0.75, lipid=0.02, collagen=0.05, blood=0.03)
    bloodless = absorption([920, 1600], water=0.75, lipid=0.02, collagen=0.05)
    assert tissue[0] > 2 * bloodless[0]  # hemoglobin dominates at 920 nm
    assert tissue[1] == pytest.approx(bloodless[1], rel=0.05)


def test_water_dominates_the_1450_band_of_tissue():
    mua = absorption([1300, 1450], water=0.75, lipid=0.05, collagen=0.1)
    assert mua[1] / mua[0] > 10


def test_absorption_broadcasts_over_pixels_and_is_the_weighted_sum():
    water = np.full((4, 5), 0.7)
    out = absorption([1000, 1200, 1400], water=water, lipid=0.1, collagen=0.1, blood=0.02)
    assert out.shape == (4, 5, 3)
    mu = {n: chromophore_absorption(n, [1200])[0] for n in ("water", "lipid", "collagen")}
    whole_blood = (
        0.7 * chromophore_absorption("oxyhemoglobin", [1200])[0]
        + 0.3 * chromophore_absorption("deoxyhemoglobin", [1200])[0]
        + BLOOD_WATER * mu["water"]
    )
    expected = 0.7 * mu["water"] + 0.1 * mu["lipid"] + 0.1 * mu["collagen"] + 0.02 * whole_blood
    assert out[2, 3, 1] == pytest.approx(expected + 0.002)


def test_band_average_smooths_but_keeps_level():
    wl = np.linspace(900, 1700, 40)
    for name in ("water", "oxyhemoglobin"):
        sharp = chromophore_absorption(name, wl)
        smooth = band_averaged_absorption(name, wl)
        assert np.allclose(smooth, sharp, rtol=0.3)
    water = chromophore_absorption("water", wl)
    assert band_averaged_absorption("water", wl).max() < water.max()  # peaks average down


def test_errors_name_field_and_fix():
    with pytest.raises(WavelengthError, match="900–2500 nm"):
        chromophore_absorption("water", [800, 900])
    with pytest.raises(InvalidOptionError, match="unknown chromophore 'blood'"):
        chromophore_absorption("blood", [1000])
    with pytest.raises(InvalidOptionError, match="unknown chromophore"):
        band_averaged_absorption("melanin", [1000, 1100])
