"""ENVI: header parsed by ``spectral``; data memory-mapped in any interleave, type, byte order."""

from __future__ import annotations

import logging
import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from hsi_tumor._shared.atomic import atomic_path
from hsi_tumor._shared.errors import CubeFormatError, MissingFileError, WavelengthError
from hsi_tumor._shared.limits import check_budget, check_regular_file, shorten
from hsi_tumor.cube import Cube
from hsi_tumor.io._common import build_cube

logger = logging.getLogger("hsi_tumor.io")

__all__ = ["EnviReader", "find_envi_pair", "read_envi_header", "write_envi"]

#: Data-file extensions tried beside a header, in this order (and their upper-case forms).
DATA_EXTENSIONS = ("", ".raw", ".img", ".dat", ".bin", ".bsq", ".bil", ".bip", ".hyspex", ".sli")
INTERLEAVES = ("bsq", "bil", "bip")

# ENVI data type codes (ENVI header documentation) and their numpy types.
ENVI_DTYPES: dict[int, np.dtype] = {
    1: np.dtype(np.uint8),
    2: np.dtype(np.int16),
    3: np.dtype(np.int32),
    4: np.dtype(np.float32),
    5: np.dtype(np.float64),
    6: np.dtype(np.complex64),
    9: np.dtype(np.complex128),
    12: np.dtype(np.uint16),
    13: np.dtype(np.uint32),
    14: np.dtype(np.int64),
    15: np.dtype(np.uint64),
}
_DTYPE_CODES = {dt: code for code, dt in ENVI_DTYPES.items()}


def find_envi_pair(path: Path) -> tuple[Path, Path]:
    """Return (header, data file) for an ENVI header or data file path.

    Raises
    ------
    MissingFileError
        If the partner file cannot be found; the message lists the names tried.
    """
    if path.suffix.lower() == ".hdr":
        stem = path.with_suffix("")
        tried = [stem.with_name(stem.name + ext) for ext in DATA_EXTENSIONS]
        tried += [stem.with_name(stem.name + ext.upper()) for ext in DATA_EXTENSIONS if ext]
        for candidate in tried:
            if candidate.is_file():
                return path, candidate
        raise MissingFileError(
            "the ENVI data file beside this header is missing (tried "
            + ", ".join(p.name for p in tried[:10])
            + ")",
            file=path,
            field="data file",
            fix="put the data file next to the header with the same name, or pass the data file",
        )
    tried = [
        path.with_name(path.name + ".hdr"),
        path.with_suffix(".hdr"),
        path.with_suffix(".HDR"),
        path.with_name(path.name + ".HDR"),
    ]
    for candidate in tried:
        if candidate.is_file() and candidate != path:
            return candidate, path
    raise MissingFileError(
        "no ENVI header for this data file (tried "
        + ", ".join(dict.fromkeys(p.name for p in tried))
        + ")",
        file=path,
        field="header",
        fix="put the .hdr file next to the data file with the same name",
    )


def read_envi_header(header: Path) -> dict[str, Any]:
    """Parse an ENVI header with ``spectral``, turning every failure into CubeFormatError.

    The header must be a regular file (a named pipe would block the read forever) whose
    parsed values fit the memory budget (about 8 bytes in memory per byte of text).
    """
    from spectral.io import envi

    check_regular_file(header)
    check_budget(8 * header.stat().st_size, "parsing this ENVI header", file=header, field="path")
    field = None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return envi.read_envi_header(os.fspath(header))
    except envi.FileNotAnEnviHeader:
        problem = "not an ENVI header (the first line must be 'ENVI')"
    except Exception as exc:  # spectral raises bare Exceptions, IndexErrors and decode errors
        field = _unclosed_brace_field(header)
        if field is not None:
            problem = "the value opens '{' but the header ends before its '}'"
        else:
            problem = (
                f"the ENVI header cannot be parsed ({shorten(f'{type(exc).__name__}: {exc}', 200)})"
            )
    raise CubeFormatError(
        problem,
        file=header,
        field=field,
        fix="repair the header (fields are 'key = value', lists are '{ a, b, c }')",
    )


def _unclosed_brace_field(header: Path) -> str | None:
    """The header field whose '{' is never closed, if that is what broke the parse."""
    try:
        text = header.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    open_field = None
    for line in text.splitlines()[1:]:
        if open_field is None and "=" in line:
            key, _, value = line.partition("=")
            if value.strip().startswith("{") and "}" not in value:
                open_field = key.strip().lower()
        elif open_field is not None and "}" in line:
            open_field = None
    return open_field


