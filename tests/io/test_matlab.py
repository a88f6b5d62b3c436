"""MATLAB .mat files: v5/v7 written by scipy.io.savemat and v7.3 (HDF5) written as MATLAB does.

MATLAB's ``save -v7.3`` writes an HDF5 file with a 512-byte user block that starts with the
text header ``MATLAB 7.3 MAT-file, Platform: ..., Created on: ... HDF5 schema 1.00 .``, stores
each variable column-major (``A(rows, cols, bands)`` is an HDF5 dataset of shape
``(bands, cols, rows)``, i.e. ``A.T``) and tags it with a ``MATLAB_class`` attribute. A 1-by-N row
vector is stored as an (N, 1) dataset. :func:`savemat_v73` below reproduces that layout; SciPy's
``matfile_version`` recognising the result as version 2.0 (v7.3) checks the header.
"""

from __future__ import annotations

import time
from pathlib import Path

import h5py
import numpy as np
import pytest
import scipy.io
from scipy.io.matlab import matfile_version

import hsi_tumor as ht
from tests.conftest import shared_data_path

SHAPE = (7, 5, 11)  # rows, cols, bands: every axis a different length, so a transpose shows
WL = 900.0 + 75.5 * np.arange(SHAPE[2])  # nm

#: numpy dtype -> the MATLAB class name MATLAB writes in the MATLAB_class attribute.
MATLAB_CLASSES = {
    np.dtype(np.float64): "double",
    np.dtype(np.float32): "single",
    np.dtype(np.uint8): "uint8",
    np.dtype(np.int16): "int16",
    np.dtype(np.uint16): "uint16",
    np.dtype(np.int32): "int32",
    np.dtype(np.uint32): "uint32",
}


def savemat_v73(path: Path, variables: dict[str, np.ndarray]) -> None:
    """Write ``variables`` the way MATLAB's ``save(path, ..., '-v7.3')`` does (test scaffolding).

    Each array becomes a dataset holding its transpose (MATLAB is column-major) with the attribute
    ``MATLAB_class``; 1-D arrays are saved as 1-by-N row vectors, as MATLAB has no 1-D arrays. The
    first 128 bytes of the 512-byte user block are MATLAB's header: 116 bytes of text, 8 bytes of
    subsystem offset, the version 0x0200 and the endian indicator ``IM``.
    """
    with h5py.File(path, "w", userblock_size=512, libver="earliest") as f:
        for name, value in variables.items():
            value = np.asarray(value)
            if value.ndim < 2:
                value = value.reshape(1, -1)
            ds = f.create_dataset(name, data=value.T)
            ds.attrs["MATLAB_class"] = np.bytes_(MATLAB_CLASSES[value.dtype])
    created = time.strftime("%a %b %d %H:%M:%S %Y", time.gmtime(0))
    text = (
        f"MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: {created} HDF5 schema 1.00 ."
    ).encode("ascii")
    header = text.ljust(116) + bytes(8) + b"\x00\x02" + b"IM"
    with open(path, "r+b") as fh:
        fh.write(header.ljust(512, b"\x00"))


def cube_array(dtype) -> np.ndarray:
    rng = np.random.default_rng(11)
    values = rng.normal(2000, 500, SHAPE).clip(0, 4095)
    return values.astype(dtype)


@pytest.fixture(params=["uint16", "float32", "float64"])
def dtype(request) -> np.dtype:
    return np.dtype(request.param)


def write_both(tmp_path: Path, variables: dict[str, np.ndarray]) -> dict[str, Path]:
    """Save ``variables`` as v5 (scipy) and v7.3 (MATLAB's layout): {'v5': path, 'v73': path}."""
    paths = {"v5": tmp_path / "v5.mat", "v73": tmp_path / "v73.mat"}
    scipy.io.savemat(paths["v5"], variables)
    savemat_v73(paths["v73"], variables)
    return paths


def test_v73_writer_writes_what_matlab_writes(tmp_path):
    path = tmp_path / "m.mat"
    savemat_v73(path, {"A": cube_array(np.float64), "wavelength": WL})
    assert matfile_version(path) == (2, 0)  # SciPy recognises the header as v7.3
    assert h5py.is_hdf5(path)
    assert path.read_bytes()[:19] == b"MATLAB 7.3 MAT-file"
    with pytest.raises(NotImplementedError, match=r"7\.3"):
        scipy.io.loadmat(path)  # scipy reads v5 only, and says so
    with h5py.File(path, "r") as f:
        assert f.userblock_size == 512
        assert f["A"].shape == SHAPE[::-1]  # column-major
        assert f["wavelength"].shape == (SHAPE[2], 1)  # a 1-by-N row vector
        assert f["A"].attrs["MATLAB_class"] == b"double"


