"""read_cube / write_cube dispatch: guessing, forcing a format, unknown files and options."""

from __future__ import annotations

import numpy as np
import pytest

import hsi_tumor as ht
from hsi_tumor.io import READERS, WRITERS


def test_every_reader_is_registered():
    assert list(READERS) == ["specim", "hdf5", "matlab", "numpy", "envi"]
    assert set(WRITERS) == {"envi", "hdf5"}


def test_missing_path(tmp_path):
    with pytest.raises(ht.MissingFileError, match="no such file"):
        ht.read_cube(tmp_path / "absent.hdr")


def test_unknown_file(tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(ht.CubeFormatError, match=r"no reader recognises.*format="):
        ht.read_cube(tmp_path / "notes.txt")


def test_forced_format_and_unknown_format(tmp_path, rng):
    cube = ht.Cube(rng.random((2, 2, 2)), [1000, 1100])
    ht.write_cube(cube, tmp_path / "odd.cube", format="hdf5")
    np.testing.assert_array_equal(
        ht.read_cube(tmp_path / "odd.cube", format="hdf5").load().data, cube.data
    )
    with pytest.raises(ht.InvalidOptionError, match="unknown format 'tiff'"):
        ht.read_cube(tmp_path / "odd.cube", format="tiff")
    with pytest.raises(ht.CubeFormatError, match=r"extension '\.tif'"):
        ht.write_cube(cube, tmp_path / "x.tif")


def test_writer_options_are_checked(tmp_path, rng):
    cube = ht.Cube(rng.random((2, 2, 2)), [1000, 1100])
    with pytest.raises(ht.InvalidOptionError, match="interleave"):
        ht.write_cube(cube, tmp_path / "x.h5", interleave="bsq")
    with pytest.raises(ht.CubeFormatError, match="ENVI cannot store dtype bool"):
        ht.write_cube(ht.Cube(np.zeros((1, 1, 2), bool), [1, 2]), tmp_path / "b.hdr")


def test_errors_share_one_root():
    for err in (
        ht.CubeFormatError,
        ht.MissingFileError,
        ht.WavelengthError,
        ht.InvalidOptionError,
        ht.OutputExistsError,
        ht.CalibrationError,
    ):
        assert issubclass(err, ht.HsiTumorError)
    err = ht.CubeFormatError("bad", file="/x.hdr", field="samples", fix="write a number")
    assert str(err) == "/x.hdr: field 'samples': bad. Fix: write a number."
    import pickle

    assert str(pickle.loads(pickle.dumps(err))) == str(err)


@pytest.mark.parametrize("name", ["f.hdr", "f.h5"])
def test_feature_cubes_without_wavelengths_round_trip(tmp_path, rng, name):
    scores = ht.Cube(rng.normal(size=(4, 5, 3)).astype(np.float32), None)
    ht.write_cube(scores, tmp_path / name)
    back = ht.read_cube(tmp_path / name)
    assert back.wavelengths is None
    np.testing.assert_array_equal(back.load().data, scores.data)
    assert "3 features" in repr(back)
