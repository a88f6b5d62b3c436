"""The reader/writer registry behind :func:`read_cube` and :func:`write_cube`.

Each format lives in one private module and registers a reader here: an object with a ``name``,
a ``description``, ``guess_can_open(path) -> bool`` and ``open(path, **options) -> Cube``
(xarray's ``BackendEntrypoint`` idea). Writers are plain functions ``write(cube, path, **options)``
keyed by format name, with the file extensions that select them.
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from hsi_tumor._shared.errors import CubeFormatError, InvalidOptionError
from hsi_tumor.cube import Cube
from hsi_tumor.io._common import existing_file

__all__ = ["READERS", "WRITERS", "CubeReader", "read_cube", "register_reader", "write_cube"]


class CubeReader(Protocol):
    """What a format module provides to :func:`read_cube`."""

    name: str
    description: str

    def guess_can_open(self, path: Path) -> bool: ...

    def open(self, path: Path, **options) -> Cube: ...


@dataclass(frozen=True)
class CubeWriter:
    """A writer function and the file extensions that select it."""

    write: Callable[..., None]
    extensions: tuple[str, ...]
    description: str


#: Readers by format name, tried in this order when no ``format=`` is given.
READERS: dict[str, CubeReader] = {}
#: Writers by format name.
WRITERS: dict[str, CubeWriter] = {}


def register_reader(reader: CubeReader) -> CubeReader:
    """Add a reader to the registry (a later reader of the same name replaces the earlier)."""
    READERS[reader.name] = reader
    return reader


def _check_options(func: Callable, options: dict, what: str) -> None:
    params = inspect.signature(func).parameters
    known = [n for n, p in params.items() if p.kind is inspect.Parameter.KEYWORD_ONLY]
    unknown = sorted(set(options) - set(known))
    if unknown:
        raise InvalidOptionError(
            f"{what} does not take the option(s) {', '.join(map(repr, unknown))}",
            field=unknown[0],
            fix=f"use one of: {', '.join(known) or 'no options'}",
        )


def read_cube(path: str | os.PathLike, *, format: str | None = None, **options) -> Cube:
    """Open a hyperspectral cube from any supported file; data is read lazily where possible.

    Parameters
    ----------
    path : str or os.PathLike
        An ENVI header or data file, a Specim capture folder, an HDF5 file, a MATLAB ``.mat`` file,
        or a NumPy ``.npy``/``.npz`` file.
    format : str, optional
        Force a reader (a key of :data:`READERS`: ``'envi'``, ``'specim'``, ``'hdf5'``,
        ``'matlab'``, ``'numpy'``) instead of guessing from the path.
    **options
        Reader options, e.g. ``wavelengths=`` (every reader: an array in nm or a CSV band table,
        supplying or overriding the file's wavelengths), ``dataset=`` and ``band_axis=`` (HDF5),
        ``variable=`` (MATLAB, ``.npz``).

    Returns
    -------
    Cube
        Memory-mapped (ENVI, ``.npy``) or lazy (HDF5, MATLAB v7.3) where the format allows; call
        :meth:`Cube.load` to read it into memory.

    Raises
    ------
    MissingFileError
        If ``path`` (or a file it needs, such as an ENVI data file) does not exist.
    CubeFormatError
        If no reader recognises the path or the file is malformed or truncated.
    WavelengthError
        If the wavelengths are missing, do not match the bands, or repeat a value (distinct
        bands out of order are shown sorted, see ``docs/io.md``).
    InvalidOptionError
        If an option is not one the chosen reader takes.

    Examples
    --------
    >>> import numpy as np, tempfile, os
    >>> import hsi_tumor as ht
    >>> folder = tempfile.mkdtemp()
    >>> cube = ht.Cube(np.arange(24, dtype=np.uint16).reshape(2, 3, 4), [900, 1000, 1100, 1200])
    >>> ht.write_cube(cube, os.path.join(folder, "tiny.hdr"))
    >>> ht.read_cube(os.path.join(folder, "tiny.hdr")).data[1, 2]
    memmap([20, 21, 22, 23], dtype=uint16)
    """
    path = existing_file(path)
    if format is not None:
        reader = READERS.get(format)
        if reader is None:
            raise InvalidOptionError(
                f"unknown format '{format}'",
                field="format",
                fix=f"use one of: {', '.join(READERS)}",
            )
    else:
        reader = next((r for r in READERS.values() if r.guess_can_open(path)), None)
        if reader is None:
            raise CubeFormatError(
                "no reader recognises this file",
                file=path,
                field="format",
                fix="supported: "
                + "; ".join(f"{r.name} ({r.description})" for r in READERS.values())
                + ". Pass format= to choose one",
            )
    _check_options(reader.open, options, f"the {reader.name} reader")
    return reader.open(path, **options)


def write_cube(
    cube: Cube,
    path: str | os.PathLike,
    *,
    format: str | None = None,
    overwrite: bool = False,
    **options,
) -> None:
    """Write a cube to ENVI or HDF5, atomically (staged beside the target, then renamed).

    Parameters
    ----------
    cube : Cube
        The cube; memory-mapped and lazy cubes are written tile by tile.
    path : str or os.PathLike
        ``*.hdr`` or an ENVI data name (``.img``, ``.raw``, ``.dat``, ``.bin``, ``.bsq``,
        ``.bil``, ``.bip``) for ENVI; ``*.h5``/``*.hdf5`` for HDF5.
    format : {'envi', 'hdf5'}, optional
        Force the format instead of choosing it from the extension.
    overwrite : bool, default=False
        Replace existing output. Without it an existing file is never touched.
    **options
        Writer options: ``interleave=``, ``byte_order=`` (ENVI); ``dataset=``, ``compression=``,
        ``chunks=`` (HDF5).

    Raises
    ------
    OutputExistsError
        If the output exists and ``overwrite`` is False.
    CubeFormatError
        If the cube's dtype cannot be stored in the format.

    Notes
    -----
    A reader sees the whole old output or the whole new one (or, for a new name, nothing)
    even if the process is killed at any point: an ENVI pair's data file begins with its
    header and is renamed first (see :mod:`hsi_tumor.io._envi`); what a killed write left is
    deleted by the next write to the same name (:mod:`hsi_tumor._shared.atomic`).
    """
    path = Path(path)
    if format is None:
        ext = path.suffix.lower()
        format = next((n for n, w in WRITERS.items() if ext in w.extensions), None)
        if format is None:
            raise CubeFormatError(
                f"cannot tell the output format from the extension '{ext}'",
                file=path,
                field="format",
                fix="use "
                + "; ".join(f"{', '.join(w.extensions)} ({n})" for n, w in WRITERS.items())
                + ", or pass format=",
            )
    writer = WRITERS.get(format)
    if writer is None:
        raise InvalidOptionError(
            f"unknown output format '{format}'",
            field="format",
            fix=f"use one of: {', '.join(WRITERS)}",
        )
    _check_options(writer.write, options, f"the {format} writer")
    writer.write(cube, path, overwrite=overwrite, **options)