def _int_field(hdr: dict, key: str, header: Path, *, default=None, minimum=0, maximum=2**40) -> int:
    if key not in hdr:
        if default is not None:
            return default
        raise CubeFormatError(
            "required field is missing", file=header, field=key, fix=f"add '{key} = ...'"
        )
    raw = hdr[key]
    text = None if isinstance(raw, list) else str(raw).strip()
    try:  # more digits than any size has are not parsed (int() of 5,000 digits is slow)
        value = None if text is None or len(text) > 30 else int(text)
    except ValueError:
        value = None
    if value is None and text is not None and text.lstrip("+-").isdecimal():
        value = minimum - 1 if text.startswith("-") else maximum + 1  # far out of range
    if value is None:
        raise CubeFormatError(
            f"'{shorten(raw)}' is not an integer",
            file=header,
            field=key,
            fix=f"write a whole number ≥ {minimum}",
        )
    if value < minimum:
        raise CubeFormatError(
            f"{shorten(value)} is below {minimum}",
            file=header,
            field=key,
            fix=f"write a number ≥ {minimum}",
        )
    if value > maximum:
        raise CubeFormatError(
            f"{shorten(text)} is larger than any image has",
            file=header,
            field=key,
            fix=f"write a number ≤ {maximum}",
        )
    return value


def _float_list(hdr: dict, key: str, header: Path, n: int | None = None) -> np.ndarray | None:
    if key not in hdr:
        return None
    raw = hdr[key]
    values = raw if isinstance(raw, list) else [raw]
    values = [v for v in (str(x).strip() for x in values) if v]
    try:
        arr = np.array([float(v) for v in values], dtype=np.float64)
    except ValueError as exc:
        raise CubeFormatError(
            f"a value is not a number ({shorten(exc)})",
            file=header,
            field=key,
            fix="write comma-separated numbers inside { }",
        ) from None
    if n is not None and arr.size != n:
        raise CubeFormatError(
            f"{arr.size} values for {n} bands",
            file=header,
            field=key,
            fix="give exactly one value per band",
        )
    return arr


