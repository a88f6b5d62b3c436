"""Reflectance from white and dark references, computed lazily tile by tile."""

from __future__ import annotations

import logging
import os
import warnings
from pathlib import Path

import numpy as np

from hsi_tumor._shared.arrays import materialize, split_key
from hsi_tumor._shared.errors import (
    CalibrationError,
    CalibrationWarning,
    InvalidTypeError,
    WavelengthError,
)
from hsi_tumor._shared.masks import LazyMask
from hsi_tumor.cube import Cube, _select

logger = logging.getLogger("hsi_tumor.calibration")

__all__ = ["CalibratedArray", "CalibratedValidity", "calibrate", "calibrate_capture"]

_DROP_ON_CALIBRATION = (
    "envi_header",
    "interleave",
    "format",
    "header",
    "reflectance_scale_factor",
    "bit_depth",  # of the raw counts; the reflectance records calibration["saturation"]
)


class CalibratedArray:
    """Lazy reflectance of a raw cube: computed only for what is read.

    ``R = (raw − dark) · gain`` with ``gain = white_reflectance / (white − white_dark)`` per
    column and band, in float32. Pixel-bands whose references are unusable or whose raw value is
    saturated are NaN; :meth:`as_valid` is the matching lazy validity mask.

    Parameters
    ----------
    raw : array or lazy array, shape (rows, cols, bands)
    offset : ndarray, shape (cols, bands), float32
        The dark reference line.
    gain : ndarray, shape (cols, bands), float32
        NaN where the references are unusable.
    saturation : float or None
        Raw values at or above it are saturated.
    """

    storage_kind = "calibrated on read"
    parallel_reads = True
    ndim = 3
    dtype = np.dtype(np.float32)

    def __init__(self, raw, offset, gain, saturation) -> None:
        self.raw = raw
        self.offset = offset
        self.gain = gain
        self.saturation = saturation

    @property
    def shape(self) -> tuple[int, int, int]:
        return tuple(self.raw.shape)

    def select(self, key) -> CalibratedArray:
        key, _ = split_key(key, self.shape)
        _, cols, bands = key
        return CalibratedArray(
            _select(self.raw, key),
            self.offset[cols][:, bands],
            self.gain[cols][:, bands],
            self.saturation,
        )

    def as_valid(self) -> CalibratedValidity:
        """The validity of the same calibration: a lazy boolean mask."""
        return CalibratedValidity(self)

    def _read(self, key) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """The raw block of a (rows, cols, bands) key, its gain, and its saturated values."""
        _, cols, bands = key
        block = np.asarray(_select(self.raw, key))
        gain = self.gain[cols][:, bands]
        saturated = None
        if self.saturation is not None and block.size and block.max() >= self.saturation:
            saturated = block >= self.saturation
        return block, gain, saturated

    def __getitem__(self, key) -> np.ndarray:
        key, squeeze = split_key(key, self.shape)
        _, cols, bands = key
        block, gain, saturated = self._read(key)
        out = np.subtract(block, self.offset[cols][:, bands], dtype=np.float32)
        out *= gain
        if saturated is not None:
            out[saturated] = np.nan
        return out[squeeze]

    def __array__(self, dtype=None, copy=None):
        return materialize(self, dtype=dtype)


class CalibratedValidity(LazyMask):
    """Which pixel-bands of a calibrated cube hold trustworthy reflectance, computed when read.

    False where the column-band's references are unusable (white − dark ≤ 0, saturated or
    non-finite) or the raw value is saturated or non-finite: exactly where the reflectance is
    NaN. A :class:`~hsi_tumor._shared.masks.LazyMask`: ``~``, ``&``, ``|``, ``.sum()``,
    ``.all(axis=2)``, ``np.asarray`` behave as on a boolean array, in bounded memory.
    """

    storage_kind = "calibrated on read"
    meaning = "False where a reference failed or the sensor saturated"
    #: True exactly where the reflectance is finite, so readers of the reflectance need not
    #: compute it separately.
    finite_means_valid = True

    def __init__(self, calibration: CalibratedArray) -> None:
        self.calibration = calibration

    @property
    def shape(self) -> tuple[int, int, int]:
        return self.calibration.shape

    def select(self, key) -> CalibratedValidity:
        return CalibratedValidity(self.calibration.select(key))

    def _block(self, key) -> np.ndarray:
        block, gain, saturated = self.calibration._read(key)
        valid = np.broadcast_to(np.isfinite(gain), block.shape).copy()
        if block.dtype.kind in "fc":
            valid &= np.isfinite(block)
        if saturated is not None:
            valid &= ~saturated
        return valid


