"""Label maps: read_labels from every format, write_labels round trips and ENVI headers."""

from __future__ import annotations

import h5py
import numpy as np
import pytest
import scipy.io
from PIL import Image
from spectral.io import envi

import hsi_tumor as ht
from hsi_tumor.io import read_labels, write_labels


@pytest.fixture
def labels(rng) -> np.ndarray:
    return rng.integers(0, 3, size=(7, 9)).astype(np.uint8)


@pytest.mark.parametrize("name", ["map.hdr", "map.img", "map.h5"])
def test_round_trip_is_exact_with_class_names(tmp_path, labels, name):
    written = write_labels(labels, tmp_path / name, class_names={1: "normal", 2: "tumor"})
    back, names = read_labels(written, return_class_names=True)
    assert back.dtype == np.uint8 and back.shape == labels.shape
    np.testing.assert_array_equal(back, labels)
    assert names == {1: "normal", 2: "tumor"}
    if written.suffix == ".hdr":  # the data file reads too
        np.testing.assert_array_equal(read_labels(written.with_suffix(".img")), labels)


@pytest.mark.parametrize("suffix", [".hdr", ".h5"])
def test_large_ids_round_trip(tmp_path, suffix):
    labels = np.array([[0, 300], [70000, 5]], dtype=np.int64)
    back = read_labels(write_labels(labels, tmp_path / f"big{suffix}"))
    np.testing.assert_array_equal(back, labels)
    assert back.dtype == np.int32


def test_envi_header_fields_as_written(tmp_path, labels):
    header = write_labels(labels, tmp_path / "map.hdr", class_names=["normal", "tumor"])
    hdr = envi.read_envi_header(str(header))
    assert hdr["file type"] == "ENVI Classification"
    assert (hdr["bands"], hdr["data type"], hdr["interleave"]) == ("1", "1", "bsq")
    assert (hdr["lines"], hdr["samples"]) == ("7", "9")
    assert hdr["classes"] == "3"
    assert hdr["class names"] == ["Unclassified", "normal", "tumor"]
    lookup = np.array(hdr["class lookup"], dtype=int).reshape(3, 3)
    assert lookup[0].tolist() == [0, 0, 0]
    assert lookup[2].tolist() == [214, 39, 40]  # tumor red, as in hsi_tumor.viz overlays
    assert lookup[1].tolist() == [44, 160, 44]  # normal green
    # spectral (and so ENVI-aware tools) open it as an image with the same values
    image = envi.open(str(header))
    np.testing.assert_array_equal(image.read_band(0), labels)


def test_envi_classes_cover_named_ids_absent_from_the_map(tmp_path):
    labels = np.array([[0, 1], [1, 1]], dtype=np.uint8)
    header = write_labels(labels, tmp_path / "m.hdr", class_names={1: "normal", 2: "tumor"})
    assert envi.read_envi_header(str(header))["classes"] == "3"
    assert read_labels(header, return_class_names=True)[1] == {1: "normal", 2: "tumor"}


def test_palette_png_reads_exact_ids(tmp_path, labels):
    image = Image.fromarray(labels, mode="P")
    image.putpalette([0, 0, 0, 0, 255, 0, 255, 0, 0] + [0] * (256 * 3 - 9))
    image.save(tmp_path / "drawn.png")
    back = read_labels(tmp_path / "drawn.png")
    np.testing.assert_array_equal(back, labels)
    assert back.dtype == np.uint8


@pytest.mark.parametrize(
    ("suffix", "dtype"), [(".png", np.uint8), (".tif", np.uint16), (".bmp", np.uint8)]
)
def test_greyscale_images(tmp_path, suffix, dtype):
    labels = np.array([[0, 1, 2], [3, 2, 1]], dtype=dtype) * (100 if dtype == np.uint16 else 1)
    Image.fromarray(labels).save(tmp_path / f"grey{suffix}")
    np.testing.assert_array_equal(read_labels(tmp_path / f"grey{suffix}"), labels)


def test_rgb_image_is_refused_with_a_fix(tmp_path):
    Image.fromarray(np.zeros((3, 4, 3), np.uint8)).save(tmp_path / "rgb.png")
    with pytest.raises(ht.CubeFormatError, match="RGB colour image") as info:
        read_labels(tmp_path / "rgb.png")
    assert "rgb.png" in str(info.value) and "field 'mode'" in str(info.value)
    assert "palette" in info.value.fix


