"""The fast predictor equals scikit-learn's predict / predict_proba (up to near ties)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn.calibration import CalibratedClassifierCV
from sklearn.decomposition import PCA, IncrementalPCA
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression, RidgeClassifier, SGDClassifier
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC, LinearSVC

from hsi_tumor import CalibrationWarning, simulate_specimen
from hsi_tumor.inference import _fast, _svm
from hsi_tumor.inference._fast import fast_predictor
from hsi_tumor.inference._svm import pairs
from hsi_tumor.preprocessing import (
    Absorbance,
    BadBandRemoval,
    MultiplicativeScatterCorrection,
    SavitzkyGolay,
    StandardNormalVariate,
    WavelengthRange,
)

N_BANDS = 60
WAVELENGTHS = np.linspace(1000, 1600, N_BANDS)
TIE = 1e-6  # labels may differ from scikit-learn's only where its margin is below this
PROBA_ATOL = 1e-5


def _spectra(rng, n, n_classes):
    """Smooth reflectance-like spectra: class bumps + scatter + noise, classes overlapping."""
    wl = np.linspace(0, 1, N_BANDS)
    y = rng.integers(0, n_classes, n)
    centres = np.array([0.3, 0.5, 0.7, 0.4])
    x = 0.4 + 0.2 * np.exp(-((wl - 0.5) ** 2) / 0.1) * rng.uniform(0.5, 2, (n, 1))
    for c in range(n_classes):
        rows = y == c
        x[rows] += (
            0.03 * np.exp(-((wl - centres[c]) ** 2) / 0.02) * rng.uniform(0.5, 1.5, (rows.sum(), 1))
        )
    x += rng.normal(0, 0.012, x.shape)
    x *= rng.uniform(0.8, 1.2, (n, 1))
    return x, y


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(7)
    out = {}
    for k in (2, 3, 4):
        x, y = _spectra(rng, 300, k)
        xt, _ = _spectra(rng, 2500, k)
        out[k] = (x, y, xt)
    return out


def _margins(model, x):
    """scikit-learn's own distance of each pixel from a tie of its prediction."""
    final = model[-1] if hasattr(model, "steps") else model
    if hasattr(final, "predict_proba") and not isinstance(final, SVC):
        p = np.sort(model.predict_proba(x), axis=1)
        return p[:, -1] - p[:, -2]
    if isinstance(final, SVC) and len(final.classes_) > 2:
        saved = final.decision_function_shape
        final.decision_function_shape = "ovo"
        try:
            return np.abs(model.decision_function(x)).min(axis=1)
        finally:
            final.decision_function_shape = saved
    d = model.decision_function(x)
    if d.ndim == 1:
        return np.abs(d)
    d = np.sort(d, axis=1)
    return d[:, -1] - d[:, -2]


def _check(model, x, *, proba: bool, decision: bool = True):
    fast = fast_predictor(model)
    assert fast is not None
    np.testing.assert_array_equal(fast.classes_, model.classes_)
    assert fast.has_proba is proba
    for dtype in (np.float64, np.float32):
        xd = np.ascontiguousarray(x, dtype=dtype)
        labels, probabilities = fast(xd)
        expected = model.predict(xd)
        assert labels.dtype == expected.dtype
        wrong = labels != expected
        if wrong.any():
            assert _margins(model, xd)[wrong].max() < TIE, (dtype, int(wrong.sum()))
        if proba:
            assert probabilities.dtype == np.float32
            np.testing.assert_allclose(
                probabilities, model.predict_proba(xd), rtol=0, atol=PROBA_ATOL
            )
        else:
            assert probabilities is None
        if decision:
            final = model[-1] if hasattr(model, "steps") else model
            if not isinstance(final, CalibratedClassifierCV):
                ref = model.decision_function(xd)
                got = fast.decision_function(xd)
                scale = np.abs(ref).max()
                np.testing.assert_allclose(got, ref, rtol=0, atol=1e-4 * scale)
    return fast


def _svc_pipeline(**svc):
    return make_pipeline(
        StandardNormalVariate(), PCA(n_components=12), StandardScaler(), SVC(C=10, **svc)
    )


@pytest.mark.parametrize(
    ("kernel", "n_classes", "shape"),
    [
        *[(k, n, s) for k in ("rbf", "linear") for n in (2, 3, 4) for s in ("ovr", "ovo")],
        *[(k, n, s) for k in ("poly", "sigmoid") for n, s in ((2, "ovr"), (3, "ovo"), (4, "ovr"))],
    ],
)
def test_svc(data, kernel, n_classes, shape):
    x, y, xt = data[n_classes]
    gamma = 0.02 if kernel == "sigmoid" else "scale"
    model = _svc_pipeline(kernel=kernel, decision_function_shape=shape, gamma=gamma).fit(x, y)
    assert model[-1].support_.size > (10 if kernel == "linear" else 40)
    _check(model, xt, proba=False)


def test_svc_break_ties(data):
    x, y, xt = data[4]
    model = _svc_pipeline(break_ties=True).fit(x, y)
    _check(model, xt, proba=False)


def test_bare_svc_and_string_labels(data):
    x, y, xt = data[3]
    names = np.array(["healthy", "tumor", "vessel"])[y]
    model = SVC(C=3).fit(x, names)
    fast = _check(model, xt, proba=False)
    assert fast(xt)[0].dtype == names.dtype


def test_svc_with_probability_falls_back(data):
    x, y, _ = data[2]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = SVC(probability=True).fit(x, y)
    assert fast_predictor(model) is None


@pytest.mark.parametrize("method", ["sigmoid", "isotonic"])
@pytest.mark.parametrize(
    "base", [SVC(C=10), LinearSVC(C=1.0), LogisticRegression(C=10, max_iter=2000)]
)
@pytest.mark.parametrize("n_classes", [2, 3])
def test_calibrated(data, method, base, n_classes):
    x, y, xt = data[n_classes]
    model = make_pipeline(
        StandardNormalVariate(),
        PCA(n_components=10),
        StandardScaler(),
        CalibratedClassifierCV(base, method=method, ensemble=False, cv=3),
    ).fit(x, y)
    _check(model, xt, proba=True)


def test_calibrated_ensemble(data):
    x, y, xt = data[3]
    model = make_pipeline(
        StandardNormalVariate(),
        StandardScaler(),
        CalibratedClassifierCV(SVC(C=10), method="sigmoid", ensemble=True, cv=3),
    ).fit(x, y)
    fast = _check(model, xt, proba=True)
    assert len(fast.analysis.parts) == 3


def test_calibrated_inner_pipeline(data):
    x, y, xt = data[2]
    inner = make_pipeline(PCA(n_components=8), StandardScaler(), SVC(C=10))
    model = make_pipeline(
        StandardNormalVariate(), CalibratedClassifierCV(inner, ensemble=False, cv=3)
    ).fit(x, y)
    _check(model, xt, proba=True)


@pytest.mark.parametrize("n_classes", [2, 3])
@pytest.mark.parametrize(
    "estimator",
    [
        LogisticRegression(C=10, max_iter=2000),
        LinearDiscriminantAnalysis(),
        RidgeClassifier(),
        LinearSVC(),
        SGDClassifier(loss="log_loss", random_state=0),
    ],
    ids=lambda e: type(e).__name__ + getattr(e, "loss", ""),
)
def test_linear(data, estimator, n_classes):
    x, y, xt = data[n_classes]
    model = make_pipeline(StandardNormalVariate(), StandardScaler(), estimator).fit(x, y)
    _check(model, xt, proba=hasattr(model, "predict_proba"))


def test_bare_logistic_regression(data):
    x, y, xt = data[3]
    _check(LogisticRegression(max_iter=3000).fit(x, y), xt, proba=True)


@pytest.mark.parametrize(
    "steps",
    [
        lambda: [
            SavitzkyGolay(window_length=7, polyorder=2, deriv=1),
            WavelengthRange(wavelengths=WAVELENGTHS, min_nm=1050, max_nm=1550),
            PCA(n_components=10, whiten=True),
        ],
        lambda: [
            Absorbance(),
            StandardNormalVariate(),
            BadBandRemoval(wavelengths=WAVELENGTHS, bad_ranges=[(1200, 1260)]),
            IncrementalPCA(n_components=10),
            StandardScaler(),
        ],
        lambda: [MultiplicativeScatterCorrection(), PCA(n_components=10), StandardScaler()],
        lambda: [StandardScaler(), PCA(n_components=10), StandardNormalVariate()],
    ],
    ids=["sg-range-pca", "absorbance-snv-bands-ipca", "msc-pca", "snv-last"],
)
@pytest.mark.parametrize(
    "final", [lambda: SVC(C=10), lambda: LogisticRegression(C=10, max_iter=3000)]
)
def test_preprocessing_chains(data, steps, final):
    x, y, xt = data[3]
    model = make_pipeline(*steps(), final()).fit(x, y)
    _check(model, xt, proba=hasattr(model, "predict_proba"))


