"""TumorModel: what it takes as a pipeline and as class names, and the error of each kind."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
from sklearn.linear_model import LinearRegression

import hsi_tumor as ht


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
