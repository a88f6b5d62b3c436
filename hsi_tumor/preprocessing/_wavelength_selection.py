"""Band selection by wavelength: keep a range, or drop known bad ranges."""

from __future__ import annotations

from numbers import Real

import numpy as np
from numpy.typing import ArrayLike, NDArray
from sklearn.base import BaseEstimator, TransformerMixin, _fit_context
from sklearn.utils import Tags
from sklearn.utils._param_validation import Interval
from sklearn.utils.validation import _check_feature_names_in, check_is_fitted

from hsi_tumor._shared.errors import InvalidParameterError, WavelengthError
from hsi_tumor.preprocessing._base import as_wavelengths, format_wavelength, validate_spectra

#: Default ``bad_ranges`` of :class:`BadBandRemoval`, in nm: the two water-vapour absorption
#: windows removed from the standard AVIRIS Indian Pines cube (bands 104–108 and 150–163,
#: centres 1362.6–1402.4 nm and 1819.1–1933.3 nm), rounded outwards to whole 5 nm.
WATER_ABSORPTION_RANGES: tuple[tuple[float, float], ...] = ((1360.0, 1405.0), (1815.0, 1935.0))


class _BandSelector(TransformerMixin, BaseEstimator):
    """Shared fit/transform/feature-name logic; subclasses define ``_keep(wavelengths)``."""

    def _keep(self, wavelengths: NDArray[np.floating]) -> NDArray[np.bool_]:
        raise NotImplementedError

    def _describe_selection(self) -> tuple[str, str]:
        """The parameter(s) that define the selection, and the selection in words."""
        raise NotImplementedError

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X: ArrayLike, y: None = None) -> _BandSelector:
        """Check ``wavelengths`` against ``X`` and work out which bands to keep.

        Parameters
        ----------
        X : array-like of shape (n_pixels, n_bands)
            Spectra, one per row; only the number of bands is used.
        y : None
            Ignored.

        Returns
        -------
        self
            The fitted transformer.
        """
        X = validate_spectra(self, X, reset=True)
        wavelengths = as_wavelengths(self.wavelengths, X.shape[1])
        support = self._keep(wavelengths)
        if not support.any():
            unit = (
                "nm" if self.wavelengths is not None else "(column indices, no wavelengths given)"
            )
            field, selection = self._describe_selection()
            raise WavelengthError(
                f"{selection} keeps none of the {X.shape[1]} feature(s) (bands) of X, which span "
                f"{wavelengths[0]:g}–{wavelengths[-1]:g} {unit}",
                field=field,
                fix="check that the limits are in nm and overlap the camera's range, and that "
                "wavelengths are the band centres of X",
            )
        self.support_ = support
        self.wavelengths_out_ = wavelengths[support]
        return self

    def transform(self, X: ArrayLike) -> NDArray[np.floating]:
        """Keep the selected bands.

        Parameters
        ----------
        X : array-like of shape (n_pixels, n_bands)
            Spectra with the bands seen in ``fit``.

        Returns
        -------
        X_selected : ndarray of shape (n_pixels, n_kept_bands)
            The columns of ``X`` where ``support_`` is True.
        """
        check_is_fitted(self)
        X = validate_spectra(self, X, reset=False)
        return X[:, self.support_]

    def get_feature_names_out(self, input_features: ArrayLike | None = None) -> NDArray[np.object_]:
        """Names of the kept bands.

        Parameters
        ----------
        input_features : array-like of str, optional
            Names of the input columns. Only checked (length, agreement with the column names
            seen in ``fit``) when ``wavelengths`` was given; used when it was not.

        Returns
        -------
        feature_names_out : ndarray of str objects, shape (n_kept_bands,)
            With ``wavelengths``: each kept band centre in nm as the shortest decimal that reads
            back as the same number, with at least one decimal (``"1450.0"``, ``"400.02"``).
            Without: the input feature names of the kept columns (``"x0"``, ``"x1"``, ... or
            the column names seen in ``fit``), as for any scikit-learn feature selector.
        """
        check_is_fitted(self)
        input_features = _check_feature_names_in(self, input_features)
        if self.wavelengths is None:
            return np.asarray(input_features[self.support_], dtype=object)
        return np.asarray([format_wavelength(w) for w in self.wavelengths_out_], dtype=object)

    def get_support(self, indices: bool = False) -> NDArray:
        """Mask or indices of the kept bands.

        Parameters
        ----------
        indices : bool, default=False
            Return the integer indices of the kept bands instead of the boolean mask.

        Returns
        -------
        support : ndarray
            ``support_``, or ``np.flatnonzero(support_)`` when ``indices`` is True.
        """
        check_is_fitted(self)
        return np.flatnonzero(self.support_) if indices else self.support_.copy()

    def __sklearn_tags__(self) -> Tags:
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags


class WavelengthRange(_BandSelector):
    r"""Keep the bands whose centre wavelength lies in ``[min_nm, max_nm]``.

    Parameters
    ----------
    wavelengths : array-like of shape (n_bands,), default=None
        Band centres in nm, one per column of ``X``, strictly ascending. When None, the column
        indices ``0 … n_bands - 1`` stand in for the wavelengths (so ``min_nm``/``max_nm`` are
        then column indices); this keeps the transformer usable without metadata.
    min_nm : float, default=None
        Shortest wavelength kept (inclusive). None: no lower limit.
    max_nm : float, default=None
        Longest wavelength kept (inclusive). None: no upper limit.

    Attributes
    ----------
    support_ : ndarray of bool, shape (n_features_in_,)
        True for the kept bands.
    wavelengths_out_ : ndarray of shape (n_kept_bands,)
        Centres of the kept bands in nm (column indices when ``wavelengths`` is None).
    n_features_in_ : int
        Number of bands seen during ``fit``.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Column names seen during ``fit``, when ``X`` had string column names.

    Raises
    ------
    hsi_tumor._shared.errors.WavelengthError
        In ``fit``, when ``wavelengths`` does not have one value per band, is not strictly
        ascending or not finite, or when no band lies in the range.
    InvalidParameterError
        In ``fit``, when ``min_nm > max_nm``.

    See Also
    --------
    BadBandRemoval : Drop bands in given ranges instead.

    Notes
    -----
    Band :math:`j` is kept when :math:`\lambda_{\min} \le \lambda_j \le \lambda_{\max}`.
    The selection depends only on the parameters, not on the pixel values. Feature names are
    described in :meth:`get_feature_names_out`.

    Examples
    --------
    >>> import numpy as np
    >>> from hsi_tumor.preprocessing import WavelengthRange
    >>> X = np.arange(10.0).reshape(2, 5)
    >>> crop = WavelengthRange(wavelengths=[900, 950, 1000, 1050, 1100], min_nm=950, max_nm=1050)
    >>> crop.fit_transform(X)
    array([[1., 2., 3.],
           [6., 7., 8.]])
    >>> crop.get_feature_names_out()
    array(['950.0', '1000.0', '1050.0'], dtype=object)
    """

    _parameter_constraints: dict = {
        "wavelengths": ["array-like", None],
        "min_nm": [Interval(Real, None, None, closed="neither"), None],
        "max_nm": [Interval(Real, None, None, closed="neither"), None],
    }

    def __init__(
        self,
        *,
        wavelengths: ArrayLike | None = None,
        min_nm: float | None = None,
        max_nm: float | None = None,
    ) -> None:
        self.wavelengths = wavelengths
        self.min_nm = min_nm
        self.max_nm = max_nm

    def _describe_selection(self) -> tuple[str, str]:
        return "min_nm/max_nm", f"the range min_nm={self.min_nm}, max_nm={self.max_nm}"

    def _keep(self, wavelengths: NDArray[np.floating]) -> NDArray[np.bool_]:
        if self.min_nm is not None and self.max_nm is not None and self.min_nm > self.max_nm:
            raise InvalidParameterError(
                f"The 'min_nm' parameter of WavelengthRange must not exceed 'max_nm'; got "
                f"min_nm={self.min_nm} and max_nm={self.max_nm}",
                field="min_nm",
                fix="swap them",
            )
        keep = np.ones(wavelengths.shape, dtype=bool)
        if self.min_nm is not None:
            keep &= wavelengths >= self.min_nm
        if self.max_nm is not None:
            keep &= wavelengths <= self.max_nm
        return keep


class BadBandRemoval(_BandSelector):
    r"""Drop the bands whose centre wavelength lies in any of the ``bad_ranges``.

    Use it for bands where the signal is unusable: water-vapour absorption windows in
    open-air imaging, noisy detector edges, or bands a camera's vendor marks as bad.

    Parameters
    ----------
    wavelengths : array-like of shape (n_bands,), default=None
        Band centres in nm, one per column of ``X``, strictly ascending. When None, the column
        indices ``0 … n_bands - 1`` stand in for the wavelengths (so ``bad_ranges`` are then
        column indices, and the default ranges drop nothing from fewer than 1361 columns).
    bad_ranges : array-like of shape (n_ranges, 2), default=((1360, 1405), (1815, 1935))
        ``(low, high)`` pairs in nm, ``low < high``; bands with ``low <= λ <= high`` are
        dropped. The default is the two water-vapour absorption windows removed from the
        standard AVIRIS Indian Pines cube (AVIRIS bands 104–108 and 150–163, centres
        1362.6–1402.4 nm and 1819.1–1933.3 nm), rounded outwards to 5 nm. It does not include
        detector edges, which depend on the camera: add them, e.g.
        ``bad_ranges=[*WATER_ABSORPTION_RANGES, (0, 950), (1650, 2000)]`` for a 900–1700 nm
        InGaAs camera whose first and last bands are noisy. An empty sequence drops nothing.

    Attributes
    ----------
    support_ : ndarray of bool, shape (n_features_in_,)
        True for the kept bands.
    wavelengths_out_ : ndarray of shape (n_kept_bands,)
        Centres of the kept bands in nm (column indices when ``wavelengths`` is None).
    n_features_in_ : int
        Number of bands seen during ``fit``.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Column names seen during ``fit``, when ``X`` had string column names.

    Raises
    ------
    hsi_tumor._shared.errors.WavelengthError
        In ``fit``, when ``wavelengths`` does not have one value per band, is not strictly
        ascending or not finite, or when every band is dropped.
    InvalidParameterError
        In ``fit``, when ``bad_ranges`` is not a list of ``(low, high)`` pairs with
        ``low < high``.

    See Also
    --------
    WavelengthRange : Keep one range instead.

    Notes
    -----
    Band :math:`j` is kept unless :math:`l_k \le \lambda_j \le h_k` for some range
    :math:`k`. The selection depends only on the parameters, not on the pixel values. Feature
    names are described in :meth:`get_feature_names_out`.

    Examples
    --------
    >>> import numpy as np
    >>> from hsi_tumor.preprocessing import BadBandRemoval
    >>> wavelengths = [1300.0, 1350.0, 1400.0, 1450.0, 1900.0, 2000.0]
    >>> X = np.arange(12.0).reshape(2, 6)
    >>> remove = BadBandRemoval(wavelengths=wavelengths).fit(X)
    >>> remove.transform(X)
    array([[ 0.,  1.,  3.,  5.],
           [ 6.,  7.,  9., 11.]])
    >>> remove.wavelengths_out_
    array([1300., 1350., 1450., 2000.])
    """

    _parameter_constraints: dict = {
        "wavelengths": ["array-like", None],
        "bad_ranges": ["array-like"],
    }

    def __init__(
        self,
        *,
        wavelengths: ArrayLike | None = None,
        bad_ranges: ArrayLike = WATER_ABSORPTION_RANGES,
    ) -> None:
        self.wavelengths = wavelengths
        self.bad_ranges = bad_ranges

    def _describe_selection(self) -> tuple[str, str]:
        return "bad_ranges", f"removing bad_ranges={self.bad_ranges!r}"

    def _keep(self, wavelengths: NDArray[np.floating]) -> NDArray[np.bool_]:
        try:
            ranges = np.asarray(self.bad_ranges, dtype=np.float64)
        except (TypeError, ValueError):
            ranges = None
        if ranges is not None and ranges.size == 0:
            ranges = ranges.reshape(0, 2)
        if (
            ranges is None
            or ranges.ndim != 2
            or ranges.shape[1] != 2
            or not np.all(np.isfinite(ranges))
            or np.any(ranges[:, 0] >= ranges[:, 1])
        ):
            raise InvalidParameterError(
                "The 'bad_ranges' parameter of BadBandRemoval must be a sequence of finite "
                f"(low, high) pairs in nm with low < high; got {self.bad_ranges!r}",
                field="bad_ranges",
                fix="pass e.g. bad_ranges=[(1360, 1405), (1815, 1935)]",
            )
        low, high = ranges[:, 0], ranges[:, 1]
        bad = (wavelengths[:, np.newaxis] >= low) & (wavelengths[:, np.newaxis] <= high)
        return ~bad.any(axis=1)
