r"""Fast, exact evaluation of fitted pipelines on tiles of pixels.

``pipeline.predict(pixels)`` on an SVM asks libsvm for one pixel at a time; here the same
decision functions are evaluated with chunked matrix products (BLAS), and the pixels whose
decision is too close to a tie for that evaluation to be trusted are handed to scikit-learn.

What is evaluated
-----------------
Preprocessing (:mod:`hsi_tumor.preprocessing._affine`): steps that are not linear along the
bands (SNV included) are called with their own ``transform``, so their rounding is
scikit-learn's; the affine steps after the last of them (PCA, IncrementalPCA, scalers,
Savitzky–Golay, band selections) are fused into one affine map — with a linear decision for
linear models, and for kernels when scikit-learn evaluates them in float64 (see :mod:`._svm`).

Final estimators
    * ``SVC``/``NuSVC`` (RBF, linear, polynomial, sigmoid kernels; binary and multiclass;
      ``decision_function_shape`` 'ovr' or 'ovo'; ``break_ties``) without probability
      estimates: libsvm's votes from the one-vs-one decisions (:mod:`._svm`).
    * Linear classifiers (any ``LinearClassifierMixin``: LogisticRegression, LinearSVC,
      RidgeClassifier, SGDClassifier, LinearDiscriminantAnalysis, PLS-DA, ...):
      ``d = X Wᵀ + w₀`` fused with the preprocessing (:mod:`._linear`); ``d > 0`` picks
      ``classes_[1]`` for two classes, ``argmax d`` otherwise. Probabilities for
      LogisticRegression and LinearDiscriminantAnalysis (``expit(d)`` for two classes, softmax
      otherwise) and SGDClassifier with log loss (one-vs-rest ``expit`` normalised to sum 1).
    * ``CalibratedClassifierCV`` (method 'sigmoid' or 'isotonic', one or several calibrated
      classifiers) around any of the above: the base classifier's ``decision_function`` ``t_k``
      (the one-vs-rest form for a multiclass SVC), each class's calibrator — Platt's
      ``q = 1 / (1 + exp(a t + b))`` or the isotonic step function interpolated linearly and
      clipped to its range — then ``p = (1 − q, q)`` for two classes, or ``q / Σq`` (uniform when
      ``Σq = 0``), averaged over the calibrated classifiers; ``predict`` is ``argmax p``.

Anything else (SVC with ``probability=True``, tree ensembles, neighbours, temperature
calibration, sparse support vectors) gives ``None``: the caller uses scikit-learn.

What was analysed
-----------------
:func:`analyse` describes a pipeline as an :class:`Analysis`: its kind, its parts (an
:class:`SVCMember` or :class:`LinearMember` — the scorer of the preprocessing and decision —
or, for ``CalibratedClassifierCV``, one :class:`CalibratedPart` per calibrated classifier with
its member, :class:`Sigmoid` / :class:`Isotonic` calibrators and class positions) and the kind
of probabilities of a linear classifier. :class:`FastPredictor` evaluates it on the CPU; the
GPU path (:mod:`hsi_tumor.inference._device_model`) reads the same description.

Near ties
---------
Every decision comes with a per-pixel bound ``e`` on its distance from scikit-learn's value
(rounding in float32 and of scikit-learn's own float32 preprocessing; see :mod:`._svm` and
:mod:`._linear`). A pixel is *unsure* when

* a one-vs-one decision is within ``e`` of 0 (its vote could flip), or a binary decision is;
* the two largest scores of an ``argmax`` are within the sum of their bounds;
* for ``argmax`` of probabilities, the two largest are within twice the probability bound:
  monotone maps (expit, calibrators) move by at most ``|g(t + e) − g(t − e)|``, softmax by
  ``2 max e · p (1 − p)``, a normalisation ``q / Σq`` by ``2 Σδq / (Σq − Σδq)`` (unsure when
  ``Σq`` could be 0, where scikit-learn switches to uniform probabilities).

Probabilities themselves are re-evaluated where their bound is large. Kernel SVMs are
evaluated in float64 (:mod:`._svm`), so their calibrated probabilities' bounds are about 1e-9:
pixels whose bound exceeds ``KERNEL_PROBA_LIMIT`` go to scikit-learn (none, on every model
measured). After isotonic calibration pixels whose calibrated value could move by more than
``ISOTONIC_LIMIT`` (steep steps of the step function) go to scikit-learn, and for linear models
those whose bound exceeds ``LINEAR_PROBA_LIMIT``. These two bounds are far from attained
(measured errors are 1/15–1/400 of them).

Unsure pixels — typically 0.1–1 % — are evaluated again by the pipeline itself
(``pipeline.predict``/``predict_proba`` on those pixels only), so labels equal scikit-learn's
except where a decision is within float rounding of a tie.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import expit, softmax
from sklearn.calibration import CalibratedClassifierCV
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
from sklearn.linear_model import LogisticRegression, SGDClassifier
from sklearn.linear_model._base import LinearClassifierMixin
from sklearn.preprocessing import LabelEncoder
from sklearn.svm import SVC, NuSVC

from hsi_tumor.inference._linear import LinearScorer
from hsi_tumor.inference._svm import KernelScorer, ovr_decision, svc_scorer, vote
from hsi_tumor.preprocessing._affine import flatten_steps, split_chain

__all__ = [
    "PROBA_FUNCTIONS",
    "Analysis",
    "CalibratedPart",
    "FastPredictor",
    "Isotonic",
    "LinearMember",
    "SVCMember",
    "Sigmoid",
    "analyse",
    "fast_predictor",
]

#: Isotonic calibration: re-evaluate pixels whose calibrated value could move by more than this
#: within the decision's error bound (the bound is ~100x the measured error, so this is ~1e-5).
ISOTONIC_LIMIT = 1e-3

#: Calibrated kernel SVMs: pixels whose calibrated value could move by more than this within
#: the decision's bound go to scikit-learn (the float64 bound is about 1e-9 on real spectra).
KERNEL_PROBA_LIMIT = 1e-6

#: Linear models: re-evaluate pixels whose probability bound exceeds this (large decisions of
#: weakly regularised models amplify scikit-learn's own float32 preprocessing noise).
LINEAR_PROBA_LIMIT = 1e-4

# --- members: a decision function of the pixels, in scikit-learn's convention -------------


class SVCMember:
    """An SVC: libsvm pair decisions, votes, and ``decision_function`` in its shape.

    Attributes
    ----------
    scorer : KernelScorer or LinearScorer
        The preprocessing and pair decisions (:mod:`._svm`; linear kernels collapse into a
        :class:`~hsi_tumor.inference._linear.LinearScorer`).
    n_classes : int
    shape : {'ovr', 'ovo'}
        The SVC's ``decision_function_shape``.
    break_ties : bool
        Whether ``predict`` is the argmax of the 'ovr' decision (``break_ties`` with more than
        two classes) rather than libsvm's votes.
    """

    def __init__(self, scorer, svc) -> None:
        self.scorer = scorer
        self.n_classes = len(svc.classes_)
        self.shape = svc.decision_function_shape
        self.break_ties = bool(svc.break_ties) and self.shape == "ovr" and self.n_classes > 2

    def pair_decisions(self, x, features=None):
        dec, err = self.scorer(x, features)
        unsure = np.any(np.abs(dec) <= err, axis=1)
        return dec, err, unsure

    def response(self, x, features=None):
        """``decision_function`` (n, k), its bound (n, k) and the pixels whose votes may flip;
        ``features``, when given, receives the classifier's features."""
        dec, err, unsure = self.pair_decisions(x, features)
        if self.n_classes == 2:
            return -dec, err, unsure
        if self.shape == "ovo":
            return dec, np.broadcast_to(err, dec.shape), unsure
        # |Δ x / (3 (|x| + 1))| ≤ |Δx| / 3; a class's confidence sums n_classes − 1 pairs
        total = np.broadcast_to(err, dec.shape).max(axis=1, keepdims=True)
        total = total * (self.n_classes - 1) / 3
        ovr = ovr_decision(dec, self.n_classes)
        return ovr, np.broadcast_to(total, ovr.shape), unsure

    def labels(self, x, features=None):
        """Class indices as ``SVC.predict`` and the unsure pixels."""
        if self.break_ties:
            ovr, err, unsure = self.response(x, features)
            return _argmax_unsure(ovr, err, unsure)
        dec, _, unsure = self.pair_decisions(x, features)
        return vote(dec, self.n_classes), unsure


class LinearMember:
    """A linear classifier: ``decision_function`` and ``predict``.

    Attributes
    ----------
    scorer : LinearScorer
        The preprocessing and the decision fused (:mod:`._linear`).
    n_classes : int
    """

    def __init__(self, scorer: LinearScorer, n_classes: int) -> None:
        self.scorer = scorer
        self.n_classes = n_classes

    def response(self, x, features=None):
        """Decisions, bounds, no unsure pixel yet; ``features``, when given, receives the
        classifier's features (the decision is then evaluated on them, not fused)."""
        dec, err = self.scorer(x, features)
        return dec, err, np.zeros(dec.shape[0], dtype=bool)

    def labels(self, x, features=None):
        return self.labels_of(*self.response(x, features))

    @staticmethod
    def labels_of(dec, err, unsure):
        """``predict``'s class indices from the decisions, and the unsure pixels."""
        if dec.shape[1] == 1:
            return (dec[:, 0] > 0).astype(np.intp), unsure | (np.abs(dec[:, 0]) <= err[:, 0])
        return _argmax_unsure(dec, err, unsure)


def _argmax_unsure(scores, err, unsure):
    """``argmax`` and pixels whose top two scores are within their bounds of each other."""
    idx = np.argmax(scores, axis=1)
    top2 = np.partition(scores, -2, axis=1)[:, -2:]
    gap = top2[:, 1] - top2[:, 0]
    return idx, unsure | (gap <= 2 * np.max(err, axis=1))


