"""The compiled RBF kernel (optional numba) equals numpy's SNV and scikit-learn's decisions."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

pytest.importorskip("numba", reason="numba is not installed (pip install hsi_tumor[fast])")

from sklearn.calibration import CalibratedClassifierCV
from sklearn.decomposition import PCA
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from hsi_tumor.inference import _numba, _svm
from hsi_tumor.inference._fast import fast_predictor
from hsi_tumor.preprocessing import SavitzkyGolay, StandardNormalVariate
from tests.inference.test_fast import _check, _spectra


def _sklearn_snv(x):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # flat rows
        return StandardNormalVariate().fit(x[:2]).transform(x)


def _assert_bitwise(got, expected):
    assert got.dtype == expected.dtype == np.float32
    np.testing.assert_array_equal(got.view(np.uint32), expected.view(np.uint32))


@pytest.mark.parametrize("n_bands", [2, 3, 7, 8, 16, 17, 60, 128, 129, 224, 257, 300, 500, 1000])
def test_snv_is_numpys_bit_for_bit(n_bands):
    rng = np.random.default_rng(n_bands)
    smooth = 0.3 + 0.1 * np.cumsum(rng.normal(0, 0.1, (200, n_bands)), axis=1)
    x = np.vstack(
        [
            smooth,
            smooth * 1e3 - 7,  # large offsets against the spread
            rng.normal(0, 1, (100, n_bands)),
            rng.uniform(-1e-3, 1e-3, (50, n_bands)),
            np.full((1, n_bands), 0.1),  # flat: zeros
        ]
    ).astype(np.float32)
    _assert_bitwise(_numba.snv(x), _sklearn_snv(x))
    assert _numba.snv_matches(n_bands)


def test_snv_on_a_simulated_specimen():
    import hsi_tumor as ht

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cube = ht.simulate_specimen(seed=1, shape=(24, 24), n_bands=224).calibrate().load()
    x = cube.data.reshape(-1, cube.n_bands)
    x = np.ascontiguousarray(x[np.isfinite(x).all(axis=1)], dtype=np.float32)
    assert x.shape[0] > 100
    _assert_bitwise(_numba.snv(x), _sklearn_snv(x))


def test_exp_polynomial():
    g = np.concatenate(
        [np.linspace(-87, 0, 2_000_001, dtype=np.float32), -np.logspace(-30, 1, 1000)]
    ).astype(np.float32)
    mantissa, bits = np.empty_like(g), np.empty(g.shape, np.int32)
    _numba._exp(g, mantissa, bits)
    got = (mantissa * bits.view(np.float32)).astype(np.float64)
    exact = np.exp(g.astype(np.float64))
    assert np.max(np.abs(got - exact) / exact) < 2.5e-7
    # below −87 the exponent is clamped: off by at most UNDERFLOW_ERROR
    low = np.array([-87.5, -100, -104, -1e4], dtype=np.float32)
    mantissa, bits = np.empty_like(low), np.empty(low.shape, np.int32)
    _numba._exp(low, mantissa, bits)
    got = (mantissa * bits.view(np.float32)).astype(np.float64)
    assert np.all(np.abs(got - np.exp(low.astype(np.float64))) <= _numba.UNDERFLOW_ERROR)


@pytest.fixture(scope="module")
def spectra():
    rng = np.random.default_rng(11)
    out = {}
    for k in (2, 3, 4):
        x, y = _spectra(rng, 400, k)
        xt, _ = _spectra(rng, 3000, k)
        out[k] = (x, y, xt.astype(np.float32))  # fitted in float64 (PCA then answers in it)
    return out


def _scorer(model):
    return fast_predictor(model).analysis.first_member.scorer


MODELS = {
    "snv-pca-scale-binary": (
        2,
        lambda: make_pipeline(
            StandardNormalVariate(), PCA(n_components=20), StandardScaler(), SVC(C=10)
        ),
    ),
    "snv-scale-3-ovo": (
        3,
        lambda: make_pipeline(
            StandardNormalVariate(), StandardScaler(), SVC(C=10, decision_function_shape="ovo")
        ),
    ),
    "snv-4-ovo": (4, lambda: make_pipeline(StandardNormalVariate(), SVC(C=10, gamma=0.5))),
    "snv-pca-4-ovr-break-ties": (
        4,
        lambda: make_pipeline(
            StandardNormalVariate(), PCA(n_components=12), SVC(C=10, break_ties=True)
        ),
    ),
}


@pytest.mark.parametrize("name", list(MODELS))
def test_compiled_decisions_within_the_bound(spectra, name, monkeypatch):
    n_classes, build = MODELS[name]
    x, y, xt = spectra[n_classes]
    model = build().fit(x, y)
    scorer = _scorer(model)
    assert scorer._compiled_for(xt) is not None
    dec, err = scorer(xt)
    # scikit-learn's libsvm pair decisions are −decision_function (binary) or its 'ovo' form
    svc = model[-1]
    saved = svc.decision_function_shape
    svc.decision_function_shape = "ovo"
    try:
        ref = model.decision_function(xt).reshape(dec.shape[0], -1)
    finally:
        svc.decision_function_shape = saved
    ref = -ref if n_classes == 2 else ref
    assert np.all(np.abs(dec - ref) <= err)
    monkeypatch.setattr(_svm, "USE_NUMBA", False)
    assert scorer._compiled_for(xt) is None
    dec_numpy, err_numpy = scorer(xt)
    assert np.all(np.abs(dec - dec_numpy) <= err + err_numpy)
    monkeypatch.setattr(_svm, "USE_NUMBA", True)
    _check(model, xt, proba=False)


@pytest.mark.parametrize("n_classes", [2, 3])
def test_compiled_calibrated_probabilities(spectra, n_classes):
    """SNV → PCA(20) → standardise → calibrated SVM: the benchmark's chain."""
    x, y, xt = spectra[n_classes]
    model = make_pipeline(
        StandardNormalVariate(),
        PCA(n_components=20),
        StandardScaler(),
        CalibratedClassifierCV(SVC(C=10), ensemble=False, cv=3),
    ).fit(x, y)
    scorer = _scorer(model)
    assert scorer._compiled_for(xt) is not None
    _check(model, xt, proba=True)


