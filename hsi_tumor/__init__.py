"""hsi_tumor: find tumors in near-infrared hyperspectral images.

The plain import API::

    import hsi_tumor as ht
    cube = ht.read_cube("specimen.hdr")      # ENVI, Specim folder, HDF5, .mat, .npy/.npz
    capture = ht.read_capture("specimen/")   # raw cube + white and dark references
    ht.write_cube(cube, "specimen.h5")       # atomic ENVI or HDF5 output
    reflectance = ht.calibrate_capture("specimen/")   # lazy, tile by tile
    mask = ht.tissue_mask(reflectance)       # specimen vs background and glare
    model = ht.train(cubes, label_maps, classifier="svm", groups=patient_ids,
                     class_names={1: "normal", 2: "tumor"})
    result = ht.classify_cube(reflectance, model, mask=mask)   # labels + probabilities
    fractions = ht.estimate_fraction(reflectance, ht.train_fraction(specimens), mask=mask)
    ht.save_model(model, "model.htmodel")    # safe to share: no code runs on load
    smooth = ht.knn_filter(result.probabilities, ht.principal_component_guide(reflectance))
    scores = ht.evaluate(cohort, classifier="svm", cv="leave-one-patient-out")  # by patient
    batch = ht.classify_many(paths, model, "maps/")   # many cubes, here; client="local" or an
                                                      # address: on Dask (hsi_tumor[distributed])
"""

from hsi_tumor._shared.errors import (
    BatchError,
    CalibrationError,
    CalibrationWarning,
    CubeFormatError,
    CubeIndexError,
    DeviceError,
    HsiTumorError,
    HsiTumorWarning,
    InvalidOptionError,
    InvalidParameterError,
    InvalidTypeError,
    MissingDependencyError,
    MissingFileError,
    ModelFileError,
    NoValidPixelsError,
    OutputExistsError,
    ReferenceWarning,
    TrainingDataError,
    UnknownClassError,
    WavelengthError,
)
from hsi_tumor._shared.version import __version__
from hsi_tumor.calibration import calibrate, calibrate_capture, tissue_mask
from hsi_tumor.cube import Cube
from hsi_tumor.datasets import Specimen, simulate_cohort, simulate_specimen
from hsi_tumor.distributed import classify_many
from hsi_tumor.evaluation import evaluate
from hsi_tumor.fraction import FractionMap, FractionModel, estimate_fraction, train_fraction
from hsi_tumor.inference import TumorMap, classify_cube, write_tumor_map
from hsi_tumor.io import Capture, read_capture, read_cube, write_capture, write_cube
from hsi_tumor.models import TumorModel, load_model, save_model, train
from hsi_tumor.preprocessing import transform_cube
from hsi_tumor.spatial import (
    knn_filter,
    majority_filter,
    morphological_cleanup,
    principal_component_guide,
    remove_small_regions,
)
from hsi_tumor.viz import pseudo_rgb

__all__ = [
    "BatchError",
    "CalibrationError",
    "CalibrationWarning",
    "Capture",
    "Cube",
    "CubeFormatError",
    "CubeIndexError",
    "DeviceError",
    "FractionMap",
    "FractionModel",
    "HsiTumorError",
    "HsiTumorWarning",
    "InvalidOptionError",
    "InvalidParameterError",
    "InvalidTypeError",
    "MissingDependencyError",
    "MissingFileError",
    "ModelFileError",
    "NoValidPixelsError",
    "OutputExistsError",
    "ReferenceWarning",
    "Specimen",
    "TrainingDataError",
    "TumorMap",
    "TumorModel",
    "UnknownClassError",
    "WavelengthError",
    "__version__",
    "calibrate",
    "calibrate_capture",
    "classify_cube",
    "classify_many",
    "estimate_fraction",
    "evaluate",
    "knn_filter",
    "load_model",
    "majority_filter",
    "morphological_cleanup",
    "principal_component_guide",
    "pseudo_rgb",
    "read_capture",
    "read_cube",
    "remove_small_regions",
    "save_model",
    "simulate_cohort",
    "simulate_specimen",
    "tissue_mask",
    "train",
    "train_fraction",
    "transform_cube",
    "write_capture",
    "write_cube",
    "write_tumor_map",
]
