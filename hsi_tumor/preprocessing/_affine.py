"""One description of an affine preprocessing chain, and its exact evaluation on tiles of pixels.

A fitted pipeline's preprocessing steps are split in two (:func:`split_chain`):

* the **prefix**, up to and including the last step that is not affine along the bands
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

Everyone who evaluates a preprocessing chain reads this description:
:func:`~hsi_tumor.preprocessing.transform_cube`, the CPU fast path of
:func:`~hsi_tumor.classify_cube` (``hsi_tumor.inference._fast``, ``_linear`` and ``_svm``)
and its GPU path (``hsi_tumor.inference._device_model``). A final
linear decision (``X Wᵀ + w₀``) is itself affine and is appended to the tail by the caller
(:meth:`Affine.then`), so a linear classifier after SNV → PCA → StandardScaler costs one
product with a ``(n_bands, n_classes)`` matrix after the SNV.

Exactness
---------
scikit-learn evaluates PCA in float64 even for float32 input when its components are float64
(fitted on float64 data), and the scalers, Savitzky–Golay and a PCA fitted on float32 data in
the input's precision. :func:`split_chain` probes the first tail step with a float32 row
(``AffineChain.float64``). :meth:`AffineChain.exact_stage` then evaluates

* a float64 tail fused, in float64: the features equal scikit-learn's up to float64 rounding
  (measured: 2e-16 relative; after rounding to float32, as ``transform_cube`` stores them,
  they are scikit-learn's rounded to float32, or one float32 ulp from it where a value falls on
  a rounding boundary);
* a float32 tail step by step, by the steps' own ``transform``: scikit-learn's to the bit.

A fused float32 tail is not offered: its rounding differs from scikit-learn's step-by-step
float32 evaluation by up to about ``c · ε₃₂ · (ν κ + β)`` (see "Error bounds"; measured 2e-6
on PCA scores of size 1, which was the former ``transform_cube`` fused path's error).

Why SNV is not fused into the tail: its float32 rounding is amplified downstream (a PCA
followed by standardisation divides the last components by their small deviations). An SNV
fused with the PCA product, rounded differently from scikit-learn's, moved calibrated SVM
probabilities by up to 8e-5; with scikit-learn's own SNV output the features agree to float64
rounding when the tail is evaluated in float64 as scikit-learn does.

Error bounds
------------
The classifiers' fast path must know how far its features may be from those scikit-learn
computes, step by step, in the tail's precision. Each composed map therefore tracks ``κ`` (a
bound on the operator norm of the composed matrix: the product of the steps' spectral norms,
or largest factors for diagonal steps) and ``β`` (a bound on the offsets' contribution), and
:class:`Stage` reports per pixel the input scale ``ν = ‖x‖``. A bound on the feature error is
then ``c · ε · (ν κ + β)``, with ``ε`` the tail's machine epsilon and ``c`` covering the number
and length of the sums (see :func:`rounding_factor`).
"""

from __future__ import annotations

import itertools
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

__all__ = [
    "AFFINE_STEPS",
    "Affine",
    "AffineChain",
    "Stage",
    "flatten_steps",
    "rounding_factor",
    "split_chain",
    "tail_rounding_factor",
]

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


class AffineChain(NamedTuple):
    """Preprocessing steps split by :func:`split_chain`: ``prefix``, then the affine ``tail``.

    Attributes
    ----------
    prefix : list
        The steps up to and including the last one that is not affine, evaluated by their own
        ``transform``.
    tail : list
        The affine steps after them, in order (empty when the last step is not affine).
    affine : Affine or None
        The tail composed into one map (None for an empty tail).
    float64 : bool
        Whether scikit-learn evaluates the tail in float64 for float32 input (PCA fitted on
        float64 data): then the fused tail, in float64, is exact up to float64 rounding.
    """

    prefix: list
    tail: list
    affine: Affine | None
    float64: bool

    @property
    def steps(self) -> list:
        """All the steps, in order."""
        return self.prefix + self.tail

    def exact_stage(self) -> Stage:
        """The :class:`Stage` that gives scikit-learn's features.

        The fused tail in float64 where scikit-learn evaluates the tail in float64 (equal up to
        float64 rounding), else every step's own ``transform`` (equal to the bit).
        """
        if self.float64:
            return Stage(self.prefix, self.affine)
        return Stage(self.steps, None)

    def float32_scaler(self) -> StandardScaler | None:
        """The tail's only step when it is a ``StandardScaler`` evaluated in float32.

        scikit-learn computes ``(x − float32(μ)) / float32(σ)`` there, each operation rounded
        to float32; the compiled and GPU paths reproduce that form rather than the fused
        ``x · (1/σ) − μ/σ``, whose rounding differs (it moved probabilities by 4e-5).
        """
        if not self.float64 and len(self.tail) == 1 and type(self.tail[0]) is StandardScaler:
            return self.tail[0]
        return None