def test_v5_and_v73_read_to_the_same_cube(tmp_path, dtype):
    a = cube_array(dtype)
    paths = write_both(tmp_path, {"A": a, "wavelength": WL[np.newaxis, :]})
    v5, v73 = paths["v5"], paths["v73"]
    from_v5, from_v73 = ht.read_cube(v5), ht.read_cube(v73)
    assert from_v5.metadata["format"] == "matlab-v5"
    assert from_v73.metadata["format"] == "matlab-v7.3"
    assert from_v5.metadata["variable"] == from_v73.metadata["variable"] == "A"
    assert from_v5.shape == from_v73.shape == SHAPE
    data_v5, data_v73 = from_v5.load().data, from_v73.load().data
    assert data_v5.dtype == data_v73.dtype == dtype  # no conversion to double
    np.testing.assert_array_equal(data_v5, a)
    np.testing.assert_array_equal(data_v73, a)
    np.testing.assert_array_equal(from_v5.wavelengths, WL)  # exact
    np.testing.assert_array_equal(from_v73.wavelengths, from_v5.wavelengths)


@pytest.mark.parametrize("name", ["wavelength", "wavelengths", "Wavelength", "wl", "lambda"])
@pytest.mark.parametrize("as_column", [False, True], ids=["1xN", "Nx1"])
def test_wavelength_variable_names_and_orientation(tmp_path, name, as_column):
    wl = WL[:, np.newaxis] if as_column else WL[np.newaxis, :]
    paths = write_both(tmp_path, {"A": cube_array(np.float32), name: wl})
    for path in paths.values():
        np.testing.assert_array_equal(ht.read_cube(path).wavelengths, WL)


def test_v5_compressed_reads_like_v73(tmp_path):
    """MATLAB's default -v7 is v5 with compressed variables."""
    a = cube_array(np.uint16)
    scipy.io.savemat(tmp_path / "z.mat", {"A": a, "wavelength": WL}, do_compression=True)
    savemat_v73(tmp_path / "h.mat", {"A": a, "wavelength": WL})
    np.testing.assert_array_equal(ht.read_cube(tmp_path / "z.mat").load().data, a)
    np.testing.assert_array_equal(
        ht.read_cube(tmp_path / "z.mat").load().data, ht.read_cube(tmp_path / "h.mat").load().data
    )


@pytest.mark.parametrize("version", ["v5", "v73"])
def test_variable_selects_among_several_cubes(tmp_path, version):
    a, b = cube_array(np.float32), cube_array(np.float32)[::-1, :, ::-1] * 2
    paths = write_both(tmp_path, {"A": a, "B": b, "wl": WL})
    path = paths[version]
    np.testing.assert_array_equal(ht.read_cube(path, variable="B").load().data, b)
    np.testing.assert_array_equal(ht.read_cube(path, variable="A").load().data, a)
    assert ht.read_cube(path, variable="B").metadata["variable"] == "B"


@pytest.mark.parametrize("version", ["v5", "v73"])
def test_several_cubes_without_variable_is_an_error_naming_variable(tmp_path, version):
    a = cube_array(np.float32)
    paths = write_both(tmp_path, {"A": a, "B": a + 1, "wl": WL})
    with pytest.raises(ht.CubeFormatError) as info:
        ht.read_cube(paths[version])
    err = info.value
    assert err.field == "variable"
    message = str(err)
    assert str(paths[version]) in message
    assert "field 'variable'" in message and "2 3-D variables (A, B)" in message
    assert "Fix: pass variable=" in message


@pytest.mark.parametrize("version", ["v5", "v73"])
def test_variable_that_is_missing_or_not_a_cube(tmp_path, version):
    paths = write_both(tmp_path, {"A": cube_array(np.uint16), "wl": WL})
    with pytest.raises(
        ht.CubeFormatError, match=r"no variable 'nope' \(variables: A, wl\)"
    ) as info:
        ht.read_cube(paths[version], variable="nope")
    assert info.value.field == "variable"
    with pytest.raises(ht.CubeFormatError, match="'wl' is not a 3-D numeric array"):
        ht.read_cube(paths[version], variable="wl")


