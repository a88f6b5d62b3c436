"""Units, band tables and validation of wavelengths."""

from __future__ import annotations

import numpy as np
import pytest

import hsi_tumor as ht
from hsi_tumor._shared.wavelengths import read_band_table, to_nanometres
from tests.conftest import shared_data_path


@pytest.mark.parametrize(
    ("units", "values", "nm"),
    [
        ("nm", [900.0], [900.0]),
        ("Micrometers", [0.9], [900.0]),
        ("mm", [0.0009], [900.0]),
        ("cm-1", [10000.0], [1000.0]),
        ("Wavenumber", [5000.0], [2000.0]),
        (None, [1.5], [1500.0]),
        ("Unknown", [1500.0], [1500.0]),
    ],
)
def test_units(units, values, nm):
    np.testing.assert_allclose(to_nanometres(values, units)[0], nm)


def test_unknown_unit():
    with pytest.raises(ht.WavelengthError, match="unknown wavelength unit 'furlongs'"):
        to_nanometres([1.0], "furlongs")
    with pytest.raises(ht.WavelengthError, match="not a physical unit"):
        to_nanometres([1.0], "Index")


def test_band_table_layouts(tmp_path):
    (tmp_path / "a.csv").write_text("900\n1000\n1100\n")
    (tmp_path / "b.csv").write_text("900, 1000, 1100\n")
    (tmp_path / "c.csv").write_text("band,Wavelength,FWHM\n0,900,5\n1,1000,6\n2,1100,7\n")
    for name in "abc":
        np.testing.assert_array_equal(
            read_band_table(tmp_path / f"{name}.csv")[0], [900, 1000, 1100]
        )
    np.testing.assert_array_equal(read_band_table(tmp_path / "c.csv")[1], [5, 6, 7])
    (tmp_path / "d.csv").write_text("band,gain\n0,1\n")
    with pytest.raises(ht.WavelengthError, match="no wavelength column"):
        read_band_table(tmp_path / "d.csv")
    (tmp_path / "e.csv").write_text("900\nnine-fifty\n")
    with pytest.raises(ht.WavelengthError, match="not a number"):
        read_band_table(tmp_path / "e.csv")
    with pytest.raises(ht.MissingFileError):
        read_band_table(tmp_path / "none.csv")


def test_real_indian_pines_band_table():
    wl, fwhm = read_band_table(shared_data_path("indian-pines", "Indian_pines_corrected_bands.csv"))
    assert wl.size == fwhm.size == 200
    assert wl[0] == pytest.approx(400.02) and fwhm[0] == pytest.approx(9.78)
