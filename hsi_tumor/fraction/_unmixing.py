"""Fully constrained linear unmixing with several endmembers per class (MESMA-style).

A pixel whose area is a fraction ``a_k`` of each of a few pure materials has, where light from
neighbouring areas adds up without interacting (areal, "linear" mixing), the reflectance
``x = Σ a_k e_k`` with ``a_k ≥ 0`` and ``Σ a_k = 1``. Fully constrained least squares (FCLS)
finds those abundances; with a *library* of endmembers per class (within-class variability),
multiple-endmember spectral mixture analysis (MESMA) tries every model that takes at most one
endmember of each class and keeps the best-fitting one.

The solver here is exact and vectorised: for each candidate model (a set ``S`` of
endmembers) the sum-to-one least-squares solution has a closed form, and the FCLS optimum on
``S`` is the best of those closed-form solutions over the subsets of ``S`` whose abundances
are all non-negative (the optimum of a convex quadratic programme is the equality-constrained
solution on its own support). All products with the pixels are taken once, ``X Eᵀ``; each
model then costs ``O(n |S|²)``.
"""

from __future__ import annotations

import itertools

import numpy as np

from hsi_tumor._shared.errors import InvalidOptionError, TrainingDataError

__all__ = ["UnmixingResult", "mesma_models", "unmix"]

#: More candidate models than this is refused (each costs a pass over the pixels).
MAX_MODELS = 4096


def mesma_models(endmember_classes: np.ndarray) -> list[tuple[int, ...]]:
    """Every set of endmember indices with at most one endmember of each class (not empty).

    Parameters
    ----------
    endmember_classes : ndarray of shape (n_endmembers,)
        The class of each endmember.

    Returns
    -------
    list of tuple of int
        Sorted by size, then index: singletons first.

    Examples
    --------
    >>> mesma_models(np.array([1, 1, 2]))
    [(0,), (1,), (2,), (0, 2), (1, 2)]
    """
    classes = np.asarray(endmember_classes)
    groups = [np.flatnonzero(classes == c).tolist() for c in np.unique(classes)]
    models = []
    for size in range(1, len(groups) + 1):
        for chosen in itertools.combinations(groups, size):
            models.extend(itertools.product(*chosen))
    if len(models) > MAX_MODELS:
        raise InvalidOptionError(
            f"{len(models)} candidate unmixing models, over {MAX_MODELS}",
            field="n_endmembers",
            fix="use fewer endmembers per class",
        )
    return sorted(models, key=lambda m: (len(m), m))


class UnmixingResult:
    """Abundances, residuals and fraction variances of unmixed pixels.

    Attributes
    ----------
    abundances : ndarray of shape (n_pixels, n_endmembers), float64
        Non-negative, summing to 1 per pixel.
    residual : ndarray of shape (n_pixels,)
        Squared norm of ``x − Σ a_k e_k``.
    model_size : ndarray of shape (n_pixels,), int
        Endmembers with non-zero abundance in the chosen model.
    """

    def __init__(self, abundances, residual, model_size, variance_factor):
        self.abundances = abundances
        self.residual = residual
        self.model_size = model_size
        self._variance_factor = variance_factor  # (n_pixels, n_endmembers, n_endmembers)

    def fraction_sd(self, members: np.ndarray, n_bands: int) -> np.ndarray:
        """Standard deviation of ``Σ_{k ∈ members} a_k`` from the residual (see :func:`unmix`)."""
        w = np.zeros(self.abundances.shape[1])
        w[np.asarray(members)] = 1.0
        quad = np.einsum("i,nij,j->n", w, self._variance_factor, w)
        dof = np.maximum(n_bands - self.model_size + 1, 1)
        sigma2 = self.residual / dof
        return np.sqrt(np.maximum(quad * sigma2, 0.0))


def _check_endmembers(endmembers: np.ndarray) -> np.ndarray:
    e = np.asarray(endmembers, dtype=np.float64)
    if e.ndim != 2 or e.shape[0] < 1 or not np.all(np.isfinite(e)):
        raise TrainingDataError(
            f"endmembers must be a finite (n_endmembers, n_bands) array, got shape {e.shape}",
            field="endmembers",
            fix="take endmembers from annotated pure pixels",
        )
    return e


