"""Fitted arrays edited inside a model file whose checksums were recomputed (as anyone can):
load_model refuses each with a ModelFileError naming the object, instead of a model that
crashes the process, loops forever or silently predicts garbage when it classifies."""

from __future__ import annotations

import copy
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from sklearn.calibration import CalibratedClassifierCV
from sklearn.decomposition import PCA
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import LinearSVC

import hsi_tumor as ht
from hsi_tumor.preprocessing import MultiplicativeScatterCorrection, WavelengthRange
from tests.models.files import WAVELENGTHS, fitted_model, small_cube, spectra


@pytest.fixture(scope="module")
def models():
    x, y = spectra()
    wrapped = {
        "linear": make_pipeline(StandardScaler(), PCA(5), LogisticRegression()),
        "msc-lda": make_pipeline(
            MultiplicativeScatterCorrection(),
            WavelengthRange(wavelengths=WAVELENGTHS, min_nm=950),
            LinearDiscriminantAnalysis(),
        ),
        "calibrated": CalibratedClassifierCV(LinearSVC(), ensemble=False),
        "knn": KNeighborsClassifier(algorithm="kd_tree"),
    }
    fitted = {k: fitted_model(k) for k in ("random-forest", "hist-gradient-boosting", "svm")}
    for name, estimator in wrapped.items():
        fitted[name] = ht.TumorModel.from_pipeline(estimator.fit(x, y), wavelengths=WAVELENGTHS)
    return fitted


def edit_tree(tree, field: str, change) -> None:
    """Change the ``field`` column of a scikit-learn tree's nodes (internal nodes only)."""
    state = tree.__getstate__()
    nodes = state["nodes"]
    inner = np.flatnonzero(nodes["left_child"] != -1)
    change(nodes, field, inner)
    tree.__setstate__(state)


def _set(value):
    def change(nodes, field, inner):
        nodes[field][inner] = value

    return change


def _second_parent(nodes, field, inner):
    nodes[field][inner[1]] = nodes[field][inner[0]]  # two nodes share a child


def _forest(name, change):
    return "random-forest", lambda p: edit_tree(p.estimators_[0].tree_, name, change)


def _predictor(p):
    return p._predictors[0][0]


def _hgb(name, value):
    def edit(p):
        nodes = _predictor(p).nodes
        inner = np.flatnonzero(nodes["is_leaf"] == 0)
        nodes[name][inner] = value

    return "hist-gradient-boosting", edit


def _svc(name, change):
    return "svm", lambda p: setattr(p[-1], name, change(getattr(p[-1], name)))


