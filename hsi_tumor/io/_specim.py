"""Specim capture folders: ``NAME/capture/NAME.hdr`` with ``DARKREF_`` and ``WHITEREF_`` beside it.

A Specim camera (IQ, FX10/FX17, SWIR) saves each acquisition as a folder::

    NAME/
      capture/
        NAME.hdr, NAME.raw                    raw counts, ENVI, usually BIL uint16
        DARKREF_NAME.hdr, DARKREF_NAME.raw    dark frames (shutter closed)
        WHITEREF_NAME.hdr, WHITEREF_NAME.raw  white-panel frames
        WHITEDARKREF_NAME.hdr, ...            optional: dark frames for the white reference
      metadata/NAME.xml, results/, manifest.xml    (not needed for the cube)

The references are line scans: (frames, cols, bands) cubes with the same columns and bands as
the raw cube.
"""

from __future__ import annotations

import logging
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from hsi_tumor._shared.atomic import atomic_directory
from hsi_tumor._shared.display import facts_table
from hsi_tumor._shared.errors import (
    CubeFormatError,
    InvalidOptionError,
    MissingFileError,
    WavelengthError,
)
from hsi_tumor._shared.wavelengths import describe_grid
from hsi_tumor.cube import Cube
from hsi_tumor.io._envi import EnviReader, write_envi

logger = logging.getLogger("hsi_tumor.io")

__all__ = ["Capture", "SpecimReader", "read_capture", "write_capture"]

_REFERENCE_PREFIXES = ("DARKREF_", "WHITEREF_", "WHITEDARKREF_")


@dataclass
class Capture:
    """A Specim capture: the raw cube and its reference frames.

    Attributes
    ----------
    raw : Cube
        Raw counts, (lines, samples, bands), memory-mapped.
    white : Cube or None
        White-panel frames, (frames, samples, bands).
    dark : Cube or None
        Dark frames, (frames, samples, bands).
    white_dark : Cube or None
        Dark frames recorded with the white reference, when the camera saved them.
    name : str
        The capture's name.
    folder : pathlib.Path
        The capture folder.
    """

    raw: Cube
    white: Cube | None
    dark: Cube | None
    white_dark: Cube | None = None
    name: str = ""
    folder: Path = field(default_factory=Path)

    def __repr__(self) -> str:
        refs = ", ".join(
            f"{k}={'none' if getattr(self, k) is None else getattr(self, k).shape}"
            for k in ("white", "dark", "white_dark")
        )
        return f"Capture({self.name!r}, raw={self.raw.shape}, {refs})"

    def _repr_html_(self) -> str:
        """The raw cube, its wavelengths and the reference frames."""

        def frames(cube: Cube | None) -> str:
            if cube is None:
                return "none"
            return f"{cube.n_rows} frames, {cube.dtype}"

        raw = self.raw
        rows = [
            ("name", self.name),
            ("folder", str(self.folder)),
            (
                "raw",
                f"{raw.n_rows} lines x {raw.n_cols} samples x {raw.n_bands} bands, {raw.dtype}",
            ),
            ("wavelengths", describe_grid(raw.wavelengths)),
            ("white reference", frames(self.white)),
            ("dark reference", frames(self.dark)),
        ]
        if self.white_dark is not None:
            rows.append(("dark of the white", frames(self.white_dark)))
        return facts_table("hsi_tumor.Capture", rows)


def _capture_dir(folder: Path) -> Path:
    """The folder holding ``NAME.hdr``: ``folder/capture``, else ``folder`` itself when it is
    that ``capture`` folder (a capture *named* ``capture`` has both: its sub-folder wins)."""
    for name in ("capture", "Capture", "CAPTURE"):
        if (folder / name).is_dir():
            return folder / name
    if folder.name.lower() == "capture":
        return folder
    raise MissingFileError(
        "not a Specim capture folder (no 'capture' sub-folder)",
        file=folder,
        field="capture",
        fix="give the folder that holds capture/NAME.hdr",
    )


def _main_header(capture_dir: Path, name: str) -> Path:
    candidate = capture_dir / f"{name}.hdr"
    if candidate.is_file():
        return candidate
    headers = [
        p
        for p in sorted(capture_dir.glob("*.hdr"))
        if not p.name.upper().startswith(_REFERENCE_PREFIXES)
    ]
    if len(headers) == 1:
        return headers[0]
    raise MissingFileError(
        f"no raw cube header {name}.hdr"
        + (f" (found {', '.join(p.name for p in headers)})" if headers else ""),
        file=capture_dir,
        field="raw cube header",
        fix="the capture folder should hold NAME.hdr and NAME.raw for its name NAME",
    )


def read_capture(folder: str | os.PathLike, *, wavelengths=None) -> Capture:
    """Read a Specim capture folder: the raw cube and its white and dark references.

    Parameters
    ----------
    folder : str or os.PathLike
        The capture folder (``NAME/``), or its ``capture/`` sub-folder.
    wavelengths : array-like or path, optional
        Band centres in nm overriding the headers' (applied to the cube and the references).

    Returns
    -------
    Capture
        ``white``/``dark`` are None (with a logged warning) when the camera did not save them.

    Raises
    ------
    MissingFileError
        If the folder or its raw cube is missing.
    CubeFormatError, WavelengthError
        If a reference does not match the raw cube's columns or wavelengths.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise MissingFileError(
            "no such capture folder",
            file=folder,
            field="path",
            fix="give the folder that holds capture/",
        )
    capture_dir = _capture_dir(folder)
    root = capture_dir.parent
    header = _main_header(capture_dir, root.name)
    name = header.stem
    reader = EnviReader()
    raw = reader.open(header, wavelengths=wavelengths)
    _check_has_wavelengths(raw, header)
    refs: dict[str, Cube | None] = {}
    for prefix, key in zip(_REFERENCE_PREFIXES, ("dark", "white", "white_dark"), strict=True):
        ref_header = capture_dir / f"{prefix}{name}.hdr"
        if not ref_header.is_file():
            refs[key] = None
            if key != "white_dark":
                logger.warning("%s: no %s reference (%s)", folder, key, ref_header.name)
            continue
        ref = reader.open(ref_header, wavelengths=wavelengths)
        _check_has_wavelengths(ref, ref_header)
        if ref.n_cols != raw.n_cols or ref.n_bands != raw.n_bands:
            raise CubeFormatError(
                f"the {key} reference is {ref.n_cols} samples x {ref.n_bands} bands, the raw cube "
                f"{raw.n_cols} x {raw.n_bands}",
                file=ref_header,
                field="samples/bands",
                fix="use references recorded with the same camera settings",
            )
        if not np.allclose(ref.wavelengths, raw.wavelengths, rtol=0, atol=1e-6):
            raise WavelengthError(
                "the reference's wavelengths differ from the raw cube's",
                file=ref_header,
                field="wavelength",
                fix="use references recorded with the same camera settings",
            )
        refs[key] = ref
    return Capture(raw=raw, name=name, folder=root, **refs)


def _check_has_wavelengths(cube: Cube, header: Path) -> None:
    """A camera's cube has wavelengths; ``wavelength units = Index`` (derived features) is an
    error here, not a capture without band positions."""
    if cube.wavelengths is None:
        raise WavelengthError(
            "the header says 'wavelength units = Index' (bands that are not wavelengths), but a "
            "camera capture has band centres",
            file=header,
            field="wavelength units",
            fix="correct the header's wavelength and wavelength units, or pass wavelengths= "
            "with the band centres in nm",
        )


def write_capture(
    capture,
    folder: str | os.PathLike | None = None,
    white: Cube | None = None,
    dark: Cube | None = None,
    *,
    white_dark: Cube | None = None,
    interleave: str = "bil",
    overwrite: bool = False,
) -> Path:
    """Write a Specim-style capture folder (ENVI files under ``NAME/capture/``), atomically.

    Data first, like every writer: ``write_capture(capture, folder)`` with a :class:`Capture`
    (as :func:`read_capture` returns), or ``write_capture(raw, folder, white, dark)`` with the
    three cubes. The old order ``write_capture(folder, raw, white, dark)`` still works, with a
    ``DeprecationWarning``.

    Parameters
    ----------
    capture : Capture or Cube
        The capture (its ``raw``, ``white``, ``dark`` and ``white_dark``), or the raw cube
        (frames, cols, bands).
    folder : str or os.PathLike
        The capture folder to create; its name is the capture's ``NAME``.
    white, dark : Cube, optional
        The references (frames, cols, bands), same cols and bands as the raw cube; only with a
        raw cube.
    white_dark : Cube, optional
        Dark frames for the white reference.
    interleave : str, default='bil'
        ENVI interleave of the files (Specim cameras write BIL).
    overwrite : bool, default=False
        Replace an existing folder.

    Returns
    -------
    pathlib.Path
        The capture folder.

    Raises
    ------
    InvalidOptionError
        If the arguments are neither a Capture nor cubes with a folder.
    CubeFormatError
        If a reference's columns or bands differ from the raw cube's.
    OutputExistsError
        If ``folder`` exists and ``overwrite`` is False.
    """
    if isinstance(capture, (str, os.PathLike)):
        warnings.warn(
            "write_capture(folder, raw, white, dark) is deprecated: write the data first, "
            "write_capture(raw, folder, white, dark) or write_capture(capture, folder)",
            DeprecationWarning,
            stacklevel=2,
        )
        capture, folder, white, dark = folder, capture, white, dark
    if isinstance(capture, Capture):
        if white is not None or dark is not None:
            raise InvalidOptionError(
                "white and dark come from the Capture",
                field="white",
                fix="give a Capture alone, or the raw cube with white and dark",
            )
        raw, white, dark = capture.raw, capture.white, capture.dark
        white_dark = capture.white_dark if white_dark is None else white_dark
    else:
        raw = capture
    if not isinstance(raw, Cube) or folder is None or white is None or dark is None:
        raise InvalidOptionError(
            "write_capture needs a Capture and a folder, or the raw, white and dark cubes and "
            "a folder",
            field="capture",
            fix="call write_capture(capture, folder) or write_capture(raw, folder, white, dark)",
        )
    folder = Path(folder)
    name = folder.name
    parts = {"": raw, "DARKREF_": dark, "WHITEREF_": white, "WHITEDARKREF_": white_dark}
    labels = {"DARKREF_": "dark", "WHITEREF_": "white", "WHITEDARKREF_": "white_dark"}
    parts = {prefix: cube for prefix, cube in parts.items() if cube is not None}
    for prefix, ref in parts.items():
        if prefix and (ref.n_cols != raw.n_cols or ref.n_bands != raw.n_bands):
            raise CubeFormatError(
                f"the {labels[prefix]} reference is {ref.n_cols} x {ref.n_bands} (cols x bands), "
                f"the raw cube {raw.n_cols} x {raw.n_bands}",
                field=labels[prefix],
                fix="give references with the raw cube's columns and bands",
            )
    with atomic_directory(folder, overwrite=overwrite) as tmp:
        (tmp / "capture").mkdir()
        for prefix, cube in parts.items():
            write_envi(cube, tmp / "capture" / f"{prefix}{name}.raw", interleave=interleave)
    return folder


class SpecimReader:
    """``read_cube`` on a capture folder returns its raw cube (use :func:`read_capture` for all)."""

    name = "specim"
    description = "Specim capture folder NAME/capture/NAME.hdr (raw cube)"

    def guess_can_open(self, path: Path) -> bool:
        try:
            if not path.is_dir():
                return False
            _capture_dir(path)
        except (MissingFileError, OSError):  # not a folder, or a path that cannot exist
            return False
        return True

    def open(self, path: Path, *, wavelengths=None) -> Cube:
        return read_capture(path, wavelengths=wavelengths).raw