def test_calibrated_probabilities_with_whitened_pca(data):
    """SNV → PCA(20) → standardise amplifies SNV's float32 rounding: scikit-learn's is kept."""
    rng = np.random.default_rng(3)
    x, y = _spectra(rng, 600, 2)
    xt, _ = _spectra(rng, 4000, 2)
    model = make_pipeline(
        StandardNormalVariate(),
        PCA(n_components=20),
        StandardScaler(),
        CalibratedClassifierCV(SVC(C=10), ensemble=False, cv=3),
    ).fit(x.astype(np.float32), y)
    _check(model, xt, proba=True)  # a fused float32 SNV + PCA was 4e-5 off


@pytest.fixture(scope="module")
def bright_specimen():
    """224-band simulated pixels (dead columns at 0.5: outliers) and an all-band calibrated
    SVM, whose float32 kernel alone moves probabilities by 3e-5 on the outliers."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CalibrationWarning)
        spec = simulate_specimen(seed=0, shape=(64, 64), n_bands=224)
        cube = spec.calibrate().load()
    x = np.nan_to_num(cube.data, nan=0.5).astype(np.float32).reshape(-1, 224)
    y = spec.labels.reshape(-1)
    model = make_pipeline(
        StandardNormalVariate(),
        StandardScaler(),
        CalibratedClassifierCV(SVC(C=10), ensemble=False, cv=3),
    ).fit(x[y > 0], y[y > 0])
    return model, x


def test_outlying_pixels_are_within_tolerance_at_first_evaluation(bright_specimen):
    """The float32 kernel moved these outliers' probabilities by 3e-5; float64 does not,
    and no pixel needs scikit-learn."""
    model, x = bright_specimen
    fast = _check(model, x, proba=True)
    assert fast.n_reevaluated == 0


def test_kernel_decisions_are_libsvms_within_their_bound(bright_specimen):
    model, x = bright_specimen
    final = model[-1].calibrated_classifiers_[0].estimator
    scorer = fast_predictor(model).analysis.parts[0].member.scorer
    dec, err = scorer(x)
    expected = -final.decision_function(model[:-1].transform(x))  # libsvm's sign
    np.testing.assert_allclose(dec[:, 0], expected, rtol=0, atol=1e-11)
    assert (err < 1e-7).all() and (np.abs(dec[:, 0] - expected) <= err[:, 0]).all()


@pytest.mark.parametrize("n_classes", [3, 4])
def test_class_blocks_give_the_dense_pair_product(data, monkeypatch, n_classes):
    """Per-class blocks of support vectors (split at SV_BLOCK) equal ``K M + b`` with the
    dense pair matrix, in libsvm's pair order."""
    x, y, xt = data[n_classes]
    model = make_pipeline(StandardScaler(), SVC(C=10, decision_function_shape="ovo")).fit(x, y)
    monkeypatch.setattr(_svm, "SV_BLOCK", 7)  # several blocks per class
    scorer = _svm.svc_scorer([model[0]], model[-1])
    assert len(scorer._blocks) > n_classes
    dec, _ = scorer(xt)
    z = model[0].transform(xt)
    sv = model[-1].support_vectors_
    kernel = np.exp(-scorer.gamma * ((z[:, None, :] - sv[None]) ** 2).sum(axis=2))
    np.testing.assert_allclose(dec, kernel @ scorer.m + scorer.b, rtol=0, atol=1e-10)
    np.testing.assert_allclose(dec, model.decision_function(xt), rtol=0, atol=1e-10)


def test_far_pixels_skip_the_kernel(data):
    """Pixels whose kernel values are all below e^−104 get the intercept's decision."""
    x, y, xt = data[2]
    model = make_pipeline(StandardScaler(), SVC(C=10)).fit(x, y)
    far = 5 * xt[:100]  # too bright: far from every support vector
    scorer = fast_predictor(model).analysis.parts[0].scorer
    z = model[:-1].transform(far) - scorer.centre
    assert (np.einsum("ij,ij->i", z, z) > scorer._far2).all()
    mixed = np.vstack([far, xt[:300]])
    fast = _check(model, mixed, proba=False)
    np.testing.assert_allclose(
        fast.decision_function(far), model.decision_function(far), rtol=0, atol=1e-12
    )


