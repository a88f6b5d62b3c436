"""The napari reader: every cube format hsi_tumor reads, and the label maps it writes.

napari calls :func:`get_reader` with a path (or a list of paths) the user opens; it returns
a function when the path is something :func:`hsi_tumor.read_cube` reads (ENVI, a Specim
capture folder, HDF5, MATLAB, NumPy), else None so that napari asks its other readers. A
Specim capture folder is calibrated to reflectance (:func:`hsi_tumor.calibration.as_cube`),
lazily; a file holding a 2-D map of class ids (or a one-band ENVI classification image) opens
as a Labels layer with its class names (:func:`hsi_tumor.io.read_labels`). A ``.npy`` cube,
which records no wavelengths, opens with a slider in band numbers (the library itself needs
``wavelengths=`` for it).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np

from hsi_tumor._shared.errors import CubeFormatError, HsiTumorError, WavelengthError
from hsi_tumor.calibration import as_cube
from hsi_tumor.cube import Cube
from hsi_tumor.io import READERS, read_labels
from hsi_tumor.napari._layers import LayerData, cube_layers, label_layer

__all__ = ["get_reader", "read"]

logger = logging.getLogger(__name__)


def get_reader(path: str | os.PathLike | list) -> Callable[[object], list[LayerData]] | None:
    """The reader function for ``path`` when hsi_tumor reads it, else None (napari's
    ``napari_get_reader`` contribution)."""
    paths = path if isinstance(path, list) else [path]
    if not paths or not all(_claims(Path(p)) for p in paths):
        return None
    return read


def _claims(path: Path) -> bool:
    try:
        return path.exists() and any(r.guess_can_open(path) for r in READERS.values())
    except (OSError, HsiTumorError):
        return False


def read(path: str | os.PathLike | list) -> list[LayerData]:
    """Layer data of one or more cube or label-map files (see the module docstring).

    Raises
    ------
    HsiTumorError
        What :func:`hsi_tumor.read_cube` raises for a malformed or truncated file (napari
        shows the message, which names the file, the field and the fix).
    """
    paths = path if isinstance(path, list) else [path]
    layers: list[LayerData] = []
    for p in paths:
        layers.extend(_read_one(Path(p)))
    return layers


def _read_one(path: Path) -> list[LayerData]:
    name = path.stem if path.is_file() else path.name
    try:
        cube = as_cube(path)
    except (CubeFormatError, WavelengthError) as cube_error:
        try:  # a 2-D map of class ids (HDF5 'labels', .npy, .mat, ENVI classification)
            return [_labels(path, name)]
        except HsiTumorError:
            pass
        if not (isinstance(cube_error, WavelengthError) and path.suffix.lower() == ".npy"):
            raise
        # a bare NumPy cube: no wavelengths to be had, shown with a band-number slider
        cube = Cube(np.load(path, mmap_mode="r"), None)
    if cube.n_bands == 1:
        try:
            return [_labels(path, name)]
        except HsiTumorError:
            pass  # a one-band image of measurements, not of class ids: show it as a cube
    logger.info("napari: opened %s as %s", path, cube)
    return cube_layers(cube, name, path=str(path))


def _labels(path: Path, name: str) -> LayerData:
    labels, names = read_labels(path, return_class_names=True)
    data, kwargs, kind = label_layer(labels, names, name)
    kwargs["metadata"]["path"] = str(path)
    return data, kwargs, kind
