"""Per-spectrum normalisations: by area, by Euclidean length, and to the range [0, 1]."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray
from sklearn.base import BaseEstimator, OneToOneFeatureMixin, TransformerMixin, _fit_context
from sklearn.utils import Tags
from sklearn.utils.validation import check_is_fitted

from hsi_tumor.preprocessing._base import validate_spectra, warn_degenerate


class _RowNormalization(TransformerMixin, OneToOneFeatureMixin, BaseEstimator):
    """Stateless ``(x - shift(x)) / scale(x)`` per row; rows with ``scale == 0`` become zeros."""

    _parameter_constraints: dict = {}
    _scale_name: str = ""

    def _shift_and_scale(self, X: NDArray[np.floating]) -> tuple[NDArray | None, NDArray]:
        """Per-row shift (or None) and scale, each of shape (n_pixels, 1)."""
        raise NotImplementedError

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X: ArrayLike, y: None = None) -> _RowNormalization:
        """Record the number of bands; the transform learns nothing else.

        Parameters
        ----------
        X : array-like of shape (n_pixels, n_bands)
            Spectra, one per row.
        y : None
            Ignored.

        Returns
        -------
        self
            The fitted transformer.
        """
        validate_spectra(self, X, reset=True)
        return self

    def transform(self, X: ArrayLike) -> NDArray[np.floating]:
        """Normalise each spectrum.

        Parameters
        ----------
        X : array-like of shape (n_pixels, n_bands)
            Spectra, one per row.

        Returns
        -------
        X_normalised : ndarray of shape (n_pixels, n_bands)
            The normalised spectra; rows whose normaliser is 0 are zeros.
        """
        check_is_fitted(self)
        X = validate_spectra(self, X, reset=False)
        shift, scale = self._shift_and_scale(X)
        zero = scale == 0
        X_normalised = (X if shift is None else X - shift) / np.where(zero, 1, scale)
        if zero.any():
            zero = zero[:, 0]
            X_normalised[zero] = 0
            warn_degenerate(
                int(zero.sum()),
                X.shape[0],
                f"have {self._scale_name} 0, so they cannot be normalised",
                "those rows were set to 0",
                "mask background or dead pixels before normalising",
            )
        return X_normalised

    def __sklearn_tags__(self) -> Tags:
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags


class AreaNormalization(_RowNormalization):
    r"""Divide each spectrum by its area, the sum of its absolute values.

    Makes spectra comparable when the overall intensity varies (illumination, distance, probe
    pressure) but the shape carries the information. Stateless: ``fit`` only records the band
    count.

    Attributes
    ----------
    n_features_in_ : int
        Number of bands seen during ``fit``.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Column names seen during ``fit``, when ``X`` had string column names.

    See Also
    --------
    VectorNormalization : Divide by the Euclidean length instead.

    Notes
    -----
    .. math:: y_j = \frac{x_j}{\sum_k |x_k|}

    i.e. division by the L1 norm: the area between the spectrum and zero with a band spacing of
    1 (a different, constant spacing would only rescale every output by the same factor). For
    non-negative spectra such as reflectance or absorbance it is the plain sum, and each output
    row sums to 1. The absolute value keeps the normaliser positive for derivative spectra,
    whose plain sum is close to 0.

    A spectrum of zeros has area 0: its row is returned as zeros and a
    :class:`~hsi_tumor.preprocessing.DegenerateSpectrumWarning` says how many rows that was.

    float32 input gives float32 output; other dtypes give float64.

    Examples
    --------
    >>> import numpy as np
    >>> from hsi_tumor.preprocessing import AreaNormalization
    >>> AreaNormalization().fit_transform(np.array([[1.0, 3.0], [2.0, -2.0]]))
    array([[ 0.25,  0.75],
           [ 0.5 , -0.5 ]])
    """

    _scale_name = "area"

    def _shift_and_scale(self, X: NDArray[np.floating]) -> tuple[None, NDArray]:
        return None, np.abs(X).sum(axis=1, keepdims=True)


class VectorNormalization(_RowNormalization):
    r"""Divide each spectrum by its Euclidean (L2) length.

    Every output spectrum has unit length, so that dot products between spectra become cosine
    similarities (the spectral angle). Stateless: ``fit`` only records the band count.

    Attributes
    ----------
    n_features_in_ : int
        Number of bands seen during ``fit``.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Column names seen during ``fit``, when ``X`` had string column names.

    See Also
    --------
    AreaNormalization : Divide by the L1 norm instead.

    Notes
    -----
    .. math:: y_j = \frac{x_j}{\sqrt{\sum_k x_k^2}}

    the same as :func:`sklearn.preprocessing.normalize` with ``norm="l2"``, except for rows of
    zeros: they are returned as zeros with a
    :class:`~hsi_tumor.preprocessing.DegenerateSpectrumWarning` saying how many there were.

    float32 input gives float32 output; other dtypes give float64.

    Examples
    --------
    >>> import numpy as np
    >>> from hsi_tumor.preprocessing import VectorNormalization
    >>> VectorNormalization().fit_transform(np.array([[3.0, 4.0], [0.0, -2.0]]))
    array([[ 0.6,  0.8],
           [ 0. , -1. ]])
    """

    _scale_name = "Euclidean length"

    def _shift_and_scale(self, X: NDArray[np.floating]) -> tuple[None, NDArray]:
        return None, np.sqrt(np.einsum("ij,ij->i", X, X))[:, np.newaxis]


class MinMaxNormalization(_RowNormalization):
    r"""Rescale each spectrum to the range [0, 1]: its minimum to 0, its maximum to 1.

    Unlike :class:`sklearn.preprocessing.MinMaxScaler`, which rescales each band over the
    training pixels, this works on each spectrum (row) alone and learns nothing. ``fit`` only
    records the band count.

    Attributes
    ----------
    n_features_in_ : int
        Number of bands seen during ``fit``.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Column names seen during ``fit``, when ``X`` had string column names.

    Notes
    -----
    .. math:: y_j = \frac{x_j - \min_k x_k}{\max_k x_k - \min_k x_k}

    A flat spectrum (maximum = minimum) has range 0: its row is returned as zeros and a
    :class:`~hsi_tumor.preprocessing.DegenerateSpectrumWarning` says how many rows that was.

    float32 input gives float32 output; other dtypes give float64.

    Examples
    --------
    >>> import numpy as np
    >>> from hsi_tumor.preprocessing import MinMaxNormalization
    >>> MinMaxNormalization().fit_transform(np.array([[2.0, 4.0, 3.0], [-1.0, 1.0, 0.0]]))
    array([[0. , 1. , 0.5],
           [0. , 1. , 0.5]])
    """

    _scale_name = "range (maximum - minimum)"

    def _shift_and_scale(self, X: NDArray[np.floating]) -> tuple[NDArray, NDArray]:
        low = X.min(axis=1, keepdims=True)
        return low, X.max(axis=1, keepdims=True) - low
