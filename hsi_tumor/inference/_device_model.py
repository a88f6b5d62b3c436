r"""A fitted pipeline as array operations on a device (GPU): features, decisions, probabilities.

:func:`device_model` translates what :func:`~hsi_tumor.inference._fast.analyse` understands
of a pipeline (the :class:`~hsi_tumor.inference._fast.Analysis` the CPU path evaluates too) into
arrays on a device and evaluates it with the device's array namespace (the
`array API standard <https://data-apis.org/array-api/>`_ through ``array_api_compat``: CuPy
and PyTorch on a GPU, NumPy or ``array_api_strict`` on the host for tests). Supported:

* preprocessing: an optional :class:`~hsi_tumor.preprocessing.StandardNormalVariate`, then
  affine steps fused into one product (PCA, IncrementalPCA, scalers, Savitzky–Golay, band
  selections; see :mod:`~hsi_tumor.preprocessing._affine`);
* final estimators: ``SVC``/``NuSVC`` (RBF, linear, polynomial, sigmoid kernels; votes, 'ovr' or
  'ovo', ``break_ties``), linear classifiers (probabilities for logistic regression, LDA and
  log-loss SGD) and ``CalibratedClassifierCV`` (sigmoid or isotonic) around them.

Everything after the input is evaluated in float64: on a GPU the products are small next to
the transfer of the cube, and float64 makes the decisions scikit-learn's up to its own float32
rounding of SNV (no near-tie re-evaluation is needed; measured: probabilities within 2e-6 of
the CPU path, labels identical).
"""

from __future__ import annotations

import functools

import numpy as np

from hsi_tumor._shared.errors import InvalidOptionError
from hsi_tumor.inference._fast import (
    CalibratedPart,
    Isotonic,
    LinearMember,
    Sigmoid,
    SVCMember,
    analyse,
)
from hsi_tumor.inference._linear import LinearScorer
from hsi_tumor.inference._svm import KernelScorer, pairs
from hsi_tumor.preprocessing import StandardNormalVariate
from hsi_tumor.preprocessing._affine import Affine
from hsi_tumor.preprocessing._standard_normal_variate import matches_snv

__all__ = ["DeviceModel", "device_model", "emulated_snv32", "snv32"]

EPS32 = float(np.finfo(np.float32).eps)


def _unsupported(what: str) -> InvalidOptionError:
    return InvalidOptionError(
        f"the GPU path cannot evaluate {what}",
        field="device",
        fix="classify on the CPU (device='cpu'); the GPU path takes SNV, affine preprocessing "
        "(PCA, scalers, Savitzky–Golay, band selection) and SVM / linear classifiers, "
        "calibrated or not",
    )


def _leaf_sum(xp, x, lo: int, n: int):
    """numpy's float32 ``pairwise_sum`` leaf (``n ≤ 128``) of columns ``lo:lo + n``: 8 lanes."""
    if n < 8:
        s = x[:, lo]
        for i in range(1, n):
            s = s + x[:, lo + i]
        return s
    lanes = x[:, lo : lo + 8]
    i = 8
    while i < n - n % 8:
        lanes = lanes + x[:, lo + i : lo + i + 8]
        i += 8
    r = [lanes[:, k] for k in range(8)]
    s = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]))
    for j in range(i, n):
        s = s + x[:, lo + j]
    return s


def _pairwise_sum(xp, x, lo: int, n: int):
    """numpy's float32 row sums: leaves of at most 128, halves split at multiples of 8."""
    if n <= 128:
        return _leaf_sum(xp, x, lo, n)
    half = n // 2 - (n // 2) % 8
    return _pairwise_sum(xp, x, lo, half) + _pairwise_sum(xp, x, lo + half, n - half)


