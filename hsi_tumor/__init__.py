"""hsi_tumor: find tumors in near-infrared hyperspectral images.

The plain import API::

    import hsi_tumor as ht
    cube = ht.read_cube("specimen.hdr")      # ENVI, Specim folder, HDF5, .mat, .npy/.npz
    capture = ht.read_capture("specimen/")   # raw cube + white and dark references
    ht.write_cube(cube, "specimen.h5")       # atomic ENVI or HDF5 output
    reflectance = ht.calibrate_capture("specimen/")   # lazy, tile by tile
    mask = ht.tissue_mask(reflectance)       # specimen vs background and glare
"""

from importlib.metadata import PackageNotFoundError, version

from hsi_tumor._shared.errors import (
    CalibrationError,
    CalibrationWarning,
    CubeFormatError,
    HsiTumorError,
    InvalidOptionError,
    MissingFileError,
    OutputExistsError,
    WavelengthError,
)
from hsi_tumor.calibration import calibrate, calibrate_capture, tissue_mask
from hsi_tumor.cube import Cube
from hsi_tumor.datasets import simulate_cohort, simulate_specimen
from hsi_tumor.io import Capture, read_capture, read_cube, write_capture, write_cube
from hsi_tumor.preprocessing import transform_cube
from hsi_tumor.viz import pseudo_rgb

try:
    __version__ = version("hsi_tumor")
except PackageNotFoundError:  # pragma: no cover - running from a source tree without install
    __version__ = "0.0.0+unknown"

__all__ = [
    "CalibrationError",
    "CalibrationWarning",
    "Capture",
    "Cube",
    "CubeFormatError",
    "HsiTumorError",
    "InvalidOptionError",
    "MissingFileError",
    "OutputExistsError",
    "WavelengthError",
    "__version__",
    "calibrate",
    "calibrate_capture",
    "pseudo_rgb",
    "read_capture",
    "read_cube",
    "simulate_cohort",
    "simulate_specimen",
    "tissue_mask",
    "transform_cube",
    "write_capture",
    "write_cube",
]
