"""Apply a fitted transformer or pipeline to a whole cube, tile by tile."""

from __future__ import annotations

import functools
import logging
import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from threadpoolctl import ThreadpoolController

from hsi_tumor._shared.arrays import materialize, rows_per_tile, valid_pixels
from hsi_tumor._shared.errors import HsiTumorError
from hsi_tumor.cube import Cube
from hsi_tumor.preprocessing._affine import flatten_steps, split_chain

logger = logging.getLogger("hsi_tumor.preprocessing")

__all__ = ["output_wavelengths", "transform_cube"]

#: Input bytes per tile: small enough that the chain of numpy passes stays in cache.
TILE_BYTES = 2 * 2**20


@functools.cache
def _blas() -> ThreadpoolController:
    """One controller for the process: building it scans the loaded libraries (slow)."""
    return ThreadpoolController()


def output_wavelengths(transformer, wavelengths: np.ndarray | None, n_out: int):
    """Wavelengths of a transformer's output columns, or None when they are not bands.

    Uses ``get_feature_names_out`` with the input wavelengths as feature names: transformers
    that keep or select bands (SNV, Savitzky–Golay, :class:`WavelengthRange`, pipelines of
    them) return wavelength names, which are parsed back; those that make new features (PCA)
    return other names, and the output has no wavelengths.
    """
    if wavelengths is None:
        return None
    names = None
    try:
        names = transformer.get_feature_names_out([repr(float(w)) for w in wavelengths])
    except (AttributeError, ValueError, TypeError):
        pass
    if names is not None:
        try:
            values = np.array([float(n) for n in names])
        except ValueError:
            return None
        if values.size == n_out and (values.size < 2 or np.all(np.diff(values) > 0)):
            return values
        return None
    return wavelengths if n_out == wavelengths.size else None


