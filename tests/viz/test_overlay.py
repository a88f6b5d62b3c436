"""Array overlays: class colours, class maps and probability maps over a background."""

from __future__ import annotations

import matplotlib
import matplotlib.colors as mcolors
import numpy as np
import pytest

import hsi_tumor as ht
from hsi_tumor._shared.errors import HsiTumorError, InvalidOptionError
from hsi_tumor.viz import PALETTE, class_colors, class_overlay, probability_overlay, pseudo_rgb


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


LUMA = np.array([0.2126, 0.7152, 0.0722])


def _rgb(name):
    return np.array(mcolors.to_rgb(PALETTE[name]))


def test_class_overlay_closed_form_shading(rng):
    labels = rng.integers(0, 4, size=(7, 9))
    background = rng.random((7, 9, 3)).astype(np.float32)
    names = {1: "normal", 2: "tumor"}
    alpha = 0.3
    out = class_overlay(
        labels, background=background, class_names=names, colors={3: "#0000ff"}, alpha=alpha
    )
    palette = class_colors([1, 2], names) | {3: (0.0, 0.0, 1.0), 0: tuple(_rgb("unlabelled"))}
    luma = background.astype(np.float64) @ LUMA
    expected = np.empty((7, 9, 3))
    for cid, rgb in palette.items():
        m = labels == cid
        a = 0.75 if cid == 0 else alpha  # label 0: its state's colour, flatter
        expected[m] = np.array(rgb) * (a + (1 - a) * luma[m])[:, None]
    assert out.dtype == np.float32 and out.shape == (7, 9, 3)
    np.testing.assert_allclose(out, expected, atol=1e-6)


def test_class_overlay_keeps_the_hue_on_dark_and_bright_backgrounds():
    # issue 17: red over dark blue tissue (an exposed tumor) showed navy or purple
    labels = np.full((1, 3), 2)
    background = np.array([[[0.0, 0.05, 0.35], [0.02, 0.02, 0.02], [1.0, 1.0, 1.0]]])
    out = class_overlay(labels, background=background, class_names={2: "tumor"}).astype(float)
    hue = mcolors.rgb_to_hsv(out)[0, :, 0]
    np.testing.assert_allclose(hue, mcolors.rgb_to_hsv(_rgb("tumor"))[0], atol=1e-3)
    assert (out[0, :, 0] > 0.4).all()  # still clearly red on the darkest tissue
    np.testing.assert_allclose(out[0, 2], _rgb("tumor"), atol=1e-6)  # flat on white


def test_class_overlay_grey_background_and_no_background():
    labels = np.array([[0, 2], [1, 0]])
    grey = np.array([[0.0, 10.0], [20.0, 40.0]])  # outside [0, 1]: stretched min-max
    out = class_overlay(labels, background=grey, colors={1: "white", 2: "red"}, alpha=0.5)
    np.testing.assert_allclose(out[0, 0], 0.75 * _rgb("unlabelled"), atol=1e-6)  # L = 0
    np.testing.assert_allclose(out[1, 1], _rgb("unlabelled"), atol=1e-6)  # L = 1
    np.testing.assert_allclose(out[0, 1], [0.625, 0, 0], atol=1e-6)  # red * (0.5 + 0.5 * 0.25)
    np.testing.assert_allclose(out[1, 0], [0.75] * 3, atol=1e-6)  # white * (0.5 + 0.5 * 0.5)
    # no background: every colour flat; 0 in a predicted map is "not classified"
    bare = class_overlay(
        labels, colors={1: "white", 2: (0.2, 0.4, 0.6)}, zero_means="not classified"
    )
    np.testing.assert_allclose(bare[0, 0], _rgb("not classified"), atol=1e-6)
    np.testing.assert_allclose(bare[0, 1], [0.2, 0.4, 0.6], atol=1e-6)


def test_class_overlay_cube_background_marks_invalid_pixels(rng):
    data = rng.random((5, 6, 4))
    data[1, 2, 3] = np.nan  # one band of one pixel (not among the three shown)
    valid = np.ones((5, 6), bool)
    valid[4, 0] = False  # flagged by calibration
    cube = ht.Cube(data, [1000, 1100, 1200, 1300], valid=valid)
    labels = np.zeros((5, 6), dtype=int)
    labels[1] = 2
    out = class_overlay(labels, background=cube, class_names={2: "tumor"})
    invalid = np.zeros((5, 6), bool)
    invalid[1, 2] = invalid[4, 0] = True
    np.testing.assert_allclose(out[invalid], np.tile(_rgb("invalid"), (2, 1)))
    rgb = pseudo_rgb(cube)
    expected = class_overlay(labels, background=rgb, class_names={2: "tumor"})
    np.testing.assert_allclose(out[~invalid], expected[~invalid])
    explicit = class_overlay(labels, background=rgb, invalid=invalid, class_names={2: "tumor"})
    np.testing.assert_allclose(explicit, out)