def split_chain(steps: list) -> AffineChain:
    """Split preprocessing steps into the prefix and the fused affine tail (see the module).

    Parameters
    ----------
    steps : list
        Fitted transformers, in order (:func:`flatten_steps` of a pipeline without its final
        estimator).

    Returns
    -------
    AffineChain
    """
    affines: list[Affine] = []
    start = len(steps)
    while start > 0:
        candidate = _affine_of(steps[start - 1])
        if candidate is None:
            break
        affines.insert(0, candidate)
        start -= 1
    if not affines:
        return AffineChain(list(steps), [], None, False)
    first = steps[start]
    n = int(first.n_features_in_)
    affine = Affine.identity(n)
    for step in affines:
        affine = affine.then(step)
    probe = np.asarray(first.transform(np.zeros((1, n), dtype=np.float32)))
    return AffineChain(list(steps[:start]), list(steps[start:]), affine, probe.dtype == np.float64)


#: Stage.features works through a tile in chunks of about this many input bytes when every
#: step is evaluated without scikit-learn's per-call checks: the passes of one chunk (SNV's
#: four, a projection) then run in the processor's cache.
CHUNK_BYTES = 2**20


class Stage:
    """``pixels -> features``: the prefix's own transforms, then the fused affine tail in float64.

    All matrices are prepared once, at construction; a call reads them only, so one Stage
    serves many threads at once.

    Parameters
    ----------
    prefix : list
        Fitted transformers applied with ``transform`` first (in the input's precision).
    affine : Affine or None
        The fused tail, evaluated in float64 whatever the input dtype; None for none (the
        features are the prefix's output).

    Notes
    -----
    Build it with :meth:`AffineChain.exact_stage` for scikit-learn's features; the linear
    classifiers' fast path builds one with its decision appended to the tail.

    Two kinds of prefix step are evaluated without scikit-learn's input checks (about 0.2 ms
    a call), with the same arithmetic as their ``transform``, to the bit:
    :class:`~hsi_tumor.preprocessing.StandardNormalVariate` and a PCA or IncrementalPCA
    projection (``x Cᵀ − μ Cᵀ``, divided by ``√λ`` when whitening; checked bit for bit against
    its ``transform`` on a probe batch at construction, and called as it is where it differs).
    When all steps are such, :meth:`features` works in chunks of about :data:`CHUNK_BYTES`
    (at least 256 pixels, all of about the same size).

    Exactness: with a float64 tail, the features are scikit-learn's up to float64 rounding.
    Otherwise they are scikit-learn's ``transform`` of the same rows to the bit — but the
    float32 products of scikit-learn itself (BLAS) round differently depending on how many
    rows it is given at once: a PCA's float32 scores of a few rows at a time differ from
    those of the whole image by up to a few float32 roundings of the product (measured: 2e-6
    for scores of size 1 in blocks of 1–85 rows; identical from a few hundred rows on, hence
    the smallest chunk).
    """

    def __init__(self, prefix: list, affine: Affine | None) -> None:
        self.prefix = prefix
        self.affine = affine
        self._calls = [_evaluator(step) for step in prefix]
        self._light = all(call.light for call in self._calls)
        if affine is not None:
            self._matrix = np.ascontiguousarray(affine.matrix, dtype=np.float64)
            self._offset = np.ascontiguousarray(affine.offset, dtype=np.float64)

    def _prefix(self, x: np.ndarray) -> np.ndarray:
        with sklearn.config_context(assume_finite=True):  # the caller's contract
            for call in self._calls:
                x = call(x)
        if x.dtype not in FLOATS:
            x = x.astype(np.float64)
        return np.ascontiguousarray(x)

    def _tail(self, sel: np.ndarray) -> np.ndarray:
        if self.affine.diagonal:
            z = np.multiply(sel, self._matrix, dtype=np.float64)
        else:
            z = sel.astype(np.float64, copy=False) @ self._matrix
        z += self._offset
        return z

    def _select(self, x: np.ndarray) -> np.ndarray:
        cols = self.affine.cols
        return x if cols is None else x[:, cols]

    def _features(self, x: np.ndarray) -> np.ndarray:
        x = self._prefix(x)
        if self.affine is None:
            return x
        return self._tail(self._select(x))

    def features(self, x: np.ndarray) -> np.ndarray:
        """Features of pixels ``x`` (n, n_bands), finite: float64 after a tail, else the
        prefix's output (float32 stays float32)."""
        if self._light and x.dtype not in FLOATS:
            x = x.astype(np.float64)  # as their checks would (integer counts: float64)
        n = x.shape[0]
        chunk = max(256, CHUNK_BYTES // max(1, x.shape[1] * x.itemsize)) if x.ndim == 2 else n
        if not self._light or n < 2 * chunk:
            return self._features(x)
        k = n // chunk  # chunks of equal size to one pixel: none small (see the Notes)
        bounds = [i * n // k for i in range(k + 1)]
        out = None
        for start, stop in itertools.pairwise(bounds):
            part = self._features(x[start:stop])
            if out is None:
                out = np.empty((n, *part.shape[1:]), dtype=part.dtype)
            out[start:stop] = part
        return out

    def __call__(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """:meth:`features` of ``x`` and their error scale ``ν κ + β`` (float64).

        Without a tail, the scale is None.
        """
        x = self._prefix(x)
        if self.affine is None:
            return x, None
        sel = self._select(x)
        scale = _row_norms(sel) * self.affine.kappa + self.affine.beta
        return self._tail(sel), scale


class _Transform:
    """``step.transform(x)`` as an array; ``light`` when it skips scikit-learn's checks."""

    light = False

    def __init__(self, step) -> None:
        self.step = step

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(self.step.transform(x))


class _Snv(_Transform):
    """Our SNV without its input checks on a float array of the right width: ``snv_rows``,
    the same arithmetic as ``transform``, to the bit."""

    light = True

    def __call__(self, x: np.ndarray) -> np.ndarray:
        if x.dtype in FLOATS and x.ndim == 2 and x.shape[1] == self.step.n_features_in_:
            return snv_rows(x)
        return super().__call__(x)


class _Projection(_Transform):
    """scikit-learn's ``_BasePCA.transform`` of a dense float array, without its checks.

    ``x @ C.T``, minus ``μ @ C.T``, divided by ``√λ`` (clipped at ``ε``) when whitening: the
    operations of its ``_transform`` in their order, so the same result to the bit. Checked
    on a probe batch per input dtype at construction; a dtype that differs is passed to
    ``transform``.
    """

    def __init__(self, step) -> None:
        super().__init__(step)
        components = np.asarray(step.components_)
        self.components_t = components.T
        self.offset = np.reshape(np.asarray(step.mean_), (1, -1)) @ components.T
        self.scale = None
        if step.whiten:
            scale = np.sqrt(np.asarray(step.explained_variance_))
            scale[scale < np.finfo(scale.dtype).eps] = np.finfo(scale.dtype).eps
            self.scale = scale
        n = int(step.n_features_in_)
        probe = np.random.default_rng(n).normal(0.0, 1.0, (67, n)) + np.asarray(step.mean_)
        self.exact = {}
        for dtype in FLOATS:
            rows = probe.astype(dtype)
            self.exact[dtype] = _identical(self._project(rows), step.transform(rows))
        self.light = all(self.exact.values())

    def _project(self, x: np.ndarray) -> np.ndarray:
        z = x @ self.components_t
        z -= self.offset
        if self.scale is not None:
            z /= self.scale
        return z

    def __call__(self, x: np.ndarray) -> np.ndarray:
        if self.exact.get(x.dtype, False) and x.ndim == 2:
            return self._project(x)
        return super().__call__(x)


def _identical(a, b) -> bool:
    a, b = np.asarray(a), np.asarray(b)
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


def _evaluator(step) -> _Transform:
    """The call that evaluates a fitted step (see :class:`Stage`'s notes)."""
    if type(step) is StandardNormalVariate:
        return _Snv(step)
    if type(step) in (PCA, IncrementalPCA):
        return _Projection(step)
    return _Transform(step)


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


def tail_rounding_factor(affine: Affine | None) -> float:
    """:func:`rounding_factor` of the features of a fused tail (its steps and the fused
    product, its longest sum); 0 without one. Times ``ε (ν κ + β)``, it bounds how far the
    fused features may lie from those of the steps evaluated one by one."""
    if affine is None:
        return 0.0
    return rounding_factor(affine.n_steps + 1, max(affine.width, affine.n_in))


def _row_norms(x: np.ndarray) -> np.ndarray:
    return np.sqrt(np.einsum("ij,ij->i", x, x).astype(np.float64))
