"""What every figure promises (issue 17): one documented palette with a legend entry for each
colour shown, maps of at least 400 px with colour bars, SIMULATED in the title of every figure
made from simulated data."""

from __future__ import annotations

import itertools
from pathlib import Path

import matplotlib.colors as mcolors
import matplotlib.image
import numpy as np
import pytest
from matplotlib.figure import Figure

import hsi_tumor as ht
import hsi_tumor.viz as viz
from hsi_tumor.inference import TumorMap
from hsi_tumor.viz import (
    PALETTE,
    class_colors,
    plot_class_map,
    plot_mean_spectra,
    plot_patient_report,
    plot_pca,
    plot_probability,
    plot_reliability,
    plot_rgb,
    plot_roc,
    save_figure,
)
from tests.viz._helpers import legend_texts

ROOT = Path(__file__).resolve().parents[2]
STATES = ("not classified", "invalid", "unlabelled", "outside training domain")


# -- the palette -------------------------------------------------------------------------------
def test_palette_has_six_distinct_colours():
    assert set(PALETTE) == {"tumor", "normal", *STATES}
    rgb = {k: np.array(mcolors.to_rgb(v)) for k, v in PALETTE.items()}
    for a, b in itertools.combinations(rgb, 2):
        assert np.linalg.norm(rgb[a] - rgb[b]) > 0.3, (a, b)
    # and none of the states can be taken for a class of the usual maps
    colors = class_colors([1, 2, 3], {1: "normal", 2: "tumor", 3: "background"})
    assert colors[1] == pytest.approx(rgb["normal"]) and colors[2] == pytest.approx(rgb["tumor"])
    for state in STATES:
        assert np.linalg.norm(np.array(colors[3]) - rgb[state]) > 0.2, state


@pytest.mark.parametrize("page", ["docs/user_guide.md", "hsi_tumor/viz/__init__.py"])
def test_palette_is_documented(page):
    text = (ROOT / page).read_text(encoding="utf-8")
    for key, word in {
        "tumor": "red",
        "normal": "green",
        "not classified": "blue-grey",
        "invalid": "magenta",
        "unlabelled": "light grey",
        "outside training domain": "cyan",
    }.items():
        assert f"{key}" in text and word in text, (page, key)
    if page.endswith(".md"):
        for colour in PALETTE.values():
            assert colour in text, colour


# -- legends -----------------------------------------------------------------------------------
@pytest.fixture
def cube_with_glare(rng):
    data = rng.random((20, 24, 6)) * 0.4 + 0.3
    data[3:5, 4:6, :] = np.nan  # saturated glare
    data[:, 17, 2] = np.nan  # a dead camera column in one band
    return ht.Cube(data, np.linspace(1000, 1500, 6))


def test_every_colour_shown_has_a_legend_entry(cube_with_glare):
    invalid = ~np.isfinite(cube_with_glare.data).all(axis=2)
    annotation = np.zeros((20, 24), int)
    annotation[8:12, 2:10], annotation[8:12, 12:22] = 1, 2
    names = {1: "normal", 2: "tumor"}
    ax = plot_class_map(annotation, background=cube_with_glare, class_names=names)
    assert legend_texts(ax) == ["normal", "tumor", "unlabelled", STATE_INVALID]
    predicted = np.where(invalid, 0, 1 + (np.arange(24) > 11)[None, :].repeat(20, 0))
    predicted[:2] = 0  # outside the mask
    tm = TumorMap(predicted, None, np.array([1, 2]), names, predicted > 0)
    ax = plot_class_map(tm, background=cube_with_glare)
    assert legend_texts(ax) == ["normal", "tumor", "not classified", STATE_INVALID]
    p = np.where(predicted > 0, 0.3, np.nan)
    ax = plot_probability(p, background=cube_with_glare)
    assert legend_texts(ax) == ["not classified", STATE_INVALID]
    assert legend_texts(plot_rgb(cube_with_glare)) == [STATE_INVALID]
    # the legend patches are the palette's colours
    patches = ax.get_legend().legend_handles
    assert patches[1].get_facecolor()[:3] == pytest.approx(mcolors.to_rgb(PALETTE["invalid"]))


STATE_INVALID = "invalid (glare, dead pixel)"


def test_glare_in_the_probability_panel_is_invalid_not_high(cube_with_glare):
    p = np.full((20, 24), 0.05)
    p[~np.isfinite(cube_with_glare.data).all(axis=2)] = np.nan
    ax = plot_probability(p, background=cube_with_glare)
    shown = ax.images[0].get_array()  # under the heat map, seen where it is masked
    glare = np.s_[3:5, 4:6]
    assert ax.images[-1].get_array().mask[glare].all()
    np.testing.assert_allclose(shown[glare].reshape(-1, 3), [mcolors.to_rgb("#ff00ff")] * 4)


# -- sizes -------------------------------------------------------------------------------------
def _tumor_map(shape=(12, 16)):
    labels = np.ones(shape, int)
    labels[4:8, 4:9] = 2
    p = np.stack([labels == 1, labels == 2], axis=-1).astype(np.float32) * 0.8 + 0.1
    return TumorMap(labels, p, np.array([1, 2]), {1: "normal", 2: "tumor"}, labels > 0)


def test_maps_are_at_least_400_px_with_colour_bars(tmp_path, rng):
    cube = ht.Cube(rng.random((12, 16, 5)), np.linspace(1000, 1400, 5))
    tm = _tumor_map()
    figures = {
        "rgb": plot_rgb(cube),
        "classes": plot_class_map(tm, background=cube),
        "probability": plot_probability(tm, background=cube),
        "report": plot_patient_report(cube, tm),
    }
    for name, fig in figures.items():
        image = matplotlib.image.imread(save_figure(fig, tmp_path / f"{name}.png"))
        assert min(image.shape[:2]) >= 400, name
    assert figures["probability"].images[-1].colorbar is not None


# -- SIMULATED ---------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def simulated():
    return ht.simulate_specimen(seed=0, shape=(30, 36), n_bands=20)


def test_figures_of_simulated_data_say_so(simulated):
    cube = simulated.cube
    tm = _tumor_map(cube.shape[:2])
    assert plot_rgb(cube).get_title().startswith("SIMULATED data: pseudo-RGB")
    assert plot_class_map(simulated.labels, background=cube, title="annotation").get_title() == (
        "SIMULATED data: annotation"
    )
    assert plot_probability(tm, background=cube).get_title() == "SIMULATED data"
    assert plot_mean_spectra(cube, simulated.labels).get_title() == "SIMULATED data"
    fig = plot_pca(cube, n_components=2)
    assert fig.get_suptitle().startswith("SIMULATED data")
    fig = plot_patient_report(cube, tm, title="P01")
    assert fig.get_suptitle() == "SIMULATED data: P01"
    assert "SIMULATED" not in "".join(ax.get_title() for ax in fig.axes)  # once, on top


def test_figures_of_measured_data_do_not(rng):
    cube = ht.Cube(rng.random((12, 16, 5)), np.linspace(1000, 1400, 5), {"patient": "P1"})
    assert "SIMULATED" not in plot_rgb(cube).get_title()
    assert plot_patient_report(cube, _tumor_map()).get_suptitle() == "Patient report: P1"


def test_save_figure_keeps_simulated_in_a_title_set_later(simulated, tmp_path):
    fig = Figure(layout="constrained")
    axes = fig.subplots(1, 2)
    plot_rgb(simulated.cube, ax=axes[0])
    plot_class_map(simulated.labels, ax=axes[1])  # no cube: does not know
    fig.suptitle("my comparison", fontsize=9)  # replaces the mark plot_rgb set
    save_figure(fig, tmp_path / "a.png")
    assert fig.get_suptitle() == "SIMULATED data: my comparison"
    assert fig._suptitle.get_fontsize() == 9
    # a single-axes figure: its title
    ax = plot_rgb(simulated.cube)
    ax.set_title("just the image")
    save_figure(ax, tmp_path / "b.png")
    assert ax.get_title() == "SIMULATED data: just the image"


def test_mark_simulated_on_your_own_figure(simulated):
    ax = Figure().add_subplot()
    ax.plot(simulated.wavelengths, simulated.cube.data[0, 0])
    assert viz.mark_simulated(ax, simulated) is True
    assert ax.get_title() == "SIMULATED data"
    assert viz.mark_simulated(Figure().add_subplot(), np.zeros(3)) is False


def test_reliability_and_roc_take_no_cube_so_callers_mark_them(simulated):
    y, p = [0, 0, 1, 1], [0.1, 0.4, 0.6, 0.9]
    ax = plot_reliability(y, p)
    viz.mark_simulated(ax, simulated)
    assert ax.get_title() == "SIMULATED data: reliability diagram"
    ax = plot_roc({"P1": (y, p)}, title="ROC")
    viz.mark_simulated(ax, [simulated])
    assert ax.get_title() == "SIMULATED data: ROC"
