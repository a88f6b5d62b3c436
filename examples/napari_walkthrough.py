"""The napari walk-through of docs/napari.md, run headless: annotate → train → classify → look.

On the demo's simulated cohort (``simulate_cohort(7, seed=0, shape=(96, 120), n_bands=100)``,
the cohort ``make demo`` makes): patient 1's calibrated cube is written as ENVI and opened with
the plugin's reader; a pathologist's annotation is painted on it as a Labels layer (here: the
simulator's pathologist-style annotation, sure-tumor and sure-normal regions with the
uncertain margins left unlabelled) and saved with the plugin's writer; the Tumor classifier
widget trains an SVM (SNV → PCA) from it, and the script prints what that model makes of
held-out patient 7; a model trained on the six training patients (as ``make demo`` trains it)
is loaded; patient 7 is opened and classified; the Spectra panel shows a tumor pixel's spectrum
beside the class means. Two screenshots of the whole window are written.

Run: ``xvfb-run -a python examples/napari_walkthrough.py [OUT]`` (napari needs a display;
``pip install 'hsi_tumor[napari]'``). The data is SIMULATED.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
from scipy import ndimage

import hsi_tumor as ht
from hsi_tumor.napari import label_layer

PLUGIN = "hsi_tumor"


def _settle(app, seconds: float = 0.3) -> None:
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        app.processEvents()
        time.sleep(0.01)


def _wait(app, widget) -> None:
    while widget.busy:
        _settle(app, 0.05)
    if "failed" in widget.status.text():
        raise RuntimeError(widget.status.text())


def main(out_dir: str = "out/examples", viewer=None) -> list[Path]:
    import napari
    from qtpy.QtWidgets import QApplication

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    cohort = ht.simulate_cohort(7, seed=0, shape=(96, 120), n_bands=100)
    train_sim, held_sim = cohort[0], cohort[-1]
    for sim, name in ((train_sim, "P01"), (held_sim, "P07")):
        if not (out / f"{name}.hdr").exists():
            ht.write_cube(sim.cube, out / f"{name}.hdr")

    viewer = viewer or napari.Viewer(show=True)
    viewer.window.resize(1500, 900)
    app = QApplication.instance()
    _, classifier = viewer.window.add_plugin_dock_widget(PLUGIN, "Tumor classifier")
    _, spectra = viewer.window.add_plugin_dock_widget(PLUGIN, "Spectra")

    # 1. open patient 1 and paint the annotation, save it with the class names
    viewer.open(out / "P01.hdr", plugin=PLUGIN)
    data, kwargs, _ = label_layer(train_sim.labels, {1: "normal", 2: "tumor"}, "P01 annotation")
    viewer.add_labels(data, **kwargs)  # the figures' colours; napari's own would do as well
    saved = out / "P01_annotation.h5"
    saved.unlink(missing_ok=True)
    viewer.layers["P01 annotation"].save(str(saved), plugin=PLUGIN)

    # 2. train from it
    classifier.cube_combo.setCurrentText("P01")
    classifier.labels_combo.setCurrentText("P01 annotation")
    classifier.classifier_combo.setCurrentText("svm")
    classifier.preprocessing_edit.setText("snv, pca")
    classifier.train()
    _wait(app, classifier)
    classifier.save(out / "P01_model.htmodel")
    spectra.show_pixel(
        *_tumor_pixel(train_sim.labels), viewer.layers["P01"].metadata["hsi_tumor_cube"]
    )
    _settle(app, 0.5)
    shots = [out / "napari_annotate_train.png"]
    viewer.screenshot(str(shots[0]), canvas_only=False)

    # 3. one annotated specimen is too little to generalise: P07 classified with it
    held = ht.read_cube(out / "P07.hdr")
    alone = ht.classify_cube(held, classifier.model, mask=ht.tissue_mask(held), progress=False)
    print(
        f"P07 with the model of P01 alone: {alone.counts()['tumor']} of "
        f"{int(alone.valid.sum())} tissue pixels called tumor, {alone.n_outlier} outside the "
        "training domain"
    )
    # so load a model trained on the six patients' annotations, as `make demo` and
    # `hsi-tumor train` make it
    cohort_model = ht.train(
        list(cohort)[:-1],
        classifier="svm",
        preprocessing=("snv", "pca"),
        random_state=0,
        progress=False,
    )
    classifier.load(ht.save_model(cohort_model, out / "cohort_model.htmodel", overwrite=True))

    # 4. classify the held-out patient, look at the map and a tumor pixel's spectrum
    for layer in list(viewer.layers):
        layer.visible = False
    viewer.open(out / "P07.hdr", plugin=PLUGIN)
    classifier.cube_combo.setCurrentText("P07")
    classifier.classify()
    _wait(app, classifier)
    viewer.layers["P07 classes"].visible = False
    viewer.layers.selection.active = viewer.layers["P07"]
    row, col = _tumor_pixel(held_sim.labels)
    spectra.show_pixel(row, col)
    viewer.reset_view()
    _settle(app, 0.5)
    shots.append(out / "napari_classify_spectra.png")
    viewer.screenshot(str(shots[1]), canvas_only=False)
    print(classifier.status.text())
    return shots


def _tumor_pixel(labels: np.ndarray) -> tuple[int, int]:
    """The tumor pixel deepest inside the tumor (farthest from any other class)."""
    depth = ndimage.distance_transform_edt(labels == 2)
    row, col = np.unravel_index(int(np.argmax(depth)), labels.shape)
    return int(row), int(col)


if __name__ == "__main__":
    for path in main(*sys.argv[1:]):
        print(f"wrote {path}")
