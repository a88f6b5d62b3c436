"""Evaluation: patient-wise cross-validation, tumor metrics with bootstrap confidence intervals,
and the quality of probability maps (calibration, fuzzy Dice, tumor-area error)."""

from hsi_tumor.evaluation._calibration import ReliabilityCurve, reliability_curve
from hsi_tumor.evaluation._evaluate import (
    LEAVE_ONE_PATIENT_OUT,
    RANDOM,
    Evaluation,
    Fold,
    Prediction,
    compare,
    evaluate,
)
from hsi_tumor.evaluation._metrics import (
    AUC_BINS,
    area_error,
    confusion_counts,
    fuzzy_dice,
    pixel_metrics,
)
from hsi_tumor.evaluation._report import write_report

__all__ = [
    "AUC_BINS",
    "LEAVE_ONE_PATIENT_OUT",
    "RANDOM",
    "Evaluation",
    "Fold",
    "Prediction",
    "ReliabilityCurve",
    "area_error",
    "compare",
    "confusion_counts",
    "evaluate",
    "fuzzy_dice",
    "pixel_metrics",
    "reliability_curve",
    "write_report",
]
