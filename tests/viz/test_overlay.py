"""Array overlays: class colours, class maps and probability maps over a background."""

from __future__ import annotations

import matplotlib
import matplotlib.colors as mcolors
import numpy as np
import pytest

import hsi_tumor as ht
from hsi_tumor._shared.errors import HsiTumorError, InvalidOptionError
from hsi_tumor.viz import class_colors, class_overlay, probability_overlay, pseudo_rgb


def test_class_colors_named_and_stable():
    names = {1: "Normal", 2: "tumor", 3: "background", 4: "blood"}
    colors = class_colors([1, 2, 3, 4, 5], names)
    tab10 = matplotlib.colormaps["tab10"].colors
    assert colors[2] == pytest.approx(tab10[3])  # red
    assert colors[1] == pytest.approx(tab10[2])  # green (case-insensitive name)
    assert colors[3] == pytest.approx(tab10[7])  # grey
    # unnamed / other classes: by id alone, whatever the other classes
    assert class_colors([4])[4] == colors[4] == class_colors([4, 9])[4]
    assert colors[4] != colors[5]
    assert len({colors[4], colors[5], colors[1], colors[2], colors[3]}) == 5
    assert all(0 <= v <= 1 for rgb in colors.values() for v in rgb)


def test_class_overlay_closed_form_blend(rng):
    labels = rng.integers(0, 4, size=(7, 9))
    background = rng.random((7, 9, 3)).astype(np.float32)
    names = {1: "normal", 2: "tumor"}
    alpha = 0.3
    out = class_overlay(
        labels, background=background, class_names=names, colors={3: "#0000ff"}, alpha=alpha
    )
    palette = class_colors([1, 2], names) | {3: (0.0, 0.0, 1.0)}
    expected = background.astype(np.float64).copy()
    for cid, rgb in palette.items():
        m = labels == cid
        expected[m] = (1 - alpha) * background[m] + alpha * np.array(rgb)
    assert out.dtype == np.float32 and out.shape == (7, 9, 3)
    np.testing.assert_allclose(out, expected, atol=1e-6)
    np.testing.assert_array_equal(out[labels == 0], background[labels == 0])


def test_class_overlay_grey_and_no_background():
    labels = np.array([[0, 2], [1, 0]])
    grey = np.array([[0.0, 10.0], [20.0, 40.0]])  # outside [0, 1]: stretched min-max
    out = class_overlay(labels, background=grey, colors={1: "white", 2: "black"}, alpha=0.5)
    np.testing.assert_allclose(out[0, 0], [0, 0, 0])
    np.testing.assert_allclose(out[1, 1], [1, 1, 1])
    np.testing.assert_allclose(out[0, 1], [0.125] * 3, atol=1e-6)  # 0.5 * 0.25 + 0.5 * 0
    np.testing.assert_allclose(out[1, 0], [0.75] * 3, atol=1e-6)  # 0.5 * 0.5 + 0.5 * 1
    # no background: black where unlabelled, opaque colours elsewhere
    bare = class_overlay(labels, colors={1: "white", 2: (0.2, 0.4, 0.6)})
    np.testing.assert_allclose(bare[0, 0], 0)
    np.testing.assert_allclose(bare[0, 1], [0.2, 0.4, 0.6], atol=1e-6)


def test_class_overlay_cube_background_is_pseudo_rgb(rng):
    cube = ht.Cube(rng.random((5, 6, 4)), [1000, 1100, 1200, 1300])
    labels = np.zeros((5, 6), dtype=int)
    np.testing.assert_allclose(class_overlay(labels, background=cube), pseudo_rgb(cube))


def test_probability_overlay_matches_colormap(rng):
    p = rng.random((6, 5))
    p[0, 0] = np.nan
    p[1, 1] = 1.7  # clipped to vmax
    background = rng.random((6, 5, 3))
    out = probability_overlay(p, background=background, cmap="viridis", alpha=0.6)
    norm = mcolors.Normalize(0, 1, clip=True)
    rgb = matplotlib.colormaps["viridis"](norm(np.nan_to_num(p)))[..., :3]
    expected = 0.4 * background + 0.6 * rgb
    expected[0, 0] = background[0, 0]
    np.testing.assert_allclose(out, expected, atol=1e-6)
    np.testing.assert_allclose(out[1, 1], 0.4 * background[1, 1] + 0.6 * np.array(rgb[1, 1]))


def test_probability_overlay_without_background_and_range():
    p = np.array([[2.0, 4.0], [np.nan, 3.0]])
    out = probability_overlay(p, cmap="gray", vmin=2, vmax=4)
    np.testing.assert_allclose(out[..., 0], [[0, 1], [0, 0.5]], atol=0.01)


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda: class_overlay(np.zeros((2, 2, 2), int)), "labels"),
        (lambda: class_overlay(np.full((2, 2), 0.5)), "labels"),
        (lambda: class_overlay(np.zeros((2, 2), int), background=np.zeros((3, 2))), "background"),
        (lambda: class_overlay(np.zeros((2, 2), int), alpha=1.5), "alpha"),
        (lambda: class_overlay(np.ones((2, 2), int), colors={1: "notacolour"}), "colors"),
        (lambda: probability_overlay(np.zeros((2, 2)), cmap="no-such-map"), "cmap"),
        (lambda: probability_overlay(np.zeros((2, 2)), vmin=1, vmax=1), "vmin"),
        (lambda: probability_overlay(np.zeros(4)), "probability"),
        (lambda: class_colors([1], ["tumor"]), "class_names"),
    ],
)
def test_bad_inputs_name_the_argument(call, field):
    with pytest.raises(HsiTumorError) as info:
        call()
    assert isinstance(info.value, InvalidOptionError)
    assert info.value.field == field
    assert info.value.fix


def test_sixteen_classes_get_sixteen_colours():
    colors = class_colors(range(1, 17))
    assert len(set(colors.values())) == 16
