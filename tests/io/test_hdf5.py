"""HDF5: round trips, automatic dataset and wavelength discovery, any axis order, lazy reads."""

from __future__ import annotations

import pickle

import h5py
import numpy as np
import pytest

import hsi_tumor as ht

WL = np.linspace(950.0, 1650.0, 9)


@pytest.fixture
def cube(rng):
    return ht.Cube(rng.normal(size=(13, 11, 9)).astype(np.float32), WL, {"fwhm": np.full(9, 8.0)})


@pytest.mark.parametrize("compression", ["lzf", "gzip", None])
@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.int32, np.float32, np.float64])
def test_round_trip(tmp_path, rng, compression, dtype):
    data = (rng.random((13, 11, 9)) * 200).astype(dtype)
    cube = ht.Cube(data, WL, {"fwhm": np.full(9, 8.0), "bbl": np.arange(9) % 4 > 0})
    ht.write_cube(cube, tmp_path / "c.h5", compression=compression, chunks=(4, 5, 9))
    back = ht.read_cube(tmp_path / "c.h5")
    assert back.storage == "lazy (HDF5)"
    assert back.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(back.load().data, data)
    np.testing.assert_array_equal(back.wavelengths, WL)
    np.testing.assert_array_equal(back.metadata["bbl"], cube.metadata["bbl"])
    with h5py.File(tmp_path / "c.h5") as f:
        assert f["cube"].chunks == (4, 5, 9)
        assert f["cube"].compression == compression


def test_default_chunks_are_spatial_tiles_with_all_bands(tmp_path, cube):
    ht.write_cube(cube, tmp_path / "c.h5")
    with h5py.File(tmp_path / "c.h5") as f:
        assert f["cube"].chunks[2] == 9
        assert f["cube"].compression == "lzf"


def test_lazy_selection_matches_numpy(tmp_path, cube):
    ht.write_cube(cube, tmp_path / "c.h5", chunks=(4, 4, 9))
    back = ht.read_cube(tmp_path / "c.h5")
    sub = back[2:9:2, 3:]
    assert sub.storage == "lazy (HDF5)"
    np.testing.assert_array_equal(sub.load().data, cube.data[2:9:2, 3:])
    np.testing.assert_array_equal(back.data[5, 4], cube.data[5, 4])
    np.testing.assert_array_equal(back.data[::-1, 2, ::-2], cube.data[::-1, 2, ::-2])
    np.testing.assert_array_equal(back.data[:, :, [0, 4, 8]], cube.data[:, :, [0, 4, 8]])
    np.testing.assert_array_equal(
        back.sel(wavelengths=(1000, 1300)).load().data, cube.sel(wavelengths=(1000, 1300)).data
    )


def test_lazy_index_errors(tmp_path, cube):
    ht.write_cube(cube, tmp_path / "c.h5")
    data = ht.read_cube(tmp_path / "c.h5").data
    with pytest.raises(ht.CubeIndexError, match="too many indices"):
        data[0, 0, 0, 0]
    with pytest.raises(ht.InvalidTypeError, match="slices only"):
        data.select((0, slice(None)))
    with pytest.raises(ht.InvalidTypeError, match=r"unsupported index 0\.5"):
        data[0.5]


def test_lazy_cube_pickles_without_data(tmp_path, cube):
    ht.write_cube(cube, tmp_path / "c.h5")
    back = ht.read_cube(tmp_path / "c.h5")[1:4]
    blob = pickle.dumps(back)
    assert len(blob) < 5000
    np.testing.assert_array_equal(pickle.loads(blob).load().data, cube.data[1:4])


@pytest.mark.parametrize("band_axis", [0, 1, 2])
def test_any_axis_order(tmp_path, cube, band_axis):
    order = {0: (2, 0, 1), 1: (0, 2, 1), 2: (0, 1, 2)}[band_axis]
    with h5py.File(tmp_path / "a.h5", "w") as f:
        f.create_dataset("radiance/data", data=np.transpose(cube.data, order), chunks=True)
        f["radiance"].attrs["wavelength"] = WL / 1000.0
        f["radiance"].attrs["wavelength_units"] = "micrometers"
    back = ht.read_cube(tmp_path / "a.h5", band_axis=band_axis)
    np.testing.assert_array_equal(back.load().data, cube.data)
    np.testing.assert_allclose(back.wavelengths, WL)
    # without band_axis= the band axis is found from the wavelength count (9 matches one axis)
    np.testing.assert_array_equal(ht.read_cube(tmp_path / "a.h5").load().data, cube.data)


def test_wavelengths_from_sibling_dataset(tmp_path, cube):
    with h5py.File(tmp_path / "s.h5", "w") as f:
        f["scan/cube"] = cube.data
        f["scan/wavelengths"] = WL
        f["scan/other"] = np.zeros((3, 3))
    back = ht.read_cube(tmp_path / "s.h5")
    np.testing.assert_array_equal(back.wavelengths, WL)
    assert back.metadata["dataset"] == "/scan/cube"


def test_dataset_choice_and_errors(tmp_path, cube):
    with h5py.File(tmp_path / "two.h5", "w") as f:
        f["a"] = cube.data
        f["b"] = cube.data[::-1]
        f["a"].attrs["wavelengths"] = WL
        f["b"].attrs["wavelengths"] = WL
    with pytest.raises(ht.CubeFormatError, match=r"2 3-D datasets.*dataset="):
        ht.read_cube(tmp_path / "two.h5")
    np.testing.assert_array_equal(
        ht.read_cube(tmp_path / "two.h5", dataset="b").load().data, cube.data[::-1]
    )
    with pytest.raises(ht.CubeFormatError, match=r"no dataset 'c'"):
        ht.read_cube(tmp_path / "two.h5", dataset="c")
    with pytest.raises(ht.WavelengthError, match="wavelengths="):
        with h5py.File(tmp_path / "nowl.h5", "w") as f:
            f["x"] = cube.data
        ht.read_cube(tmp_path / "nowl.h5")
    with pytest.raises(ht.InvalidOptionError, match="band_axis"):
        ht.read_cube(tmp_path / "two.h5", dataset="a", band_axis=5)


def test_truncated_file(tmp_path, cube):
    ht.write_cube(cube, tmp_path / "t.h5")
    raw = (tmp_path / "t.h5").read_bytes()
    (tmp_path / "t.h5").write_bytes(raw[: len(raw) // 2])
    with pytest.raises(ht.CubeFormatError, match=r"t\.h5"):
        ht.read_cube(tmp_path / "t.h5").load()


@pytest.mark.parametrize("key", [np.s_[3:11, 2:9, 1:5], np.s_[:, :, :], np.s_[5:6, :, 8:9]])
def test_chunk_aligned_load_of_a_selection(tmp_path, cube, key):
    ht.write_cube(cube, tmp_path / "c.h5", chunks=(4, 4, 9))
    np.testing.assert_array_equal(ht.read_cube(tmp_path / "c.h5")[key].load().data, cube.data[key])
