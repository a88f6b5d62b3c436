r"""Compiled (numba) row kernels of the preprocessing transforms, with their numpy fallbacks.

:class:`~hsi_tumor.preprocessing.SavitzkyGolay` and
:class:`~hsi_tumor.preprocessing.MultiplicativeScatterCorrection` call :func:`savgol` and
:func:`msc`, which run one compiled kernel over the rows when numba can be used (numba
importable, :data:`USE_NUMBA` true, a cache location for the compiled code) and the numpy way
otherwise (:func:`scipy.signal.savgol_filter`; MSC's vectorised closed form). Tests set
``USE_NUMBA = False`` to exercise the fallback.

Savitzky–Golay
    The correlation is :func:`scipy.ndimage.convolve1d`'s with the
    :func:`scipy.signal.savgol_coeffs` weights, in scipy's order of operations: the spectrum is
    extended by ``m = window_length // 2`` bands per ``mode`` into a float64 line; weights that
    are symmetric (antisymmetric) within ``DBL_EPSILON``, as scipy.ndimage tests them, multiply
    the sums (differences) of the bands at ``±k``, added from the outermost pair in to a sum
    that starts with the centre band's product; other weights are applied in index order. Each
    output is that float64 sum rounded once to the input's dtype. So for ``"mirror"``,
    ``"constant"``, ``"nearest"`` and ``"wrap"``, and in the interior for ``"interp"``, the
    result is scipy's to the bit, float32 and float64.

    For ``"interp"`` the first and last ``m`` bands are the values of the polynomial fitted to
    the first (last) ``window_length`` bands: a fixed linear map of the window, whose
    ``(m, window_length)`` matrices :func:`edge_matrix` computes once (well conditioned:
    within 1e-15 of the exact rational coefficients); scipy fits every row with ``polyfit``.
    The two agree to float64 rounding of the fit for float64 input (1e-12 of the data's scale
    on ill-conditioned windows, where scipy's own fit loses digits). For float32 input ours
    are the float64 values rounded once; scipy (1.17, here) fits float32 rows in float32, and
    its edge bands are off by up to ~20 float32 ulp of a smoothed value and by up to ~3e-7 of
    the data's scale for a derivative.

Multiplicative scatter correction
    Per row, one pass sums the values, a second the centred squares and the centred products
    with the centred reference, a third writes ``(x − a) / b`` (the row stays in cache between
    them). The sums are float64 for both dtypes and vectorised (``fastmath={"reassoc"}``: in
    the order LLVM chooses for this processor, the same for every row); the output is the
    exact division. float64 output agrees with the numpy form to float64 rounding; float32
    output is the float64 computation on the float32 data, rounded once, where the numpy form
    rounds every step to float32 (its error is about ``√p ε₃₂`` of the result, ours half an
    ulp).

Threads
    The kernels release the GIL. A call runs on the calling thread (one core), except on more
    than :data:`SPLIT_BYTES` of input, which is split into one block of rows per core: the
    tiles of :func:`~hsi_tumor.preprocessing.transform_cube` and :func:`~hsi_tumor.classify_cube`
    (~8 MB, processed on threads of their own) stay serial and do not oversubscribe the
    cores, while one large ``transform`` uses them all. A row's result does not depend on the
    rows around it, so neither on the split nor on the tiling. (The blocks are taken in turn
    by the calling thread and the pool's, so a core busy with other work takes fewer.)

Compilation
    At first use, and cached on disk (``cache=True``: next to this module, or in numba's
    user-wide cache when the package directory is read-only; ``NUMBA_CACHE_DIR`` overrides);
    see ``bench/README.md`` for the measured time. Without numba, or without a usable cache
    location, the numpy path is used and the reason is logged once.
"""

from __future__ import annotations

import functools
import itertools
import logging
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import NamedTuple

import numpy as np
from numpy.polynomial import legendre
from numpy.typing import NDArray
from scipy.linalg import solve_triangular
from scipy.signal import savgol_coeffs, savgol_filter

from hsi_tumor.preprocessing._base import constant_rows

__all__ = ["USE_NUMBA", "SavgolPlan", "compiled", "msc", "savgol", "savgol_plan"]

logger = logging.getLogger("hsi_tumor.preprocessing")

#: Use the compiled kernels when numba is importable. Set False to force the numpy path.
USE_NUMBA = True

#: ``mode`` codes of the Savitzky–Golay kernel.
MODES = {"interp": 0, "mirror": 1, "constant": 2, "nearest": 3, "wrap": 4}

_DBL_EPSILON = float(np.finfo(np.float64).eps)


# --- the kernels (plain Python here; compiled by _kernels) ----------------------------------


