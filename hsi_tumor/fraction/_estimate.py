"""estimate_fraction: a FractionModel applied to a cube, tile by tile."""

from __future__ import annotations

import logging
import math
import os
import threading
import warnings

import numpy as np

from hsi_tumor._shared.arrays import check_mask
from hsi_tumor._shared.errors import (
    InvalidOptionError,
    InvalidTypeError,
    NoValidPixelsError,
    ReferenceWarning,
)
from hsi_tumor._shared.tiles import for_each_tile
from hsi_tumor._shared.wavelengths import match_wavelengths
from hsi_tumor.calibration._inputs import as_cube
from hsi_tumor.cube import Cube
from hsi_tumor.fraction._features import (
    MASKED_REFERENCE,
    REFERENCE_PIXELS,
    context_features,
    snv,
    specimen_reference,
)
from hsi_tumor.fraction._model import Z90, FractionMap, FractionModel
from hsi_tumor.fraction._unmixing import mesma_models, unmix

logger = logging.getLogger("hsi_tumor.fraction")

__all__ = ["estimate_fraction", "reference_and_valid", "score_image"]

#: Pixels predicted at once by the learned estimator's regressors (bounds their work arrays).
_BLOCK = 65_536


def _spectra(pixels: np.ndarray, resampler: np.ndarray | None) -> np.ndarray:
    x = np.asarray(pixels, dtype=np.float64)
    return x if resampler is None else x @ resampler


def reference_and_valid(cube: Cube, mask, resampler, *, tile_rows=None, n_jobs=None):
    """The valid pixels of ``mask`` and the median SNV spectrum of an even sample of them.

    Returns
    -------
    valid : ndarray of shape (rows, cols), bool
    reference : ndarray of shape (n_bands,) or None
        None when no pixel is valid.
    """
    n = int(mask.sum()) if mask is not None else cube.n_rows * cube.n_cols
    step = max(1, math.ceil(n / REFERENCE_PIXELS))
    parts: dict[int, np.ndarray] = {}
    lock = threading.Lock()

    def sample(rows: slice, pixels: np.ndarray, ok: np.ndarray) -> None:
        chosen = np.flatnonzero(ok)[::step]
        if chosen.size:
            values = snv(_spectra(pixels[chosen], resampler))
            with lock:
                parts[rows.start] = values

    valid = for_each_tile(cube, sample, mask=mask, tile_rows=tile_rows, n_jobs=n_jobs)
    if not parts:
        return valid, None
    return valid, specimen_reference(np.vstack([parts[k] for k in sorted(parts)]))


def score_image(
    cube: Cube,
    valid,
    reference,
    pca,
    resampler,
    *,
    domain=None,
    outlier=None,
    tile_rows=None,
    n_jobs=None,
):
    """PCA scores of the specimen-referenced SNV spectra, (rows, cols, k) float32 (0 where
    not valid); with ``domain``, its flag of those scores written into ``outlier`` in the
    same pass."""
    k = int(pca.n_components_)
    scores = np.zeros((*cube.shape[:2], k), dtype=np.float32)

    # the domain of the scores (model files of earlier versions hold one of the spectra)
    on_scores = domain is not None and domain.n_features_in_ == k

    def work(rows: slice, pixels: np.ndarray, ok: np.ndarray) -> None:
        z = snv(_spectra(pixels[ok], resampler)) - reference
        s = pca.transform(z)
        scores[rows].reshape(-1, k)[ok] = s
        if domain is not None:
            outlier[rows].reshape(-1)[ok] = domain.predict(s if on_scores else z)

    for_each_tile(cube, work, mask=valid, tile_rows=tile_rows, n_jobs=n_jobs)
    return scores


def learned_features(scores: np.ndarray, valid: np.ndarray, sigma: float | None) -> np.ndarray:
    """The regressors' input image: the scores, and their neighbourhood mean when ``sigma``."""
    if not sigma:
        return scores
    return np.concatenate([scores, context_features(scores, valid, sigma)], axis=2)


def _as_fraction_model(model) -> FractionModel:
    if isinstance(model, (str, os.PathLike)):
        from hsi_tumor.fraction._persistence import load_fraction_model

        return load_fraction_model(model)
    if not isinstance(model, FractionModel):
        raise InvalidTypeError(
            f"model is a {type(model).__name__}, not a FractionModel",
            field="model",
            fix="train one with hsi_tumor.train_fraction, or give its file",
        )
    return model


