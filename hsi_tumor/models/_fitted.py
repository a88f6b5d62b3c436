"""The fitted state of a loaded pipeline, checked against what its predictors need.

skops rebuilds objects of trusted *types*; it cannot tell whether their arrays make sense.
scikit-learn's compiled predictors trust their arrays: a child index out of range crashes the
process, a cycle of child indices loops forever, a negative feature index reads memory before
the pixel. :func:`check_fitted` walks every object of a loaded pipeline and checks, by type
(:data:`CHECKS`, most specific class first):

* trees (``sklearn.tree._tree.Tree`` of decision trees, forests and gradient boosting;
  histogram gradient boosting's ``TreePredictor``): every child index after its parent's and
  inside the node array, every node but the root the child of exactly one node (so traversal
  ends), feature indices inside the features the estimator takes, thresholds not NaN or −inf
  (+inf is scikit-learn's split of missing values), finite leaf values, no categorical splits;
* libsvm models (SVC, NuSVC, ...): support vectors, their counts per class, dual
  coefficients, intercepts and probability parameters of consistent shapes and dtypes, finite,
  a known kernel with finite parameters;
* KD and ball trees: rebuilt from their data and compared array for array;
* linear classifiers, PCA, the scalers, hsi_tumor's transformers, calibration, forests,
  histogram gradient boosting and nearest neighbours: fitted arrays of the shape their
  ``n_features_in_`` and classes imply, finite.

Then the pipeline predicts two test spectra, so that any inconsistency between steps (a step
taking more features than the one before gives) fails here, as a :class:`ModelFileError`,
not during classification.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
from sklearn.calibration import CalibratedClassifierCV, _SigmoidCalibration
from sklearn.decomposition import PCA, IncrementalPCA
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from sklearn.ensemble._forest import BaseForest
from sklearn.ensemble._hist_gradient_boosting.common import PREDICTOR_RECORD_DTYPE
from sklearn.ensemble._hist_gradient_boosting.predictor import TreePredictor
from sklearn.exceptions import NotFittedError
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model._base import LinearClassifierMixin
from sklearn.neighbors import BallTree, KDTree, KNeighborsClassifier
from sklearn.preprocessing import MaxAbsScaler, MinMaxScaler, RobustScaler, StandardScaler
from sklearn.svm._base import LIBSVM_IMPL, BaseLibSVM
from sklearn.tree._tree import Tree
from sklearn.utils.validation import check_is_fitted

from hsi_tumor._shared.errors import ModelFileError
from hsi_tumor.models._archive import PIPELINE, short
from hsi_tumor.preprocessing import MultiplicativeScatterCorrection
from hsi_tumor.preprocessing._wavelength_selection import _BandSelector

__all__ = ["CHECKS", "check_fitted", "check_fitted_parts"]

_FIX = "use an unaltered copy of the model file, or train and save the model again"
_KERNELS = ("linear", "poly", "rbf", "sigmoid")
_MAX_DEPTH = 64


def _broken(problem: str) -> ModelFileError:
    """What a check raises; :func:`check_fitted` adds the file and where the object is."""
    return ModelFileError(problem, fix=_FIX)


def _array(obj, name: str, *, ndim: int, kind: str = "f", shape=None, finite=True) -> np.ndarray:
    """``obj.name`` as an ndarray of ``ndim`` dimensions, dtype kind in ``kind``, the given shape
    (None entries: any) and finite values; else the error of :func:`_broken`."""
    value = getattr(obj, name, None)
    if not isinstance(value, np.ndarray) or value.ndim != ndim or value.dtype.kind not in kind:
        raise _broken(f"{name} is not a {ndim}-D array of kind {kind!r} ({short(value)})")
    if shape is not None and any(
        s is not None and s != v for s, v in zip(shape, value.shape, strict=True)
    ):
        raise _broken(f"{name} has shape {value.shape}, expected {shape}")
    if finite and value.dtype.kind == "f" and not np.all(np.isfinite(value)):
        raise _broken(f"{name} holds NaN or inf")
    return value


def _int(obj, name: str, low: int, high: int) -> int:
    value = getattr(obj, name, None)
    if (
        not isinstance(value, (int, np.integer))
        or isinstance(value, bool)
        or not low <= value <= high
    ):
        raise _broken(f"{name} is {short(value)}, not an integer in {low}–{high}")
    return int(value)


def _finite(obj, name: str) -> float:
    value = getattr(obj, name, None)
    if not isinstance(value, (int, float, np.number)) or not np.isfinite(value):
        raise _broken(f"{name} is {short(value)}, not a finite number")
    return float(value)


def _n_classes(obj) -> int:
    classes = _array(obj, "classes_", ndim=1, kind="iuf")
    if classes.size < 2 or not np.all(np.diff(classes) > 0):
        raise _broken(f"classes_ {short(classes.tolist())} are not 2 or more ascending ids")
    return classes.size


# --- trees ---------------------------------------------------------------------------------


def _check_links(leaf, left, right, feature, threshold, n_features: int) -> None:
    """The shared check of both kinds of tree: see the module docstring."""
    n = leaf.size
    inner = np.flatnonzero(~leaf)
    lo, hi = left[inner].astype(np.int64), right[inner].astype(np.int64)
    if np.any((lo <= inner) | (hi <= inner) | (lo >= n) | (hi >= n)):
        raise _broken("a child index is out of range or not after its parent (crash or loop)")
    parents = np.bincount(np.concatenate([lo, hi]), minlength=n)
    if parents[0] != 0 or np.any(parents[1:] != 1):
        raise _broken("not a tree: a node is the child of several nodes or of none")
    f = feature[inner]
    if np.any((f < 0) | (f >= n_features)):
        raise _broken(f"a split feature index is outside 0–{n_features - 1}")
    t = threshold[inner]
    if np.any(np.isnan(t) | (t == -np.inf)):
        raise _broken("a split threshold is NaN or -inf")


def _check_tree(tree: Tree, n_features: int) -> None:
    state = tree.__getstate__()
    nodes, values = state["nodes"], state["values"]
    if nodes.ndim != 1 or nodes.size < 1 or state["node_count"] != nodes.size:
        raise _broken(f"node_count {short(state['node_count'])} for {nodes.size} nodes")
    leaf = nodes["left_child"] == -1
    if np.any(leaf != (nodes["right_child"] == -1)):
        raise _broken("a node has one child")
    _check_links(
        leaf, nodes["left_child"], nodes["right_child"], nodes["feature"],
        nodes["threshold"], n_features,
    )  # fmt: skip
    if not np.all(np.isfinite(values)):
        raise _broken("the node values hold NaN or inf")
    if np.any(nodes["n_node_samples"] < 0) or not np.all(nodes["weighted_n_node_samples"] >= 0):
        raise _broken("negative or NaN sample counts")
    if np.any(nodes["missing_go_to_left"] > 1):
        raise _broken("missing_go_to_left is not 0 or 1")


def _check_predictor(predictor: TreePredictor, n_features: int) -> None:
    nodes = getattr(predictor, "nodes", None)
    if not isinstance(nodes, np.ndarray) or nodes.dtype != PREDICTOR_RECORD_DTYPE:
        raise _broken("nodes is not an array of histogram gradient boosting nodes")
    if nodes.ndim != 1 or nodes.size < 1:
        raise _broken(f"nodes has shape {nodes.shape}")
    leaf = nodes["is_leaf"] != 0
    if np.any(nodes["is_categorical"][~leaf] != 0):
        raise _broken("categorical splits are not supported in model files")
    _check_links(
        leaf,
        nodes["left"],
        nodes["right"],
        nodes["feature_idx"],
        nodes["num_threshold"],
        n_features,
    )
    if not np.all(np.isfinite(nodes["value"])):
        raise _broken("the node values hold NaN or inf")


def _check_binary_tree(tree, n_features: int) -> None:
    """A KD or ball tree: rebuilt from its own data, it must be the same tree."""
    state = tree.__getstate__()
    data = state[0]
    if not isinstance(data, np.ndarray) or data.ndim != 2 or data.shape[1] != n_features:
        raise _broken(f"the tree's data is not (n, {n_features})")
    rebuilt = type(tree)(data, leaf_size=state[4], metric=state[11], sample_weight=state[12])
    again = rebuilt.__getstate__()
    same = all(
        a.tobytes() == b.tobytes()
        for a, b in zip(tree.get_arrays(), rebuilt.get_arrays(), strict=True)
    )
    if not same or state[5:7] != again[5:7]:
        raise _broken("the tree is not the one its data builds")


# --- estimators ----------------------------------------------------------------------------


def _n_in(est) -> int:
    return _int(est, "n_features_in_", 1, 1 << 31)


def _check_libsvm(svm: BaseLibSVM, n_features: int) -> None:
    if getattr(svm, "_sparse", None) is not False:
        raise _broken("sparse support vectors are not supported in model files")
    if (
        getattr(svm, "_impl", None) not in LIBSVM_IMPL
        or getattr(svm, "kernel", None) not in _KERNELS
    ):
        raise _broken(f"kernel {short(getattr(svm, 'kernel', None))} is not one of {_KERNELS}")
    n_in = _n_in(svm)
    sv = _array(svm, "support_vectors_", ndim=2, shape=(None, n_in))
    n_sv = sv.shape[0]
    counts = _array(svm, "_n_support", ndim=1, kind="i")
    k = counts.size
    if k < 2 or np.any(counts < 0) or (svm._impl in ("c_svc", "nu_svc") and counts.sum() != n_sv):
        raise _broken(f"_n_support {short(counts.tolist())} does not count {n_sv} support vectors")
    if svm._impl in ("c_svc", "nu_svc") and _n_classes(svm) != k:
        raise _broken(f"_n_support has {k} classes, classes_ {svm.classes_.size}")
    n_pairs = k * (k - 1) // 2
    support = _array(svm, "support_", ndim=1, kind="i", shape=(n_sv,))
    if np.any(support < 0):
        raise _broken("support_ holds negative indices")
    for name in ("_dual_coef_", "dual_coef_"):
        _array(svm, name, ndim=2, shape=(k - 1, n_sv))
    for name in ("_intercept_", "intercept_"):
        _array(svm, name, ndim=1, shape=(n_pairs,))
    for name in ("_probA", "_probB"):
        if _array(svm, name, ndim=1).size not in (0, n_pairs):
            raise _broken(f"{name} has not 0 or {n_pairs} values")
    for name in ("support_vectors_", "_dual_coef_", "_intercept_", "support_", "_n_support"):
        if not getattr(svm, name).flags.c_contiguous:
            raise _broken(f"{name} is not contiguous")
    if svm.support_vectors_.dtype != np.float64 or svm._dual_coef_.dtype != np.float64:
        raise _broken("support vectors and dual coefficients are not float64")
    if _finite(svm, "_gamma") <= 0 and svm.kernel != "linear":
        raise _broken("_gamma is not positive")
    _finite(svm, "coef0")
    _int(svm, "degree", 0, 100)
    shape_fit = getattr(svm, "shape_fit_", None)
    if not isinstance(shape_fit, tuple) or len(shape_fit) != 2 or shape_fit[1] != n_in:
        raise _broken(f"shape_fit_ {short(shape_fit)} does not end in {n_in}")


def _check_linear(est, n_features: int) -> None:
    if not hasattr(est, "coef_"):
        return  # not fitted as a linear model (e.g. a wrapper): its parts are checked
    n_classes = _n_classes(est)
    rows = 1 if n_classes == 2 else n_classes
    coef = np.atleast_2d(np.asarray(est.coef_))
    if coef.shape != (rows, _n_in(est)) or coef.dtype.kind != "f" or not np.all(np.isfinite(coef)):
        raise _broken(f"coef_ of shape {coef.shape} is not ({rows}, {est.n_features_in_}), finite")
    intercept = np.atleast_1d(np.asarray(est.intercept_))
    if intercept.shape not in ((1,), (rows,)) or not np.all(np.isfinite(intercept)):
        raise _broken(f"intercept_ of shape {intercept.shape} is not ({rows},), finite")


def _check_pca(pca, n_features: int) -> None:
    n, k = _n_in(pca), _int(pca, "n_components_", 1, 1 << 31)
    _array(pca, "components_", ndim=2, shape=(k, n))
    _array(pca, "mean_", ndim=1, shape=(n,))
    variance = _array(pca, "explained_variance_", ndim=1, shape=(k,))
    if getattr(pca, "whiten", False) and np.any(variance <= 0):
        raise _broken("explained_variance_ is not positive (whitening divides by it)")


def _vectors(*names: str, positive: tuple[str, ...] = ()) -> Callable:
    """A check that the named attributes are None or finite (n_features_in_,) arrays."""

    def check(est, n_features: int) -> None:
        n = _n_in(est)
        for name in names:
            if getattr(est, name, None) is not None:
                values = _array(est, name, ndim=1, shape=(n,))
                if name in positive and np.any(values <= 0):
                    raise _broken(f"{name} is not positive")

    return check


def _check_band_selector(est, n_features: int) -> None:
    support = _array(est, "support_", ndim=1, kind="b", shape=(_n_in(est),))
    out = _array(est, "wavelengths_out_", ndim=1, kind="f", shape=(int(support.sum()),))
    if out.size == 0 or np.any(np.diff(out) <= 0):
        raise _broken("no band kept, or wavelengths_out_ not ascending")


def _check_calibrated(est, n_features: int) -> None:
    classes = np.asarray(est.classes_)
    n_classes = _n_classes(est)
    parts = getattr(est, "calibrated_classifiers_", None)
    if not isinstance(parts, list) or not parts:
        raise _broken("calibrated_classifiers_ is not a list of calibrated classifiers")
    for part in parts:
        calibrators = getattr(part, "calibrators", None)
        method = getattr(part, "method", None)
        expected = 1 if n_classes == 2 or method == "temperature" else n_classes
        if not isinstance(calibrators, list) or len(calibrators) != expected:
            raise _broken(f"{short(calibrators)} are not {expected} calibrators ({method})")
        if not np.array_equal(np.asarray(getattr(part, "classes", None)), classes):
            raise _broken("a calibrated classifier's classes differ from classes_")
        inner = part.estimator
        while hasattr(inner, "estimator") and not hasattr(inner, "classes_"):
            inner = inner.estimator  # FrozenEstimator
        if not np.all(np.isin(np.asarray(getattr(inner, "classes_", [])), classes)):
            raise _broken("a calibrated estimator has classes outside classes_")


def _check_sigmoid(calibrator, n_features: int) -> None:
    _finite(calibrator, "a_")
    _finite(calibrator, "b_")


def _check_isotonic(iso, n_features: int) -> None:
    x = _array(iso, "X_thresholds_", ndim=1)
    _array(iso, "y_thresholds_", ndim=1, shape=(x.size,))
    if x.size < 1 or np.any(np.diff(x) < 0):
        raise _broken("X_thresholds_ are empty or not ascending")
    _finite(iso, "X_min_")
    _finite(iso, "X_max_")


def _check_forest(forest, n_features: int) -> None:
    trees = getattr(forest, "estimators_", None)
    if not isinstance(trees, list) or not trees or _int(forest, "n_outputs_", 1, 1) != 1:
        raise _broken("estimators_ is not a list of trees, or n_outputs_ is not 1")
    n_in = _n_in(forest)
    n_classes = _n_classes(forest) if hasattr(forest, "classes_") else None
    for tree in trees:
        if getattr(tree, "n_features_in_", None) != n_in or not isinstance(tree.tree_, Tree):
            raise _broken("a tree takes another number of features than the forest")
        if n_classes is not None and tree.tree_.max_n_classes != n_classes:
            raise _broken("a tree has another number of classes than the forest")


def _check_hist_boosting(est, n_features: int) -> None:
    n_classes = _n_classes(est) if hasattr(est, "classes_") else 1  # a regressor: one tree
    per_iteration = 1 if n_classes <= 2 else n_classes
    _int(est, "n_trees_per_iteration_", per_iteration, per_iteration)
    predictors = getattr(est, "_predictors", None)
    if not isinstance(predictors, list) or len(predictors) != _int(est, "n_iter_", 0, 1 << 31):
        raise _broken("_predictors is not one list of trees per iteration")
    if any(not isinstance(p, list) or len(p) != per_iteration for p in predictors):
        raise _broken(f"an iteration has not {per_iteration} trees")
    if any(not isinstance(t, TreePredictor) for p in predictors for t in p):
        raise _broken("_predictors holds something that is not a tree")
    _array(est, "_baseline_prediction", ndim=2, shape=(1, per_iteration))
    for owner in (est, getattr(est, "_bin_mapper", None)):
        categorical = getattr(owner, "is_categorical_", None)
        if categorical is not None and np.any(categorical):
            raise _broken("categorical features are not supported in model files")


def _check_neighbors(knn, n_features: int) -> None:
    n_classes = _n_classes(knn)
    n = _int(knn, "n_samples_fit_", 1, 1 << 40)
    _array(knn, "_fit_X", ndim=2, shape=(n, _n_in(knn)))
    y = _array(knn, "_y", ndim=1, kind="iu", shape=(n,))
    if np.any((y < 0) | (y >= n_classes)):
        raise _broken("_y holds class indices outside classes_")
    _int(knn, "n_neighbors", 1, n)
    method = getattr(knn, "_fit_method", None)
    tree = getattr(knn, "_tree", None)
    if method not in ("brute", "kd_tree", "ball_tree") or (tree is None) != (method == "brute"):
        raise _broken(f"_fit_method {short(method)} does not match _tree")


#: Checks by type: ``check(obj, n_features)``, ``n_features`` the fewest features any estimator
#: around ``obj`` takes (what its predictor may index).
CHECKS: dict[type, Callable] = {
    Tree: _check_tree,
    TreePredictor: _check_predictor,
    KDTree: _check_binary_tree,
    BallTree: _check_binary_tree,
    BaseLibSVM: _check_libsvm,
    LinearClassifierMixin: _check_linear,
    PCA: _check_pca,
    IncrementalPCA: _check_pca,
    StandardScaler: _vectors("mean_", "var_", "scale_", positive=("scale_",)),
    RobustScaler: _vectors("center_", "scale_", positive=("scale_",)),
    MinMaxScaler: _vectors("min_", "scale_"),
    MaxAbsScaler: _vectors("scale_", positive=("scale_",)),
    MultiplicativeScatterCorrection: _vectors("reference_"),
    _BandSelector: _check_band_selector,
    CalibratedClassifierCV: _check_calibrated,
    _SigmoidCalibration: _check_sigmoid,
    IsotonicRegression: _check_isotonic,
    BaseForest: _check_forest,
    HistGradientBoostingClassifier: _check_hist_boosting,
    HistGradientBoostingRegressor: _check_hist_boosting,
    KNeighborsClassifier: _check_neighbors,
}


def _check_of(obj) -> Callable | None:
    for cls in type(obj).__mro__:
        if cls in CHECKS:
            return CHECKS[cls]
    return None


# --- the walk and the test spectra -------------------------------------------------------


def _children(obj):
    """``(name, child)`` of a container or an object's attributes."""
    if isinstance(obj, (list, tuple)):
        return [(f"[{i}]", v) for i, v in enumerate(obj)]
    if isinstance(obj, dict):
        return [(f"[{short(k)}]", v) for k, v in obj.items()]
    if isinstance(obj, np.ndarray):
        return [(f"[{i}]", v) for i, v in enumerate(obj.flat)] if obj.dtype == object else []
    attributes = getattr(obj, "__dict__", None)
    if isinstance(attributes, dict) and not isinstance(obj, type):
        return [(f".{k}", v) for k, v in attributes.items()]
    return []


