"""Input checks shared by the spatial post-processing functions (one wording for all)."""

from __future__ import annotations

import numbers

from hsi_tumor._shared.arrays import check_mask
from hsi_tumor._shared.errors import InvalidOptionError, InvalidTypeError

__all__ = ["check_int_option", "check_mask"]


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
