r"""TrainingDomain: is a spectrum like those a model was trained on? (Hotelling's T² and Q)."""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import stats
from sklearn.base import BaseEstimator, _fit_context
from sklearn.utils._param_validation import Interval
from sklearn.utils.validation import check_is_fitted, validate_data

from hsi_tumor._shared.errors import InvalidParameterError, TrainingDataError

__all__ = [
    "MAX_COMPONENTS",
    "RECORD_FIELDS",
    "TrainingDomain",
    "domain_from_record",
    "domain_record",
    "q_limit",
    "t2_limit",
]

#: Most principal components a TrainingDomain keeps (a fraction of the variance never asks for
#: more; the model file stores ``n_components × n_features`` numbers).
MAX_COMPONENTS = 50

_EPS = np.finfo(np.float64).eps
#: Rows per chunk of :meth:`TrainingDomain.statistics`: at least this many, and as many as
#: :data:`CHUNK_VALUES` features (few features: larger chunks, fewer numpy calls, which hold
#: the interpreter's lock and kept two tile threads from running at once).
CHUNK_ROWS = 2048
CHUNK_VALUES = 2**18
#: Q from ``‖x − x̄‖² − ‖t‖²`` only where it is at least this fraction of ``‖x − x̄‖²`` (its
#: rounding, a few ε of ``‖x − x̄‖²``, is then below about 1e-9 of Q); the residual elsewhere.
Q_GUARD = 1e-6


def t2_limit(n_components: int, n_samples: int, confidence: float) -> float:
    r"""Upper control limit of Hotelling's T² for a *new* observation.

    :math:`T^2_\mathrm{lim} = \frac{k (n - 1)(n + 1)}{n (n - k)} F_{k,\,n-k}(c)`, with
    :math:`F_{k,\,n-k}(c)` the ``c`` quantile of the F distribution (Tracy, Young & Mason 1992
    for a future observation independent of the ``n`` training samples).
    """
    k, n = int(n_components), int(n_samples)
    return float(k * (n - 1) * (n + 1) / (n * (n - k)) * stats.f.ppf(confidence, k, n - k))


def q_limit(residual_variances: ArrayLike, confidence: float) -> float:
    r"""Upper control limit of the Q residual (SPE), Jackson & Mudholkar (1979).

    With :math:`\theta_i = \sum_j \lambda_j^i` over the residual eigenvalues :math:`\lambda_j`,
    :math:`h_0 = 1 - 2\theta_1\theta_3 / (3\theta_2^2)` and :math:`z_c` the standard normal
    ``c`` quantile,

    .. math:: Q_\mathrm{lim} = \theta_1 \left[\frac{z_c \sqrt{2\theta_2 h_0^2}}{\theta_1}
              + 1 + \frac{\theta_2 h_0 (h_0 - 1)}{\theta_1^2}\right]^{1/h_0}.

    When :math:`h_0 \le 0` (a long tail of small eigenvalues) or the bracket is not positive,
    the formula is undefined and Box's (1954) approximation :math:`Q \approx g\,\chi^2_h`,
    :math:`g = \theta_2/\theta_1`, :math:`h = \theta_1^2/\theta_2` (the same first two moments)
    is used. Returns 0 when every residual eigenvalue is 0.
    """
    lam = np.clip(np.asarray(residual_variances, dtype=np.float64), 0.0, None)
    theta1, theta2, theta3 = (float(np.sum(lam**i)) for i in (1, 2, 3))
    if theta1 <= 0.0 or theta2 <= 0.0:
        return 0.0
    h0 = 1.0 - 2.0 * theta1 * theta3 / (3.0 * theta2**2)
    z = float(stats.norm.ppf(confidence))
    if h0 > 1e-3:
        bracket = (
            z * np.sqrt(2.0 * theta2 * h0**2) / theta1 + 1.0 + theta2 * h0 * (h0 - 1.0) / theta1**2
        )
        if bracket > 0.0:
            return float(theta1 * bracket ** (1.0 / h0))
    g, h = theta2 / theta1, theta1**2 / theta2
    return float(g * stats.chi2.ppf(confidence, h))


