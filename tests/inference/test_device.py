"""classify_cube(device="cuda"): the GPU path's arithmetic and streaming, and the GPU itself.

Without a GPU the device code runs on :class:`HostBackend` with ``array_api_strict`` (only
array-API operations, as CuPy and PyTorch get them) and with NumPy; the tests marked by
``needs_gpu`` run CuPy / PyTorch on a CUDA device and skip without one.
"""

from __future__ import annotations

import re
import warnings
from concurrent.futures import ThreadPoolExecutor

import array_api_compat.numpy as xnp
import array_api_strict
import numpy as np
import pytest
from sklearn.calibration import CalibratedClassifierCV
from sklearn.decomposition import PCA
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression, RidgeClassifier, SGDClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC, LinearSVC

import hsi_tumor as ht
from hsi_tumor import CalibrationWarning, HsiTumorError, InvalidOptionError, NoValidPixelsError
from hsi_tumor._shared.errors import MissingDependencyError
from hsi_tumor.inference import _device
from hsi_tumor.inference._device import HostBackend, classify_on_device
from hsi_tumor.inference._device_model import snv32
from hsi_tumor.inference._device_snv import cuda_source, run_program
from hsi_tumor.preprocessing import (
    MultiplicativeScatterCorrection,
    SavitzkyGolay,
    StandardNormalVariate,
)
from hsi_tumor.preprocessing._standard_normal_variate import snv_rows

from .test_fast import WAVELENGTHS, _margins, _spectra

TIE = 1e-5  # labels may differ from the CPU path's only where a decision is this close to a tie
PROBA_ATOL = 1e-4  # the GPU path's promise; measured errors are below 1e-6
NAMESPACES = [array_api_strict, xnp]


def _gpu_backends() -> dict:
    """The CUDA backends this machine can run, by name (none without a GPU)."""
    found = {}
    for backend in (_device.CupyBackend, _device.TorchBackend):
        try:
            found[backend.name] = backend(0)
        except (HsiTumorError, ImportError):
            pass
    return found


GPU_BACKENDS = _gpu_backends()
needs_gpu = pytest.mark.skipif(
    not GPU_BACKENDS, reason="no CUDA GPU with CuPy or PyTorch on this machine"
)


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(11)
    out = {}
    for k in (2, 3):
        x, y = _spectra(rng, 300, k)
        xt, _ = _spectra(rng, 1500, k)
        out[k] = (x.astype(np.float32), y, xt.astype(np.float32))
    return out


def _on_host(pipeline, x, xp, tile_rows=7):
    """Device-path labels and probabilities of pixels ``x`` as a (n, 1, bands) cube."""
    cube = ht.Cube(x[:, np.newaxis, :], WAVELENGTHS)
    index, proba, valid = classify_on_device(
        cube,
        pipeline,
        HostBackend(xp),
        mask=None,
        resampler=None,
        tile_rows=tile_rows,
        progress=False,
    )
    assert valid.all()
    labels = np.asarray(pipeline.classes_).take(index[:, 0])
    return labels, None if proba is None else proba[:, 0]


def _check(pipeline, x, xp):
    labels, proba = _on_host(pipeline, x, xp)
    wrong = labels != pipeline.predict(x)
    if wrong.any():
        assert _margins(pipeline, x)[wrong].max() < TIE, int(wrong.sum())
    if hasattr(pipeline, "predict_proba"):
        assert proba.dtype == np.float32
        np.testing.assert_allclose(proba, pipeline.predict_proba(x), rtol=0, atol=PROBA_ATOL)
    else:
        assert proba is None
    return labels, proba


def _calibrated(estimator, method="sigmoid"):
    return CalibratedClassifierCV(estimator, ensemble=False, cv=3, method=method)