def _savgol_rows(x, out, weights, kind, mode, left, right):  # pragma: no cover - compiled
    """Savitzky–Golay of every row of ``x`` into ``out`` (see the module docstring).

    Inner loops index slices from 0 (``a[j]``, not ``line[m + j - k]``): numba then needs no
    negative-index wraparound and LLVM vectorises them.
    """
    n_rows, n = x.shape
    m = weights.shape[0] // 2
    line = np.zeros(n + 2 * m, dtype=np.float64)
    acc = np.empty(n, dtype=np.float64)
    n_edge = left.shape[0]
    width = left.shape[1]
    body = line[m : m + n]
    for i in range(n_rows):
        row = x[i]
        for j in range(n):
            body[j] = row[j]
        for k in range(1, m + 1):  # the extension (m <= (n - 1) / 2: one reflection at most)
            if mode == 1:  # mirror: d c b | a b c d | c b a
                line[m - k] = line[m + k]
                line[m + n - 1 + k] = line[m + n - 1 - k]
            elif mode == 3:  # nearest
                line[m - k] = line[m]
                line[m + n - 1 + k] = line[m + n - 1]
            elif mode == 4:  # wrap
                line[m - k] = line[m + n - k]
                line[m + n - 1 + k] = line[m + k - 1]
            # constant, and interp (whose edge bands are replaced below): the zeros stay
        target = out[i]
        if kind != 0:
            # (anti)symmetric: the centre band's product, then the pairs from the outermost in.
            # The first pair's pass also starts the sum and the last one's writes the output:
            # per band the same operations in the same order as scipy, in fewer passes.
            c = weights[m]
            if m == 0:
                for j in range(n):
                    target[j] = body[j] * c
            for k in range(m, 0, -1):
                w = weights[m - k]
                lo = line[m - k : m - k + n]
                hi = line[m + k : m + k + n]
                if kind > 0:
                    if k == m and k == 1:
                        for j in range(n):
                            target[j] = body[j] * c + (lo[j] + hi[j]) * w
                    elif k == m:
                        for j in range(n):
                            acc[j] = body[j] * c + (lo[j] + hi[j]) * w
                    elif k == 1:
                        for j in range(n):
                            target[j] = acc[j] + (lo[j] + hi[j]) * w
                    else:
                        for j in range(n):
                            acc[j] += (lo[j] + hi[j]) * w
                elif k == m and k == 1:
                    for j in range(n):
                        target[j] = body[j] * c + (lo[j] - hi[j]) * w
                elif k == m:
                    for j in range(n):
                        acc[j] = body[j] * c + (lo[j] - hi[j]) * w
                elif k == 1:
                    for j in range(n):
                        target[j] = acc[j] + (lo[j] - hi[j]) * w
                else:
                    for j in range(n):
                        acc[j] += (lo[j] - hi[j]) * w
        else:  # the last weight first, then the others in order
            c = weights[2 * m]
            last = line[2 * m : 2 * m + n]
            for j in range(n):
                acc[j] = last[j] * c
            for k in range(2 * m):
                w = weights[k]
                shifted = line[k : k + n]
                for j in range(n):
                    acc[j] += shifted[j] * w
            for j in range(n):
                target[j] = acc[j]
        for p in range(n_edge):  # interp: the fitted polynomial on the first / last window
            s = 0.0
            t = 0.0
            for k in range(width):
                s += left[p, k] * body[k]
                t += right[p, k] * body[n - width + k]
            target[p] = s
            target[n - n_edge + p] = t


def _msc_rows(x, out, centred_reference, reference_mean, reference_ss, eps):  # pragma: no cover
    """MSC of every row of ``x`` into ``out``; returns the degenerate rows (see the module).

    Compiled with ``fastmath={"reassoc"}`` for the three sums (vectorised, in the order LLVM
    chooses for the machine); the division that writes the output is exact.
    """
    n_rows, n = x.shape
    degenerate = np.zeros(n_rows, dtype=np.bool_)
    rc = centred_reference
    sqrt_eps = np.sqrt(eps)
    for i in range(n_rows):
        row = x[i]
        total = 0.0
        for j in range(n):
            total += row[j]
        mean = total / n
        ss = 0.0
        cross = 0.0
        for j in range(n):
            d = row[j] - mean
            ss += d * d
            cross += d * rc[j]
        var = ss / n
        bound = n * eps * var + (n * mean * eps) ** 2  # _base.constant_rows
        target = out[i]
        if var <= bound or abs(cross) <= sqrt_eps * np.sqrt(ss * reference_ss):
            degenerate[i] = True
            for j in range(n):
                target[j] = 0.0
        else:
            slope = cross / reference_ss
            offset = mean - slope * reference_mean
            for j in range(n):
                target[j] = (row[j] - offset) / slope
    return degenerate


_LOCK = threading.Lock()

