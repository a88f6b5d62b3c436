"""Forests through the compiled kernel: bitwise scikit-learn's predict_proba at n_jobs=1."""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import sklearn
from sklearn.ensemble import (
    ExtraTreesClassifier,
    HistGradientBoostingClassifier,
    RandomForestClassifier,
    RandomForestRegressor,
)
from sklearn.pipeline import make_pipeline
from sklearn.svm import SVC
from sklearn.tree import DecisionTreeClassifier

import hsi_tumor as ht
from hsi_tumor._shared.errors import InvalidOptionError, ModelFileError
from hsi_tumor.inference import _forest
from hsi_tumor.inference._forest import _floor_float32, forest_predictor
from hsi_tumor.preprocessing import StandardNormalVariate
from tests.conftest import shared_data_path

FORESTS = (RandomForestClassifier, ExtraTreesClassifier)


def _data(rng, n_classes: int, n: int = 600, n_features: int = 24):
    """Smooth spectra-like rows whose class depends on a few bands."""
    x = rng.normal(size=(n, n_features)).cumsum(axis=1)
    score = x[:, n_features // 4] - 0.5 * x[:, 3 * n_features // 4]
    score += rng.normal(scale=0.5, size=n)
    edges = np.quantile(score, np.linspace(0, 1, n_classes + 1)[1:-1])
    return x, np.searchsorted(edges, score) * 3 + 1  # labels 1, 4, 7, ...


def _assert_same(predictor, estimator, x):
    """Bitwise probabilities (float64), labels as predict, the float32 cast of __call__."""
    expected = estimator.predict_proba(x)
    proba = predictor.predict_proba(x)
    assert proba.dtype == np.float64
    np.testing.assert_array_equal(proba, expected)
    labels, proba32 = predictor(x)
    np.testing.assert_array_equal(labels, estimator.predict(x))
    np.testing.assert_array_equal(proba32, expected.astype(np.float32))
    assert proba32.dtype == np.float32


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("max_depth", [None, 3])
@pytest.mark.parametrize("n_classes", [2, 4, 16])
@pytest.mark.parametrize("forest_type", FORESTS)
def test_bitwise_equal_to_predict_proba(rng, forest_type, n_classes, max_depth, dtype):
    x, y = _data(rng, n_classes)
    forest = forest_type(n_estimators=15, max_depth=max_depth, random_state=0).fit(x, y)
    test = rng.normal(size=(700, x.shape[1])).cumsum(axis=1).astype(dtype)
    _assert_same(forest_predictor(forest), forest, np.vstack([test, x.astype(dtype)]))


@pytest.mark.parametrize(
    ("max_depth", "min_samples_leaf", "pure"), [(None, 1, True), (3, 1, False), (None, 5, False)]
)
def test_pure_leaves_add_one_per_tree(rng, max_depth, min_samples_leaf, pure):
    """Trees grown to the end have one-hot leaves: the kernel then adds 1.0 to one class per
    tree (whole numbers, exact in any order) and must still give predict_proba's bits."""
    x, y = _data(rng, 16, n=1500)
    forest = RandomForestClassifier(
        n_estimators=25, max_depth=max_depth, min_samples_leaf=min_samples_leaf, random_state=0
    ).fit(x, y)
    predictor = forest_predictor(forest)
    assert (predictor.packed.leaf_class.size > 0) == pure
    test = rng.normal(size=(2000, x.shape[1])).cumsum(axis=1).astype(np.float32)
    _assert_same(predictor, forest, test)


@pytest.mark.parametrize("class_weight", ["balanced", "balanced_subsample", {1: 1.0, 4: 7.5}])
def test_class_weight(rng, class_weight):
    x, y = _data(rng, 2)
    forest = RandomForestClassifier(n_estimators=10, class_weight=class_weight, random_state=1)
    forest.fit(x, y)
    _assert_same(forest_predictor(forest), forest, x + rng.normal(scale=0.3, size=x.shape))


def test_inputs_at_the_thresholds(rng):
    """float32 values below, at and above each float64 threshold go where sklearn sends them."""
    x, y = _data(rng, 4, n_features=6)
    forest = RandomForestClassifier(n_estimators=5, random_state=0).fit(x, y)
    rows, rounded_up = [], 0
    for estimator in forest.estimators_:
        tree = estimator.tree_
        inner = tree.children_left >= 0
        for f, t in zip(tree.feature[inner], tree.threshold[inner], strict=True):
            t32 = np.float32(t)
            rounded_up += bool(t32 > t)  # x = t32 goes right: a float32 comparison says left
            for v in (t32, np.nextafter(t32, np.float32(-np.inf)), np.nextafter(t32, np.inf)):
                row = x[rng.integers(len(x))].astype(np.float32)
                row[f] = v
                rows.append(row)
    test = np.array(rows)
    assert rounded_up > 0
    _assert_same(forest_predictor(forest), forest, test)


def test_floor_float32():
    """The largest float32 not above each threshold, so x <= t32 ⇔ x <= t for float32 x."""
    t = np.array([0.1, -0.1, 1.0, 3e38, 1e39, -1e39, np.inf, 0.0, 1e-46, -1e-46])
    t32 = _floor_float32(t)
    assert t32.dtype == np.float32
    assert np.all(t32.astype(np.float64) <= t)
    with np.errstate(over="ignore"):
        above = np.nextafter(t32, np.float32(np.inf))
    assert np.all((above.astype(np.float64) > t) | (t32 == np.float32(np.inf)))
    np.testing.assert_array_equal(t32[[2, 6, 7]], np.float32([1.0, np.inf, 0.0]))


def test_missing_values_and_infinities(rng):
    """NaN follows missing_go_to_left, ±inf compare as numbers, as scikit-learn's traversal."""
    x, y = _data(rng, 3)
    x[rng.random(x.shape) < 0.1] = np.nan  # the trees learn where missing values go
    for forest_type in FORESTS:
        forest = forest_type(n_estimators=10, random_state=0).fit(x, y)
        assert any(e.tree_.missing_go_to_left.any() for e in forest.estimators_)
        test = rng.normal(size=(400, x.shape[1])).cumsum(axis=1)
        test[rng.random(test.shape) < 0.15] = np.nan
        _assert_same(forest_predictor(forest), forest, test)
        test[rng.random(test.shape) < 0.05] = np.inf
        test[rng.random(test.shape) < 0.05] = -np.inf
        with sklearn.config_context(assume_finite=True):  # sklearn refuses inf otherwise
            _assert_same(forest_predictor(forest), forest, test)


def test_pipeline_with_preprocessing(rng):
    x, y = _data(rng, 4)
    x = x - x.min() + 0.1
    pipeline = make_pipeline(
        StandardNormalVariate(), ExtraTreesClassifier(n_estimators=12, random_state=0)
    ).fit(x, y)
    predictor = forest_predictor(pipeline)
    assert len(predictor.preprocessing) == 1
    test = (x + rng.normal(scale=0.2, size=x.shape)).astype(np.float32)
    _assert_same(predictor, pipeline, test)


def test_numpy_fallback(rng, monkeypatch):
    """Without numba: scikit-learn's trees summed in tree order, the same bits."""
    x, y = _data(rng, 4)
    forest = RandomForestClassifier(n_estimators=10, random_state=0).fit(x, y)
    predictor = forest_predictor(forest)
    monkeypatch.setattr(_forest, "USE_NUMBA", False)
    assert _forest._kernel() is None
    _assert_same(predictor, forest, x[::-1])
    monkeypatch.setattr(_forest, "USE_NUMBA", True)

    def no_numba():
        raise ImportError("no numba")

    monkeypatch.setattr(_forest, "_KERNEL", [])
    monkeypatch.setattr(_forest, "_make_kernel", no_numba)
    assert _forest._kernel() is None
    _assert_same(predictor, forest, x)


def test_two_threads_at_once(rng):
    x, y = _data(rng, 4, n=2000)
    forest = RandomForestClassifier(n_estimators=20, random_state=0).fit(x, y)
    predictor = forest_predictor(forest)
    halves = np.array_split(x, 2)
    with ThreadPoolExecutor(2) as pool:
        parts = list(pool.map(predictor.predict_proba, halves * 3))
    np.testing.assert_array_equal(np.vstack(parts[:2]), forest.predict_proba(x))
    for a, b in zip(parts[:2], parts[2:4], strict=True):
        np.testing.assert_array_equal(a, b)


def test_blocks_smaller_than_the_input(rng, monkeypatch):
    """Several blocks, and a last partial one, give the same bits."""
    x, y = _data(rng, 3)
    forest = RandomForestClassifier(n_estimators=8, random_state=0).fit(x, y)
    monkeypatch.setattr(_forest, "BLOCK_PIXELS", 37)
    _assert_same(forest_predictor(forest), forest, x)


def test_single_node_trees(rng):
    """Trees whose bootstrap sample held one class are a single leaf (training on one class
    is refused earlier, by hsi_tumor.train)."""
    x, y = _data(rng, 2, n=60)
    forest = RandomForestClassifier(n_estimators=30, max_samples=2, random_state=0).fit(x, y)
    counts = [e.tree_.node_count for e in forest.estimators_]
    assert min(counts) == 1 and max(counts) > 1
    _assert_same(forest_predictor(forest), forest, x)
    stump = RandomForestClassifier(n_estimators=3, min_impurity_decrease=1.0).fit(x, y)
    assert {e.tree_.node_count for e in stump.estimators_} == {1}
    _assert_same(forest_predictor(stump), stump, x)


def test_other_estimators_are_not_forests(rng):
    x, y = _data(rng, 2, n=100)
    for estimator in (
        SVC().fit(x, y),
        DecisionTreeClassifier().fit(x, y),
        HistGradientBoostingClassifier(max_iter=3).fit(x, y),
        RandomForestClassifier(n_estimators=2).fit(x, np.c_[y, y]),  # two outputs
        RandomForestRegressor(n_estimators=2).fit(x, y),
        RandomForestClassifier(n_estimators=2).fit(x, np.array(["a", "b"])[y % 2]),
    ):
        assert forest_predictor(estimator) is None
    assert forest_predictor(RandomForestClassifier()) is None  # not fitted


def _edit_tree(forest, index: int, **changes):
    tree = forest.estimators_[index].tree_
    state = tree.__getstate__()
    nodes = state["nodes"].copy()
    for field, (node, value) in changes.items():
        nodes[field][node] = value
    state["nodes"] = nodes
    tree.__setstate__(state)


@pytest.mark.parametrize(
    ("field", "value"),
    [("left_child", 0), ("right_child", 10**6), ("feature", 24), ("feature", -1)],
)
def test_edited_trees_are_refused(rng, field, value):
    """A cycle, a child or a feature out of range would make the kernel loop or read outside."""
    x, y = _data(rng, 2, n=200)
    forest = RandomForestClassifier(n_estimators=3, random_state=0).fit(x, y)
    _edit_tree(forest, 1, **{field: (0, value)})
    with pytest.raises(ModelFileError):
        forest_predictor(forest)


def test_wrong_number_of_features(rng):
    x, y = _data(rng, 2, n=200)
    predictor = forest_predictor(RandomForestClassifier(n_estimators=3).fit(x, y))
    with pytest.raises(InvalidOptionError, match="24 features"):
        predictor(x[:, :-1])


@pytest.mark.parametrize("n_jobs", [1, 2])
def test_classify_cube_equals_predict_proba(rng, caplog, n_jobs):
    x, y = _data(rng, 4, n=800, n_features=16)
    pipeline = make_pipeline(
        StandardNormalVariate(),
        RandomForestClassifier(n_estimators=20, random_state=0, n_jobs=n_jobs),
    ).fit(x - x.min() + 0.1, y)
    data = rng.normal(size=(30, 20, 16)).cumsum(axis=2).astype(np.float32)
    data -= data.min() - 0.1
    data[3, 4, 2] = np.nan  # not classified
    cube = ht.Cube(data, np.linspace(900.0, 1700.0, 16))
    with caplog.at_level(logging.INFO, logger="hsi_tumor.inference"):
        result = ht.classify_cube(cube, pipeline, tile_rows=7, n_jobs=2, progress=False)
    assert "forest path" in caplog.text
    valid = result.valid.reshape(-1)
    assert valid.sum() == valid.size - 1
    pixels = data.reshape(-1, 16)[valid]
    with sklearn.config_context(assume_finite=True):
        pipeline[-1].set_params(n_jobs=1)  # n_jobs > 1 adds trees in completion order
        expected = pipeline.predict_proba(pixels)
        np.testing.assert_array_equal(result.labels.reshape(-1)[valid], pipeline.predict(pixels))
    np.testing.assert_array_equal(
        result.probabilities.reshape(-1, 4)[valid], expected.astype(np.float32)
    )


def test_indian_pines(rng):
    """Real spectra, all 16 classes, SNV first: bitwise on every labelled pixel."""
    folder = shared_data_path("indian-pines")
    cube = np.load(folder / "Indian_pines_corrected.npy").astype(np.float32)
    gt = np.load(folder / "Indian_pines_gt.npy").reshape(-1)
    x = cube.reshape(-1, cube.shape[2])
    labelled = np.flatnonzero(gt > 0)
    train = rng.choice(labelled, 2000, replace=False)
    pipeline = make_pipeline(
        StandardNormalVariate(), RandomForestClassifier(n_estimators=30, random_state=0)
    ).fit(x[train], gt[train])
    assert len(pipeline.classes_) == 16
    predictor = forest_predictor(pipeline)
    _assert_same(predictor, pipeline, x[labelled])


def test_no_pixels(rng):
    x, y = _data(rng, 3, n=100)
    forest = RandomForestClassifier(n_estimators=3, random_state=0).fit(x, y)
    labels, proba = forest_predictor(forest)(x[:0])
    assert labels.shape == (0,) and proba.shape == (0, 3) and proba.dtype == np.float32


def test_packed_once_per_fitted_forest(rng):
    """Packing and checking 200 trees cost ~27 ms a call: done once per fitted forest, again
    after a refit (new trees)."""
    x, y = _data(rng, 3)
    forest = RandomForestClassifier(n_estimators=5, random_state=0).fit(x, y)
    first = forest_predictor(forest).packed
    assert forest_predictor(forest).packed is first
    forest.set_params(random_state=1).fit(x, y)
    again = forest_predictor(forest)
    assert again.packed is not first
    _assert_same(again, forest, x)


def test_the_forest_hands_back_its_features_when_they_are_the_domains(rng):
    from sklearn.decomposition import PCA
    from sklearn.pipeline import make_pipeline

    from hsi_tumor.inference._forest import forest_predictor
    from hsi_tumor.preprocessing import StandardNormalVariate

    X = rng.random((300, 12)).astype(np.float32)
    y = (X[:, 3] > 0.5).astype(int)
    forest = RandomForestClassifier(n_estimators=5, random_state=0)
    snv = make_pipeline(StandardNormalVariate(), forest).fit(X, y)
    predictor = forest_predictor(snv)
    assert predictor.feature_width == 12
    features = np.full((300, 12), np.nan)
    labels, _ = predictor(X, features)
    np.testing.assert_array_equal(features, snv[:-1].transform(X))  # float32 values, exactly
    np.testing.assert_array_equal(labels, snv.predict(X))
    # a PCA that scikit-learn evaluates in float64: the flag fuses it, so nothing is shared
    pca = make_pipeline(StandardNormalVariate(), PCA(4), forest).fit(X.astype(np.float64), y)
    assert forest_predictor(pca).feature_width is None
