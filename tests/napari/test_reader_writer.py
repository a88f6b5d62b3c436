from __future__ import annotations

import numpy as np
import pytest
import scipy.io

pytest.importorskip(
    "napari", reason="the napari plugin's tests need napari: pip install -e '.[test]'"
)

import hsi_tumor as ht
from hsi_tumor.io import read_labels, write_labels
from hsi_tumor.napari import get_reader
from hsi_tumor.napari._layers import CUBE_KEY, BandFirstArray, label_layer
from tests.conftest import shared_data_path

PLUGIN = "hsi_tumor"


@pytest.fixture(scope="module")
def specimen():
    return ht.simulate_specimen(seed=2, shape=(24, 30), n_bands=32)


def _write(kind: str, cube: ht.Cube, folder, specimen):
    if kind in ("envi", "hdf5"):
        path = folder / ("c.hdr" if kind == "envi" else "c.h5")
        ht.write_cube(cube, path)
        return path
    if kind == "mat":
        scipy.io.savemat(folder / "c.mat", {"cube": cube.data, "wavelengths": cube.wavelengths})
        return folder / "c.mat"
    if kind == "npy":
        np.save(folder / "c.npy", cube.data)
        return folder / "c.npy"
    return specimen.write_capture(folder / "P01")  # Specim capture folder


@pytest.mark.parametrize("kind", ["envi", "hdf5", "mat", "npy", "specim"])
def test_the_viewer_opens_every_cube_format(make_napari_viewer, tmp_path, specimen, kind):
    cube = ht.Cube(np.nan_to_num(specimen.cube.data).astype(np.float32), specimen.cube.wavelengths)
    path = _write(kind, cube, tmp_path, specimen)
    if kind == "npy":  # no wavelengths in the file
        expected = ht.Cube(np.load(path), None)
    else:
        expected = ht.calibration.as_cube(path).load()
    viewer = make_napari_viewer()
    layers = viewer.open(path, plugin=PLUGIN)
    cube_layer = next(layer for layer in layers if CUBE_KEY in layer.metadata and not layer.rgb)
    shown = cube_layer.metadata[CUBE_KEY]
    assert shown.shape == expected.shape
    np.testing.assert_array_equal(np.asarray(cube_layer.data[7]), expected.data[:, :, 7])
    if expected.wavelengths is not None:  # .npy carries none: the slider counts bands
        assert viewer.dims.axis_labels[0] == "wavelength"
        assert viewer.dims.range[0].start == pytest.approx(expected.wavelengths[0])
        assert viewer.dims.range[0].stop == pytest.approx(expected.wavelengths[-1])
        assert any(layer.rgb for layer in layers)


def test_the_reader_declines_what_it_does_not_read(tmp_path):
    (tmp_path / "photo.png").write_bytes(b"\x89PNG\r\n")
    assert get_reader(str(tmp_path / "photo.png")) is None
    assert get_reader(str(tmp_path / "missing.hdr")) is None


def test_a_truncated_cube_fails_with_the_librarys_message(make_napari_viewer, tmp_path, rng):
    ht.write_cube(ht.Cube(rng.random((8, 8, 5)), [900, 1000, 1100, 1200, 1300]), tmp_path / "t.hdr")
    data = tmp_path / "t.img"
    data.write_bytes(data.read_bytes()[:100])
    viewer = make_napari_viewer()
    with pytest.raises(Exception) as info:
        viewer.open(tmp_path / "t.hdr", plugin=PLUGIN)
    cause = info.value
    while cause is not None and not isinstance(cause, ht.HsiTumorError):
        cause = cause.__cause__ or cause.__context__
    assert isinstance(cause, ht.CubeFormatError) and "t.img" in str(cause)


@pytest.mark.parametrize("suffix", [".hdr", ".h5"])
def test_labels_drawn_in_napari_save_with_their_class_names(make_napari_viewer, tmp_path, suffix):
    labels = np.zeros((6, 7), dtype=np.uint8)
    labels[1:3, 1:4] = 1
    labels[4:, 5:] = 2
    viewer = make_napari_viewer()
    layer = viewer.add_labels(labels, name="drawn")
    layer.features = {"index": [0, 1, 2], "class": ["", "normal", "tumor"]}
    saved = viewer.layers.save(str(tmp_path / f"drawn{suffix}"), selected=False, plugin=PLUGIN)
    back, names = read_labels(saved[0], return_class_names=True)
    np.testing.assert_array_equal(back, labels)
    assert names == {1: "normal", 2: "tumor"}
    # and the reader opens them again as Labels with the names
    reopened = viewer.open(saved[0], plugin=PLUGIN)[0]
    assert reopened.metadata["class_names"] == {1: "normal", 2: "tumor"}
    np.testing.assert_array_equal(reopened.data, labels)


def test_label_maps_written_by_the_library_open_as_labels(make_napari_viewer, tmp_path):
    labels = np.array([[0, 1, 1], [2, 2, 0]], dtype=np.uint8)
    path = write_labels(labels, tmp_path / "truth.h5", class_names={1: "normal", 2: "tumor"})
    viewer = make_napari_viewer()
    (layer,) = viewer.open(path, plugin=PLUGIN)
    assert layer._type_string == "labels"
    expected = label_layer(labels, {1: "normal", 2: "tumor"}, "truth")[1]["colormap"]
    assert layer.colormap.map(np.array([2]))[0].tolist() == pytest.approx(list(expected[2]))


def test_the_real_indian_pines_cube_opens_lazily(make_napari_viewer):
    folder = shared_data_path("indian-pines")
    cube = ht.read_cube(
        folder / "Indian_pines_corrected.npy",
        wavelengths=folder / "Indian_pines_corrected_bands.csv",
    )
    from hsi_tumor.napari import cube_layers

    viewer = make_napari_viewer()
    for data, kwargs, kind in cube_layers(cube, "Indian Pines"):
        viewer._add_layer_from_data(data, kwargs, kind)
    shown = viewer.layers["Indian Pines"].data
    # AVIRIS lists its bands out of order: a lazy view of the memory-mapped file, not a copy
    assert isinstance(shown, BandFirstArray) and isinstance(shown.data.base, np.memmap)
    band = cube.band_index(1600.0)
    np.testing.assert_array_equal(
        shown[band], np.load(folder / "Indian_pines_corrected.npy")[:, :, band]
    )
    assert viewer.dims.range[0].start == pytest.approx(cube.wavelengths[0])
