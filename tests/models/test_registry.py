"""Every named classifier: train → classify_cube → save → load, on simulated and real data."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import accuracy_score
from sklearn.model_selection import train_test_split

import hsi_tumor as ht
from hsi_tumor.models import CLASSIFIERS, PREPROCESSING
from tests.conftest import shared_data_path
from tests.models.conftest import valid_labelled


def test_registries_are_dicts_of_recipes():
    assert set(CLASSIFIERS) == {
        "svm",
        "linear-svm",
        "random-forest",
        "lda",
        "knn",
        "logistic",
        "pls-da",
        "hist-gradient-boosting",
    }
    assert {"snv", "msc", "savgol", "pca", "absorbance", "bad-bands"} <= set(PREPROCESSING)
    for recipe in CLASSIFIERS.values():
        assert recipe.description


@pytest.mark.parametrize(
    "name",
    [
        pytest.param(name, marks=pytest.mark.slow) if name == "hist-gradient-boosting" else name
        for name in sorted(CLASSIFIERS)
    ],
)
def test_round_trip_on_simulated_specimens(name, cohort, class_names, tmp_path):
    cubes, maps, ids, truth = cohort
    model = ht.train(
        cubes[:2],
        maps[:2],
        classifier=name,
        class_names=class_names,
        groups=ids[:2],
        random_state=0,
    )
    held_out = cubes[2]
    result = ht.classify_cube(held_out, model, mask=truth[2] > 0)
    inside = result.valid
    # the map is the pipeline's own prediction on the valid pixels
    x = held_out.pixels()[inside.reshape(-1)]
    expected = model.pipeline.predict(x)
    agree = np.mean(result.labels[inside] == expected)
    assert agree > 0.999, f"{name}: {agree}"
    # 2e-5: the SVM tuned on two tiny specimens is degenerate (gamma small, kernel values all
    # near 1, most pixels support vectors), where float32 kernel rounding reaches 1.4e-5; the
    # 1e-5 contract on realistic fits is tested in tests/inference/test_fast.py
    np.testing.assert_allclose(
        result.probabilities[inside], model.pipeline.predict_proba(x), atol=2e-5
    )
    # and it finds the tissue classes of an unseen patient
    accuracy = np.mean(result.labels[inside] == truth[2][inside])
    assert accuracy > 0.75, f"{name}: accuracy {accuracy:.3f}"
    assert result.tumor_probability.shape == truth[2].shape
    # a saved model predicts identically
    loaded = ht.load_model(ht.save_model(model, tmp_path / f"{name}.htmodel"))
    np.testing.assert_array_equal(loaded.pipeline.predict_proba(x), model.pipeline.predict_proba(x))
    assert loaded.training == model.training and loaded.class_names == model.class_names


@pytest.fixture(scope="module")
def indian_pines():
    folder = shared_data_path("indian-pines")
    cube = ht.read_cube(folder / "Indian_pines_corrected.npy").load()
    gt = np.ascontiguousarray(np.load(folder / "Indian_pines_gt.npy"))
    labelled = np.flatnonzero(gt.reshape(-1) > 0)
    train, test = train_test_split(
        labelled, train_size=0.10, stratify=gt.reshape(-1)[labelled], random_state=0
    )
    train_map = np.zeros_like(gt)
    train_map.reshape(-1)[train] = gt.reshape(-1)[train]
    return cube, gt, train_map, test


# Overall accuracy on the 90% test pixels with SNV on all bands (SNV→PCA(20) for the slow
# iterative solvers: logistic, linear SVM, gradient boosting), fixed seed. The RBF SVM must
# land in the published range for a 10% random sample (about 78-87%); the others must be
# clearly better than chance (16 classes) and are recorded here as measured.
REAL_FLOORS = {
    "svm": 0.78,
    "random-forest": 0.65,
    "hist-gradient-boosting": 0.68,
    "lda": 0.60,
    "knn": 0.60,
    "logistic": 0.60,
    "linear-svm": 0.55,
    "pls-da": 0.50,
}


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(CLASSIFIERS))
def test_round_trip_on_indian_pines(name, indian_pines):
    cube, gt, train_map, test = indian_pines
    slow = ("logistic", "linear-svm", "hist-gradient-boosting")
    preprocessing = ("snv", "pca") if name in slow else ("snv",)
    model = ht.train(
        cube,
        train_map,
        classifier=name,
        preprocessing=preprocessing,
        random_state=0,
        max_pixels_per_class=None,
    )
    assert model.classes.size == 16
    result = ht.classify_cube(cube, model)
    accuracy = accuracy_score(gt.reshape(-1)[test], result.labels.reshape(-1)[test])
    assert accuracy >= REAL_FLOORS[name], f"{name}: OA {accuracy:.3f}"
    if name == "svm":
        assert accuracy <= 0.87, f"svm OA {accuracy:.3f} above the published range: leak?"
    x, _ = valid_labelled(cube, gt)
    agree = np.mean(result.labels.reshape(-1)[gt.reshape(-1) > 0] == model.pipeline.predict(x))
    assert agree > 0.999, f"{name}: {agree}"
