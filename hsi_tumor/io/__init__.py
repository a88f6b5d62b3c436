"""Reading and writing hyperspectral cubes.

:func:`read_cube` picks a reader from the path through :data:`READERS` (one private module per
format: ``_envi``, ``_specim``, ``_hdf5``, ``_matlab``, ``_numpy``); :func:`write_cube` writes ENVI
or HDF5 atomically. :func:`read_capture` and :func:`write_capture` handle Specim capture folders.
:func:`read_labels` and :func:`write_labels` handle label maps (ENVI classification images, HDF5,
PNG/TIFF, NumPy, MATLAB); :func:`read_annotations` rasterises regions drawn in QuPath, ImageJ/Fiji
or napari. Every reader checks what a file declares against its size and the
memory budget before decoding it (:func:`memory_budget`, set with ``HSI_TUMOR_MEMORY_BUDGET``).
(``hsi_tumor.io.write_tumor_map`` moved to :func:`hsi_tumor.inference.write_tumor_map`, above
the figures it draws, and ``hsi_tumor.io.read_manifest`` to
:func:`hsi_tumor.datasets.read_manifest`, above calibration, which it needs for capture
folders; the old names still work, with a ``DeprecationWarning``.)
"""

import warnings

from hsi_tumor._shared.limits import memory_budget
from hsi_tumor.io._annotations import read_annotations
from hsi_tumor.io._envi import EnviReader, write_envi
from hsi_tumor.io._hdf5 import HDF5_EXTENSIONS, HDF5Reader, write_hdf5
from hsi_tumor.io._labels import read_labels, write_labels
from hsi_tumor.io._matlab import MatlabReader
from hsi_tumor.io._numpy import NumpyReader
from hsi_tumor.io._registry import (
    READERS,
    WRITERS,
    CubeReader,
    CubeWriter,
    read_cube,
    register_reader,
    write_cube,
)
from hsi_tumor.io._specim import Capture, SpecimReader, read_capture, write_capture

# Order matters when guessing: a capture folder, then the formats known by their extension, then
# ENVI, whose data files may have any extension (or none) beside their .hdr.
for _reader in (SpecimReader(), HDF5Reader(), MatlabReader(), NumpyReader(), EnviReader()):
    register_reader(_reader)
WRITERS["envi"] = CubeWriter(
    write_envi,
    (".hdr", ".img", ".raw", ".dat", ".bin", ".bsq", ".bil", ".bip"),
    "ENVI header + data file",
)
WRITERS["hdf5"] = CubeWriter(write_hdf5, HDF5_EXTENSIONS, "HDF5, chunked and compressed")

__all__ = [
    "READERS",
    "WRITERS",
    "Capture",
    "CubeReader",
    "CubeWriter",
    "memory_budget",
    "read_annotations",
    "read_capture",
    "read_cube",
    "read_labels",
    "register_reader",
    "write_capture",
    "write_cube",
    "write_labels",
]


#: Names that moved up a layer: where they live now (the old names warn, removed in 0.3).
_MOVED = {
    "write_tumor_map": "hsi_tumor.inference.write_tumor_map (also hsi_tumor.write_tumor_map)",
    "read_manifest": "hsi_tumor.datasets.read_manifest",
}


def __getattr__(name: str):
    """``hsi_tumor.io.write_tumor_map`` and ``read_manifest``: deprecated, moved up."""
    if name not in _MOVED:
        raise AttributeError(f"module 'hsi_tumor.io' has no attribute {name!r}")
    warnings.warn(
        f"hsi_tumor.io.{name} moved to {_MOVED[name]}; the old name will be removed in "
        "hsi_tumor 0.3",
        DeprecationWarning,
        stacklevel=2,
    )
    if name == "write_tumor_map":
        from hsi_tumor.inference._tumor_map_io import write_tumor_map

        return write_tumor_map
    from hsi_tumor.datasets._manifest import read_manifest

    return read_manifest
