"""A lazy (rows, cols, bands) view of an HDF5 dataset stored in any axis order.

HDF5 files (and MATLAB v7.3 files, which are HDF5) are read chunk by chunk: selecting rows,
columns or bands composes index ranges without touching the file, and only ``__getitem__`` or
``np.asarray`` read, and then only what is selected. The object pickles by file name (the
open handle is not pickled), so it can travel to worker processes.
"""

from __future__ import annotations

import itertools
import threading
from pathlib import Path

import numpy as np

from hsi_tumor._shared.errors import CubeFormatError, CubeIndexError, InvalidTypeError
from hsi_tumor._shared.limits import shorten

__all__ = ["HDF5CubeArray"]


class _Handle:
    """One shared, lazily opened, read-only h5py file handle."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._file = None
        self._lock = threading.Lock()

    def dataset(self, name: str):
        import h5py

        with self._lock:
            if self._file is None:
                self._file = h5py.File(self.path, "r")
            return self._file[name]

    def __getstate__(self):
        return {"path": self.path}

    def __setstate__(self, state):
        self.__init__(state["path"])


class HDF5CubeArray:
    """Lazy (rows, cols, bands) view of a 3-D HDF5 dataset.

    Parameters
    ----------
    path : path-like
        The HDF5 file.
    dataset : str
        The dataset's name in the file.
    axes : tuple of int
        ``axes[i]`` is the dataset axis that holds cube axis ``i`` (rows, cols, bands).
    """

    storage_kind = "HDF5"

    def __init__(
        self, path, dataset: str, axes: tuple[int, int, int], *, _handle=None, _ranges=None
    ):
        self.path = Path(path)
        self.dataset = dataset
        self.axes = tuple(int(a) for a in axes)
        self._handle = _handle if _handle is not None else _Handle(self.path)
        ds = self._handle.dataset(dataset)
        self._dtype, self._chunks = ds.dtype, ds.chunks
        if _ranges is None:
            _ranges = tuple(range(ds.shape[a]) for a in self.axes)
        self._ranges: tuple[range, range, range] = _ranges

    # -- array protocol ---------------------------------------------------------------------
    @property
    def shape(self) -> tuple[int, int, int]:
        return tuple(len(r) for r in self._ranges)

    @property
    def dtype(self) -> np.dtype:
        return self._dtype

    @property
    def ndim(self) -> int:
        return 3

    @property
    def size(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64))

    @property
    def nbytes(self) -> int:
        return self.size * self._dtype.itemsize

    @property
    def itemsize(self) -> int:
        return self._dtype.itemsize

    @property
    def chunks(self):
        """The dataset's chunk shape in cube axis order (None when contiguous)."""
        return None if self._chunks is None else tuple(self._chunks[a] for a in self.axes)

    def __repr__(self) -> str:
        return (
            f"HDF5CubeArray({str(self.path)!r}, {self.dataset!r}, shape={self.shape}, "
            f"dtype={self.dtype})"
        )

    def _normalise_key(self, key) -> tuple:
        if not isinstance(key, tuple):
            key = (key,)
        if any(k is Ellipsis for k in key):
            i = next(i for i, k in enumerate(key) if k is Ellipsis)
            key = key[:i] + (slice(None),) * (3 - len(key) + 1) + key[i + 1 :]
        if len(key) > 3:
            raise CubeIndexError(
                f"too many indices for a 3-D cube: {len(key)}",
                field="key",
                fix="index as [rows, cols] or [rows, cols, bands]",
            )
        return key + (slice(None),) * (3 - len(key))

    def select(self, key) -> HDF5CubeArray:
        """Return a lazy view of a sub-cube (slices only); nothing is read."""
        key = self._normalise_key(key)
        if not all(isinstance(k, slice) for k in key):
            raise InvalidTypeError(
                "select takes slices only", field="key", fix="use [] to read other indices"
            )
        ranges = tuple(r[k] for r, k in zip(self._ranges, key, strict=True))
        return HDF5CubeArray(
            self.path, self.dataset, self.axes, _handle=self._handle, _ranges=ranges
        )

    def __getitem__(self, key) -> np.ndarray:
        key = self._normalise_key(key)
        for axis, k in enumerate(key):  # one fancy (list/array) index: read element by element
            if isinstance(k, (list, np.ndarray)):
                idx = np.asarray(k)
                if idx.dtype == bool:
                    idx = np.flatnonzero(idx)
                parts = [self[key[:axis] + (int(i),) + key[axis + 1 :]] for i in idx]
                out_axis = sum(isinstance(x, slice) for x in key[:axis])
                return np.stack(parts, axis=out_axis)
        selected = []
        for r, k in zip(self._ranges, key, strict=True):
            if isinstance(k, slice):
                selected.append(r[k])
            elif isinstance(k, (int, np.integer)):
                selected.append(r[int(k)])
            else:
                raise InvalidTypeError(
                    f"unsupported index {k!r}",
                    field="key",
                    fix="use integers, slices or one list",
                )
        return self._read(selected)

    def _read(self, selected: list) -> np.ndarray:
        ds_key: list = [None, None, None]
        flips = []
        kept = []
        for axis, sel in enumerate(selected):
            if isinstance(sel, int):
                ds_key[self.axes[axis]] = sel
                continue
            kept.append(axis)
            if len(sel) == 0:
                return np.empty(
                    tuple(len(s) for s in selected if not isinstance(s, int)),
                    dtype=self._dtype.newbyteorder("="),
                )
            if sel.step < 0:  # h5py reads ascending only: read forwards, flip afterwards
                sel = sel[::-1]
                flips.append(axis)
            ds_key[self.axes[axis]] = slice(sel.start, sel.stop, sel.step)
        try:
            block = self._handle.dataset(self.dataset)[tuple(ds_key)]
        except (OSError, ValueError, KeyError, RuntimeError) as exc:
            raise CubeFormatError(
                f"cannot read dataset '{shorten(self.dataset)}' ({shorten(exc, 200)})",
                file=self.path,
                field=str(self.dataset),
                fix="the file is truncated or corrupt; re-export it",
            ) from None
        order = sorted(self.axes[a] for a in kept)
        block = np.transpose(block, [order.index(self.axes[a]) for a in kept])
        for axis in flips:
            block = np.flip(block, axis=kept.index(axis))
        return block

    def __array__(self, dtype=None, copy=None):
        from hsi_tumor._shared.arrays import materialize

        return materialize(self, dtype=dtype)

    def read_into(self, out: np.ndarray) -> None:
        """Read the whole selection into ``out`` (rows, cols, bands), chunk row by chunk row.

        Row blocks are aligned with the dataset's chunks, so each chunk is read and
        decompressed once, and stored-order datasets are read straight into ``out``.
        """
        from hsi_tumor._shared.arrays import rows_per_tile

        rows, cols, bands = self._ranges
        chunk_rows = (self.chunks or (1,))[0]
        block = max(chunk_rows, rows_per_tile(self.shape, self.itemsize) // chunk_rows * chunk_rows)
        direct = (
            self.axes == (0, 1, 2)
            and all(r.step == 1 for r in self._ranges)
            and out.dtype == self._dtype.newbyteorder("=")
        )
        # first block ends on a chunk boundary of the dataset
        start = rows.start if len(rows) else 0
        first = min(len(rows), block - (start % chunk_rows) if rows.step == 1 else block)
        edges = [0, *range(first, len(rows), block), len(rows)]
        dataset = self._handle.dataset(self.dataset) if direct else None
        for r0, r1 in itertools.pairwise(edges):
            if r1 <= r0:
                continue
            if direct:
                source = np.s_[
                    rows[r0] : rows[r1 - 1] + 1,
                    cols.start : cols.stop,
                    bands.start : bands.stop,
                ]
                try:
                    dataset.read_direct(out, source_sel=source, dest_sel=np.s_[r0:r1])
                except (OSError, ValueError, RuntimeError) as exc:
                    raise CubeFormatError(
                        f"cannot read dataset '{shorten(self.dataset)}' ({shorten(exc, 200)})",
                        file=self.path,
                        field=str(self.dataset),
                        fix="the file is truncated or corrupt; re-export it",
                    ) from None
            else:
                out[r0:r1] = self[r0:r1]

    def __getstate__(self):
        return {
            "path": self.path,
            "dataset": self.dataset,
            "axes": self.axes,
            "ranges": self._ranges,
            "handle": self._handle,
        }

    def __setstate__(self, state):
        self.__init__(
            state["path"],
            state["dataset"],
            state["axes"],
            _handle=state["handle"],
            _ranges=state["ranges"],
        )


class PermutedBandsArray:
    """Lazy view of a (rows, cols, bands) array with its bands taken in another order.

    Used when a file lists its bands out of wavelength order (instruments made of several
    spectrometers with overlapping ranges, such as AVIRIS): the cube shows them ascending without
    copying the file. Row and column selection passes through to the base array.

    Parameters
    ----------
    base : numpy.ndarray, numpy.memmap or lazy array
    order : array of int
        ``order[i]`` is the base band shown as band ``i``.
    """

    def __init__(self, base, order) -> None:
        self.base = base
        self.order = np.asarray(order, dtype=np.intp)

    @property
    def storage_kind(self) -> str:
        inner = getattr(self.base, "storage_kind", None)
        if inner is None:
            inner = "memory map" if isinstance(self.base, np.memmap) else "array"
        return f"{inner}, bands reordered"

    @property
    def shape(self) -> tuple[int, int, int]:
        return (self.base.shape[0], self.base.shape[1], self.order.size)

    @property
    def dtype(self) -> np.dtype:
        return np.dtype(self.base.dtype)

    @property
    def ndim(self) -> int:
        return 3

    def _base_select(self, rows, cols):
        if isinstance(self.base, np.ndarray):
            return self.base[rows, cols]
        return self.base.select((rows, cols, slice(None)))

    def select(self, key):
        """Lazy sub-view (slices only); a contiguous run of base bands becomes a plain view."""
        if not isinstance(key, tuple):
            key = (key,)
        rows, cols, bands = (*key, slice(None), slice(None), slice(None))[:3]
        base = self._base_select(rows, cols)
        order = self.order[bands]
        if order.size and np.all(np.diff(order) == 1):
            band_slice = slice(int(order[0]), int(order[-1]) + 1)
            if isinstance(base, np.ndarray):
                return base[:, :, band_slice]
            return base.select((slice(None), slice(None), band_slice))
        return PermutedBandsArray(base, order)

    def __getitem__(self, key) -> np.ndarray:
        from hsi_tumor._shared.arrays import split_key

        (rows, cols, bands), squeeze = split_key(key, self.shape)
        block = np.asarray(self._base_select(rows, cols)[:, :, self.order[bands]])
        return block[squeeze]

    def __array__(self, dtype=None, copy=None):
        from hsi_tumor._shared.arrays import materialize

        return materialize(self, dtype=dtype)