def _walk(obj, where: list[str], n_features: int | None, seen: set, depth: int) -> None:
    if id(obj) in seen or isinstance(obj, (str, bytes, int, float, type(None))):
        return
    seen.add(id(obj))
    if depth > _MAX_DEPTH:
        raise _broken("the pipeline is nested too deeply")
    if hasattr(obj, "fit") and not _is_fitted(obj):
        return  # a template (CalibratedClassifierCV's estimator, a forest's estimator)
    own = getattr(obj, "n_features_in_", None) if hasattr(obj, "fit") else None
    if isinstance(own, (int, np.integer)):
        # a pipeline's steps each take their own features; parts of an ensemble take no more
        # than the ensemble (scikit-learn skips their input checks)
        n_features = int(own) if n_features is None else min(n_features, int(own))
    check = _check_of(obj)
    if check is not None:
        if n_features is None:
            raise _broken(f"{type(obj).__name__} outside any fitted estimator")
        check(obj, n_features)
    is_pipeline = isinstance(getattr(obj, "steps", None), list)
    for name, child in _children(obj):
        where.append(name)
        _walk(child, where, None if is_pipeline else n_features, seen, depth + 1)
        where.pop()


def _is_fitted(est) -> bool:
    try:
        check_is_fitted(est)
    except (NotFittedError, TypeError):
        return False
    return True


