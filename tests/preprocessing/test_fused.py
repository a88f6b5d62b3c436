"""The fused tile functions equal scikit-learn's own transform."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.decomposition import PCA, IncrementalPCA
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from hsi_tumor.preprocessing import DegenerateSpectrumWarning, StandardNormalVariate
from hsi_tumor.preprocessing._fused import _Projection, tile_function


@pytest.fixture
def spectra(rng):
    base = np.linspace(0.3, 0.7, 50)
    return (base * rng.uniform(0.5, 1.5, (400, 1)) + rng.normal(0, 0.02, (400, 50))).astype(
        np.float32
    )


@pytest.mark.parametrize("whiten", [False, True])
@pytest.mark.parametrize("pca_class", [PCA, IncrementalPCA])
@pytest.mark.parametrize("with_snv", [False, True])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_equals_sklearn(spectra, whiten, pca_class, with_snv, dtype):
    x = spectra.astype(dtype)
    pca = pca_class(n_components=7, whiten=whiten)
    model = make_pipeline(StandardNormalVariate(), pca) if with_snv else pca
    model.fit(x)
    fn = tile_function(model)
    assert isinstance(fn, _Projection)
    got = fn(x)
    assert got.dtype == dtype
    tol = 2e-4 if dtype == np.float32 else 1e-10
    np.testing.assert_allclose(got, model.transform(x), rtol=tol, atol=tol)


def test_flat_spectra_follow_snv_semantics(spectra):
    x = spectra.copy()
    x[3] = 0.5
    model = make_pipeline(StandardNormalVariate(), PCA(n_components=4)).fit(spectra)
    with pytest.warns(DegenerateSpectrumWarning):
        expected = model.transform(x)
    with pytest.warns(DegenerateSpectrumWarning, match="1 of 400 spectra are flat"):
        got = tile_function(model)(x)
    np.testing.assert_allclose(got, expected, rtol=2e-4, atol=2e-4)


def test_other_transformers_are_called_as_they_are(spectra):
    scaler = make_pipeline(StandardScaler(), PCA(n_components=3)).fit(spectra)
    assert tile_function(scaler) == scaler.transform
    snv = StandardNormalVariate().fit(spectra)
    assert tile_function(snv) == snv.transform
