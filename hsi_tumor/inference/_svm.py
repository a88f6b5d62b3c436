r"""Support vector machine decisions as matrix products, with per-pixel error bounds.

libsvm's one-vs-one decision for the pair of classes ``(i, j)``, ``i < j``, is

.. math:: f_{ij}(x) = \sum_{k \in \mathrm{SV}_i} \alpha^{(j-1)}_k K(x, s_k)
          + \sum_{k \in \mathrm{SV}_j} \alpha^{(i)}_k K(x, s_k) + b_{ij},

with the dual coefficients of row ``j − 1`` for the support vectors of class ``i`` and of row
``i`` for those of class ``j`` (scikit-learn's ``_dual_coef_``/``_intercept_``, before it flips
their signs for binary problems). Scattered into a dense ``(n_SV, n_pairs)`` matrix ``M``, all
pairs are one product ``K M + b`` with the kernel matrix ``K`` of a chunk of pixels.

Kernels
    *RBF*: ``K = exp(−γ ‖z − s‖²)`` with ``‖z − s‖² = ‖z‖² + ‖s‖² − 2 z·s``, evaluated in
    float32 as one GEMM ``z (2γ S)ᵀ`` plus row and column terms. Both ``z`` and the support
    vectors are first centred on the support vectors' mean ``c`` (the kernel depends only on
    differences): the centring is folded into the preprocessing's offset, and it keeps
    ``‖z‖² + ‖s‖²`` of the size of ``‖z − s‖²`` rather than of ``‖c‖²``, which would cancel.
    *Linear*: ``Σ α K(z, s) = z · Σ α s``: the support vectors collapse into one weight vector
    per pair, fused with the preprocessing by :class:`~hsi_tumor.inference._linear.LinearScorer`.
    *Polynomial* ``(γ z·s + c₀)^d`` and *sigmoid* ``tanh(γ z·s + c₀)`` are not translation
    invariant and their powers amplify rounding: they are evaluated in float64.

Votes (``predict``)
    libsvm gives class ``i`` a vote when ``f_ij > 0``, class ``j`` otherwise, and predicts the
    first class with the most votes. ``decision_function_shape='ovr'`` is scikit-learn's
    ``_ovr_decision_function``: votes (``f_ij ≥ 0`` for ``i``) plus the summed confidences mapped
    monotonically into ``(−1/3, 1/3)``, ``x / (3 (|x| + 1))``, so that they only break ties.

Error bound (RBF), per pixel, with ``u₁ = Σ|α|K``, ``u₂ = Σ|α|K‖s‖²``, ``u₃ = Σ|α|K‖s‖`` (``|α|``
the largest coefficient of a support vector over pairs; the three sums are three more columns
of the product ``K M``) and ``δ`` the feature error bound of the preprocessing::

    e = 2 · [ γ (c_p ε₃₂ (‖z‖² u₁ + u₂) + 2δ (‖z‖ u₁ + u₃) + δ² u₁) + c_SV ε₃₂ u₁ ]

the terms being: rounding of ``‖z − s‖²`` (a sum of ``p`` terms) in float32; the distance
change ``|‖z+δ−s‖² − ‖z−s‖²| ≤ 2δ‖z − s‖ + δ²``; the float32 product with the coefficients and
the float32 exponential; ``c_p = 8 (1 + log₂(p) / 8)`` and ``c_SV`` the same for ``n_SV``
(32 times :func:`~hsi_tumor.inference._features.rounding_factor` of two sums; measured kernel
errors stay below 1/30 of the bound). Pixels with a pair decision within ``e`` of 0 are near
a tie.
"""

from __future__ import annotations

import numpy as np

from hsi_tumor.inference._features import Affine, Stage, rounding_factor
from hsi_tumor.inference._linear import SAFETY, LinearScorer

__all__ = ["KernelScorer", "ovr_decision", "pair_matrix", "svc_scorer", "vote"]