def _sum_of_squares(xp, c):
    """numpy's float32 ``einsum('ij,ij->i', c, c)`` at the SSE baseline: 4 lanes, blocks of
    16 added from the last 4 to the first, the tail zero-padded (numpy's compiled loop)."""
    n = c.shape[1]
    sq = c * c  # each product rounded, as numpy's loop does before adding
    lanes = None  # starting from 0 changes nothing: 0 + s = s for s ≥ 0
    j = 0
    while j + 16 <= n:
        for block in range(3, -1, -1):
            part = sq[:, j + 4 * block : j + 4 * block + 4]
            lanes = part if lanes is None else lanes + part
        j += 16
    if lanes is None:
        r = [xp.zeros_like(c[:, 0]) for _ in range(4)]
    else:
        r = [lanes[:, k] for k in range(4)]
    while j < n:
        for k in range(min(4, n - j)):
            r[k] = r[k] + sq[:, j + k]
        j += 4
    return (r[0] + r[1]) + (r[2] + r[3])


def snv32(xp, x):
    """``StandardNormalVariate().transform`` of float32 rows, bit for bit as numpy computes it.

    Only elementwise float32 additions, subtractions, multiplications and divisions
    (correctly rounded on any IEEE device, CPU or GPU) in numpy's order of summation, and a
    square root taken in float64 and rounded; :func:`snv32_matches` checks the emulation
    against this numpy build. Bit for bit under NumPy, ``array_api_strict`` and PyTorch (CPU)
    here. Flat rows are zeros.
    """
    n = x.shape[1]
    total = _pairwise_sum(xp, x, 0, n)
    # divided by arrays, not Python numbers: PyTorch's CUDA kernels turn a division by a
    # scalar into a multiplication by its rounded reciprocal (up to 1 ulp off; seen on an H200)
    mean = total / xp.full_like(total, n)
    c = x - mean[:, None]
    ss = _sum_of_squares(xp, c)
    var = ss / xp.full_like(ss, n - 1)
    flat = var <= n * EPS32 * var + (n * mean * EPS32) ** 2
    # the float64 root rounded to float32 is the correctly rounded float32 root, whatever the
    # device's float32 sqrt does (PyTorch's vectorised CPU sqrt is not correctly rounded)
    var = xp.astype(xp.where(flat, xp.ones_like(var), var), xp.float64)
    std = xp.astype(xp.sqrt(var), xp.float32)
    return xp.where(flat[:, None], xp.zeros_like(c), c / std[:, None])


def emulated_snv32(xp, x):
    """:func:`snv32` where it is numpy's SNV to the bit (:func:`snv32_matches`), else None."""
    return snv32(xp, x) if snv32_matches(x.shape[1]) else None


@functools.cache
def snv32_matches(n_bands: int) -> bool:
    """Whether :func:`snv32` equals ``StandardNormalVariate().transform`` here, bit for bit."""
    return matches_snv(functools.partial(snv32, np), n_bands)  # numpy has snv32's operations


class _Stage:
    """SNV (optional), then the fused affine map, in float64: the device's form of the
    :class:`~hsi_tumor.preprocessing._affine.Stage` that the CPU path evaluates.

    scikit-learn evaluates SNV → ``StandardScaler`` in float32 for float32 input: that chain
    (``scaler``, :meth:`~hsi_tumor.preprocessing._affine.AffineChain.float32_scaler`) is
    evaluated as it does, ``(float32(SNV) − float32(μ)) / float32(σ)`` with each operation
    rounded to float32 (in float64 it was 4e-5 off in probability).
    """

    def __init__(self, prefix: list, affine: Affine | None, dev, scaler=None) -> None:
        if len(prefix) > 1 or (prefix and type(prefix[0]) is not StandardNormalVariate):
            raise _unsupported(" → ".join(type(s).__name__ for s in prefix))
        self.snv = bool(prefix)
        self.snv32 = dev.snv32  # float32 SNV to the bit (None where it cannot be)
        self.scaler = scaler is not None
        if scaler is not None:
            n = int(scaler.n_features_in_)
            mean = scaler.mean_ if scaler.with_mean else np.zeros(n)
            scale = scaler.scale_ if scaler.with_std else np.ones(n)
            self.mean32 = dev.put(np.asarray(mean, np.float32))
            self.scale32 = dev.put(np.asarray(scale, np.float32))
        self.affine = affine is not None
        if affine is not None:
            self.cols = None if affine.cols is None else dev.put(np.asarray(affine.cols, np.int64))
            self.matrix = dev.put(np.asarray(affine.matrix, np.float64))
            self.offset = dev.put(np.asarray(affine.offset, np.float64))
            self.diagonal = affine.diagonal

    def __call__(self, xp, x, eps: float):
        """float64 features of pixels ``x`` (float32 or float64); ``eps`` of the cube's dtype."""
        snv = self.snv32(x) if self.snv and x.dtype == xp.float32 else None
        if snv is not None:
            x = snv  # scikit-learn's float32 SNV, to the bit
            if self.scaler:  # float32, as scikit-learn's StandardScaler on float32
                return xp.astype((x - self.mean32) / self.scale32, xp.float64)
            x = xp.astype(x, xp.float64)
        elif self.snv:  # float64 input (or a numpy build we do not emulate): in float64
            x = xp.astype(x, xp.float64)
            n = x.shape[1]
            mean = xp.mean(x, axis=1, keepdims=True)
            x = x - mean
            var = xp.sum(x * x, axis=1, keepdims=True) / (n - 1)
            flat = var <= n * eps * var + (n * mean * eps) ** 2
            std = xp.sqrt(xp.where(flat, xp.ones_like(var), var))
            x = xp.where(flat, xp.zeros_like(x), x / std)
        else:
            x = xp.astype(x, xp.float64)
        if not self.affine:
            return x
        if self.cols is not None:
            x = xp.take(x, self.cols, axis=1)
        return x * self.matrix + self.offset if self.diagonal else x @ self.matrix + self.offset


