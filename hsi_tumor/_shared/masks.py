"""LazyMask: a boolean (rows, cols, bands) array that is computed only where it is read.

A calibrated cube's validity (``cube.valid``) is as large as the cube: a mask over a 20 GB cube
would take 5 GB as a boolean array. It is therefore computed block by block when read, like
the reflectance itself. :class:`LazyMask` gives such masks the manners of a numpy boolean
array without computing them whole:

* ``repr`` says what the mask is, its shape, and that it is lazy (nothing is computed to show it);
* ``~m``, ``m & other``, ``m | other``, ``m ^ other`` (and ``np.logical_not``, ``np.logical_and``,
  ...) with another mask, a boolean array or a bool give another lazy mask;
* ``m.sum()``, ``m.any()``, ``m.all()``, ``m.mean()`` (with ``axis=`` and ``keepdims=``)
  compute a reduction row tile by row tile, in bounded memory: ``m.all(axis=2)`` is the
  (rows, cols) mask of pixels valid in every band;
* ``m[rows, cols, bands]`` with integers and slices (a list of band indices too) computes that
  block; ``np.asarray(m)`` computes it all; any other index or numpy function computes it all
  first, then acts as numpy does.

Subclasses give ``shape``, ``select(key)`` (a lazy sub-view, nothing computed) and
``_block(key)`` (the 3-D boolean block of a key of three slices, the last possibly an index
array).
"""

from __future__ import annotations

import abc
import functools

import numpy as np

from hsi_tumor._shared.arrays import materialize, rows_per_tile, split_key
from hsi_tumor._shared.errors import CubeIndexError, InvalidOptionError

__all__ = ["LazyMask"]

#: ufuncs whose result, on boolean operands, is a boolean mask of the same shape: kept lazy.
_ELEMENTWISE = frozenset(
    {
        np.invert,
        np.logical_not,
        np.bitwise_and,
        np.logical_and,
        np.bitwise_or,
        np.logical_or,
        np.bitwise_xor,
        np.logical_xor,
    }
)
_SYMBOLS = {np.invert: "~", np.bitwise_and: "&", np.bitwise_or: "|", np.bitwise_xor: "^"}


class LazyMask(abc.ABC):
    """A boolean (rows, cols, bands) array computed block by block, only where it is read.

    See the module docstring for what it supports; subclasses define ``shape``, ``select``
    and ``_block``, and may set ``meaning`` (a phrase for the repr).
    """

    dtype = np.dtype(bool)
    ndim = 3
    parallel_reads = True
    storage_kind = "computed on read"
    #: True for a cube's validity that equals "the cube's value is finite" (calibration).
    finite_means_valid = False
    #: What True means, in a few words, for the repr.
    meaning = ""

    # -- for subclasses -----------------------------------------------------------------------
    @property
    @abc.abstractmethod
    def shape(self) -> tuple[int, int, int]:
        """(rows, cols, bands)."""

    @abc.abstractmethod
    def select(self, key) -> LazyMask:
        """The sub-mask of a (rows, cols, bands) key of slices; nothing computed."""

    @abc.abstractmethod
    def _block(self, key: tuple) -> np.ndarray:
        """The 3-D bool block of a key of three slices (the last possibly an index array)."""

    # -- the array protocol -------------------------------------------------------------------
    @property
    def size(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64))

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, key) -> np.ndarray:
        if not _lazy_key(key):
            return np.asarray(self)[key]
        kept, squeeze = split_key(key, self.shape)
        return self._block(kept)[squeeze]

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        return materialize(self, dtype=dtype)

    def __bool__(self) -> bool:
        if self.size == 1:
            return bool(self[0, 0, 0])
        raise InvalidOptionError(
            f"the truth value of a mask of {self.size} values is ambiguous",
            field="mask",
            fix="use mask.any() or mask.all()",
        )

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        if method == "__call__" and ufunc in _ELEMENTWISE and not kwargs:
            lazy = _elementwise(ufunc, inputs)
            if lazy is not None:
                return lazy
        inputs = tuple(np.asarray(x) if isinstance(x, LazyMask) else x for x in inputs)
        if "out" in kwargs:
            kwargs["out"] = tuple(
                np.asarray(x) if isinstance(x, LazyMask) else x for x in kwargs["out"]
            )
        return getattr(ufunc, method)(*inputs, **kwargs)

    def __invert__(self):
        return np.invert(self)

    def __and__(self, other):
        return np.bitwise_and(self, other)

    def __rand__(self, other):
        return np.bitwise_and(other, self)

    def __or__(self, other):
        return np.bitwise_or(self, other)

    def __ror__(self, other):
        return np.bitwise_or(other, self)

    def __xor__(self, other):
        return np.bitwise_xor(self, other)

    def __rxor__(self, other):
        return np.bitwise_xor(other, self)

    # -- reductions, row tile by row tile ---------------------------------------------------------
    def sum(self, axis=None, dtype=None, out=None, keepdims=False):
        """Number of True values (over ``axis``), as ``numpy.ndarray.sum``."""
        dtype = np.dtype(np.intp if dtype is None else dtype)

        def count(block, axes):
            return block.sum(axis=axes, dtype=dtype, keepdims=True)

        return self._reduce(count, np.add, axis, out, keepdims)

    def any(self, axis=None, out=None, keepdims=False):
        """Whether any value is True (over ``axis``), as ``numpy.ndarray.any``."""
        return self._reduce(_any, np.logical_or, axis, out, keepdims)

    def all(self, axis=None, out=None, keepdims=False):
        """Whether every value is True (over ``axis``), as ``numpy.ndarray.all``."""
        return self._reduce(_all, np.logical_and, axis, out, keepdims)

    def mean(self, axis=None, dtype=None, out=None, keepdims=False):
        """Fraction of True values (over ``axis``), as ``numpy.ndarray.mean``."""
        axes = _axes(axis)
        n = int(np.prod([self.shape[a] for a in axes], dtype=np.int64))
        with np.errstate(invalid="ignore", divide="ignore"):
            result = np.divide(self.sum(axis=axes, keepdims=keepdims), n, dtype=dtype)
        return _into(result, out)

    def _reduce(self, fn, combine, axis, out, keepdims):
        axes = _axes(axis)
        n_rows = self.shape[0]
        if n_rows == 0:
            result = fn(np.zeros(self.shape, dtype=bool), axes)
        else:
            step = rows_per_tile(self.shape, 4)
            parts = [fn(self[r0 : r0 + step], axes) for r0 in range(0, n_rows, step)]
            if 0 in axes:
                result = functools.reduce(combine, parts)
            else:
                result = np.concatenate(parts, axis=0)
        if not keepdims:
            result = result.squeeze(axis=axes)[()]
        return _into(result, out)

    # -- display --------------------------------------------------------------------------------
    def _describe(self) -> str:
        return type(self).__name__

    def __repr__(self) -> str:
        rows, cols, bands = self.shape
        meaning = f": {self.meaning}" if self.meaning else ""
        return (
            f"{self._name}({rows} rows x {cols} cols x {bands} bands, bool, "
            f"lazy ({self.storage_kind}){meaning})"
        )

    @property
    def _name(self) -> str:
        return type(self).__name__