def _member(prefix_steps: list, estimator):
    """A member for ``prefix_steps`` then ``estimator`` (the last step), or None."""
    if isinstance(estimator, (SVC, NuSVC)):
        if hasattr(estimator, "predict_proba"):
            return None  # libsvm's pairwise coupling (probability=True) is not reproduced
        scorer = svc_scorer(prefix_steps, estimator)
        return None if scorer is None else SVCMember(scorer, estimator)
    if isinstance(estimator, LinearClassifierMixin) and hasattr(estimator, "coef_"):
        coef = np.atleast_2d(np.asarray(estimator.coef_, dtype=np.float64))  # Ridge: 1-D
        intercept = np.broadcast_to(
            np.asarray(estimator.intercept_, dtype=np.float64), (coef.shape[0],)
        )
        if coef.ndim != 2:
            return None
        scorer = LinearScorer(split_chain(prefix_steps), coef.T, intercept)
        return LinearMember(scorer, len(estimator.classes_))
    return None


# --- probabilities of linear classifiers --------------------------------------------------


def proba_expit_softmax(dec, err):
    """LogisticRegression / LDA: ``(1 − σ(d), σ(d))`` for two classes, else softmax."""
    if dec.shape[1] == 1:
        p = expit(dec[:, 0])
        perr = np.abs(expit(dec[:, 0] + err[:, 0]) - expit(dec[:, 0] - err[:, 0]))
        return np.stack([1 - p, p], axis=1), perr
    # δp_i = p_i Σ_j p_j (δd_i − δd_j), so |δp_i| ≤ 2 max e · p_i (1 − p_i)
    p = softmax(dec, axis=1)
    return p, 2 * np.max(err, axis=1) * np.max(p * (1 - p), axis=1)


def proba_ovr(dec, err):
    """``LinearClassifierMixin._predict_proba_lr``: one-vs-rest expit, normalised."""
    if dec.shape[1] == 1:
        return proba_expit_softmax(dec, err)
    q = expit(dec)
    dq = np.abs(expit(dec + err) - expit(dec - err))
    return _normalise(q, dq)


def _normalise(q, dq):
    """``q / Σq`` (uniform where ``Σq = 0``) and a bound on its error."""
    total = q.sum(axis=1)
    spread = dq.sum(axis=1)
    zero = total == 0
    p = np.divide(
        q, total[:, np.newaxis], out=np.full_like(q, 1 / q.shape[1]), where=~zero[:, np.newaxis]
    )
    low = total - spread
    with np.errstate(divide="ignore", invalid="ignore"):
        perr = np.where(low > 0, 2 * spread / low, np.where(spread > 0, np.inf, 0.0))
    return p, perr


#: The kinds of probabilities of a linear classifier: ``(dec, err) -> (p, bound)``.
PROBA_FUNCTIONS = {"softmax": proba_expit_softmax, "ovr": proba_ovr}


def _sgd_proba(estimator):
    return "ovr" if estimator.loss == "log_loss" else None


#: Final linear classifiers whose ``predict_proba`` is reproduced: class -> (estimator -> kind
#: of :data:`PROBA_FUNCTIONS`, or None).
LINEAR_PROBA = {
    LogisticRegression: lambda est: "softmax",
    LinearDiscriminantAnalysis: lambda est: "softmax",
    SGDClassifier: _sgd_proba,
}


