r"""Support vector machine decisions as matrix products, with per-pixel error bounds.

libsvm's one-vs-one decision for the pair of classes ``(i, j)``, ``i < j``, is

.. math:: f_{ij}(x) = \sum_{k \in \mathrm{SV}_i} \alpha^{(j-1)}_k K(x, s_k)
          + \sum_{k \in \mathrm{SV}_j} \alpha^{(i)}_k K(x, s_k) + b_{ij},

with the dual coefficients of row ``j − 1`` for the support vectors of class ``i`` and of row
``i`` for those of class ``j`` (scikit-learn's ``_dual_coef_``/``_intercept_``, before it flips
their signs for binary problems). Scattered into a dense ``(n_SV, n_pairs)`` matrix ``M``, all
pairs are one product ``K M + b`` with the kernel matrix ``K`` of a chunk of pixels.

Features
    Kernels are evaluated on the preprocessing's output as scikit-learn computes it. The steps
    are called with their own ``transform`` (on a tile, in the input's precision), except an
    affine tail that scikit-learn evaluates in float64 (PCA and what follows it), which is
    fused into one float64 product (:mod:`~hsi_tumor.preprocessing._affine`): the features then
    equal scikit-learn's up to float64 rounding, far below their rounding to float32 below.
    Fusing SNV and PCA into one float32 product had moved calibrated probabilities by up to
    8e-5: SNV's rounding is amplified by the whitening that follows.

Kernels
    *RBF*: ``K = exp(−γ ‖z − s‖²)`` with ``‖z − s‖² = ‖z‖² + ‖s‖² − 2 z·s``: one float32 GEMM
    of the augmented features ``[z, 1, ‖z‖²]`` with ``[2γ S; −γ‖s‖²; −γ]`` gives the exponent
    ``−γ ‖z − s‖²`` of a chunk of pixels, then one in-place ``exp`` and one float64 product
    with the dual coefficients. Both ``z`` and the support vectors are first centred on the
    support vectors' mean ``c`` (the kernel depends only on differences; ``z − c`` is computed
    in float64 and rounded once), which keeps ``‖z‖² + ‖s‖²`` of the size of ``‖z − s‖²``
    rather than of ``‖c‖²``, which would cancel. The dual sum is accumulated in float64
    because it cancels too: ``Σ|α|K`` is often a hundred times ``|f|``, and a float32 sum moved
    calibrated probabilities by 4e-5. Pixels farther than ``R + √(104/γ)`` from ``c`` (``R``
    the largest ``‖s − c‖``) have every kernel value below 2⁻¹⁴⁹, which float32 rounds to 0:
    their decision is ``b`` and they skip the products (background, far from all tissue).
    With numba installed (``hsi_tumor[fast]``), RBF kernels after SNV (then a float64
    affine tail, or at most one ``StandardScaler``) on float32 tiles run the same computation
    as one compiled call per tile (:mod:`~hsi_tumor.inference._numba`: scikit-learn's SNV bit
    for bit, a polynomial ``exp``); :data:`USE_NUMBA` switches it off.
    *Linear*: ``Σ α K(z, s) = z · Σ α s``: the support vectors collapse into one weight vector
    per pair, fused with the preprocessing by :class:`~hsi_tumor.inference._linear.LinearScorer`.
    *Polynomial* ``(γ z·s + c₀)^d`` and *sigmoid* ``tanh(γ z·s + c₀)`` are not translation
    invariant and their powers amplify rounding: they are evaluated in float64.

Votes (``predict``)
    libsvm gives class ``i`` a vote when ``f_ij > 0``, class ``j`` otherwise, and predicts the
    first class with the most votes. ``decision_function_shape='ovr'`` is scikit-learn's
    ``_ovr_decision_function``: votes (``f_ij ≥ 0`` for ``i``) plus the summed confidences mapped
    monotonically into ``(−1/3, 1/3)``, ``x / (3 (|x| + 1))``, so that they only break ties.

Error bound (RBF), per pixel, with ``u₁ = Σ|α|K`` and ``u₂ = Σ|α|K‖s‖²`` (``|α|`` the largest
coefficient of a support vector over pairs; the two sums are two more columns of the product
``K M``)::

    e = 2 · [ γ c_p ε₃₂ (‖z‖² u₁ + u₂) + 2 ε₃₂ u₁ + Σ|α| e^−104 ]

the terms being: rounding of ``z − c`` and of the exponent (a sum of ``p + 2`` terms) in
float32; the float32 exponential (the float64 sum adds nothing of that order); the kernel
values rounded to 0 (the compiled kernel's ``exp``: ``e^−87`` for ``e^−104``). Here
``c_p = 8 (1 + log₂(p) / 8)`` (32 times :func:`~hsi_tumor.preprocessing._affine.rounding_factor`
of two sums; measured kernel errors stay below 1/30 of the bound). Pixels with a pair decision
within ``e`` of 0 are near a tie. :meth:`KernelScorer.precise` evaluates the same sums in
float64 (bound with ``ε₆₄``), for the few pixels where ``e`` is too wide for a calibrated
probability.
"""

from __future__ import annotations

import functools
import logging

import numpy as np

from hsi_tumor.inference._linear import SAFETY, LinearScorer
from hsi_tumor.preprocessing._affine import rounding_factor, split_chain

__all__ = ["KernelScorer", "ovr_decision", "pair_matrix", "svc_scorer", "vote"]

#: Elements of the kernel matrix per chunk: 512 KB of float32, so the passes stay in cache.
KERNEL_CHUNK = 2**17

#: ``exp(−UNDERFLOW)`` is below float32's smallest subnormal (2⁻¹⁴⁹ ≈ e^−103.3): it rounds to 0.
UNDERFLOW = 104.0

#: Evaluate RBF kernels after SNV with the compiled kernel of :mod:`._numba` when numba is
#: installed and its SNV matches numpy's (tests and the bench switch it off to compare).
USE_NUMBA = True

EPS32 = float(np.finfo(np.float32).eps)

logger = logging.getLogger(__name__)


@functools.cache
def _compiled_kernels():
    """:mod:`hsi_tumor.inference._numba`, or None when numba is not installed or unusable."""
    try:
        from hsi_tumor.inference import _numba
    except ImportError as exc:  # not installed (the optional extra), or not for this numpy
        logger.debug("numba kernels unavailable (%s); using numpy", exc)
        return None
    except (RuntimeError, OSError) as exc:  # no writable cache directory for the kernels
        logger.info("numba kernels unavailable (%s); using numpy", exc)
        return None
    return _numba


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

    Parameters
    ----------
    steps : list
        The fitted preprocessing steps before the SVC (see "Features" in the module).
    svc : SVC or NuSVC
        Fitted, dense, with an RBF, polynomial or sigmoid kernel.

    Attributes
    ----------
    chain : AffineChain
        The preprocessing, split by :func:`~hsi_tumor.preprocessing._affine.split_chain`.
    stage : Stage
        Its evaluation (scikit-learn's features: ``chain.exact_stage()``).
    m, b : ndarray
        The pair matrix and offsets (:func:`pair_matrix`).
    centre : ndarray of shape (n_features,)
        RBF: the support vectors' mean, on which features and support vectors are centred.
    sv_t : ndarray
        RBF: the augmented support vectors ``[2γ S; −γ‖s‖²; −γ]`` (float32) after centring;
        other kernels: the support vectors transposed (float64).
    sv_t64 : ndarray
        RBF: ``sv_t`` in float64.
    """

    def __init__(self, steps: list, svc) -> None:
        sv = np.asarray(svc.support_vectors_, dtype=np.float64)
        self.chain = chain = split_chain(steps)  # also read by the GPU path
        self.stage = chain.exact_stage()
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
            self.centre = sv.mean(axis=0)
            sv = sv - self.centre
            sv_norm2 = np.einsum("ij,ij->i", sv, sv)
            # [z, 1, ‖z‖²] @ [2γ S; −γ‖s‖²; −γ] = −γ ‖z − s‖²
            augmented = np.vstack(
                [2 * self.gamma * sv.T, -self.gamma * sv_norm2, np.full(n_sv, -self.gamma)]
            )
            self.sv_t = np.ascontiguousarray(augmented, dtype=np.float32)
            self.sv_t64 = augmented
            self._m_ext = np.hstack([self.m, m_abs[:, np.newaxis], (m_abs * sv_norm2)[:, None]])
            reach = np.sqrt(sv_norm2.max(initial=0.0)) + np.sqrt(UNDERFLOW / self.gamma)
            self._far2 = float(reach**2)
            compiled = _compiled_kernels()
            self._tile = None
            if compiled is not None:  # None too when the chain is not the kernel's
                self._tile = compiled.rbf_tile(
                    chain, self.centre, self.sv_t, self._m_ext, self._far2
                )
        else:
            self.sv_t = np.ascontiguousarray(sv.T)
            self._sv_max = float(np.sqrt(np.einsum("ij,ij->i", sv, sv).max(initial=0.0)))

    def __call__(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if self.kernel != "rbf":
            return self.precise(x)
        compiled = self._compiled_for(x)
        if compiled is not None:
            sums, zz = compiled(x)
            return self._rbf_result(sums, zz, _compiled_kernels().UNDERFLOW_ERROR, EPS32)
        z, _ = self.stage(x)
        return self._rbf_result(*self._rbf_sums(z), np.exp(-UNDERFLOW), EPS32)

    def precise(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """As calling the scorer, with the kernel evaluated in float64 (about twice the cost).

        For the few pixels whose float32 bound is too wide for their calibrated
        probabilities; the features are the same (scikit-learn's), the bound uses ``ε₆₄``.
        """
        z, _ = self.stage(x)
        z = z.astype(np.float64, copy=False)
        if self.kernel != "rbf":
            return self._dot_kernel(z)
        z = z - self.centre
        zz = np.einsum("ij,ij->i", z, z)
        g = np.hstack([z, np.ones((z.shape[0], 1)), zz[:, np.newaxis]]) @ self.sv_t64
        np.exp(g, out=g)  # −γ‖z − s‖² in float64: underflows only below e^−745
        return self._rbf_result(g @ self._m_ext, zz, 0.0, float(np.finfo(np.float64).eps))

    def _compiled_for(self, x: np.ndarray):
        """The compiled tile kernel (:mod:`._numba`) if it evaluates ``x``, else None."""
        if USE_NUMBA and self._tile is not None and self._tile.accepts(x):
            return self._tile
        return None

    def _rbf_sums(self, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``[K M, Σ|α|K, Σ|α|K‖s‖²]`` (n, n_pairs + 2) and ``‖z − c‖²`` of features ``z``."""
        n, p, n_pairs = z.shape[0], z.shape[1], self.m.shape[1]
        # [z − c, 1, ‖z − c‖²] in float32; z − c in float64, rounded once
        z1 = np.empty((n, p + 2), dtype=np.float32)
        np.subtract(z, self.centre, out=z1[:, :p])
        zz = np.einsum("ij,ij->i", z1[:, :p], z1[:, :p]).astype(np.float64)
        near = np.flatnonzero(zz < self._far2)  # the others' kernel values round to 0
        z1[:, p] = 1
        z1[:, p + 1] = zz
        if near.size < n:
            z1 = z1[near]
        sums = np.zeros((n, n_pairs + 2))
        out = sums if near.size == n else np.empty((near.size, n_pairs + 2))
        step = max(1, KERNEL_CHUNK // max(1, self._n_sv))
        for start in range(0, near.size, step):
            stop = min(near.size, start + step)
            g = z1[start:stop] @ self.sv_t  # −γ‖z − s‖², ≤ 0 up to rounding (in the bound)
            np.exp(g, out=g)
            np.matmul(g, self._m_ext, out=out[start:stop])
        if out is not sums:
            sums[near] = out
        return sums, zz

    def _rbf_result(
        self, sums: np.ndarray, zz: np.ndarray, underflow: float, eps: float
    ) -> tuple[np.ndarray, np.ndarray]:
        """Decisions and their bound from the sums; ``underflow`` bounds a kernel value's
        error where ``exp`` underflows, ``eps`` is the kernel's precision."""
        n_pairs = self.m.shape[1]
        dec = sums[:, :n_pairs]
        dec += self.b
        u1, u2 = sums[:, n_pairs], sums[:, n_pairs + 1]
        err = self.gamma * 32 * rounding_factor(2, self._p + 2) * eps * (zz * u1 + u2)
        err += 2 * eps * u1 + self._sum_abs * underflow
        err *= SAFETY
        return dec, err[:, np.newaxis]

    def _dot_kernel(self, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        t = z @ self.sv_t
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
        return dec, SAFETY * err[:, np.newaxis]


def svc_scorer(steps: list, svc):
    """The scorer of a fitted dense SVC/NuSVC after ``steps``, or None if unsupported."""
    import scipy.sparse as sp

    if getattr(svc, "_sparse", False) or sp.issparse(svc.support_vectors_):
        return None
    if callable(svc.kernel) or svc.kernel not in ("linear", "rbf", "poly", "sigmoid"):
        return None
    if svc.kernel == "linear":
        m, b = pair_matrix(svc)
        weights = np.asarray(svc.support_vectors_, dtype=np.float64).T @ m
        return LinearScorer(split_chain(steps), weights, b)
    return KernelScorer(steps, svc)
