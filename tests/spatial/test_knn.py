"""knn_filter against brute-force neighbour search, closed forms, NaN handling and checks."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage
from sklearn.neighbors import NearestNeighbors

import hsi_tumor as ht
from hsi_tumor.spatial import _knn, knn_filter


def brute_knn(probabilities, guide, k, weight, valid, include_self=True):
    """Full distance matrix over the valid pixels, stable argsort, mean of the K nearest."""
    r, c = np.nonzero(valid)
    x = np.column_stack([guide[valid], weight * r, weight * c])
    d2 = ((x[:, None, :] - x[None, :, :]) ** 2).sum(axis=2)
    if not include_self:
        np.fill_diagonal(d2, np.inf)
    nearest = np.argsort(d2, axis=1, kind="stable")[:, :k]
    out = np.full(probabilities.shape, np.nan)
    out[valid] = probabilities[valid][nearest].mean(axis=1)
    return out


def random_case(seed, rows=18, cols=23, n_classes=3):
    rng = np.random.default_rng(seed)
    guide = rng.normal(0, 3, (rows, cols))  # continuous: no ties in distance
    probabilities = rng.dirichlet(np.ones(n_classes), (rows, cols))
    return rng, guide, probabilities


@pytest.mark.parametrize(
    ("k", "weight"), [(1, 1.0), (7, 1.0), (40, 1.0), (12, 0.0), (12, 0.3), (12, 5.0)]
)
def test_against_brute_force(k, weight):
    _, guide, probabilities = random_case(k)
    valid = np.ones(guide.shape, bool)
    expected = brute_knn(probabilities, guide, k, weight, valid)
    out = knn_filter(probabilities, guide, n_neighbors=k, spatial_weight=weight)
    assert out.dtype == np.float32 and out.shape == probabilities.shape
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-6)


def test_nan_mask_and_exclude_self():
    rng, guide, probabilities = random_case(11)
    probabilities[rng.random(guide.shape) < 0.15] = np.nan
    probabilities[3, 4, 1] = np.nan  # one class missing: the pixel is not classified
    mask = rng.random(guide.shape) > 0.1
    guide[~mask] = np.nan  # the guide may be undefined where nothing is filtered
    valid = np.isfinite(probabilities).all(axis=2) & mask
    for include_self in (True, False):
        out = knn_filter(probabilities, guide, n_neighbors=9, mask=mask, include_self=include_self)
        expected = brute_knn(probabilities, guide, 9, 1.0, valid, include_self)
        np.testing.assert_array_equal(np.isnan(out), ~valid[..., None].repeat(3, axis=2))
        np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-6)


def test_chunked_queries_match_sklearn(monkeypatch):
    monkeypatch.setattr(_knn, "QUERY_CHUNK", 97)  # many chunks, with a ragged last one
    rng = np.random.default_rng(5)
    guide = ndimage.gaussian_filter(rng.normal(size=(40, 50)), 2) * 30
    probabilities = rng.dirichlet(np.ones(4), guide.shape).astype(np.float32)
    r, c = np.indices(guide.shape)
    x = np.column_stack([guide.ravel(), 0.7 * r.ravel(), 0.7 * c.ravel()])
    _, nearest = NearestNeighbors(n_neighbors=15).fit(x).kneighbors(x)
    expected = probabilities.reshape(-1, 4)[nearest].mean(axis=1).reshape(probabilities.shape)
    out = knn_filter(probabilities, guide, n_neighbors=15, spatial_weight=0.7, n_jobs=1)
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-6)


def test_closed_forms():
    rng, guide, probabilities = random_case(3)
    # K = 1 with the pixel itself: the identity
    out = knn_filter(probabilities, guide, n_neighbors=1)
    np.testing.assert_allclose(out, probabilities, rtol=1e-6)
    # constant probabilities stay constant, whatever the guide
    constant = np.broadcast_to([0.2, 0.5, 0.3], probabilities.shape)
    out = knn_filter(constant, guide, n_neighbors=25, spatial_weight=0.5)
    np.testing.assert_allclose(out, constant, rtol=1e-6)
    # position dominates (λ large): the 3 x 3 mean inside, the 5-pixel cross for K = 5
    unit_guide = rng.random(guide.shape)
    out = knn_filter(probabilities, unit_guide, n_neighbors=9, spatial_weight=1e4)
    box = ndimage.uniform_filter(probabilities, size=(3, 3, 1), mode="constant")
    np.testing.assert_allclose(out[1:-1, 1:-1], box[1:-1, 1:-1], rtol=1e-5)
    out = knn_filter(probabilities, unit_guide, n_neighbors=5, spatial_weight=1e4)
    cross = ndimage.generate_binary_structure(2, 1)[..., None] / 5.0
    expected = ndimage.correlate(probabilities, cross, mode="constant")
    np.testing.assert_allclose(out[1:-1, 1:-1], expected[1:-1, 1:-1], rtol=1e-5)


def test_guide_edge_is_preserved():
    guide = np.zeros((20, 20))
    guide[:, 10:] = 100.0
    probabilities = np.zeros((20, 20, 2))
    probabilities[:, :10, 0] = probabilities[:, 10:, 1] = 1.0
    out = knn_filter(probabilities, guide, n_neighbors=40)
    np.testing.assert_array_equal(out, probabilities)  # nothing crosses the edge
    blurred = knn_filter(probabilities, guide, n_neighbors=40, spatial_weight=1000.0)
    assert 0 < blurred[10, 9, 1] < 1


def test_cube_input_honours_valid():
    _, guide, probabilities = random_case(8)
    valid = np.ones(guide.shape, bool)
    valid[2:4, 5:9] = False
    cube = ht.Cube(probabilities.astype(np.float32), None, valid=valid)
    out = knn_filter(cube, guide, n_neighbors=6)
    np.testing.assert_allclose(out, brute_knn(probabilities, guide, 6, 1.0, valid), rtol=1e-5)


def test_errors():
    _, guide, probabilities = random_case(2, rows=4, cols=5)
    with pytest.raises(ht.InvalidOptionError, match="n_classes") as info:
        knn_filter(probabilities[..., 0], guide)
    assert info.value.field == "probabilities"
    with pytest.raises(ht.InvalidOptionError, match="guide") as info:
        knn_filter(probabilities, guide[:, :4], n_neighbors=3)
    assert info.value.field == "guide" and info.value.fix
    with pytest.raises(ht.InvalidOptionError, match="n_neighbors"):
        knn_filter(probabilities, guide, n_neighbors=0)
    with pytest.raises(ht.InvalidOptionError, match="needs 21 valid pixels, there are 20"):
        knn_filter(probabilities, guide, n_neighbors=21)
    with pytest.raises(ht.InvalidOptionError, match="needs 21"):
        knn_filter(probabilities, guide, n_neighbors=20, include_self=False)
    with pytest.raises(ht.InvalidOptionError, match="spatial_weight"):
        knn_filter(probabilities, guide, n_neighbors=3, spatial_weight=-1.0)
    with pytest.raises(ht.NoValidPixelsError, match="no pixel"):
        knn_filter(probabilities, guide, n_neighbors=3, mask=np.zeros((4, 5), bool))
    with pytest.raises(ht.InvalidOptionError, match="shape"):
        knn_filter(probabilities, guide, n_neighbors=3, mask=np.ones((5, 4), bool))
    with pytest.raises(ht.NoValidPixelsError, match="no pixel has finite"):
        knn_filter(np.full_like(probabilities, np.nan), guide, n_neighbors=3)
    bad_guide = guide.copy()
    bad_guide[0, 0] = np.nan
    with pytest.raises(ht.InvalidOptionError, match="not finite on 1 pixels") as info:
        knn_filter(probabilities, bad_guide, n_neighbors=3)
    assert info.value.field == "guide"