def _warn_if_referenced_over_masks(model: FractionModel) -> None:
    """A :class:`~hsi_tumor.ReferenceWarning` when a model whose training specimens were
    referenced over their masks estimates a cube over every pixel (raised at the caller of
    :func:`estimate_fraction`)."""
    if model.training.get("reference_pixels") != MASKED_REFERENCE:
        return
    warnings.warn(
        ReferenceWarning(
            "estimate_fraction: the model's training specimens were referenced over their "
            "masks, this cube over every pixel (mask=None), background included: its "
            "fractions and outlier flags will be off (on a simulated specimen, mean fraction "
            "0.72 instead of 0.07 and 86 % of the tissue flagged). Fix: give mask='tissue' "
            "(hsi_tumor.tissue_mask) or the specimen's pixels; a cube of tissue alone: "
            "mask=np.ones(cube.shape[:2], bool)"
        ),
        stacklevel=3,
    )


def estimate_fraction(
    cube: Cube | str | os.PathLike,
    model: FractionModel | str | os.PathLike,
    *,
    mask=None,
    resample: bool = False,
    tile_rows: int | None = None,
    n_jobs: int | None = None,
    progress: bool = True,
) -> FractionMap:
    """Estimate the fraction of each pixel's area that is tumor, with its uncertainty.

    Parameters
    ----------
    cube : Cube or path
        Calibrated reflectance, like the training cubes (any form
        :func:`hsi_tumor.classify_cube` takes).
    model : FractionModel or path
        From :func:`hsi_tumor.train_fraction`, or its file (:func:`hsi_tumor.save_model`).
    mask : None, 'tissue' or ndarray of shape (rows, cols), optional
        The specimen's pixels. The learned estimator takes its specimen reference (the median
        SNV spectrum) over them, so give the specimen and not the background: ``'tissue'`` is
        :func:`hsi_tumor.tissue_mask`. Default: every pixel — for a learned model whose
        training specimens were referenced over their masks (``train_fraction`` on Specimens,
        or with ``masks``) with a :class:`~hsi_tumor.ReferenceWarning`, since its reference
        then includes the background.
    resample : bool, default=False
        Interpolate the cube's spectra onto the model's wavelengths when they differ.
    tile_rows, n_jobs : int, optional
        As for :func:`hsi_tumor.classify_cube`.
    progress : bool, default=True
        A progress bar over the tiles (tqdm, on stderr) once the call has run a second.

    Returns
    -------
    FractionMap
        ``fraction``, ``uncertainty``, ``lower`` / ``upper`` (the 90 % interval), ``outlier``
        and ``valid``.

    Raises
    ------
    WavelengthError
        If the cube's wavelengths differ from the model's and ``resample`` is False.
    InvalidOptionError
        If the mask has the wrong shape or is not a mask.
    NoValidPixelsError
        If no pixel of the mask is valid.

    Notes
    -----
    **Memory.** The cube is read tile by tile (twice for the learned estimator: once for the
    specimen reference, once for the scores); the learned estimator keeps the scores of every
    pixel, ``rows × cols × 2k × 4`` bytes (k principal components, 20 by default), besides the
    outputs, ``rows × cols × 17`` bytes.

    Examples
    --------
    >>> import hsi_tumor as ht
    >>> from hsi_tumor.datasets import simulate_cohort, as_specimens
    >>> train = as_specimens(simulate_cohort(2, seed=1, shape=(40, 48), n_bands=40))
    >>> model = ht.train_fraction(train, method="unmixing", random_state=0, progress=False)
    >>> test = as_specimens(simulate_cohort(1, seed=7, shape=(40, 48), n_bands=40))[0]
    >>> result = ht.estimate_fraction(test.cube, model, mask=test.tissue, progress=False)
    >>> bool(((result.fraction[result.valid] >= 0) & (result.fraction[result.valid] <= 1)).all())
    True
    """
    cube = as_cube(cube)
    model = _as_fraction_model(model)
    resampler = match_wavelengths(
        cube.wavelengths,
        model.wavelengths,
        resample=resample,
        what="the cube",
        expected="the model",
    )
    if isinstance(mask, str):
        if mask != "tissue":
            raise InvalidOptionError(
                f"mask={mask!r}", field="mask", fix="give None, 'tissue' or a (rows, cols) array"
            )
        from hsi_tumor.calibration import tissue_mask

        mask = tissue_mask(cube)
    mask = check_mask(mask.data if isinstance(mask, Cube) else mask, cube.shape[:2])
    if mask is None:
        _warn_if_referenced_over_masks(model)
    shape = cube.shape[:2]
    fraction = np.full(shape, np.nan, dtype=np.float32)
    lower = np.full(shape, np.nan, dtype=np.float32)
    upper = np.full(shape, np.nan, dtype=np.float32)
    outlier = None if model.domain is None else np.zeros(shape, dtype=bool)

    if model.method == "unmixing":
        E = np.asarray(model.endmembers, dtype=np.float64)
        classes = np.asarray(model.endmember_classes)
        models = mesma_models(classes)
        tumor = np.flatnonzero(classes == model.tumor_class)
        # the domain of the reflectance's PCA scores (model files of earlier versions: the bands)
        domain_pca = model.estimators.get("pca")
        if model.domain is not None and model.domain.n_features_in_ != getattr(
            domain_pca, "n_components_", None
        ):
            domain_pca = None

        def work(rows: slice, pixels: np.ndarray, ok: np.ndarray) -> None:
            x = _spectra(pixels[ok], resampler)
            result = unmix(x, E, models)
            f = result.abundances[:, tumor].sum(axis=1)
            sd = result.fraction_sd(tumor, x.shape[1])
            for image, values in (
                (fraction, f),
                (lower, np.clip(f - Z90 * sd, 0, 1)),
                (upper, np.clip(f + Z90 * sd, 0, 1)),
            ):
                image[rows].reshape(-1)[ok] = values
            if outlier is not None:
                outlier[rows].reshape(-1)[ok] = model.domain.predict(
                    x if domain_pca is None else domain_pca.transform(x)
                )

        valid = for_each_tile(
            cube,
            work,
            mask=mask,
            tile_rows=tile_rows,
            n_jobs=n_jobs,
            progress=progress,
            desc="fraction",
        )
    else:
        valid, reference = reference_and_valid(
            cube, mask, resampler, tile_rows=tile_rows, n_jobs=n_jobs
        )
        if reference is not None:
            pca = model.estimators["pca"]
            scores = score_image(
                cube,
                valid,
                reference,
                pca,
                resampler,
                domain=model.domain,
                outlier=outlier,
                tile_rows=tile_rows,
                n_jobs=n_jobs,
            )
            features = learned_features(scores, valid, model.context_sigma)
            flat = features.reshape(-1, features.shape[2])
            index = np.flatnonzero(valid.reshape(-1))
            for start in range(0, index.size, _BLOCK):
                idx = index[start : start + _BLOCK]
                F = flat[idx]
                f = np.clip(model.estimators["fraction"].predict(F), 0, 1)
                lo = np.clip(model.estimators["lower"].predict(F), 0, 1)
                hi = np.clip(model.estimators["upper"].predict(F), 0, 1)
                if model.interval_calibration is not None:
                    lo, hi = model.interval_calibration.apply(f, lo, hi)
                fraction.reshape(-1)[idx] = f
                lower.reshape(-1)[idx] = np.minimum(lo, f)
                upper.reshape(-1)[idx] = np.maximum(hi, f)
    n_masked = 0 if mask is None else int(mask.size - mask.sum())
    if not valid.any():
        raise NoValidPixelsError(
            "no valid pixel to estimate (all masked, NaN/inf or flagged invalid)",
            field="cube",
            fix="check the calibration (cube.valid) and the mask",
        )
    uncertainty = ((upper - lower) / (2 * Z90)).astype(np.float32)
    return FractionMap(
        fraction=fraction,
        uncertainty=uncertainty,
        lower=lower,
        upper=upper,
        outlier=outlier,
        valid=valid,
        method=model.method,
        n_masked=n_masked,
        n_invalid=int(valid.size - valid.sum()) - n_masked,
    )
