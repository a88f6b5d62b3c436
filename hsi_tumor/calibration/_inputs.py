"""as_cube: the one input policy for "a cube" (a Cube, a capture folder, a cube file)."""

from __future__ import annotations

import os
from pathlib import Path

from hsi_tumor._shared.errors import InvalidOptionError, InvalidTypeError
from hsi_tumor.calibration._reflectance import calibrate_capture
from hsi_tumor.cube import Cube

__all__ = ["as_cube", "is_capture"]


def is_capture(source) -> bool:
    """Whether ``source`` is a Specim capture: a :class:`~hsi_tumor.io.Capture`, or a folder
    that holds ``capture/NAME.hdr`` (or is that ``capture`` folder)."""
    from hsi_tumor.io import Capture, SpecimReader

    if isinstance(source, Capture):
        return True
    if not isinstance(source, (str, os.PathLike)):
        return False
    return SpecimReader().guess_can_open(Path(source))


def as_cube(source, *, wavelengths=None, field: str = "cube", **calibration) -> Cube:
    """The cube that ``source`` means, wherever hsi_tumor expects a cube.

    This is the library's one input policy, used by :func:`hsi_tumor.classify_cube`,
    :func:`hsi_tumor.train`, :func:`hsi_tumor.evaluate`, :func:`hsi_tumor.classify_many`,
    the ``hsi-tumor`` command and the demo:

    - a :class:`~hsi_tumor.Cube` is used as it is;
    - a Specim capture folder (or a :class:`~hsi_tumor.io.Capture`) is **calibrated to
      reflectance** with :func:`calibrate_capture` (lazily, tile by tile), never used as raw
      camera counts;
    - any other path is read with :func:`hsi_tumor.read_cube` (a calibrated cube file: ENVI,
      HDF5, MATLAB, NumPy).

    Parameters
    ----------
    source : Cube, Capture, str or os.PathLike
        The cube, capture folder or cube file.
    wavelengths : array-like or path, optional
        Wavelengths (nm, or a CSV band table) supplying or overriding those of the file or the
        capture's headers (the ``wavelengths=`` option of the readers). Not for a Cube.
    field : str, default="cube"
        The argument's name, for error messages (e.g. ``"cubes[3]"``).
    **calibration
        Options of :func:`calibrate` for a capture (``saturation``, ``white_reflectance``).

    Returns
    -------
    Cube

    Raises
    ------
    InvalidOptionError
        If ``source`` is neither a Cube, a Capture nor a path, or calibration options or
        ``wavelengths`` are given where they cannot apply.
    MissingFileError, CubeFormatError, WavelengthError
        From :func:`hsi_tumor.read_cube` and :func:`hsi_tumor.read_capture`.
    CalibrationError
        If a capture lacks its white or dark reference.

    Examples
    --------
    >>> import numpy as np
    >>> import hsi_tumor as ht
    >>> from hsi_tumor.calibration import as_cube
    >>> cube = ht.Cube(np.ones((2, 3, 4), np.float32), [900, 1000, 1100, 1200])
    >>> as_cube(cube) is cube
    True
    """
    if isinstance(source, Cube):
        if wavelengths is not None or calibration:
            raise InvalidOptionError(
                f"{field} is a Cube: wavelengths and calibration options apply to files only",
                field=field,
                fix="set the Cube's wavelengths yourself, or give the file or capture folder",
            )
        return source
    if not isinstance(source, (str, os.PathLike)) and not is_capture(source):
        raise InvalidTypeError(
            f"{field} is a {type(source).__name__}, not a Cube or a path",
            field=field,
            fix="wrap an array as hsi_tumor.Cube(array, wavelengths), or give a cube file or a "
            "Specim capture folder",
        )
    options = {} if wavelengths is None else {"wavelengths": wavelengths}
    if is_capture(source):
        from hsi_tumor.io import Capture, read_capture

        capture = source if isinstance(source, Capture) else read_capture(source, **options)
        if isinstance(source, Capture) and options:
            raise InvalidOptionError(
                "wavelengths are read with the capture (read_capture(..., wavelengths=))",
                field="wavelengths",
                fix="give the capture folder, or read it with read_capture(folder, wavelengths=)",
            )
        return calibrate_capture(capture, **calibration)
    if calibration:
        raise InvalidOptionError(
            f"calibration options {sorted(calibration)} given, but {os.fspath(source)} is not a "
            "Specim capture folder",
            field=field,
            fix="leave them out for a calibrated cube file",
        )
    from hsi_tumor.io import read_cube

    return read_cube(source, **options)
