"""The learned estimator's features: SNV spectra relative to their specimen, and their context.

Two cube-level steps, both documented in :func:`hsi_tumor.fraction.train_fraction`:

* **specimen reference.** Each spectrum is SNV-normalised and the median SNV spectrum of the
  specimen's pixels (the estimate's mask) is subtracted. Most of a specimen is not tumor, so
  the median is close to the patient's normal tissue, and what is left is how a pixel differs
  from its own specimen: patient-to-patient differences of the kind that move every pixel of
  a specimen cancel.
* **context.** A Gaussian-weighted mean (σ in pixels) of the neighbouring pixels' scores, over
  valid pixels of the mask only (normalised convolution), added beside the pixel's own scores.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from hsi_tumor.preprocessing._standard_normal_variate import StandardNormalVariate

__all__ = [
    "MASKED_REFERENCE",
    "REFERENCE_PIXELS",
    "context_features",
    "reference_pixels",
    "snv",
    "specimen_reference",
]

#: Pixels sampled (evenly over the mask) for the specimen's median spectrum.
REFERENCE_PIXELS = 65_536

#: ``FractionModel.training["reference_pixels"]`` of a learned model whose every training
#: specimen's reference was taken over its mask (:func:`estimate_fraction` warns when such a
#: model estimates a cube over every pixel).
MASKED_REFERENCE = "each specimen's mask"


def reference_pixels(masks: list) -> str:
    """What the learned estimator's specimen references were taken over, in words."""
    masked = sum(m is not None for m in masks)
    if masked == len(masks):
        return MASKED_REFERENCE
    if masked == 0:
        return "every pixel"
    return f"{MASKED_REFERENCE} for {masked} of {len(masks)} cubes, every pixel for the others"


def snv(X: np.ndarray) -> np.ndarray:
    """SNV (ddof=1, the project's :class:`StandardNormalVariate`) in float64."""
    return StandardNormalVariate().fit_transform(np.asarray(X, dtype=np.float64))


def specimen_reference(snv_spectra: np.ndarray) -> np.ndarray:
    """The band-wise median of a specimen's SNV spectra.

    Parameters
    ----------
    snv_spectra : ndarray of shape (n_pixels, n_bands)

    Returns
    -------
    ndarray of shape (n_bands,), float64
    """
    return np.median(np.asarray(snv_spectra, dtype=np.float64), axis=0)


def context_features(scores: np.ndarray, valid: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian-weighted mean of the scores of each pixel's valid neighbours.

    Parameters
    ----------
    scores : ndarray of shape (rows, cols, k)
        Per-pixel features (anything where ``valid`` is False).
    valid : ndarray of shape (rows, cols), bool
        Pixels that count.
    sigma : float
        Standard deviation of the Gaussian, pixels (truncated at 4 σ, scipy's default).

    Returns
    -------
    ndarray of shape (rows, cols, k), float32
        ``Σ w s / Σ w`` over valid pixels; where no valid pixel is near, the pixel's own scores.
    """
    weight = valid.astype(np.float64)
    out = np.empty(scores.shape, dtype=np.float32)
    norm = ndimage.gaussian_filter(weight, sigma)
    for j in range(scores.shape[2]):
        plane = np.where(valid, scores[..., j], 0.0)
        num = ndimage.gaussian_filter(plane, sigma)
        out[..., j] = np.where(norm > 1e-6, num / np.maximum(norm, 1e-12), scores[..., j])
    return out