def test_probability_overlay_matches_colormap(rng):
    p = rng.random((6, 5))
    p[0, 0] = np.nan
    p[1, 1] = 1.7  # clipped to vmax
    background = rng.random((6, 5, 3))
    out = probability_overlay(p, background=background, cmap="viridis", alpha=0.6)
    norm = mcolors.Normalize(0, 1, clip=True)
    rgb = matplotlib.colormaps["viridis"](norm(np.nan_to_num(p)))[..., :3]
    expected = 0.4 * background + 0.6 * rgb
    luma = background[0, 0] @ LUMA
    expected[0, 0] = _rgb("not classified") * (0.75 + 0.25 * luma)
    np.testing.assert_allclose(out, expected, atol=1e-6)
    np.testing.assert_allclose(out[1, 1], 0.4 * background[1, 1] + 0.6 * np.array(rgb[1, 1]))
    # the default is opaque: the colours match the colorbar whatever the background
    np.testing.assert_allclose(
        probability_overlay(p, background=background, cmap="viridis")[1:], rgb[1:], atol=1e-6
    )


def test_probability_overlay_without_background_and_range():
    p = np.array([[2.0, 4.0], [np.nan, 3.0]])
    out = probability_overlay(p, cmap="gray", vmin=2, vmax=4)
    np.testing.assert_allclose(out[[0, 0, 1], [0, 1, 1], 0], [0, 1, 0.5], atol=0.01)
    np.testing.assert_allclose(out[1, 0], _rgb("not classified"), atol=1e-6)


def test_glare_is_never_drawn_as_a_probability(rng):
    # issue 17: NaN bands drew glare yellow/red, which over inferno read as high probability
    data = rng.random((6, 6, 5)) * 0.5 + 0.2
    data[2:4, 2:4, 3] = np.nan  # saturated in the band shown red (1300 nm)
    cube = ht.Cube(data, [1000, 1100, 1200, 1300, 1400])
    rgb = pseudo_rgb(cube)
    np.testing.assert_array_equal(rgb[2:4, 2:4], 0)  # black in all three, no false colour
    p = np.full((6, 6), 0.1)
    p[2:4, 2:4] = np.nan  # not classified: invalid
    out = probability_overlay(p, background=cube)
    np.testing.assert_allclose(out[2:4, 2:4].reshape(-1, 3), np.tile(_rgb("invalid"), (4, 1)))
    inferno = matplotlib.colormaps["inferno"](np.linspace(0, 1, 256))[:, :3]
    distance = np.linalg.norm(inferno - _rgb("invalid"), axis=1).min()
    assert distance > 0.5  # magenta is far from every inferno colour


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
        (lambda: class_overlay(np.ones((2, 2), int), zero_means="none"), "zero_means"),
        (lambda: class_overlay(np.ones((2, 2), int), invalid=np.zeros((3, 2), bool)), "invalid"),
        (lambda: probability_overlay(np.zeros((2, 2)), invalid=np.full((2, 2), 0.5)), "invalid"),
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


def test_outlier_pixels_are_cyan_over_classes_and_probabilities_but_invalid_wins():
    labels = np.array([[1, 2], [2, 0]])
    outlier = np.array([[True, False], [True, False]])
    invalid = np.array([[False, False], [True, False]])
    cyan = mcolors.to_rgb(PALETTE["outside training domain"])
    names = {1: "normal", 2: "tumor"}
    image = class_overlay(labels, class_names=names, outlier=outlier, invalid=invalid)
    np.testing.assert_allclose(image[0, 0], cyan)
    np.testing.assert_allclose(image[1, 0], mcolors.to_rgb(PALETTE["invalid"]))
    np.testing.assert_allclose(image[0, 1], mcolors.to_rgb(PALETTE["tumor"]))
    p = np.array([[0.2, 0.9], [0.5, np.nan]])
    image = probability_overlay(p, outlier=outlier, cmap="gray")
    np.testing.assert_allclose(image[0, 0], cyan)
    np.testing.assert_allclose(image[1, 0], cyan)
    np.testing.assert_allclose(image[0, 1], [0.9, 0.9, 0.9], atol=0.01)
    with pytest.raises(ht.InvalidOptionError, match="outlier") as info:
        class_overlay(labels, outlier=np.zeros((3, 2), bool))
    assert info.value.field == "outlier"
    with pytest.raises(ht.InvalidOptionError, match="boolean"):
        probability_overlay(p, outlier=np.zeros((2, 2)))
