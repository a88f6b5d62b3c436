"""Metrics: numbers from predictions and the truth, per pixel — confusion counts, sensitivity,
specificity, AUC, Dice, fuzzy Dice and tumor-area error, and the calibration of probabilities.

Plain functions of arrays, below the figures (:mod:`hsi_tumor.viz` draws them) and the
evaluation protocol (:mod:`hsi_tumor.evaluation`, which re-exports them).
"""

from hsi_tumor.metrics._calibration import ReliabilityCurve, reliability_curve
from hsi_tumor.metrics._scores import (
    AUC_BINS,
    area_error,
    confusion_counts,
    fuzzy_dice,
    pixel_metrics,
)

__all__ = [
    "AUC_BINS",
    "ReliabilityCurve",
    "area_error",
    "confusion_counts",
    "fuzzy_dice",
    "pixel_metrics",
    "reliability_curve",
]
