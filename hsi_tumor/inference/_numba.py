r"""Compiled RBF-SVM decisions after SNV: one numba call per tile (optional, ``hsi_tumor[fast]``).

:class:`~hsi_tumor.inference._svm.KernelScorer` evaluates an RBF SVM as a few numpy passes
(SNV, the fused affine tail, one float32 GEMM, ``exp``, one float64 product). For the common
chains that start with :class:`~hsi_tumor.preprocessing.StandardNormalVariate` this module does
the same arithmetic in one compiled call per tile, blocks of :data:`BLOCK` pixels staying in
cache, and returns what the numpy path returns before its error bound: the sums
``[K M, Σ|α|K, Σ|α|K‖s‖²]`` and ``‖z − c‖²`` (see :mod:`~hsi_tumor.inference._svm`).

Chains
    * SNV → a float64 affine tail (PCA, then scalers): ``z = SNV(x) A + b``, BLAS ``dgemm``;
    * SNV → at most one ``StandardScaler``, evaluated in float32 as scikit-learn does
      (``(x − float32(μ)) / float32(σ)``, each operation rounded to float32).

Exactness
    The SNV must be scikit-learn's to the last bit (its rounding is amplified by a whitening
    PCA: see :mod:`~hsi_tumor.preprocessing._affine`), so it emulates numpy's float32 arithmetic:
    the row mean is numpy's pairwise sum (blocks of 128 summed in 8 lanes, halves split at
    multiples of 8) divided by ``n``; the sum of squares is numpy's float32
    ``einsum('ij,ij->i')`` as compiled for the SSE baseline (4 lanes, blocks of 16 added from
    the last 4 to the first, products and sums rounded separately, the tail zero-padded, lanes
    summed ``(l₀ + l₁) + (l₂ + l₃)``). Those helpers are compiled with ``fastmath=False``
    explicitly: numba callees otherwise inherit the caller's fast-math flags, and contracted
    multiply-adds moved probabilities by 2e-5. The emulation depends on numpy's build, so
    :func:`snv_matches` compares it with ``StandardNormalVariate().transform`` on a probe
    batch at first use; on any difference the numpy path is used.

    The rest is rounded like the numpy path, not identically: ``z − c`` once to float32, the
    exponent by a float32 GEMM of ``[z − c, 1, ‖z − c‖²]``, dual sums in float64. ``exp`` is
    Cephes' ``expf`` polynomial (relative error below 1e-7, inside the ``2 ε₃₂`` of the bound)
    with exponents clamped at −87, so a kernel value is off by at most :data:`UNDERFLOW_ERROR`
    where numpy's ``exp`` rounds to 0 below ``e^−104``.

All functions release the GIL (``classify_cube`` runs tiles on threads) and are cached on disk
(``cache=True``; numba uses ``NUMBA_CACHE_DIR`` or the user's cache when the package directory is
read-only, and without any writable cache directory the import fails and the numpy path is
used). The first use compiles them: about 10 s, once; later processes load them in 0.5 s.

References
----------
.. [1] Moshier, S. L. (1989). *Methods and Programs for Mathematical Functions*. Ellis Horwood
   (the Cephes library: ``expf``).
"""

from __future__ import annotations

import functools
import logging
import math

import numpy as np
from numba import float32, float64, int32, njit

from hsi_tumor.preprocessing import StandardNormalVariate
from hsi_tumor.preprocessing._affine import AffineChain
from hsi_tumor.preprocessing._standard_normal_variate import matches_snv

__all__ = ["BLOCK", "UNDERFLOW_ERROR", "RbfTile", "rbf_tile", "snv", "snv_matches"]

logger = logging.getLogger(__name__)

#: Pixels per block: the block's SNV, features and exponents stay in cache.
BLOCK = 256

#: Fast-math flags of the exponential: multiply-adds may be fused (FMA). No reassociation: it
#: folds the two halves of ln 2 into one float32 constant (relative error 3e-7 at x = −87).
_FAST_EXP = {"nnan", "ninf", "nsz", "contract"}
#: Fast-math flags of the float64 dual sums: reassociated (vectorised). Divisions stay exact.
_FAST = {*_FAST_EXP, "reassoc"}

