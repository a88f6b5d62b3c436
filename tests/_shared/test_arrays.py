"""materialize: the fast tiled copy equals numpy's own, for every layout and byte order."""

from __future__ import annotations

import numpy as np
import pytest

from hsi_tumor._shared.arrays import materialize, rows_per_tile


@pytest.mark.parametrize("layout", [(0, 1, 2), (1, 2, 0), (0, 2, 1), (2, 1, 0)])
@pytest.mark.parametrize("dtype", ["<u2", ">u2", "<f4", ">f8"])
def test_equals_numpy_copy(rng, layout, dtype):
    shape = (37, 23, 11)
    stored = (rng.random(tuple(shape[a] for a in layout)) * 1000).astype(dtype)  # file order
    view = stored.transpose(np.argsort(layout))  # shown as (rows, cols, bands), no copy
    assert view.shape == shape
    out = materialize(view)
    assert out.flags.c_contiguous and out.dtype.isnative
    np.testing.assert_array_equal(out, np.ascontiguousarray(view))


def test_rows_per_tile():
    assert rows_per_tile((1000, 512, 224), 4, tile_bytes=512 * 224 * 4 * 10) == 10
    assert rows_per_tile((3, 512, 224), 4, tile_bytes=10**9) == 3
    assert rows_per_tile((1000, 10**6, 300), 8, tile_bytes=100) == 1
