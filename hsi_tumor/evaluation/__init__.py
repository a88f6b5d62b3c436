"""Evaluation: patient-wise cross-validation, tumor metrics with bootstrap confidence intervals,
and the quality of probability maps (calibration, fuzzy Dice, tumor-area error).

The metrics themselves live in :mod:`hsi_tumor.metrics` and are re-exported here."""

from hsi_tumor.evaluation._evaluate import compare, evaluate
from hsi_tumor.evaluation._folds import LEAVE_ONE_PATIENT_OUT, RANDOM
from hsi_tumor.evaluation._report import write_report
from hsi_tumor.evaluation._results import Evaluation, Fold, Prediction
from hsi_tumor.metrics import (
    AUC_BINS,
    FractionCalibration,
    ReliabilityCurve,
    area_error,
    confusion_counts,
    fraction_calibration,
    fraction_estimate_metrics,
    fuzzy_dice,
    pixel_metrics,
    reliability_curve,
)

__all__ = [
    "AUC_BINS",
    "LEAVE_ONE_PATIENT_OUT",
    "RANDOM",
    "Evaluation",
    "Fold",
    "FractionCalibration",
    "Prediction",
    "ReliabilityCurve",
    "area_error",
    "compare",
    "confusion_counts",
    "evaluate",
    "fraction_calibration",
    "fraction_estimate_metrics",
    "fuzzy_dice",
    "pixel_metrics",
    "reliability_curve",
    "write_report",
]