# Cephes expf: exp(x) = 2ⁿ exp(r), r = x − n ln 2 (ln 2 split in two), degree-5 polynomial
_LOG2E = np.float32(1.44269504088896341)
_LN2_HI = np.float32(0.693359375)
_LN2_LO = np.float32(-2.12194440e-4)
_P0 = np.float32(1.9875691500e-4)
_P1 = np.float32(1.3981999507e-3)
_P2 = np.float32(8.3334519073e-3)
_P3 = np.float32(4.1665795894e-2)
_P4 = np.float32(1.6666665459e-1)
_P5 = np.float32(5.0000001201e-1)
_HALF = np.float32(0.5)
_ONE = np.float32(1.0)
#: Exponents are clamped here, so that 2ⁿ stays a normal float32.
_EXP_MIN = np.float32(-87.0)
#: Largest error of a kernel value from the clamp: the value given, ``e^−87 ≈ 1.646e-38`` up
#: to the polynomial's error, as the true value is below it too.
UNDERFLOW_ERROR = 1.7e-38

_EPS32 = np.float32(np.finfo(np.float32).eps)
_PW_BLOCKSIZE = 128  # numpy's pairwise summation block


# --- SNV, bit for bit as numpy computes it (fastmath off) ----------------------------------


@njit(nogil=True, fastmath=False, cache=True)
def _leaf_sum(x, lo, n):  # pragma: no cover - compiled
    """numpy's ``pairwise_sum`` of ``x[lo:lo + n]``, ``n ≤ 128``: 8 lanes, then the rest."""
    if n < 8:
        s = float32(-0.0)  # the identity numpy starts float reductions from
        for i in range(n):
            s += x[lo + i]
        return s
    r0 = x[lo]
    r1 = x[lo + 1]
    r2 = x[lo + 2]
    r3 = x[lo + 3]
    r4 = x[lo + 4]
    r5 = x[lo + 5]
    r6 = x[lo + 6]
    r7 = x[lo + 7]
    i = 8
    while i < n - n % 8:
        r0 += x[lo + i]
        r1 += x[lo + i + 1]
        r2 += x[lo + i + 2]
        r3 += x[lo + i + 3]
        r4 += x[lo + i + 4]
        r5 += x[lo + i + 5]
        r6 += x[lo + i + 6]
        r7 += x[lo + i + 7]
        i += 8
    s = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
    while i < n:
        s += x[lo + i]
        i += 1
    return s


def _pairwise_plan(n: int) -> np.ndarray:
    """numpy's pairwise summation tree of ``n`` values, as its leaves in order.

    numpy sums blocks of at most 128 values (:func:`_leaf_sum`) and splits longer ranges in
    two halves, the first a multiple of 8 long. Row ``k`` is ``(start, length, merges)`` of
    leaf ``k``, ``merges`` the number of pending partial sums added to it once it is summed
    (the tree evaluated left to right with a stack: numba cannot cache recursive functions).
    """
    leaves = []

    def split(lo: int, length: int, depth: int) -> None:
        if length <= _PW_BLOCKSIZE:
            leaves.append([lo, length, depth])
            return
        half = length // 2
        half -= half % 8
        split(lo, half, depth + 1)
        split(lo + half, length - half, depth + 1)

    split(0, n, 0)
    depths: list[int] = []  # stack of pending sums: strictly increasing depths
    for leaf in leaves:
        depth, merges = leaf[2], 0
        while depths and depths[-1] == depth:  # its left sibling is waiting
            depths.pop()
            depth -= 1
            merges += 1
        depths.append(depth)
        leaf[2] = merges
    return np.array(leaves, dtype=np.int64)