def test_near_ties_are_resolved_as_sklearn(data):
    """Pixels placed on a decision boundary (bisection) get scikit-learn's labels."""
    x, y, xt = data[2]
    model = _svc_pipeline().fit(x, y)
    labels = model.predict(xt)
    a = xt[np.flatnonzero(labels == model.classes_[0])[:200]]
    b = xt[np.flatnonzero(labels == model.classes_[1])[:200]]
    lo, hi = np.zeros((200, 1)), np.ones((200, 1))
    for _ in range(40):
        mid = (lo + hi) / 2
        side = model.decision_function(a + mid * (b - a)) < 0
        lo = np.where(side[:, None], mid, lo)
        hi = np.where(side[:, None], hi, mid)
    ties = a + lo * (b - a)
    assert np.abs(model.decision_function(ties)).max() < 1e-6
    fast = fast_predictor(model)
    fast.n_reevaluated = 0
    mixed = np.vstack([ties, xt[:500]])
    got, _ = fast(mixed)
    np.testing.assert_array_equal(got, model.predict(mixed))
    # float64 decisions: the ties within their bound (1e-12 or so) of 0 go to scikit-learn
    dec, err = fast.analysis.parts[0].scorer(mixed)
    within = np.abs(dec[:, 0]) <= err[:, 0]
    assert 0 < within.sum() == fast.n_reevaluated and within[200:].sum() == 0


@pytest.mark.parametrize(("tail", "tol"), [(PCA, 1e-12), (StandardScaler, 0.0)])
def test_kernel_features_are_sklearns(data, tail, tol):
    """Kernels see SNV's own float32 output; a float64 tail (PCA) is fused, in float64."""
    x, y, xt = data[2]
    model = make_pipeline(StandardNormalVariate(), tail(), SVC()).fit(x, y)
    stage = fast_predictor(model).analysis.parts[0].scorer.stage
    x32 = xt.astype(np.float32)
    z, _ = stage(x32)
    expected = model[:-1].transform(x32)
    assert z.dtype == expected.dtype
    np.testing.assert_allclose(z, expected, rtol=0, atol=tol * np.abs(expected).max())


def test_flat_spectra_follow_snv(data):
    x, y, xt = data[2]
    model = _svc_pipeline().fit(x, y)
    xt = xt[:100].copy()
    xt[5] = 0.5
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = model.predict(xt)
        got, _ = fast_predictor(model)(xt)
    np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize(
    "estimator",
    [
        RandomForestClassifier(n_estimators=5, random_state=0),
        KNeighborsClassifier(),
        SGDClassifier(loss="modified_huber", random_state=0),
    ],
)
def test_unsupported_returns_none(data, estimator):
    x, y, _ = data[2]
    model = make_pipeline(StandardNormalVariate(), estimator).fit(x, y)
    assert fast_predictor(model) is None


def test_temperature_calibration_returns_none(data):
    x, y, _ = data[2]
    model = CalibratedClassifierCV(LogisticRegression(), method="temperature", cv=3).fit(x, y)
    assert fast_predictor(model) is None


def test_threads_give_the_same_result(data):
    from concurrent.futures import ThreadPoolExecutor

    x, y, xt = data[3]
    model = make_pipeline(
        StandardNormalVariate(), PCA(n_components=10), CalibratedClassifierCV(SVC(), cv=3)
    ).fit(x, y)
    fast = fast_predictor(model)
    tiles = np.array_split(xt.astype(np.float32), 8)
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(fast, tiles))
    labels, proba = fast(xt.astype(np.float32))
    np.testing.assert_array_equal(np.concatenate([r[0] for r in results]), labels)
    # the kernel's float32 GEMM blocks differently for other tile sizes: rounding only
    np.testing.assert_allclose(np.vstack([r[1] for r in results]), proba, atol=1e-6)


def test_pair_order_matches_libsvm():
    assert pairs(4) == [(0, 1), (0, 2), (0, 3), (1, 2), (1, 3), (2, 3)]


def test_analysis_is_the_public_description(data):
    """What the CPU predictor evaluates (and the GPU path reads): kind, parts, probabilities."""
    x, y, _ = data[3]
    lda = make_pipeline(StandardNormalVariate(), LinearDiscriminantAnalysis()).fit(x, y)
    analysis = _fast.analyse(lda)
    assert analysis.kind == "linear" and analysis.proba == "softmax" and analysis.has_proba
    assert isinstance(analysis.first_member, _fast.LinearMember)
    sgd = SGDClassifier(loss="log_loss", random_state=0).fit(x, y)
    assert _fast.analyse(sgd).proba == "ovr"
    svc = _fast.analyse(make_pipeline(StandardNormalVariate(), SVC()).fit(x, y))
    assert svc.kind == "svc" and svc.proba is None and not svc.has_proba
    member = svc.first_member
    assert isinstance(member, _fast.SVCMember) and member.n_classes == 3
    assert member.shape == "ovr" and not member.break_ties
    calibrated = make_pipeline(
        StandardScaler(), CalibratedClassifierCV(SVC(), method="isotonic", cv=2)
    ).fit(x, y)
    analysis = _fast.analyse(calibrated)
    assert analysis.kind == "calibrated" and len(analysis.parts) == 2
    part = analysis.parts[0]
    assert isinstance(part, _fast.CalibratedPart) and part.n_classes == 3
    assert all(isinstance(c, _fast.Isotonic) for c in part.calibrators)
    assert sorted(part.positions) == [0, 1, 2]
    assert _fast.analyse(make_pipeline(StandardScaler(), KNeighborsClassifier()).fit(x, y)) is None