class EnviReader:
    """Reader for ENVI header + binary data files."""

    name = "envi"
    description = "ENVI .hdr + data file (.raw .img .dat .bin or none), BSQ/BIL/BIP"

    def guess_can_open(self, path: Path) -> bool:
        if path.is_dir():
            return False
        if path.suffix.lower() == ".hdr":
            return True
        try:
            find_envi_pair(path)
        except MissingFileError:
            return False
        return True

    def open(self, path: Path, *, wavelengths=None) -> Cube:
        """Memory-map an ENVI cube.

        It is long because it checks, in order, every header field a cube needs (type, size,
        data type, byte order, offset, interleave, wavelengths and their units, band list),
        each with its own error naming the field: one straight read of one header.

        Parameters
        ----------
        path : Path
            The header or the data file.
        wavelengths : array-like or path, optional
            Band centres in nm (or a CSV band table) overriding the header's ``wavelength``.
        """
        header, data_file = find_envi_pair(Path(path))
        hdr = read_envi_header(header)
        file_type = str(hdr.get("file type", "ENVI Standard")).strip()
        if "library" in file_type.lower():
            raise CubeFormatError(
                "this is an ENVI spectral library, not an image cube",
                file=header,
                field="file type",
                fix="read it with spectral.envi.open() as a library of spectra",
            )
        samples = _int_field(hdr, "samples", header, minimum=1)
        lines = _int_field(hdr, "lines", header, minimum=1)
        bands = _int_field(hdr, "bands", header, minimum=1)
        offset = _int_field(hdr, "header offset", header, default=0, maximum=2**62)
        code = _int_field(hdr, "data type", header, minimum=0, maximum=2**31)
        if code not in ENVI_DTYPES:
            raise CubeFormatError(
                f"unknown data type {code}",
                file=header,
                field="data type",
                fix="use an ENVI data type code: "
                + ", ".join(f"{c} ({t})" for c, t in ENVI_DTYPES.items()),
            )
        byte_order = _int_field(hdr, "byte order", header, default=0, maximum=2**31)
        if byte_order not in (0, 1):
            raise CubeFormatError(
                f"byte order is {byte_order}",
                file=header,
                field="byte order",
                fix="use 0 (little-endian) or 1 (big-endian)",
            )
        interleave = str(hdr.get("interleave", "")).strip().lower()
        if interleave not in INTERLEAVES:
            raise CubeFormatError(
                f"interleave is '{shorten(hdr.get('interleave', ''))}'",
                file=header,
                field="interleave",
                fix="use bsq, bil or bip",
            )
        dtype = ENVI_DTYPES[code].newbyteorder("<" if byte_order == 0 else ">")
        expected = offset + samples * lines * bands * dtype.itemsize
        actual = data_file.stat().st_size
        if actual < expected:
            raise CubeFormatError(
                f"the data file has {actual} bytes but the header promises {expected} "
                f"(header offset {offset} + {samples} samples x {lines} lines x {bands} bands x "
                f"{dtype.itemsize} bytes of data type {code})",
                file=data_file,
                field="samples/lines/bands/data type",
                fix="the file is truncated (copy it again) or the header's sizes are wrong",
            )
        if actual > expected:
            logger.warning(
                "%s: %d bytes beyond what %s describes are ignored",
                data_file,
                actual - expected,
                header,
            )
        file_shape = {
            "bsq": (bands, lines, samples),
            "bil": (lines, bands, samples),
            "bip": (lines, samples, bands),
        }[interleave]
        to_cube = {"bsq": (1, 2, 0), "bil": (0, 2, 1), "bip": (0, 1, 2)}[interleave]
        try:
            mm = np.memmap(data_file, dtype=dtype, mode="r", offset=offset, shape=file_shape)
        except (OSError, ValueError) as exc:
            raise CubeFormatError(
                f"cannot memory-map the data ({shorten(exc)})",
                file=data_file,
                field="data file",
                fix="check the file",
            ) from None
        data = mm.transpose(to_cube)

        metadata: dict[str, Any] = {"format": "envi", "header": os.fspath(header)}
        metadata["interleave"] = interleave
        fwhm = _float_list(hdr, "fwhm", header, bands)
        if fwhm is not None:
            metadata["fwhm"] = fwhm
        bbl = _float_list(hdr, "bbl", header, bands)
        if bbl is not None:
            metadata["bbl"] = bbl.astype(bool)
        if "band names" in hdr:
            names = (
                hdr["band names"] if isinstance(hdr["band names"], list) else [hdr["band names"]]
            )
            if len(names) == bands:
                metadata["band_names"] = np.array([str(n) for n in names])
        default = _float_list(hdr, "default bands", header)
        if default is not None:
            if not np.all(np.isfinite(default) & (default >= 1) & (default <= bands)):
                raise CubeFormatError(
                    f"default bands {shorten(default.tolist())} are not band numbers in 1..{bands}",
                    file=header,
                    field="default bands",
                    fix="list 1-based band numbers",
                )
            metadata["default_bands"] = [int(b) - 1 for b in default]
        scale = _float_list(hdr, "reflectance scale factor", header)
        if scale is not None and scale.size == 1:
            metadata["reflectance_scale_factor"] = float(scale[0])
        for key in ("description", "sensor type", "acquisition time", "data ignore value"):
            if key in hdr:
                metadata[key.replace(" ", "_")] = hdr[key]
        metadata["envi_header"] = hdr

        file_wl = _float_list(hdr, "wavelength", header) if wavelengths is None else None
        if file_wl is not None and file_wl.size != bands:
            raise WavelengthError(
                f"{file_wl.size} wavelengths for {bands} bands",
                file=header,
                field="wavelength",
                fix="give one wavelength per band, or pass wavelengths= to override",
            )
        units = hdr.get("wavelength units")
        return build_cube(
            data,
            file=header,
            wavelengths=file_wl,
            units=None if units is None else str(units),
            override=wavelengths,
            metadata=metadata,
            data_field="data type",
        )


def _header_number(x: float) -> str:
    return repr(float(x))