@pytest.mark.parametrize("version", ["v5", "v73"])
def test_missing_wavelengths_say_how_to_give_them(tmp_path, version):
    a = cube_array(np.float32)
    paths = write_both(tmp_path, {"A": a})
    with pytest.raises(ht.WavelengthError, match=r"Fix: pass wavelengths=") as info:
        ht.read_cube(paths[version])
    assert info.value.field == "wavelength" and info.value.file == str(paths[version])
    cube = ht.read_cube(paths[version], wavelengths=WL)
    np.testing.assert_array_equal(cube.wavelengths, WL)
    np.testing.assert_array_equal(cube.load().data, a)


def test_v73_is_lazy_and_selection_reads_correctly(tmp_path, dtype):
    a = cube_array(dtype)
    savemat_v73(tmp_path / "m.mat", {"A": a, "wavelength": WL})
    cube = ht.read_cube(tmp_path / "m.mat")
    assert cube.storage == "lazy (HDF5)"
    sub = cube[2:4, 1:3]
    assert sub.storage == "lazy (HDF5)" and sub.shape == (2, 2, SHAPE[2])
    np.testing.assert_array_equal(sub.load().data, a[2:4, 1:3])
    assert sub.load().data.dtype == dtype
    np.testing.assert_array_equal(sub.pixels(), a[2:4, 1:3].reshape(-1, SHAPE[2]))
    band_sel = cube.sel(rows=(1, 6), cols=(0, 4), wavelengths=(WL[3], WL[7]))
    np.testing.assert_array_equal(band_sel.wavelengths, WL[3:8])
    np.testing.assert_array_equal(band_sel.load().data, a[1:6, 0:4, 3:8])
    np.testing.assert_array_equal(cube.data[6, 4], a[6, 4])  # one spectrum
    np.testing.assert_array_equal(cube.data[:, :, 10], a[:, :, 10])  # one band image
    np.testing.assert_array_equal(cube[::-2, 1:, 2:9:3].load().data, a[::-2, 1:, 2:9:3])


def test_v73_selection_reads_only_the_selection(tmp_path, monkeypatch):
    a = cube_array(np.uint16)
    savemat_v73(tmp_path / "m.mat", {"A": a, "wavelength": WL})
    cube = ht.read_cube(tmp_path / "m.mat")
    read_sizes: list[int] = []
    original = h5py.Dataset.__getitem__

    def spy(self, key, *args, **kwargs):
        block = original(self, key, *args, **kwargs)
        if self.name == "/A":
            read_sizes.append(np.size(block))
        return block

    monkeypatch.setattr(h5py.Dataset, "__getitem__", spy)
    sub = cube[2:4, 1:3]
    assert read_sizes == []  # selecting reads nothing
    np.testing.assert_array_equal(sub.load().data, a[2:4, 1:3])
    assert read_sizes and sum(read_sizes) == 2 * 2 * SHAPE[2]  # and loading reads only that


def test_v73_ignores_matlab_bookkeeping_and_structs(tmp_path):
    """MATLAB adds a '#refs#' group for cells and stores structs as groups: not cube candidates."""
    a = cube_array(np.float64)
    path = tmp_path / "m.mat"
    savemat_v73(path, {"A": a, "wavelength": WL})
    with h5py.File(path, "r+") as f:
        refs = f.create_group("#refs#")
        refs.create_dataset("a", data=np.zeros((2, 3, 4)))  # 3-D, but bookkeeping
        info = f.create_group("info")
        info.attrs["MATLAB_class"] = np.bytes_("struct")
        info.create_dataset("gain", data=np.ones((1, 1)))
    cube = ht.read_cube(path)
    assert cube.metadata["variable"] == "A"
    np.testing.assert_array_equal(cube.load().data, a)
    with pytest.raises(ht.CubeFormatError, match="'info' is not a 3-D numeric array"):
        ht.read_cube(path, variable="info")


def test_real_matlab_file_without_a_cube(tmp_path):
    """The EHU Indian Pines ground truth: a real v5 .mat holding one 2-D label image."""
    path = shared_data_path("indian-pines", "Indian_pines_gt.mat")
    assert matfile_version(path)[0] == 1  # v5
    with pytest.raises(ht.CubeFormatError, match="no 3-D numeric variable") as info:
        ht.read_cube(path)
    assert info.value.field == "variable"
    with pytest.raises(ht.CubeFormatError, match="is not a 3-D numeric array"):
        ht.read_cube(path, variable="indian_pines_gt")