def transform_cube(
    cube: Cube,
    transformer,
    *,
    tile_rows: int | None = None,
    n_jobs: int | None = None,
) -> Cube:
    """Apply a fitted transformer (or Pipeline) to every pixel of a cube, tile by tile.

    Parameters
    ----------
    cube : Cube
        Any cube: in memory, memory-mapped, lazy (e.g. from :func:`hsi_tumor.calibrate`).
    transformer : fitted scikit-learn transformer or Pipeline
        Takes (n_pixels, n_bands) and returns (n_pixels, n_features). The affine steps at the
        end of a pipeline (PCA, scalers, Savitzky–Golay, band selections), when scikit-learn
        evaluates them in float64, are fused into one float64 product after the other steps'
        own ``transform`` (see Notes).
    tile_rows : int, optional
        Rows per tile; default about 2 MB of input per tile, so that the transformer's passes
        over a tile stay in the processor's cache.
    n_jobs : int, optional
        Tiles processed at once on threads (numpy releases the GIL); default the number of
        cores. BLAS runs single-threaded meanwhile: on tiles this small it is fastest so, and
        the cores are not oversubscribed.

    Returns
    -------
    Cube
        In memory, float32, (rows, cols, n_features); only a few tiles of input are in memory
        at a time, so memory-mapped and lazily calibrated cubes stream through. Wavelengths are
        kept when the transformer keeps bands, follow a band selection, and are None for new
        features (PCA scores). Pixels that are invalid (``cube.valid`` False in any band, or a
        non-finite value) are not transformed: they are NaN in the output, and ``valid``
        (rows, cols) marks them.

    Raises
    ------
    HsiTumorError
        If the cube has a different number of bands than the transformer was fitted on, or no
        valid pixel.

    Notes
    -----
    The output is ``transformer.transform`` of the pixels, rounded to float32. The steps of a
    pipeline are split as ``hsi_tumor.preprocessing._affine`` describes: the steps up to the
    last one that is not affine along the bands (SNV, absorbance, ...) are called with their
    own ``transform``; when scikit-learn evaluates the affine steps after them in float64 (a
    PCA fitted on float64 data), they are composed into one affine map ``x A + b`` evaluated in
    float64, which equals scikit-learn's result up to float64 rounding (so to float32 rounding
    once stored); otherwise they are called as they are, and the result is scikit-learn's
    ``transform`` of the same pixels to the bit. (scikit-learn's own float32 products round
    a little differently with the number of rows BLAS gets at once: a few float32 roundings
    between tiles of a few rows and the whole image.)

    Examples
    --------
    >>> import numpy as np, hsi_tumor as ht
    >>> from hsi_tumor.preprocessing import StandardNormalVariate
    >>> cube = ht.Cube(np.random.default_rng(0).random((4, 5, 6)), np.arange(6) * 50.0 + 1000)
    >>> snv = StandardNormalVariate().fit(cube.pixels())
    >>> out = ht.transform_cube(cube, snv)
    >>> out.shape, out.wavelengths[0]
    ((4, 5, 6), np.float64(1000.0))
    """
    n_in = getattr(transformer, "n_features_in_", None)
    if n_in is not None and n_in != cube.n_bands:
        raise HsiTumorError(
            f"the transformer was fitted on {n_in} bands, the cube has {cube.n_bands}",
            field="transformer",
            fix="fit it on spectra with the cube's bands, or select the bands it expects",
        )
    if tile_rows is None:
        tile_rows = rows_per_tile(cube.shape, max(4, cube.dtype.itemsize), TILE_BYTES)
    tiles = list(cube.tiles(tile_rows))
    with _blas().limit(limits=1):  # its probes must not leave BLAS threads spinning
        stage = split_chain(flatten_steps(transformer)).exact_stage()
    valid = np.zeros(cube.shape[:2], dtype=bool)

    def compute(index: int) -> np.ndarray | None:
        """Features of the tile's valid pixels (None when it has none); marks ``valid``."""
        rows, tile = tiles[index]
        pixels = materialize(tile.data).reshape(-1, tile.n_bands)
        ok = valid_pixels(tile, pixels)
        valid[rows] = ok.reshape(tile.shape[:2])
        if not ok.any():
            return None
        return stage.features(pixels if ok.all() else pixels[ok])  # checked above, once

    def write(index: int, features: np.ndarray) -> None:
        rows = tiles[index][0]
        result[rows].reshape(-1, result.shape[2])[valid[rows].reshape(-1)] = features

    def run(index: int) -> None:
        features = compute(index)
        if features is not None:
            write(index, features)

    # BLAS single-threaded throughout: on small tiles it is fastest so, and its idle threads
    # would otherwise spin on the cores the tile workers need.
    with _blas().limit(limits=1):
        # the first tile with a valid pixel fixes the output width; the rest fill it in parallel
        first, features = 0, None
        while features is None and first < len(tiles):
            features = compute(first)
            first += 1
        if features is None:
            raise HsiTumorError(
                "no valid pixel in the cube (all masked or non-finite)",
                field="cube",
                fix="check the calibration (cube.valid) and the mask",
            )
        result = np.full((*cube.shape[:2], features.shape[1]), np.nan, dtype=np.float32)
        write(first - 1, features)
        workers = max(1, min(n_jobs or os.cpu_count() or 1, len(tiles) - first))
        if workers > 1:
            with ThreadPoolExecutor(workers) as pool:
                list(pool.map(run, range(first, len(tiles))))
        else:
            for i in range(first, len(tiles)):
                run(i)
    n_invalid = int(valid.size - valid.sum())
    if n_invalid:
        logger.info("transform_cube: %d invalid pixels left as NaN", n_invalid)
    wavelengths = output_wavelengths(transformer, cube.wavelengths, result.shape[2])
    meta = dict(cube.metadata)
    if wavelengths is None or wavelengths.size != cube.n_bands:
        for key in ("fwhm", "bbl", "band_names", "default_bands", "band_order"):
            meta.pop(key, None)
    meta["transformer"] = repr(transformer)
    return Cube(result, wavelengths, meta, valid=None if valid.all() else valid)
