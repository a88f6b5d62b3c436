"""Absorbance (log(1/R)) from reflectance."""

from __future__ import annotations

import warnings
from numbers import Real

import numpy as np
from numpy.typing import ArrayLike, NDArray
from sklearn.base import BaseEstimator, OneToOneFeatureMixin, TransformerMixin, _fit_context
from sklearn.utils import Tags
from sklearn.utils._param_validation import Interval
from sklearn.utils.validation import check_is_fitted

from hsi_tumor.preprocessing._base import DegenerateSpectrumWarning, validate_spectra


class Absorbance(TransformerMixin, OneToOneFeatureMixin, BaseEstimator):
    r"""Convert reflectance to absorbance, :math:`A = -\log_{10} R`.

    Absorbance (apparent absorbance, "log(1/R)") is roughly linear in the concentration of
    absorbers (Beer–Lambert), which suits the linear models and PCA that usually follow.

    Parameters
    ----------
    floor : float, default=1e-6
        Smallest reflectance taken into the logarithm. Values below it (zero or negative
        reflectance after dark-current subtraction, for instance) are clipped to ``floor``, so
        the largest absorbance returned is :math:`-\log_{10}` ``floor`` (6 by default).

    Attributes
    ----------
    n_features_in_ : int
        Number of bands seen during ``fit``.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Column names seen during ``fit``, when ``X`` had string column names.

    Warns
    -----
    DegenerateSpectrumWarning
        Once per ``transform`` call that clipped values, with their number and how many of them
        were zero or negative.

    Notes
    -----
    .. math:: A_{ij} = -\log_{10} \max(R_{ij}, f), \qquad
              R_{ij} = 10^{-A_{ij}} \quad \text{(inverse\_transform)}

    with :math:`f` = ``floor``. Reflectance is expected as a fraction (1.0 = the white
    reference), not in percent; in percent the absorbance is shifted by -2. ``inverse_transform``
    does not restore clipped values: they come back as ``floor``.

    The transform is stateless; float32 input gives float32 output, other dtypes float64.

    Examples
    --------
    >>> import numpy as np
    >>> from hsi_tumor.preprocessing import Absorbance
    >>> R = np.array([[1.0, 0.1, 0.01], [0.5, 0.001, 1e-4]])
    >>> absorbance = Absorbance().fit(R)
    >>> A = absorbance.transform(R)
    >>> np.round(A, 6)
    array([[0.     , 1.     , 2.     ],
           [0.30103, 3.     , 4.     ]])
    >>> np.allclose(absorbance.inverse_transform(A), R)
    True
    """

    _parameter_constraints: dict = {"floor": [Interval(Real, 0, None, closed="neither")]}

    def __init__(self, *, floor: float = 1e-6) -> None:
        self.floor = floor

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X: ArrayLike, y: None = None) -> Absorbance:
        """Record the number of bands; the transform learns nothing else.

        Parameters
        ----------
        X : array-like of shape (n_pixels, n_bands)
            Reflectance spectra, one per row.
        y : None
            Ignored.

        Returns
        -------
        self : Absorbance
            The fitted transformer.
        """
        validate_spectra(self, X, reset=True)
        return self

    def transform(self, X: ArrayLike) -> NDArray[np.floating]:
        r"""Convert reflectance to absorbance.

        Parameters
        ----------
        X : array-like of shape (n_pixels, n_bands)
            Reflectance, as a fraction of the white reference.

        Returns
        -------
        A : ndarray of shape (n_pixels, n_bands)
            :math:`-\log_{10} \max(R, \mathrm{floor})`.
        """
        check_is_fitted(self)
        X = validate_spectra(self, X, reset=False)
        # A floor below the dtype's range (1e-50 in float32) would round to 0 and give inf.
        floor = max(X.dtype.type(self.floor), np.finfo(X.dtype).smallest_normal)
        low = X < floor
        if low.any():
            n_low = int(low.sum())
            n_non_positive = int((X <= 0).sum())
            warnings.warn(
                f"{n_low} of {X.size} reflectance values were below floor={self.floor:g} "
                f"({n_non_positive} of them zero or negative) and were clipped to floor before "
                "the logarithm. Fix: check the dark/white calibration (noise around a dark "
                "reference goes negative), mask background pixels, or change floor.",
                DegenerateSpectrumWarning,
                stacklevel=3,  # transform, set_output wrapper, caller
            )
        A = np.log10(np.maximum(X, floor))
        np.negative(A, out=A)
        A += 0  # -0.0 (R = 1) to 0.0
        return A

    def inverse_transform(self, X: ArrayLike) -> NDArray[np.floating]:
        """Convert absorbance back to reflectance, :math:`R = 10^{-A}`.

        Parameters
        ----------
        X : array-like of shape (n_pixels, n_bands)
            Absorbance.

        Returns
        -------
        R : ndarray of shape (n_pixels, n_bands)
            Reflectance as a fraction; values clipped by ``transform`` come back as ``floor``.
        """
        check_is_fitted(self)
        X = validate_spectra(self, X, reset=False)
        return np.power(X.dtype.type(10), -X)

    def __sklearn_tags__(self) -> Tags:
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags
