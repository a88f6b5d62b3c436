"""PLS discriminant analysis (PLS-DA): PLS regression onto one-hot class indicators."""

from __future__ import annotations

from numbers import Integral

import numpy as np
from numpy.typing import ArrayLike, NDArray
from sklearn.base import BaseEstimator, ClassifierMixin, _fit_context
from sklearn.cross_decomposition import PLSRegression
from sklearn.linear_model._base import LinearClassifierMixin
from sklearn.utils._param_validation import Interval
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import validate_data

from hsi_tumor._shared.errors import TrainingDataError

__all__ = ["PLSDAClassifier"]


class PLSDAClassifier(LinearClassifierMixin, ClassifierMixin, BaseEstimator):
    r"""Partial least squares discriminant analysis, the chemometrics classifier.

    A :class:`~sklearn.cross_decomposition.PLSRegression` with ``n_components`` latent
    variables is fitted to the one-hot class indicators (one column per class; for two classes
    a single column, 1 for ``classes_[1]``); a pixel goes to the class with the largest predicted
    indicator (for two classes: the second class when the prediction exceeds 0.5).

    The fitted regression is affine in the spectra, so it is stored as ``coef_`` and
    ``intercept_`` and the decision function is the one of every linear classifier in
    scikit-learn: ``X @ coef_.T + intercept_`` (centred so that 0 is the decision boundary for
    two classes). PLS-DA has no probabilistic output of its own; :func:`hsi_tumor.train`
    calibrates it with :class:`~sklearn.calibration.CalibratedClassifierCV`.

    Parameters
    ----------
    n_components : int, default=10
        Latent variables; reduced to ``min(n_samples - 1, n_features)`` when larger.
    scale : bool, default=True
        Scale each band to unit variance before the regression (as PLSRegression does).

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels.
    coef_ : ndarray of shape (1, n_features) or (n_classes, n_features)
        Weights of the affine decision function.
    intercept_ : ndarray of shape (1,) or (n_classes,)
        Offsets of the decision function.
    n_components_ : int
        Latent variables used.
    n_features_in_ : int
        Number of bands seen during ``fit``.

    Notes
    -----
    With :math:`\hat Y = X B + b_0` the PLS prediction of the indicators, the decision function
    is :math:`\hat Y - 1/2` for two classes and :math:`\hat Y` otherwise.

    References
    ----------
    .. [1] Barker, M., Rayens, W. (2003). Partial least squares for discrimination.
       *Journal of Chemometrics* 17(3), 166–173. doi:10.1002/cem.785

    Examples
    --------
    >>> import numpy as np
    >>> from hsi_tumor.models import PLSDAClassifier
    >>> rng = np.random.default_rng(0)
    >>> X = np.r_[rng.normal(0, 1, (20, 5)), rng.normal(2, 1, (20, 5))]
    >>> y = np.repeat([1, 2], 20)
    >>> clf = PLSDAClassifier(n_components=2).fit(X, y)
    >>> bool(clf.score(X, y) > 0.9)
    True
    """

    _parameter_constraints: dict = {
        "n_components": [Interval(Integral, 1, None, closed="left")],
        "scale": ["boolean"],
    }

    def __init__(self, *, n_components: int = 10, scale: bool = True) -> None:
        self.n_components = n_components
        self.scale = scale

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X: ArrayLike, y: ArrayLike) -> PLSDAClassifier:
        """Fit the PLS regression of the class indicators on the spectra.

        Parameters
        ----------
        X : array-like of shape (n_pixels, n_bands)
            Training spectra.
        y : array-like of shape (n_pixels,)
            Class labels, at least two classes.

        Returns
        -------
        self : PLSDAClassifier
            The fitted classifier.
        """
        X, y = validate_data(self, X, y, dtype=[np.float64, np.float32], y_numeric=False)
        check_classification_targets(y)
        self.classes_, codes = np.unique(y, return_inverse=True)
        n_classes = self.classes_.size
        if n_classes < 2:
            raise TrainingDataError(
                f"PLS-DA needs at least 2 classes in y; got {n_classes} class: {self.classes_}",
                field="y",
                fix="train on spectra of two or more classes",
            )
        indicators = np.eye(n_classes)[codes]
        if n_classes == 2:
            indicators = indicators[:, 1:]
        self.n_components_ = int(min(self.n_components, X.shape[0] - 1, X.shape[1]))
        pls = PLSRegression(n_components=self.n_components_, scale=self.scale)
        pls.fit(X.astype(np.float64, copy=False), indicators)
        # PLSRegression.predict(X) = (X - x_mean) @ coef_.T + intercept_ (its coef_ already
        # includes the scaling): fold the centring into one affine map of the raw spectra
        coef = np.asarray(pls.coef_, dtype=np.float64).reshape(indicators.shape[1], -1)
        self.coef_ = coef
        self.intercept_ = (
            np.asarray(pls.intercept_, dtype=np.float64).reshape(-1) - coef @ pls._x_mean
        )
        if n_classes == 2:
            self.intercept_ = self.intercept_ - 0.5
        return self

    def decision_function(self, X: ArrayLike) -> NDArray[np.float64]:
        """Predicted class indicators (minus 1/2 for two classes).

        Parameters
        ----------
        X : array-like of shape (n_pixels, n_bands)
            Spectra.

        Returns
        -------
        scores : ndarray of shape (n_pixels,) or (n_pixels, n_classes)
            Positive for ``classes_[1]`` with two classes; else the largest wins.
        """
        return super().decision_function(X)
