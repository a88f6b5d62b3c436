from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip(
    "napari", reason="the napari plugin's tests need napari: pip install -e '.[test]'"
)

import hsi_tumor as ht
from hsi_tumor.napari import ClassifyWidget, SpectrumWidget
from hsi_tumor.napari._classify_widget import parse_class_names
from hsi_tumor.napari._layers import CUBE_KEY

PLUGIN = "hsi_tumor"


@pytest.fixture
def viewer(make_napari_viewer):
    viewer = make_napari_viewer(show=True)  # shown (on the virtual display): the view is drawn
    viewer.open_sample(PLUGIN, "simulated_specimen")
    return viewer


def _dock(viewer, name):
    _, widget = viewer.window.add_plugin_dock_widget(PLUGIN, name)
    return widget


def _wait(qtbot, widget, worker):
    assert worker is not None, widget.status.text()
    qtbot.waitUntil(lambda: not widget.busy, timeout=120_000)


def _lda(specimen):
    """An LDA model of a simulated specimen's annotation (quick to train)."""
    return ht.train(
        specimen.cube,
        specimen.labels,
        classifier="lda",
        class_names=specimen.class_names,
        random_state=0,
        progress=False,
    )


def _cube_layer(viewer):
    return next(layer for layer in viewer.layers if CUBE_KEY in layer.metadata and not layer.rgb)


def test_train_from_labels_then_classify_matches_the_library(viewer, qtbot):
    widget = _dock(viewer, "Tumor classifier")
    assert isinstance(widget, ClassifyWidget)
    layer = _cube_layer(viewer)
    assert widget.cube_combo.currentText() == layer.name
    truth = next(layer for layer in viewer.layers if layer.name.endswith("annotation"))
    widget.labels_combo.setCurrentText(truth.name)
    assert parse_class_names(widget.class_names_edit.text()) == {1: "normal", 2: "tumor"}
    widget.classifier_combo.setCurrentText("lda")
    widget.preprocessing_edit.setText("snv")
    _wait(qtbot, widget, widget.train())
    model = widget.model
    assert model.class_names == {1: "normal", 2: "tumor"} and model.preprocessing == ("snv",)

    _wait(qtbot, widget, widget.classify())
    cube = layer.metadata[CUBE_KEY]
    expected = ht.classify_cube(cube, model, mask=ht.tissue_mask(cube), progress=False)
    shown = viewer.layers[f"{layer.name} classes"]
    np.testing.assert_array_equal(shown.data, expected.labels)
    np.testing.assert_array_equal(
        viewer.layers[f"{layer.name} tumor probability"].data, expected.tumor_probability
    )
    assert shown.colormap.map(np.array([2]))[0][:3].tolist() == pytest.approx(
        list(ht.viz.class_colors([2], model.class_names)[2])
    )
    assert widget.status.text().startswith("classified")

    # again, on the region in view: the layers are replaced, placed where the region is
    viewer.camera.center = (0, 20, 30)
    viewer.camera.zoom = viewer.camera.zoom * 4
    qtbot.waitUntil(lambda: _cube_layer(viewer).corner_pixels[1, 1] < cube.n_rows - 1)
    widget.region_check.setChecked(True)
    _wait(qtbot, widget, widget.classify())
    region = viewer.layers[f"{layer.name} region classes"]
    r0, c0 = (int(t) for t in region.translate)
    rows, cols = region.data.shape
    assert 0 < rows * cols < cube.n_rows * cube.n_cols
    part = ht.classify_cube(
        cube[r0 : r0 + rows, c0 : c0 + cols],
        model,
        mask=ht.tissue_mask(cube[r0 : r0 + rows, c0 : c0 + cols]),
        progress=False,
    )
    np.testing.assert_array_equal(region.data, part.labels)


def test_models_load_save_and_errors_are_shown(viewer, qtbot, tmp_path):
    widget = _dock(viewer, "Tumor classifier")
    assert widget.classify() is None and "no model" in widget.status.text()
    widget.load(tmp_path / "missing.htmodel")
    assert "missing.htmodel" in widget.status.text()  # the library's message names the file
    model = _lda(ht.simulate_specimen(seed=5, shape=(32, 40), n_bands=100))
    path = ht.save_model(model, tmp_path / "m.htmodel")
    widget.load(path)
    assert widget.model.class_names == model.class_names and "lda" in widget.model_label.text()
    saved = widget.save(tmp_path / "again.htmodel")
    assert ht.load_model(saved).classifier == "lda"
    widget.class_names_edit.setText("1 normal")
    assert widget.train() is None and "id: name" in widget.status.text()


def test_a_fraction_model_gives_fraction_layers(viewer, qtbot):
    cohort = ht.simulate_cohort(2, seed=4, shape=(32, 40), n_bands=100)
    model = ht.train_fraction(list(cohort), method="unmixing", progress=False)
    widget = _dock(viewer, "Tumor classifier")
    widget.slot.set(model)
    _wait(qtbot, widget, widget.classify())
    layer = _cube_layer(viewer)
    cube = layer.metadata[CUBE_KEY]
    expected = ht.estimate_fraction(cube, model, mask=ht.tissue_mask(cube), progress=False)
    np.testing.assert_array_equal(
        viewer.layers[f"{layer.name} tumor fraction"].data, expected.fraction
    )


def test_spectra_of_a_pixel_and_a_region_beside_the_class_means(viewer, qtbot):
    classifier = _dock(viewer, "Tumor classifier")
    panel = _dock(viewer, "Spectra")
    assert isinstance(panel, SpectrumWidget)
    cube = _cube_layer(viewer).metadata[CUBE_KEY]

    # a real click on the canvas, on the centre of pixel (40, 62)
    from qtpy.QtCore import QPoint, Qt

    canvas = viewer.window._qt_viewer.canvas.native
    qtbot.waitUntil(lambda: canvas.width() > 100)
    zoom = viewer.camera.zoom  # screen pixels per cube pixel
    centre = np.asarray(viewer.camera.center)[-2:]
    x = canvas.width() / 2 + (62 - centre[1]) * zoom
    y = canvas.height() / 2 + (40 - centre[0]) * zoom
    assert zoom > 2 and panel._on_click in viewer.mouse_drag_callbacks
    qtbot.mouseClick(canvas, Qt.MouseButton.LeftButton, pos=QPoint(round(x), round(y)))
    qtbot.waitUntil(lambda: panel.curve is not None)
    label, wl, values, sd = panel.curve
    assert label == "pixel (row 40, col 62)" and sd is None
    np.testing.assert_array_equal(values, cube.data[40, 62, :])
    np.testing.assert_array_equal(wl, cube.wavelengths)

    shapes = viewer.add_shapes(ndim=2, name="region")
    shapes.add_rectangles(np.array([[30, 40], [50, 60]]))  # pixel centres 30..49 x 40..59
    label, _, mean, sd = panel.curve
    block = cube.data[30:50, 40:60, :].reshape(-1, cube.n_bands).astype(np.float64)
    assert "400 pixels" in label
    np.testing.assert_allclose(mean, np.nanmean(block, axis=0), rtol=1e-12)
    np.testing.assert_allclose(sd, np.nanstd(block, axis=0, ddof=1), rtol=1e-12)

    truth = next(layer for layer in viewer.layers if layer.name.endswith("annotation"))
    classifier.labels_combo.setCurrentText(truth.name)
    classifier.classifier_combo.setCurrentText("lda")
    _wait(qtbot, classifier, classifier.train())
    drawn = [line.get_label() for line in panel.axes.get_lines()]
    assert "normal (training mean ± SD)" in drawn and "tumor (training mean ± SD)" in drawn

    viewer.dims.set_current_step(0, 10)
    assert panel.band_label.text() == f"slider: band 10, {cube.wavelengths[10]:.1f} nm"


def test_the_walkthrough_of_the_docs_runs(make_napari_viewer, tmp_path):
    import matplotlib.image

    from tests.examples.test_examples import load

    shots = load("napari_walkthrough").main(str(tmp_path), make_napari_viewer(show=True))
    for path in shots:
        assert matplotlib.image.imread(path).shape[1] >= 1000  # the whole window
    assert ht.io.read_labels(tmp_path / "P01_annotation.h5", return_class_names=True)[1] == {
        1: "normal",
        2: "tumor",
    }
    assert ht.load_model(tmp_path / "P01_model.htmodel").class_names == {1: "normal", 2: "tumor"}


def test_a_wavelength_mismatch_is_refused_unless_resampling_is_asked(viewer, qtbot):
    widget = _dock(viewer, "Tumor classifier")
    model = _lda(ht.simulate_specimen(seed=6, shape=(32, 40), n_bands=80))  # 80 bands
    widget.slot.set(model)
    worker = widget.classify()
    _wait(qtbot, widget, worker)
    assert "classifying failed" in widget.status.text() and "nm" in widget.status.text()
    widget.resample_check.setChecked(True)
    _wait(qtbot, widget, widget.classify())
    assert widget.status.text().startswith("classified")
    cube = _cube_layer(viewer).metadata[CUBE_KEY]
    expected = ht.classify_cube(
        cube, model, mask=ht.tissue_mask(cube), resample=True, progress=False
    )
    np.testing.assert_array_equal(widget.last_result.labels, expected.labels)
