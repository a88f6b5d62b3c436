"""The one-band guide image of the KNN filter: the first principal component of the cube."""

from __future__ import annotations

import logging

import numpy as np

from hsi_tumor._shared.arrays import materialize
from hsi_tumor._shared.errors import CubeFormatError, NoValidPixelsError
from hsi_tumor.cube import Cube
from hsi_tumor.spatial._checks import check_int_option, check_mask

logger = logging.getLogger("hsi_tumor.spatial")

__all__ = ["principal_component_guide"]


def _as_cube(cube_or_array) -> Cube:
    if isinstance(cube_or_array, Cube):
        return cube_or_array
    data = cube_or_array
    if not isinstance(data, np.ndarray):
        data = np.asarray(data)
    if data.ndim != 3:
        raise CubeFormatError(
            f"expected a Cube or a (rows, cols, bands) array, got shape {data.shape}",
            field="cube",
            fix="pass the (calibrated, preprocessed) cube the probabilities were computed from",
        )
    return Cube(data, None)


def _tile_pixels(tile: Cube, mask: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """(n_pixels, bands) float64 spectra of a tile and which of them are valid."""
    pixels = materialize(tile.data, dtype=np.float64).reshape(-1, tile.n_bands)
    ok = np.isfinite(pixels).all(axis=1)
    valid = tile.valid
    if valid is not None and not getattr(valid, "finite_means_valid", False):
        valid = np.asarray(valid)
        ok &= (valid.all(axis=2) if valid.ndim == 3 else valid).reshape(-1)
    if mask is not None:
        ok &= mask.reshape(-1)
    return pixels, ok


def principal_component_guide(
    cube_or_array, *, mask=None, tile_rows: int | None = None
) -> np.ndarray:
    """First principal-component scores of a cube: the guide image of :func:`knn_filter`.

    Parameters
    ----------
    cube_or_array : Cube or array-like, shape (rows, cols, bands)
        The spectra the classifier saw (after calibration and preprocessing). A memory-mapped
        or lazily calibrated cube is read tile by tile, twice (statistics, then scores); it is
        never loaded whole.
    mask : array-like of bool, shape (rows, cols), optional
        The pixels to use (e.g. :func:`hsi_tumor.tissue_mask`). Pixels outside it, pixels
        flagged in ``cube.valid`` and pixels with a non-finite value are left out of the
        principal component analysis and are NaN in the guide.
    tile_rows : int, optional
        Rows read at a time; by default as many as fit in about 8 MB.

    Returns
    -------
    ndarray of float64, shape (rows, cols)
        ``(x - mean) @ v`` for each valid pixel, with ``v`` the unit eigenvector of the
        largest eigenvalue of the pixels' covariance, signed so that its largest-magnitude
        loading is positive (as scikit-learn's ``PCA`` does). The scores are *not* rescaled:
        they are in the units of the spectra (see Notes).

    Raises
    ------
    CubeFormatError
        If the input is not (rows, cols, bands).
    InvalidOptionError
        If the mask has another shape.
    NoValidPixelsError
        If the mask selects nothing, or fewer than two pixels are valid.

    Notes
    -----
    The mean and covariance are accumulated over tiles in float64, around a shift (the mean of
    the first tile) that keeps the sums free of cancellation when the spectra have a large
    offset (raw counts). The same as ``PCA(n_components=1).fit_transform`` on the valid pixels,
    up to the sign of the component and float rounding.

    **Scale.** The HELICoiD chain (Fabelo et al. 2018; the published MATLAB code of its
    benchmark, ``knnFilter_window`` with ``lambda = 1``, ``K = 40``) feeds the unscaled first
    principal-component scores of the preprocessed cube to the KNN filter, whose other two
    features are the row and column in pixels times λ. The guide is therefore kept unscaled
    here, so that ``spatial_weight=1`` means what it means in the paper: a difference of one
    unit of the score weighs as much as one pixel of distance. The scores are in the units of
    the preprocessed spectra, so their spread (``np.nanstd(guide)``) against λ decides how
    much the filter follows the guide rather than position: with spectra in other units than
    the paper's (raw counts, SNV), divide the guide by a chosen scale or tune
    ``spatial_weight`` (only the ratio of the two matters). Min–max scaling the guide to [0, 1]
    with λ = 1 would make it nearly irrelevant (its whole range would weigh one pixel), so no
    scaling is applied silently.

    References
    ----------
    H. Fabelo et al., "Spatio-spectral classification of hyperspectral images for brain cancer
    detection during surgical operations", PLoS ONE 13(3):e0193721, 2018.

    Examples
    --------
    >>> import numpy as np
    >>> from hsi_tumor.spatial import principal_component_guide
    >>> rng = np.random.default_rng(0)
    >>> cube = rng.normal(size=(4, 5, 1)) * [1.0, 2.0, -0.5]  # rank one: PC1 explains all
    >>> guide = principal_component_guide(cube)
    >>> guide.shape
    (4, 5)
    >>> z = cube[..., 0]
    >>> bool(np.allclose(guide, (z - z.mean()) * np.sqrt(5.25)))  # |[1, 2, -0.5]| = sqrt(5.25)
    True
    """
    cube = _as_cube(cube_or_array)
    rows, cols, bands = cube.shape
    mask = check_mask(mask, (rows, cols))
    if tile_rows is not None:
        tile_rows = check_int_option(tile_rows, "tile_rows", minimum=1, fix="e.g. tile_rows=64")
    tiles = list(cube.tiles(tile_rows))

    shift = None
    n = 0
    s1 = np.zeros(bands)
    s2 = np.zeros((bands, bands))
    for r, tile in tiles:
        pixels, ok = _tile_pixels(tile, None if mask is None else mask[r])
        x = pixels[ok]
        if not len(x):
            continue
        if shift is None:
            shift = x.mean(axis=0)
        x -= shift
        n += len(x)
        s1 += x.sum(axis=0)
        s2 += x.T @ x
    if n < 2:
        raise NoValidPixelsError(
            f"{n} valid pixel(s): a principal component needs at least two",
            field="cube" if mask is None else "mask",
            fix="check the mask and cube.valid, and that the spectra are finite",
        )
    mean = shift + s1 / n
    covariance = (s2 - np.outer(s1, s1) / n) / (n - 1)
    eigenvalues, eigenvectors = np.linalg.eigh(covariance)
    component = eigenvectors[:, -1]
    if component[np.argmax(np.abs(component))] < 0:
        component = -component
    total = eigenvalues.clip(min=0).sum()
    logger.debug(
        "principal_component_guide: %d pixels, PC1 explains %.1f %% of the variance",
        n,
        100 * eigenvalues[-1] / total if total > 0 else 0.0,
    )

    guide = np.full((rows, cols), np.nan)
    for r, tile in tiles:
        pixels, ok = _tile_pixels(tile, None if mask is None else mask[r])
        scores = np.full(len(pixels), np.nan)
        scores[ok] = (pixels[ok] - mean) @ component
        guide[r] = scores.reshape(tile.shape[:2])
    return guide
