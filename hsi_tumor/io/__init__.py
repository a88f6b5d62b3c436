"""Reading and writing hyperspectral cubes.

:func:`read_cube` picks a reader from the path through :data:`READERS` (one private module per
format: ``_envi``, ``_specim``, ``_hdf5``, ``_matlab``, ``_numpy``); :func:`write_cube` writes ENVI
or HDF5 atomically. :func:`read_capture` and :func:`write_capture` handle Specim capture folders.
"""

from hsi_tumor.io._envi import EnviReader, write_envi
from hsi_tumor.io._hdf5 import HDF5_EXTENSIONS, HDF5Reader, write_hdf5
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
    "read_capture",
    "read_cube",
    "register_reader",
    "write_capture",
    "write_cube",
]