def write_envi(
    cube: Cube,
    path: Path,
    *,
    overwrite: bool = False,
    interleave: str = "bip",
    byte_order: int | None = None,
    description: str | None = None,
) -> None:
    """Write a cube as an ENVI header + data file pair.

    Parameters
    ----------
    cube : Cube
    path : Path
        ``NAME.hdr`` (data goes to ``NAME.img``) or the data file name (header ``NAME.hdr``).
    overwrite : bool, default=False
    interleave : {'bip', 'bil', 'bsq'}, default='bip'
        Band-interleaved by pixel reads fastest as whole spectra; Specim cameras write BIL.
    byte_order : {0, 1}, optional
        0 little-endian, 1 big-endian; by default the cube's own (native for in-memory data).
    description : str, optional
        Written to the header's ``description`` (default: the cube's metadata description).

    Notes
    -----
    The header records ``wavelength`` (nm, exact to the last bit), ``wavelength units``,
    ``fwhm``, ``bbl``, ``band names``, ``default bands`` and ``reflectance scale factor`` when the
    cube has them. The data is written first and the header last, each under a temporary name
    renamed into place, so a header on disk always describes a complete data file.
    """
    from spectral.io import envi

    from hsi_tumor._shared.atomic import refuse_overwrite

    path = Path(path)
    if path.suffix.lower() == ".hdr":
        header, data_file = path, path.with_suffix(".img")
    else:
        header, data_file = path.with_suffix(".hdr"), path
    interleave = interleave.lower()
    if interleave not in INTERLEAVES:
        raise CubeFormatError(
            f"interleave '{interleave}' is not an ENVI interleave",
            field="interleave",
            fix="use bsq, bil or bip",
        )
    base = cube.dtype.newbyteorder("=")
    if base not in _DTYPE_CODES:
        raise CubeFormatError(
            f"ENVI cannot store dtype {cube.dtype}",
            field="data type",
            fix="cast with cube.load().data.astype(np.float32) (or another ENVI type: "
            + ", ".join(str(t) for t in ENVI_DTYPES.values())
            + ")",
        )
    if byte_order is None:
        byte_order = (
            1
            if cube.dtype.byteorder == ">"
            or (cube.dtype.byteorder == "=" and np.little_endian is False)
            else 0
        )
    if byte_order not in (0, 1):
        raise CubeFormatError(f"byte order {byte_order}", field="byte_order", fix="use 0 or 1")
    refuse_overwrite(header, data_file, overwrite=overwrite)
    rows, cols, bands = cube.shape
    file_dtype = base.newbyteorder("<" if byte_order == 0 else ">")
    file_shape = {
        "bsq": (bands, rows, cols),
        "bil": (rows, bands, cols),
        "bip": (rows, cols, bands),
    }
    to_cube = {"bsq": (1, 2, 0), "bil": (0, 2, 1), "bip": (0, 1, 2)}[interleave]

    hdr: dict[str, Any] = {
        "description": _clean_description(
            description if description is not None else cube.metadata.get("description", "")
        )
        or "written by hsi_tumor",
        "samples": cols,
        "lines": rows,
        "bands": bands,
        "header offset": 0,
        "file type": "ENVI Standard",
        "data type": _DTYPE_CODES[base],
        "interleave": interleave,
        "byte order": byte_order,
    }
    if cube.wavelengths is None:  # derived features (scores, probabilities): ENVI's "Index"
        hdr["wavelength units"] = "Index"
    else:
        hdr["wavelength units"] = "Nanometers"
        hdr["wavelength"] = [_header_number(w) for w in cube.wavelengths]
    meta = cube.metadata
    if meta.get("fwhm") is not None:
        hdr["fwhm"] = [_header_number(w) for w in meta["fwhm"]]
    if meta.get("bbl") is not None:
        hdr["bbl"] = [int(bool(b)) for b in meta["bbl"]]
    if meta.get("band_names") is not None:
        hdr["band names"] = [str(n).replace("}", ")") for n in meta["band_names"]]
    if meta.get("default_bands"):
        hdr["default bands"] = [int(b) + 1 for b in meta["default_bands"]]
    if meta.get("reflectance_scale_factor") is not None:
        hdr["reflectance scale factor"] = _header_number(meta["reflectance_scale_factor"])

    # The data file is renamed into place first and the header after it, so a header on disk
    # always describes a complete data file.
    with atomic_path(header) as tmp_header, atomic_path(data_file) as tmp_data:
        if cube.nbytes:
            out = np.memmap(tmp_data, dtype=file_dtype, mode="w+", shape=file_shape[interleave])
            view = out.transpose(to_cube)
            for rows_slice, tile in cube.tiles():
                view[rows_slice] = tile.load().data
            out.flush()
            del out, view
        envi.write_envi_header(os.fspath(tmp_header), hdr)
    logger.debug("wrote %s (%s, %s)", header, interleave, file_dtype)


def _clean_description(text) -> str:
    text = str(text)
    return text.replace("{", "(").replace("}", ")").strip()
