"""What every reader shares: building a Cube from what a file holds, with wavelengths in nm."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import numpy as np

from hsi_tumor._shared.errors import CubeFormatError, WavelengthError
from hsi_tumor._shared.limits import check_regular_file
from hsi_tumor._shared.wavelengths import (
    check_plausible_nm,
    resolve_wavelengths,
    to_nanometres,
    wavenumber_fwhm_to_nm,
)
from hsi_tumor.cube import PER_BAND_METADATA, Cube
from hsi_tumor.io._lazy import PermutedBandsArray

logger = logging.getLogger("hsi_tumor.io")

#: Names under which files commonly store band centres (compared case-insensitively).
WAVELENGTH_NAMES = (
    "wavelengths",
    "wavelength",
    "wavelengths_nm",
    "wavelength_nm",
    "wl",
    "lambda",
    "lambdas",
)


def is_wavelength_name(name: str) -> bool:
    return name.strip().lower() in WAVELENGTH_NAMES


def build_cube(
    data,
    *,
    file: str | os.PathLike,
    wavelengths=None,
    units: str | None = None,
    override=None,
    metadata: dict[str, Any] | None = None,
    field: str = "wavelength",
    data_field: str = "data",
) -> Cube:
    """Make a Cube from a reader's array and the wavelengths found in (or given for) a file.

    Parameters
    ----------
    data : array or lazy array, shape (rows, cols, bands)
    file : path-like
        Named in errors and kept as ``metadata['source']``.
    wavelengths : array-like, optional
        Band positions as stored in the file, in ``units``.
    units : str, optional
        Their unit (see :func:`hsi_tumor._shared.wavelengths.to_nanometres`).
    override : array-like or path, optional
        The user's ``wavelengths=``: nm, or a CSV band table. Replaces what the file holds.
    metadata : dict, optional
        Per-band entries (``fwhm`` in ``units``, ``bbl``, ``band_names``) and anything else.
    field, data_field : str
        The names of the wavelengths and of the data in the file, for errors (e.g.
        ``'wavelength'`` and ``'data type'`` for ENVI, the dataset or variable otherwise).

    Notes
    -----
    A file without wavelengths whose unit is ``Index`` (ENVI's word for bands that are not
    wavelengths) holds derived features: it is returned with ``wavelengths=None``. Otherwise
    cubes are always returned with ascending wavelengths in nm. Files that list bands in
    descending order (wavenumbers) are reversed along the band axis as a view; files whose
    bands are out of order but distinct (instruments of several spectrometers with overlapping
    ranges, e.g. AVIRIS) are shown sorted through a lazy band permutation, the original order
    kept in ``metadata['band_order']``. Per-band metadata follows. Repeated wavelengths are an
    error, and so are wavelengths read from the file (or from a band table file) outside
    200–20,000 nm after unit conversion (an array passed as ``override`` is taken as it is).
    A cube holds real numbers: complex, boolean and non-numeric data are refused, and so is a
    cube with no rows, columns or bands.
    """
    meta = dict(metadata or {})
    meta.setdefault("source", os.fspath(file))
    _check_data(data, file, data_field)
    n_bands = data.shape[2]
    if override is not None:
        wl, fwhm = resolve_wavelengths(override)
        if fwhm is not None:
            meta["fwhm"] = fwhm
        elif meta.get("fwhm") is not None and units not in (None, "nm"):
            del meta["fwhm"]  # widths in the file's unit no longer match the given centres
        if isinstance(override, (str, os.PathLike)):  # a band table: a file, checked as one
            check_plausible_nm(wl, units="nm", file=override, field="wavelengths")
        meta["wavelength_source"] = (
            os.fspath(override) if isinstance(override, (str, os.PathLike)) else "given"
        )
    elif wavelengths is not None:
        wavelengths = np.asarray(wavelengths)
        if wavelengths.dtype.kind not in "iuf":
            raise WavelengthError(
                f"the wavelengths are {wavelengths.dtype} values, not numbers",
                file=file,
                field=field,
                fix="store the band centres as numbers, or pass wavelengths= in nm",
            )
        wl, used = to_nanometres(wavelengths, units, file=file, field=f"{field} units")
        check_plausible_nm(wl, stored=wavelengths, units=units, file=file, field=field)
        if meta.get("fwhm") is not None:
            fwhm = np.asarray(meta["fwhm"], dtype=np.float64)
            if used == "cm-1":
                meta["fwhm"] = wavenumber_fwhm_to_nm(fwhm, wavelengths)
            else:
                meta["fwhm"] = to_nanometres(fwhm, used)[0]
        if units is None and used != "nm":
            logger.warning("%s: no wavelength unit given; values read as %s", file, used)
        meta["wavelength_source"] = os.fspath(file)
    elif units is not None and units.strip().lower() == "index":
        return Cube(data, None, meta)  # a cube of derived features, written as such
    else:
        raise WavelengthError(
            f"the file holds no wavelengths for its {n_bands} bands",
            file=file,
            field=field,
            fix="pass wavelengths= (an array of band centres in nm, or a CSV band table)",
        )
    wl = np.asarray(wl, dtype=np.float64).reshape(-1)
    if wl.size == n_bands and wl.size > 1 and np.all(np.isfinite(wl)):
        order = np.argsort(wl, kind="stable")
        if not np.array_equal(order, np.arange(n_bands)) and np.all(np.diff(wl[order]) > 0):
            data, wl, meta = _reorder_bands(data, wl, meta, order, file)
    for key in PER_BAND_METADATA:
        if meta.get(key) is not None and np.size(meta[key]) != n_bands:
            raise WavelengthError(
                f"'{key}' has {np.size(meta[key])} values for {n_bands} bands",
                file=file,
                field=key,
                fix="correct the file, or pass wavelengths= to override the band table",
            )
    try:
        return Cube(data, wl, meta)
    except WavelengthError as exc:
        raise WavelengthError(exc.problem, file=file, field=field, fix=exc.fix) from None


def _check_data(data, file, field: str) -> None:
    """A cube's data: real numbers (integer or float), at least one row, column and band."""
    dtype = np.dtype(data.dtype)
    if dtype.kind not in "iuf":
        what = {"c": "complex numbers", "b": "booleans (true/false)"}.get(
            dtype.kind, f"{dtype} values, not numbers"
        )
        raise CubeFormatError(
            f"the data holds {what}; a cube holds real intensities (integers or floats)",
            file=file,
            field=field,
            fix="store the cube as integers or floats"
            + (
                " (for complex data, save the magnitude or the real part explicitly: reading "
                "it would drop the imaginary part)"
                if dtype.kind == "c"
                else ""
            ),
        )
    if 0 in tuple(data.shape):
        raise CubeFormatError(
            f"the cube has shape {tuple(data.shape)}: no "
            + ("bands" if data.shape[2] == 0 else "pixels"),
            file=file,
            field=field,
            fix="store at least one row, column and band",
        )


