"""Metrics: numbers from predictions and the truth, per pixel — confusion counts, sensitivity,
specificity, AUC, Dice, fuzzy Dice and tumor-area error, the calibration of probabilities, and
the quality of an estimated tumor fraction (its error, calibration and interval coverage).

Plain functions of arrays, below the figures (:mod:`hsi_tumor.viz` draws them) and the
evaluation protocol (:mod:`hsi_tumor.evaluation`, which re-exports them).
"""

from hsi_tumor.metrics._calibration import ReliabilityCurve, reliability_curve
from hsi_tumor.metrics._fraction import (
    FractionCalibration,
    fraction_calibration,
    fraction_estimate_metrics,
)
from hsi_tumor.metrics._scores import (
    AUC_BINS,
    area_error,
    confusion_counts,
    fuzzy_dice,
    pixel_metrics,
)

__all__ = [
    "AUC_BINS",
    "FractionCalibration",
    "ReliabilityCurve",
    "area_error",
    "confusion_counts",
    "fraction_calibration",
    "fraction_estimate_metrics",
    "fuzzy_dice",
    "pixel_metrics",
    "reliability_curve",
]