def _check_counts(dtype, name: str) -> None:
    """Camera counts and references are real numbers: complex, boolean, text and object data
    are refused here, before anything is computed (not at ``.load()``)."""
    dtype = np.dtype(dtype)
    if dtype.kind not in "iuf":
        what = {"c": "complex numbers", "b": "booleans (true/false)"}.get(
            dtype.kind, f"{dtype} values, not numbers"
        )
        raise CalibrationError(
            f"the {name} {'cube' if name == 'raw' else 'reference'} holds {what}; calibration "
            "needs camera counts (integers or floats)",
            field=name,
            fix="give the camera's counts as an integer or float array (for complex data, its "
            "magnitude or real part, chosen explicitly)",
        )


def _reference_line(
    ref, name: str, raw: Cube, average: str, saturation
) -> tuple[np.ndarray, np.ndarray]:
    """Average a reference to one (cols, bands) line; return it and its saturated flags."""
    if isinstance(ref, Cube):
        _check_counts(ref.dtype, name)
        if (
            ref.wavelengths is not None
            and raw.wavelengths is not None
            and (
                ref.wavelengths.shape != raw.wavelengths.shape
                or not np.allclose(ref.wavelengths, raw.wavelengths, rtol=0, atol=1e-6)
            )
        ):
            raise WavelengthError(
                f"the {name} reference's wavelengths differ from the raw cube's",
                field=name,
                fix="use references recorded with the same camera settings",
            )
        ref = ref.load().data
    try:
        ref = np.asarray(ref)
    except (TypeError, ValueError) as exc:  # ragged nested lists
        raise CalibrationError(
            f"the {name} reference is not an array ({exc})",
            field=name,
            fix="give a spectrum, a line or frames as a numeric array",
        ) from None
    _check_counts(ref.dtype, name)
    n_cols, n_bands = raw.n_cols, raw.n_bands
    expected = f"({n_bands},), ({n_cols}, {n_bands}) or (frames, {n_cols}, {n_bands})"
    if ref.ndim == 0 or ref.shape[-1] != n_bands or (ref.ndim >= 2 and ref.shape[-2] != n_cols):
        raise CalibrationError(
            f"the {name} reference has shape {ref.shape}; for a raw cube of {n_cols} columns and "
            f"{n_bands} bands it must be {expected}",
            field=name,
            fix="give a spectrum, a line or frames recorded with the same camera settings",
        )
    if ref.ndim > 3:
        raise CalibrationError(
            f"the {name} reference has {ref.ndim} dimensions",
            field=name,
            fix=f"give an array of shape {expected}",
        )
    frames = ref.reshape(-1, *ref.shape[-2:]) if ref.ndim == 3 else ref.reshape(1, -1, n_bands)
    if frames.shape[0] == 0:
        raise CalibrationError(
            f"the {name} reference has no frames", field=name, fix="record at least one frame"
        )
    saturated = np.zeros(frames.shape[1:], dtype=bool)
    if saturation is not None:
        saturated = np.any(frames >= saturation, axis=0)
    frames = frames.astype(np.float64)
    line = np.median(frames, axis=0) if average == "median" else frames.mean(axis=0)
    return np.broadcast_to(line, (n_cols, n_bands)), np.broadcast_to(saturated, (n_cols, n_bands))


def _default_saturation(raw: Cube, saturation):
    """``saturation`` if given, else ``2**bit_depth - 1`` of the raw cube's metadata (a
    header's ``bit depth``), else the dtype's maximum for integers, else None."""
    if saturation is not None:
        return float(saturation)
    if raw.metadata.get("bit_depth") is not None:
        return float(2 ** int(raw.metadata["bit_depth"]) - 1)
    if raw.dtype.kind in "ui":
        return float(np.iinfo(raw.dtype).max)
    return None