def test_npy_and_npz(tmp_path, labels):
    np.save(tmp_path / "a.npy", labels.astype(np.float64))  # whole numbers stored as floats
    back = read_labels(tmp_path / "a.npy")
    np.testing.assert_array_equal(back, labels)
    assert back.dtype == np.uint8
    np.savez(tmp_path / "b.npz", wavelengths=np.arange(5.0), labels=labels, other=labels + 1)
    np.testing.assert_array_equal(read_labels(tmp_path / "b.npz"), labels)
    np.testing.assert_array_equal(read_labels(tmp_path / "b.npz", name="other"), labels + 1)
    np.savez(tmp_path / "c.npz", annotation=labels, wavelengths=np.arange(5.0))
    np.testing.assert_array_equal(read_labels(tmp_path / "c.npz"), labels)  # the only 2-D
    np.savez(tmp_path / "d.npz", x=labels, y=labels)
    with pytest.raises(ht.CubeFormatError, match="2 2-D arrays") as info:
        read_labels(tmp_path / "d.npz")
    assert "d.npz" in str(info.value) and "name=" in info.value.fix


def test_hdf5_dataset_by_name(tmp_path, labels):
    with h5py.File(tmp_path / "a.h5", "w") as f:
        f["group/annotation"] = labels
        f["group/other"] = labels * 2
    np.testing.assert_array_equal(read_labels(tmp_path / "a.h5", name="group/other"), labels * 2)
    with pytest.raises(ht.CubeFormatError, match="no dataset 'nope'"):
        read_labels(tmp_path / "a.h5", name="nope")


def test_matlab_v5_and_v73(tmp_path, labels):
    scipy.io.savemat(tmp_path / "v5.mat", {"gt": labels, "wavelengths": np.arange(4.0)})
    np.testing.assert_array_equal(read_labels(tmp_path / "v5.mat"), labels)
    with h5py.File(tmp_path / "v73.mat", "w") as f:  # MATLAB -v7.3: column-major
        f["gt"] = labels.T
    np.testing.assert_array_equal(read_labels(tmp_path / "v73.mat", name="gt"), labels)


@pytest.mark.parametrize(
    ("array", "match"),
    [
        (np.array([[0.0, 0.5], [1.0, 2.0]]), "fractions"),
        (np.array([[0, -1], [1, 2]]), "negative"),
        (np.array([[0.0, np.nan], [1.0, 2.0]]), "NaN"),
        (np.zeros((2, 2, 2), np.uint8), "2-D"),
        (np.array([["a", "b"]]), "not integer"),
    ],
)
def test_values_that_are_not_ids_name_file_and_field(tmp_path, array, match):
    np.save(tmp_path / "bad.npy", array)
    with pytest.raises(ht.CubeFormatError, match=match) as info:
        read_labels(tmp_path / "bad.npy")
    assert "bad.npy" in str(info.value) and "field 'array'" in str(info.value)
    with pytest.raises(ht.InvalidOptionError, match=match):  # a bad argument, not a bad file
        write_labels(array, tmp_path / "out.h5")
    assert not (tmp_path / "out.h5").exists()


def test_multiband_envi_cube_is_not_a_label_map(tmp_path, rng):
    ht.write_cube(ht.Cube(rng.random((3, 4, 2)), [1000, 1100]), tmp_path / "cube.hdr")
    with pytest.raises(ht.CubeFormatError, match="one band") as info:
        read_labels(tmp_path / "cube.hdr")
    assert info.value.field == "bands"


def test_missing_and_unknown_files(tmp_path, labels):
    with pytest.raises(ht.MissingFileError, match=r"nothing\.png"):
        read_labels(tmp_path / "nothing.png")
    (tmp_path / "x.txt").write_text("0 1")
    with pytest.raises(ht.CubeFormatError, match=r"extension '\.txt'"):
        read_labels(tmp_path / "x.txt")
    with pytest.raises(ht.CubeFormatError, match=r"extension '\.png'"):
        write_labels(labels, tmp_path / "x.png")


def test_never_overwrites_silently(tmp_path, labels):
    path = write_labels(labels, tmp_path / "m.hdr")
    before = path.with_suffix(".img").read_bytes()
    with pytest.raises(ht.OutputExistsError):
        write_labels(labels + 1, path)
    assert path.with_suffix(".img").read_bytes() == before
    write_labels(labels + 1, path, overwrite=True)
    np.testing.assert_array_equal(read_labels(path), labels + 1)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.hdr", "m.img"]  # no temporaries


def test_reading_leaves_the_file_untouched(tmp_path, labels):
    path = write_labels(labels, tmp_path / "m.h5")
    before = path.read_bytes(), path.stat().st_mtime_ns
    read_labels(path)
    assert (path.read_bytes(), path.stat().st_mtime_ns) == before


def test_class_names_must_cover_the_ids(tmp_path, labels):
    with pytest.raises(ht.InvalidOptionError, match="no name for class id"):
        write_labels(labels, tmp_path / "m.h5", class_names={1: "normal"})
