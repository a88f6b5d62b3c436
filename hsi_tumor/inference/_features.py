"""Preprocessing chains of a fitted pipeline as one fused, precomputed function of the pixels.

A pipeline's preprocessing steps are split in two:

* the **prefix**, up to and including the last step that is not linear along the bands
  (:class:`~hsi_tumor.preprocessing.StandardNormalVariate`,
  :class:`~hsi_tumor.preprocessing.Absorbance`, multiplicative scatter correction, ...), is
  evaluated by calling each step's own ``transform``, so that its output is scikit-learn's to
  the last bit;
* the **tail** — any number of affine steps (PCA, IncrementalPCA, the per-feature scalers,
  Savitzky–Golay, band selections) — is composed into one affine map ``y = x[:, cols] A + b``
  (or ``x[:, cols] * d + b`` when the map is diagonal, as for band selections and scalers), so
  that the tail costs one matrix product, or a few element-wise passes.

  Composition of two affine steps ``(A₁, b₁)`` then ``(A₂, b₂)`` is ``(A₁A₂, b₁A₂ + b₂)``; the
  matrix of a linear step is read from its attributes (scalers, band selections) or found by
  transforming the identity and a zero row (``A = T(I) − T(0)``, ``b = T(0)``).

Why SNV is not fused into the tail: its float32 rounding is amplified downstream (a PCA
followed by standardisation divides the last components by their small deviations). An SNV
fused with the PCA product, rounded differently from scikit-learn's, moved calibrated SVM
probabilities by up to 8e-5; with scikit-learn's own SNV output the features agree to float64
rounding when the tail is evaluated in float64 as scikit-learn does.

Precision of the tail: scikit-learn evaluates PCA in float64 even for float32 input (its
components are float64), and the scalers in the input's precision. :func:`split_chain` probes
the first tail step with a float32 row: when it answers in float64, the fused tail is evaluated
in float64 (:class:`Stage`), and our features equal scikit-learn's up to float64 rounding.

A final linear decision (``X Wᵀ + w₀``) is itself affine and is appended to the tail by the
caller, so a linear classifier after SNV → PCA → StandardScaler costs one product with a
``(n_bands, n_classes)`` matrix after the SNV. Kernels use the fused tail only when it is
float64 (:mod:`hsi_tumor.inference._svm`); a float32 tail is left to the steps' own calls.

Error bounds
------------
The fast path must know how far its features may be from those scikit-learn computes, step by
step, in the tail's precision. Each stage therefore tracks ``κ`` (a bound on the operator norm
of the composed matrix: the product of the steps' Frobenius norms, or largest factors for
diagonal steps) and ``β`` (a bound on the offsets' contribution), and reports per pixel the
input scale ``ν = ‖x‖``. A bound on the feature error is then ``c · ε · (ν κ + β)``, with ``ε``
the tail's machine epsilon and ``c`` covering the number and length of the sums (see
:func:`rounding_factor`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import NamedTuple

import numpy as np
import sklearn
from sklearn.decomposition import PCA, IncrementalPCA
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import MaxAbsScaler, MinMaxScaler, RobustScaler, StandardScaler

from hsi_tumor._shared.errors import InvalidOptionError
from hsi_tumor.preprocessing._savitzky_golay import SavitzkyGolay
from hsi_tumor.preprocessing._standard_normal_variate import StandardNormalVariate, snv_rows
from hsi_tumor.preprocessing._wavelength_selection import _BandSelector

__all__ = ["Affine", "Chain", "Stage", "flatten_steps", "split_chain"]

FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


def flatten_steps(estimator) -> list:
    """The steps of a (possibly nested) Pipeline in order, without ``None``/"passthrough"."""
    if isinstance(estimator, Pipeline):
        out = []
        for _, step in estimator.steps:
            if step is None or (isinstance(step, str) and step == "passthrough"):
                continue
            out.extend(flatten_steps(step))
        return out
    return [estimator]


@dataclass(frozen=True)
class Affine:
    """``y = x[:, cols] @ matrix + offset`` (dense) or ``x[:, cols] * matrix + offset`` (diagonal).

    ``cols`` None means all ``n_in`` columns in order. ``kappa``/``beta`` bound the norms (see
    the module docstring); ``n_steps`` and ``width`` (the longest sum) size the rounding bound.
    """

    n_in: int
    cols: np.ndarray | None
    matrix: np.ndarray
    offset: np.ndarray
    diagonal: bool
    kappa: float = 1.0
    beta: float = 0.0
    n_steps: int = 0
    width: int = 1

    @classmethod
    def identity(cls, n: int) -> Affine:
        return cls(n, None, np.ones(n), np.zeros(n), True, 1.0, 0.0, 0, 1)

    @property
    def n_out(self) -> int:
        return self.offset.shape[0]

    def _index(self) -> np.ndarray:
        return np.arange(self.n_in) if self.cols is None else self.cols

    def then(self, other: Affine, *, rounded: bool = True) -> Affine:
        """The composition ``other(self(x))``.

        ``rounded=False`` for a step that scikit-learn evaluates in float64 whatever the input
        (a final linear decision): it adds no rounding step to the feature bound.
        """
        if other.n_in != self.n_out:
            raise InvalidOptionError(
                f"cannot compose {self.n_out} outputs with {other.n_in} inputs",
                field="other",
                fix="compose steps whose band counts match (the next step's inputs are this "
                "one's outputs)",
            )
        index = self._index()
        inner = other._index()
        cols = index[inner]
        if self.diagonal:
            d = self.matrix[inner]
            b = self.offset[inner]
            if other.diagonal:
                matrix, diagonal = d * other.matrix, True
                offset = b * other.matrix + other.offset
            else:
                matrix, diagonal = d[:, np.newaxis] * other.matrix, False
                offset = b @ other.matrix + other.offset
        else:
            a = self.matrix[:, inner]
            b = self.offset[inner]
            if other.diagonal:
                matrix = a * other.matrix
                offset = b * other.matrix + other.offset
            else:
                matrix = a @ other.matrix
                offset = b @ other.matrix + other.offset
            cols, diagonal = index, False
        norm = _op_norm(other.matrix, other.diagonal)
        result = Affine(
            self.n_in,
            cols,
            matrix,
            offset,
            diagonal,
            self.kappa * norm,
            self.beta * norm + float(np.linalg.norm(other.offset)),
            self.n_steps + int(rounded),
            max(self.width, 1 if other.diagonal else other.matrix.shape[0]),
        )
        return result._pruned()

    def _pruned(self) -> Affine:
        """Drop input columns that a dense matrix ignores; ``cols=None`` when all are kept."""
        cols, matrix = self._index(), self.matrix
        if not self.diagonal:
            used = np.any(matrix != 0, axis=1)
            if not used.all():
                cols, matrix = cols[used], matrix[used]
        if cols.size == self.n_in and np.array_equal(cols, np.arange(self.n_in)):
            cols = None
        return replace(self, cols=cols, matrix=matrix)


def _op_norm(matrix: np.ndarray, diagonal: bool) -> float:
    """Operator (spectral) norm: the largest factor a step applies to an error vector."""
    if diagonal:
        return float(np.max(np.abs(matrix), initial=0.0))
    if matrix.size == 0:
        return 0.0
    return float(np.linalg.norm(matrix, 2))


# --- affine steps: a registry class -> Affine ----------------------------------------------


def _probe(step) -> Affine:
    """``A = T(I) − T(0)``, ``b = T(0)`` for a step that is affine along the features."""
    n = int(step.n_features_in_)
    probe = np.vstack([np.zeros((1, n)), np.eye(n)])
    out = np.asarray(step.transform(probe), dtype=np.float64)
    offset = out[0]
    matrix = out[1:] - offset
    if n > 0 and np.count_nonzero(matrix) == np.count_nonzero(np.diag(matrix)):
        return Affine(n, None, np.diag(matrix).copy(), offset, True)
    return Affine(n, None, matrix, offset, False)


def _diag(n: int, scale, shift) -> Affine:
    """``y = (x − shift) * scale`` feature by feature."""
    scale = np.ones(n) if scale is None else np.asarray(scale, dtype=np.float64)
    shift = np.zeros(n) if shift is None else np.asarray(shift, dtype=np.float64)
    return Affine(n, None, scale, -shift * scale, True)


def _standard_scaler(step: StandardScaler) -> Affine:
    scale = None if step.scale_ is None else 1.0 / np.asarray(step.scale_, dtype=np.float64)
    return _diag(int(step.n_features_in_), scale, step.mean_)


def _robust_scaler(step: RobustScaler) -> Affine:
    scale = None if step.scale_ is None else 1.0 / np.asarray(step.scale_, dtype=np.float64)
    return _diag(int(step.n_features_in_), scale, step.center_)


def _max_abs_scaler(step: MaxAbsScaler) -> Affine:
    return _diag(int(step.n_features_in_), 1.0 / step.scale_, None)


def _min_max_scaler(step: MinMaxScaler) -> Affine | None:
    if step.clip:
        return None  # clipping is not affine
    n = int(step.n_features_in_)
    return Affine(n, None, np.asarray(step.scale_, float), np.asarray(step.min_, float), True)


def _band_selector(step: _BandSelector) -> Affine:
    cols = np.flatnonzero(step.support_)
    k = cols.size
    n = int(step.n_features_in_)
    return Affine(n, cols, np.ones(k), np.zeros(k), True)._pruned()


#: Steps that are affine along the features, and how to read their map.
AFFINE_STEPS: dict[type, object] = {
    PCA: _probe,
    IncrementalPCA: _probe,
    SavitzkyGolay: _probe,
    StandardScaler: _standard_scaler,
    RobustScaler: _robust_scaler,
    MaxAbsScaler: _max_abs_scaler,
    MinMaxScaler: _min_max_scaler,
    _BandSelector: _band_selector,
}


def _affine_of(step) -> Affine | None:
    for cls in type(step).__mro__:
        if cls in AFFINE_STEPS:
            return AFFINE_STEPS[cls](step)
    return None


class Chain(NamedTuple):
    """Preprocessing steps split by :func:`split_chain`.

    ``prefix`` are evaluated by their own ``transform``, then ``affine`` (None for an empty
    tail); ``float64`` says that scikit-learn evaluates the tail in float64 for float32 input.
    """

    prefix: list
    affine: Affine | None
    float64: bool


def split_chain(steps: list) -> Chain:
    """Split preprocessing steps into the prefix and the fused affine tail (see the module)."""
    affines: list[Affine] = []
    start = len(steps)
    while start > 0:
        candidate = _affine_of(steps[start - 1])
        if candidate is None:
            break
        affines.insert(0, candidate)
        start -= 1
    if not affines:
        return Chain(list(steps), None, False)
    first = steps[start]
    n = int(first.n_features_in_)
    affine = Affine.identity(n)
    for step in affines:
        affine = affine.then(step)
    probe = np.asarray(first.transform(np.zeros((1, n), dtype=np.float32)))
    return Chain(list(steps[:start]), affine, probe.dtype == np.float64)


class Stage:
    """``pixels -> (features, ν)``: the prefix's transforms, then the fused affine tail.

    All matrices are cast once, at construction, to float32 and float64; a call reads them
    only, so one Stage serves many threads at once.

    Parameters
    ----------
    prefix : list
        Fitted transformers applied with ``transform`` first.
    affine : Affine or None
        The fused tail; None for none (features are the prefix's output).
    float64 : bool, default=False
        Evaluate the tail in float64 whatever the input dtype (the prefix keeps the input's).
    """

    def __init__(self, prefix: list, affine: Affine | None, *, float64: bool = False) -> None:
        self.prefix = prefix
        self.float64 = float64
        self.affine = affine
        self._mats = {}
        if affine is not None:
            for dtype in FLOATS:
                self._mats[dtype] = (
                    np.ascontiguousarray(affine.matrix, dtype=dtype),
                    np.ascontiguousarray(affine.offset, dtype=dtype),
                )

    def __call__(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """Features of ``x`` (n, n_bands, finite) and their error scale ``ν κ + β`` (float64).

        Features are float64 when ``float64`` is set or the input is float64, else float32.
        Without a tail, the features are the prefix's output and the scale is None.
        """
        with sklearn.config_context(assume_finite=True):  # the caller's contract
            for step in self.prefix:
                x = _transform(step, x)
        if x.dtype not in FLOATS:
            x = x.astype(np.float64)
        x = np.ascontiguousarray(x)
        if self.affine is None:
            return x, None
        cols = self.affine.cols
        sel = x if cols is None else x[:, cols]
        scale = _row_norms(sel) * self.affine.kappa + self.affine.beta
        dtype = np.dtype(np.float64) if self.float64 else x.dtype
        matrix, offset = self._mats[dtype]
        if self.affine.diagonal:
            z = np.multiply(sel, matrix, dtype=dtype)
        else:
            z = sel.astype(dtype, copy=False) @ matrix
        z += offset
        return z, scale


def _transform(step, x: np.ndarray) -> np.ndarray:
    """``step.transform(x)``; our SNV without its input checks (0.2 ms a call) on a float array
    of the right width: the same arithmetic, to the bit."""
    if (
        type(step) is StandardNormalVariate
        and x.dtype in FLOATS
        and x.ndim == 2
        and x.shape[1] == step.n_features_in_
    ):
        return snv_rows(x)
    return np.asarray(step.transform(x))


def rounding_factor(n_steps: int, width: int) -> float:
    """``steps · (1 + log₂(width) / 8) / 8``: the rounding of ``n_steps`` sums ``width`` long.

    The rounding errors of a sum ``Σ uᵢ aᵢ`` are not correlated: they add up to about
    ``ε ‖u‖ ‖a‖``, not to the worst case ``w ε ‖u‖ ‖a‖``; the logarithm covers blocked and
    pairwise summation. The norm bounds ``κ``, ``β`` (products of the steps' norms) and the
    worst-case alignment assumed downstream are far from attained, hence the final ``/ 8``,
    set from measurements: on float32 chains (SNV, PCA with and without whitening, scalers,
    Savitzky–Golay, band selections, absorbance) the measured feature errors stay below 1/30
    of the bound, and decision errors further below it. It is an estimate with a margin,
    not a proof.
    """
    return n_steps * (1.0 + float(np.log2(max(width, 1))) / 8) / 8


def _row_norms(x: np.ndarray) -> np.ndarray:
    return np.sqrt(np.einsum("ij,ij->i", x, x).astype(np.float64))
