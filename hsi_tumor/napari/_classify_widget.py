"""The napari dock widget that trains, loads, saves and applies a tumor model.

``Plugins > hsi_tumor > Tumor classifier``. It works on a cube layer (from the hsi_tumor
reader, or any 3-D image with its bands first) and:

- **loads** a model file (:func:`hsi_tumor.load_model`: a classifier from
  :func:`hsi_tumor.train` or a tumor-fraction model from :func:`hsi_tumor.train_fraction`), or
  **trains** one from a Labels layer drawn on the cube (:func:`hsi_tumor.train`, class names
  from the layer or typed in), and **saves** it (:func:`hsi_tumor.save_model`);
- **classifies** the whole cube or the region in view (:func:`hsi_tumor.classify_cube`, or
  :func:`hsi_tumor.estimate_fraction` for a fraction model), inside the tissue mask or on every
  pixel, and adds the tumor probability, the class map, the uncertainty and the invalid /
  outside-the-training-domain pixels as layers in the colours of the figures
  (:mod:`hsi_tumor.napari._layers`).

Training and classification run on a worker thread (napari stays responsive, its activity
dock shows the running task with a busy bar); errors are shown in the widget and as napari
notifications, with the library's message (file, field, fix). The model in use is shared
with the spectrum panel (:func:`model_slot`).
"""

from __future__ import annotations

import logging
import weakref
from pathlib import Path
from typing import Any

import numpy as np
from psygnal import Signal
from qtpy.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from hsi_tumor._shared.errors import HsiTumorError, InvalidOptionError
from hsi_tumor.calibration import tissue_mask
from hsi_tumor.fraction import FractionModel, estimate_fraction
from hsi_tumor.inference import classify_cube
from hsi_tumor.models import CLASSIFIERS, TumorModel, load_model, save_model, train
from hsi_tumor.napari._layers import (
    CUBE_KEY,
    cube_of,
    fraction_layers,
    labels_class_names,
    tumor_map_layers,
)

__all__ = ["ClassifyWidget", "ModelSlot", "model_slot", "parse_class_names"]

logger = logging.getLogger(__name__)

#: What a new model is trained with unless changed in the widget (the demo's choice).
DEFAULT_PREPROCESSING = "snv, pca"


class ModelSlot:
    """The model in use in one napari viewer; ``changed`` is emitted with the new model."""

    changed = Signal(object)

    def __init__(self) -> None:
        self.model: TumorModel | FractionModel | None = None

    def set(self, model) -> None:
        self.model = model
        self.changed.emit(model)


_SLOTS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def model_slot(viewer) -> ModelSlot:
    """The :class:`ModelSlot` of ``viewer`` (made on first use)."""
    if viewer not in _SLOTS:
        _SLOTS[viewer] = ModelSlot()
    return _SLOTS[viewer]


def parse_class_names(text: str) -> dict[int, str] | None:
    """``"1: normal, 2: tumor"`` → ``{1: 'normal', 2: 'tumor'}``; blank → None.

    Raises
    ------
    InvalidOptionError
        If an entry is not ``id: name`` with a whole-number id above 0, or an id repeats.
    """
    names: dict[int, str] = {}
    for entry in filter(None, (e.strip() for e in text.replace(";", ",").split(","))):
        key, sep, name = entry.partition(":")
        try:
            cid = int(key.strip())
        except ValueError:
            cid = -1
        if not sep or cid < 1 or not name.strip() or cid in names:
            raise InvalidOptionError(
                f"class names: {entry!r} is not 'id: name' (or repeats an id)",
                field="class names",
                fix="write them as '1: normal, 2: tumor' (ids of the Labels layer, above 0)",
            )
        names[cid] = name.strip()
    return names or None


