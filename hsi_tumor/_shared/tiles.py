"""The one tile loop of the cube-level functions: read row tiles, check them, work on threads.

:func:`~hsi_tumor.preprocessing.transform_cube` and :func:`~hsi_tumor.classify_cube` (on the
CPU) both go through a cube in blocks of whole rows with :func:`for_each_tile`: each tile is
read into memory (memory maps, lazily calibrated and dask cubes are read there, and only
there), its invalid pixels are found (non-finite values, ``cube.valid``, an optional mask),
and the caller's function gets the tile's pixels. Tiles run on threads (numpy, BLAS and
scikit-learn's compiled predictors release the GIL), with BLAS held to one thread meanwhile.

The GPU path of ``classify_cube`` (``hsi_tumor.inference._device``) keeps its own loop on
purpose: its tiles are sized in pixels for the device (64 Ki pixels, not 8 MB of input), staged
through pinned host buffers and queued on two CUDA streams, so that the copy of one tile
overlaps the computation of the other; validity is computed on the device. None of that fits a
loop of host threads.
"""

from __future__ import annotations

import contextlib
import functools
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from threadpoolctl import ThreadpoolController

from hsi_tumor._shared.arrays import aligned_tile_rows, materialize, rows_per_tile, valid_pixels
from hsi_tumor._shared.progress import progress_bar

__all__ = ["blas_controller", "blas_single_thread", "default_tile_rows", "for_each_tile"]


@functools.cache
def blas_controller() -> ThreadpoolController:
    """One controller for the process: building it scans the loaded libraries (slow)."""
    return ThreadpoolController()


def blas_single_thread():
    """A context in which BLAS runs on one thread.

    Also for the small products of setting up a tile function (probes, matrix norms): a
    product on several BLAS threads leaves them spinning for a while (OpenBLAS: about 0.1 s),
    on the cores the tile workers need.
    """
    return blas_controller().limit(limits=1)


def default_tile_rows(cube) -> int:
    """Rows per tile: about 8 MB of input (at least 4 bytes a value), whole dask row chunks.

    8 MB amortises the per-tile costs (Python calls, scikit-learn's checks) while the work
    inside a tile runs in cache-sized chunks; 2 MB tiles classified 20 % slower. For a
    :class:`dask.array.Array` the tiles are rounded to whole row chunks
    (:func:`~hsi_tumor._shared.arrays.aligned_tile_rows`), so each chunk is computed once.

    Parameters
    ----------
    cube : Cube
        Anything with ``shape`` (rows, cols, bands), ``dtype`` and ``data``.

    Returns
    -------
    int
    """
    rows = rows_per_tile(cube.shape, max(4, np.dtype(cube.dtype).itemsize))
    return aligned_tile_rows(cube.data, rows)


def for_each_tile(
    cube,
    fn: Callable[[slice, np.ndarray, np.ndarray], None],
    *,
    mask: np.ndarray | None = None,
    tile_rows: int | None = None,
    n_jobs: int | None = None,
    threads: bool = True,
    one_blas_thread: bool = False,
    progress: bool = False,
    desc: str = "tiles",
) -> np.ndarray:
    """Call ``fn(rows, pixels, ok)`` on every row tile of a cube that has a valid pixel.

    Parameters
    ----------
    cube : Cube
        In memory, memory-mapped, lazy or over a dask array: ``cube.tiles(tile_rows)`` gives
        ``(row_slice, sub_cube)`` pairs, each read into memory here.
    fn : callable
        ``fn(rows, pixels, ok)``: ``rows`` the tile's row slice of the cube, ``pixels``
        (n_pixels, n_bands) its spectra in memory, C-contiguous, in the cube's dtype (a view of
        an in-memory cube's data: do not modify it), ``ok`` (n_pixels,) bool its valid
        pixels (at least one). Called once per such tile, possibly from several threads at
        once (each call writes its own rows).
    mask : ndarray of shape (rows, cols) bool, optional
        Pixels to process (already checked, e.g. by ``check_mask``); the others are not valid.
    tile_rows : int, optional
        Rows per tile; default :func:`default_tile_rows` (about 8 MB of input).
    n_jobs : int, optional
        Tiles processed at once on threads; default the number of cores.
    threads : bool, default=True
        False runs one tile at a time, for work that runs its own threads (an estimator with
        ``n_jobs > 1``, OpenMP).
    one_blas_thread : bool, default=False
        Hold BLAS to one thread even when one tile runs at a time (small products, whose idle
        BLAS threads spinning between them cost more than they give). With several tiles at
        once, BLAS always runs single-threaded, so the cores are not oversubscribed.
    progress : bool, default=False
        Show a progress bar over the tiles (:func:`~hsi_tumor._shared.progress.progress_bar`).
    desc : str, default="tiles"
        The progress bar's label.

    Returns
    -------
    ndarray of shape (rows, cols), bool
        The valid pixels: finite in every band, not flagged in ``cube.valid``, and in
        ``mask``.

    Examples
    --------
    >>> import numpy as np
    >>> from hsi_tumor import Cube
    >>> cube = Cube(np.ones((5, 3, 4), np.float32), np.arange(4) * 10.0 + 900)
    >>> seen = []
    >>> valid = for_each_tile(cube, lambda rows, pixels, ok: seen.append(rows.start), tile_rows=2)
    >>> sorted(seen), bool(valid.all())
    ([0, 2, 4], True)
    """
    if tile_rows is None:
        tile_rows = default_tile_rows(cube)
    tiles = list(cube.tiles(tile_rows))
    valid = np.zeros(cube.shape[:2], dtype=bool)

    def run(index: int) -> None:
        rows, tile = tiles[index]
        data = tile.data
        if not (type(data) is np.ndarray and data.flags.c_contiguous and data.dtype.isnative):
            data = materialize(data)  # memory maps, lazy and dask arrays: read the tile
        pixels = data.reshape(-1, tile.n_bands)
        ok = valid_pixels(tile, pixels)
        if mask is not None:
            ok &= mask[rows].reshape(-1)
        valid[rows] = ok.reshape(tile.shape[:2])
        if ok.any():
            fn(rows, pixels, ok)

    workers = max(1, min(n_jobs or os.cpu_count() or 1, len(tiles))) if threads else 1
    limit = workers > 1 or one_blas_thread
    with (
        progress_bar(len(tiles), desc=desc, unit="tile", enabled=progress) as bar,
        blas_single_thread() if limit else contextlib.nullcontext(),
    ):
        if workers > 1:
            with ThreadPoolExecutor(workers) as pool:
                for _ in pool.map(run, range(len(tiles))):
                    bar.update()
        else:
            for i in range(len(tiles)):
                run(i)
                bar.update()
    return valid