def _linear_proba(estimator):
    for cls in type(estimator).__mro__:
        if cls in LINEAR_PROBA:
            return LINEAR_PROBA[cls](estimator)
    return None


# --- calibration --------------------------------------------------------------------------


class Sigmoid:
    """Platt's calibrator ``q = 1 / (1 + exp(a t + b))`` (attributes ``a``, ``b``)."""

    def __init__(self, calibrator) -> None:
        self.a, self.b = float(calibrator.a_), float(calibrator.b_)

    def __call__(self, t):
        return expit(-(self.a * t + self.b))


class Isotonic:
    """An isotonic calibrator: ``np.interp(clip(t, lo, hi), x, y)``."""

    def __init__(self, calibrator) -> None:
        self.x = np.asarray(calibrator.X_thresholds_, dtype=np.float64)
        self.y = np.asarray(calibrator.y_thresholds_, dtype=np.float64)
        self.lo, self.hi = float(calibrator.X_min_), float(calibrator.X_max_)

    def __call__(self, t):
        return np.interp(np.clip(t, self.lo, self.hi), self.x, self.y)


def _calibrator(calibrator, method: str):
    from sklearn.isotonic import IsotonicRegression

    if method == "sigmoid" and hasattr(calibrator, "a_"):
        return Sigmoid(calibrator)
    if (
        method == "isotonic"
        and isinstance(calibrator, IsotonicRegression)
        and calibrator.out_of_bounds == "clip"
        and getattr(calibrator, "increasing_", True) in (True, np.True_)
    ):
        return Isotonic(calibrator)
    return None


class CalibratedPart:
    """One ``_CalibratedClassifier``: a member, its calibrators and the class positions.

    Attributes
    ----------
    member : SVCMember or LinearMember
    calibrators : list of Sigmoid or Isotonic
        One per column of the member's ``decision_function``.
    positions : list of int
        The column of ``classes_`` each calibrator's class takes.
    n_classes : int
        Of the calibrated classifier (``classes_`` of ``CalibratedClassifierCV``).
    """

    def __init__(self, member, calibrators, positions, n_classes) -> None:
        self.member = member
        self.calibrators = calibrators
        self.positions = positions
        self.n_classes = n_classes
        self.isotonic = any(isinstance(c, Isotonic) for c in calibrators)
        self.kernel = isinstance(getattr(member, "scorer", None), KernelScorer)

    def proba(self, x, features=None):
        t, err, unsure = self.member.response(x, features)
        q, dq = self._calibrate(t, err)
        if self.kernel:  # float64 kernels: a wide bound is an outlier, not the rule
            unsure = unsure | (dq.max(axis=1) > KERNEL_PROBA_LIMIT)
        if self.isotonic:  # steep steps: a small decision error is a large probability error
            unsure = unsure | (dq.max(axis=1) > ISOTONIC_LIMIT)
        if self.n_classes == 2:
            q[:, 0] = 1.0 - q[:, 1]
            p, perr = q, dq[:, 1]
        else:
            p, perr = _normalise(q, dq)
        p[(1.0 < p) & (p <= 1.0 + 1e-5)] = 1.0
        return p, perr, unsure

    def _calibrate(self, t, err):
        """Calibrated ``q`` (n, n_classes) of decisions ``t`` and bounds ``dq`` from ``err``."""
        n = t.shape[0]
        q = np.zeros((n, self.n_classes))
        dq = np.zeros((n, self.n_classes))
        for k, (pos, cal) in enumerate(zip(self.positions, self.calibrators, strict=False)):
            if k >= t.shape[1]:
                break
            if self.n_classes == 2:
                pos += 1
            q[:, pos] = cal(t[:, k])
            dq[:, pos] = np.abs(cal(t[:, k] + err[:, k]) - cal(t[:, k] - err[:, k]))
        return q, dq


# --- what was analysed, and the predictor --------------------------------------------------