CASES = {
    # the four crashes, its endless loop and its "all normal"
    "forest-left-out-of-range": (_forest("left_child", _set(10**9)), "tree_.*out of range"),
    "forest-feature-out-of-range": (_forest("feature", _set(10**9)), "feature index"),
    "forest-feature-negative": (_forest("feature", _set(-5)), "feature index is outside 0–11"),
    "forest-cycle": (_forest("left_child", _set(0)), "not after its parent"),
    "hgb-left-out-of-range": (_hgb("left", 10**9), r"_predictors\[0\]\[0\].*out of range"),
    "hgb-feature-out-of-range": (_hgb("feature_idx", 10**9), "feature index"),
    "hgb-feature-negative": (_hgb("feature_idx", -5), "feature index"),
    "hgb-cycle": (_hgb("right", 0), "not after its parent"),
    # more of the same kind
    "forest-shared-child": (_forest("right_child", _second_parent), "several nodes"),
    "forest-one-child": (_forest("right_child", _set(-1)), "one child"),
    "forest-nan-threshold": (_forest("threshold", _set(np.nan)), "threshold is NaN"),
    "forest-nan-value": (
        ("random-forest", lambda p: p.estimators_[1].tree_.value.__setitem__(0, np.nan)),
        None,
    ),
    "forest-tree-of-other-width": (
        ("random-forest", lambda p: setattr(p.estimators_[2], "n_features_in_", 11)),
        "another number of features",
    ),
    "hgb-categorical": (_hgb("is_categorical", 1), "categorical"),
    "hgb-nan-leaf": (
        (
            "hist-gradient-boosting",
            lambda p: _predictor(p).nodes["value"].__setitem__(-1, np.nan),
        ),
        "NaN or inf",
    ),
    "hgb-missing-tree": (
        ("hist-gradient-boosting", lambda p: p._predictors[1].pop()),
        "an iteration has not 3 trees",
    ),
    "svc-support-counts": (_svc("_n_support", lambda v: v + np.int32(5)), "_n_support"),
    "svc-support-indices": (_svc("support_", lambda v: v[:-1].copy()), "support_"),
    "svc-dual-shape": (_svc("_dual_coef_", lambda v: v[:, :-1].copy()), "_dual_coef_"),
    "svc-nan-intercept": (_svc("_intercept_", lambda v: v * np.nan), "_intercept_"),
    "svc-prob-params": (_svc("_probA", lambda v: np.ones(7)), "_probA"),
    "svc-vector-width": (_svc("support_vectors_", lambda v: v[:, :-1].copy()), "support_vect"),
    "svc-gamma": (_svc("_gamma", lambda v: float("nan")), "_gamma"),
    "svc-kernel": (_svc("kernel", lambda v: "precomputed"), "kernel"),
    "linear-coef": (
        ("linear", lambda p: setattr(p[-1], "coef_", p[-1].coef_[:, :-1].copy())),
        "coef_",
    ),
    "pca-components": (
        ("linear", lambda p: setattr(p[1], "components_", p[1].components_[:, :-1].copy())),
        "components_",
    ),
    "pca-of-other-width": (
        ("linear", lambda p: setattr(p.steps[1][1], "n_components_", 4)),
        "components_",
    ),
    "steps-disagree-in-width": (
        ("linear", lambda p: p.steps.__setitem__(1, ("pca", PCA(4).fit(spectra()[0])))),
        r"\(test spectra\).*ValueError.*features",
    ),
    "scaler-zero": (("linear", lambda p: p[0].scale_.__setitem__(3, 0.0)), "scale_ is not pos"),
    "msc-reference": (
        ("msc-lda", lambda p: setattr(p[0], "reference_", p[0].reference_[:-1].copy())),
        "reference_",
    ),
    "band-selection": (
        ("msc-lda", lambda p: setattr(p[1], "support_", np.zeros(12, bool))),
        "wavelengths_out_",
    ),
    "band-selection-width": (
        ("msc-lda", lambda p: setattr(p[1], "support_", np.ones(12, bool))),
        "wavelengths_out_",
    ),
    "calibrator-count": (
        ("calibrated", lambda p: p.calibrated_classifiers_[0].calibrators.pop()),
        None,
    ),
    "calibrator-nan": (
        ("calibrated", lambda p: setattr(p.calibrated_classifiers_[0].calibrators[0], "a_", 1e999)),
        "a_",
    ),
    "calibrated-classes": (
        (
            "calibrated",
            lambda p: setattr(p.calibrated_classifiers_[0].estimator, "classes_", np.arange(3)),
        ),
        "classes outside",
    ),
    "knn-labels": (("knn", lambda p: setattr(p, "_y", p._y + 7)), "_y"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_edited_fitted_arrays_are_refused(models, tmp_path, case):
    (kind, edit), message = CASES[case]
    model = copy.deepcopy(models[kind])
    edit(model.pipeline)
    path = ht.save_model(model, tmp_path / "m.htmodel")  # checksums of the edited arrays
    with pytest.raises(ht.ModelFileError, match=r"field 'pipeline.skops.*Fix: ") as info:
        ht.load_model(path, trusted=KD_TREE)
    if message:
        assert __import__("re").search(message, str(info.value)), str(info.value)
    assert len(str(info.value)) < 600


def test_classes_that_are_not_the_named_ones(models, tmp_path):
    model = copy.deepcopy(models["linear"])
    model.pipeline[-1].classes_ = np.array([2, 1, 3])  # unsorted: searchsorted would mislabel
    with pytest.raises(
        ht.ModelFileError, match=r"model.json: class_names.*\[1, 2, 3\].*\[2, 1, 3\]"
    ):
        ht.load_model(ht.save_model(model, tmp_path / "m.htmodel"))


KD_TREE = ["sklearn.neighbors._kd_tree.KDTree", "sklearn.metrics._dist_metrics.EuclideanDistance64"]


def test_a_kd_tree_is_compared_with_the_one_its_data_builds(models, tmp_path):
    model = copy.deepcopy(models["knn"])
    tree = model.pipeline._tree
    state = list(tree.__getstate__())
    state[1] = state[1][::-1].copy()  # idx_array: points of the wrong leaves
    tree.__setstate__(tuple(state))
    path = ht.save_model(model, tmp_path / "m.htmodel")
    with pytest.raises(ht.ModelFileError, match=r"_tree.*not the one its data builds"):
        ht.load_model(path, trusted=KD_TREE)


@pytest.mark.parametrize("kind", sorted(["random-forest", "hist-gradient-boosting", "svm"]))
def test_unedited_models_load_and_classify(models, tmp_path, kind):
    model = models[kind]
    loaded = ht.load_model(ht.save_model(model, tmp_path / "m.htmodel"))
    cube = small_cube()
    np.testing.assert_array_equal(
        ht.classify_cube(cube, loaded, progress=False).labels,
        ht.classify_cube(cube, model, progress=False).labels,
    )


def test_every_model_of_the_fixture_loads(models, tmp_path):
    for name, model in models.items():
        trusted = KD_TREE if name == "knn" else ()
        assert ht.load_model(ht.save_model(model, tmp_path / f"{name}.htm"), trusted=trusted)


@pytest.mark.slow
def test_the_edited_forest_does_crash_scikit_learn(models, tmp_path):
    """Without the checks, the issue's edit kills the process (SIGSEGV) when it predicts:
    the refusal above is what stands between a crafted file and a crash."""
    model = copy.deepcopy(models["random-forest"])
    edit_tree(model.pipeline.estimators_[0].tree_, "left_child", _set(10**9))
    path = ht.save_model(model, tmp_path / "m.htmodel")
    np.save(tmp_path / "x.npy", spectra()[0])
    code = textwrap.dedent(
        f"""
        import io, zipfile, numpy as np, skops.io as sio
        data = zipfile.ZipFile({str(path)!r}).read("pipeline.skops")
        pipeline = sio.loads(data, trusted=sio.get_untrusted_types(data=data))
        pipeline.predict(np.load({str(tmp_path / "x.npy")!r}))
        """
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=120)
    assert run.returncode < 0, (run.returncode, run.stderr[-500:])  # killed by a signal
