"""Standard normal variate (SNV): centre and scale each spectrum by its own mean and deviation."""

from __future__ import annotations

import warnings

import numpy as np
from numpy.typing import ArrayLike, NDArray
from sklearn.base import BaseEstimator, OneToOneFeatureMixin, TransformerMixin, _fit_context
from sklearn.utils import Tags
from sklearn.utils.validation import check_is_fitted

from hsi_tumor.preprocessing._base import constant_rows, validate_spectra, warn_degenerate


class StandardNormalVariate(TransformerMixin, OneToOneFeatureMixin, BaseEstimator):
    r"""Centre each spectrum on its mean and divide it by its standard deviation.

    SNV removes multiplicative scatter and additive baseline offsets spectrum by spectrum,
    without a reference spectrum. It is stateless: ``fit`` only records the band count.

    Attributes
    ----------
    n_features_in_ : int
        Number of bands seen during ``fit``.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Column names seen during ``fit``, when ``X`` had string column names.

    See Also
    --------
    MultiplicativeScatterCorrection : Scatter correction against a reference spectrum.

    Notes
    -----
    For a spectrum :math:`x` with :math:`p` bands,

    .. math:: \mathrm{SNV}(x)_j = \frac{x_j - \bar{x}}{s}, \qquad
              \bar{x} = \frac{1}{p}\sum_k x_k, \qquad
              s = \sqrt{\frac{1}{p - 1}\sum_k (x_k - \bar{x})^2},

    i.e. the sample standard deviation (``ddof=1``), as in Barnes et al. (1989). Each output
    row has mean 0 and sample standard deviation 1. At least 2 bands are needed.

    A flat spectrum (:math:`s = 0` up to rounding, e.g. a saturated or dead pixel) has no
    defined SNV: its row is returned as zeros and a
    :class:`~hsi_tumor.preprocessing.DegenerateSpectrumWarning` says how many rows that was.

    float32 input gives float32 output; other dtypes give float64.

    References
    ----------
    .. [1] Barnes, R. J., Dhanoa, M. S., Lister, S. J. (1989). Standard normal variate
       transformation and de-trending of near-infrared diffuse reflectance spectra.
       *Applied Spectroscopy* 43(5), 772–777. doi:10.1366/0003702894202201

    Examples
    --------
    >>> import numpy as np
    >>> from hsi_tumor.preprocessing import StandardNormalVariate
    >>> X = np.array([[1.0, 2.0, 3.0], [10.0, 30.0, 50.0]])
    >>> StandardNormalVariate().fit_transform(X)
    array([[-1.,  0.,  1.],
           [-1.,  0.,  1.]])
    """

    _parameter_constraints: dict = {}

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X: ArrayLike, y: None = None) -> StandardNormalVariate:
        """Record the number of bands; SNV learns nothing else.

        Parameters
        ----------
        X : array-like of shape (n_pixels, n_bands)
            Spectra, one per row. At least 2 bands.
        y : None
            Ignored.

        Returns
        -------
        self : StandardNormalVariate
            The fitted transformer.
        """
        validate_spectra(self, X, reset=True, ensure_min_features=2)
        return self

    def transform(self, X: ArrayLike) -> NDArray[np.floating]:
        """Apply SNV to each spectrum.

        Parameters
        ----------
        X : array-like of shape (n_pixels, n_bands)
            Spectra, one per row.

        Returns
        -------
        X_snv : ndarray of shape (n_pixels, n_bands)
            Each row centred and divided by its sample standard deviation; flat rows are zeros.
        """
        check_is_fitted(self)
        return snv_rows(validate_spectra(self, X, reset=False))

    def __sklearn_tags__(self) -> Tags:
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags


def snv_rows(X: NDArray[np.floating]) -> NDArray[np.floating]:
    """SNV of validated spectra (2-D, float32 or float64, finite): ``transform`` without checks.

    For callers that have checked the input themselves (the classifiers' fast path, on every
    tile); the arithmetic is ``transform``'s, so the result is identical to the bit.
    """
    n_features = X.shape[1]
    mean = X.mean(axis=1, keepdims=True)
    centred = X - mean
    var = np.einsum("ij,ij->i", centred, centred)[:, np.newaxis] / (n_features - 1)
    flat = constant_rows(mean, var, n_features)
    std = np.sqrt(np.where(flat, 1, var))
    X_snv = centred
    X_snv /= std  # in place: `centred` is our own array
    if flat.any():
        flat = flat[:, 0]
        X_snv[flat] = 0
        warn_degenerate(
            int(flat.sum()),
            X.shape[0],
            "are flat (standard deviation 0), so SNV is undefined for them",
            "those rows were set to 0",
            "mask background, saturated or dead pixels before SNV",
        )
    return X_snv


def matches_snv(emulation, n_bands: int) -> bool:
    """Whether ``emulation(rows)`` equals :func:`snv_rows` bit for bit on a probe batch.

    For the fast paths that re-implement numpy's float32 SNV (compiled, on a GPU): their sums
    follow one numpy build's order, so they check it at first use. The probe has
    reflectance-like rows, offsets large against their spread, negative values and a flat row.
    """
    rng = np.random.default_rng(n_bands)
    wl = np.linspace(0.0, 1.0, n_bands)
    rows = 0.4 + 0.2 * np.sin(6 * wl + rng.uniform(0, 6, (96, 1))) * rng.uniform(0.1, 2, (96, 1))
    rows = rows + rng.normal(0, 0.01, rows.shape)
    probe = np.vstack([rows, rows + 100.0, rows - 0.9, rng.normal(0, 1, (64, n_bands))])
    probe[0] = 0.25
    probe = probe.astype(np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the flat row
        expected = snv_rows(probe)
    got = np.asarray(emulation(probe))
    return got.dtype == np.float32 and np.array_equal(got.view(np.uint32), expected.view(np.uint32))