@dataclass(frozen=True)
class Analysis:
    """What :func:`analyse` understood of a fitted pipeline; read by the CPU and GPU paths.

    Attributes
    ----------
    kind : {'svc', 'linear', 'calibrated'}
        The final estimator: an SVC/NuSVC, a linear classifier, or ``CalibratedClassifierCV``
        around either.
    parts : tuple
        One :class:`SVCMember` or :class:`LinearMember` (kinds 'svc', 'linear'), or one
        :class:`CalibratedPart` per calibrated classifier (kind 'calibrated', whose
        probabilities are their average).
    proba : {'softmax', 'ovr'} or None
        A linear classifier's probabilities (:data:`PROBA_FUNCTIONS`): ``expit``/softmax of
        the decisions (logistic regression, LDA) or one-vs-rest ``expit`` normalised (log-loss
        SGD); None without ``predict_proba`` and for the other kinds.
    """

    kind: str
    parts: tuple
    proba: str | None = None
    #: Whether the first member's preprocessing is the pipeline's head (``pipeline[:-1]``):
    #: False when a calibrated estimator is itself a pipeline with steps of its own.
    shares_features: bool = True

    @property
    def has_proba(self) -> bool:
        """Whether the pipeline's probabilities are evaluated."""
        return self.kind == "calibrated" or self.proba is not None

    @property
    def first_member(self) -> SVCMember | LinearMember:
        """The member of the first part (what a calibrated classifier's calibrators read)."""
        part = self.parts[0]
        return part.member if self.kind == "calibrated" else part