def test_other_inputs_and_chains_use_numpy(spectra):
    x, y, xt = spectra[2]
    model = make_pipeline(StandardNormalVariate(), PCA(n_components=10), SVC()).fit(x, y)
    scorer = _scorer(model)
    assert scorer._compiled_for(xt.astype(np.float64)) is None  # float64 input
    assert scorer._compiled_for(np.asfortranarray(xt)) is None
    for steps in (
        [StandardScaler()],  # no SNV
        [StandardNormalVariate(), SavitzkyGolay(window_length=5, polyorder=2)],
        [StandardNormalVariate(), StandardScaler(), StandardScaler()],
    ):
        model = make_pipeline(*steps, SVC()).fit(x, y)
        assert _scorer(model)._tile is None


def test_falls_back_when_the_snv_differs(spectra, monkeypatch):
    """The self-check compares the emulated SNV with numpy's; any bit off: numpy path."""
    x, y, xt = spectra[2]
    model = make_pipeline(StandardNormalVariate(), PCA(n_components=10), SVC(C=10)).fit(x, y)
    exact = _numba.snv

    def off_by_one_ulp(rows):
        out = exact(rows)
        out[5, 3] = np.nextafter(out[5, 3], np.float32(np.inf))
        return out

    monkeypatch.setattr(_numba, "snv", off_by_one_ulp)
    _numba.snv_matches.cache_clear()
    try:
        scorer = _scorer(model)
        assert scorer._tile is not None
        assert scorer._compiled_for(xt) is None
        _check(model, xt, proba=False)
    finally:
        _numba.snv_matches.cache_clear()