#: A call on at least this many bytes of input is split into blocks of rows run on all cores
#: (the calling thread and a pool shared by all calls); smaller calls — the ~8 MB tiles of
#: ``transform_cube`` and ``classify_cube``, which run on threads of their own — stay on the
#: calling thread, so that the cores are not oversubscribed.
SPLIT_BYTES = 32 * 2**20

#: Blocks of rows per core when a call is split.
BLOCKS_PER_CORE = 4


def _cores() -> int:
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1  # pragma: no cover - not Linux


@functools.cache
def _pool() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max(1, _cores() - 1), thread_name_prefix="hsi_tumor-rows")


def _after_fork_in_child() -> None:
    """A forked child has none of the parent's threads: a new pool, a new lock."""
    global _LOCK
    _pool.cache_clear()
    _LOCK = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def _over_rows(kernel, X: np.ndarray, out: np.ndarray, *args) -> list:
    """``kernel(X, out, *args)``, on blocks of rows on all cores for a large ``X``.

    :data:`BLOCKS_PER_CORE` blocks per core, taken in turn by the calling thread and the
    pool's threads, so that a core slowed by other work takes fewer blocks. The kernels treat
    rows independently: a row's result does not depend on the split. Returns the kernel's
    results, one per block, in row order.
    """
    cores = _cores()
    if X.nbytes < SPLIT_BYTES or cores < 2 or X.shape[0] < 2 * cores:
        return [kernel(X, out, *args)]
    n_blocks = min(BLOCKS_PER_CORE * cores, X.shape[0] // 2)
    bounds = np.linspace(0, X.shape[0], n_blocks + 1).astype(np.intp)
    blocks = list(itertools.pairwise(bounds))
    results: list = [None] * n_blocks
    turns = itertools.count()  # next() on a count is atomic under the GIL

    def work() -> None:
        while (index := next(turns)) < n_blocks:
            start, stop = blocks[index]
            results[index] = kernel(X[start:stop], out[start:stop], *args)

    helpers = [_pool().submit(work) for _ in range(cores - 1)]
    work()
    for helper in helpers:
        helper.result()
    return results


@functools.cache
def _kernels():
    """The compiled kernels, or None (numba missing or unusable; logged once)."""
    try:
        import numba
    except ImportError:
        logger.info("numba is not installed: preprocessing uses its numpy path")
        return None
    jit = numba.njit(cache=True, nogil=True)
    sums = numba.njit(cache=True, nogil=True, fastmath={"reassoc"})
    try:
        return {"savgol": jit(_savgol_rows), "msc": sums(_msc_rows)}
    except RuntimeError as error:  # e.g. no writable cache directory for cache=True
        logger.warning("numba kernels unavailable (%s): preprocessing uses its numpy path", error)
        return None


def kernels() -> dict | None:
    """The compiled kernels when they are to be used, else None."""
    if not USE_NUMBA:
        return None
    with _LOCK:
        return _kernels()


def compiled() -> bool:
    """Whether :func:`savgol` and :func:`msc` run compiled kernels now."""
    return kernels() is not None


# --- Savitzky–Golay --------------------------------------------------------------------------


class SavgolPlan(NamedTuple):
    """What the kernel needs of a filter: weights, their symmetry, the interp edge matrices."""

    window_length: int
    polyorder: int
    deriv: int
    delta: float
    mode: str
    weights: NDArray[np.float64]  # correlation weights: savgol_coeffs reversed (convolve1d)
    kind: int  # 1 symmetric, -1 antisymmetric, 0 neither, as scipy.ndimage decides
    left: NDArray[np.float64]  # (m, window) for "interp", else (0, window)
    right: NDArray[np.float64]


@functools.lru_cache(maxsize=32)
def savgol_plan(
    window_length: int, polyorder: int, deriv: int, delta: float, mode: str
) -> SavgolPlan:
    """The kernel's coefficients for one set of parameters (cached; independent of the data).

    The weights are :func:`scipy.signal.savgol_coeffs` reversed, as
    :func:`scipy.ndimage.convolve1d` reverses them into a correlation; ``kind`` is scipy.ndimage's
    symmetry test (``|w[m+k] ∓ w[m−k]| <= DBL_EPSILON`` for every ``k``), after which it uses
    only the left weight of each pair. ``left``/``right`` hold, for ``"interp"``, the
    :func:`edge_matrix` rows that evaluate the polynomial fitted to the first/last window at
    each of the first/last ``m`` bands.
    """
    coeffs = savgol_coeffs(window_length, polyorder, deriv=deriv, delta=delta)
    weights = np.ascontiguousarray(coeffs[::-1], dtype=np.float64)
    m = window_length // 2
    pairs = [(weights[m + k], weights[m - k]) for k in range(1, m + 1)]
    if all(abs(a - b) <= _DBL_EPSILON for a, b in pairs):
        kind = 1
    elif all(abs(a + b) <= _DBL_EPSILON for a, b in pairs):
        kind = -1
    else:
        kind = 0
    if mode == "interp":
        left = edge_matrix(window_length, polyorder, deriv, delta, range(m))
        right = edge_matrix(
            window_length, polyorder, deriv, delta, range(window_length - m, window_length)
        )
    else:
        left = right = np.zeros((0, window_length))
    for array in (weights, left, right):
        array.flags.writeable = False
    return SavgolPlan(window_length, polyorder, deriv, delta, mode, weights, kind, left, right)


def edge_matrix(
    window_length: int, polyorder: int, deriv: int, delta: float, positions
) -> NDArray[np.float64]:
    """Rows that evaluate, at ``positions`` of a window, the ``deriv``-th derivative of the
    least-squares polynomial fitted to the window: ``values = matrix @ window``.

    The fit is solved in the Legendre basis on the window mapped to ``[-1, 1]`` (by QR), which
    is well conditioned: the rows are within about 1e-15 (relative) of the exact rational
    coefficients, where :func:`scipy.signal.savgol_coeffs` with ``pos`` at the window's end
    (monomials of ``-pos ... window - pos - 1``) loses up to 1e-7 for a 35-band window of
    degree 6.
    """
    centre = (window_length - 1) / 2
    half = max(centre, 1.0)
    t = (np.arange(window_length) - centre) / half
    q, r = np.linalg.qr(legendre.legvander(t, polyorder))
    pinv = solve_triangular(r, q.T)  # (polyorder + 1, window_length)
    at = (np.asarray(list(positions), dtype=np.float64) - centre) / half
    basis = np.zeros((at.size, polyorder + 1))
    for degree in range(deriv, polyorder + 1):
        unit = np.zeros(degree + 1)
        unit[degree] = 1.0
        basis[:, degree] = legendre.legval(at, legendre.legder(unit, deriv))
    return np.ascontiguousarray((basis @ pinv) / (half * delta) ** deriv)


def savgol(X: NDArray[np.floating], plan: SavgolPlan) -> NDArray[np.floating]:
    """Savitzky–Golay along the rows of validated spectra (2-D float32/float64).

    Compiled when :func:`compiled`, else :func:`scipy.signal.savgol_filter`; see the module
    docstring for how the two agree.
    """
    jit = kernels()
    if jit is None:
        return savgol_filter(
            X,
            plan.window_length,
            plan.polyorder,
            deriv=plan.deriv,
            delta=plan.delta,
            axis=1,
            mode=plan.mode,
        )
    X = np.ascontiguousarray(X)
    out = np.empty(X.shape, dtype=X.dtype)
    _over_rows(
        jit["savgol"], X, out, plan.weights, plan.kind, MODES[plan.mode], plan.left, plan.right
    )
    return out


# --- multiplicative scatter correction ---------------------------------------------------------


def msc(
    X: NDArray[np.floating], reference: NDArray[np.float64]
) -> tuple[NDArray[np.floating], NDArray[np.bool_]]:
    """MSC of validated spectra against a float64 reference: ``(X_msc, degenerate rows)``.

    Degenerate rows (flat, or uncorrelated with the reference) are zeros in ``X_msc``; the
    caller warns. Compiled when :func:`compiled`, else the numpy closed form in ``X``'s dtype.
    """
    jit = kernels()
    if jit is None:
        return _msc_numpy(X, reference)
    X = np.ascontiguousarray(X)
    reference_mean = reference.mean()
    centred = np.ascontiguousarray(reference - reference_mean, dtype=np.float64)
    eps = float(np.finfo(X.dtype).eps)
    out = np.empty(X.shape, dtype=X.dtype)
    blocks = _over_rows(
        jit["msc"], X, out, centred, float(reference_mean), float(centred @ centred), eps
    )
    return out, np.concatenate(blocks)


def _msc_numpy(X, reference):
    """MSC's vectorised closed form, every operation in ``X``'s dtype."""
    n_features = X.shape[1]
    reference = reference.astype(X.dtype, copy=False)
    ref_mean = reference.mean()
    ref_centred = reference - ref_mean
    ref_ss = ref_centred @ ref_centred

    x_mean = X.mean(axis=1)
    X_centred = X - x_mean[:, np.newaxis]
    x_ss = np.einsum("ij,ij->i", X_centred, X_centred)
    cross = X_centred @ ref_centred
    eps = np.finfo(X.dtype).eps
    degenerate = constant_rows(x_mean, x_ss / n_features, n_features) | (
        np.abs(cross) <= np.sqrt(eps) * np.sqrt(x_ss * ref_ss)
    )
    slope = np.where(degenerate, 1, cross / ref_ss)
    offset = x_mean - slope * ref_mean
    X_msc = (X - offset[:, np.newaxis]) / slope[:, np.newaxis]
    X_msc[degenerate] = 0
    return X_msc, degenerate
