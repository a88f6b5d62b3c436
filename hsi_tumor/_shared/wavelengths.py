"""Wavelength handling shared by every reader: units, ordering, CSV band tables."""

from __future__ import annotations

import csv
import os
from pathlib import Path

import numpy as np

from hsi_tumor._shared.errors import MissingFileError, WavelengthError
from hsi_tumor._shared.limits import check_budget, check_regular_file

__all__ = [
    "PLAUSIBLE_NM",
    "check_plausible_nm",
    "check_wavelengths",
    "describe_grid",
    "match_wavelengths",
    "read_band_table",
    "resolve_wavelengths",
    "to_nanometres",
    "wavenumber_fwhm_to_nm",
]

_UNIT_ALIASES = {
    "nm": "nm",
    "nanometer": "nm",
    "nanometers": "nm",
    "nanometre": "nm",
    "nanometres": "nm",
    "um": "um",
    "µm": "um",
    "μm": "um",
    "micrometer": "um",
    "micrometers": "um",
    "micrometre": "um",
    "micrometres": "um",
    "micron": "um",
    "microns": "um",
    "mm": "mm",
    "millimeters": "mm",
    "millimeter": "mm",
    "cm-1": "cm-1",
    "cm^-1": "cm-1",
    "1/cm": "cm-1",
    "wavenumber": "cm-1",
    "wavenumbers": "cm-1",
}