class TrainingDomain(BaseEstimator):
    r"""The region of feature space a model was trained on, from a PCA model of its spectra.

    ``fit`` builds a principal component model of the training features (mean-centred, not
    scaled); :meth:`statistics` gives each new spectrum's Hotelling's T² (its distance from
    the training mean *within* the principal subspace, in units of the training spread) and
    Q residual, or squared prediction error (its squared distance *from* that subspace);
    :meth:`predict` flags a spectrum as outside the training domain when either exceeds its
    control limit. A material the model never saw (another tissue, a glove, metal, glare)
    has either an unusual combination of the known variation (T²) or a spectral shape the
    training data do not contain (Q).

    :func:`hsi_tumor.train` fits one on the features its classifier sees and stores it as
    ``TumorModel.domain``; :func:`hsi_tumor.classify_cube` then fills ``TumorMap.outlier``.

    Parameters
    ----------
    n_components : int or float, default=0.99
        Principal components kept. An integer is the number; a float in (0, 1) is the
        fraction of the training variance they must explain (the fewest that do). Either way
        at most :data:`MAX_COMPONENTS`, ``n_samples − 2`` and the number of components with
        non-zero variance.
    confidence : float, default=0.999
        Probability that a spectrum from the training distribution is *not* flagged, by
        either statistic: each limit is set at the confidence :math:`\sqrt{c}` (Šidák), so
        that the expected false-alarm rate of the combined flag is :math:`1 - c` (0.1 % by
        default) for multivariate normal data, whose T² and Q are independent. Real spectra
        have heavier tails: see Notes.

    Attributes
    ----------
    mean_ : ndarray of shape (n_features,)
        Mean of the training features.
    components_ : ndarray of shape (n_components_, n_features)
        Principal axes (orthonormal rows), by decreasing variance.
    explained_variance_ : ndarray of shape (n_components_,)
        Variance of the training scores on each axis (``ddof=1``).
    residual_variance_ : ndarray of shape (3,)
        :math:`\theta_1, \theta_2, \theta_3`: sums of the first three powers of the residual
        eigenvalues (those of the discarded components).
    total_variance_ : float
        Sum of the variances of all features.
    n_components_ : int
        Components kept.
    n_samples_ : int
        Training spectra.
    statistic_confidence_ : float
        :math:`\sqrt{c}`, the confidence of each limit.
    t2_limit_ : float
        Limit of Hotelling's T² (:func:`t2_limit`).
    q_limit_ : float
        Limit of Q (:func:`q_limit`), at least :math:`\sqrt{\varepsilon}` × ``total_variance_``.
    n_features_in_ : int
        Features seen during ``fit``.

    Notes
    -----
    With :math:`\bar x` the training mean, :math:`P` (``n_features × k``) the kept axes and
    :math:`\lambda_j` their variances, a spectrum :math:`x` has scores
    :math:`t = P^\top (x - \bar x)` and

    .. math:: T^2 = \sum_{j=1}^{k} \frac{t_j^2}{\lambda_j}, \qquad
              Q = \lVert (I - P P^\top)(x - \bar x) \rVert^2 .

    Limits (:func:`t2_limit`, :func:`q_limit`), each at the confidence :math:`\sqrt{c}`:
    :math:`T^2_\mathrm{lim} = \frac{k (n-1)(n+1)}{n (n-k)} F_{k,\,n-k}`, the F-distribution
    limit for a new observation, and Jackson & Mudholkar's :math:`Q_\mathrm{lim}` from the
    residual eigenvalues. When the training data have (numerically) no residual variance, Q
    of training-like spectra is rounding noise: the Q limit is never below
    :math:`\sqrt{\varepsilon}\,\sum_j \operatorname{var}(x_j)`, :math:`\varepsilon` the float64
    machine epsilon.

    Both limits assume multivariate normal features; pixel spectra are not (mixtures of
    tissues, texture, noise that is not Gaussian), so the measured false-alarm rate on
    held-out pixels of trained classes is higher than :math:`1 - c`. On Indian Pines (three
    classes trained on one half of the scene, held out in the other) the defaults flagged
    1.2–1.5 % of held-out pixels with SNV → PCA(20) features, but 10–11 % with SNV alone
    (200 features); ``docs/classification.md`` gives the measurements
    (``bench/bench_outlier.py``).

    The fit is a symmetric eigendecomposition of the ``n_features × n_features`` covariance
    in float64 (or an SVD of the centred data when there are fewer samples than features).

    References
    ----------
    .. [1] Jackson, J. E., Mudholkar, G. S. (1979). Control procedures for residuals
       associated with principal component analysis. *Technometrics* 21(3), 341–349.
    .. [2] Hotelling, H. (1947). Multivariate quality control, illustrated by the air testing
       of sample bombsights. In *Techniques of Statistical Analysis*, 111–184. McGraw-Hill.
    .. [3] Tracy, N. D., Young, J. C., Mason, R. L. (1992). Multivariate control charts for
       individual observations. *Journal of Quality Technology* 24(2), 88–95.
    .. [4] MacGregor, J. F., Kourti, T. (1995). Statistical process control of multivariate
       processes. *Control Engineering Practice* 3(3), 403–414.
    .. [5] Box, G. E. P. (1954). Some theorems on quadratic forms applied in the study of
       analysis of variance problems, I. *Annals of Mathematical Statistics* 25(2), 290–302.

    Examples
    --------
    >>> import numpy as np
    >>> from hsi_tumor.models import TrainingDomain
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(500, 3)) * [3.0, 1.0, 0.01]
    >>> domain = TrainingDomain(n_components=2).fit(X)
    >>> domain.predict([[1.0, 0.5, 0.0], [30.0, 0.0, 0.0], [0.0, 0.0, 1.0]]).tolist()
    [False, True, True]
    """

    _parameter_constraints: dict = {
        "n_components": [
            Interval(Integral, 1, None, closed="left"),
            Interval(Real, 0.0, 1.0, closed="neither"),
        ],
        "confidence": [Interval(Real, 0.5, 1.0, closed="neither")],
    }

    def __init__(self, *, n_components: int | float = 0.99, confidence: float = 0.999) -> None:
        self.n_components = n_components
        self.confidence = confidence

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X: ArrayLike, y: None = None) -> TrainingDomain:
        """Fit the PCA model of the training features and its control limits.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training features, one row per spectrum (finite).
        y : None
            Ignored.

        Returns
        -------
        self : TrainingDomain

        Raises
        ------
        TrainingDataError
            Fewer than 3 samples, or features without any variance.
        InvalidParameterError
            An integer ``n_components`` that leaves fewer than 2 residual degrees of freedom
            (``n_samples − 2``), or more than the components with non-zero variance.
        """
        X = validate_data(self, X, dtype=np.float64, ensure_min_samples=1)
        n, p = X.shape
        if n < 3:
            raise TrainingDataError(
                f"{n} training spectra; the T² limit needs at least 3",
                field="X",
                fix="fit on the training set (hundreds of spectra)",
            )
        mean = X.mean(axis=0)
        centred = X - mean
        if n >= p:
            eigenvalues, vectors = np.linalg.eigh(centred.T @ centred / (n - 1))
            order = np.argsort(eigenvalues)[::-1]
            eigenvalues, axes = eigenvalues[order], vectors[:, order].T
        else:  # fewer samples than features: the thin SVD, and n - 1 ≤ p − 1 eigenvalues
            _, s, axes = np.linalg.svd(centred, full_matrices=False)
            eigenvalues = s**2 / (n - 1)
        del centred
        eigenvalues = np.clip(eigenvalues, 0.0, None)
        total = float(eigenvalues.sum())
        if not total > 0.0:
            raise TrainingDataError(
                "the training features have no variance (all spectra are equal)",
                field="X",
                fix="fit on spectra of the training set, which vary",
            )
        rank = int(np.sum(eigenvalues > eigenvalues[0] * max(n, p) * _EPS))
        k = self._n_components(eigenvalues, total, n, rank)
        # deterministic signs: the largest loading of each axis is positive
        axes = axes[:k] * np.sign(axes[np.arange(k), np.argmax(np.abs(axes[:k]), axis=1)])[:, None]
        residual = eigenvalues[k:]

        self.mean_ = mean
        self.components_ = np.ascontiguousarray(axes)
        self.explained_variance_ = eigenvalues[:k].copy()
        self.residual_variance_ = np.array([np.sum(residual**i) for i in (1, 2, 3)])
        self.total_variance_ = total
        self.n_components_ = k
        self.n_samples_ = n
        self.statistic_confidence_ = float(np.sqrt(self.confidence))
        self.t2_limit_ = t2_limit(k, n, self.statistic_confidence_)
        self.q_limit_ = max(q_limit(residual, self.statistic_confidence_), np.sqrt(_EPS) * total)
        return self

    def _n_components(self, eigenvalues: NDArray, total: float, n: int, rank: int) -> int:
        most = min(MAX_COMPONENTS, n - 2, rank)
        if isinstance(self.n_components, Integral):
            k = int(self.n_components)
            if k > most:
                raise InvalidParameterError(
                    f"n_components={k}, but at most {most} can be kept ({n} samples leave "
                    f"{n - 2}, {rank} components have variance, the cap is {MAX_COMPONENTS})",
                    field="n_components",
                    fix=f"use at most {most}, or a fraction of the variance such as 0.99",
                )
            return k
        explained = np.cumsum(eigenvalues) / total
        k = int(np.searchsorted(explained, float(self.n_components) - 1e-12) + 1)
        return max(1, min(k, most))

    def statistics(self, X: ArrayLike) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Hotelling's T² and the Q residual of each spectrum.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Features, as the ones ``fit`` saw (finite).

        Returns
        -------
        t2 : ndarray of shape (n_samples,), float64
        q : ndarray of shape (n_samples,), float64
        """
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=None, ensure_min_samples=0)
        return self._statistics(X)

    def _statistics(self, X: NDArray) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """:meth:`statistics` of a validated, finite 2-D array (no checks: tiles).

        In chunks of :data:`CHUNK_ROWS` rows or more (:data:`CHUNK_VALUES`), whose float64
        working arrays stay in cache (3.4x faster than whole tiles for 200 features). Q is
        ``‖x − x̄‖² − ‖t‖²`` (the components are orthonormal), which needs one product instead
        of two (the residual's costs as much as the scores'); where that difference cancels —
        Q below :data:`Q_GUARD` times ``‖x − x̄‖²``, where its rounding error could exceed
        about 1e-9 of Q — Q is the squared norm of the residual itself (on Indian Pines with
        SNV, 200 features and 32 components, Q is at least 7e-4 of ``‖x − x̄‖²`` and the
        difference within 4e-12 of the residual's norm; with as many components as features,
        Q is rounding alone and the residual is used).
        """
        n, p = X.shape
        t2, q = np.empty(n), np.empty(n)
        scale = 1.0 / self.explained_variance_
        axes = np.ascontiguousarray(self.components_.T)
        rows = max(1, min(n, max(CHUNK_ROWS, CHUNK_VALUES // max(1, p))))  # 1: no rows
        # working arrays reused chunk after chunk; the centring converts as it subtracts
        centred_buf, scores_buf = np.empty((rows, p)), np.empty((rows, axes.shape[1]))
        for start in range(0, n, rows):
            stop = min(n, start + rows)
            centred = np.subtract(X[start:stop], self.mean_, out=centred_buf[: stop - start])
            scores = np.matmul(centred, axes, out=scores_buf[: stop - start])
            t2[start:stop] = np.einsum("ij,ij,j->i", scores, scores, scale)
            norm2 = np.einsum("ij,ij->i", centred, centred)
            chunk_q = norm2 - np.einsum("ij,ij->i", scores, scores)
            close = chunk_q < Q_GUARD * norm2
            if close.sum() * 8 > close.size:  # many (all when k = p): the whole chunk's residual
                centred -= scores @ self.components_
                chunk_q = np.einsum("ij,ij->i", centred, centred)
            elif close.any():  # the residual itself, of those rows
                residual = centred[close] - scores[close] @ self.components_
                chunk_q[close] = np.einsum("ij,ij->i", residual, residual)
            q[start:stop] = chunk_q
        return t2, q

    def predict(self, X: ArrayLike) -> NDArray[np.bool_]:
        """Whether each spectrum lies outside the training domain (T² or Q over its limit).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples,), bool
            True where outside.
        """
        t2, q = self.statistics(X)
        return self.flag(t2, q)

    def flag(self, t2: NDArray, q: NDArray) -> NDArray[np.bool_]:
        """``(t2 > t2_limit_) | (q > q_limit_)``: :meth:`predict` from the statistics."""
        return (t2 > self.t2_limit_) | (q > self.q_limit_)


#: The fitted attributes a model file stores (``model.json``'s ``domain``), with the
#: parameters ``n_components`` and ``confidence``.
RECORD_FIELDS = (
    "n_components",
    "confidence",
    "mean",
    "components",
    "explained_variance",
    "residual_variance",
    "total_variance",
    "n_samples",
    "t2_limit",
    "q_limit",
)


def domain_record(domain: TrainingDomain) -> dict:
    """A fitted :class:`TrainingDomain` as JSON values (floats round-trip exactly)."""
    check_is_fitted(domain)
    return {
        "n_components": int(domain.n_components)
        if isinstance(domain.n_components, Integral)
        else float(domain.n_components),
        "confidence": float(domain.confidence),
        "mean": domain.mean_.tolist(),
        "components": domain.components_.tolist(),
        "explained_variance": domain.explained_variance_.tolist(),
        "residual_variance": domain.residual_variance_.tolist(),
        "total_variance": float(domain.total_variance_),
        "n_samples": int(domain.n_samples_),
        "t2_limit": float(domain.t2_limit_),
        "q_limit": float(domain.q_limit_),
    }


def domain_from_record(record: dict) -> TrainingDomain:
    """The :class:`TrainingDomain` of a :func:`domain_record` whose values were checked
    (``hsi_tumor.models._schema``): arrays of consistent shapes, finite numbers."""
    domain = TrainingDomain(n_components=record["n_components"], confidence=record["confidence"])
    domain.mean_ = np.asarray(record["mean"], dtype=np.float64)
    domain.components_ = np.ascontiguousarray(record["components"], dtype=np.float64)
    domain.explained_variance_ = np.asarray(record["explained_variance"], dtype=np.float64)
    domain.residual_variance_ = np.asarray(record["residual_variance"], dtype=np.float64)
    domain.total_variance_ = float(record["total_variance"])
    domain.n_components_ = int(domain.components_.shape[0])
    domain.n_samples_ = int(record["n_samples"])
    domain.statistic_confidence_ = float(np.sqrt(domain.confidence))
    domain.t2_limit_ = float(record["t2_limit"])
    domain.q_limit_ = float(record["q_limit"])
    domain.n_features_in_ = int(domain.mean_.size)
    return domain
