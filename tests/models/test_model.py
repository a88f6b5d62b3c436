"""TumorModel (its pipeline and class names, the error of each kind) and as_model, the one
model policy: a TumorModel, a model file or a fitted estimator."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
from sklearn.linear_model import LinearRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import hsi_tumor as ht
from hsi_tumor.models import as_model

from .conftest import valid_labelled


@pytest.fixture(scope="module")
def model(cohort, class_names):
    cubes, maps, ids, _ = cohort
    return ht.train(
        cubes, maps, groups=ids, classifier="lda", class_names=class_names, random_state=0
    )


def test_a_model_is_used_as_it_is(model):
    assert as_model(model) is model


def test_a_path_is_loaded(model, tmp_path):
    path = ht.save_model(model, tmp_path / "m.htmodel")
    for given in (path, str(path)):
        loaded = as_model(given)
        assert isinstance(loaded, ht.TumorModel)
        assert loaded.class_names == model.class_names
        np.testing.assert_array_equal(loaded.wavelengths, model.wavelengths)
    with pytest.raises(ht.MissingFileError):
        as_model(tmp_path / "missing.htmodel")


def test_a_fitted_estimator_is_wrapped(cohort):
    cubes, maps, _, _ = cohort
    x, y = valid_labelled(cubes[0], maps[0])
    pipeline = make_pipeline(StandardScaler(), LinearDiscriminantAnalysis()).fit(x, y)
    wrapped = as_model(pipeline)
    assert wrapped.pipeline is pipeline
    assert wrapped.wavelengths is None
    assert wrapped.classifier == "LinearDiscriminantAnalysis"
    result = ht.classify_cube(cubes[0], pipeline)
    assert result.labels.shape == maps[0].shape  # classify_cube takes it through as_model


@pytest.mark.parametrize(
    ("model", "match"),
    [
        (3, "model is a int"),
        (LinearDiscriminantAnalysis(), "unfitted LinearDiscriminantAnalysis"),
        (StandardScaler().fit(np.eye(3)), "StandardScaler"),
    ],
)
def test_anything_else_is_a_clear_error(model, match):
    with pytest.raises(ht.InvalidOptionError, match=match) as info:
        as_model(model)
    assert info.value.field == "model"
    assert info.value.fix


@pytest.fixture
def spectra(rng):
    return rng.random((20, 3)), np.repeat([1, 2], 10)


def test_pipeline_errors(spectra):
    X, y = spectra
    with pytest.raises(ht.InvalidTypeError, match="not a fitted scikit-learn estimator"):
        ht.TumorModel("svm", None, None)
    with pytest.raises(ht.InvalidOptionError, match="not a fitted") as info:
        ht.TumorModel(LinearDiscriminantAnalysis(), None, None)
    assert not isinstance(info.value, TypeError) and info.value.field == "pipeline"
    with pytest.raises(ht.InvalidTypeError, match="not a classifier"):
        ht.TumorModel(LinearRegression().fit(X, y), None, None)
    with pytest.raises(ht.InvalidOptionError, match="not integer label ids"):
        ht.TumorModel.from_pipeline(LinearDiscriminantAnalysis().fit(X, np.where(y == 1, "a", "b")))


def test_class_name_errors(spectra):
    lda = LinearDiscriminantAnalysis().fit(*spectra)
    assert ht.TumorModel.from_pipeline(lda, class_names=["a", "b"]).class_names == {1: "a", 2: "b"}
    with pytest.raises(ht.InvalidTypeError, match="class_names is a str"):
        ht.TumorModel.from_pipeline(lda, class_names="tumor")
    with pytest.raises(ht.InvalidOptionError, match="1 class names for 2 classes"):
        ht.TumorModel.from_pipeline(lda, class_names=["tumor"])
    with pytest.raises(ht.InvalidOptionError, match=r"no name for class id\(s\) \[2\]"):
        ht.TumorModel.from_pipeline(lda, class_names={1: "normal"})


def test_html_shows_classifier_preprocessing_classes_and_training(model):
    from tests._shared.test_display import check_html

    page = model._repr_html_()
    check_html(page)
    for fact in (
        "hsi_tumor.TumorModel",
        "lda",
        "snv → pca",
        "normal",
        "tumor",
        "#d62728",  # the tumor class's colour
        f"{model.wavelengths.size} bands",
        ", ".join(model.patients),
        f"{model.training['n_pixels']} pixels",
    ):
        assert fact in page, fact
    for name, per_patient in model.training["pixels"].items():
        assert f">{sum(per_patient.values())}<" in page, name  # training pixels per class


def test_html_escapes_class_names(model):
    from tests._shared.test_display import check_html

    evil = ht.TumorModel.from_pipeline(
        model.pipeline, class_names={1: "<script>x</script>", 2: "tumor"}
    )
    page = evil._repr_html_()
    check_html(page)
    assert "&lt;script&gt;x&lt;/script&gt;" in page
    assert "yes" in page  # probabilities
