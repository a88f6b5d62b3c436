"""TumorMap.outlier from classify_cube: the model's TrainingDomain on the classifier's
features, on every predictor path; labels and probabilities unchanged; rates on real data."""

from __future__ import annotations

import dataclasses
import warnings

import numpy as np
import pytest

import hsi_tumor as ht
from tests.conftest import shared_data_path


@pytest.fixture(scope="module")
def specimen():
    spec = ht.simulate_specimen(seed=3, shape=(40, 48), n_bands=40)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ht.CalibrationWarning)
        return spec.calibrate().load(), spec.labels


def _train(specimen, classifier, params, preprocessing) -> ht.TumorModel:
    cube, labels = specimen
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ht.CalibrationWarning)
        return ht.train(
            cube,
            labels,
            classifier=classifier,
            classifier_params=params,
            preprocessing=preprocessing,
            random_state=0,
            progress=False,
        )


@pytest.mark.parametrize(
    ("classifier", "params", "preprocessing"),
    [
        ("svm", {"C": 10.0, "gamma": "scale"}, ("snv", "pca")),  # the fast kernel path
        ("lda", None, ("snv",)),  # the fast linear path, its 40 features shared with the flag
        ("logistic", None, ("snv", "pca")),  # linear, after a float64 affine tail
        ("random-forest", {"n_estimators": 10}, ("snv", "pca")),  # the compiled forest
        ("random-forest", {"n_estimators": 10}, ("snv",)),  # its features shared with the flag
        ("random-forest", {"n_estimators": 10}, ()),  # the bands themselves
        ("knn", {"n_neighbors": 5}, ("snv", "pca")),  # scikit-learn, tile by tile
    ],
)
def test_outlier_is_the_domain_on_the_classifier_features(
    specimen, classifier, params, preprocessing
):
    cube, _ = specimen
    model = _train(specimen, classifier, params, preprocessing)
    mask = np.ones(cube.shape[:2], bool)
    mask[:5] = False
    result = ht.classify_cube(cube, model, mask=mask, tile_rows=7, progress=False)
    assert result.outlier.dtype == bool and result.outlier.shape == cube.shape[:2]
    pixels = cube.pixels()[result.valid.reshape(-1)]
    head = model.pipeline[:-1]
    expected = model.domain.predict(head.transform(pixels) if len(head) else pixels)
    np.testing.assert_array_equal(result.outlier[result.valid], expected)
    assert not result.outlier[~result.valid].any()  # False where not classified
    assert 0 < result.n_outlier < result.valid.sum()  # the background is outside
    bare = ht.classify_cube(
        cube, dataclasses.replace(model, domain=None), mask=mask, tile_rows=7, progress=False
    )
    assert bare.outlier is None
    np.testing.assert_array_equal(bare.labels, result.labels)
    if bare.probabilities is not None:
        np.testing.assert_array_equal(bare.probabilities, result.probabilities)


@pytest.mark.parametrize("classifier", ["lda", "svm", "random-forest"])
def test_shared_features_are_flagged_chunk_by_chunk(specimen, monkeypatch, classifier):
    """A tile larger than SHARED_FEATURE_BYTES is classified and flagged in chunks (one
    reused buffer per thread): the same labels, probabilities and flags as in one piece."""
    from hsi_tumor.inference import _classify

    cube, _ = specimen
    params = {"n_estimators": 10} if classifier == "random-forest" else None
    model = _train(specimen, classifier, params, ("snv",))
    whole = ht.classify_cube(cube, model, tile_rows=40, progress=False)
    monkeypatch.setattr(_classify, "SHARED_FEATURE_BYTES", 8 * 40 * 300)  # 300 rows a chunk
    chunked = ht.classify_cube(cube, model, tile_rows=40, progress=False)
    np.testing.assert_array_equal(chunked.labels, whole.labels)
    np.testing.assert_array_equal(chunked.outlier, whole.outlier)
    if whole.probabilities is not None:
        np.testing.assert_array_equal(chunked.probabilities, whole.probabilities)
    pixels = cube.pixels()[whole.valid.reshape(-1)]
    expected = model.domain.predict(model.pipeline[:-1].transform(pixels))
    np.testing.assert_array_equal(chunked.outlier[whole.valid], expected)
    assert 0 < chunked.n_outlier


def test_smoothing_keeps_the_outlier_map(specimen):
    from hsi_tumor.inference import smooth_tumor_map

    cube, labels = specimen
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ht.CalibrationWarning)
        model = ht.train(cube, labels, classifier="lda", random_state=0, progress=False)
    result = ht.classify_cube(cube, model, progress=False)
    for method in ("majority", "knn"):
        smooth = smooth_tumor_map(result, cube, method=method)
        np.testing.assert_array_equal(smooth.outlier, result.outlier & smooth.valid)


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


@pytest.mark.parametrize("classifier", ["svm", "lda"])
def test_flag_rates_on_indian_pines(pines, classifier):
    """Grass-trees, Soybean-mintill and Woods trained on the top half of the scene: their
    held-out pixels in the bottom half are flagged at most 2 % of the time (default
    TrainingDomain, SNV → PCA features); the spectrally distinct materials never trained on
    (Alfalfa, Hay-windrowed, Stone-Steel-Towers) on at least 85 %; crops like the trained
    ones (corn, other soybean) much less: the flag tells a new spectrum, not a new name
    (bench/bench_outlier.py prints every class)."""
    cube, truth = pines
    rows = np.broadcast_to(np.arange(truth.shape[0])[:, None], truth.shape)
    trained = np.isin(truth, (6, 11, 14))
    params = {"C": 10.0, "gamma": "scale"} if classifier == "svm" else None
    model = ht.train(
        cube,
        np.where(trained & (rows < 72), truth, 0),
        classifier=classifier,
        classifier_params=params,
        preprocessing=("snv", "pca"),
        random_state=0,
        progress=False,
    )
    outlier = ht.classify_cube(cube, model, progress=False).outlier
    assert outlier[trained & (rows > 72)].mean() <= 0.02
    for unseen in (1, 8, 16):
        assert outlier[truth == unseen].mean() >= 0.85, unseen
    assert outlier[np.isin(truth, (2, 3, 10))].mean() < 0.1  # corn and soybean fields
