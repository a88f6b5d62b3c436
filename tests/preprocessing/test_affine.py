"""The one description of affine preprocessing chains: split, composed, and exact against
scikit-learn's own ``transform``."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.decomposition import PCA, IncrementalPCA
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import MaxAbsScaler, MinMaxScaler, RobustScaler, StandardScaler

from hsi_tumor.preprocessing import (
    Absorbance,
    DegenerateSpectrumWarning,
    SavitzkyGolay,
    StandardNormalVariate,
    WavelengthRange,
    _affine,
)
from hsi_tumor.preprocessing._affine import Affine, Stage, flatten_steps, split_chain

WL = np.linspace(950.0, 1650.0, 60)


@pytest.fixture
def spectra(rng):
    """Reflectance-like spectra (float64): a smooth shape, scaled, plus noise."""
    base = 0.4 + 0.2 * np.sin(WL / 90.0)
    return base * rng.uniform(0.5, 1.5, (500, 1)) + rng.normal(0, 0.02, (500, WL.size))


def _selection():
    return WavelengthRange(wavelengths=WL, min_nm=1000, max_nm=1500)


def _sg():
    return SavitzkyGolay(window_length=7, polyorder=2, deriv=1)


#: Affine tails: PCA, IncrementalPCA, scalers, Savitzky–Golay, band selection, and mixes.
TAILS = {
    "pca": lambda: [PCA(n_components=6)],
    "pca-whiten": lambda: [PCA(n_components=6, whiten=True)],
    "ipca-scaler": lambda: [IncrementalPCA(n_components=5), StandardScaler()],
    "sg-pca": lambda: [_sg(), PCA(n_components=6)],
    "selection-pca-scaler": lambda: [_selection(), PCA(n_components=4), StandardScaler()],
    "scaler": lambda: [StandardScaler()],
    "selection-robust": lambda: [_selection(), RobustScaler()],
    "sg": lambda: [_sg()],
    "minmax-maxabs": lambda: [MinMaxScaler(), MaxAbsScaler()],
}


def _fitted(steps: list, x: np.ndarray) -> list:
    for step in steps:
        x = step.fit(x).transform(x)
    return steps


@pytest.mark.parametrize("fit_dtype", [np.float32, np.float64])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("snv", [False, True], ids=["no-snv", "snv"])
@pytest.mark.parametrize("tail", sorted(TAILS))
def test_exact_stage_is_sklearns_transform(spectra, tail, snv, dtype, fit_dtype):
    """A float64 tail is fused in float64 (scikit-learn's up to float64 rounding); a float32
    tail is called step by step (scikit-learn's to the bit)."""
    steps = ([StandardNormalVariate()] if snv else []) + TAILS[tail]()
    steps = _fitted(steps, spectra.astype(fit_dtype))
    x = spectra.astype(dtype)
    chain = split_chain(steps)
    assert chain.prefix == steps[: int(snv)] and chain.tail == steps[int(snv) :]
    got = chain.exact_stage().features(x)
    expected = make_pipeline(*steps).transform(x)
    if chain.float64:
        assert got.dtype == np.float64
        scale = np.abs(expected).max()
        np.testing.assert_allclose(got, expected, rtol=0, atol=1e-13 * scale)
    else:
        assert got.dtype == expected.dtype
        np.testing.assert_array_equal(got, expected)


def test_tail_precision_follows_sklearn(spectra):
    """PCA fitted on float64 answers float32 input in float64; scalers keep float32."""
    x32 = spectra.astype(np.float32)
    assert split_chain(_fitted([PCA(n_components=3)], spectra)).float64
    assert not split_chain(_fitted([PCA(n_components=3)], x32)).float64
    assert not split_chain(_fitted([StandardScaler()], spectra)).float64


def test_split_keeps_non_affine_steps_in_the_prefix(spectra):
    positive = np.abs(spectra) + 0.05
    absorbance, snv, pca = Absorbance(), StandardNormalVariate(), PCA(n_components=3)
    steps = _fitted([absorbance, snv, pca], positive)
    chain = split_chain(steps)
    assert chain.prefix == [absorbance, snv] and chain.tail == [pca] and chain.steps == steps
    # an affine step before a non-affine one stays in the prefix, called as it is
    late = _fitted([PCA(n_components=5), StandardNormalVariate()], spectra)
    chain = split_chain(late)
    assert chain.prefix == late and chain.tail == [] and chain.affine is None
    np.testing.assert_array_equal(
        chain.exact_stage().features(spectra), make_pipeline(*late).transform(spectra)
    )


def test_composition_is_the_steps_one_after_the_other(spectra):
    steps = _fitted([_selection(), _sg(), PCA(n_components=4), StandardScaler()], spectra)
    affine = split_chain(steps).affine
    assert affine.n_in == WL.size and affine.n_out == 4 and not affine.diagonal
    # the selection's columns are kept; the others are pruned from the dense matrix
    assert affine.cols is not None and affine.cols.size < WL.size
    z = spectra[:, affine.cols] @ affine.matrix + affine.offset
    np.testing.assert_allclose(z, make_pipeline(*steps).transform(spectra), atol=1e-12)
    assert affine.n_steps == 4 and affine.kappa > 0


def test_diagonal_steps_stay_diagonal(spectra):
    steps = _fitted([_selection(), StandardScaler(), MaxAbsScaler()], spectra)
    affine = split_chain(steps).affine
    assert affine.diagonal and affine.matrix.shape == (affine.n_out,)
    z = spectra[:, affine.cols] * affine.matrix + affine.offset
    np.testing.assert_allclose(z, make_pipeline(*steps).transform(spectra), atol=1e-12)


def test_then_rejects_mismatched_widths():
    with pytest.raises(ValueError, match="cannot compose 3 outputs with 4 inputs"):
        Affine.identity(3).then(Affine.identity(4))


def test_float32_scaler_is_the_lone_float32_standard_scaler(spectra):
    x32 = spectra.astype(np.float32)
    snv, scaler = StandardNormalVariate(), StandardScaler()
    assert split_chain(_fitted([snv, scaler], x32)).float32_scaler() is scaler
    assert (
        split_chain(_fitted([StandardNormalVariate(), RobustScaler()], x32)).float32_scaler()
        is None
    )
    pca_scaled = _fitted([StandardNormalVariate(), PCA(n_components=3), StandardScaler()], spectra)
    assert split_chain(pca_scaled).float32_scaler() is None


def test_flatten_steps_unnests_and_skips_passthrough(spectra):
    inner = Pipeline([("snv", StandardNormalVariate()), ("skip", "passthrough")])
    outer = Pipeline([("pre", inner), ("none", None), ("pca", PCA(n_components=2))])
    assert [type(s) for s in flatten_steps(outer)] == [StandardNormalVariate, PCA]
    scaler = StandardScaler()
    assert flatten_steps(scaler) == [scaler]


@pytest.mark.parametrize("whiten", [False, True])
@pytest.mark.parametrize("cls", [PCA, IncrementalPCA])
def test_projection_without_checks_is_transform_to_the_bit(spectra, cls, whiten):
    x32 = spectra.astype(np.float32)
    for fit in (spectra, x32):
        pca = cls(n_components=5, whiten=whiten).fit(fit)
        projection = _affine._evaluator(pca)
        assert projection.light and all(projection.exact.values())
        for x in (spectra, x32):
            np.testing.assert_array_equal(projection(x), pca.transform(x))


def test_features_in_chunks_equal_one_call(spectra, monkeypatch):
    steps = _fitted([StandardNormalVariate(), PCA(n_components=6)], spectra.astype(np.float32))
    stage = split_chain(steps).exact_stage()
    x = spectra.astype(np.float32)
    whole = stage.features(x)
    monkeypatch.setattr(_affine, "CHUNK_BYTES", 64 * WL.size * 4)  # 64 pixels a chunk
    np.testing.assert_array_equal(stage.features(x), whole)
    np.testing.assert_array_equal(whole, make_pipeline(*steps).transform(x))


def test_scale_bounds_the_input(spectra):
    steps = _fitted([StandardNormalVariate(), PCA(n_components=4)], spectra)
    chain = split_chain(steps)
    z, scale = Stage(chain.prefix, chain.affine)(spectra)
    snv = StandardNormalVariate().fit(spectra).transform(spectra)
    nu = np.linalg.norm(snv, axis=1)
    np.testing.assert_allclose(scale, nu * chain.affine.kappa + chain.affine.beta)
    assert chain.affine.beta > 0  # PCA's offset −μWᵀ
    np.testing.assert_array_equal(z, chain.exact_stage().features(spectra))
    assert Stage(steps, None)(spectra)[1] is None


def test_flat_spectra_follow_snv(spectra):
    steps = _fitted([StandardNormalVariate(), PCA(n_components=4)], spectra)
    x = spectra.copy()
    x[3] = 0.5
    with pytest.warns(DegenerateSpectrumWarning):
        expected = make_pipeline(*steps).transform(x)
    with pytest.warns(DegenerateSpectrumWarning, match="1 of 500 spectra are flat"):
        got = split_chain(steps).exact_stage().features(x)
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-13)


def test_integer_counts_are_transformed_as_sklearn_does(rng):
    counts = rng.integers(300, 3000, (700, WL.size)).astype(np.uint16)
    steps = _fitted([StandardNormalVariate(), PCA(n_components=4)], counts.astype(np.float32))
    got = split_chain(steps).exact_stage().features(counts)
    np.testing.assert_array_equal(got, make_pipeline(*steps).transform(counts))