@njit(nogil=True, fastmath=False, cache=True)
def _pairwise_sum(x, plan, partial):  # pragma: no cover - compiled
    """numpy's float32 ``pairwise_sum`` of ``x`` (``plan`` from :func:`_pairwise_plan`).

    ``partial`` (float32, one per leaf) holds the pending left halves.
    """
    n = x.shape[0]
    if n <= _PW_BLOCKSIZE:
        return _leaf_sum(x, 0, n)
    half = n // 2
    half -= half % 8
    if n - half <= _PW_BLOCKSIZE:  # two leaves (up to 256 values): a third faster than the loop
        return _leaf_sum(x, 0, half) + _leaf_sum(x, half, n - half)
    top = 0
    for k in range(plan.shape[0]):
        s = _leaf_sum(x, plan[k, 0], plan[k, 1])
        for _ in range(plan[k, 2]):
            top -= 1
            s = partial[top] + s
        partial[top] = s
        top += 1
    return partial[0]


@njit(nogil=True, fastmath=False, cache=True)
def _sum_of_squares(c):  # pragma: no cover - compiled
    """numpy's float32 ``einsum('i,i', c, c)`` at the SSE baseline (see the module)."""
    n = c.shape[0]
    l0 = l1 = l2 = l3 = float32(0.0)
    j = 0
    while j + 16 <= n:
        for blk in range(3, -1, -1):  # a₀b₀ + (a₁b₁ + (a₂b₂ + (a₃b₃ + acc))), 4 lanes each
            o = j + 4 * blk
            l0 += c[o] * c[o]
            l1 += c[o + 1] * c[o + 1]
            l2 += c[o + 2] * c[o + 2]
            l3 += c[o + 3] * c[o + 3]
        j += 16
    while j < n:  # 4 at a time, zero-padded
        l0 += c[j] * c[j]
        if j + 1 < n:
            l1 += c[j + 1] * c[j + 1]
        if j + 2 < n:
            l2 += c[j + 2] * c[j + 2]
        if j + 3 < n:
            l3 += c[j + 3] * c[j + 3]
        j += 4
    return (l0 + l1) + (l2 + l3)


@njit(nogil=True, fastmath=False, cache=True)
def _snv_row(x, out, plan, partial):  # pragma: no cover - compiled
    """``StandardNormalVariate().transform`` of one float32 row into ``out`` (float32)."""
    n = x.shape[0]
    mean = _pairwise_sum(x, plan, partial) / float32(n)
    for j in range(n):
        out[j] = x[j] - mean
    var = _sum_of_squares(out) / float32(n - 1)
    # constant_rows: zero variance up to the rounding of computing it
    if var <= float32(n) * _EPS32 * var + (float32(n) * mean * _EPS32) ** 2:
        out[:] = 0
        return
    std = float32(math.sqrt(var))  # rounding the float64 root to float32 is correctly rounded
    for j in range(n):
        out[j] = out[j] / std


@njit(nogil=True, fastmath=False, cache=True)
def _snv(x, out, plan):  # pragma: no cover - compiled
    partial = np.empty(plan.shape[0], np.float32)
    for i in range(x.shape[0]):
        _snv_row(x[i], out[i], plan, partial)


def snv(x: np.ndarray) -> np.ndarray:
    """SNV of each row of ``x`` as the compiled kernels compute it: numpy's, bit for bit.

    Parameters
    ----------
    x : ndarray of shape (n, n_bands), float32, C-contiguous
        Spectra.

    Returns
    -------
    ndarray of shape (n, n_bands), float32
        Each row centred and divided by its sample deviation; flat rows are zeros (no warning).
    """
    out = np.empty_like(x)
    _snv(x, out, _pairwise_plan(x.shape[1]))
    return out


@njit(nogil=True, fastmath=False, cache=True)
def _snv_dense(x, start, m, plan, a, offset, s64, feat):  # pragma: no cover - compiled
    """``feat[i, :p] = float32(SNV(x[start + i]) A + offset)`` for ``i < m``, float64 inside."""
    row = np.empty(x.shape[1], np.float32)
    partial = np.empty(plan.shape[0], np.float32)
    for i in range(m):
        _snv_row(x[start + i], row, plan, partial)
        for j in range(row.shape[0]):
            s64[i, j] = row[j]
    z = np.dot(s64[:m], a)
    for i in range(m):
        for k in range(a.shape[1]):
            feat[i, k] = float32(z[i, k] + offset[k])


