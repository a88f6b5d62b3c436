"""Mean spectra ± SD per class, and PCA loadings / score images."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.figure import Figure
from sklearn.decomposition import PCA

import hsi_tumor as ht
from hsi_tumor._shared.errors import InvalidOptionError, WavelengthError
from hsi_tumor.viz import class_colors, plot_mean_spectra, plot_pca
from tests.viz._helpers import band_limits, legend_texts

WL = np.array([1000.0, 1100.0, 1200.0, 1300.0, 1400.0, 1500.0])


@pytest.fixture
def labelled(rng):
    data = rng.random((8, 9, WL.size))
    labels = rng.integers(0, 3, size=(8, 9))
    data[0, 0, 2] = np.nan  # dropped, whatever its label
    labels[0, 0] = 1
    return data, labels


def _expected(data, labels, cid, valid=None):
    keep = (labels == cid) & np.isfinite(data).all(axis=2)
    if valid is not None:
        keep &= valid
    x = data[keep]
    return x.mean(axis=0), x.std(axis=0, ddof=1), len(x)


def _check_axes(ax, data, labels, classes, valid=None):
    assert len(ax.lines) == len(classes) and len(ax.collections) == len(classes)
    for line, band, cid in zip(ax.lines, ax.collections, classes, strict=True):
        mean, sd, _ = _expected(data, labels, cid, valid)
        np.testing.assert_allclose(line.get_xdata(), WL)
        np.testing.assert_allclose(line.get_ydata(), mean, rtol=1e-10)
        lower, upper = band_limits(band, WL)
        np.testing.assert_allclose(lower, mean - sd, rtol=1e-8)
        np.testing.assert_allclose(upper, mean + sd, rtol=1e-8)


def test_mean_spectra_of_a_cube_equal_numpy(labelled):
    data, labels = labelled
    names = {1: "normal", 2: "tumor"}
    ax = plot_mean_spectra(ht.Cube(data, WL), labels, class_names=names, title="t")
    _check_axes(ax, data, labels, [1, 2])
    n1, n2 = (_expected(data, labels, c)[2] for c in (1, 2))
    assert legend_texts(ax) == [f"normal (n = {n1:,})", f"tumor (n = {n2:,})"]
    assert ax.get_xlabel() == "wavelength (nm)" and ax.get_ylabel() == "reflectance"
    colors = class_colors([1, 2], names)
    np.testing.assert_allclose(ax.lines[1].get_color(), colors[2])


def test_mean_spectra_array_form_and_valid_mask(labelled):
    data, labels = labelled
    ax = plot_mean_spectra(data.reshape(-1, WL.size), labels.ravel(), WL, ylabel="absorbance")
    _check_axes(ax, data, labels, [1, 2])
    assert ax.get_ylabel() == "absorbance"
    valid = np.ones(labels.shape, dtype=bool)
    valid[3:5] = False
    ax = plot_mean_spectra(ht.Cube(data, WL, valid=valid), labels)
    _check_axes(ax, data, labels, [1, 2], valid)


def test_mean_spectra_pooled_over_cubes(rng, labelled):
    data, labels = labelled
    data2 = rng.random((4, 5, WL.size)) + 1.0
    labels2 = rng.integers(0, 3, size=(4, 5))
    ax = plot_mean_spectra([ht.Cube(data, WL), ht.Cube(data2, WL)], [labels, labels2])
    both = np.concatenate([data.reshape(-1, WL.size), data2.reshape(-1, WL.size)])
    both_labels = np.concatenate([labels.ravel(), labels2.ravel()])
    _check_axes(ax, both[:, np.newaxis], both_labels[:, np.newaxis], [1, 2])


@pytest.mark.parametrize("layout", ["bip", "bsq"])
def test_mean_spectra_memory_mapped_cube(tmp_path, labelled, layout):
    data, labels = labelled
    if layout == "bip":
        mm = np.memmap(tmp_path / "c.raw", dtype=np.float32, mode="w+", shape=data.shape)
        mm[:] = data
        view = mm
    else:
        mm = np.memmap(
            tmp_path / "c.raw", dtype=np.float32, mode="w+", shape=(WL.size, *data.shape[:2])
        )
        mm[:] = data.transpose(2, 0, 1)
        view = mm.transpose(1, 2, 0)
    mm.flush()
    cube = ht.Cube(view, WL)
    assert cube.storage == "memory-mapped"
    ax = plot_mean_spectra(cube, labels)
    _check_axes(ax, data.astype(np.float32).astype(np.float64), labels, [1, 2])


class _CountingLazyArray:
    """A lazy (rows, cols, bands) array that records which rows are read."""

    def __init__(self, array, offset=0, log=None):
        self.array, self.offset = array, offset
        self.log = [] if log is None else log
        self.shape, self.dtype = array.shape, array.dtype

    def select(self, key):
        rows = key[0]
        start = rows.start or 0
        return _CountingLazyArray(self.array[key], self.offset + start, self.log)

    def __getitem__(self, key):
        block = np.asarray(self.array[key])
        rows = np.arange(self.shape[0])[key[0] if isinstance(key, tuple) else key]
        self.log.extend((self.offset + rows).tolist())
        return block


def test_mean_spectra_reads_only_labelled_rows(labelled):
    data, _ = labelled
    labels = np.zeros(data.shape[:2], dtype=int)
    labels[3, 2:5] = 1
    labels[4, 0:2] = 2
    lazy = _CountingLazyArray(data)
    ax = plot_mean_spectra(ht.Cube(lazy, WL), labels)
    assert set(lazy.log) == {3, 4}
    _check_axes(ax, data, labels, [1, 2])


def test_mean_spectra_errors(labelled):
    data, labels = labelled
    cube = ht.Cube(data, WL)
    with pytest.raises(InvalidOptionError) as info:
        plot_mean_spectra(cube, labels[:-1])
    assert info.value.field == "labels"
    with pytest.raises(InvalidOptionError):
        plot_mean_spectra(cube, np.zeros_like(labels))  # nothing labelled
    with pytest.raises(WavelengthError):
        plot_mean_spectra(data.reshape(-1, WL.size), labels.ravel())  # no wavelengths
    with pytest.raises(WavelengthError):
        plot_mean_spectra(data.reshape(-1, WL.size), labels.ravel(), WL[:-1])
    with pytest.raises(InvalidOptionError):
        plot_mean_spectra(data.reshape(-1, WL.size), labels.ravel()[:-1], WL)
    with pytest.raises(WavelengthError):
        plot_mean_spectra([cube, ht.Cube(data, WL + 5)], [labels, labels])
    with pytest.raises(InvalidOptionError):
        plot_mean_spectra([cube, cube], [labels])
    with pytest.raises(WavelengthError):
        plot_mean_spectra(cube, labels, WL + 1)


# -- PCA ---------------------------------------------------------------------------------------
def _pca_cube(rng, shape=(12, 10)):
    scores = rng.standard_normal((*shape, 3)) * np.array([3.0, 1.5, 0.5])
    basis = rng.standard_normal((3, WL.size))
    data = scores @ basis + 0.05 * rng.standard_normal((*shape, WL.size)) + 2.0
    return data


def _same_up_to_sign(a, b):
    for row_a, row_b in zip(a, b, strict=True):
        sign = np.sign(row_a @ row_b)
        np.testing.assert_allclose(row_a, sign * row_b, atol=1e-8)


def test_pca_loadings_and_scores_equal_sklearn(rng):
    data = _pca_cube(rng)
    data[1, 1, 4] = np.nan  # invalid pixel
    mask = np.ones(data.shape[:2], dtype=bool)
    mask[:, :2] = False
    fig = plot_pca(ht.Cube(data, WL), n_components=2, mask=mask)
    assert isinstance(fig, Figure)
    ok = mask & np.isfinite(data).all(axis=2)
    reference = PCA(n_components=2).fit(data[ok])
    ax_load, *score_axes = fig.axes[:3]
    loadings = np.array([line.get_ydata() for line in ax_load.lines[:2]])
    _same_up_to_sign(loadings, reference.components_)
    np.testing.assert_allclose(ax_load.lines[0].get_xdata(), WL)
    ratios = 100 * reference.explained_variance_ratio_
    assert legend_texts(ax_load) == [f"PC1 ({ratios[0]:.1f} %)", f"PC2 ({ratios[1]:.1f} %)"]
    expected = reference.transform(data[ok])
    for k, ax in enumerate(score_axes):
        assert ax.get_title() == f"PC{k + 1} scores"
        image = ax.images[0].get_array()
        np.testing.assert_array_equal(image.mask, ~ok)  # NaN outside the mask and invalid
        sign = np.sign(loadings[k] @ reference.components_[k])
        np.testing.assert_allclose(image.data[ok], sign * expected[:, k], rtol=1e-4, atol=1e-4)


def test_pca_subsample_is_reproducible_and_documented(rng):
    data = _pca_cube(rng)
    cube = ht.Cube(data, WL)
    fig = plot_pca(cube, n_components=3, max_pixels=40, random_state=7)
    idx = np.sort(np.random.default_rng(7).choice(data.shape[0] * data.shape[1], 40, False))
    reference = PCA(n_components=3).fit(data.reshape(-1, WL.size)[idx])
    loadings = np.array([line.get_ydata() for line in fig.axes[0].lines[:3]])
    _same_up_to_sign(loadings, reference.components_)
    other = plot_pca(cube, n_components=3, max_pixels=40, random_state=8)
    assert not np.allclose(np.abs(other.axes[0].lines[0].get_ydata()), np.abs(loadings[0]))


def test_pca_memory_mapped_cube(tmp_path, rng):
    data = _pca_cube(rng).astype(np.float32)
    mm = np.memmap(tmp_path / "c.raw", dtype=np.float32, mode="w+", shape=data.shape)
    mm[:] = data
    mm.flush()
    cube = ht.Cube(np.memmap(tmp_path / "c.raw", dtype=np.float32, mode="r", shape=data.shape), WL)
    fig = plot_pca(cube, n_components=2)
    reference = PCA(n_components=2).fit(data.reshape(-1, WL.size).astype(np.float64))
    loadings = np.array([line.get_ydata() for line in fig.axes[0].lines[:2]])
    _same_up_to_sign(loadings, reference.components_)
    assert not np.ma.getmaskarray(fig.axes[1].images[0].get_array()).any()


def test_pca_many_components_wrap_and_errors(rng):
    cube = ht.Cube(_pca_cube(rng), WL)
    fig = plot_pca(cube, n_components=6)
    assert [ax.get_title() for ax in fig.axes[1:7]] == [f"PC{k} scores" for k in range(1, 7)]
    with pytest.raises(InvalidOptionError) as info:
        plot_pca(cube, n_components=7)
    assert info.value.field == "n_components"
    with pytest.raises(InvalidOptionError):
        plot_pca(cube, n_components=2, max_pixels=2)
    with pytest.raises(InvalidOptionError, match="mask has shape"):
        plot_pca(cube, mask=np.ones((3, 3), dtype=bool))
    with pytest.raises(InvalidOptionError):
        plot_pca(cube.data)


def test_mean_spectra_single_pixel_class_has_no_spread():
    x = np.array([[0.1, 0.2, 0.3, 0.4, 0.5, 0.6], [0.2, 0.3, 0.4, 0.5, 0.6, 0.7]])
    ax = plot_mean_spectra(x, [1, 2], WL)
    lower, upper = band_limits(ax.collections[0], WL)
    np.testing.assert_allclose(lower, x[0])
    np.testing.assert_allclose(upper, x[0])
