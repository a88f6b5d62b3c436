"""Multiplicative scatter correction (MSC): regress each spectrum on a reference spectrum."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray
from sklearn.base import BaseEstimator, OneToOneFeatureMixin, TransformerMixin, _fit_context
from sklearn.utils import Tags
from sklearn.utils._param_validation import StrOptions
from sklearn.utils.validation import check_is_fitted

from hsi_tumor._shared.errors import WavelengthError
from hsi_tumor.preprocessing._base import constant_rows, validate_spectra, warn_degenerate
from hsi_tumor.preprocessing._compiled import msc


class MultiplicativeScatterCorrection(TransformerMixin, OneToOneFeatureMixin, BaseEstimator):
    r"""Remove additive and multiplicative scatter effects relative to a reference spectrum.

    Each spectrum is fitted by least squares as an offset plus a multiple of the reference,
    :math:`x \approx a + b\,r`, and replaced by :math:`(x - a) / b`. The reference is learned in
    ``fit`` (the mean or median training spectrum) or given.

    Parameters
    ----------
    reference : {"mean", "median"} or array-like of shape (n_bands,), default="mean"
        The reference spectrum :math:`r`: the mean or the median of the training spectra
        (per band), or a given spectrum with one value per band.

    Attributes
    ----------
    reference_ : ndarray of shape (n_features_in_,), dtype float64
        The reference spectrum used by ``transform``.
    n_features_in_ : int
        Number of bands seen during ``fit``.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Column names seen during ``fit``, when ``X`` had string column names.

    Raises
    ------
    hsi_tumor._shared.errors.WavelengthError
        In ``fit``, when a given reference does not have one value per band, or when the
        reference is flat (nothing to regress on).

    See Also
    --------
    StandardNormalVariate : Reference-free scatter correction.

    Notes
    -----
    With :math:`\bar{x}` and :math:`\bar{r}` the means over the :math:`p` bands, the ordinary
    least-squares fit of :math:`x_j = a + b\,r_j + e_j` is

    .. math:: b = \frac{\sum_j (x_j - \bar{x})(r_j - \bar{r})}{\sum_j (r_j - \bar{r})^2},
              \qquad a = \bar{x} - b\,\bar{r},
              \qquad \mathrm{MSC}(x)_j = \frac{x_j - a}{b}

    (Geladi et al., 1985). A spectrum that is exactly :math:`a + b\,r` maps to :math:`r`.

    A spectrum that is flat, or uncorrelated with the reference (:math:`|\mathrm{corr}(x, r)|`
    below :math:`\sqrt{\epsilon}` of its dtype), has :math:`b \approx 0` and no meaningful
    correction: its row is returned as zeros and a
    :class:`~hsi_tumor.preprocessing.DegenerateSpectrumWarning` says how many rows that was.

    Fit the reference on training pixels only (inside a pipeline): a reference computed from
    the whole data set leaks test statistics.

    float32 input gives float32 output; other dtypes give float64. With numba (a dependency)
    a compiled row kernel computes each row in three passes, the sums in float64 for both
    dtypes (float32 output: the float64 result rounded once); without it, the same formulas
    vectorised in numpy, in the input's precision. See ``hsi_tumor.preprocessing._compiled``.

    References
    ----------
    .. [1] Geladi, P., MacDougall, D., Martens, H. (1985). Linearization and scatter-correction
       for near-infrared reflectance spectra of meat. *Applied Spectroscopy* 39(3), 491–500.
       doi:10.1366/0003702854248656

    Examples
    --------
    >>> import numpy as np
    >>> from hsi_tumor.preprocessing import MultiplicativeScatterCorrection
    >>> X = np.array([[1.0, 2.0, 4.0], [3.0, 5.0, 9.0]])
    >>> msc = MultiplicativeScatterCorrection().fit(X)
    >>> msc.reference_
    array([2. , 3.5, 6.5])
    >>> msc.transform(X)
    array([[2. , 3.5, 6.5],
           [2. , 3.5, 6.5]])
    """

    _parameter_constraints: dict = {"reference": [StrOptions({"mean", "median"}), "array-like"]}

    def __init__(self, *, reference: str | ArrayLike = "mean") -> None:
        self.reference = reference

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X: ArrayLike, y: None = None) -> MultiplicativeScatterCorrection:
        """Learn (or check) the reference spectrum.

        Parameters
        ----------
        X : array-like of shape (n_pixels, n_bands)
            Training spectra, one per row. At least 2 bands.
        y : None
            Ignored.

        Returns
        -------
        self : MultiplicativeScatterCorrection
            The fitted transformer.
        """
        X = validate_spectra(self, X, reset=True, ensure_min_features=2)
        n_features = X.shape[1]
        if isinstance(self.reference, str):
            if self.reference == "mean":
                reference = X.mean(axis=0, dtype=np.float64)
            else:
                reference = np.median(X, axis=0).astype(np.float64)
        else:
            reference = np.asarray(self.reference, dtype=np.float64)
            if reference.shape != (n_features,):
                raise WavelengthError(
                    f"the reference spectrum has shape {reference.shape} but X has "
                    f"{n_features} feature(s) (bands)",
                    field="reference",
                    fix=f"pass a 1-D reference with {n_features} values, one per band, or use "
                    "reference='mean'",
                )
            if not np.all(np.isfinite(reference)):
                raise WavelengthError(
                    "the reference spectrum contains NaN or infinite values",
                    field="reference",
                    fix="pass a finite reference spectrum",
                )
        centred = reference - reference.mean()
        if constant_rows(reference.mean(), centred @ centred / n_features, n_features):
            raise WavelengthError(
                "the reference spectrum is flat, so spectra cannot be regressed on it",
                field="reference",
                fix="use a reference with spectral structure (e.g. the mean of tissue spectra, "
                "not of background or saturated pixels)",
            )
        self.reference_ = reference
        return self

    def transform(self, X: ArrayLike) -> NDArray[np.floating]:
        """Scatter-correct each spectrum against ``reference_``.

        Parameters
        ----------
        X : array-like of shape (n_pixels, n_bands)
            Spectra, one per row.

        Returns
        -------
        X_msc : ndarray of shape (n_pixels, n_bands)
            ``(x - a) / b`` per row; rows with ``b`` indistinguishable from 0 are zeros.
        """
        check_is_fitted(self)
        X = validate_spectra(self, X, reset=False)
        X_msc, degenerate = msc(X, self.reference_)
        if degenerate.any():
            warn_degenerate(
                int(degenerate.sum()),
                X.shape[0],
                "are flat or uncorrelated with the reference (slope b ~ 0), so MSC is undefined "
                "for them",
                "those rows were set to 0",
                "mask background, saturated or dead pixels before MSC",
            )
        return X_msc

    def __sklearn_tags__(self) -> Tags:
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags
