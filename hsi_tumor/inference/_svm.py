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
    equal scikit-learn's up to float64 rounding (``δz`` in the bound below).
    Fusing SNV and PCA into one float32 product had moved calibrated probabilities by up to
    8e-5: SNV's rounding is amplified by the whitening that follows.

Kernels
    *RBF*: ``K = exp(−γ ‖z − s‖²)`` with ``‖z − s‖² = ‖z‖² + ‖s‖² − 2 z·s``, all in float64:
    one GEMM of the augmented features ``[z, 1, ‖z‖²]`` with ``[2γ S; −γ‖s‖²; −γ]`` gives the
    exponent ``−γ ‖z − s‖²`` of a chunk of pixels, then one in-place ``exp``. Both ``z`` and the
    support vectors are first centred on the support vectors' mean ``c`` (the kernel depends
    only on differences), which keeps ``‖z‖² + ‖s‖²`` of the size of ``‖z − s‖²`` rather than
    of ``‖c‖²``, which would cancel.

    Float64, not float32: with the exponent in float32, the bound below was wider than a
    calibrated probability's tolerance (1e-5) for 44–100 % of the pixels of models trained on
    real spectra (Indian Pines, 2–16 classes) and the measured error reached 3e-5; every such
    pixel needed a second, float64 evaluation. Evaluated once in float64, decisions are within
    about 1e-12 of libsvm's and no pixel is evaluated twice; a float64 GEMM costs twice a
    float32 one, which is less than the second evaluation did.

    *Pairs*: a support vector of class ``c`` takes part only in the ``n_classes − 1`` pairs
    that contain ``c``, with the coefficients of column ``k`` of ``_dual_coef_`` (rows in the
    order of the other class). So the kernel values of each class's support vectors are
    multiplied by that class's ``(n_SV_c, n_classes − 1)`` block of coefficients, giving
    ``Y_c``, and ``f_ij = Y_i[j − 1] + Y_j[i] + b_ij``: ``n_SV (n_classes − 1)`` products per
    pixel instead of ``n_SV n_pairs`` for the dense pair matrix (8x fewer at 16 classes). The
    exponent, ``exp`` and these products run on blocks of at most :data:`SV_BLOCK` support
    vectors and a chunk of pixels whose kernel values (:data:`KERNEL_CHUNK`) stay in cache.

    Pixels farther than ``R + √(104/γ)`` from ``c`` (``R`` the largest ``‖s − c‖``) have every
    kernel value below ``e^−104``: their decision is ``b`` (up to ``Σ|α| e^−104``, in the bound)
    and they skip the products (background, far from all tissue).
    *Linear*: ``Σ α K(z, s) = z · Σ α s``: the support vectors collapse into one weight vector
    per pair, fused with the preprocessing by :class:`~hsi_tumor.inference._linear.LinearScorer`.
    *Polynomial* ``(γ z·s + c₀)^d`` and *sigmoid* ``tanh(γ z·s + c₀)``: one float64 product with
    the (uncentred) support vectors and the dense pair matrix.

Votes (``predict``)
    libsvm gives class ``i`` a vote when ``f_ij > 0``, class ``j`` otherwise, and predicts the
    first class with the most votes. ``decision_function_shape='ovr'`` is scikit-learn's
    ``_ovr_decision_function``: votes (``f_ij ≥ 0`` for ``i``) plus the summed confidences mapped
    monotonically into ``(−1/3, 1/3)``, ``x / (3 (|x| + 1))``, so that they only break ties.

Error bound (RBF), per pixel, with ``S₁ = Σ|α|`` and ``S₂ = Σ|α|‖s‖²`` (``|α|`` the largest
coefficient of a support vector over pairs; kernel values are at most 1)::

    e = 2 · [ γ c_p ε₆₄ (‖z‖² S₁ + S₂) + 4 ε₆₄ S₁ + S₁ e^−104
              + 2 γ (‖z‖ + R) S₁ δz ]

the terms being: the rounding of the exponent (a sum of ``p + 2`` terms; ``c_p = 8 (1 +
log₂(p) / 8)``, 32 times :func:`~hsi_tumor.preprocessing._affine.rounding_factor` of two
sums), of ``exp`` and of the dual sums — ours and libsvm's alike, which the leading 2 covers
(:data:`~hsi_tumor.inference._linear.SAFETY`); the kernel values of far pixels taken as 0; and
``δz``, the float64 rounding by which a fused affine tail's features may differ from
scikit-learn's. On models trained on real spectra (Indian Pines, 2–16 classes, SNV and
SNV+PCA) ``e`` is 2e-11–7e-9 and our decisions differ from libsvm's by 2e-12–6e-12 at most,
1/6 of ``e`` at worst.
"""

from __future__ import annotations

import numpy as np

from hsi_tumor.inference._linear import SAFETY, LinearScorer
from hsi_tumor.preprocessing._affine import (
    CHUNK_BYTES,
    rounding_factor,
    split_chain,
    tail_rounding_factor,
)

__all__ = ["KernelScorer", "ovr_decision", "pair_matrix", "svc_scorer", "vote"]

#: Kernel values per chunk (float64): 512 KB, so that exponent, ``exp`` and the dual sums of a
#: chunk stay in a core's cache.
KERNEL_CHUNK = 2**16

#: Support vectors per block: a class's support vectors are split into blocks of at most this
#: many, so that a chunk holds at least ``KERNEL_CHUNK / SV_BLOCK`` pixels.
SV_BLOCK = 512

#: Kernel values below ``exp(−UNDERFLOW)`` are taken as 0 for pixels far from every support
#: vector (in the bound: ``Σ|α| e^−104`` ≈ 1e-41 per unit of ``Σ|α|``).
UNDERFLOW = 104.0

EPS64 = float(np.finfo(np.float64).eps)


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


class _Block:
    """Support vectors ``lo:hi`` of class ``cls``: augmented (``(p + 2, n)``, float64) and
    their dual coefficients transposed (``(n, n_classes − 1)``)."""

    __slots__ = ("cls", "coef", "sv_t")

    def __init__(self, cls: int, sv_t: np.ndarray, coef: np.ndarray) -> None:
        self.cls = cls
        self.sv_t = np.ascontiguousarray(sv_t)
        self.coef = np.ascontiguousarray(coef)


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
    sv_t64 : ndarray of shape (n_features + 2, n_SV)
        RBF: the augmented support vectors ``[2γ S; −γ‖s‖²; −γ]`` after centring (float64).
    sv_t : ndarray of shape (n_features, n_SV)
        Polynomial and sigmoid kernels: the support vectors transposed (float64).
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
        self.n_classes = int(np.asarray(svc._n_support).size)
        m_abs = np.max(np.abs(self.m), axis=1)
        self._sum_abs = float(m_abs.sum())
        if self.kernel != "rbf":
            self.sv_t = np.ascontiguousarray(sv.T)
            self._sv_max = float(np.sqrt(np.einsum("ij,ij->i", sv, sv).max(initial=0.0)))
            return
        self.centre = sv.mean(axis=0)
        sv = sv - self.centre
        sv_norm2 = np.einsum("ij,ij->i", sv, sv)
        # [z, 1, ‖z‖²] @ [2γ S; −γ‖s‖²; −γ] = −γ ‖z − s‖²
        self.sv_t64 = np.vstack(
            [2 * self.gamma * sv.T, -self.gamma * sv_norm2, np.full(n_sv, -self.gamma)]
        )
        self._blocks = self._make_blocks(svc)
        self._sum_abs_norm2 = float(m_abs @ sv_norm2)
        self._radius = float(np.sqrt(sv_norm2.max(initial=0.0)))
        reach = self._radius + np.sqrt(UNDERFLOW / self.gamma)
        self._far2 = float(reach**2)
        pair_list = pairs(self.n_classes)
        self._first = np.array([i for i, _ in pair_list], dtype=np.intp)
        self._second = np.array([j for _, j in pair_list], dtype=np.intp)
        self._feature_factor = tail_rounding_factor(self.stage.affine)  # float64 tails only

    @property
    def n_features(self) -> int:
        """The features the kernels are evaluated on (``pipeline[:-1].transform``'s width)."""
        return self._p

    def _make_blocks(self, svc) -> list[_Block]:
        dual = np.asarray(svc._dual_coef_, dtype=np.float64)
        counts = np.asarray(svc._n_support, dtype=np.intp)
        starts = np.concatenate([[0], np.cumsum(counts)])
        blocks = []
        for cls in range(counts.size):
            for lo in range(int(starts[cls]), int(starts[cls + 1]), SV_BLOCK):
                hi = min(int(starts[cls + 1]), lo + SV_BLOCK)
                blocks.append(_Block(cls, self.sv_t64[:, lo:hi], dual[:, lo:hi].T))
        return blocks

    def __call__(
        self, x: np.ndarray, features: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Pair decisions and their bounds of pixels ``x``; ``features`` (n, n_features),
        when given, receives the features the kernels were evaluated on (scikit-learn's
        ``pipeline[:-1].transform`` up to float64 rounding), so that a caller needing them
        (the training-domain flag) does not compute them again."""
        if self.kernel != "rbf":
            z, _ = self.stage(x)
            if features is not None:
                features[:] = z
            return self._dot_kernel(z.astype(np.float64, copy=False))
        n = x.shape[0]
        dec = np.empty((n, self.b.size))
        err = np.empty((n, 1))
        # features a megabyte at a time (at least 256 rows: see Stage), kernels in chunks
        # whose values stay in cache: small temporaries, reused (fresh large arrays cost as
        # much in page faults as the arithmetic)
        rows = max(256, CHUNK_BYTES // max(1, x.shape[1] * x.itemsize))
        widest = max(block.sv_t.shape[1] for block in self._blocks)
        step = max(16, KERNEL_CHUNK // widest)
        for first in range(0, n, rows):
            last = min(n, first + rows)
            z, scale = self.stage(x[first:last])
            if features is not None:
                features[first:last] = z
            zz = np.empty(last - first)
            for start in range(0, last - first, step):
                stop = min(last - first, start + step)
                dec[first + start : first + stop], zz[start:stop] = self._rbf(z[start:stop])
            err[first:last, 0] = self._rbf_bound(zz, scale)
        return dec, err

    def _rbf(self, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Pair decisions and ``‖z − c‖²`` of a chunk of features ``z``."""
        n, p = z.shape
        z1 = np.empty((n, p + 2))  # [z − c, 1, ‖z − c‖²]
        np.subtract(z, self.centre, out=z1[:, :p])
        zz = np.einsum("ij,ij->i", z1[:, :p], z1[:, :p])
        z1[:, p] = 1
        z1[:, p + 1] = zz
        near = np.flatnonzero(zz < self._far2)  # the others' kernel values are below e^−104
        if near.size < n:
            z1 = z1[near]
        # y[:, c, k]: Σ over class c's support vectors of their coefficient k times K
        y = np.zeros((near.size, self.n_classes, self.n_classes - 1))
        for block in self._blocks:
            g = z1 @ block.sv_t  # −γ‖z − s‖²
            np.exp(g, out=g)
            y[:, block.cls] += g @ block.coef
        pair = y[:, self._first, self._second - 1]
        pair += y[:, self._second, self._first]
        pair += self.b
        if near.size == n:
            return pair, zz
        dec = np.broadcast_to(self.b, (n, self.b.size)).copy()
        dec[near] = pair
        return dec, zz

    def _rbf_bound(self, zz: np.ndarray, scale: np.ndarray | None) -> np.ndarray:
        """The bound of the module docstring, per pixel, from ``‖z − c‖²`` and the stage's
        feature scale (None: the features are scikit-learn's to the bit)."""
        s1 = self._sum_abs
        c_p = 32 * rounding_factor(2, self._p + 2)
        err = self.gamma * c_p * EPS64 * (zz * s1 + self._sum_abs_norm2)
        err += 4 * EPS64 * s1 + s1 * np.exp(-UNDERFLOW)
        if scale is not None and self._feature_factor:
            dz = self._feature_factor * EPS64 * scale
            err += 2 * self.gamma * (np.sqrt(zz) + self._radius) * s1 * dz
        return SAFETY * err

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
