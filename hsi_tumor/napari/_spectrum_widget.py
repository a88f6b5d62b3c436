"""The napari spectrum panel: a pixel's spectrum, or a region's mean ± SD, in nm, beside the
class means of the model in use.

``Plugins > hsi_tumor > Spectra``. Click on the cube (or its pseudo-RGB) and the panel plots
that pixel's spectrum; draw a polygon, rectangle or ellipse in a Shapes layer and it plots the
mean ± one standard deviation of the pixels inside the last shape drawn (pixel centres inside,
the rule of :func:`hsi_tumor.io.read_annotations`). The model of the classifier widget (loaded
or trained) adds the mean ± SD of each of its classes' training spectra
(``model.training['class_spectra']``, recorded by :func:`hsi_tumor.train`), in the classes'
colours; invalid values (NaN, inf) are left out.
"""

from __future__ import annotations

import logging
import warnings

import numpy as np
from matplotlib.backends.backend_qtagg import FigureCanvasQTAgg
from matplotlib.figure import Figure
from qtpy.QtWidgets import QLabel, QVBoxLayout, QWidget

from hsi_tumor._shared.classes import class_colors
from hsi_tumor._shared.errors import HsiTumorError
from hsi_tumor.cube import Cube
from hsi_tumor.io._annotations import napari_shape_mask
from hsi_tumor.napari._classify_widget import model_slot
from hsi_tumor.napari._layers import CUBE_KEY, cube_of

__all__ = ["SpectrumWidget", "class_spectra"]

logger = logging.getLogger(__name__)

#: Colour of the clicked pixel's or the region's spectrum (the class means take their colours).
_SPECTRUM_COLOR = "white"


def class_spectra(model) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """``{class name: (wavelengths, mean, sd)}`` of a model's training spectra; empty for a
    model without them (older files, tumor-fraction models, models without wavelengths)."""
    training = getattr(model, "training", None) or {}
    spectra = training.get("class_spectra") or {}
    wavelengths = getattr(model, "wavelengths", None)
    if wavelengths is None:
        return {}
    return {
        name: (np.asarray(wavelengths), np.asarray(s["mean"]), np.asarray(s["sd"]))
        for name, s in spectra.items()
    }


