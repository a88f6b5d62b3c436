"""LazyMask: a boolean (rows, cols, bands) array computed where read, with numpy's manners."""

from __future__ import annotations

import numpy as np
import pytest

import hsi_tumor as ht
from hsi_tumor._shared.masks import LazyMask


class CountingMask(LazyMask):
    """A mask over a numpy array that counts the values it computes (an independent check)."""

    meaning = "True where the array is positive"

    def __init__(self, array, reads=None) -> None:
        self.array = array
        self.reads = reads if reads is not None else [0]

    @property
    def shape(self):
        return self.array.shape

    def select(self, key):
        rows, cols, bands = key
        return CountingMask(self.array[rows][:, cols][:, :, bands], self.reads)

    def _block(self, key):
        rows, cols, bands = key
        block = self.array[rows][:, cols][:, :, bands] > 0
        self.reads[0] += block.size
        return block


@pytest.fixture
def values(rng):
    return rng.standard_normal((37, 5, 4))


def test_reads_like_the_numpy_array(values):
    m = CountingMask(values)
    expected = values > 0
    np.testing.assert_array_equal(np.asarray(m), expected)
    for key in [
        (3,),
        (slice(2, 9), 1),
        (4, 2, 3),
        (slice(None), slice(1, 4), [0, 3]),
        (slice(None, None, -1),),
        (Ellipsis, 0),
        (expected[:, :, 0],),  # a boolean pixel mask: computed whole first, as numpy indexes
    ]:
        np.testing.assert_array_equal(m[key], expected[key], err_msg=str(key))
    assert m.shape == (37, 5, 4) and m.ndim == 3 and m.dtype == bool
    assert m.size == expected.size and len(m) == 37


def test_operators_stay_lazy_and_match_numpy(values, rng):
    reads = [0]
    m = CountingMask(values, reads)
    other = CountingMask(values - 0.5, reads)
    array = rng.random(values.shape) > 0.5
    a, b = values > 0, values > 0.5
    cases = {
        "~m": (lambda: ~m, ~a),
        "m & other": (lambda: m & other, a & b),
        "m | array": (lambda: m | array, a | array),
        "array ^ m": (lambda: array ^ m, array ^ a),
        "m & True": (lambda: m & True, a),
        "band row": (lambda: m & np.array([True, False, True, True]), a & [1, 0, 1, 1]),
        "np.logical_not": (lambda: np.logical_not(m), ~a),
        "np.logical_and": (lambda: np.logical_and(array, m), array & a),
    }
    for name, (make, expected) in cases.items():
        reads[0] = 0
        lazy = make()
        assert isinstance(lazy, LazyMask), name
        assert reads[0] == 0, f"{name} computed values before being read"
        np.testing.assert_array_equal(np.asarray(lazy), expected, err_msg=name)
        np.testing.assert_array_equal(lazy[2:5, 1], expected[2:5, 1], err_msg=name)
        np.testing.assert_array_equal(lazy.select((slice(3, 9),) * 3)[:], expected[3:9, 3:9, 3:9])
    reads[0] = 0
    part = (~m)[10:12]
    assert reads[0] == part.size  # reading a block of ~m computes that block only


def test_reductions_match_numpy_and_go_tile_by_tile(values, monkeypatch):
    import hsi_tumor._shared.masks as masks

    monkeypatch.setattr(masks, "rows_per_tile", lambda shape, itemsize: 4)  # 10 tiles of rows
    m = CountingMask(values)
    a = values > 0
    for axis in [None, 0, 1, 2, -1, (0, 1), (1, 2), (0, 2)]:
        for keepdims in (False, True):
            for name in ("sum", "any", "all", "mean"):
                got = getattr(m, name)(axis=axis, keepdims=keepdims)
                expected = getattr(a, name)(axis=axis, keepdims=keepdims)
                assert np.shape(got) == np.shape(expected), (name, axis, keepdims)
                np.testing.assert_allclose(got, expected, err_msg=f"{name} {axis} {keepdims}")
    assert np.sum(m) == a.sum() and np.count_nonzero(m) == a.sum()
    assert np.any(m) and not np.all(m)
    out = np.empty(5, dtype=np.intp)
    assert m.sum(axis=(0, 2), out=out) is out
    np.testing.assert_array_equal(out, a.sum(axis=(0, 2)))
    with pytest.raises(ht.CubeIndexError, match="axis 3"):
        m.all(axis=3)


def test_repr_says_what_it_is_and_computes_nothing(values):
    reads = [0]
    m = CountingMask(values, reads)
    text = repr(m)
    assert text == (
        "CountingMask(37 rows x 5 cols x 4 bands, bool, lazy (computed on read): "
        "True where the array is positive)"
    )
    assert "object at 0x" not in repr(~m) and "~CountingMask" in repr(~m)
    assert "CountingMask & array" in repr(m & (values > 1))
    assert reads[0] == 0


def test_mistakes_are_explained(values):
    m = CountingMask(values)
    with pytest.raises(ht.InvalidOptionError, match=r"tissue\[:, :, np.newaxis\]"):
        m & np.ones((37, 5), bool)  # a (rows, cols) mask needs a band axis
    with pytest.raises(ht.InvalidOptionError, match="ambiguous"):
        bool(m)
    assert bool(CountingMask(np.ones((1, 1, 1))))
    # numpy's own result where it is not a boolean mask of the same shape
    counts = np.add(m, 1)
    assert isinstance(counts, np.ndarray) and counts.dtype != bool
    np.testing.assert_array_equal(counts, (values > 0) + 1)
    np.testing.assert_array_equal(m & np.ones(values.shape, np.uint8), (values > 0) & 1)
