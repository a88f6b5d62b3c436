"""Apply a fitted transformer or pipeline to a whole cube, tile by tile."""

from __future__ import annotations

import logging
import threading

import numpy as np

from hsi_tumor._shared.errors import NoValidPixelsError, WavelengthError
from hsi_tumor._shared.tiles import blas_single_thread, for_each_tile
from hsi_tumor.cube import Cube
from hsi_tumor.preprocessing._affine import flatten_steps, split_chain

logger = logging.getLogger("hsi_tumor.preprocessing")

__all__ = ["output_wavelengths", "transform_cube"]


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
        Rows per tile; default about 8 MB of input per tile (for a dask array, rounded to
        whole row chunks).
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
    WavelengthError
        If the cube has a different number of bands than the transformer was fitted on.
    NoValidPixelsError
        If the cube has no valid pixel.

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
        raise WavelengthError(
            f"the transformer was fitted on {n_in} bands, the cube has {cube.n_bands}",
            field="transformer",
            fix="fit it on spectra with the cube's bands, or select the bands it expects",
        )
    with blas_single_thread():  # its probes must not leave BLAS threads spinning
        stage = split_chain(flatten_steps(transformer)).exact_stage()
    result = None  # allocated by the first tile done: it fixes the output width
    allocate = threading.Lock()

    def run(rows: slice, pixels: np.ndarray, ok: np.ndarray) -> None:
        nonlocal result
        every = bool(ok.all())
        features = stage.features(pixels if every else pixels[ok])
        if result is None:
            with allocate:
                if result is None:
                    # empty, not NaN-filled: each tile touches its own rows' pages (on its
                    # thread); the invalid pixels are set to NaN at the end
                    shape = (*cube.shape[:2], features.shape[1])
                    result = np.empty(shape, dtype=np.float32)
        out = result[rows].reshape(-1, result.shape[2])
        if every:
            out[...] = features
        else:
            out[ok] = features

    valid = for_each_tile(
        cube, run, tile_rows=tile_rows, n_jobs=n_jobs, one_blas_thread=True, desc="transform"
    )
    if result is None:
        raise NoValidPixelsError(
            "no valid pixel in the cube (all masked or non-finite)",
            field="cube",
            fix="check the calibration (cube.valid) and the mask",
        )
    n_invalid = int(valid.size - valid.sum())
    if n_invalid:
        result[~valid] = np.nan  # also the rows of tiles without a valid pixel, never written
        logger.info("transform_cube: %d invalid pixels left as NaN", n_invalid)
    wavelengths = output_wavelengths(transformer, cube.wavelengths, result.shape[2])
    meta = dict(cube.metadata)
    if wavelengths is None or wavelengths.size != cube.n_bands:
        for key in ("fwhm", "bbl", "band_names", "default_bands", "band_order"):
            meta.pop(key, None)
    meta.pop("bit_depth", None)  # the sensor's counts are gone: no default saturation
    meta["transformer"] = repr(transformer)
    return Cube(result, wavelengths, meta, valid=None if valid.all() else valid)