class SpectrumWidget(QWidget):
    """Plot spectra of the cube shown in napari (see the module docstring).

    Parameters
    ----------
    napari_viewer : napari.viewer.Viewer

    Notes
    -----
    :meth:`show_pixel` and :meth:`show_region` are what a click and a new shape call;
    ``self.curve`` holds what is plotted: ``(label, wavelengths or None, values, sd or None)``.
    """

    def __init__(self, napari_viewer) -> None:
        super().__init__()
        self.viewer = napari_viewer
        self.slot = model_slot(napari_viewer)
        self.curve: tuple | None = None
        self.figure = Figure(figsize=(4.5, 3.2), facecolor="#262930", layout="constrained")
        self.canvas = FigureCanvasQTAgg(self.figure)
        self.canvas.setMinimumHeight(240)
        self.band_label = QLabel("")
        self.axes = self.figure.add_subplot()
        self.hint = QLabel(
            "Click a pixel of the cube, or draw a shape in a Shapes layer for a region's mean ± SD."
        )
        self.hint.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.addWidget(self.canvas)
        layout.addWidget(self.band_label)
        layout.addWidget(self.hint)

        napari_viewer.mouse_drag_callbacks.append(self._on_click)
        napari_viewer.layers.events.inserted.connect(self._on_inserted)
        for layer in napari_viewer.layers:
            self._watch(layer)
        self.slot.changed.connect(lambda _: self._draw())
        napari_viewer.dims.events.current_step.connect(self._on_band)
        self._on_band()

    # -- which cube ------------------------------------------------------------------------
    def _cube_layer(self):
        """The active layer if it is a cube, else the topmost layer from the reader, else the
        topmost 3-D image."""
        from napari.layers import Image

        active = self.viewer.layers.selection.active
        if isinstance(active, Image) and CUBE_KEY in active.metadata:
            return active
        candidates = [
            layer
            for layer in reversed(self.viewer.layers)
            if isinstance(layer, Image) and cube_of(layer) is not None
        ]
        candidates.sort(key=lambda layer: CUBE_KEY not in layer.metadata)
        return candidates[0] if candidates else None

    # -- events ----------------------------------------------------------------------------
    def _on_click(self, viewer, event) -> None:
        if event.type != "mouse_press":
            return
        layer = self._cube_layer()
        if layer is None:
            return
        row, col = np.round(np.asarray(layer.world_to_data(event.position))[-2:]).astype(int)
        cube = cube_of(layer)
        if 0 <= row < cube.n_rows and 0 <= col < cube.n_cols:
            self.show_pixel(int(row), int(col), cube)

    def _on_inserted(self, event) -> None:
        self._watch(event.value)

    def _watch(self, layer) -> None:
        from napari.layers import Shapes

        if isinstance(layer, Shapes):
            layer.events.data.connect(lambda event, layer=layer: self._on_shapes(layer, event))

    def _on_shapes(self, layer, event) -> None:
        if getattr(event, "action", "added") not in ("added", "changed") or not len(layer.data):
            return
        cube_layer = self._cube_layer()
        if cube_layer is None:
            return
        cube = cube_of(cube_layer)
        offset = np.asarray(layer.translate)[-2:] - np.asarray(cube_layer.translate)[-2:]
        vertices = np.asarray(layer.data[-1])[:, -2:] + offset
        try:
            mask = napari_shape_mask(layer.shape_type[-1], vertices, cube.shape[:2])
        except HsiTumorError as error:  # a line or a path: no region
            self.hint.setText(str(error))
            return
        self.show_region(mask, cube, label=f"{layer.name}: last shape")

    def current_band(self) -> tuple[int, float | None] | None:
        """(band index, wavelength in nm or None) at the cube's slider, or None without a cube."""
        layer = self._cube_layer()
        if layer is None or layer.ndim != 3:
            return None
        cube = cube_of(layer)
        band = int(
            np.clip(np.round(layer.world_to_data(self.viewer.dims.point)[0]), 0, cube.n_bands - 1)
        )
        return band, None if cube.wavelengths is None else float(cube.wavelengths[band])

    def _on_band(self, *_) -> None:
        at = self.current_band()
        if at is None:
            self.band_label.setText("")
        else:
            band, nm = at
            self.band_label.setText(
                f"slider: band {band}" + ("" if nm is None else f", {nm:.1f} nm")
            )
        self._draw()

    # -- plotting --------------------------------------------------------------------------
    def show_pixel(self, row: int, col: int, cube: Cube | None = None) -> np.ndarray:
        """Plot the spectrum of pixel (row, col) of the cube; return it."""
        cube = cube if cube is not None else cube_of(self._cube_layer())
        values = np.asarray(cube.data[row, col, :], dtype=np.float64)
        self.curve = (f"pixel (row {row}, col {col})", _axis(cube), values, None)
        self._draw()
        return values

    def show_region(self, mask, cube: Cube | None = None, *, label: str = "region"):
        """Plot the mean ± SD (per band, finite values only) of the pixels where ``mask`` is
        True; return (mean, sd, number of pixels)."""
        cube = cube if cube is not None else cube_of(self._cube_layer())
        mask = np.asarray(mask, dtype=bool)
        n = int(mask.sum())
        if n == 0:
            self.hint.setText("the shape holds no pixel centre")
            return None
        rows = np.flatnonzero(mask.any(axis=1))
        cols = np.flatnonzero(mask.any(axis=0))
        block = np.asarray(
            cube.data[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1, :], dtype=np.float64
        )
        pixels = block[mask[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]]
        pixels = np.where(np.isfinite(pixels), pixels, np.nan)
        with warnings.catch_warnings():  # a band where every pixel is invalid: NaN, said once
            warnings.simplefilter("ignore", RuntimeWarning)
            mean = np.nanmean(pixels, axis=0)
            sd = np.nanstd(pixels, axis=0, ddof=1) if n > 1 else np.zeros_like(mean)
        self.curve = (f"{label} ({n} pixels), mean ± SD", _axis(cube), mean, sd)
        self._draw()
        return mean, sd, n

    def _draw(self) -> None:
        ax = self.axes
        ax.clear()
        ax.set_facecolor("#262930")
        for spine in ax.spines.values():
            spine.set_color("0.7")
        ax.tick_params(colors="0.85", labelsize=8)
        model = self.slot.model
        spectra = class_spectra(model)
        names = getattr(model, "class_names", {}) or {}
        colors = class_colors(list(names), names)
        by_name = {n: colors[c] for c, n in names.items()}
        for name, (wl, mean, sd) in spectra.items():
            color = by_name.get(name, "0.6")
            ax.plot(wl, mean, color=color, lw=1.2, label=f"{name} (training mean ± SD)")
            ax.fill_between(wl, mean - sd, mean + sd, color=color, alpha=0.2, lw=0)
        if self.curve is not None:
            label, wl, values, sd = self.curve
            wl = np.arange(values.size) if wl is None else wl
            ax.plot(wl, values, color=_SPECTRUM_COLOR, lw=1.5, label=label)
            if sd is not None:
                ax.fill_between(wl, values - sd, values + sd, color=_SPECTRUM_COLOR, alpha=0.25)
        at = self.current_band() if self.viewer.dims.ndim == 3 else None
        if at is not None and at[1] is not None and (ax.lines or self.curve is not None):
            ax.axvline(at[1], color="0.6", lw=0.8, ls=":")
        in_nm = self.curve is None or self.curve[1] is not None
        ax.set_xlabel("wavelength (nm)" if in_nm else "band", color="0.85", fontsize=9)
        ax.set_ylabel("value (reflectance)", color="0.85", fontsize=9)
        if ax.lines:
            legend = ax.legend(fontsize=7, facecolor="#262930", edgecolor="0.5", labelcolor="0.9")
            legend.set_draggable(True)
        self.canvas.draw_idle()


def _axis(cube: Cube) -> np.ndarray | None:
    return cube.wavelengths
