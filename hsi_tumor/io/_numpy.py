"""NumPy files: ``.npy`` memory-mapped, ``.npz`` archives; wavelengths given or in a band table."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from hsi_tumor._shared.errors import CubeFormatError
from hsi_tumor.cube import Cube
from hsi_tumor.io._common import build_cube, is_wavelength_name, pick_variable

logger = logging.getLogger("hsi_tumor.io")

__all__ = ["NumpyReader", "band_table_beside"]

#: Band tables looked for beside ``NAME.npy`` when no ``wavelengths=`` is given.
BAND_TABLE_SUFFIXES = ("_bands.csv", "_wavelengths.csv", ".wavelengths.csv")


def band_table_beside(path: Path) -> Path | None:
    """Return the band table ``NAME_bands.csv`` (or another of BAND_TABLE_SUFFIXES) if present."""
    for suffix in BAND_TABLE_SUFFIXES:
        candidate = path.with_name(path.stem + suffix)
        if candidate.is_file():
            return candidate
    return None


class NumpyReader:
    """Reader for ``.npy`` (memory-mapped) and ``.npz`` files."""

    name = "numpy"
    description = ".npy (memory-mapped) and .npz; wavelengths from wavelengths= or NAME_bands.csv"

    def guess_can_open(self, path: Path) -> bool:
        return path.is_file() and path.suffix.lower() in (".npy", ".npz")

    def open(self, path: Path, *, variable: str | None = None, wavelengths=None) -> Cube:
        """Open a cube stored with NumPy.

        Parameters
        ----------
        path : Path
        variable : str, optional
            For ``.npz``: the array's name; found automatically when there is one 3-D array.
        wavelengths : array-like or path, optional
            Band centres in nm, or a CSV band table. Default: an array named ``wavelengths``
            (``.npz``), else a band table ``NAME_bands.csv``, ``NAME_wavelengths.csv`` or
            ``NAME.wavelengths.csv`` beside the file.
        """
        path = Path(path)
        file_wl = None
        try:
            if path.suffix.lower() == ".npy":
                data = np.load(path, mmap_mode="r", allow_pickle=False)
                if data.ndim != 3:
                    raise CubeFormatError(
                        f"the array has shape {data.shape}, not (rows, cols, bands)",
                        file=path,
                        fix="save a 3-D array",
                    )
                metadata = {"format": "npy"}
            else:
                with np.load(path, allow_pickle=False) as archive:
                    arrays = {k: archive[k] for k in archive.files}
                candidates = {
                    k: v.shape for k, v in arrays.items() if v.ndim == 3 and v.dtype.kind in "biufc"
                }
                name = pick_variable(candidates, variable, path, arrays)
                data = arrays[name]
                metadata = {"format": "npz", "variable": name}
                if wavelengths is None:
                    file_wl = next(
                        (v.reshape(-1) for k, v in arrays.items() if is_wavelength_name(k)), None
                    )
        except CubeFormatError:
            raise
        except Exception as exc:  # np.load of a corrupt file: ValueError, TokenError, zlib.error...
            raise CubeFormatError(
                f"cannot read as a NumPy file ({type(exc).__name__}: {exc})",
                file=path,
                fix="the file is truncated, holds Python objects, or is not a NumPy file",
            ) from None
        if variable is not None and path.suffix.lower() == ".npy":
            raise CubeFormatError(
                "a .npy file holds one array; variable= is for .npz",
                file=path,
                field="variable",
                fix="drop variable=",
            )
        if wavelengths is None and file_wl is None:
            table = band_table_beside(path)
            if table is not None:
                logger.info("%s: wavelengths from %s", path, table)
                wavelengths = table
        return build_cube(
            data, file=path, wavelengths=file_wl, override=wavelengths, metadata=metadata
        )