def unmix(
    X: np.ndarray,
    endmembers: np.ndarray,
    models: list[tuple[int, ...]] | None = None,
    *,
    tol: float = 1e-10,
) -> UnmixingResult:
    """Fully constrained least-squares abundances, the best of the candidate models.

    Parameters
    ----------
    X : ndarray of shape (n_pixels, n_bands)
        Spectra to unmix (finite).
    endmembers : ndarray of shape (n_endmembers, n_bands)
        The endmember spectra.
    models : list of tuple of int, optional
        Candidate endmember sets (e.g. :func:`mesma_models`). Default: every non-empty subset
        of the endmembers, which is plain FCLS over all of them.
    tol : float, default=1e-10
        Abundances above ``−tol`` count as non-negative (then clipped to 0).

    Returns
    -------
    UnmixingResult

    Notes
    -----
    On a set ``S`` with matrix ``M`` (columns the endmembers of ``S``), ``G = MᵀM`` and
    ``u = G⁻¹1``, the least-squares abundances under ``1ᵀa = 1`` are
    ``a = G⁻¹Mᵀx − u (1ᵀG⁻¹Mᵀx − 1) / (1ᵀu)`` and the residual is
    ``xᵀx − 2aᵀMᵀx + aᵀGa``. Among the sets whose ``a`` is non-negative the one with the
    smallest residual is kept (the smaller set on a tie). Its abundance covariance, for
    independent noise of variance σ² per band, is ``σ² (G⁻¹ − u uᵀ / 1ᵀu)``; σ² is estimated
    as the residual over ``n_bands − |S| + 1`` degrees of freedom, which gives
    :meth:`UnmixingResult.fraction_sd`. Sets whose ``G`` is singular (collinear endmembers)
    are skipped.

    References
    ----------
    .. [1] D. C. Heinz and C.-I Chang, "Fully constrained least squares linear spectral mixture
       analysis method for material quantification in hyperspectral imagery," IEEE Trans.
       Geosci. Remote Sens. 39, 529–545 (2001).
    .. [2] D. A. Roberts et al., "Mapping chaparral in the Santa Monica Mountains using
       multiple endmember spectral mixture models," Remote Sens. Environ. 65, 267–279 (1998).

    Examples
    --------
    >>> E = np.array([[1.0, 0.0, 0.2], [0.0, 1.0, 0.4]])
    >>> x = 0.3 * E[0] + 0.7 * E[1]
    >>> unmix(x[None], E).abundances.round(12)
    array([[0.3, 0.7]])
    """
    E = _check_endmembers(endmembers)
    X = np.asarray(X, dtype=np.float64)
    n, k = X.shape[0], E.shape[0]
    if models is None:
        models = [m for size in range(1, k + 1) for m in itertools.combinations(range(k), size)]
    XE = X @ E.T  # (n, k)
    xx = np.einsum("ij,ij->i", X, X)
    EE = E @ E.T
    best = np.full(n, np.inf)
    abundances = np.zeros((n, k))
    variance = np.zeros((n, k, k))
    size = np.zeros(n, dtype=np.int64)
    scale = max(float(np.max(np.abs(xx))), 1.0)
    for model in models:
        idx = np.asarray(model)
        G = EE[np.ix_(idx, idx)]
        if np.linalg.cond(G) > 1e12:
            continue
        Ginv = np.linalg.inv(G)
        u = Ginv.sum(axis=1)
        total = u.sum()
        C = XE[:, idx]
        A = C @ Ginv
        A -= np.outer((A.sum(axis=1) - 1.0) / total, u)
        resid = xx - 2.0 * np.einsum("ij,ij->i", A, C) + np.einsum("ij,jk,ik->i", A, G, A)
        resid = np.maximum(resid, 0.0)
        feasible = np.all(A > -tol, axis=1) & (resid < best - 1e-13 * scale)
        if not feasible.any():
            continue
        rows = np.flatnonzero(feasible)
        best[rows] = resid[rows]
        abundances[rows] = 0.0
        abundances[np.ix_(rows, idx)] = np.clip(A[rows], 0.0, None)
        cov = Ginv - np.outer(u, u) / total
        variance[rows] = 0.0
        variance[np.ix_(rows, idx, idx)] = cov
        size[rows] = idx.size
    abundances /= abundances.sum(axis=1, keepdims=True)
    return UnmixingResult(abundances, best, size, variance)
