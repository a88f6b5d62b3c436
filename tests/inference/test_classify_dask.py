"""classify_cube on a dask.array cube: the numpy result, computed tile by tile, never whole."""

from __future__ import annotations

import numpy as np
import pytest

import hsi_tumor as ht
from hsi_tumor._shared.arrays import aligned_tile_rows, materialize

da = pytest.importorskip(
    "dask.array", reason="dask is not installed (pip install 'hsi_tumor[distributed]')"
)


@pytest.fixture(scope="module")
def specimen():
    spec = ht.simulate_specimen(seed=0, shape=(40, 48), n_bands=40)
    cube = spec.calibrate().load()
    model = ht.train(
        cube,
        spec.labels,
        classifier="lda",
        random_state=0,
        class_names={1: "normal", 2: "tumor"},
    )
    return cube, model, ht.classify_cube(cube, model)


class CountingArray:
    """An array that records the shape of every block read from it (dask reads through it)."""

    def __init__(self, data: np.ndarray) -> None:
        self.data = data
        self.shape, self.dtype, self.ndim = data.shape, data.dtype, data.ndim
        self.reads: list[tuple[int, ...]] = []

    def __getitem__(self, key):
        block = self.data[key]
        if block.size:  # (dask slices an empty block once to learn the array type)
            self.reads.append(block.shape)
        return block


def _assert_same(result, expected):
    np.testing.assert_array_equal(result.labels, expected.labels)
    np.testing.assert_array_equal(result.probabilities, expected.probabilities)
    np.testing.assert_array_equal(result.valid, expected.valid)


def test_cube_over_dask_stays_lazy(specimen):
    cube = specimen[0]
    lazy = ht.Cube(da.from_array(cube.data, chunks=(8, -1, -1)), cube.wavelengths)
    assert lazy.storage == "lazy (dask)" and "lazy (dask)" in repr(lazy)
    assert not lazy.in_memory
    part = lazy[2:5, :, 3:9].sel(wavelengths=(1000, 1500))
    assert isinstance(part.data, da.Array)  # selection computes nothing
    np.testing.assert_array_equal(
        part.load().data, cube[2:5, :, 3:9].sel(wavelengths=(1000, 1500)).data
    )
    np.testing.assert_array_equal(lazy.load().data, cube.data)
    assert ht.pseudo_rgb(lazy).shape == (40, 48, 3)


@pytest.mark.parametrize("tile_rows", [None, 5])
def test_classified_chunk_by_chunk_like_numpy(specimen, tile_rows):
    cube, model, expected = specimen
    source = CountingArray(cube.data)
    lazy = ht.Cube(da.from_array(source, chunks=(8, -1, -1)), cube.wavelengths)
    _assert_same(ht.classify_cube(lazy, model, tile_rows=tile_rows), expected)
    assert max(rows for rows, _, _ in source.reads) <= 8  # never more than a chunk at a time
    if tile_rows is None:  # tiles of whole chunks: each chunk read once
        assert sorted(source.reads) == [(8, 48, 40)] * 5


def test_hdf5_dataset_as_dask(specimen, tmp_path):
    h5py = pytest.importorskip("h5py")
    cube, model, expected = specimen
    with h5py.File(tmp_path / "cube.h5", "w") as f:
        f.create_dataset("cube", data=cube.data, chunks=(10, 48, 40))
    with h5py.File(tmp_path / "cube.h5", "r") as f:
        lazy = ht.Cube(da.from_array(f["cube"], chunks=(10, -1, -1)), cube.wavelengths)
        _assert_same(ht.classify_cube(lazy, model), expected)


def test_envi_memmap_as_dask(specimen, tmp_path):
    cube, model, expected = specimen
    ht.write_cube(cube, tmp_path / "cube.hdr", interleave="bsq")
    mapped = ht.read_cube(tmp_path / "cube.hdr")
    assert mapped.storage == "memory-mapped"
    lazy = ht.Cube(da.from_array(mapped.data, chunks=(16, -1, -1)), mapped.wavelengths)
    _assert_same(ht.classify_cube(lazy, model), expected)


def test_materialize_dask(rng):
    x = rng.random((300, 200, 50))  # 24 MB: stored chunk by chunk, not in one computation
    lazy = da.from_array(x, chunks=(32, -1, 25))
    np.testing.assert_array_equal(materialize(lazy), x)
    np.testing.assert_array_equal(materialize(lazy, dtype=np.float32), x.astype(np.float32))
    np.testing.assert_array_equal(materialize(lazy[:5]), x[:5])


def test_aligned_tile_rows():
    x = np.zeros((100, 4, 3))
    assert aligned_tile_rows(da.from_array(x, chunks=(10, -1, -1)), 25) == 20
    assert aligned_tile_rows(da.from_array(x, chunks=(10, -1, -1)), 3) == 10
    assert aligned_tile_rows(da.from_array(x, chunks=((30, 20, 50), 4, 3)), 25) == 25
    assert aligned_tile_rows(x, 25) == 25
