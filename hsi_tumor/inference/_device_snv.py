r"""numpy's float32 SNV as one CUDA kernel (CuPy): the GPU path's SNV in a single launch.

:func:`~hsi_tumor.inference._device_model.snv32` reproduces
``StandardNormalVariate().transform`` of float32 rows bit for bit with array operations, which
costs about 150 small kernel launches per tile. This module writes the same arithmetic as one
straight-line CUDA C function per band count, one thread per pixel:

* the row sum in numpy's pairwise order (leaves of at most 128 values summed in 8 lanes,
  halves split at multiples of 8), the mean ``sum / n``;
* the sum of squares of ``x − mean`` in the order of numpy's baseline (SSE) ``einsum``
  (4 lanes, blocks of 16 added from the last 4 to the first, the tail lane by lane);
* the flat-row test, the square root in float64 rounded to float32, and ``(x − mean) / std``.

Every operation is a correctly rounded float32 intrinsic (``__fadd_rn``, ``__fmul_rn``, ...),
which the compiler never contracts into fused multiply-adds. The program is generated once as
a list of statements (:func:`snv_program`) that both renders to CUDA (:func:`cuda_source`) and
runs on NumPy columns (:func:`run_program`), so the order of operations is tested on machines
without a GPU; on a GPU the compiled kernel is checked against this numpy build by
:func:`~hsi_tumor.preprocessing._standard_normal_variate.matches_snv` before first use.
"""

from __future__ import annotations

import functools

import numpy as np

from hsi_tumor._shared.errors import InvalidOptionError

__all__ = ["cuda_source", "run_program", "snv_program"]

EPS32 = float(np.finfo(np.float32).eps)


class _Program:
    """Straight-line float32 statements ``name = op(a, b)`` over the columns ``X(i)``."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.names = 0

    def emit(self, expr: str) -> str:
        name = f"v{self.names}"
        self.names += 1
        self.lines.append(f"{name} = {expr}")
        return name


def _leaf(p: _Program, values: list[str]) -> str:
    """numpy's ``pairwise_sum`` leaf (at most 128 values): 8 lanes, then the tail."""
    n = len(values)
    if n < 8:
        s = values[0]
        for v in values[1:]:
            s = p.emit(f"add({s}, {v})")
        return s
    lanes = list(values[:8])
    i = 8
    while i < n - n % 8:
        lanes = [p.emit(f"add({lanes[k]}, {values[i + k]})") for k in range(8)]
        i += 8
    r = lanes
    s = p.emit(
        f"add(add(add({r[0]}, {r[1]}), add({r[2]}, {r[3]})), "
        f"add(add({r[4]}, {r[5]}), add({r[6]}, {r[7]})))"
    )
    for v in values[i:]:
        s = p.emit(f"add({s}, {v})")
    return s


def _pairwise(p: _Program, values: list[str]) -> str:
    n = len(values)
    if n <= 128:
        return _leaf(p, values)
    half = n // 2 - (n // 2) % 8
    left = _pairwise(p, values[:half])
    right = _pairwise(p, values[half:])
    return p.emit(f"add({left}, {right})")


def _sum_of_squares(p: _Program, squares: list[str]) -> str:
    """numpy's baseline float32 ``einsum('ij,ij->i')`` order (see ``_device_model``)."""
    n = len(squares)
    lanes: list[str] | None = None
    j = 0
    while j + 16 <= n:
        for block in range(3, -1, -1):
            part = squares[j + 4 * block : j + 4 * block + 4]
            lanes = (
                part
                if lanes is None
                else [p.emit(f"add({a}, {b})") for a, b in zip(lanes, part, strict=True)]
            )
        j += 16
    r = list(lanes) if lanes is not None else ["ZERO"] * 4
    while j < n:
        for k in range(min(4, n - j)):
            r[k] = p.emit(f"add({r[k]}, {squares[j + k]})")
        j += 4
    return p.emit(f"add(add({r[0]}, {r[1]}), add({r[2]}, {r[3]}))")