def _test_spectra(n: int) -> np.ndarray:
    """Two smooth, positive, different spectra of ``n`` bands."""
    t = np.linspace(0.0, 1.0, n)
    return np.vstack([0.3 + 0.2 * np.sin(3 * t), 0.5 + 0.1 * np.cos(5 * t)])


def _predict_test_spectra(pipeline, n_features: int) -> None:
    classes = np.asarray(pipeline.classes_)
    x = _test_spectra(n_features)
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        labels = np.asarray(pipeline.predict(x))
        proba = pipeline.predict_proba(x) if hasattr(pipeline, "predict_proba") else None
    if labels.shape != (2,) or not np.all(np.isin(labels, classes)):
        raise _broken(f"the pipeline predicts {short(labels.tolist())}, not classes of classes_")
    if proba is not None:
        proba = np.asarray(proba)
        if (
            proba.shape != (2, classes.size)
            or not np.all(np.isfinite(proba))
            or not np.allclose(proba.sum(axis=1), 1.0, atol=1e-6)
        ):
            raise _broken("the pipeline's probabilities are not finite, or do not sum to 1")


def check_fitted(pipeline, *, path: Path, n_features: int) -> None:
    """Check a loaded pipeline's fitted state (module docstring), then predict test spectra.

    Parameters
    ----------
    pipeline : fitted Pipeline or classifier
        As skops rebuilt it from the file.
    path : Path
        The model file, for messages.
    n_features : int
        The bands the model takes (its wavelengths' count, else ``n_features_in_``).

    Raises
    ------
    ModelFileError
        Naming the object and attribute that is wrong, e.g.
        ``pipeline.skops: .steps[1][1].estimators_[3].tree_: a child index is out of range``.
    """
    where: list[str] = []
    try:
        if getattr(pipeline, "n_features_in_", None) != n_features:
            raise _broken(f"the pipeline does not take the model's {n_features} bands")
        _walk(pipeline, where, None, set(), 0)
        where = ["(test spectra)"]
        _predict_test_spectra(pipeline, n_features)
    except ModelFileError as exc:
        problem = exc.problem
    except Exception as exc:  # an attribute of the wrong type, or predict failing on it
        problem = f"{type(exc).__name__}: {short(str(exc))}"
    else:
        return
    location = "".join(where) or "(the pipeline)"
    raise ModelFileError(problem, file=path, field=f"{PIPELINE}: {location}", fix=_FIX)


def check_fitted_parts(objects, *, path: Path, n_features: int | None = None) -> None:
    """Check the fitted state of loaded estimators that are not a classifier pipeline.

    Every object (and what it holds) is walked as :func:`check_fitted` walks a pipeline;
    there are no test spectra.

    Raises
    ------
    ModelFileError
        Naming the object and attribute that is wrong.
    """
    where: list[str] = []
    try:
        _walk(objects, where, n_features, set(), 0)
    except ModelFileError as exc:
        problem = exc.problem
    except Exception as exc:
        problem = f"{type(exc).__name__}: {short(str(exc))}"
    else:
        return
    location = "".join(where) or "(the estimators)"
    raise ModelFileError(problem, file=path, field=f"{PIPELINE}: {location}", fix=_FIX)
