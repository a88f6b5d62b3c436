"""Per-pixel tumor fraction: how much of each pixel's area is tumor, with its uncertainty.

At a tumor's border a pixel is partly tumor (partial volume). :func:`train_fraction` learns
an estimator of that fraction from annotated pure tissue (and from partial-volume truth where
a cube carries one, as the simulator's do); :func:`estimate_fraction` applies it to a cube,
tile by tile, and returns a :class:`FractionMap` with the fraction, a 90 % interval, a
standard deviation and a flag for spectra outside the training domain.
"""

from hsi_tumor.fraction._estimate import estimate_fraction
from hsi_tumor.fraction._model import FractionMap, FractionModel
from hsi_tumor.fraction._persistence import KIND as _KIND
from hsi_tumor.fraction._to_folder import fraction_to_folder, write_fraction_map
from hsi_tumor.fraction._train import train_fraction
from hsi_tumor.fraction._unmixing import mesma_models, unmix
from hsi_tumor.models._persistence import register_model_kind

register_model_kind(_KIND)  # hsi_tumor.save_model / load_model handle FractionModel files

__all__ = [
    "FractionMap",
    "FractionModel",
    "estimate_fraction",
    "fraction_to_folder",
    "mesma_models",
    "train_fraction",
    "unmix",
    "write_fraction_map",
]