@functools.cache
def snv_program(n_bands: int) -> tuple[tuple[str, ...], str, tuple[str, ...], str]:
    """The statements of float32 SNV for rows of ``n_bands`` values.

    Returns
    -------
    head : tuple of str
        ``name = expr`` statements, in order, that sum the row; ``expr`` uses ``add`` and
        ``X(i)`` (band ``i`` of the row).
    total : str
        The name holding the row sum (the mean is ``MEAN = div(total, n_bands)``).
    tail : tuple of str
        The statements that sum the squares of ``C(i) = sub(X(i), MEAN)`` (``SQ(i) =
        mul(C(i), C(i))``; ``ZERO`` starts an empty lane).
    ss : str
        The name holding the sum of squares.
    """
    if n_bands < 2:
        raise InvalidOptionError(
            f"SNV needs at least 2 bands, got {n_bands}",
            field="n_bands",
            fix="classify cubes of two or more bands",
        )
    p = _Program()
    total = _pairwise(p, [f"X({i})" for i in range(n_bands)])
    first = len(p.lines)
    ss = _sum_of_squares(p, [f"SQ({i})" for i in range(n_bands)])
    return tuple(p.lines[:first]), total, tuple(p.lines[first:]), ss


def run_program(x: np.ndarray) -> np.ndarray:
    """Evaluate :func:`snv_program` on NumPy float32 columns (the kernel's reference).

    Parameters
    ----------
    x : ndarray of shape (n, n_bands), float32

    Returns
    -------
    ndarray of shape (n, n_bands), float32
        Equal, bit for bit, to what the CUDA kernel computes, which equals numpy's SNV where
        the two orders of summation match this numpy build's.
    """
    x = np.ascontiguousarray(x, dtype=np.float32)
    n = x.shape[1]
    head, total, tail, ss = snv_program(n)
    env: dict = {
        "add": np.add,
        "mul": np.multiply,
        "X": lambda i: x[:, i],
        "C": lambda i: x[:, i] - env["MEAN"],
        "SQ": lambda i: np.square(x[:, i] - env["MEAN"]),
        "ZERO": np.zeros(x.shape[0], np.float32),
    }
    with np.errstate(all="ignore"):
        for line in head:
            name, expr = line.split(" = ", 1)
            env[name] = eval(expr, {}, env)  # our own generated arithmetic, no input text
        mean = env["MEAN"] = env[total] / np.float32(n)
        for line in tail:
            name, expr = line.split(" = ", 1)
            env[name] = eval(expr, {}, env)
        var = env[ss] / np.float32(n - 1)
        bound = np.float32(n * EPS32) * var + np.square(np.float32(n) * mean * np.float32(EPS32))
        flat = var <= bound
        std = np.sqrt(np.where(flat, 1, var).astype(np.float64)).astype(np.float32)
        out = (x - mean[:, None]) / std[:, None]
    out[flat] = 0
    return out


_TEMPLATE = r"""
#define X(i) row[(i)]
#define add(a, b) __fadd_rn((a), (b))
#define sub(a, b) __fsub_rn((a), (b))
#define mul(a, b) __fmul_rn((a), (b))
#define div(a, b) __fdiv_rn((a), (b))
#define C(i) sub(X(i), MEAN)
#define SQ(i) mul(C(i), C(i))
extern "C" __global__ void snv32_rows(const float* __restrict__ x, float* __restrict__ out,
                                      const long long n_rows) {
    const long long r = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (r >= n_rows) return;
    const float* row = x + r * NBANDS;
    float* o = out + r * NBANDS;
    const float ZERO = 0.0f;
    HEAD
    const float MEAN = div(TOTAL, (float)NBANDS);
    TAIL
    const float var = div(SS, (float)(NBANDS - 1));
    const float t = mul(mul((float)NBANDS, MEAN), EPS);
    const bool flat = var <= add(mul(NEPS, var), mul(t, t));
    const float sd = (float)sqrt((double)(flat ? 1.0f : var));
    STORE
}
"""


@functools.cache
def cuda_source(n_bands: int) -> str:
    """CUDA C of the kernel ``snv32_rows(x, out, n_rows)`` for rows of ``n_bands`` floats."""
    head, total, tail, ss = snv_program(n_bands)
    store = "\n    ".join(f"o[{i}] = flat ? 0.0f : div(C({i}), sd);" for i in range(n_bands))
    src = _TEMPLATE.replace("HEAD", "\n    ".join(f"const float {line};" for line in head))
    src = src.replace("TAIL", "\n    ".join(f"const float {line};" for line in tail))
    for key, value in (
        ("TOTAL", total),
        ("SS", ss),
        ("STORE", store),
        ("NBANDS", str(n_bands)),
        ("NEPS", f"{float(np.float32(n_bands * EPS32))!r}f"),
        ("EPS", f"{EPS32!r}f"),
    ):
        src = src.replace(key, value)
    return src