def calibrate(
    raw: Cube,
    white,
    dark,
    *,
    white_dark=None,
    white_reflectance=1.0,
    average: str = "mean",
    saturation: float | None = None,
    out: str | os.PathLike | None = None,
    overwrite: bool = False,
) -> Cube:
    """Compute reflectance ``R = (raw − dark) / (white − dark) · white_reflectance``.

    The result is lazy: nothing is computed until it is read (``.load()``, indexing,
    :func:`hsi_tumor.transform_cube`, ``write_cube``), and then tile by tile in float32, so a
    memory-mapped raw cube larger than memory calibrates with bounded memory. Give ``out=`` to
    write the reflectance to a file (ENVI or HDF5, by extension) and get it back memory-mapped.

    Parameters
    ----------
    raw : Cube
        Raw counts, (rows, cols, bands).
    white, dark : Cube or array-like
        References: one spectrum (bands,), one line (cols, bands) as pushbroom cameras record
        it, or several frames (frames, cols, bands), averaged first.
    white_dark : Cube or array-like, optional
        A dark reference recorded with the white one (other integration time); default ``dark``.
    white_reflectance : float or array-like of shape (bands,), default=1.0
        The white panel's reflectance (e.g. 0.99, or its certified spectrum).
    average : {'mean', 'median'}, default='mean'
        How reference frames are combined (median resists dead frames and specks).
    saturation : float, optional
        The sensor's maximum count; raw or white values at or above it are saturated. Default:
        ``2**bit_depth - 1`` when the raw cube's metadata has ``bit_depth`` (an ENVI header's
        ``bit depth`` field, as :func:`hsi_tumor.datasets.simulate_specimen` writes it: 4095
        for 12 bits), else the dtype's maximum for integer data (give 4095 for a 12-bit camera
        stored in uint16 without that field), none for float data. A value given here wins.
    out : path-like, optional
        Write the reflectance here (``.hdr``/``.img``/... ENVI, ``.h5`` HDF5) and return it
        memory-mapped.
    overwrite : bool, default=False
        Replace an existing ``out``.

    Returns
    -------
    Cube
        float32 reflectance with the raw cube's wavelengths. ``cube.valid``, a lazy
        (rows, cols, bands) boolean mask (:class:`CalibratedValidity`: ``~``, ``&``, ``.sum()``,
        ``.all(axis=2)``, ``np.asarray`` as on a numpy array), is False where white − dark ≤ 0,
        a reference is saturated or non-finite, or the raw value is saturated; those values
        are NaN.

    Warns
    -----
    CalibrationWarning
        With the number of flagged pixel-bands by cause, when there are any.

    Raises
    ------
    CalibrationError
        If a reference's shape does not fit the raw cube, or every pixel-band would be invalid;
        if the raw cube or a reference holds complex, boolean, text or object values.
    WavelengthError
        If a reference Cube's wavelengths differ from the raw cube's.
    InvalidTypeError
        If ``raw`` is not a Cube.

    Notes
    -----
    The gain ``white_reflectance / (white − white_dark)`` is computed once per column and band in
    float64 and stored in float32, so each pixel costs one subtraction and one multiplication.

    Examples
    --------
    >>> import numpy as np, hsi_tumor as ht
    >>> raw = ht.Cube(np.full((2, 3, 2), 600, np.uint16), [1000, 1100])
    >>> ht.calibrate(raw, white=[1100, 1100], dark=[100, 100]).load().data[0, 0]
    array([0.5, 0.5], dtype=float32)
    """
    if not isinstance(raw, Cube):
        raise InvalidTypeError(
            f"raw must be a Cube, got {type(raw).__name__}",
            field="raw",
            fix="wrap the array: ht.Cube(array, wavelengths)",
        )
    if average not in ("mean", "median"):
        raise CalibrationError(
            f"average={average!r}", field="average", fix="use 'mean' or 'median'"
        )
    _check_counts(raw.dtype, "raw")
    sat = _default_saturation(raw, saturation)
    dark_line, dark_sat = _reference_line(dark, "dark", raw, average, sat)
    white_line, white_sat = _reference_line(white, "white", raw, average, sat)
    if white_dark is None:
        white_dark_line = dark_line
    else:
        white_dark_line, _ = _reference_line(white_dark, "white_dark", raw, average, sat)
    panel = np.asarray(white_reflectance, dtype=np.float64)
    if (
        panel.ndim > 1
        or (panel.ndim == 1 and panel.size != raw.n_bands)
        or not np.all(np.isfinite(panel) & (panel > 0))
    ):
        raise CalibrationError(
            f"white_reflectance must be a positive number or one per band ({raw.n_bands})",
            field="white_reflectance",
            fix="give the panel's reflectance, e.g. 0.99",
        )
    for line, field in (
        (dark_line, "dark"),
        (white_line, "white"),
        (white_dark_line, "white_dark"),
    ):
        if not np.isfinite(line).any():
            raise CalibrationError(
                f"the {field} reference is NaN or infinite in every column and band",
                field=field,
                fix=f"give a {field} reference recorded by the camera (finite counts); check "
                "that the right file or array was passed",
            )
    span = white_line - white_dark_line
    non_positive = ~(span > 0)  # also catches NaN
    bad = non_positive | white_sat | dark_sat | ~np.isfinite(dark_line)
    if bad.all():
        raise CalibrationError(
            "white − dark is zero, negative or saturated for every column and band",
            field="white",
            fix="check that the white and dark references are not swapped and not saturated",
        )
    with np.errstate(divide="ignore", invalid="ignore"):
        gain = np.where(bad, np.nan, panel / span).astype(np.float32)
    offset = np.where(bad, 0.0, dark_line).astype(np.float32)
    data = CalibratedArray(raw.data, offset, gain, sat)
    n_raw_saturated = 0
    if sat is not None:
        for _, tile in raw.tiles():
            block = np.asarray(tile.data)
            if block.size and block.max() >= sat:
                n_raw_saturated += int(np.count_nonzero(block >= sat))
    n_bad = int(bad.sum())
    if n_bad or n_raw_saturated:
        parts = []
        if n_bad:
            parts.append(
                f"{n_bad} of {bad.size} column-bands have unusable references "
                f"({int(non_positive.sum())} white − dark ≤ 0, {int(white_sat.sum())} white "
                f"saturated, {int(dark_sat.sum())} dark saturated): {n_bad * raw.n_rows} "
                "pixel-bands"
            )
        if n_raw_saturated:
            parts.append(f"{n_raw_saturated} raw pixel-bands saturated (≥ {sat:g})")
        warnings.warn(
            "calibrate: " + "; ".join(parts) + ". They are NaN in the reflectance and False in "
            "cube.valid.",
            CalibrationWarning,
            stacklevel=2,
        )
    meta = {k: v for k, v in raw.metadata.items() if k not in _DROP_ON_CALIBRATION}
    if "source" in meta:
        meta["raw_source"] = meta.pop("source")
    meta["calibration"] = {
        "white_reflectance": panel.tolist(),
        "average": average,
        "saturation": sat,
        "flagged_reference_column_bands": n_bad,
        "saturated_raw_pixel_bands": n_raw_saturated,
    }
    cube = Cube(data, raw.wavelengths, meta, valid=data.as_valid())
    if out is None:
        return cube
    from hsi_tumor.io import read_cube, write_cube

    write_cube(cube, out, overwrite=overwrite)
    written = read_cube(out)
    return Cube(written.data, written.wavelengths, written.metadata, valid=data.as_valid())


def calibrate_capture(capture, **options) -> Cube:
    """Calibrate a Specim capture folder (or a :class:`~hsi_tumor.io.Capture`) in one call.

    Parameters
    ----------
    capture : path-like or Capture
        The capture folder, read with :func:`hsi_tumor.read_capture`.
    **options
        Passed to :func:`calibrate` (``white_reflectance``, ``saturation``, ``out``, ...). The
        capture's ``WHITEDARKREF`` frames, when present, are used as ``white_dark``; the raw
        header's ``bit depth``, when present, sets the default ``saturation``.

    Returns
    -------
    Cube
        The lazily calibrated reflectance (see :func:`calibrate`).
    """
    from hsi_tumor.io import Capture, read_capture

    if not isinstance(capture, Capture):
        capture = read_capture(Path(capture))
    for role in ("white", "dark"):
        if getattr(capture, role) is None:
            raise CalibrationError(
                f"the capture has no {role} reference",
                file=capture.folder,
                field=role,
                fix=f"record a {role} reference, or call calibrate() with one",
            )
    options.setdefault("white_dark", capture.white_dark)
    return calibrate(capture.raw, capture.white, capture.dark, **options)