class _KernelDecision:
    """libsvm's pair decisions of an RBF, polynomial or sigmoid SVC (see :mod:`._svm`)."""

    def __init__(self, scorer: KernelScorer, dev) -> None:
        chain = scorer.chain
        scaler = chain.float32_scaler() if chain.prefix else None  # after SNV: see _Stage
        self.stage = _Stage(chain.prefix, chain.affine, dev, scaler)
        self.kernel = scorer.kernel
        self.gamma, self.coef0, self.degree = scorer.gamma, scorer.coef0, scorer.degree
        self.m = dev.put(scorer.m)
        self.b = dev.put(scorer.b)
        if self.kernel == "rbf":
            a = scorer.sv_t64  # [2γ S; −γ‖s‖²; −γ] after centring on c
            self.centre = dev.put(scorer.centre)
            self.scaled_sv = dev.put(np.ascontiguousarray(a[:-2]))
            self.sv_term = dev.put(np.ascontiguousarray(a[-2]))
        else:
            self.sv_t = dev.put(np.asarray(scorer.sv_t, np.float64))

    def __call__(self, xp, x, eps: float):
        z = self.stage(xp, x, eps)
        if self.kernel == "rbf":
            z = z - self.centre
            zz = xp.sum(z * z, axis=1, keepdims=True)
            k = xp.exp(z @ self.scaled_sv + self.sv_term - self.gamma * zz)  # −γ‖z − s‖²
        else:
            t = (z @ self.sv_t) * self.gamma + self.coef0
            k = t**self.degree if self.kernel == "poly" else xp.tanh(t)
        return k @ self.m + self.b


class _LinearDecision:
    """``tail(x) W + w₀``: preprocessing and decision fused (see :mod:`._linear`)."""

    def __init__(self, scorer: LinearScorer, dev) -> None:
        self.stage = _Stage(scorer.stage.prefix, scorer.stage.affine, dev)

    def __call__(self, xp, x, eps: float):
        return self.stage(xp, x, eps)


def _decision(scorer, dev):
    if isinstance(scorer, KernelScorer):
        return _KernelDecision(scorer, dev)
    return _LinearDecision(scorer, dev)


def _vote(xp, dec, n_classes: int):
    """libsvm's prediction: the first class with the most one-vs-one votes."""
    votes = [xp.zeros_like(dec[:, 0]) for _ in range(n_classes)]
    for p, (i, j) in enumerate(pairs(n_classes)):
        win = xp.astype(dec[:, p] > 0, dec.dtype)
        votes[i] = votes[i] + win
        votes[j] = votes[j] + (1 - win)
    return xp.argmax(xp.stack(votes, axis=1), axis=1)