PIPELINES = {
    "snv-pca-std-rbf-calibrated": lambda: make_pipeline(
        StandardNormalVariate(), PCA(12), StandardScaler(), _calibrated(SVC(C=10))
    ),
    "snv-std-rbf-calibrated": lambda: make_pipeline(
        StandardNormalVariate(), StandardScaler(), _calibrated(SVC(C=10))
    ),
    "snv-rbf-isotonic": lambda: make_pipeline(
        StandardNormalVariate(), PCA(8), _calibrated(SVC(), "isotonic")
    ),
    "sg-pca-rbf": lambda: make_pipeline(
        SavitzkyGolay(window_length=7, polyorder=2, deriv=1), PCA(10), SVC(C=3)
    ),
    "std-linear-svc-kernel": lambda: make_pipeline(StandardScaler(), SVC(kernel="linear")),
    "snv-pca-poly": lambda: make_pipeline(
        StandardNormalVariate(), PCA(6), StandardScaler(), SVC(kernel="poly", degree=3)
    ),
    "pca-sigmoid": lambda: make_pipeline(
        PCA(6), StandardScaler(), SVC(kernel="sigmoid", gamma=0.05)
    ),
    "snv-logistic": lambda: make_pipeline(StandardNormalVariate(), LogisticRegression()),
    "lda": lambda: make_pipeline(PCA(10), LinearDiscriminantAnalysis()),
    "sgd-log": lambda: make_pipeline(StandardScaler(), SGDClassifier(loss="log_loss")),
    "ridge": lambda: make_pipeline(StandardNormalVariate(), RidgeClassifier()),
    "linear-svc-calibrated": lambda: make_pipeline(
        StandardNormalVariate(), PCA(10), _calibrated(LinearSVC())
    ),
}


@pytest.mark.parametrize("xp", NAMESPACES, ids=lambda m: m.__name__)
@pytest.mark.parametrize("n_classes", [2, 3])
@pytest.mark.parametrize("name", list(PIPELINES))
def test_models_match_the_cpu_path(data, name, n_classes, xp):
    x, y, xt = data[n_classes]
    pipeline = PIPELINES[name]().fit(x, y)
    _check(pipeline, xt, xp)


@pytest.mark.parametrize("shape", ["ovr", "ovo"])
def test_multiclass_svc_votes_and_ties(data, shape):
    x, y, xt = data[3]
    for break_ties in (False, True):
        svc = SVC(C=10, decision_function_shape=shape, break_ties=break_ties and shape == "ovr")
        _check(make_pipeline(StandardNormalVariate(), PCA(8), svc).fit(x, y), xt, array_api_strict)


def test_float64_pixels(data):
    x, y, xt = data[2]
    pipeline = PIPELINES["snv-pca-std-rbf-calibrated"]().fit(x.astype(np.float64), y)
    _check(pipeline, xt.astype(np.float64), array_api_strict)


def _snv_probe(n_bands: int, n_rows: int) -> tuple[np.ndarray, np.ndarray]:
    """float32 rows (one flat, one far from zero) and numpy's SNV of them."""
    rng = np.random.default_rng(n_bands)
    x = (0.5 + 0.1 * rng.standard_normal((n_rows, n_bands))).astype(np.float32)
    x[0] = 0.3  # flat
    x[1] += 1000.0  # a large offset: the mean's rounding matters
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return x, snv_rows(x)


@pytest.mark.parametrize("n_bands", [3, 7, 8, 17, 100, 128, 129, 224, 301])
def test_snv32_is_numpys_to_the_bit(n_bands):
    x, expected = _snv_probe(n_bands, 50)
    got = np.from_dlpack(snv32(array_api_strict, array_api_strict.asarray(x)))
    np.testing.assert_array_equal(got.view(np.uint32), expected.view(np.uint32))


# --- whole cubes through classify_cube(device=...) -----------------------------------------


@pytest.fixture
def host_device(monkeypatch):
    """``device="cuda"`` served by the host backend (array_api_strict)."""
    monkeypatch.setattr(_device, "backend_for", lambda device: HostBackend(array_api_strict))


@pytest.fixture(scope="module")
def specimen():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CalibrationWarning)
        spec = ht.simulate_specimen(seed=3, shape=(40, 36), n_bands=64)
        lazy = spec.calibrate()
        cube = lazy.load()
    model = ht.train(
        cube,
        spec.labels,
        preprocessing=("snv", "pca"),
        classifier_params={"C": 10.0, "gamma": "scale"},
        class_names={1: "normal", 2: "tumor"},
        random_state=0,
    )
    return spec, lazy, cube, model