#: Elements of the kernel matrix per chunk: 512 KB of float32, so the passes stay in cache.
KERNEL_CHUNK = 2**17


def pairs(n_classes: int) -> list[tuple[int, int]]:
    """libsvm's order of the one-vs-one pairs."""
    return [(i, j) for i in range(n_classes) for j in range(i + 1, n_classes)]


def pair_matrix(svc) -> tuple[np.ndarray, np.ndarray]:
    """``(M (n_SV, n_pairs), b (n_pairs,))`` in libsvm's sign convention."""
    dual = np.asarray(svc._dual_coef_, dtype=np.float64)
    counts = np.asarray(svc._n_support, dtype=np.intp)
    starts = np.concatenate([[0], np.cumsum(counts)])
    n_classes = counts.size
    pair_list = pairs(n_classes)
    m = np.zeros((int(starts[-1]), len(pair_list)))
    for p, (i, j) in enumerate(pair_list):
        si, ei, sj, ej = starts[i], starts[i + 1], starts[j], starts[j + 1]
        m[si:ei, p] = dual[j - 1, si:ei]
        m[sj:ej, p] = dual[i, sj:ej]
    return m, np.asarray(svc._intercept_, dtype=np.float64).copy()


def vote(dec: np.ndarray, n_classes: int) -> np.ndarray:
    """libsvm's prediction (class indices) from the pair decisions ``dec`` (n, n_pairs)."""
    votes = np.zeros((dec.shape[0], n_classes), dtype=np.intp)
    for p, (i, j) in enumerate(pairs(n_classes)):
        win = dec[:, p] > 0
        votes[:, i] += win
        votes[:, j] += ~win
    return np.argmax(votes, axis=1)


def ovr_decision(dec: np.ndarray, n_classes: int) -> np.ndarray:
    """scikit-learn's ``_ovr_decision_function(dec < 0, -dec, n_classes)``."""
    votes = np.zeros((dec.shape[0], n_classes))
    confidence = np.zeros((dec.shape[0], n_classes))
    for p, (i, j) in enumerate(pairs(n_classes)):
        confidence[:, i] += dec[:, p]
        confidence[:, j] -= dec[:, p]
        negative = dec[:, p] < 0
        votes[:, i] += ~negative
        votes[:, j] += negative
    return votes + confidence / (3 * (np.abs(confidence) + 1))


