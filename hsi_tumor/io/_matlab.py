"""MATLAB .mat files: v5/v6/v7 through scipy.io, v7.3 (HDF5) lazily through h5py."""

from __future__ import annotations

import io
import struct
from pathlib import Path

import numpy as np

from hsi_tumor._shared.errors import CubeFormatError
from hsi_tumor.cube import Cube
from hsi_tumor.io._common import build_cube, is_wavelength_name, pick_variable
from hsi_tumor.io._hdf5 import reading_hdf5
from hsi_tumor.io._lazy import HDF5CubeArray

__all__ = ["MatlabReader"]


# MAT-file v5 data types (MATLAB "MAT-File Format", table 1-1): miINT8 … miUTF32.
_MI_TYPES = frozenset({1, 2, 3, 4, 5, 6, 7, 9, 12, 13, 14, 15, 16, 17, 18})
_MI_MATRIX, _MI_COMPRESSED = 14, 15


def check_v5_structure(data: bytes, path: Path) -> None:
    """Walk the data elements of a v5 MAT file and check every type code and size.

    ``scipy.io.loadmat`` trusts them, and a corrupt type code can crash the interpreter
    (SIGSEGV in scipy 1.17) instead of raising; checking first turns that into a
    CubeFormatError. Compressed elements are decompressed and walked too.
    """
    import zlib

    if len(data) < 128:
        raise CubeFormatError(
            f"{len(data)} bytes, shorter than a MAT-file header (128)",
            file=path,
            fix="the file is truncated; save it again",
        )
    order = {b"IM": "<", b"MI": ">"}.get(data[126:128])
    if order is None:
        raise CubeFormatError(
            "no endian indicator at bytes 126-127 of the header",
            file=path,
            fix="the file is corrupt or not a MAT file; save it again",
        )

    def fail(offset: int, what: str) -> CubeFormatError:
        return CubeFormatError(
            f"{what} at byte {offset}",
            file=path,
            fix="the file is corrupt or truncated; save it again from MATLAB",
        )

    def walk(buf: bytes, start: int, end: int, base: int, top: bool) -> None:
        pos = start
        while pos < end:
            if end - pos < 8:
                if top and not buf[pos:end].strip(b"\0"):
                    return  # trailing padding
                raise fail(base + pos, "a truncated element tag")
            first, second = struct.unpack_from(order + "II", buf, pos)
            if first >> 16:  # small data element: type and size share the first word
                kind, size, payload, length = first & 0xFFFF, first >> 16, pos + 4, 8
                if size > 4:
                    raise fail(base + pos, f"a small element of {size} bytes (at most 4)")
            else:
                kind, size, payload = first, second, pos + 8
                length = 8 + (size if kind == _MI_COMPRESSED else -(-size // 8) * 8)
            if payload + size > end:
                raise fail(base + pos, f"an element of {size} bytes past the end of its parent")
            if kind == _MI_COMPRESSED and top:
                try:
                    inner = zlib.decompress(buf[payload : payload + size])
                except zlib.error as exc:
                    raise fail(
                        base + pos, f"a compressed element that does not inflate ({exc})"
                    ) from None
                walk(inner, 0, len(inner), base + payload, top=True)
            elif kind == _MI_MATRIX:
                walk(buf, payload, payload + size, base, top=False)
            elif top or kind not in _MI_TYPES:
                raise fail(base + pos, f"an element of unknown type {kind}")
            pos += length

    walk(data, 128, len(data), 0, top=True)


def load_v5(path: Path) -> dict[str, np.ndarray]:
    """The variables of a MATLAB v5/v7 file (read whole; checked before scipy parses it)."""
    import scipy.io

    raw = path.read_bytes()
    if raw[:4] != b"MATL" or raw[124:126] != b"\x00\x01":
        raise CubeFormatError(
            "not a MATLAB v5/v7 or v7.3 file (no 'MATLAB 5.0 MAT-file' header)",
            file=path,
            fix="save it from MATLAB with save(..., '-v7') or '-v7.3'",
        )
    check_v5_structure(raw, path)
    try:
        contents = scipy.io.loadmat(io.BytesIO(raw), squeeze_me=False, mat_dtype=False)
    except Exception as exc:  # scipy raises ValueError, TypeError, OSError, MatReadError...
        raise CubeFormatError(
            f"cannot read as a MATLAB file ({type(exc).__name__}: {exc})",
            file=path,
            fix="the file is truncated or not a .mat file; save it again from MATLAB",
        ) from None
    return {k: v for k, v in contents.items() if not k.startswith("__")}


class MatlabReader:
    """Reader for MATLAB ``.mat`` files holding a (rows, cols, bands) array."""

    name = "matlab"
    description = "MATLAB .mat v5/v7 (scipy) and v7.3 (HDF5)"

    def guess_can_open(self, path: Path) -> bool:
        return path.is_file() and path.suffix.lower() == ".mat"

    def open(self, path: Path, *, variable: str | None = None, wavelengths=None) -> Cube:
        """Open a cube stored as a MATLAB variable.

        Parameters
        ----------
        path : Path
        variable : str, optional
            The variable's name; found automatically when the file holds one 3-D array.
        wavelengths : array-like or path, optional
            Band centres in nm (or a CSV band table). By default a 1-D variable named
            ``wavelength``, ``wavelengths``, ``wl`` or ``lambda`` (any case) is used.

        Notes
        -----
        A v7.3 file stores arrays column-major, so h5py sees MATLAB's ``A(rows, cols, bands)`` as
        shape (bands, cols, rows); the axes are reversed (lazily) so v5 and v7.3 saves of the same
        variable read to the same array. v5 files are read whole (scipy cannot memory-map them):
        save large cubes with ``-v7.3``.
        """
        import h5py

        path = Path(path)
        if h5py.is_hdf5(path):
            return self._open_v73(path, variable, wavelengths)
        return self._open_v5(path, variable, wavelengths)

    def _open_v5(self, path: Path, variable, wavelengths) -> Cube:
        names = load_v5(path)
        candidates = {
            k: v.shape
            for k, v in names.items()
            if isinstance(v, np.ndarray) and v.ndim == 3 and v.dtype.kind in "biufc"
        }
        name = pick_variable(candidates, variable, path, names)
        file_wl = None
        if wavelengths is None:
            file_wl = next(
                (
                    np.asarray(v, dtype=np.float64).reshape(-1)
                    for k, v in names.items()
                    if is_wavelength_name(k)
                    and isinstance(v, np.ndarray)
                    and v.dtype.kind in "iuf"
                    and v.size == max(v.shape)
                ),
                None,
            )
        return build_cube(
            np.ascontiguousarray(names[name]),
            file=path,
            wavelengths=file_wl,
            override=wavelengths,
            metadata={"format": "matlab-v5", "variable": name},
        )

    def _open_v73(self, path: Path, variable, wavelengths) -> Cube:
        import h5py

        with reading_hdf5(path) as f:
            everything = [k for k in f if not k.startswith(b"#" if isinstance(k, bytes) else "#")]
            candidates = {
                k: f[k].shape
                for k in everything
                if isinstance(f[k], h5py.Dataset) and f[k].ndim == 3 and f[k].dtype.kind in "biufc"
            }
            name = pick_variable(candidates, variable, path, everything)
            file_wl = None
            if wavelengths is None:
                for k in everything:
                    obj = f[k]
                    if (
                        is_wavelength_name(k)
                        and isinstance(obj, h5py.Dataset)
                        and obj.dtype.kind in "iuf"
                        and obj.size == max(obj.shape or (0,))
                    ):
                        file_wl = np.asarray(obj[()], dtype=np.float64).reshape(-1)
                        break
        root = b"/" if isinstance(name, bytes) else "/"
        data = HDF5CubeArray(path, root + name, axes=(2, 1, 0))
        return build_cube(
            data,
            file=path,
            wavelengths=file_wl,
            override=wavelengths,
            metadata={"format": "matlab-v7.3", "variable": name},
        )
