"""Savitzky–Golay smoothing and derivatives along the band axis."""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
from numpy.typing import ArrayLike, NDArray
from sklearn.base import BaseEstimator, OneToOneFeatureMixin, TransformerMixin, _fit_context
from sklearn.utils import Tags
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from hsi_tumor._shared.errors import InvalidParameterError, WavelengthError
from hsi_tumor.preprocessing._base import validate_spectra
from hsi_tumor.preprocessing._compiled import savgol, savgol_plan


class SavitzkyGolay(TransformerMixin, OneToOneFeatureMixin, BaseEstimator):
    r"""Smooth or differentiate each spectrum with a Savitzky–Golay filter.

    A polynomial of degree ``polyorder`` is fitted by least squares to each window of
    ``window_length`` neighbouring bands, and the band in the centre of the window is replaced
    by the polynomial's value (``deriv=0``) or its ``deriv``-th derivative. The result is
    :func:`scipy.signal.savgol_filter` applied along the band axis (``axis=1``), whose parameter
    names this class uses, computed by a compiled kernel (see Notes).

    Parameters
    ----------
    window_length : int, default=11
        Number of bands in the window. Odd, greater than ``polyorder`` and at most the number
        of bands.
    polyorder : int, default=2
        Degree of the fitted polynomial.
    deriv : int, default=0
        Order of the derivative to return; 0 smooths. At most ``polyorder`` (a higher
        derivative of the fitted polynomial is identically zero).
    delta : float, default=1.0
        Band spacing used to scale derivatives, in the unit the derivative should be taken per
        (1.0: per band; the spacing in nm: per nm). Ignored when ``deriv=0``.
    mode : {"interp", "mirror", "constant", "nearest", "wrap"}, default="interp"
        How the first and last ``window_length // 2`` bands are handled, as in
        :func:`scipy.signal.savgol_filter`: ``"interp"`` evaluates the polynomial fitted to the
        first/last full window; the others extend the spectrum (``"constant"`` pads with zeros)
        and filter the extension.

    Attributes
    ----------
    n_features_in_ : int
        Number of bands seen during ``fit``.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Column names seen during ``fit``, when ``X`` had string column names.

    Raises
    ------
    InvalidParameterError
        In ``fit``, for an even ``window_length``, ``polyorder >= window_length`` or
        ``deriv > polyorder``.
    hsi_tumor._shared.errors.WavelengthError
        In ``fit``, when ``window_length`` is larger than the number of bands.

    Notes
    -----
    With half-width :math:`m` (``window_length = 2m + 1``) the filter is a convolution with
    fixed weights :math:`c_k` that depend only on ``window_length``, ``polyorder`` and ``deriv``:

    .. math:: y_j = \frac{1}{\Delta^{d}} \sum_{k=-m}^{m} c_k\, x_{j+k},

    where :math:`c_k` is row :math:`d` of :math:`d!\,(A^\top A)^{-1}A^\top`, with
    :math:`A_{k,i} = k^i` (:math:`i = 0 \dots` ``polyorder``) and :math:`\Delta` = ``delta``
    (Savitzky & Golay, 1964). The filter assumes evenly spaced bands.

    The transform is stateless; float32 input gives float32 output, other dtypes float64.

    With numba (a dependency) a compiled row kernel does the work (on 262,144 × 224 spectra,
    4.6–7.0x faster than :func:`~scipy.signal.savgol_filter` for ``"interp"``, 1.8–3.8x for the
    other modes; ``bench/README.md``). Its sums are scipy's, in scipy's order, so the result
    equals scipy's to the bit, except for the first and last ``window_length // 2`` bands in
    ``mode="interp"``: there the polynomial fitted to the end window is evaluated with
    precomputed coefficients rather than a per-row ``polyfit`` — equal to float64 rounding for
    float64 input, and for float32 input the float64 value rounded once (scipy fits float32
    rows in float32, a few float32 ulp off). Without numba, ``savgol_filter`` itself is
    called. See ``hsi_tumor.preprocessing._compiled``.

    References
    ----------
    .. [1] Savitzky, A., Golay, M. J. E. (1964). Smoothing and differentiation of data by
       simplified least squares procedures. *Analytical Chemistry* 36(8), 1627–1639.
       doi:10.1021/ac60214a047

    Examples
    --------
    A first derivative of a straight line is its slope, edges included:

    >>> import numpy as np
    >>> from hsi_tumor.preprocessing import SavitzkyGolay
    >>> X = np.array([[0.0, 2.0, 4.0, 6.0, 8.0], [1.0, 1.0, 1.0, 1.0, 1.0]])
    >>> sg = SavitzkyGolay(window_length=3, polyorder=1, deriv=1)
    >>> np.round(sg.fit_transform(X), 12) + 0.0  # + 0.0: no "-0." from rounding
    array([[2., 2., 2., 2., 2.],
           [0., 0., 0., 0., 0.]])
    """

    _parameter_constraints: dict = {
        "window_length": [Interval(Integral, 1, None, closed="left")],
        "polyorder": [Interval(Integral, 0, None, closed="left")],
        "deriv": [Interval(Integral, 0, None, closed="left")],
        "delta": [Interval(Real, 0, None, closed="neither")],
        "mode": [StrOptions({"interp", "mirror", "constant", "nearest", "wrap"})],
    }

    def __init__(
        self,
        *,
        window_length: int = 11,
        polyorder: int = 2,
        deriv: int = 0,
        delta: float = 1.0,
        mode: str = "interp",
    ) -> None:
        self.window_length = window_length
        self.polyorder = polyorder
        self.deriv = deriv
        self.delta = delta
        self.mode = mode

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X: ArrayLike, y: None = None) -> SavitzkyGolay:
        """Check the filter parameters against each other and against the number of bands.

        Parameters
        ----------
        X : array-like of shape (n_pixels, n_bands)
            Spectra, one per row.
        y : None
            Ignored.

        Returns
        -------
        self : SavitzkyGolay
            The fitted transformer.
        """
        X = validate_spectra(self, X, reset=True)
        window, polyorder = self.window_length, self.polyorder
        if window % 2 == 0:
            raise InvalidParameterError(
                f"The 'window_length' parameter of SavitzkyGolay must be odd (a window centred "
                f"on each band); got {window}",
                field="window_length",
                fix=f"use window_length={window + 1} or {window - 1}",
            )
        if polyorder >= window:
            raise InvalidParameterError(
                f"The 'polyorder' parameter of SavitzkyGolay must be less than window_length; "
                f"got polyorder={polyorder} with window_length={window}",
                field="polyorder",
                fix=f"lower polyorder or use window_length >= {polyorder + 1 + polyorder % 2}",
            )
        if self.deriv > polyorder:
            raise InvalidParameterError(
                f"The 'deriv' parameter of SavitzkyGolay must be at most polyorder (derivative "
                f"{self.deriv} of a degree-{polyorder} polynomial is 0 everywhere); got "
                f"deriv={self.deriv} with polyorder={polyorder}",
                field="deriv",
                fix=f"raise polyorder to at least {self.deriv} or lower deriv",
            )
        n_features = X.shape[1]
        if window > n_features:
            raise WavelengthError(
                f"window_length={window} is longer than the spectra: X has {n_features} "
                "feature(s) (bands)",
                field="window_length",
                fix=f"use an odd window_length of at most {n_features - 1 + n_features % 2}, "
                "or keep more bands",
            )
        return self

    def transform(self, X: ArrayLike) -> NDArray[np.floating]:
        """Filter each spectrum.

        Parameters
        ----------
        X : array-like of shape (n_pixels, n_bands)
            Spectra, one per row.

        Returns
        -------
        X_filtered : ndarray of shape (n_pixels, n_bands)
            The smoothed spectra, or their ``deriv``-th derivative.
        """
        check_is_fitted(self)
        X = validate_spectra(self, X, reset=False)
        plan = savgol_plan(
            int(self.window_length),
            int(self.polyorder),
            int(self.deriv),
            float(self.delta),
            self.mode,
        )
        return savgol(X, plan)

    def __sklearn_tags__(self) -> Tags:
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags
