"""From camera counts to clean reflectance: white/dark calibration and tissue masking."""

from hsi_tumor.calibration._reflectance import CalibratedArray, calibrate, calibrate_capture
from hsi_tumor.calibration._tissue_mask import otsu_threshold, tissue_mask

__all__ = ["CalibratedArray", "calibrate", "calibrate_capture", "otsu_threshold", "tissue_mask"]