def _ovr(xp, dec, n_classes: int):
    """scikit-learn's ``_ovr_decision_function`` of the pair decisions."""
    votes = [xp.zeros_like(dec[:, 0]) for _ in range(n_classes)]
    confidence = [xp.zeros_like(dec[:, 0]) for _ in range(n_classes)]
    for p, (i, j) in enumerate(pairs(n_classes)):
        confidence[i] = confidence[i] + dec[:, p]
        confidence[j] = confidence[j] - dec[:, p]
        negative = xp.astype(dec[:, p] < 0, dec.dtype)
        votes[i] = votes[i] + (1 - negative)
        votes[j] = votes[j] + negative
    v, c = xp.stack(votes, axis=1), xp.stack(confidence, axis=1)
    return v + c / (3 * (xp.abs(c) + 1))


class _SVC:
    def __init__(self, member: SVCMember, dev) -> None:
        self.decision = _decision(member.scorer, dev)
        self.n_classes, self.shape, self.break_ties = (
            member.n_classes,
            member.shape,
            member.break_ties,
        )

    def response(self, xp, x, eps):
        dec = self.decision(xp, x, eps)
        if self.n_classes == 2:
            return -dec
        return dec if self.shape == "ovo" else _ovr(xp, dec, self.n_classes)

    def labels(self, xp, x, eps):
        dec = self.decision(xp, x, eps)
        if self.break_ties:
            return xp.argmax(_ovr(xp, dec, self.n_classes), axis=1)
        return _vote(xp, dec, self.n_classes)


class _Linear:
    def __init__(self, member: LinearMember, dev) -> None:
        self.decision = _decision(member.scorer, dev)

    def response(self, xp, x, eps):
        return self.decision(xp, x, eps)

    @staticmethod
    def labels_of(xp, dec):
        if dec.shape[1] == 1:
            return xp.astype(dec[:, 0] > 0, xp.int64)
        return xp.argmax(dec, axis=1)

    def labels(self, xp, x, eps):
        return self.labels_of(xp, self.response(xp, x, eps))


def _member(member, dev):
    return _SVC(member, dev) if isinstance(member, SVCMember) else _Linear(member, dev)


def _expit(xp, t):
    return 1 / (1 + xp.exp(-t))


def _normalise(xp, q):
    """``q / Σq``, uniform where ``Σq = 0`` (scikit-learn's convention)."""
    total = xp.sum(q, axis=1, keepdims=True)
    zero = total == 0
    uniform = xp.full_like(q, 1 / q.shape[1])
    return xp.where(zero, uniform, q / xp.where(zero, xp.ones_like(total), total))


def _softmax(xp, d):
    e = xp.exp(d - xp.max(d, axis=1, keepdims=True))
    return e / xp.sum(e, axis=1, keepdims=True)


def _binary(xp, p):
    return xp.stack([1 - p, p], axis=1)


def _linear_proba(kind: str, xp, dec):
    if dec.shape[1] == 1:
        return _binary(xp, _expit(xp, dec[:, 0]))
    if kind == "softmax":
        return _softmax(xp, dec)
    return _normalise(xp, _expit(xp, dec))


class _Isotonic1D:
    """``np.interp(clip(t, lo, hi), x, y)`` with array-API operations."""

    def __init__(self, cal: Isotonic, dev) -> None:
        self.lo, self.hi = cal.lo, cal.hi
        self.n = cal.x.size
        self.x, self.y = dev.put(cal.x), dev.put(cal.y)
        if self.n > 1:
            self.x0, self.x1 = dev.put(cal.x[:-1]), dev.put(cal.x[1:])
            self.y0, self.y1 = dev.put(cal.y[:-1]), dev.put(cal.y[1:])

    def __call__(self, xp, t):
        t = xp.clip(t, self.lo, self.hi)
        if self.n == 1:
            return xp.zeros_like(t) + self.y[0]
        i = xp.searchsorted(self.x, t, side="right") - 1
        i = xp.clip(i, 0, self.n - 2)
        x0, x1 = xp.take(self.x0, i), xp.take(self.x1, i)
        y0, y1 = xp.take(self.y0, i), xp.take(self.y1, i)
        width = x1 - x0
        w = (t - x0) / xp.where(width > 0, width, xp.ones_like(width))
        return xp.where(t >= x1, y1, y0 + w * (y1 - y0))


