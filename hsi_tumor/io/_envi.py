"""ENVI: header parsed by ``spectral``; data memory-mapped in any interleave, type, byte order.

Writing a header + data pair atomically
---------------------------------------
An ENVI cube is two files side by side, ``NAME.hdr`` and ``NAME.img``, and no single rename can
replace two files. The writer therefore makes the data file describe itself and makes its
rename the commit point:

1. both files are written in a staging folder (:mod:`hsi_tumor._shared.atomic`); the header
   carries a fresh random ``hsi_tumor write id`` and ``header offset = N``, and the data file
   starts with the same header text (NUL-padded to ``N`` bytes, a multiple of 512) before the
   data: ENVI's own embedded-header layout, which every ENVI reader skips;
2. the data file is renamed into place (**the commit point**), then the header.

A reader of ours (:func:`read_envi_pair`) takes the side-car header when it belongs to the data
file beside it: it carries that file's write id or, carrying none, is newer than the data (a
header edited after the write). Otherwise (missing, another write's id, or no id and no newer
than the data: a kill between the two renames left the old header, or none, beside the new
data) it reads the header embedded in the data file and logs a warning. Every state a killed
write can leave is thus read as the whole old version (killed before the commit) or the whole
new one (after it), never old wavelengths over new data. The next write to the destination,
even one refused because the output exists, puts the embedded header back in place of such a
stale one (:func:`repair_envi_pair`); a header edited after the write is never replaced. Other
programs read the side-car header and may see a mix in the moment between the two renames, or
after a kill there until that next write. (A header longer than 1 MiB, e.g. tens of thousands
of named bands, is embedded too but not looked for: such a pair has only the other guarantees.)
"""

from __future__ import annotations

import logging
import os
import re
import stat
import uuid
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from hsi_tumor._shared.atomic import atomic_files, atomic_path, refuse_overwrite
from hsi_tumor._shared.errors import CubeFormatError, MissingFileError, WavelengthError
from hsi_tumor._shared.limits import check_budget, check_regular_file, shorten
from hsi_tumor.cube import Cube
from hsi_tumor.io._common import build_cube

logger = logging.getLogger("hsi_tumor.io")

__all__ = [
    "WRITE_ID",
    "EnviReader",
    "find_envi_pair",
    "read_envi_header",
    "read_envi_pair",
    "repair_envi_pair",
    "write_envi",
    "write_envi_files",
]

#: Data-file extensions tried beside a header, in this order (and their upper-case forms).
DATA_EXTENSIONS = ("", ".raw", ".img", ".dat", ".bin", ".bsq", ".bil", ".bip", ".hyspex", ".sli")
INTERLEAVES = ("bsq", "bil", "bip")
#: Extensions that are never an ENVI data file, even beside a header of the same name (the
#: PNG overlays and JSON summary of a tumor-map folder sit beside its ENVI maps).
NOT_ENVI_DATA = (".png", ".jpg", ".jpeg", ".json", ".csv", ".md", ".txt", ".htmodel", ".zip")

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

#: The header field that ties a header to its data file: the id of the write that made both.
WRITE_ID = "hsi_tumor write id"
_WRITE_ID_LINE = re.compile(r"^hsi_tumor write id = ([0-9a-f]{32})[ \t\r]*$", re.MULTILINE)
#: Embedded headers are padded to a multiple of this and are never longer than _EMBED_MAX
#: (a reader reads at most that much of a data file looking for one).
_EMBED_ALIGN = 512
_EMBED_MAX = 1 << 20


def find_envi_pair(path: Path) -> tuple[Path, Path]:
    """Return (header, data file) for an ENVI header or data file path.

    Raises
    ------
    MissingFileError
        If the partner file cannot be found; the message lists the names tried.
    """
    if path.suffix.lower() == ".hdr":
        check_envi_magic(path)
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