class ClassifyWidget(QWidget):
    """Train, load, save and apply a tumor model on a cube shown in napari.

    Parameters
    ----------
    napari_viewer : napari.viewer.Viewer
        Given by napari when the widget is opened from the Plugins menu.

    Notes
    -----
    The buttons call :meth:`load`, :meth:`train`, :meth:`save` and :meth:`classify`, which
    scripts and tests may call too; :meth:`train` and :meth:`classify` return the worker
    (``None`` when they refuse), ``self.busy`` is True while one runs.
    """

    def __init__(self, napari_viewer) -> None:
        super().__init__()
        self.viewer = napari_viewer
        self.slot = model_slot(napari_viewer)
        self.worker = None
        self.last_result: Any = None

        self.cube_combo = QComboBox()
        self.labels_combo = QComboBox()
        self.class_names_edit = QLineEdit()
        self.class_names_edit.setPlaceholderText("1: normal, 2: tumor")
        self.classifier_combo = QComboBox()
        self.classifier_combo.addItems(list(CLASSIFIERS))
        self.classifier_combo.setCurrentText("svm")
        self.preprocessing_edit = QLineEdit(DEFAULT_PREPROCESSING)
        self.model_label = QLabel("no model")
        self.model_label.setWordWrap(True)
        self.mask_combo = QComboBox()
        self.mask_combo.addItems(["tissue", "every pixel"])
        self.region_check = QCheckBox("only the region in view")
        self.resample_check = QCheckBox("resample onto the model's wavelengths")
        self.status = QLabel("")
        self.status.setWordWrap(True)

        load_button = QPushButton("Load model…")
        load_button.clicked.connect(self._choose_model)
        self.save_button = QPushButton("Save model…")
        self.save_button.clicked.connect(self._choose_save)
        self.train_button = QPushButton("Train from labels")
        self.train_button.clicked.connect(self.train)
        self.classify_button = QPushButton("Classify")
        self.classify_button.clicked.connect(self.classify)

        layout = QVBoxLayout(self)
        form = QFormLayout()
        form.addRow("cube", self.cube_combo)
        layout.addLayout(form)

        model_box = QGroupBox("model")
        model_layout = QVBoxLayout(model_box)
        row = QHBoxLayout()
        row.addWidget(load_button)
        row.addWidget(self.save_button)
        model_layout.addLayout(row)
        model_layout.addWidget(self.model_label)
        layout.addWidget(model_box)

        train_box = QGroupBox("train from a Labels layer drawn on the cube")
        train_form = QFormLayout(train_box)
        train_form.addRow("labels", self.labels_combo)
        train_form.addRow("class names", self.class_names_edit)
        train_form.addRow("classifier", self.classifier_combo)
        train_form.addRow("preprocessing", self.preprocessing_edit)
        train_form.addRow(self.train_button)
        layout.addWidget(train_box)

        classify_box = QGroupBox("classify")
        classify_form = QFormLayout(classify_box)
        classify_form.addRow("pixels", self.mask_combo)
        classify_form.addRow(self.region_check)
        classify_form.addRow(self.resample_check)
        classify_form.addRow(self.classify_button)
        layout.addWidget(classify_box)
        layout.addWidget(self.status)
        layout.addStretch()

        self.labels_combo.currentTextChanged.connect(self._fill_class_names)
        for event in (
            napari_viewer.layers.events.inserted,
            napari_viewer.layers.events.removed,
            napari_viewer.layers.events.reordered,
        ):
            event.connect(self._refresh)
        self.slot.changed.connect(self._show_model)
        self._refresh()
        self._show_model(self.slot.model)

    # -- state -----------------------------------------------------------------------------
    @property
    def busy(self) -> bool:
        return self.worker is not None

    @property
    def model(self):
        return self.slot.model

    def _refresh(self, *_) -> None:
        from napari.layers import Image, Labels

        def fill(combo: QComboBox, names: list[str]) -> None:
            current = combo.currentText()
            combo.blockSignals(True)
            combo.clear()
            combo.addItems(names)
            if current in names:
                combo.setCurrentText(current)
            combo.blockSignals(False)

        cubes = [
            layer.name
            for layer in self.viewer.layers
            if isinstance(layer, Image) and not layer.rgb and cube_of(layer) is not None
        ]
        cubes.sort(key=lambda n: CUBE_KEY not in self.viewer.layers[n].metadata)  # reader's first
        fill(self.cube_combo, cubes)
        before = self.labels_combo.currentText()
        fill(
            self.labels_combo,
            [layer.name for layer in self.viewer.layers if isinstance(layer, Labels)],
        )
        if self.labels_combo.currentText() != before or not self.class_names_edit.text():
            self._fill_class_names(self.labels_combo.currentText())

    def _fill_class_names(self, name: str) -> None:
        if not name or name not in self.viewer.layers:
            return
        layer = self.viewer.layers[name]
        names = labels_class_names(layer.metadata, getattr(layer, "features", None))
        if names:
            self.class_names_edit.setText(", ".join(f"{c}: {n}" for c, n in sorted(names.items())))

    def _show_model(self, model) -> None:
        if model is None:
            self.model_label.setText("no model: load one, or train one from labels")
        elif isinstance(model, FractionModel):
            self.model_label.setText(f"tumor-fraction model ({model.method})")
        else:
            wl = model.wavelengths
            bands = f"{model.n_bands} bands" + (
                "" if wl is None else f", {wl[0]:.0f}–{wl[-1]:.0f} nm"
            )
            classes = ", ".join(model.class_names.values())
            steps = " → ".join(model.preprocessing) or "no preprocessing"
            self.model_label.setText(f"{model.classifier}: {classes}; {steps}; {bands}")
        self.save_button.setEnabled(model is not None)

    def _say(self, text: str, *, error: bool = False) -> None:
        self.status.setText(text)
        self.status.setStyleSheet("color: #ff6b6b" if error else "")
        if error:
            from napari.utils.notifications import show_error

            show_error(text)
        logger.info("napari widget: %s", text)

    def _cube_layer(self):
        name = self.cube_combo.currentText()
        if not name or name not in self.viewer.layers:
            raise InvalidOptionError(
                "no cube layer",
                field="cube",
                fix="open a cube (File > Open, with the hsi_tumor reader) or add a 3-D image "
                "with its bands first",
            )
        return self.viewer.layers[name]

    # -- model -----------------------------------------------------------------------------
    def _choose_model(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Load a model", "", "hsi_tumor model (*)")
        if path:
            self.load(path)

    def _choose_save(self) -> None:
        path, _ = QFileDialog.getSaveFileName(
            self, "Save the model", "model.htmodel", "hsi_tumor model (*.htmodel)"
        )
        if path:
            self.save(path)

    def load(self, path) -> None:
        """Load a model file (classifier or tumor-fraction model) and use it."""
        try:
            model = load_model(path)
        except HsiTumorError as error:
            self._say(str(error), error=True)
            return
        self.slot.set(model)
        self._say(f"loaded {Path(path).name}")

    def save(self, path) -> Path | None:
        """Save the model in use (:func:`hsi_tumor.save_model`; an existing file is replaced,
        the save dialog asked first)."""
        if self.model is None:
            self._say("no model to save", error=True)
            return None
        try:
            written = save_model(self.model, path, overwrite=True)
        except HsiTumorError as error:
            self._say(str(error), error=True)
            return None
        self._say(f"saved {written.name}")
        return written

    # -- work on a thread ------------------------------------------------------------------
    def _start(self, work, done, what: str):
        from napari.qt.threading import create_worker

        if self.busy:
            self._say("busy: wait for the running task")
            return None
        worker = create_worker(  # errors: handled below; napari's activity dock shows it
            work, _start_thread=False, _ignore_errors=True, _progress={"desc": what}
        )
        worker.returned.connect(done)
        worker.errored.connect(lambda error: self._say(f"{what} failed: {error}", error=True))
        worker.finished.connect(self._finished)
        self.worker = worker
        for button in (self.train_button, self.classify_button):
            button.setEnabled(False)
        self._say(f"{what}…")
        worker.start()
        return worker

    def _finished(self) -> None:
        self.worker = None
        for button in (self.train_button, self.classify_button):
            button.setEnabled(True)

    def train(self):
        """Train a model from the chosen Labels layer on the chosen cube, on a worker thread.

        :func:`hsi_tumor.train` with the classifier, preprocessing (comma-separated step
        names, e.g. ``snv, pca``) and class names of the widget; pixels labelled 0 are not
        used, nor labelled pixels with a NaN/inf value or flagged invalid in the cube (a dead
        camera column painted over; the status line counts them). The new model replaces the
        one in use.
        """
        try:
            cube = cube_of(self._cube_layer())
            labels_name = self.labels_combo.currentText()
            if not labels_name:
                raise InvalidOptionError(
                    "no Labels layer",
                    field="labels",
                    fix="add a Labels layer on the cube and paint the classes (0 = unlabelled)",
                )
            labels = np.asarray(self.viewer.layers[labels_name].data)
            if labels.shape != cube.shape[:2]:
                raise InvalidOptionError(
                    f"the Labels layer '{labels_name}' is {labels.shape}, the cube "
                    f"{cube.shape[:2]}",
                    field="labels",
                    fix="draw the labels on this cube (napari: new Labels layer over it)",
                )
            if not self.class_names_edit.text().strip():
                self._fill_class_names(labels_name)
            names = parse_class_names(self.class_names_edit.text())
            preprocessing = [s.strip() for s in self.preprocessing_edit.text().split(",")]
            classifier = self.classifier_combo.currentText()
        except HsiTumorError as error:
            self._say(str(error), error=True)
            return None

        def work():
            usable = _without_invalid(cube, labels)
            left_out = int(np.count_nonzero(labels)) - int(np.count_nonzero(usable))
            model = train(
                cube,
                usable,
                classifier=classifier,
                preprocessing=[s for s in preprocessing if s],
                class_names=names,
                random_state=0,
                progress=False,
            )
            return model, left_out

        def done(value) -> None:
            model, left_out = value
            self.slot.set(model)
            n = model.training.get("n_pixels", "?")
            note = f" ({left_out} labelled pixels with NaN/inf left out)" if left_out else ""
            self._say(f"trained {model.classifier} on {n} labelled pixels{note}")

        return self._start(work, done, f"training {classifier}")

    def classify(self):
        """Classify the chosen cube (or the region in view) with the model in use, on a worker
        thread, and add the maps as layers (replacing the layers of an earlier run).

        A cube whose wavelengths differ from the model's is refused (the status names both
        ranges) unless *resample onto the model's wavelengths* is ticked (``resample=True`` of
        :func:`hsi_tumor.classify_cube`: linear interpolation of each spectrum).
        """
        try:
            layer = self._cube_layer()
            cube = cube_of(layer)
            model = self.model
            if model is None:
                raise InvalidOptionError(
                    "no model", field="model", fix="load a model file or train one from labels"
                )
            rows, cols = self._region(layer, cube)
        except HsiTumorError as error:
            self._say(str(error), error=True)
            return None
        region = cube[rows, cols]
        use_tissue = self.mask_combo.currentText() == "tissue"
        resample = self.resample_check.isChecked()
        name = layer.name + (" region" if self.region_check.isChecked() else "")
        translate = (rows.start, cols.start)

        def work():
            mask = tissue_mask(region) if use_tissue else None
            if isinstance(model, FractionModel):
                result = estimate_fraction(
                    region, model, mask=mask, resample=resample, progress=False
                )
                return result, fraction_layers(result, name, mask=mask, translate=translate)
            result = classify_cube(region, model, mask=mask, resample=resample, progress=False)
            return result, tumor_map_layers(result, name, mask=mask, translate=translate)

        def done(value) -> None:
            result, layers = value
            self.last_result = result
            for data, kwargs, kind in layers:
                if kwargs["name"] in self.viewer.layers:
                    self.viewer.layers.remove(kwargs["name"])
                getattr(self.viewer, f"add_{kind}")(data, **kwargs)
            self.viewer.layers.selection.active = self.viewer.layers[layer.name]
            self._say(_summary(result))

        return self._start(work, done, "classifying")

    def _region(self, layer, cube) -> tuple[slice, slice]:
        if not self.region_check.isChecked():
            return slice(0, cube.n_rows), slice(0, cube.n_cols)
        corners = np.asarray(layer.corner_pixels)[:, -2:]
        r0, c0 = np.clip(corners[0], 0, None).astype(int)
        r1 = int(min(cube.n_rows, corners[1][0] + 1))
        c1 = int(min(cube.n_cols, corners[1][1] + 1))
        if r1 <= r0 or c1 <= c0:
            raise InvalidOptionError(
                "the cube is not in view", field="region", fix="pan or zoom onto the cube"
            )
        return slice(int(r0), r1), slice(int(c0), c1)


def _without_invalid(cube, labels: np.ndarray) -> np.ndarray:
    """``labels`` with 0 where a labelled pixel has a non-finite value or is flagged invalid
    (:func:`hsi_tumor.train` refuses those); reads only the rows that hold labels, in tiles."""
    out = labels.copy()
    labelled_rows = np.flatnonzero(labels.any(axis=1))
    if labelled_rows.size == 0:
        return out
    first, last = int(labelled_rows[0]), int(labelled_rows[-1]) + 1
    for rows, tile in cube[first:last].tiles():
        block = np.asarray(tile.data)
        bad = ~np.isfinite(block).all(axis=2)
        if tile.valid is not None:
            valid = np.asarray(tile.valid)
            bad |= ~(valid.all(axis=2) if valid.ndim == 3 else valid)
        part = out[first + rows.start : first + rows.stop]
        part[bad] = 0
    return out


def _summary(result) -> str:
    if isinstance(getattr(result, "fraction", None), np.ndarray):
        estimated = int(np.count_nonzero(result.valid))
        mean = float(np.nanmean(result.fraction)) if estimated else float("nan")
        return f"tumor fraction estimated on {estimated} pixels (mean {mean:.2f})"
    counts = ", ".join(f"{n}: {k}" for n, k in result.counts().items())
    extra = (
        f"; {result.n_outlier} outside the training domain" if result.outlier is not None else ""
    )
    return f"classified {int(np.count_nonzero(result.valid))} pixels ({counts}){extra}"
