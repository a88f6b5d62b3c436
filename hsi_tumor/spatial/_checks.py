"""Input checks shared by the spatial post-processing functions (one wording for all)."""

from __future__ import annotations

import numbers

import numpy as np

from hsi_tumor._shared.arrays import check_mask
from hsi_tumor._shared.errors import InvalidOptionError, InvalidTypeError

__all__ = ["check_int_option", "check_labels", "check_mask"]


def check_labels(labels, *, field: str = "labels") -> np.ndarray:
    """Return ``labels`` as a 2-D integer array, or raise :class:`InvalidOptionError`."""
    array = np.asarray(labels)
    if array.ndim != 2:
        raise InvalidOptionError(
            f"a label map must be 2-D (rows, cols), got shape {array.shape}",
            field=field,
            fix="pass one class id per pixel, e.g. probabilities.argmax(axis=2) + 1",
        )
    if array.dtype == bool:
        return array.astype(np.uint8)
    if array.dtype.kind not in "iu":
        raise InvalidOptionError(
            f"class ids must be integers, got dtype {array.dtype}",
            field=field,
            fix="convert the map with .astype(int); 0 marks unlabelled pixels",
        )
    return array


def check_int_option(value, name: str, *, minimum: int, fix: str) -> int:
    """Return ``value`` as an int ≥ ``minimum``, or raise :class:`InvalidOptionError`
    (:class:`InvalidTypeError` when it is not an integer)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise InvalidTypeError(
            f"{name} must be an integer, got {type(value).__name__} {value!r}",
            field=name,
            fix=fix,
        )
    if value < minimum:
        raise InvalidOptionError(f"{name} must be ≥ {minimum}, got {value}", field=name, fix=fix)
    return int(value)