class KernelScorer:
    """``pixels -> (pair decisions (n, n_pairs) float64, error bound (n, 1) float64)``.

    For RBF, polynomial and sigmoid kernels; see the module docstring for the evaluation and
    the bound.
    """

    def __init__(self, prefix: list, snv: bool, affine: Affine | None, svc) -> None:
        sv = np.asarray(svc.support_vectors_, dtype=np.float64)
        self.m, self.b = pair_matrix(svc)
        self.kernel = svc.kernel
        self.gamma = float(svc._gamma)
        self.coef0 = float(svc.coef0)
        self.degree = int(svc.degree)
        n_sv, p = sv.shape
        self._p, self._n_sv = p, n_sv
        m_abs = np.max(np.abs(self.m), axis=1)
        self._sum_abs = float(m_abs.sum())
        if self.kernel == "rbf":
            centre = sv.mean(axis=0)
            sv = sv - centre
            tail = affine if affine is not None else Affine.identity(p)
            self.stage = Stage(prefix, snv, tail.shifted(centre))
            sv_norm2 = np.einsum("ij,ij->i", sv, sv)
            # one GEMM of [z, 1] with [2γ S; −γ‖s‖²] gives 2γ z·s − γ‖s‖²
            augmented = np.vstack([2 * self.gamma * sv.T, -self.gamma * sv_norm2])
            self._sv_t = np.ascontiguousarray(augmented, dtype=np.float32)
            extra = np.stack([m_abs, m_abs * np.sqrt(sv_norm2), m_abs * sv_norm2], axis=1)
            self._m32 = np.ascontiguousarray(np.hstack([self.m, extra]), dtype=np.float32)
        else:
            self.stage = Stage(prefix, snv, affine)
            self._sv_t = np.ascontiguousarray(sv.T)
            self._sv_max = float(np.sqrt(np.einsum("ij,ij->i", sv, sv).max(initial=0.0)))
        self._sklearn_noise = affine is not None or snv or bool(prefix)

    def __call__(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        z, nu = self.stage(x)
        delta = self.stage.feature_error(nu, z.dtype)
        if self.kernel == "rbf":
            return self._rbf(z.astype(np.float32, copy=False), delta)
        return self._dot_kernel(z.astype(np.float64, copy=False), delta)

    def _rbf(self, z: np.ndarray, delta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        n, n_pairs = z.shape[0], self.m.shape[1]
        out = np.empty((n, n_pairs + 3), dtype=np.float32)
        step = max(1, KERNEL_CHUNK // max(1, self._n_sv))
        zz = np.einsum("ij,ij->i", z, z)
        z1 = np.empty((n, z.shape[1] + 1), dtype=np.float32)
        z1[:, :-1] = z
        z1[:, -1] = 1
        gzz = (self.gamma * zz)[:, np.newaxis]
        for start in range(0, n, step):
            stop = min(n, start + step)
            g = z1[start:stop] @ self._sv_t  # 2γ z·s − γ‖s‖²
            g -= gzz[start:stop]  # − γ‖z‖²: −γ‖z − s‖², ≤ 0 up to rounding (in the bound)
            np.exp(g, out=g)
            np.matmul(g, self._m32, out=out[start:stop])
        dec = out[:, :n_pairs].astype(np.float64)
        dec += self.b
        u1, u3, u2 = (out[:, n_pairs + k].astype(np.float64) for k in range(3))
        zz = zz.astype(np.float64)
        eps = float(np.finfo(np.float32).eps)
        err = self.gamma * (
            32 * rounding_factor(2, self._p) * eps * (zz * u1 + u2)
            + 2 * delta * (np.sqrt(zz) * u1 + u3)
            + delta**2 * u1
        )
        err += 32 * rounding_factor(2, self._n_sv) * eps * u1
        err *= SAFETY
        return dec, err[:, np.newaxis]

    def _dot_kernel(self, z: np.ndarray, delta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        t = z @ self._sv_t
        t *= self.gamma
        t += self.coef0
        if self.kernel == "poly":
            k = t**self.degree
            degree = self.degree
        else:  # sigmoid
            k = np.tanh(t, out=t)
            degree = 1
        dec = k @ self.m
        dec += self.b
        z_norm = np.sqrt(np.einsum("ij,ij->i", z, z))
        reach = self.gamma * z_norm * self._sv_max + abs(self.coef0)
        eps = float(np.finfo(np.float64).eps)
        err = (
            8
            * rounding_factor(2, self._p + self._n_sv)
            * eps
            * self._sum_abs
            * (degree + 1)
            * (reach + 1) ** degree
        )
        if self._sklearn_noise:
            slope = degree * reach ** (degree - 1) if degree > 1 else 1.0
            err = err + delta * self.gamma * self._sv_max * self._sum_abs * slope
        return dec, SAFETY * err[:, np.newaxis]


def svc_scorer(prefix: list, snv: bool, affine: Affine | None, svc):
    """The scorer of a fitted dense SVC/NuSVC's pair decisions, or None if unsupported."""
    import scipy.sparse as sp

    if getattr(svc, "_sparse", False) or sp.issparse(svc.support_vectors_):
        return None
    if callable(svc.kernel) or svc.kernel not in ("linear", "rbf", "poly", "sigmoid"):
        return None
    if svc.kernel == "linear":
        m, b = pair_matrix(svc)
        weights = np.asarray(svc.support_vectors_, dtype=np.float64).T @ m
        return LinearScorer(prefix, snv, affine, weights, b)
    return KernelScorer(prefix, snv, affine, svc)
