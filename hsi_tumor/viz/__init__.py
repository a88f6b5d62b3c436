"""Figures and images (matplotlib, headless-safe; nothing here calls ``show()``).

Every ``plot_*`` function draws on an ``ax=`` it is given, or on a new
:class:`matplotlib.figure.Figure` made without pyplot (so no GUI backend or global state is
involved), and returns the Axes (or, for multi-panel figures, the Figure). Save with
:func:`save_figure`. The ``*_overlay`` functions return plain RGB arrays for
:func:`save_rgb_png`.
"""

from hsi_tumor.viz._evaluation import (
    plot_confusion_matrix,
    plot_patient_report,
    plot_reliability,
    plot_roc,
)
from hsi_tumor.viz._maps import plot_class_map, plot_probability, plot_rgb
from hsi_tumor.viz._overlay import class_colors, class_overlay, probability_overlay
from hsi_tumor.viz._rgb import default_rgb_wavelengths, pseudo_rgb, save_rgb_png
from hsi_tumor.viz._save import save_figure
from hsi_tumor.viz._spectra import plot_mean_spectra, plot_pca

__all__ = [
    "class_colors",
    "class_overlay",
    "default_rgb_wavelengths",
    "plot_class_map",
    "plot_confusion_matrix",
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
