"""Fused evaluation of the common preprocessing chains on tiles of pixels (same result, faster).

:func:`~hsi_tumor.transform_cube` evaluates a fitted transformer tile by tile. For the chains
that matter most — a PCA projection, alone or after SNV — the composition is evaluated
algebraically, without materialising the intermediate spectra and without scikit-learn's
per-call validation (the tile was validated once already)::

    PCA(x)      = (x − μ) Wᵀ
    PCA(SNV(x)) = ((x − m_x) Wᵀ) / s_x − μ Wᵀ

where ``m_x`` and ``s_x`` are the spectrum's mean and sample standard deviation, ``μ`` the PCA
mean and ``W`` its components (divided by the square roots of the explained variances when
``whiten=True``). The matrices are cast once to the tile's dtype, so float32 cubes stay float32.
Any other transformer is called as it is.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from sklearn.decomposition import PCA, IncrementalPCA
from sklearn.pipeline import Pipeline

from hsi_tumor.preprocessing._base import constant_rows, warn_degenerate
from hsi_tumor.preprocessing._standard_normal_variate import StandardNormalVariate

__all__ = ["tile_function"]

_PROJECTIONS = (PCA, IncrementalPCA)


def _steps(transformer) -> list:
    if isinstance(transformer, Pipeline):
        return [s for _, s in transformer.steps if s not in (None, "passthrough")]
    return [transformer]


class _Projection:
    """``(x − μ) Wᵀ`` (optionally after SNV) with matrices cached per dtype."""

    def __init__(self, pca, *, snv: bool) -> None:
        components = np.asarray(pca.components_, dtype=np.float64)
        if getattr(pca, "whiten", False):
            components = components / np.sqrt(pca.explained_variance_)[:, np.newaxis]
        self.weights_t = components.T
        self.mean = np.asarray(pca.mean_, dtype=np.float64)
        self.offset = self.mean @ self.weights_t
        self.snv = snv
        self._cache: dict[np.dtype, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}

    def _matrices(self, dtype):
        if dtype not in self._cache:
            self._cache[dtype] = (
                self.weights_t.astype(dtype),
                self.mean.astype(dtype),
                self.offset.astype(dtype),
            )
        return self._cache[dtype]

    def __call__(self, x: np.ndarray) -> np.ndarray:
        dtype = x.dtype if x.dtype in (np.float32, np.float64) else np.dtype(np.float64)
        x = x.astype(dtype, copy=False)
        weights_t, mean, offset = self._matrices(dtype)
        if not self.snv:
            return (x - mean) @ weights_t
        n = x.shape[1]
        row_mean = x.mean(axis=1, keepdims=True)
        centred = x - row_mean
        var = np.einsum("ij,ij->i", centred, centred)[:, np.newaxis] / (n - 1)
        flat = constant_rows(row_mean, var, n)
        scores = centred @ weights_t
        scores /= np.sqrt(np.where(flat, 1, var))
        scores -= offset
        if flat.any():
            flat = flat[:, 0]
            scores[flat] = -offset  # SNV gives zeros for flat spectra; PCA maps 0 to −μWᵀ
            warn_degenerate(
                int(flat.sum()),
                x.shape[0],
                "are flat (standard deviation 0), so SNV is undefined for them",
                "those rows were set to 0",
                "mask background, saturated or dead pixels before SNV",
            )
        return scores


def tile_function(transformer) -> Callable[[np.ndarray], np.ndarray]:
    """The function ``pixels -> features`` that :func:`transform_cube` applies to each tile.

    A fused evaluation for ``PCA``/``IncrementalPCA`` and ``StandardNormalVariate → PCA``
    (as a Pipeline or alone), equal to ``transformer.transform`` up to float rounding;
    ``transformer.transform`` itself for anything else.
    """
    steps = _steps(transformer)
    if len(steps) == 1 and isinstance(steps[0], _PROJECTIONS):
        return _Projection(steps[0], snv=False)
    if (
        len(steps) == 2
        and isinstance(steps[0], StandardNormalVariate)
        and isinstance(steps[1], _PROJECTIONS)
    ):
        return _Projection(steps[1], snv=True)
    return transformer.transform