def _reorder_bands(data, wl, meta, order, file):
    """Show the bands in ascending wavelength: a view, reversed or permuted, never a copy."""
    n_bands = wl.size
    if np.array_equal(order, np.arange(n_bands)[::-1]):
        key = (slice(None), slice(None), slice(None, None, -1))
        data = data[key] if isinstance(data, np.ndarray) else data.select(key)
        logger.info("%s: bands listed in descending wavelength; shown ascending", file)
    else:
        data = PermutedBandsArray(data, order)
        moved = int(np.sum(order != np.arange(n_bands)))
        logger.warning(
            "%s: %d bands are out of wavelength order (overlapping spectrometers?); "
            "shown ascending, original order in metadata['band_order']",
            file,
            moved,
        )
        meta["band_order"] = order
    for key in PER_BAND_METADATA:
        if meta.get(key) is not None and np.size(meta[key]) == n_bands:
            meta[key] = np.asarray(meta[key])[order]
    if "default_bands" in meta:
        position = np.argsort(order)
        meta["default_bands"] = [int(position[b]) for b in meta["default_bands"]]
    return data, wl[order], meta


def existing_file(path: str | os.PathLike) -> Path:
    """Return ``path`` as a Path if it is a regular file or a folder.

    Raises
    ------
    MissingFileError
        If it does not exist or cannot be looked up (a name too long, a NUL character).
    CubeFormatError
        If it is a named pipe, a device or a socket: refused before anything opens it (reading
        one can block forever).
    """
    return check_regular_file(path, folder_ok=True)


def pick_variable(
    candidates: dict[str, tuple], variable: str | None, path: Path, everything
) -> str:
    """Choose the array that holds the cube among a file's variables (MATLAB, .npz)."""
    if variable is not None:
        if variable not in everything:
            raise CubeFormatError(
                f"no variable '{variable}' (variables: "
                f"{', '.join(sorted(map(str, everything))) or 'none'})",
                file=path,
                field="variable",
                fix="pass the name of the variable that holds the cube",
            )
        if variable not in candidates:
            raise CubeFormatError(
                f"variable '{variable}' is not a 3-D numeric array",
                file=path,
                field="variable",
                fix="name a (rows, cols, bands) array",
            )
        return variable
    if len(candidates) != 1:
        raise CubeFormatError(
            "no 3-D numeric variable"
            if not candidates
            else f"{len(candidates)} 3-D variables ({', '.join(sorted(map(str, candidates)))})",
            file=path,
            field="variable",
            fix="pass variable= with the cube's name",
        )
    return next(iter(candidates))
