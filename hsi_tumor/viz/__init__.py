"""Figures and images (matplotlib, headless-safe; nothing here calls ``show()``).

Every ``plot_*`` function draws on an ``ax=`` it is given, or on a new
:class:`matplotlib.figure.Figure` made without pyplot (so no GUI backend or global state is
involved), and returns the Axes (or, for multi-panel figures, the Figure). Save with
:func:`save_figure`. The ``*_overlay`` functions return plain RGB arrays for
:func:`save_rgb_png`.

Conventions of every figure:

* **One palette**, :data:`PALETTE`: tumor red, normal green, not classified blue-grey, invalid
  (NaN, saturated glare, dead camera column) magenta, unlabelled light grey, and cyan for
  pixels outside training domain (``TumorMap.outlier``: flat over the class or probability,
  whose value is an extrapolation there); other classes get stable qualitative colours
  (:func:`class_colors`). Each colour a map shows has a legend entry.
* **Readable on any tissue**: over a background image, colours keep their hue and take the
  background's brightness (:func:`class_overlay`); probabilities are drawn opaque against
  their colorbar; invalid pixels are flat magenta, never a probability.
* **SIMULATED in the title** of every figure drawn from simulated data: the plotting functions
  tell from the cube (:func:`mark_simulated`) and :func:`save_figure` checks again on saving.
"""

from hsi_tumor._shared.classes import PALETTE
from hsi_tumor.viz._common import mark_simulated
from hsi_tumor.viz._evaluation import (
    plot_confusion_matrix,
    plot_patient_report,
    plot_reliability,
    plot_roc,
)
from hsi_tumor.viz._fraction import (
    plot_fraction,
    plot_fraction_calibration,
    plot_fraction_uncertainty,
)
from hsi_tumor.viz._maps import plot_class_map, plot_probability, plot_rgb
from hsi_tumor.viz._overlay import class_colors, class_overlay, probability_overlay
from hsi_tumor.viz._rgb import default_rgb_wavelengths, pseudo_rgb, save_rgb_png
from hsi_tumor.viz._save import save_figure
from hsi_tumor.viz._spectra import plot_mean_spectra, plot_pca

__all__ = [
    "PALETTE",
    "class_colors",
    "class_overlay",
    "default_rgb_wavelengths",
    "mark_simulated",
    "plot_class_map",
    "plot_confusion_matrix",
    "plot_fraction",
    "plot_fraction_calibration",
    "plot_fraction_uncertainty",
    "plot_mean_spectra",
    "plot_patient_report",
    "plot_pca",
    "plot_probability",
    "plot_reliability",
    "plot_rgb",
    "plot_roc",
    "probability_overlay",
    "pseudo_rgb",
    "save_figure",
    "save_rgb_png",
]
