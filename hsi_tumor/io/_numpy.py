"""NumPy files: ``.npy`` memory-mapped, ``.npz`` archives; wavelengths given or in a band table."""

from __future__ import annotations

import logging
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hsi_tumor._shared.errors import CubeFormatError
from hsi_tumor._shared.limits import (
    check_budget,
    check_inflation,
    check_regular_file,
    describe_bytes,
    shorten,
)
from hsi_tumor.cube import Cube
from hsi_tumor.io._common import build_cube, is_wavelength_name, pick_variable

logger = logging.getLogger("hsi_tumor.io")

__all__ = [
    "NpzMember",
    "NumpyReader",
    "band_table_beside",
    "npz_members",
    "open_npy",
    "read_npz_member",
]

#: Band tables looked for beside ``NAME.npy`` when no ``wavelengths=`` is given.
BAND_TABLE_SUFFIXES = ("_bands.csv", "_wavelengths.csv", ".wavelengths.csv")


def band_table_beside(path: Path) -> Path | None:
    """Return the band table ``NAME_bands.csv`` (or another of BAND_TABLE_SUFFIXES) if present."""
    for suffix in BAND_TABLE_SUFFIXES:
        candidate = path.with_name(path.stem + suffix)
        if candidate.is_file():
            return candidate
    return None


@dataclass(frozen=True)
class NpzMember:
    """One array of a ``.npz`` archive as its headers describe it (nothing inflated)."""

    name: str
    info: zipfile.ZipInfo
    shape: tuple[int, ...]
    dtype: np.dtype

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def nbytes(self) -> int:
        n = self.dtype.itemsize
        for d in self.shape:
            n *= d
        return n


def _format_error(path: Path, what: str, exc: BaseException) -> CubeFormatError:
    return CubeFormatError(
        f"cannot read as a NumPy {what} ({shorten(f'{type(exc).__name__}: {exc}', 200)})",
        file=path,
        field="array",
        fix="the file is truncated, holds Python objects, or is not a NumPy file",
    )


def open_npy(path: Path) -> np.ndarray:
    """Memory-map a ``.npy`` file: NumPy checks its header and that the file holds the data
    the header declares; nothing is read. Pickles and zip archives are refused."""
    path = check_regular_file(path)
    with open(path, "rb") as f:
        magic = f.read(6)
    if magic != b"\x93NUMPY":
        raise CubeFormatError(
            "not a .npy file (it does not start with NumPy's magic string)",
            file=path,
            field="array",
            fix="save the array with numpy.save",
        )
    try:
        return np.load(path, mmap_mode="r", allow_pickle=False)
    except Exception as exc:  # ValueError, TokenError, SyntaxError, EOFError, OSError...
        raise _format_error(path, ".npy file", exc) from None


def _member_header(zf: zipfile.ZipFile, info: zipfile.ZipInfo, path: Path) -> NpzMember:
    from numpy.lib import format as npy_format

    with zf.open(info) as fp:
        version = npy_format.read_magic(fp)
        if version == (1, 0):
            shape, _, dtype = npy_format.read_array_header_1_0(fp)
        elif version == (2, 0):
            shape, _, dtype = npy_format.read_array_header_2_0(fp)
        else:
            shape, dtype = None, None
        start = fp.tell()
    name = info.filename[: -len(".npy")]
    if shape is None:
        raise CubeFormatError(
            f"the array '{shorten(name)}' has .npy format version {version}",
            file=path,
            field=name,
            fix="save the arrays with numpy.savez or numpy.savez_compressed",
        )
    member = NpzMember(name, info, tuple(shape), np.dtype(dtype))
    if member.dtype.hasobject:
        raise CubeFormatError(
            f"the array '{shorten(name)}' holds Python objects",
            file=path,
            field=name,
            fix="save numeric arrays (objects would need pickle, which can run code)",
        )
    if info.file_size < start + member.nbytes:
        raise CubeFormatError(
            f"the array '{shorten(name)}' declares {describe_bytes(member.nbytes)} "
            f"({member.shape} of {member.dtype}) but its zip entry holds "
            f"{describe_bytes(info.file_size)}",
            file=path,
            field=name,
            fix="the file is truncated or corrupt; save it again",
        )
    return member


def npz_members(path: Path) -> dict[str, NpzMember]:
    """The arrays of a ``.npz`` archive by name, from their zip and ``.npy`` headers only.

    Each array's declared size is compared with its zip entry's declared (uncompressed) size,
    which also bounds how far it is inflated when read (:func:`read_npz_member`).
    """
    path = check_regular_file(path)
    try:
        with zipfile.ZipFile(path) as zf:
            infos = [i for i in zf.infolist() if i.filename.endswith(".npy")]
            return {m.name: m for m in (_member_header(zf, i, path) for i in infos)}
    except CubeFormatError:
        raise
    except Exception as exc:  # BadZipFile, zlib.error, ValueError, EOFError, OSError...
        raise _format_error(path, ".npz archive", exc) from None


def read_npz_member(path: Path, member: NpzMember, what: str = "the array") -> np.ndarray:
    """Read one array of a ``.npz`` archive, within the memory budget.

    Its declared size must fit the budget and inflate at most 100 times its compressed size
    (beyond 256 MiB: :func:`~hsi_tumor._shared.limits.check_inflation`), and inflating stops
    at the zip entry's declared size (checked against the array's by :func:`npz_members`): a
    zip bomb is refused before it is inflated, and a lying zip header inflates no further than
    it says.
    """
    from numpy.lib import format as npy_format

    named = f"{what} '{shorten(member.name)}'"
    check_budget(member.nbytes, named, file=path, field=member.name)
    check_inflation(member.nbytes, member.info.compress_size, named, file=path, field=member.name)
    try:
        with zipfile.ZipFile(path) as zf, zf.open(member.info) as fp:
            array = npy_format.read_array(fp, allow_pickle=False)
    except Exception as exc:  # zlib.error, BadZipFile (CRC), ValueError, EOFError...
        raise _format_error(path, ".npz archive", exc) from None
    if array.shape != member.shape or array.dtype != member.dtype:
        raise CubeFormatError(
            f"the array '{shorten(member.name)}' changed between two reads",
            file=path,
            field=member.name,
            fix="do not modify the file while it is read",
        )
    return array


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
        if path.suffix.lower() == ".npy":
            data = open_npy(path)
            if data.ndim != 3:
                raise CubeFormatError(
                    f"the array has shape {data.shape}, not (rows, cols, bands)",
                    file=path,
                    field="array",
                    fix="save a 3-D array",
                )
            metadata = {"format": "npy"}
        else:
            members = npz_members(path)
            candidates = {
                k: m.shape for k, m in members.items() if m.ndim == 3 and m.dtype.kind in "biufc"
            }
            name = pick_variable(candidates, variable, path, members)
            data = read_npz_member(path, members[name], "the cube")
            metadata = {"format": "npz", "variable": name}
            if wavelengths is None:
                key = next((k for k in members if is_wavelength_name(k)), None)
                if key is not None:
                    file_wl = read_npz_member(path, members[key], "the wavelengths").reshape(-1)
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
            data,
            file=path,
            wavelengths=file_wl,
            override=wavelengths,
            metadata=metadata,
            data_field=metadata.get("variable", "array"),
        )
