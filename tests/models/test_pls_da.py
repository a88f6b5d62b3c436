"""PLSDAClassifier: scikit-learn compliant, and its decision function is PLSRegression's."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.cross_decomposition import PLSRegression
from sklearn.utils.estimator_checks import parametrize_with_checks

from hsi_tumor import TrainingDataError
from hsi_tumor.models import PLSDAClassifier


@parametrize_with_checks([PLSDAClassifier(n_components=2)])
def test_sklearn_compatible(estimator, check):
    check(estimator)


@pytest.fixture
def data(rng):
    X = rng.normal(size=(200, 30)) * rng.uniform(0.1, 10, 30) + rng.normal(size=30) * 5
    y = rng.integers(1, 5, 200)
    X[:, :3] += y[:, None]  # some signal
    return X, y


def test_multiclass_decision_is_the_pls_prediction_of_indicators(data):
    X, y = data
    clf = PLSDAClassifier(n_components=5).fit(X, y)
    reference = PLSRegression(n_components=5).fit(X, np.eye(4)[y - 1]).predict(X)
    np.testing.assert_allclose(clf.decision_function(X), reference, atol=1e-10)
    np.testing.assert_array_equal(clf.predict(X), np.arange(1, 5)[reference.argmax(axis=1)])


def test_binary_decision_is_centred_on_one_half(data):
    X, y = data
    y2 = np.where(y > 2, 7, 3)
    clf = PLSDAClassifier(n_components=4).fit(X, y2)
    reference = PLSRegression(n_components=4).fit(X, (y2 == 7).astype(float)).predict(X).ravel()
    np.testing.assert_allclose(clf.decision_function(X), reference - 0.5, atol=1e-10)
    np.testing.assert_array_equal(clf.predict(X), np.where(reference > 0.5, 7, 3))


def test_components_are_capped(data):
    X, y = data
    assert PLSDAClassifier(n_components=100).fit(X[:10], y[:10]).n_components_ == 9


def test_single_class_is_refused(data):
    X, _ = data
    with pytest.raises(TrainingDataError, match="at least 2 classes"):
        PLSDAClassifier().fit(X, np.ones(len(X)))
