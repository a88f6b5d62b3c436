"""as_model, the one model policy: a TumorModel, a model file or a fitted estimator."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
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