def _same_map(got, ref):
    np.testing.assert_array_equal(got.valid, ref.valid)
    np.testing.assert_array_equal(got.labels, ref.labels)
    assert got.n_invalid == ref.n_invalid and got.n_masked == ref.n_masked
    np.testing.assert_allclose(got.probabilities, ref.probabilities, rtol=0, atol=PROBA_ATOL)
    assert np.isnan(got.probabilities[~got.valid]).all()
    # the training domain's flag: computed on the host, as on the CPU path
    if ref.outlier is None:
        assert got.outlier is None
    else:
        np.testing.assert_array_equal(got.outlier, ref.outlier)


@pytest.mark.parametrize("tile_rows", [None, 1, 7, 40])
def test_cube_matches_the_cpu_path(host_device, specimen, tile_rows):
    _, _, cube, model = specimen
    assert ht.classify_cube(cube, model).n_invalid > 0  # dead pixels (NaN) on the cube
    ref = ht.classify_cube(cube, model)
    _same_map(ht.classify_cube(cube, model, device="cuda", tile_rows=tile_rows), ref)


@pytest.mark.parametrize(
    ("name", "options"),
    [("bsq_big_endian.hdr", {"interleave": "bsq", "byte_order": 1}), ("cube.h5", {})],
)
def test_cubes_read_from_files(host_device, specimen, tmp_path, name, options):
    _, _, cube, model = specimen
    ht.write_cube(cube, tmp_path / name, **options)
    stored = ht.read_cube(tmp_path / name)
    assert not isinstance(stored.data, np.ndarray) or not stored.data.dtype.isnative
    _same_map(
        ht.classify_cube(stored, model, device="cuda", tile_rows=9), ht.classify_cube(cube, model)
    )


def test_raw_counts_are_calibrated_on_the_device(host_device, specimen, monkeypatch):
    _, lazy, cube, model = specimen
    assert lazy.data.saturation is not None
    sent = []
    upload = HostBackend.upload

    def record(self, host, stream):
        sent.append(host.dtype)
        return upload(self, host, stream)

    monkeypatch.setattr(HostBackend, "upload", record)
    got = ht.classify_cube(lazy, model, device="cuda")
    assert np.dtype(lazy.data.raw.dtype) in sent  # raw counts crossed, not reflectance
    _same_map(got, ht.classify_cube(lazy, model))
    _same_map(got, ht.classify_cube(cube, model))


def test_mask_and_flagged_pixels(host_device, specimen):
    _, _, cube, model = specimen
    mask = np.zeros(cube.shape[:2], dtype=bool)
    mask[5:30, 3:20] = True
    valid = np.ones(cube.shape[:2], dtype=bool)
    valid[10:12] = False
    flagged = ht.Cube(cube.data, cube.wavelengths, valid=valid)
    ref = ht.classify_cube(flagged, model, mask=mask)
    got = ht.classify_cube(flagged, model, mask=mask, device="cuda")
    _same_map(got, ref)
    assert got.n_masked == int((~mask).sum()) and not got.valid[10:12].any()


def test_integer_counts_and_an_empty_mask(host_device, specimen):
    spec, _, _, _ = specimen
    model = ht.train(
        spec.raw,
        spec.labels,
        classifier="lda",
        preprocessing=("snv",),
        class_names={1: "normal", 2: "tumor"},
        random_state=0,
    )
    assert spec.raw.dtype == np.uint16
    _same_map(ht.classify_cube(spec.raw, model, device="cuda"), ht.classify_cube(spec.raw, model))
    with pytest.raises(NoValidPixelsError, match="empty"):
        ht.classify_cube(spec.raw, model, device="cuda", mask=np.zeros(spec.shape[:2], bool))


def test_resampled_cube(host_device, specimen):
    _, _, cube, model = specimen
    wl = cube.wavelengths
    fine = np.linspace(wl[0], wl[-1], 97)
    spectra = np.stack(
        [np.interp(fine, wl, s) for s in np.nan_to_num(cube.data.reshape(-1, cube.n_bands))]
    )
    shifted = ht.Cube(spectra.reshape(*cube.shape[:2], -1).astype(np.float32), fine)
    ref = ht.classify_cube(shifted, model, resample=True)
    got = ht.classify_cube(shifted, model, resample=True, device="cuda")
    # the CPU resamples in float32, the device in float64: both are near scikit-learn's
    agree = got.labels == ref.labels
    assert agree.mean() > 0.999
    np.testing.assert_allclose(got.probabilities, ref.probabilities, rtol=0, atol=1e-3)


