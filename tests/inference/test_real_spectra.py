"""The fast path's guarantees on real spectra: labels equal scikit-learn's, probabilities
within 1e-5, and (almost) no pixel handed back to scikit-learn.

The models are trained on Indian Pines (real AVIRIS, 200 bands; ``../shared/data``) and
classify the whole 145 x 145 scene: their support vectors, margins and error bounds are those
real data give, not the simulator's (the bench cube flattered the fast path before: its
float32 bounds sent 44–100 % of real pixels to a second evaluation).
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn.calibration import CalibratedClassifierCV
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC, LinearSVC

import hsi_tumor as ht
from hsi_tumor.inference._fast import fast_predictor
from hsi_tumor.preprocessing import StandardNormalVariate
from tests.conftest import shared_data_path

PROBA_ATOL = 1e-5


@pytest.fixture(scope="module")
def pines():
    folder = shared_data_path("indian-pines")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cube = ht.read_cube(
            folder / "Indian_pines_corrected.npy",
            wavelengths=folder / "Indian_pines_corrected_bands.csv",
        ).load()
    data = np.ascontiguousarray(cube.data, dtype=np.float32) / 10_000
    truth = np.load(folder / "Indian_pines_gt.npy").astype(int)
    return ht.Cube(data, cube.wavelengths), truth


def _train(pines, classes, preprocessing, per_class=300, classifier="svm"):
    cube, truth = pines
    labels = np.where(np.isin(truth, classes), truth, 0)
    return ht.train(
        cube,
        labels,
        classifier=classifier,
        classifier_params={"C": 10.0, "gamma": "scale"} if classifier == "svm" else None,
        preprocessing=preprocessing,
        max_pixels_per_class=per_class,
        random_state=0,
        progress=False,
    )


def _training_pixels(pines, classes, per_class=150):
    cube, truth = pines
    rng = np.random.default_rng(0)
    rows = np.concatenate(
        [rng.choice(np.flatnonzero(truth.ravel() == c), per_class, replace=False) for c in classes]
    )
    return cube.data.reshape(-1, cube.n_bands)[rows], truth.ravel()[rows]


def _check(cube, model, *, dtype=np.float32, max_handed=0.001):
    """classify_cube against the pipeline on every pixel of the scene."""
    assert fast_predictor(model.pipeline) is not None, "the fast path must handle this model"
    cube = ht.Cube(cube.data.astype(dtype), cube.wavelengths)
    pixels = cube.data.reshape(-1, cube.n_bands)
    result = ht.classify_cube(cube, model, progress=False)
    if hasattr(model.pipeline, "predict_proba"):
        proba = model.pipeline.predict_proba(pixels)
        expected = model.classes[np.argmax(proba, axis=1)]
        got = result.probabilities.reshape(proba.shape)
        np.testing.assert_allclose(got, proba, rtol=0, atol=PROBA_ATOL)
    else:
        expected = model.pipeline.predict(pixels)
    np.testing.assert_array_equal(result.labels.reshape(-1), expected)
    fast = fast_predictor(model.pipeline)
    fast(np.ascontiguousarray(pixels))
    assert fast.n_reevaluated <= max_handed * len(pixels)
    return fast.n_reevaluated


@pytest.mark.slow
@pytest.mark.parametrize(
    ("classes", "preprocessing"),
    [
        ((2, 11), ("snv",)),
        ((2, 11), ("snv", "pca")),
        ((2, 10, 11, 14), ("snv",)),
        ((2, 10, 11, 14), ("snv", "pca")),
        (tuple(range(1, 17)), ("snv", "pca")),
    ],
    ids=["2-snv", "2-snv-pca", "4-snv", "4-snv-pca", "16-snv-pca"],
)
def test_calibrated_rbf_svms_from_train(pines, classes, preprocessing):
    """What ``ht.train(classifier="svm")`` builds: CalibratedClassifierCV around an RBF SVC.
    Kernel decisions are float64, so not one pixel goes to a second evaluation."""
    per_class = 60 if len(classes) == 16 else 300
    model = _train(pines, classes, preprocessing, per_class)
    assert _check(pines[0], model, max_handed=0) == 0


@pytest.mark.slow
def test_calibrated_rbf_svm_on_float64_cubes(pines):
    model = _train(pines, (2, 10, 11, 14), ("snv",), per_class=150)
    assert _check(pines[0], model, dtype=np.float64, max_handed=0) == 0


@pytest.mark.parametrize(
    ("classifier", "classes", "preprocessing"),
    [
        ("lda", (2, 11), ("snv",)),
        ("lda", tuple(range(1, 17)), ("snv", "pca")),
        ("logistic", (2, 10, 11, 14), ("snv",)),
    ],
    ids=["lda-2-snv", "lda-16-snv-pca", "logistic-4-snv"],
)
def test_linear_models_with_their_training_domain(pines, classifier, classes, preprocessing):
    """Linear models from ``ht.train`` carry a training domain: their features are handed to
    the outlier flag and the decision is evaluated on them, unfused; the guarantees hold."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a LogisticRegression convergence note
        model = _train(pines, classes, preprocessing, per_class=150, classifier=classifier)
    assert model.domain is not None
    assert fast_predictor(model.pipeline).feature_width == model.domain.n_features_in_
    _check(pines[0], model, max_handed=0.001)
    result = ht.classify_cube(pines[0], model, progress=False)
    pixels = pines[0].data.reshape(-1, pines[0].n_bands)
    expected = model.domain.predict(model.pipeline[:-1].transform(pixels))
    np.testing.assert_array_equal(result.outlier.reshape(-1), expected)


def _model(pines, estimator, classes):
    x, y = _training_pixels(pines, classes)
    pipeline = make_pipeline(StandardNormalVariate(), StandardScaler(), estimator).fit(x, y)
    names = {int(c): f"class {c}" for c in classes}
    return ht.TumorModel.from_pipeline(
        pipeline, wavelengths=pines[0].wavelengths, class_names=names
    )


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(
    ("name", "classes"),
    [
        ("svc-ovr", (2, 10, 11, 14)),
        ("svc-ovo", (2, 10, 11, 14)),
        ("svc-binary", (2, 11)),
        ("linear-svc", (2, 10, 11, 14)),
        ("logistic", (2, 10, 11, 14)),
        ("logistic-binary", (2, 11)),
        ("isotonic-svc", (2, 11)),
    ],
)
def test_other_kinds_the_fast_path_handles(pines, name, classes, dtype):
    estimator = {
        "svc-ovr": lambda: SVC(C=10.0),
        "svc-ovo": lambda: SVC(C=10.0, decision_function_shape="ovo"),
        "svc-binary": lambda: SVC(C=10.0),
        "linear-svc": lambda: LinearSVC(C=1.0),
        "logistic": lambda: LogisticRegression(C=10.0, max_iter=2000),
        "logistic-binary": lambda: LogisticRegression(C=10.0, max_iter=2000),
        "isotonic-svc": lambda: CalibratedClassifierCV(SVC(C=10.0), method="isotonic", cv=3),
    }[name]()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a LinearSVC/LogisticRegression convergence note
        model = _model(pines, estimator, classes)
    _check(pines[0], model, dtype=dtype, max_handed=0.001)