def check_envi_magic(header: Path) -> None:
    """Refuse a file named ``.hdr`` whose first line is not ``ENVI`` (before looking for its
    data file: a renamed text file is not an ENVI header, whatever lies beside it)."""
    if os.path.exists(header):  # False for names that cannot exist; those fail where opened
        check_regular_file(header)  # never open a named pipe or device: it can block forever
    try:
        with open(header, "rb") as f:
            first = f.readline(64)
    except OSError:
        return  # a missing or unreadable header is reported where it is opened
    if not first.lstrip(b"\xef\xbb\xbf").strip().startswith(b"ENVI"):
        raise CubeFormatError(
            "not an ENVI header (the first line must be 'ENVI')",
            file=header,
            fix="give an ENVI header (.hdr), or a file of another format read_cube reads",
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


def _is_regular_file(path: Path) -> bool:
    try:
        return stat.S_ISREG(path.stat().st_mode)
    except OSError:
        return False


class _Embedded(NamedTuple):
    """A header an hsi_tumor write embedded at the start of its data file."""

    text: str
    write_id: str
    offset: int | None  # its ``header offset``: where the data begins


def _embedded_header(data_file: Path) -> _Embedded | None:
    """The header embedded in ``data_file`` by an hsi_tumor write, or None (another program's
    file, or no header in it). Reads at most ``_EMBED_MAX`` bytes."""
    if not _is_regular_file(data_file):  # never open a FIFO or device: it can block forever
        return None
    try:
        with open(data_file, "rb") as f:
            head = f.read(4)
            if head != b"ENVI":
                return None
            while (end := head.find(b"\0")) < 0 and len(head) < _EMBED_MAX:
                chunk = f.read(min(64 * 1024, _EMBED_MAX - len(head)))
                if not chunk:
                    return None
                head += chunk
    except OSError:
        return None
    try:
        text = head[:end].decode("utf-8") if end >= 0 else ""
    except UnicodeDecodeError:
        return None
    found = _WRITE_ID_LINE.search(text)
    if found is None:
        return None
    offset = re.search(r"^header offset = (\d{1,12})\s*$", text, re.MULTILINE)
    return _Embedded(text, found.group(1), int(offset.group(1)) if offset else None)


def _parse_header_text(text: str, file: Path) -> dict[str, Any]:
    """Parse header text as ``spectral.io.envi.read_envi_header`` parses a header file (keys
    lower-cased, ``{ a , b }`` lists split at commas, ``description`` kept whole)."""
    lines = text.splitlines()
    hdr: dict[str, Any] = {}
    i = 1
    while i < len(lines):
        line = lines[i]
        i += 1
        if "=" not in line or line.startswith(";"):
            continue
        key, _, value = line.partition("=")
        key, value = key.strip().lower(), value.strip()
        if value.startswith("{"):
            while not value.endswith("}"):
                if i == len(lines):
                    raise CubeFormatError(
                        "the embedded header's value opens '{' but never closes it",
                        file=file,
                        field=key,
                        fix="write the cube again",
                    )
                if not lines[i].startswith(";"):
                    value += "\n" + lines[i].strip()
                i += 1
            if key == "description":
                hdr[key] = value.strip("{}").strip()
            else:
                hdr[key] = [v.strip() for v in value[1:-1].split(",")]
        else:
            hdr[key] = value
    return hdr


def _sidecar_write_id(header: Path) -> str | None:
    """The write id a header file carries, or None (none, unreadable, or not a small file)."""
    try:
        if not _is_regular_file(header) or header.stat().st_size > _EMBED_MAX:
            return None
        found = _WRITE_ID_LINE.search(header.read_bytes().decode("utf-8", errors="replace"))
    except OSError:
        return None
    return found.group(1) if found else None


def _stale_header(header: Path, data_file: Path, embedded: _Embedded) -> bool:
    """Whether ``header`` was not written for the data of ``data_file`` (which embeds a header
    of ours): it is missing, carries another write id of ours, or carries none and is no newer
    than the data (another program's or an earlier version's header, left beside our new data
    by an overwrite killed between its renames). A header without a write id that is newer than
    the data was edited (or written) after it, and is taken as it is."""
    try:
        header_time = header.stat().st_mtime_ns
    except FileNotFoundError:
        return True
    except OSError:
        return False  # read as it is: its reader says what is wrong
    current = _sidecar_write_id(header)
    if current is not None:
        return current != embedded.write_id
    try:
        return header_time <= data_file.stat().st_mtime_ns
    except OSError:
        return False


def read_envi_pair(path: Path) -> tuple[Path, Path, dict[str, Any]]:
    """The header that describes a data file, checked against it (see the module's notes).

    Parameters
    ----------
    path : Path
        The header or the data file.

    Returns
    -------
    described_by : Path
        The side-car header, or the data file itself when its embedded header is used.
    data_file : Path
    hdr : dict
        The parsed header.

    Raises
    ------
    MissingFileError
        If the partner file is missing (and the data file embeds no header of ours).
    CubeFormatError
        If the header cannot be parsed.
    """
    path = Path(path)
    try:
        header, data_file = find_envi_pair(path)
    except MissingFileError:
        embedded = None if path.suffix.lower() == ".hdr" else _embedded_header(path)
        if embedded is None:
            raise
        header, data_file = path.with_suffix(".hdr"), path
    else:
        embedded = _embedded_header(data_file)
    if embedded is not None and _stale_header(header, data_file, embedded):
        logger.warning(
            "%s does not describe %s (a write was killed between renaming the data file and "
            "its header): the header embedded in the data file is used; the next write to it "
            "puts the header back",
            header,
            data_file,
        )
        return data_file, data_file, _parse_header_text(embedded.text, data_file)
    hdr = read_envi_header(header)
    if embedded is not None and embedded.offset is not None:
        hdr.setdefault("header offset", str(embedded.offset))  # the data follows the embedded one
    return header, data_file, hdr


def repair_envi_pair(header: Path, data_file: Path) -> bool:
    """Put back the header a killed write left out: the header embedded in ``data_file``
    replaces ``header`` when that is stale (missing, another write's, or one without a write id
    older than the data). A header edited after the data was written is never replaced.
    Returns True if the header was written."""
    embedded = _embedded_header(data_file) if data_file.is_file() else None
    if embedded is None or not _stale_header(header, data_file, embedded):
        return False
    with atomic_path(header) as tmp:
        tmp.write_bytes(embedded.text.encode("utf-8"))
    logger.warning("%s: put back the header a killed write had not renamed into place", header)
    return True


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
        if path.suffix.lower() in NOT_ENVI_DATA:
            return False
        try:
            find_envi_pair(path)
        except MissingFileError:
            return _embedded_header(path) is not None  # a header a killed write left out
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
        header, data_file, hdr = read_envi_pair(Path(path))
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
        if "bit depth" in hdr:  # the sensor's: calibrate's default saturation 2**bits - 1
            metadata["bit_depth"] = _int_field(hdr, "bit depth", header, minimum=1)
            if metadata["bit_depth"] > 32:
                raise CubeFormatError(
                    f"bit depth {metadata['bit_depth']} is not a sensor's",
                    file=header,
                    field="bit depth",
                    fix="write the bits per count of the camera's converter (e.g. 12), or "
                    "remove the field",
                )
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
    ``fwhm``, ``bbl``, ``band names``, ``default bands``, ``reflectance scale factor`` and
    ``bit depth`` (``metadata["bit_depth"]``, the sensor's bits per count) when the cube has
    them, and the ``hsi_tumor write id`` that ties it to its data file. The data file begins
    with the same header (``header offset`` is its padded length; every ENVI reader skips it)
    and is renamed into place before the header, so that a reader of ours never sees new data
    under an old header, even if the process is killed between the renames (see the module's
    notes).
    """
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
    if meta.get("bit_depth") is not None:
        hdr["bit depth"] = int(meta["bit_depth"])

    def fill(out: np.memmap) -> None:
        view = out.transpose(to_cube)
        for rows_slice, tile in cube.tiles():
            view[rows_slice] = tile.load().data

    write_envi_files(
        header,
        data_file,
        hdr,
        dtype=file_dtype,
        shape=file_shape[interleave],
        fill=fill,
        overwrite=overwrite,
    )
    logger.debug("wrote %s (%s, %s)", header, interleave, file_dtype)


def write_envi_files(
    header: Path,
    data_file: Path,
    hdr: dict[str, Any],
    *,
    dtype: np.dtype,
    shape: tuple[int, ...],
    fill: Callable[[np.memmap], None],
    overwrite: bool,
) -> None:
    """Write an ENVI header and data file pair, atomically even if the process is killed.

    Parameters
    ----------
    header, data_file : Path
        The two files, in one folder.
    hdr : dict
        The header's fields (``header offset`` and ``hsi_tumor write id`` are set here).
    dtype, shape
        The data as stored in the file (byte order and interleave included).
    fill : callable
        ``fill(out)`` writes the data into ``out``, a writable memory map of ``shape``.
    overwrite : bool
        Replace existing files; without it an existing file is never touched.

    Notes
    -----
    The data file begins with the header (see the module's notes) and is renamed into place
    before the header. First, a header that a killed write left out is put back
    (:func:`repair_envi_pair`) and staging folders of dead writes are deleted.
    """
    from spectral.io import envi

    repair_envi_pair(header, data_file)
    refuse_overwrite(header, data_file, overwrite=overwrite)
    hdr = {key: _without_nul(value) for key, value in hdr.items()}
    hdr[WRITE_ID] = uuid.uuid4().hex
    nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    with atomic_files(data_file, header) as (tmp_data, tmp_header):
        offset = _EMBED_ALIGN
        while True:  # the offset is written in the header: grow it until the header fits
            envi.write_envi_header(os.fspath(tmp_header), {**hdr, "header offset": offset})
            text = tmp_header.read_bytes()
            if len(text) < offset:
                break
            offset = -(-(len(text) + 1) // _EMBED_ALIGN) * _EMBED_ALIGN
        with open(tmp_data, "r+b") as f:
            f.write(text.ljust(offset, b"\0"))
            f.truncate(offset + nbytes)
        if nbytes:
            out = np.memmap(tmp_data, dtype=dtype, mode="r+", offset=offset, shape=shape)
            fill(out)
            out.flush()
            del out


def _without_nul(value):
    """A header value without NUL characters (a NUL ends an embedded header)."""
    if isinstance(value, str):
        return value.replace("\0", "")
    if isinstance(value, (list, tuple)):
        return [_without_nul(v) for v in value]
    return value


def _clean_description(text) -> str:
    text = str(text)
    return text.replace("{", "(").replace("}", ")").strip()
