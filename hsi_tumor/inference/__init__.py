"""Inference: whole cubes through a trained model, tile by tile, into tumor maps.

::

    import hsi_tumor as ht
    result = ht.classify_cube(cube, model, mask=ht.tissue_mask(cube))
    result.labels, result.tumor_probability, result.uncertainty

SVMs, linear classifiers and affine preprocessing are evaluated exactly with chunked matrix
products (:func:`fast_predictor`), random forests and extra trees by a compiled kernel over
blocks of pixels; anything else through scikit-learn, tile by tile. With
``device="cuda"`` (``hsi_tumor[gpu]``) they run on a GPU, tiles streamed from the host; cubes
in :func:`empty_pinned` memory cross the bus at its full speed. :func:`write_tumor_map` writes
a result (label and probability maps, PNG overlays, a summary) into a folder;
:func:`classify_to_folder` reads, classifies, smooths (:func:`smooth_tumor_map`) and writes
one cube, as ``hsi-tumor classify`` and each task of :func:`hsi_tumor.classify_many` do.
"""

from hsi_tumor.inference._classify import check_input_range, classify_cube
from hsi_tumor.inference._device import empty_pinned
from hsi_tumor.inference._fast import FastPredictor, fast_predictor
from hsi_tumor.inference._to_folder import (
    SMOOTHING_METHODS,
    check_smoothing,
    classify_to_folder,
    smooth_tumor_map,
)
from hsi_tumor.inference._tumor_map import TumorMap
from hsi_tumor.inference._tumor_map_io import TUMOR_MAP_FORMATS, write_tumor_map

__all__ = [
    "SMOOTHING_METHODS",
    "TUMOR_MAP_FORMATS",
    "FastPredictor",
    "TumorMap",
    "check_input_range",
    "check_smoothing",
    "classify_cube",
    "classify_to_folder",
    "empty_pinned",
    "fast_predictor",
    "smooth_tumor_map",
    "write_tumor_map",
]