def test_gpu_path_reads_only_public_names_of_the_fast_path():
    import ast
    import inspect

    from hsi_tumor.inference import _device_model

    tree = ast.parse(inspect.getsource(_device_model))
    imported = [
        alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module == "hsi_tumor.inference._fast"
        for alias in node.names
    ]
    assert imported and not [name for name in imported if name.startswith("_")]


@pytest.mark.parametrize("kernel", ["rbf", "poly"])
def test_kernel_predictors_hand_back_the_classifiers_features(rng, kernel):
    X, y = _spectra(rng, 600, 3)
    pipe = make_pipeline(
        StandardNormalVariate(), PCA(6, random_state=0), StandardScaler(), SVC(kernel=kernel)
    ).fit(X, y)
    fast = fast_predictor(pipe)
    assert fast.feature_width == 6
    features = np.full((X.shape[0], 6), np.nan)
    labels, _ = fast(X, features)
    np.testing.assert_array_equal(labels, pipe.predict(X))
    np.testing.assert_allclose(features, pipe[:-1].transform(X), rtol=0, atol=1e-12)
    calibrated = make_pipeline(
        StandardNormalVariate(), PCA(6, random_state=0), CalibratedClassifierCV(SVC(), cv=3)
    ).fit(X, y)
    assert fast_predictor(calibrated).feature_width == 6
    # a calibrated estimator with steps of its own: its features are not the pipeline head's
    own = make_pipeline(
        StandardNormalVariate(),
        CalibratedClassifierCV(make_pipeline(PCA(6, random_state=0), SVC()), cv=3),
    ).fit(X, y)
    assert fast_predictor(own).feature_width is None


@pytest.mark.parametrize(
    ("steps", "classifier", "dtype"),
    [
        ((StandardNormalVariate,), LinearDiscriminantAnalysis, np.float32),  # no affine tail
        ((StandardNormalVariate, "pca"), LinearDiscriminantAnalysis, np.float32),  # float64 tail
        ((StandardNormalVariate, "pca"), LogisticRegression, np.float64),
        ((StandardNormalVariate, StandardScaler), LogisticRegression, np.float32),  # float32 tail
        ((StandardNormalVariate, "pca"), LinearSVC, np.float32),
        ((StandardNormalVariate, "pca"), "linear-svc-kernel", np.float32),
    ],
)
def test_linear_predictors_hand_back_the_classifiers_features(rng, steps, classifier, dtype):
    X, y = _spectra(rng, 900, 3)
    made = [PCA(6, random_state=0) if s == "pca" else s() for s in steps]
    final = SVC(kernel="linear") if classifier == "linear-svc-kernel" else classifier()
    pipe = make_pipeline(*made, final).fit(X, y)
    x = X.astype(dtype)
    fast = fast_predictor(pipe)
    width = pipe[:-1].transform(X[:1]).shape[1]
    assert fast.feature_width == width
    features = np.full((x.shape[0], width), np.nan)
    labels, proba = fast(x, features)
    # unfused: the decision evaluated on the features, which are scikit-learn's
    np.testing.assert_allclose(features, pipe[:-1].transform(x), rtol=0, atol=1e-12)
    np.testing.assert_array_equal(labels, pipe.predict(x))
    if proba is not None:
        np.testing.assert_allclose(proba, pipe.predict_proba(x), rtol=0, atol=1e-6)
    member = fast.analysis.first_member
    fused, fused_err = member.scorer(x)
    shared, shared_err = member.scorer(x, np.empty((x.shape[0], width)))
    # both forms agree within their bounds, which stay far below the probability tolerance
    assert np.all(np.abs(fused - shared) <= fused_err + shared_err)
    assert shared_err.max() < 1e-9 * max(1.0, np.abs(shared).max())
