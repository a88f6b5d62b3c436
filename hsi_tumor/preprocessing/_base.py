"""Helpers shared by the spectral transformers: input validation, degenerate rows, band names."""

from __future__ import annotations

import warnings

import numpy as np
from numpy.typing import ArrayLike, NDArray
from sklearn.base import BaseEstimator
from sklearn.utils.validation import validate_data

from hsi_tumor._shared.wavelengths import check_wavelengths

__all__ = ["DegenerateSpectrumWarning"]

# float32 stays float32, float64 stays float64, anything else (ints, bools) becomes float64.
FLOAT_DTYPES = (np.float64, np.float32)


class DegenerateSpectrumWarning(UserWarning):
    """A spectrum cannot be transformed as-is (flat, zero area, or non-positive before a log).

    The transformer still returns a finite result for such rows and documents which one
    (zeros for the normalisations, SNV and MSC; the clipped value for
    :class:`~hsi_tumor.preprocessing.Absorbance`). Filter it with
    ``warnings.simplefilter("ignore", DegenerateSpectrumWarning)`` once you have checked that
    the rows are background or dead pixels.
    """


def validate_spectra(
    estimator: BaseEstimator, X: ArrayLike, *, reset: bool, ensure_min_features: int = 1
) -> NDArray[np.floating]:
    """Check ``X`` as a 2-D finite float array of spectra, one per row.

    ``reset=True`` (in ``fit``) records ``n_features_in_``; ``reset=False`` (in ``transform``)
    checks that the band count matches the one seen in ``fit``.
    """
    return validate_data(
        estimator,
        X,
        reset=reset,
        dtype=FLOAT_DTYPES,
        ensure_min_features=ensure_min_features,
    )


def constant_rows(mean: NDArray, var: NDArray, n_features: int) -> NDArray[np.bool_]:
    """Rows whose variance is zero up to the rounding error of computing it.

    The bound is scikit-learn's ``StandardScaler`` criterion for constant features, applied to
    rows: ``var <= n * eps * var + (n * mean * eps) ** 2`` with ``eps`` of the data's dtype. A
    flat spectrum such as ``[0.1] * 200`` gives a variance of about 1e-34 rather than 0 (the mean
    is not exactly 0.1), which would otherwise be divided by and blown up to noise of order 1.
    """
    eps = np.finfo(var.dtype).eps
    upper_bound = n_features * eps * var + (n_features * mean * eps) ** 2
    return var <= upper_bound


def warn_degenerate(n_rows: int, n_total: int, problem: str, result: str, fix: str) -> None:
    """Emit one :class:`DegenerateSpectrumWarning` naming how many rows were affected."""
    warnings.warn(
        f"{n_rows} of {n_total} spectra {problem}; {result}. Fix: {fix}.",
        DegenerateSpectrumWarning,
        stacklevel=4,  # helper, transform, set_output wrapper, caller
    )


def as_wavelengths(wavelengths: ArrayLike | None, n_features: int) -> NDArray[np.floating]:
    """Validate band centres in nm against the band count; column indices when ``None``.

    Floating arrays keep their dtype (so that a float32 table is formatted without float64
    noise), anything else becomes float64.
    """
    if wavelengths is None:
        return np.arange(n_features, dtype=np.float64)
    check_wavelengths(
        wavelengths,
        n_features,
        field="wavelengths",
        order_fix="sort the bands by wavelength first: order = np.argsort(wavelengths), then "
        "pass X[:, order] and wavelengths[order] (and drop duplicated bands)",
    )
    wl = np.asarray(wavelengths)
    return wl if np.issubdtype(wl.dtype, np.floating) else wl.astype(np.float64)


def format_wavelength(value: np.floating) -> str:
    """Shortest decimal that reads back as ``value`` in its own dtype, with at least one decimal.

    ``1450.0 -> "1450.0"``, ``400.02 -> "400.02"`` (also for a float32 ``400.02``, which float64
    formatting would print as ``400.0199890136719``); never scientific notation.
    """
    return np.format_float_positional(value, unique=True, trim="0")
