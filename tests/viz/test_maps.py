"""Image figures: pseudo-RGB, class map with legend, probability heat map with colorbar."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.axes import Axes
from matplotlib.figure import Figure

import hsi_tumor as ht
from hsi_tumor._shared.errors import InvalidOptionError, WavelengthError
from hsi_tumor.inference import TumorMap
from hsi_tumor.viz import (
    class_colors,
    class_overlay,
    plot_class_map,
    plot_probability,
    plot_rgb,
    probability_overlay,
    pseudo_rgb,
)
from tests.viz._helpers import legend_texts


@pytest.fixture
def cube(rng):
    return ht.Cube(rng.random((6, 7, 5)), [1000, 1100, 1200, 1300, 1400])


def _tumor_map(rng, shape=(6, 7)):
    labels = rng.integers(1, 3, size=shape)
    labels[0, :] = 0
    p_tumor = rng.random(shape).astype(np.float32)
    p = np.stack([1 - p_tumor, p_tumor], axis=-1)
    p[labels == 0] = np.nan
    return TumorMap(labels, p, np.array([1, 2]), {1: "normal", 2: "tumor"}, labels > 0)


def test_plot_rgb_image_and_title(cube):
    ax = plot_rgb(cube, (1390, 1210, 1020))
    assert isinstance(ax, Axes) and isinstance(ax.figure, Figure)
    np.testing.assert_allclose(ax.images[0].get_array(), pseudo_rgb(cube, (1400, 1200, 1000)))
    assert ax.get_title() == "pseudo-RGB: R 1400, G 1200, B 1000 nm"  # the bands shown
    assert plot_rgb(cube, title="mine").get_title() == "mine"


def test_plot_rgb_on_given_axes_and_errors(cube):
    ax = Figure().add_subplot()
    assert plot_rgb(cube, ax=ax) is ax
    with pytest.raises(WavelengthError) as info:
        plot_rgb(cube, (1000, 1100))
    assert info.value.field == "wavelengths"
    with pytest.raises(WavelengthError):
        plot_rgb(cube, (1000, 1100, 3000))
    with pytest.raises(InvalidOptionError):
        plot_rgb(cube.data)
    with pytest.raises(InvalidOptionError):
        plot_rgb(cube, ax="not axes")


def test_plot_class_map_legend_lists_present_classes(rng, cube):
    labels = np.zeros((6, 7), dtype=int)
    labels[1:3] = 2
    labels[4:] = 7  # a class without a name: shown as its id
    names = {1: "normal", 2: "tumor"}
    ax = plot_class_map(labels, background=cube, class_names=names, alpha=0.4)
    assert legend_texts(ax) == ["tumor", "7", "unlabelled"]
    handles = ax.get_legend().legend_handles
    colors = class_colors([2, 7], names)
    np.testing.assert_allclose(handles[0].get_facecolor()[:3], colors[2])
    np.testing.assert_allclose(handles[1].get_facecolor()[:3], colors[7])
    expected = class_overlay(labels, background=pseudo_rgb(cube), class_names=names, alpha=0.4)
    np.testing.assert_allclose(ax.images[0].get_array(), expected)


def test_plot_class_map_accepts_tumor_map(rng):
    tm = _tumor_map(rng)
    ax = plot_class_map(tm, title="prediction")
    assert legend_texts(ax) == ["normal", "tumor", "not classified"]
    assert ax.get_title() == "prediction"
    # nothing labelled: the legend says so, no error
    assert legend_texts(plot_class_map(np.zeros((3, 3), dtype=int))) == ["unlabelled"]


def test_plot_class_map_shape_mismatch(cube):
    with pytest.raises(InvalidOptionError) as info:
        plot_class_map(np.ones((5, 7), dtype=int), background=cube)
    assert info.value.field == "background"


def test_plot_probability_nan_shows_not_classified_and_colorbar(rng, cube):
    p = rng.random((6, 7))
    p[2, 3] = np.nan
    ax = plot_probability(p, background=cube, cmap="viridis", vmin=0.2, vmax=0.9)
    assert len(ax.images) == 2  # not-classified / invalid layer, then the heat map
    heat = ax.images[1]
    data = heat.get_array()
    assert data.mask[2, 3] and data.mask.sum() == 1
    np.testing.assert_allclose(data.data[~data.mask], p[~np.isnan(p)])
    assert heat.get_clim() == (0.2, 0.9)
    assert heat.cmap(np.nan)[3] == 0  # NaN transparent: the layer below shows
    gaps = ax.images[0].get_array()
    expected = probability_overlay(np.full((6, 7), np.nan), background=pseudo_rgb(cube))
    np.testing.assert_allclose(gaps, expected)
    assert legend_texts(ax) == ["not classified"]
    cbar = heat.colorbar
    assert cbar is not None and cbar.ax.get_ylabel() == "tumor probability"


def test_plot_probability_tumor_map(rng):
    tm = _tumor_map(rng)
    ax = plot_probability(tm, label="p(tumor)")
    data = ax.images[-1].get_array()
    np.testing.assert_array_equal(data.mask, ~tm.valid)
    np.testing.assert_allclose(data.data[tm.valid], tm.tumor_probability[tm.valid], rtol=1e-6)
    no_tumor = TumorMap(tm.labels, tm.probabilities, tm.classes, {1: "a", 2: "b"}, tm.valid)
    with pytest.raises(InvalidOptionError) as info:
        plot_probability(no_tumor)
    assert info.value.field == "probability"


def test_plot_probability_errors():
    with pytest.raises(InvalidOptionError):
        plot_probability(np.zeros((2, 2, 2)))
    with pytest.raises(InvalidOptionError):
        plot_probability(np.zeros((2, 2)), vmin=1, vmax=0)
    with pytest.raises(InvalidOptionError):
        plot_probability(np.zeros((2, 2)), background=np.zeros((3, 3)))


def test_maps_of_a_tumor_map_show_its_outlier_pixels_with_a_legend_entry():

    labels = np.array([[1, 2, 2], [1, 0, 2]])
    tumor = np.array([[0.1, 0.8, 0.9], [0.2, np.nan, 0.7]], np.float32)
    tumor_map = TumorMap(
        labels,
        np.stack([1 - tumor, tumor], axis=2),
        np.array([1, 2]),
        {1: "normal", 2: "tumor"},
        labels > 0,
        n_masked=1,
        outlier=np.array([[False, False, True], [False, False, False]]),
    )
    ax = plot_class_map(tumor_map)
    assert legend_texts(ax) == ["normal", "tumor", "not classified", "outside training domain"]
    ax = plot_probability(tumor_map)
    assert legend_texts(ax) == ["not classified", "outside training domain"]
    assert ax.images[-1].get_array().mask.tolist() == [[False, False, True], [False, True, False]]
    tumor_map.outlier = None  # a model without a training domain: figures as before
    assert legend_texts(plot_class_map(tumor_map)) == ["normal", "tumor", "not classified"]
