"""Separate the specimen from the background and from specular glare."""

from __future__ import annotations

import logging
import warnings

import numpy as np
from scipy import ndimage

from hsi_tumor._shared.errors import InvalidOptionError, NoValidPixelsError
from hsi_tumor.cube import Cube

logger = logging.getLogger("hsi_tumor.calibration")

__all__ = ["otsu_threshold", "tissue_mask"]


def otsu_threshold(values, *, bins: int = 256) -> float:
    """Otsu's threshold: the cut that maximises the between-class variance of a histogram.

    Parameters
    ----------
    values : array-like
        Samples; non-finite values are ignored.
    bins : int, default=256

    Returns
    -------
    float
        Values above it form the upper class.

    References
    ----------
    N. Otsu, "A threshold selection method from gray-level histograms", IEEE Trans. Syst. Man
    Cybern. 9(1):62–66, 1979.
    """
    v = np.asarray(values, dtype=np.float64).ravel()
    v = v[np.isfinite(v)]
    if v.size == 0:
        raise NoValidPixelsError(
            "no finite value to threshold", field="values", fix="check the cube"
        )
    lo, hi = float(v.min()), float(v.max())
    if lo == hi:
        return lo
    counts, edges = np.histogram(v, bins=bins, range=(lo, hi))
    centres = (edges[:-1] + edges[1:]) / 2
    w0 = np.cumsum(counts)
    w1 = w0[-1] - w0
    m0 = np.cumsum(counts * centres)
    mean0 = m0 / np.maximum(w0, 1)
    mean1 = (m0[-1] - m0) / np.maximum(w1, 1)
    between = w0 * w1 * (mean0 - mean1) ** 2
    k = int(np.argmax(between[:-1]))
    return float(edges[k + 1])


def _band_mean(cube: Cube) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per pixel, the mean over its valid bands and whether every band is valid; per band, in
    how many pixels with a valid band it is invalid. One pass over the cube, tile by tile."""
    level = np.empty(cube.shape[:2], dtype=np.float64)
    complete = np.empty(cube.shape[:2], dtype=bool)
    band_invalid = np.zeros(cube.n_bands, dtype=np.int64)
    for rows, tile in cube.tiles():
        data = np.asarray(tile.data, dtype=np.float64)
        if tile.valid is not None and not getattr(tile.valid, "finite_means_valid", False):
            valid = np.asarray(tile.valid)
            data = np.where(valid if valid.ndim == 3 else valid[..., None], data, np.nan)
        finite = np.isfinite(data)
        complete[rows] = finite.all(axis=2)
        band_invalid += (~finite & finite.any(axis=2, keepdims=True)).sum(axis=(0, 1))
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN pixels: NaN, as meant
            level[rows] = np.nanmean(data, axis=2)
    return level, complete, band_invalid


def _warn_incomplete_bands(
    cube: Cube, band_invalid: np.ndarray, n_pixels: int, n_partial: int
) -> None:
    """Name the bands invalid in most of the ``n_pixels`` pixels that have a valid band: they
    empty the mask, and selecting the other bands first keeps those pixels."""
    bad = np.flatnonzero(band_invalid > 0.5 * n_pixels)
    if bad.size == 0:
        return
    if cube.wavelengths is not None:
        where = ", ".join(f"{cube.wavelengths[b]:g} nm" for b in bad[:8])
    else:
        where = ", ".join(f"feature {b}" for b in bad[:8])
    more = f" and {bad.size - 8} more" if bad.size > 8 else ""
    logger.warning(
        "tissue_mask: %d of the specimen's pixels are left out because a band is invalid there; "
        "band(s) %s%s are invalid in most pixels. Select the valid bands first, e.g. "
        "cube.sel(wavelengths=(lo, hi)), to keep those pixels",
        n_partial,
        where,
        more,
    )


def tissue_mask(
    cube: Cube,
    *,
    background: str = "dark",
    threshold: float | None = None,
    glare_level: float = 0.9,
    water_ratio: tuple[float, float] | None = (1450.0, 1300.0),
    max_water_ratio: float = 0.9,
    min_region: int = 64,
) -> np.ndarray:
    """Pixels that show tissue: not background, not specular glare, not invalid.

    Parameters
    ----------
    cube : Cube
        Calibrated reflectance (rows, cols, bands).
    background : {'dark', 'bright'}, default='dark'
        Whether the specimen lies on a darker (black cloth, dark tray) or brighter background.
    threshold : float, optional
        Mean-reflectance cut between background and specimen; default Otsu's threshold.
    glare_level : float, default=0.9
        Mean reflectance at or above which a pixel is specular glare (tissue reflects well
        under 0.9 in the NIR).
    water_ratio : (absorption_nm, reference_nm) or None, default=(1450, 1300)
        Tissue is mostly water: its reflectance in the 1450 nm water band is well below that at
        1300 nm. Pixels whose ratio R(absorption)/R(reference) exceeds ``max_water_ratio`` are
        not tissue (glare, plastic, metal). Skipped when the cube does not cover both bands
        (use (970, 1070) for cameras that stop below 1450 nm) or when None.
    max_water_ratio : float, default=0.9
    min_region : int, default=64
        Connected tissue regions smaller than this (pixels) are dropped.

    Returns
    -------
    numpy.ndarray of bool, shape (rows, cols)

    Notes
    -----
    Steps: mean reflectance per pixel over its valid bands; Otsu threshold (or ``threshold``);
    a 3x3 opening and hole filling of the specimen; removal of glare, of pixels failing the water
    ratio and of pixels that cannot be classified — NaN/inf or ``cube.valid`` False in **any**
    band, as :func:`hsi_tumor.classify_cube` leaves them out; removal of regions smaller than
    ``min_region``. So ``cube.pixels()[mask.ravel()]`` holds only finite spectra and
    ``classify_cube(cube, model, mask=mask)`` classifies every pixel of the mask. A band invalid
    in most pixels (a failed reference) would empty the mask: it is named in a logged warning,
    to be dropped with ``cube.sel`` first. The cube is read tile by tile.
    """
    if background not in ("dark", "bright"):
        raise InvalidOptionError(
            f"background={background!r}", field="background", fix="use 'dark' or 'bright'"
        )
    level, complete, band_invalid = _band_mean(cube)
    if not np.isfinite(level).any():
        raise NoValidPixelsError(
            "no valid pixel in the cube", field="cube", fix="check the calibration (cube.valid)"
        )
    if threshold is None:
        threshold = otsu_threshold(level[level < glare_level])
    with np.errstate(invalid="ignore"):
        specimen = level > threshold if background == "dark" else level < threshold
    specimen = ndimage.binary_opening(specimen, structure=np.ones((3, 3), bool))
    specimen = ndimage.binary_fill_holes(specimen)
    with np.errstate(invalid="ignore"):
        tissue = specimen & np.isfinite(level) & (level < glare_level)
    if water_ratio is not None and cube.wavelengths is not None:
        wl = cube.wavelengths
        absorption, reference = water_ratio
        if wl[0] <= min(water_ratio) and wl[-1] >= max(water_ratio):
            a = np.asarray(cube.data[:, :, cube.band_index(absorption)], dtype=np.float64)
            r = np.asarray(cube.data[:, :, cube.band_index(reference)], dtype=np.float64)
            with np.errstate(all="ignore"):
                tissue &= a / r <= max_water_ratio
    partial = tissue & ~complete
    if partial.any():
        logger.info("tissue_mask: %d pixels invalid in some band left out", partial.sum())
        if partial.sum() > 0.5 * tissue.sum():
            n_pixels = int(np.isfinite(level).sum())
            _warn_incomplete_bands(cube, band_invalid, n_pixels, int(partial.sum()))
        tissue &= complete
    if min_region > 1 and tissue.any():
        labels, n = ndimage.label(tissue)
        sizes = np.bincount(labels.ravel(), minlength=n + 1)
        keep = sizes >= min_region
        keep[0] = False
        tissue = keep[labels]
    return tissue
