"""From camera counts to clean reflectance: white/dark calibration and tissue masking."""

from hsi_tumor.calibration._inputs import as_cube, is_capture
from hsi_tumor.calibration._reflectance import (
    CalibratedArray,
    CalibratedValidity,
    calibrate,
    calibrate_capture,
)
from hsi_tumor.calibration._tissue_mask import otsu_threshold, tissue_mask

__all__ = [
    "CalibratedArray",
    "CalibratedValidity",
    "as_cube",
    "calibrate",
    "calibrate_capture",
    "is_capture",
    "otsu_threshold",
    "tissue_mask",
]