def test_device_model_is_built_once_per_pipeline(host_device, specimen, monkeypatch):
    _, _, cube, model = specimen
    built = []
    real = _device.device_model
    monkeypatch.setattr(_device, "device_model", lambda *a: built.append(1) or real(*a))
    backend = HostBackend(xnp)
    monkeypatch.setattr(_device, "backend_for", lambda device: backend)
    for _ in range(3):
        ht.classify_cube(cube[:4], model, device="cuda")
    assert len(built) == 1


def test_pinned_buffers_are_reused_and_returned_after_errors(specimen, monkeypatch):
    _, _, cube, model = specimen
    backend = HostBackend(xnp)
    monkeypatch.setattr(_device, "backend_for", lambda device: backend)
    monkeypatch.setattr(_device, "_LANES", {})
    made = []
    real = _device._Lane
    monkeypatch.setattr(_device, "_Lane", lambda *a: made.append(1) or real(*a))
    for _ in range(3):
        ht.classify_cube(cube, model, device="cuda", tile_rows=8)
    assert len(made) == 2  # one pair of lanes, reused

    def fail(self, x, eps):
        raise RuntimeError("device failure")

    monkeypatch.setattr(_device.DeviceModel, "__call__", fail)
    with pytest.raises(RuntimeError, match="device failure"):
        ht.classify_cube(cube, model, device="cuda", tile_rows=8)
    assert len(made) == 2 and sum(map(len, _device._LANES.values())) == 2


@pytest.mark.parametrize(
    ("steps", "named"),
    [
        (lambda: [RandomForestClassifier(n_estimators=5)], "RandomForestClassifier"),
        (lambda: [MultiplicativeScatterCorrection(), SVC()], "MultiplicativeScatterCorrection"),
        (lambda: [StandardNormalVariate(), SVC(probability=True)], "SVC"),
    ],
)
def test_unsupported_models_are_named(host_device, specimen, steps, named):
    spec, _, cube, _ = specimen
    x = np.nan_to_num(cube.data.reshape(-1, cube.n_bands))
    y = spec.true_labels.reshape(-1)
    keep = y > 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pipeline = make_pipeline(*steps()).fit(x[keep], y[keep])
    model = ht.TumorModel.from_pipeline(pipeline, wavelengths=cube.wavelengths)
    with pytest.raises(InvalidOptionError, match=named) as info:
        ht.classify_cube(cube, model, device="cuda")
    assert "device='cpu'" in str(info.value)


def test_bad_device_names():
    _device.backend_for.cache_clear()
    for bad in ("gpu", "cuda:x", "tpu:0"):
        with pytest.raises(InvalidOptionError, match="device"):
            _device.backend_for(bad)


def test_no_gpu_library_is_a_clear_error(monkeypatch):
    def missing(self, index):
        raise ImportError(f"No module named {self.name!r}")

    monkeypatch.setattr(_device.CupyBackend, "__init__", missing)
    monkeypatch.setattr(_device.TorchBackend, "__init__", missing)
    _device.backend_for.cache_clear()
    try:
        with pytest.raises(MissingDependencyError, match=r"hsi_tumor\[gpu\]"):
            _device.backend_for("cuda")
    finally:
        _device.backend_for.cache_clear()


# --- on a real GPU ------------------------------------------------------------------------


@pytest.fixture(params=["cupy", "torch"])
def gpu(request, monkeypatch):
    """``device="cuda"`` served by CuPy, then by PyTorch: each GPU backend the machine has."""
    backend = GPU_BACKENDS.get(request.param)
    if backend is None:
        pytest.skip(f"no CUDA GPU with {request.param} on this machine")
    monkeypatch.setattr(_device, "backend_for", lambda device: backend)
    return backend