class _Elementwise(LazyMask):
    """A ufunc of lazy masks, boolean arrays (broadcast to the masks' shape) and bools."""

    _name = "LazyMask"

    def __init__(self, ufunc, operands: tuple, shape: tuple[int, int, int]) -> None:
        self.ufunc = ufunc
        self.operands = operands
        self._shape = shape

    @property
    def shape(self) -> tuple[int, int, int]:
        return self._shape

    @property
    def meaning(self) -> str:
        names = [x._describe() if isinstance(x, LazyMask) else "array" for x in self.operands]
        symbol = _SYMBOLS.get(self.ufunc)
        if symbol == "~":
            return f"~{names[0]}"
        if symbol:
            return f" {symbol} ".join(names)
        return f"{self.ufunc.__name__}({', '.join(names)})"

    def _describe(self) -> str:
        return f"({self.meaning})"

    def select(self, key) -> _Elementwise:
        kept, _ = split_key(key, self.shape)
        operands = tuple(
            x.select(kept) if isinstance(x, LazyMask) else _take(x, kept) for x in self.operands
        )
        first = next(x for x in operands if isinstance(x, LazyMask))
        return _Elementwise(self.ufunc, operands, first.shape)

    def _block(self, key: tuple) -> np.ndarray:
        blocks = [
            x._block(key) if isinstance(x, LazyMask) else _take(x, key) for x in self.operands
        ]
        return np.asarray(self.ufunc(*blocks), dtype=bool)


def _elementwise(ufunc, inputs) -> _Elementwise | None:
    """The lazy result of ``ufunc(*inputs)``, or None where numpy's own result differs in kind
    (non-boolean operands, a result larger than the masks)."""
    masks = [x for x in inputs if isinstance(x, LazyMask)]
    shape = tuple(masks[0].shape)
    if any(tuple(m.shape) != shape for m in masks):
        return None
    arrays = {i: np.asarray(x) for i, x in enumerate(inputs) if not isinstance(x, LazyMask)}
    if any(a.dtype != bool for a in arrays.values()):
        return None
    try:
        result_shape = np.broadcast_shapes(shape, *(a.shape for a in arrays.values()))
    except ValueError:
        other = next(a.shape for a in arrays.values() if a.shape != shape)
        raise InvalidOptionError(
            f"a mask of shape {shape} cannot be combined with an array of shape {other}",
            field="mask",
            fix="give the (rows, cols) array a band axis, e.g. tissue[:, :, np.newaxis], or "
            "reduce the mask to pixels first, e.g. valid.all(axis=2)",
        ) from None
    if result_shape != shape:
        return None
    operands = tuple(
        x if isinstance(x, LazyMask) else np.broadcast_to(arrays[i], shape)
        for i, x in enumerate(inputs)
    )
    return _Elementwise(ufunc, operands, shape)


def _lazy_key(key) -> bool:
    """Integers and slices on every axis (and an index list on the band axis) read lazily."""
    key = key if isinstance(key, tuple) else (key,)
    if len(key) > 3:
        return False
    for i, k in enumerate(key):
        if isinstance(k, (slice, int, np.integer)) and not isinstance(k, bool):
            continue
        if i == 2 and isinstance(k, (list, np.ndarray)) and np.ndim(k) == 1:
            continue
        return False
    return True


def _take(array: np.ndarray, key: tuple) -> np.ndarray:
    rows, cols, bands = key
    return array[rows][:, cols][:, :, bands]


def _axes(axis) -> tuple[int, ...]:
    if axis is None:
        return (0, 1, 2)
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    out = set()
    for a in axes:
        if not -3 <= int(a) < 3:
            raise CubeIndexError(
                f"axis {a} is out of bounds for a (rows, cols, bands) mask",
                field="axis",
                fix="use 0 (rows), 1 (cols), 2 (bands), a tuple of them, or None (all)",
            )
        out.add(int(a) % 3)
    return tuple(sorted(out))


def _any(block, axes):
    return block.any(axis=axes, keepdims=True)


def _all(block, axes):
    return block.all(axis=axes, keepdims=True)


def _into(result, out):
    if out is None:
        return result
    np.copyto(out, result)
    return out