def check_wavelengths(
    wavelengths,
    n_bands: int,
    *,
    file: str | os.PathLike | None = None,
    field: str = "wavelength",
    order_fix: str = "give band centres in ascending order (pass wavelengths= to override)",
) -> np.ndarray:
    """Validate wavelengths in nm: 1-D, finite, one per band, strictly ascending.

    Parameters
    ----------
    wavelengths : array-like
        Band centres in nm.
    n_bands : int
        The number of bands of the cube they describe.
    file, field : optional
        Named in the error message.
    order_fix : str, optional
        The fix suggested when the values are not ascending (it depends on the caller).

    Returns
    -------
    numpy.ndarray
        A read-only float64 copy.

    Raises
    ------
    WavelengthError
        If any of the conditions above does not hold.
    """
    try:
        wl = np.array(wavelengths, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise WavelengthError(
            f"wavelengths are not numbers ({exc})",
            file=file,
            field=field,
            fix="give one band centre in nm per band",
        ) from None
    if wl.ndim != 1:
        raise WavelengthError(
            f"wavelengths must be 1-D, got shape {wl.shape}",
            file=file,
            field=field,
            fix="give one band centre in nm per band",
        )
    if wl.size != n_bands:
        raise WavelengthError(
            f"{wl.size} wavelengths for {n_bands} bands",
            file=file,
            field=field,
            fix="give exactly one wavelength per band (or pass wavelengths= to override)",
        )
    if not np.all(np.isfinite(wl)):
        raise WavelengthError(
            "wavelengths contain NaN or inf",
            file=file,
            field=field,
            fix="give finite band centres in nm",
        )
    if wl.size > 1 and not np.all(np.diff(wl) > 0):
        bad = int(np.flatnonzero(np.diff(wl) <= 0)[0])
        raise WavelengthError(
            f"wavelengths are not strictly ascending (band {bad}: {wl[bad]:g} nm, band "
            f"{bad + 1}: {wl[bad + 1]:g} nm)",
            file=file,
            field=field,
            fix=order_fix,
        )
    wl.setflags(write=False)
    return wl


#: Band centres a reader accepts from a file, in nm: 200 nm (ultraviolet) to 20 µm (thermal
#: infrared). Arrays passed as ``wavelengths=`` are not checked: that is how to read a file
#: whose wavelengths are right but outside this range.
PLAUSIBLE_NM = (200.0, 20000.0)


def check_plausible_nm(
    nm,
    *,
    stored=None,
    units: str | None = None,
    file=None,
    field: str = "wavelength",
) -> None:
    """Refuse band centres read from a file that no spectral camera records.

    Parameters
    ----------
    nm : array-like
        The band centres in nm, after unit conversion.
    stored : array-like, optional
        The values as the file stores them (default ``nm``), to suggest a unit that fits them.
    units : str, optional
        The unit the file gave (``None``: none given, the unit was guessed).
    file, field : optional
        Named in the error.

    Raises
    ------
    WavelengthError
        If a finite value lies outside :data:`PLAUSIBLE_NM` (−1700 nm, 0 nm, 1e300 nm, or nm
        values read as micrometres). The fix names the unit that would make the values
        plausible, when one does; the error's field is then the unit's.
    """
    wl = np.asarray(nm, dtype=np.float64).reshape(-1)
    finite = wl[np.isfinite(wl)]
    lo, hi = PLAUSIBLE_NM
    if not finite.size or (finite.min() >= lo and finite.max() <= hi):
        return
    raw = np.asarray(wl if stored is None else stored, dtype=np.float64).reshape(-1)
    fitting = None
    for unit, factor in (("nm", 1.0), ("um", 1e3), ("cm-1", None)):
        with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
            candidate = 1e7 / raw if factor is None else raw * factor
        ok = candidate[np.isfinite(candidate)]
        if ok.size and ok.min() >= lo and ok.max() <= hi:
            fitting = unit
            break
    said = f"wavelength units '{units}'" if units else "no unit given (guessed)"
    problem = (
        f"the wavelengths run from {finite.min():.6g} to {finite.max():.6g} nm ({said}), outside "
        f"the {lo:g}–{hi:g} nm that spectral cameras record"
    )
    named = {"nm": "Nanometers", "um": "Micrometers", "cm-1": "Wavenumber (cm-1)"}
    if fitting is not None:
        raise WavelengthError(
            problem + f"; read as {named[fitting]} they would be",
            file=file,
            field=f"{field} units",
            fix=f"correct the unit to {named[fitting]} (or pass wavelengths= with the band "
            "centres in nm)",
        )
    raise WavelengthError(
        problem,
        file=file,
        field=field,
        fix="correct the file's wavelengths, or pass wavelengths= with the band centres in nm "
        "(arrays passed that way are not range-checked)",
    )


def to_nanometres(values, units: str | None, *, file=None, field: str = "wavelength units"):
    """Convert band positions to nm.

    Parameters
    ----------
    values : array-like
        Band positions in ``units``.
    units : str or None
        ``nm``, ``um``/``µm``/``micrometers``, ``mm``, or wavenumbers ``cm-1``. ``None`` (or
        ``Unknown``) means: nm when the largest value is above 100, micrometres otherwise (ENVI
        files from several cameras omit the unit and store µm).

    Returns
    -------
    nm : numpy.ndarray
        Positions in nm, in the input order (wavenumbers reverse the physical order; callers that
        need ascending order reorder the bands).
    units_used : str
        The canonical unit that was applied (``nm``, ``um``, ``mm`` or ``cm-1``).
    """
    v = np.asarray(values, dtype=np.float64)
    key = (units or "").strip().lower().replace(" ", "")
    if key in ("", "unknown", "none"):
        canonical = "nm" if v.size == 0 or np.nanmax(np.abs(v)) > 100 else "um"
    elif key in ("index", "bandnumber", "band"):
        raise WavelengthError(
            f"wavelength units are '{units}', not a physical unit",
            file=file,
            field=field,
            fix="pass wavelengths= with the band centres in nm",
        )
    else:
        canonical = _UNIT_ALIASES.get(key)
        if canonical is None:
            raise WavelengthError(
                f"unknown wavelength unit '{units}'",
                file=file,
                field=field,
                fix="use nm, micrometers or cm-1, or pass wavelengths= in nm",
            )
    if canonical == "nm":
        return v, canonical
    if canonical == "um":
        return v * 1e3, canonical
    if canonical == "mm":
        return v * 1e6, canonical
    with np.errstate(divide="ignore"):
        if np.any(v <= 0):
            raise WavelengthError(
                "wavenumbers must be positive",
                file=file,
                field="wavelength",
                fix="check the header's wavelength list",
            )
        return 1e7 / v, canonical


def wavenumber_fwhm_to_nm(fwhm_cm1, wavenumbers_cm1) -> np.ndarray:
    """Convert widths in cm-1 at the given wavenumbers to widths in nm (dλ = 1e7 dν / ν²)."""
    nu = np.asarray(wavenumbers_cm1, dtype=np.float64)
    return 1e7 * np.asarray(fwhm_cm1, dtype=np.float64) / nu**2


_WAVELENGTH_COLUMNS = (
    "center_nm",
    "wavelength_nm",
    "wavelength",
    "wavelengths",
    "nm",
    "wl",
    "lambda",
)
_FWHM_COLUMNS = ("fwhm_nm", "fwhm")


def read_band_table(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray | None]:
    """Read band centres (and FWHM, when present) in nm from a CSV or text file.

    The file may be a single column of numbers, one number per line, or a table with a header
    row; then the wavelength column is the first whose name is one of ``center_nm``,
    ``wavelength_nm``, ``wavelength``, ``wavelengths``, ``nm``, ``wl``, ``lambda`` (any case), and
    the FWHM column ``fwhm_nm`` or ``fwhm``.

    Returns
    -------
    wavelengths : numpy.ndarray
    fwhm : numpy.ndarray or None
    """
    path = Path(path)
    if not path.is_file():
        if path.exists():  # a folder, a named pipe or a device: refused, never opened
            check_regular_file(path)
        raise MissingFileError(
            "the wavelength table does not exist",
            file=path,
            field="wavelengths",
            fix="give an existing CSV file or an array of band centres in nm",
        )
    check_budget(8 * path.stat().st_size, "parsing this band table", file=path, field="wavelengths")
    try:
        text = path.read_text(encoding="utf-8-sig")
        rows = [r for r in csv.reader(text.splitlines()) if r and any(c.strip() for c in r)]
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise WavelengthError(
            f"cannot read the wavelength table ({exc})",
            file=path,
            field="wavelengths",
            fix="give a UTF-8 CSV file with one band centre in nm per row",
        ) from None
    if len(rows) == 1 and len(rows[0]) > 1:  # one line of comma-separated values
        rows = [[c] for c in rows[0]]
    header = None
    if rows and not _is_number(rows[0][0]):
        header = [c.strip().lower() for c in rows[0]]
        rows = rows[1:]
    wl_col, fwhm_col = 0, None
    if header is not None:
        wl_col = next((header.index(c) for c in _WAVELENGTH_COLUMNS if c in header), None)
        if wl_col is None:
            raise WavelengthError(
                f"no wavelength column among {header}",
                file=path,
                field="wavelengths",
                fix=f"name the column one of {', '.join(_WAVELENGTH_COLUMNS)}",
            )
        fwhm_col = next((header.index(c) for c in _FWHM_COLUMNS if c in header), None)
    try:
        wl = np.array([float(r[wl_col]) for r in rows])
        fwhm = None if fwhm_col is None else np.array([float(r[fwhm_col]) for r in rows])
    except (ValueError, IndexError) as exc:
        raise WavelengthError(
            f"the wavelength table has a row that is not a number ({exc})",
            file=path,
            field="wavelengths",
            fix="give one band centre in nm per row",
        ) from None
    return wl, fwhm


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def resolve_wavelengths(wavelengths) -> tuple[np.ndarray, np.ndarray | None]:
    """Turn a user's ``wavelengths=`` (array or a CSV path) into (nm array, fwhm or None)."""
    if isinstance(wavelengths, (str, os.PathLike)):
        return read_band_table(wavelengths)
    return np.asarray(wavelengths, dtype=np.float64), None


def describe_grid(wavelengths: np.ndarray | None) -> str:
    """``'128 bands, 900–1700 nm'``: a band grid in a few words, for messages."""
    if wavelengths is None:
        return "no wavelengths"
    wl = np.asarray(wavelengths, dtype=np.float64)
    if wl.size == 0:
        return "0 bands"
    return f"{wl.size} bands, {wl[0]:g}–{wl[-1]:g} nm"


def match_wavelengths(
    source: np.ndarray | None,
    target: np.ndarray,
    *,
    resample: bool = False,
    what: str = "the cube",
    expected: str = "the model",
    field: str = "wavelengths",
    rtol: float = 1e-6,
) -> np.ndarray | None:
    """How to bring spectra on the ``source`` band grid onto the ``target`` grid.

    Parameters
    ----------
    source : ndarray or None
        Band centres (nm) of the spectra at hand (None: unknown, then only the band count can
        be checked).
    target : ndarray
        Band centres (nm) the spectra must have.
    resample : bool, default=False
        Interpolate linearly onto ``target`` when the grids differ, instead of raising.
    what, expected, field : str
        Named in the error message ("the cube's 224 bands … differ from the model's …").
    rtol : float
        Grids equal within this relative tolerance are the same grid.

    Returns
    -------
    ndarray of shape (n_source, n_target) or None
        None when the grids are the same (nothing to do); else the interpolation matrix ``M``,
        so that ``spectra @ M`` are the spectra on the target grid (each column has at most two
        non-zero weights, summing to 1).

    Raises
    ------
    WavelengthError
        If the grids differ and ``resample`` is False, if ``source`` is None with a different
        band count, or if ``target`` reaches outside ``source`` (no extrapolation).

    Examples
    --------
    >>> import numpy as np
    >>> m = match_wavelengths(np.array([1000.0, 1100, 1200]), np.array([1050.0, 1200]),
    ...                       resample=True)
    >>> np.array([[1.0, 3.0, 5.0]]) @ m
    array([[2., 5.]])
    """
    target = np.asarray(target, dtype=np.float64)
    if source is None:
        if target.size == 0:
            return None
        raise WavelengthError(
            f"{what} has no wavelengths; {expected} expects {describe_grid(target)}",
            field=field,
            fix="give the cube's band centres in nm (wavelengths=)",
        )
    source = np.asarray(source, dtype=np.float64)
    if source.shape == target.shape and np.allclose(source, target, rtol=rtol, atol=0):
        return None
    if not resample:
        raise WavelengthError(
            f"{what} has {describe_grid(source)}, {expected} expects {describe_grid(target)}",
            field=field,
            fix="use data recorded on the same band grid, select the matching bands, or pass "
            "resample=True to interpolate onto the expected grid",
        )
    tol = rtol * max(abs(source[-1]), 1.0)
    if source.size < 2 or target[0] < source[0] - tol or target[-1] > source[-1] + tol:
        raise WavelengthError(
            f"cannot resample {what} ({describe_grid(source)}) onto {describe_grid(target)}: "
            "that would extrapolate beyond the measured bands",
            field=field,
            fix="use data that covers the expected range, or a model trained on a narrower range",
        )
    clipped = np.clip(target, source[0], source[-1])
    upper = np.clip(np.searchsorted(source, clipped, side="right"), 1, source.size - 1)
    lower = upper - 1
    weight = (clipped - source[lower]) / (source[upper] - source[lower])
    matrix = np.zeros((source.size, target.size))
    columns = np.arange(target.size)
    matrix[lower, columns] = 1 - weight
    matrix[upper, columns] += weight
    return matrix