class _Platt:
    def __init__(self, cal: Sigmoid) -> None:
        self.a, self.b = cal.a, cal.b

    def __call__(self, xp, t):
        return _expit(xp, -(self.a * t + self.b))


class _CalibratedPart:
    def __init__(self, part: CalibratedPart, dev) -> None:
        self.member = _member(part.member, dev)
        self.calibrators = [
            _Platt(c) if isinstance(c, Sigmoid) else _Isotonic1D(c, dev) for c in part.calibrators
        ]
        self.positions = list(part.positions)
        self.n_classes = part.n_classes

    def proba(self, xp, x, eps):
        t = self.member.response(xp, x, eps)
        columns = [None] * self.n_classes
        for k, (pos, cal) in enumerate(zip(self.positions, self.calibrators, strict=False)):
            if k >= t.shape[1]:
                break
            columns[pos + 1 if self.n_classes == 2 else pos] = cal(xp, t[:, k])
        if self.n_classes == 2:
            return _binary(xp, columns[1])
        zeros = xp.zeros_like(t[:, 0])
        return _normalise(xp, xp.stack([zeros if c is None else c for c in columns], axis=1))


class DeviceModel:
    """A fitted pipeline's labels (class indices) and probabilities on a device.

    Build it with :func:`device_model`. Calling it on pixels ``(n, n_bands)`` (float32 or
    float64, finite) of the device returns device arrays: class indices (n,), and
    probabilities (n, n_classes) float32 or None.
    """

    def __init__(self, xp, kind: str, parts: list, proba: str | None, n_sv: int) -> None:
        self.xp = xp
        self.kind = kind
        self.parts = parts
        self.proba_kind = proba
        self.has_proba = kind == "calibrated" or proba is not None
        #: Kernel columns per pixel (support vectors): sizes the tiles' working memory.
        self.width = n_sv

    def __call__(self, x, eps: float):
        xp = self.xp
        if self.kind == "calibrated":
            p = self.parts[0].proba(xp, x, eps)
            for part in self.parts[1:]:
                p = p + part.proba(xp, x, eps)
            if len(self.parts) > 1:
                p = p / len(self.parts)
            return xp.argmax(p, axis=1), xp.astype(p, xp.float32)
        member = self.parts[0]
        if self.proba_kind is None:
            return member.labels(xp, x, eps), None
        dec = member.response(xp, x, eps)
        p = _linear_proba(self.proba_kind, xp, dec)
        return member.labels_of(xp, dec), xp.astype(p, xp.float32)


def _n_sv(member) -> int:
    scorer = member.scorer
    return int(scorer.m.shape[0]) if isinstance(scorer, KernelScorer) else 1


def device_model(pipeline, dev) -> DeviceModel:
    """A :class:`DeviceModel` of a fitted pipeline.

    Parameters
    ----------
    pipeline : fitted Pipeline or classifier
    dev : backend
        The device (:mod:`~hsi_tumor.inference._device`'s backends): ``dev.xp`` its array
        namespace (``array_api_compat``'s CuPy or PyTorch, or a host one), ``dev.put(ndarray)``
        copies a model parameter to it, ``dev.snv32(x)`` is float32 SNV of device rows to the
        bit (or None where it cannot be).

    Raises
    ------
    InvalidOptionError
        If a step cannot be evaluated on the device (it names the step and the fix).
    """
    analysis = analyse(pipeline)
    if analysis is None:
        final = pipeline[-1] if hasattr(pipeline, "steps") else pipeline
        raise _unsupported(f"a {type(final).__name__}")
    xp = dev.xp
    if analysis.kind == "calibrated":
        parts = [_CalibratedPart(part, dev) for part in analysis.parts]
        n_sv = max(_n_sv(part.member) for part in analysis.parts)
        return DeviceModel(xp, "calibrated", parts, None, n_sv)
    member = analysis.parts[0]
    parts = [_member(member, dev)]
    return DeviceModel(xp, analysis.kind, parts, analysis.proba, _n_sv(member))