@njit(nogil=True, fastmath=False, cache=True)
def _snv_scaled(x, start, m, plan, mean, scale, offset, feat):  # pragma: no cover - compiled
    """``feat[i] = float32(((SNV(x) − μ) / σ) + offset)``, μ, σ float32 as in StandardScaler."""
    row = np.empty(x.shape[1], np.float32)
    partial = np.empty(plan.shape[0], np.float32)
    for i in range(m):
        _snv_row(x[start + i], row, plan, partial)
        for k in range(row.shape[0]):
            feat[i, k] = float32(float64((row[k] - mean[k]) / scale[k]) + offset[k])


# --- exp and the dual sums (fast math) -----------------------------------------------------


@njit(nogil=True, fastmath=_FAST_EXP, cache=True)
def _exp(g, mantissa, bits):  # pragma: no cover - compiled
    """``exp(g) = mantissa * bits.view(float32)`` element-wise: the polynomial and ``2ⁿ``.

    ``np.floor``, not ``math.floor``: the latter returns an integer and does not vectorise.
    """
    for j in range(g.shape[0]):
        x = max(g[j], _EXP_MIN)
        n = np.floor(x * _LOG2E + _HALF)
        r = x - n * _LN2_HI
        r = r - n * _LN2_LO
        p = _P0 * r + _P1
        p = p * r + _P2
        p = p * r + _P3
        p = p * r + _P4
        p = p * r + _P5
        mantissa[j] = p * (r * r) + r + _ONE
        bits[j] = (int32(n) + 127) << 23


@njit(nogil=True, fastmath=_FAST, cache=True)
def _rbf_sums(x, plan, a, offset, mean, scale, sv_t, m_t, far2, out, zz):  # pragma: no cover
    """The RBF sums of a tile; see :meth:`RbfTile.__call__` (``a`` empty: the scaled chain)."""
    n, n_bands = x.shape
    p = offset.shape[0]
    n_sv = sv_t.shape[1]
    n_cols = m_t.shape[0]
    dense = a.shape[0] > 0
    s64 = np.empty((BLOCK if dense else 0, n_bands), np.float64)
    feat = np.empty((BLOCK, p + 2), np.float32)  # [z − c, 1, ‖z − c‖²], near pixels first
    near = np.empty(BLOCK, np.int64)
    mantissa = np.empty(n_sv, np.float32)
    bits = np.empty(n_sv, np.int32)
    power = bits.view(np.float32)
    kernel = np.empty(n_sv, np.float64)
    for start in range(0, n, BLOCK):
        m = min(BLOCK, n - start)
        if dense:
            _snv_dense(x, start, m, plan, a, offset, s64, feat)
        else:
            _snv_scaled(x, start, m, plan, mean, scale, offset, feat)
        q = 0
        for i in range(m):
            norm2 = float32(0.0)
            for j in range(p):
                norm2 += feat[i, j] * feat[i, j]
            zz[start + i] = norm2
            for c in range(n_cols):
                out[start + i, c] = 0.0
            if norm2 < far2:  # else every kernel value rounds to 0 (see _svm)
                for j in range(p):
                    feat[q, j] = feat[i, j]
                feat[q, p] = 1.0
                feat[q, p + 1] = norm2
                near[q] = start + i
                q += 1
        if q == 0:
            continue
        g = np.dot(feat[:q], sv_t)  # −γ‖z − s‖², float32
        for i in range(q):
            _exp(g[i], mantissa, bits)
            for j in range(n_sv):
                kernel[j] = float64(mantissa[j] * power[j])
            for c in range(n_cols):
                acc = 0.0
                for j in range(n_sv):
                    acc += m_t[c, j] * kernel[j]
                out[near[i], c] = acc


# --- the Python side ------------------------------------------------------------------------