@needs_gpu
def test_gpu_matches_the_cpu_path(gpu, specimen):
    _, lazy, cube, model = specimen
    ref = ht.classify_cube(cube, model)
    _same_map(ht.classify_cube(cube, model, device="cuda"), ref)
    _same_map(ht.classify_cube(lazy, model, device="cuda"), ref)
    _same_map(ht.classify_cube(cube, model, device="cuda", tile_rows=7), ref)


@needs_gpu
def test_gpu_from_pinned_memory(gpu, specimen):
    spec, lazy, cube, model = specimen
    pinned = ht.inference.empty_pinned(cube.shape, np.float32)
    pinned[...] = cube.data
    assert gpu.is_pinned(pinned) and not gpu.is_pinned(np.array(cube.data))
    got = ht.classify_cube(ht.Cube(pinned, cube.wavelengths), model, device="cuda", tile_rows=9)
    _same_map(got, ht.classify_cube(cube, model))
    raw = ht.inference.empty_pinned(spec.raw.shape, spec.raw.dtype)
    raw[...] = np.asarray(spec.raw.data)
    counts = ht.calibrate(
        ht.Cube(raw, spec.raw.wavelengths),
        spec.white,
        spec.dark,
        saturation=spec.saturation,
        white_reflectance=spec.camera.white_reflectance,
    )
    _same_map(ht.classify_cube(counts, model, device="cuda"), ht.classify_cube(lazy, model))


@needs_gpu
@pytest.mark.parametrize("n_classes", [2, 3])
@pytest.mark.parametrize("name", list(PIPELINES))
def test_gpu_models(gpu, data, name, n_classes):
    x, y, xt = data[n_classes]
    pipeline = PIPELINES[name]().fit(x, y)
    cube = ht.Cube(xt[:, np.newaxis, :], WAVELENGTHS)
    got = ht.classify_cube(cube, pipeline, device="cuda")
    ref = ht.classify_cube(cube, pipeline)
    if ref.probabilities is None:
        assert got.probabilities is None
    else:
        np.testing.assert_allclose(got.probabilities, ref.probabilities, rtol=0, atol=PROBA_ATOL)
    wrong = got.labels[:, 0] != ref.labels[:, 0]
    if wrong.any():
        assert _margins(pipeline, xt)[wrong].max() < TIE


@needs_gpu
@pytest.mark.parametrize("n_bands", [3, 7, 8, 17, 100, 128, 129, 224, 301])
def test_gpu_snv_is_numpys_to_the_bit(gpu, n_bands):
    x, expected = _snv_probe(n_bands, 5000)
    got = gpu.snv32(gpu.put(x))
    assert got is not None  # this numpy build is emulated (on CuPy: the fused kernel)
    got = np.from_dlpack(got.cpu()) if gpu.name == "torch" else gpu.cp.asnumpy(got)
    np.testing.assert_array_equal(got.view(np.uint32), expected.view(np.uint32))
    if gpu.name == "cupy":
        assert gpu._snv_kernel(n_bands) is not None  # the one-launch kernel, not the emulation


@needs_gpu
def test_gpu_streams_many_cubes_concurrently(gpu, specimen):
    _, _, cube, model = specimen
    ref = ht.classify_cube(cube, model)
    with ThreadPoolExecutor(4) as pool:
        maps = list(pool.map(lambda _: ht.classify_cube(cube, model, device="cuda"), range(8)))
    for got in maps:
        _same_map(got, ref)


@pytest.mark.parametrize("n_bands", [2, 3, 7, 8, 16, 17, 64, 100, 128, 129, 224, 256, 301])
def test_fused_snv_program_is_numpys_to_the_bit(n_bands):
    """The one-launch CUDA kernel's statements, run on NumPy columns, are numpy's SNV."""
    x, expected = _snv_probe(n_bands, 200)
    got = run_program(x)
    np.testing.assert_array_equal(got.view(np.uint32), expected.view(np.uint32))
    # every generated operation is a correctly rounded intrinsic (__fadd_rn, ...): no
    # arithmetic operator that the CUDA compiler could contract into a fused multiply-add
    lines = [line.strip() for line in cuda_source(n_bands).splitlines()]
    generated = [line for line in lines if re.match(r"(const float v\d+ =|o\[)", line)]
    assert len([line for line in generated if line.startswith("o[")]) == n_bands
    assert not [line for line in generated if re.search(r"[-+*/]", line)]