class FastPredictor:
    """A fitted pipeline's ``predict`` (and ``predict_proba``) on tiles of pixels.

    Build it with :func:`fast_predictor`. All matrices are precomputed at construction; a call
    only reads them, so one instance serves several threads at once. Run it with BLAS limited
    to one thread per caller thread.

    Parameters
    ----------
    pipeline : fitted Pipeline or classifier
    analysis : Analysis
        From :func:`analyse`.

    Attributes
    ----------
    analysis : Analysis
        What is evaluated.
    classes_ : ndarray
        The pipeline's ``classes_``.
    has_proba : bool
        Whether the final estimator has ``predict_proba`` (then calls return probabilities).
    n_reevaluated : int
        Pixels handed back to scikit-learn so far (near ties); a statistic, not thread-exact.
    feature_width : int or None
        The number of the classifier's features when a call can hand them back (``features=``):
        the features of ``pipeline[:-1].transform`` of the pixels, which kernel SVMs evaluate
        their kernels on and linear models their decision (unfused when asked for them); None
        when the calibrated estimator holds preprocessing of its own.
    """

    def __init__(self, pipeline, analysis: Analysis) -> None:
        self.pipeline = pipeline
        self.analysis = analysis
        self.classes_ = pipeline.classes_
        self.has_proba = analysis.has_proba
        self._proba_fn = None if analysis.proba is None else PROBA_FUNCTIONS[analysis.proba]
        self.n_reevaluated = 0
        scorer = getattr(analysis.first_member, "scorer", None)
        width = getattr(scorer, "n_features", None)  # KernelScorer and LinearScorer
        self.feature_width = width if analysis.shares_features else None

    def _input(self, pixels) -> np.ndarray:
        x = np.asarray(pixels)
        if x.dtype not in (np.float32, np.float64):
            x = x.astype(np.float64)
        return np.ascontiguousarray(x)

    def __call__(
        self, pixels: np.ndarray, features: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """Labels and probabilities of each pixel.

        Parameters
        ----------
        pixels : ndarray of shape (n, n_bands)
            float32 or float64, finite.
        features : ndarray of shape (n, feature_width), float64, optional
            Filled with the classifier's features (``pipeline[:-1].transform(pixels)`` up to
            float64 rounding) as a by-product; only when :attr:`feature_width` is not None.

        Returns
        -------
        labels : ndarray of shape (n,)
            As ``pipeline.predict(pixels)``.
        probabilities : ndarray of shape (n, n_classes), float32, or None
            As ``pipeline.predict_proba(pixels)``; None when ``has_proba`` is False.
        """
        x = self._input(pixels)
        if x.shape[0] == 0:
            proba = np.empty((0, len(self.classes_)), np.float32) if self.has_proba else None
            return self.classes_[:0], proba
        proba = None
        calibrated = self.analysis.kind == "calibrated"
        parts = self.analysis.parts
        if calibrated:
            total_p, total_err, unsure = None, None, None
            for i, part in enumerate(parts):
                p, perr, u = part.proba(x, features if i == 0 else None)
                if total_p is None:
                    total_p, total_err, unsure = p, perr, u
                else:
                    total_p, total_err, unsure = total_p + p, total_err + perr, unsure | u
            k = len(parts)
            if k > 1:
                total_p, total_err = total_p / k, total_err / k
            idx, unsure = _argmax_unsure(total_p, total_err[:, np.newaxis], unsure)
            proba = total_p
        else:
            member = parts[0]
            if self._proba_fn is None:
                idx, unsure = member.labels(x, features)
            else:
                dec, err, unsure = member.response(x, features)
                idx, unsure = member.labels_of(dec, err, unsure)
                proba, perr = self._proba_fn(dec, err)
                unsure |= perr > LINEAR_PROBA_LIMIT
        labels = self.classes_.take(idx)
        if proba is not None:
            proba = proba.astype(np.float32)
        if unsure.any():
            rows = np.flatnonzero(unsure)
            self.n_reevaluated += rows.size
            sub = x[rows]
            if calibrated:  # its predict is classes_[argmax predict_proba]
                exact = self.pipeline.predict_proba(sub)
                proba[rows] = exact
                labels[rows] = self.classes_.take(np.argmax(exact, axis=1))
            else:
                labels[rows] = self.pipeline.predict(sub)
                if proba is not None:
                    proba[rows] = self.pipeline.predict_proba(sub)
        return labels, proba

    def decision_function(self, pixels: np.ndarray) -> np.ndarray:
        """The final estimator's ``decision_function`` (float64), from the fast path.

        For ``CalibratedClassifierCV``, that of the (first) calibrated classifier's estimator,
        i.e. what its calibrators are applied to. Near ties are not re-evaluated here.
        """
        x = self._input(pixels)
        dec = self.analysis.first_member.response(x)[0]
        return dec[:, 0] if dec.shape[1] == 1 else dec


def _unwrap(estimator):
    """The fitted estimator inside a ``FrozenEstimator`` (``cv="prefit"``)."""
    while type(estimator).__name__ == "FrozenEstimator" and hasattr(estimator, "estimator"):
        estimator = estimator.estimator
    return estimator


def analyse(pipeline) -> Analysis | None:
    """What the fast paths evaluate of a fitted pipeline or estimator, or None if unsupported.

    Parameters
    ----------
    pipeline : fitted Pipeline or classifier
        See the module docstring for the supported steps.

    Returns
    -------
    Analysis or None
        None when a step cannot be evaluated exactly; the caller then uses scikit-learn.
    """
    if not hasattr(pipeline, "classes_"):
        return None
    steps = flatten_steps(pipeline)
    pre, final = steps[:-1], _unwrap(steps[-1])
    if isinstance(final, CalibratedClassifierCV):
        if not hasattr(final, "calibrated_classifiers_"):
            return None
        classes = np.asarray(final.classes_)
        parts = []
        own_steps = False
        for cc in final.calibrated_classifiers_:
            if cc.method not in ("sigmoid", "isotonic"):
                return None
            inner = [_unwrap(s) for s in flatten_steps(_unwrap(cc.estimator))]
            own_steps = own_steps or len(inner) > 1
            member = _member(pre + inner[:-1], inner[-1])
            if member is None:
                return None
            calibrators = [_calibrator(c, cc.method) for c in cc.calibrators]
            if any(c is None for c in calibrators):
                return None
            positions = LabelEncoder().fit(cc.classes).transform(inner[-1].classes_)
            parts.append(CalibratedPart(member, calibrators, list(positions), len(classes)))
        return Analysis("calibrated", tuple(parts), shares_features=not own_steps)
    member = _member(pre, final)
    if member is None:
        return None
    if isinstance(member, SVCMember):
        return Analysis("svc", (member,))
    proba = None
    if hasattr(final, "predict_proba"):
        proba = _linear_proba(final)
        if proba is None:
            return None
    return Analysis("linear", (member,), proba)


def fast_predictor(pipeline) -> FastPredictor | None:
    """A :class:`FastPredictor` for a fitted pipeline or estimator, or None if unsupported.

    Parameters
    ----------
    pipeline : fitted Pipeline or classifier
        See the module docstring for the supported steps.

    Returns
    -------
    FastPredictor or None
        None when a step cannot be evaluated exactly (:func:`analyse`); the caller then uses
        scikit-learn.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.svm import SVC
    >>> from hsi_tumor.preprocessing import StandardNormalVariate
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(200, 30)).cumsum(axis=1)
    >>> y = (X[:, -1] > 0).astype(int)
    >>> model = make_pipeline(StandardNormalVariate(), SVC()).fit(X, y)
    >>> labels, proba = fast_predictor(model)(X)
    >>> bool((labels == model.predict(X)).all()), proba
    (True, None)
    """
    analysis = analyse(pipeline)
    return None if analysis is None else FastPredictor(pipeline, analysis)