@functools.cache
def snv_matches(n_bands: int) -> bool:
    """Whether :func:`snv` equals ``StandardNormalVariate().transform`` for ``n_bands``.

    Compares every bit on a probe batch (``matches_snv`` of
    :mod:`hsi_tumor.preprocessing._standard_normal_variate`). Compiles the kernels on first use.
    """
    same = matches_snv(snv, n_bands)
    if not same:
        logger.info(
            "numba SNV differs from numpy's for %d bands (numpy build); using the numpy path",
            n_bands,
        )
    return same


class RbfTile:
    """``tile (n, n_bands) float32 -> (sums (n, k) float64, ‖z − c‖² (n,) float64)``.

    Build it with :func:`rbf_tile`. The sums are ``[K M, Σ|α|K, Σ|α|K‖s‖²]`` as in
    ``KernelScorer._rbf_sums`` (0 for pixels beyond ``far2``).
    """

    def __init__(self, n_bands, a, offset, mean, scale, sv_t, m_ext, far2) -> None:
        self.n_bands = n_bands
        self._plan = _pairwise_plan(n_bands)
        self._a = np.ascontiguousarray(a, dtype=np.float64)
        self._offset = np.ascontiguousarray(offset, dtype=np.float64)
        self._mean = np.ascontiguousarray(mean, dtype=np.float32)
        self._scale = np.ascontiguousarray(scale, dtype=np.float32)
        self._sv_t = np.ascontiguousarray(sv_t, dtype=np.float32)
        self._m_t = np.ascontiguousarray(np.transpose(m_ext), dtype=np.float64)
        self._far2 = float(far2)

    def accepts(self, x: np.ndarray) -> bool:
        """Whether the kernel evaluates ``x``: C-contiguous float32 and a matching SNV."""
        return (
            x.dtype == np.float32
            and x.ndim == 2
            and x.shape[1] == self.n_bands
            and x.flags.c_contiguous
            and snv_matches(self.n_bands)
        )

    def __call__(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The sums and ``‖z − c‖²`` of a tile that :meth:`accepts` accepts."""
        n = x.shape[0]
        sums = np.empty((n, self._m_t.shape[0]))
        zz = np.empty(n)
        _rbf_sums(
            x, self._plan, self._a, self._offset, self._mean, self._scale, self._sv_t, self._m_t,
            self._far2, sums, zz,
        )  # fmt: skip
        return sums, zz


def rbf_tile(chain: AffineChain, centre, sv_t, m_ext, far2) -> RbfTile | None:
    """The compiled kernel for an RBF SVC after a preprocessing chain, or None when it does not
    apply.

    Parameters
    ----------
    chain : AffineChain
        The fitted preprocessing steps split by
        :func:`~hsi_tumor.preprocessing._affine.split_chain`; the kernel applies to SNV followed
        by a float64 dense affine tail, or by at most one ``StandardScaler`` evaluated in
        float32 (:meth:`~hsi_tumor.preprocessing._affine.AffineChain.float32_scaler`).
    centre, sv_t, m_ext, far2
        The scorer's support-vector centre (float64), augmented support vectors
        ``[2γS; −γ‖s‖²; −γ]`` (float32), coefficient columns and far-pixel threshold.
    """
    if len(chain.prefix) != 1 or type(chain.prefix[0]) is not StandardNormalVariate:
        return None
    n_bands = int(chain.prefix[0].n_features_in_)
    p = centre.shape[0]
    if chain.float64:
        affine = chain.affine
        if affine.diagonal or affine.cols is not None:
            return None
        a, offset = affine.matrix, affine.offset - centre
        mean = scale = np.empty(0)
    else:
        scaler = chain.float32_scaler()
        if chain.tail and scaler is None:
            return None
        with_mean = scaler is not None and scaler.with_mean
        with_std = scaler is not None and scaler.with_std
        mean = scaler.mean_ if with_mean else np.zeros(p)
        scale = scaler.scale_ if with_std else np.ones(p)
        a, offset = np.empty((0, 0)), -centre
    return RbfTile(n_bands, a, offset, mean, scale, sv_t, m_ext, far2)
