"""NumPy .npy (memory-mapped) and .npz, wavelengths given, from a band table, or in the archive."""

from __future__ import annotations

import numpy as np
import pytest

import hsi_tumor as ht
from tests.conftest import shared_data_path


def test_npy_is_memory_mapped_with_given_wavelengths(tmp_path, rng):
    data = rng.integers(0, 4096, (5, 6, 4), dtype=np.uint16)
    np.save(tmp_path / "c.npy", data)
    cube = ht.read_cube(tmp_path / "c.npy", wavelengths=[900, 1000, 1100, 1200])
    assert cube.storage == "memory-mapped"
    np.testing.assert_array_equal(cube.load().data, data)


def test_npy_band_table_beside(tmp_path, rng):
    np.save(tmp_path / "c.npy", rng.random((2, 2, 3)))
    (tmp_path / "c_bands.csv").write_text("center_nm\n1000\n1100\n1200\n")
    np.testing.assert_array_equal(ht.read_cube(tmp_path / "c.npy").wavelengths, [1000, 1100, 1200])


def test_npy_without_wavelengths_says_how(tmp_path, rng):
    np.save(tmp_path / "c.npy", rng.random((2, 2, 3)))
    with pytest.raises(ht.WavelengthError, match=r"c\.npy.*wavelengths="):
        ht.read_cube(tmp_path / "c.npy")


def test_npz_finds_cube_and_wavelengths(tmp_path, rng):
    data = rng.random((3, 4, 5)).astype(np.float32)
    np.savez_compressed(
        tmp_path / "c.npz", cube=data, wavelengths=np.arange(5) * 10 + 900.0, mask=np.ones((3, 4))
    )
    cube = ht.read_cube(tmp_path / "c.npz")
    np.testing.assert_array_equal(cube.data, data)
    np.testing.assert_array_equal(cube.wavelengths, [900, 910, 920, 930, 940])


def test_npz_several_cubes_need_variable(tmp_path, rng):
    np.savez(tmp_path / "c.npz", a=rng.random((2, 2, 2)), b=rng.random((2, 2, 2)))
    with pytest.raises(ht.CubeFormatError, match="variable="):
        ht.read_cube(tmp_path / "c.npz", wavelengths=[1, 2])
    assert ht.read_cube(tmp_path / "c.npz", variable="b", wavelengths=[1, 2]).shape == (2, 2, 2)


def test_npy_of_objects_is_refused(tmp_path):
    np.save(tmp_path / "o.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(ht.CubeFormatError, match="Python objects"):
        ht.read_cube(tmp_path / "o.npy", wavelengths=[1])


def test_real_indian_pines_reads_with_its_band_table():
    folder = shared_data_path("indian-pines")
    cube = ht.read_cube(
        folder / "Indian_pines_corrected.npy",
        wavelengths=folder / "Indian_pines_corrected_bands.csv",
    )
    assert cube.shape == (145, 145, 200)
    assert cube.dtype == np.uint16
    assert cube.data[99, 99, 99] == 2057  # the value SPy's test-suite asserts for 92AV3C
    assert cube.wavelengths[0] == pytest.approx(400.02)
    assert cube.wavelengths[-1] == pytest.approx(2489.11)
    assert cube.metadata["fwhm"][0] == pytest.approx(9.78)
    assert (cube.wavelengths >= 750).sum() == 162
    nir = cube.sel(wavelengths=(750, 2500))
    assert nir.n_bands == 162 and nir.data[99, 99, 99 - 38] == 2057


def test_real_indian_pines_round_trips_through_envi_and_hdf5(tmp_path):
    folder = shared_data_path("indian-pines")
    cube = ht.read_cube(
        folder / "Indian_pines_corrected.npy",
        wavelengths=folder / "Indian_pines_corrected_bands.csv",
    )
    for name, opts in [("ip.hdr", {"interleave": "bsq"}), ("ip.h5", {})]:
        ht.write_cube(cube, tmp_path / name, **opts)
        back = ht.read_cube(tmp_path / name)
        assert back.data[99, 99, 99] == 2057
        np.testing.assert_array_equal(back.load().data, cube.data)
        np.testing.assert_array_equal(back.wavelengths, cube.wavelengths)
