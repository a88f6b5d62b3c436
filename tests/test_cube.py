"""The Cube: validation, lazy selection, pixels, tiles, loading, display."""

from __future__ import annotations

import numpy as np
import pytest

import hsi_tumor as ht

WL = np.array([900.0, 1000.0, 1100.0, 1200.0, 1300.0])


@pytest.fixture
def data(rng):
    return rng.random((6, 8, 5)).astype(np.float32)


def test_validation_names_the_problem(data):
    with pytest.raises(ht.CubeFormatError, match=r"\(rows, cols, bands\)"):
        ht.Cube(data[:, :, 0], WL)
    with pytest.raises(ht.WavelengthError, match="4 wavelengths for 5 bands"):
        ht.Cube(data, WL[:4])
    with pytest.raises(ht.WavelengthError, match="not strictly ascending"):
        ht.Cube(data, WL[::-1])
    with pytest.raises(ht.WavelengthError, match="NaN"):
        ht.Cube(data, [900, np.nan, 1100, 1200, 1300])
    with pytest.raises(ht.CubeFormatError, match="'fwhm' has 3 values for 5 bands"):
        ht.Cube(data, WL, {"fwhm": [1, 2, 3]})


def test_index_and_tile_errors(data):
    cube = ht.Cube(data, WL)
    with pytest.raises(ht.CubeIndexError, match="3 axes") as info:
        cube[0, 0, 0, 0]
    assert isinstance(info.value, IndexError) and info.value.fix
    with pytest.raises(ht.InvalidOptionError, match="tile_rows"):
        next(cube.tiles(0))
    for wrong in (2.5, "a", True):  # before: TypeError from range() or from '<'
        with pytest.raises(ht.InvalidTypeError, match="whole number of rows"):
            next(cube.tiles(wrong))


def test_wavelengths_are_read_only(data):
    cube = ht.Cube(data, WL)
    with pytest.raises(ValueError):
        cube.wavelengths[0] = 1


def test_selection_is_a_view(data):
    cube = ht.Cube(data, WL, {"fwhm": np.arange(5.0)})
    sub = cube[1:4, 2:6]
    assert np.shares_memory(sub.data, data)
    np.testing.assert_array_equal(sub.data, data[1:4, 2:6])
    sub = cube.sel(rows=(1, 3), cols=slice(0, 8, 2), wavelengths=(950, 1250))
    assert np.shares_memory(sub.data, data)
    np.testing.assert_array_equal(sub.data, data[1:3, ::2, 1:4])
    np.testing.assert_array_equal(sub.wavelengths, [1000, 1100, 1200])
    np.testing.assert_array_equal(sub.metadata["fwhm"], [1, 2, 3])
    assert cube[2].shape == (1, 8, 5)  # an integer keeps the axis
    np.testing.assert_array_equal(cube[:, :, [0, 4]].wavelengths, [900, 1300])


def test_wavelength_range_outside_the_cube(data):
    with pytest.raises(ht.WavelengthError, match="no band between 1400 and 1500 nm"):
        ht.Cube(data, WL).sel(wavelengths=(1400, 1500))


def test_band_index(data):
    cube = ht.Cube(data, WL)
    assert cube.band_index(1049) == 1
    assert cube.band_index(1051) == 2
    with pytest.raises(ht.WavelengthError, match="outside"):
        cube.band_index(2000)


def test_pixels_is_a_view_for_in_memory_data(data):
    cube = ht.Cube(data, WL)
    px = cube.pixels()
    assert px.shape == (48, 5)
    assert np.shares_memory(px, data)
    np.testing.assert_array_equal(px[9], data[1, 1])


def test_pixels_of_a_transposed_view_copies_correctly(data):
    transposed = np.ascontiguousarray(data.transpose(2, 0, 1)).transpose(1, 2, 0)
    px = ht.Cube(transposed, WL).pixels()
    np.testing.assert_array_equal(px, data.reshape(-1, 5))


@pytest.mark.parametrize("tile_rows", [None, 1, 4, 100])
def test_tiles_cover_the_cube_once(data, tile_rows):
    cube = ht.Cube(data, WL)
    pieces = list(cube.tiles(tile_rows))
    assert [s.start for s, _ in pieces] == sorted({s.start for s, _ in pieces})
    np.testing.assert_array_equal(np.concatenate([t.data for _, t in pieces]), data)


def test_load_makes_native_contiguous_copy(data):
    big_endian = data.astype(">f4").transpose(1, 0, 2).transpose(1, 0, 2)
    loaded = ht.Cube(big_endian, WL).load()
    assert loaded.data.dtype == np.float32 and loaded.data.flags.c_contiguous
    np.testing.assert_array_equal(loaded.data, data)
    cube = ht.Cube(data, WL)
    assert cube.load() is cube


def test_repr_and_html(data):
    cube = ht.Cube(data, WL, {"source": "/data/<specimen>.hdr"})
    assert repr(cube) == "Cube(6 rows x 8 cols x 5 bands, float32, 900–1300 nm, 960 B in memory)"
    html = cube._repr_html_()
    assert "<table>" in html and "&lt;specimen&gt;" in html and "900–1300 nm" in html
