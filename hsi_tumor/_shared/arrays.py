"""Fast materialisation of lazily stored cubes, and tiling helpers.

A cube stored band-sequential (BSQ) or band-interleaved-by-line (BIL) is a transposed view of
its file. ``numpy``'s own copy of such a view walks the output in order and jumps a whole band
plane for every element it reads, which runs at a fraction of memory speed. :func:`materialize`
copies tile by tile instead, one band plane at a time into a tile that stays in cache, on a few
threads (numpy releases the GIL while it copies).

A :mod:`dask.array` cube (e.g. ``dask.array.from_array`` over an HDF5 dataset, a zarr array or
a memory map) is computed only where it is read: :func:`materialize` stores it chunk by chunk
into the output, and :func:`aligned_tile_rows` makes tiles cover whole row chunks so that no
chunk is computed twice. Dask itself is never imported here unless such an array is given.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from hsi_tumor._shared.errors import CubeIndexError, InvalidOptionError, NoValidPixelsError

__all__ = [
    "TILE_BYTES",
    "aligned_tile_rows",
    "check_mask",
    "is_dask_array",
    "materialize",
    "rows_per_tile",
    "split_key",
    "valid_pixels",
]

#: Default size of one tile of output, in bytes (about 8 MB: fits the last-level cache).
TILE_BYTES = 8 * 2**20


def split_key(key, shape: tuple[int, ...]) -> tuple[tuple, tuple]:
    """Split a (rows, cols, bands) index into one that keeps every axis, and the squeeze after.

    Integers become length-1 slices (checked against ``shape``), so a lazy array can read a
    3-D block and then drop the axes numpy would have dropped: ``block[squeeze]``.
    """
    if not isinstance(key, tuple):
        key = (key,)
    if len(key) > 3:
        raise CubeIndexError(
            f"too many indices for a 3-D cube: {len(key)}",
            field="key",
            fix="index as [rows, cols] or [rows, cols, bands]",
        )
    key = key + (slice(None),) * (3 - len(key))
    kept, squeeze = [], []
    for k, n in zip(key, shape, strict=True):
        if isinstance(k, (int, np.integer)):
            i = range(n)[int(k)]  # IndexError when out of range
            kept.append(slice(i, i + 1))
            squeeze.append(0)
        else:
            kept.append(k)
            squeeze.append(slice(None))
    return tuple(kept), tuple(squeeze)


def is_dask_array(data) -> bool:
    """True for a :class:`dask.array.Array` (checked by duck typing: dask is not imported)."""
    return (
        hasattr(data, "__dask_graph__")
        and hasattr(data, "compute")
        and isinstance(getattr(data, "chunks", None), tuple)
        and hasattr(data, "shape")
    )


def aligned_tile_rows(data, tile_rows: int) -> int:
    """``tile_rows`` rounded to whole row chunks of a dask array (unchanged for other arrays).

    A row tile that cuts a chunk makes dask compute that chunk once per tile that touches it;
    with regular row chunks (all equal but the last), tiles of ``k`` whole chunks compute each
    chunk exactly once. Tiles grow to one chunk when a chunk holds more rows than ``tile_rows``
    (then a tile takes a chunk's memory: choose the chunks accordingly).
    """
    if not is_dask_array(data):
        return tile_rows
    row_chunks = data.chunks[0]
    if len(row_chunks) < 2 or len(set(row_chunks[:-1])) != 1 or row_chunks[-1] > row_chunks[0]:
        return tile_rows  # irregular chunks: no tile size aligns with all of them
    chunk = int(row_chunks[0])
    return chunk * max(1, tile_rows // chunk)


def rows_per_tile(shape: tuple[int, ...], itemsize: int, tile_bytes: int = TILE_BYTES) -> int:
    """Number of rows of a (rows, cols, bands) cube that fit in ``tile_bytes`` (at least 1)."""
    row_bytes = max(1, int(np.prod(shape[1:], dtype=np.int64)) * itemsize)
    return max(1, min(int(shape[0]) or 1, tile_bytes // row_bytes))


def materialize(data, *, dtype=None, out: np.ndarray | None = None) -> np.ndarray:
    """Return a C-contiguous, native-byte-order, in-memory copy of a (rows, cols, bands) array.

    Parameters
    ----------
    data : numpy.ndarray, numpy.memmap, dask.array.Array or lazy array
        Any object with ``shape``, ``dtype`` and ``__getitem__`` over row slices. A dask array
        is computed chunk by chunk straight into the output (``dask.array.store``).
    dtype : numpy dtype, optional
        The output dtype (default: ``data``'s dtype in native byte order).
    out : numpy.ndarray, optional
        An array to write into, of the right shape.

    Returns
    -------
    numpy.ndarray
    """
    shape = tuple(data.shape)
    dtype = np.dtype(data.dtype if dtype is None else dtype).newbyteorder("=")
    if is_dask_array(data):
        if out is None and rows_per_tile(shape, dtype.itemsize) >= shape[0]:
            return np.ascontiguousarray(data.compute(), dtype=dtype)  # small: one computation
        if out is None:
            out = np.empty(shape, dtype=dtype)
        if out.size:
            import dask.array

            dask.array.store(data.astype(dtype, copy=False), out, lock=False)
        return out
    read_into = getattr(data, "read_into", None)
    if read_into is not None:  # a lazy array that knows its own best reading order
        if out is None:
            out = np.empty(shape, dtype=dtype)
        if out.size:
            read_into(out)
        return out
    tile = rows_per_tile(shape, dtype.itemsize)
    if out is None and not isinstance(data, np.ndarray) and tile >= shape[0]:
        # a lazy array small enough for one read: its result is already a fresh array
        block = np.asarray(data[:, :, :])
        if block.dtype == dtype and block.flags.c_contiguous:
            return block
        return np.ascontiguousarray(block, dtype=dtype)
    if out is None:
        out = np.empty(shape, dtype=dtype)
    if out.size == 0:
        return out
    starts = range(0, shape[0], tile)
    per_band = (
        isinstance(data, np.ndarray)
        and data.ndim == 3
        and data.strides[2] != data.itemsize
        and abs(data.strides[2]) > abs(data.strides[1])
    )

    def copy_tile(r0: int) -> None:
        dst = out[r0 : r0 + tile]
        if per_band:  # band planes far apart in memory: copy plane by plane into the hot tile
            src = data[r0 : r0 + tile]
            for b in range(shape[2]):
                dst[:, :, b] = src[:, :, b]
        else:
            dst[...] = data[r0 : r0 + tile]

    workers = min(len(starts), os.cpu_count() or 1, 8)
    parallel = isinstance(data, np.ndarray) or getattr(data, "parallel_reads", False)
    if workers <= 1 or not parallel:
        for r0 in starts:
            copy_tile(r0)
    else:
        with ThreadPoolExecutor(workers) as pool:
            list(pool.map(copy_tile, starts))
    return out


def valid_pixels(tile, pixels: np.ndarray) -> np.ndarray:
    """(n_pixels,) bool: finite in every band and not flagged in ``tile.valid`` (a Cube's tile)."""
    if pixels.dtype.kind in "fc" and not np.isfinite(pixels.sum()):
        ok = np.isfinite(pixels).all(axis=1)  # (an overflowing sum also lands here: exact)
    else:  # the sum is finite, so is every value
        ok = np.ones(len(pixels), dtype=bool)
    valid = tile.valid
    if valid is not None and not getattr(valid, "finite_means_valid", False):
        valid = np.asarray(valid)
        valid = valid.all(axis=2) if valid.ndim == 3 else valid
        ok &= valid.reshape(-1)
    return ok


def check_mask(mask, shape: tuple[int, ...], *, field: str = "mask") -> np.ndarray | None:
    """Return ``mask`` as a (rows, cols) bool array (None stays None), or raise.

    A mask with a trailing axis of length 1 (e.g. read as a one-band cube) is taken as its
    2-D plane.
    """
    if mask is None:
        return None
    array = np.asarray(mask)
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[..., 0]
    if array.shape != tuple(shape):
        raise InvalidOptionError(
            f"the mask has shape {array.shape}, the data has {tuple(shape)} pixels",
            field=field,
            fix="give one True/False per pixel of the map",
        )
    if array.dtype != bool:
        if array.dtype.kind not in "iu" or not np.isin(array, (0, 1)).all():
            raise InvalidOptionError(
                f"a mask must hold True/False, got dtype {array.dtype}",
                field=field,
                fix="pass a boolean array such as hsi_tumor.tissue_mask(cube)",
            )
        array = array.astype(bool)
    if not array.any():
        raise NoValidPixelsError(
            "the mask is empty: it selects no pixel",
            field=field,
            fix="check the mask (True marks the pixels to process), or pass mask=None",
        )
    return array
