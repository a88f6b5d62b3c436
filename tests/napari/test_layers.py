from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip(
    "napari", reason="the napari plugin's tests need napari: pip install -e '.[test]'"
)

import hsi_tumor as ht
from hsi_tumor.napari._layers import (
    CUBE_KEY,
    BandFirstArray,
    band_first,
    cube_layers,
    label_layer,
    labels_class_names,
    tumor_map_layers,
)
from hsi_tumor.viz import class_colors


def _cube(rng, shape=(12, 9, 6)):
    return ht.Cube(rng.random(shape).astype(np.float32), np.linspace(900, 1400, shape[2]))


def test_band_first_array_indexes_like_the_moved_axis(rng):
    data = rng.random((5, 4, 7))
    lazy = BandFirstArray(data)
    reference = np.moveaxis(data, -1, 0)
    assert lazy.shape == reference.shape == (7, 5, 4) and lazy.ndim == 3
    for key in [
        3,
        (3,),
        (2, slice(1, 4)),
        (slice(1, 6, 2), 0),
        (slice(None), 1, 2),
        (..., 1),
        (4, ..., slice(0, 2)),
        (np.int64(6), slice(None), slice(None)),
    ]:
        np.testing.assert_array_equal(lazy[key], reference[key], err_msg=str(key))
    np.testing.assert_array_equal(np.asarray(lazy), reference)


def test_cubes_are_shown_band_first_without_reading(tmp_path, rng):
    cube = _cube(rng)
    ht.write_cube(cube, tmp_path / "c.hdr")
    mapped = ht.read_cube(tmp_path / "c.hdr")
    view = band_first(mapped)
    assert isinstance(view, np.memmap) and np.shares_memory(view, mapped.data)
    ht.write_cube(cube, tmp_path / "c.h5")
    lazy = ht.read_cube(tmp_path / "c.h5")
    view = band_first(lazy)
    assert isinstance(view, BandFirstArray) and view.data is lazy.data
    np.testing.assert_array_equal(view[2], cube.data[:, :, 2])


def test_cube_layers_pseudo_rgb_and_a_slider_in_nm(rng):
    cube = _cube(rng)
    (rgb, rgb_kw, rgb_kind), (data, kw, kind) = cube_layers(cube, "c", path="c.hdr")
    assert rgb_kind == kind == "image" and rgb_kw["rgb"]
    np.testing.assert_array_equal(rgb, ht.pseudo_rgb(cube))
    assert kw["scale"] == (100.0, 1.0, 1.0) and kw["translate"] == (900.0, 0.0, 0.0)
    assert kw["axis_labels"] == ("wavelength", "y", "x") and kw["units"][0] == "nm"
    assert kw["metadata"][CUBE_KEY] is cube and kw["metadata"]["path"] == "c.hdr"
    # contrast: 1st-99th percentile of the pseudo-RGB bands (small cube: every pixel)
    bands = [cube.band_index(w) for w in ht.viz.default_rgb_wavelengths(cube)]
    expected = np.percentile(cube.data[:, :, bands], [1, 99])
    np.testing.assert_allclose(kw["contrast_limits"], expected)
    np.testing.assert_array_equal(data[4], cube.data[:, :, 4])


def test_label_layers_have_the_figures_colours_and_names():
    labels = np.array([[0, 1], [2, 3]])
    names = {1: "normal", 2: "tumor", 3: "fat"}
    _, kw, kind = label_layer(labels, names, "truth")
    assert kind == "labels" and kw["metadata"]["class_names"] == names
    colors = class_colors([1, 2, 3], names)
    for cid in (1, 2, 3):
        assert kw["colormap"][cid] == (*colors[cid], 1.0)
    assert kw["colormap"][0][3] == 0.0  # unlabelled is transparent
    assert list(kw["features"]["class"]) == ["unlabelled", "normal", "tumor", "fat"]


def test_class_names_from_metadata_or_features():
    import pandas as pd

    assert labels_class_names({"class_names": {"0": "none", "2": "tumor"}}) == {2: "tumor"}
    table = pd.DataFrame({"index": [0, 1, 2], "class": ["", "normal", "tumor"]})
    assert labels_class_names({}, table) == {1: "normal", 2: "tumor"}
    assert labels_class_names({}, pd.DataFrame({"index": [1], "area": [3.0]})) is None
    assert labels_class_names({}) is None


def test_tumor_map_layers_flag_invalid_pixels_inside_the_mask_only(rng):
    specimen = ht.simulate_specimen(seed=1, shape=(32, 40), n_bands=40)
    cube = specimen.cube
    model = ht.train(
        cube,
        specimen.labels,
        classifier="lda",
        class_names=specimen.class_names,
        random_state=0,
        progress=False,
    )
    mask = np.zeros(cube.shape[:2], bool)
    mask[:, :20] = True
    result = ht.classify_cube(cube, model, mask=mask, progress=False)
    layers = {kw["name"]: (data, kw) for data, kw, _ in tumor_map_layers(result, "m", mask=mask)}
    np.testing.assert_array_equal(layers["m classes"][0], result.labels)
    np.testing.assert_array_equal(layers["m tumor probability"][0], result.tumor_probability)
    invalid = mask & ~result.valid  # dead camera columns and glare; none outside the mask
    assert invalid.any() and (~mask & ~result.valid).any()
    np.testing.assert_array_equal(layers["m invalid"][0].astype(bool), invalid)
    assert result.n_outlier
    np.testing.assert_array_equal(layers["m outliers"][0].astype(bool), result.outlier)


def test_the_reader_and_writer_import_without_qt():
    import subprocess
    import sys

    code = (
        "import sys, hsi_tumor.napari as p; p.get_reader, p.write_labels; "
        "print(sorted(m for m in ('qtpy', 'PyQt6', 'napari') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
