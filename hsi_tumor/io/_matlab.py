"""MATLAB .mat files: v5/v6/v7 through scipy.io, v7.3 (HDF5) lazily through h5py."""

from __future__ import annotations

import io
import struct
from pathlib import Path

import numpy as np

from hsi_tumor._shared.errors import CubeFormatError
from hsi_tumor._shared.limits import check_budget, check_regular_file, shorten
from hsi_tumor.cube import Cube
from hsi_tumor.io._common import build_cube, is_wavelength_name, pick_variable
from hsi_tumor.io._hdf5 import check_dataset, reading_hdf5
from hsi_tumor.io._lazy import HDF5CubeArray
from hsi_tumor.io._mat5 import validated_v5

__all__ = ["MatlabReader"]


def load_v5(path: Path) -> dict[str, np.ndarray]:
    """The arrays of a MATLAB v5/v7 file, read whole after every element was checked.

    The file must fit the memory budget (it is read whole), and :func:`validated_v5` walks all
    its elements before scipy parses the checked, uncompressed stream: scipy's compiled reader
    trusts the file and a corrupt one can kill the process. Values that are not plain arrays
    (sparse matrices, MATLAB objects and function handles) are left out.
    """
    import scipy.io

    path = check_regular_file(path)
    check_budget(path.stat().st_size, "this MATLAB v5 file (read whole)", file=path, field="path")
    raw = path.read_bytes()
    if raw[:4] != b"MATL" or len(raw) < 128:
        raise CubeFormatError(
            "not a MATLAB v5/v7 or v7.3 file (no 'MATLAB 5.0 MAT-file' header)",
            file=path,
            field="MAT-file header",
            fix="save it from MATLAB with save(..., '-v7') or '-v7.3'",
        )
    order = {b"IM": "<", b"MI": ">"}.get(raw[126:128], "<")
    if struct.unpack_from(order + "H", raw, 124)[0] >> 8 != 1:  # the major version, as scipy
        raise CubeFormatError(
            "the header gives a MAT-file version other than 5/7 (bytes 124-125)",
            file=path,
            field="MAT-file header",
            fix="save it from MATLAB with save(..., '-v7') or '-v7.3'",
        )
    stream = validated_v5(raw, path)
    del raw
    try:
        contents = scipy.io.loadmat(io.BytesIO(stream), squeeze_me=False, mat_dtype=False)
    except Exception as exc:  # scipy raises ValueError, TypeError, OSError, MatReadError...
        raise CubeFormatError(
            f"cannot read as a MATLAB file ({shorten(f'{type(exc).__name__}: {exc}', 200)})",
            file=path,
            field="MAT-file elements",
            fix="the file is truncated or not a .mat file; save it again from MATLAB",
        ) from None
    return {k: v for k, v in contents.items() if not k.startswith("__") and type(v) is np.ndarray}


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
        variable read to the same array. v5 files are read whole (scipy cannot memory-map them),
        within the memory budget and after a check of every element (:func:`load_v5`): save
        large cubes with ``-v7.3``.
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
            data_field=str(name),
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
            check_dataset(f[name], path, field=str(name), whole=False, what="the cube")
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
                        check_dataset(obj, path, field=str(k), whole=True, what="the wavelengths")
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
            data_field=str(name),
        )
