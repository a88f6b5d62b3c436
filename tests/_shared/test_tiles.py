"""The one tile loop: every row once, validity and masks, threads, BLAS threads, progress."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from threadpoolctl import threadpool_info

from hsi_tumor import Cube
from hsi_tumor._shared.tiles import default_tile_rows, for_each_tile

WL = np.linspace(950.0, 1650.0, 6)


@pytest.fixture
def cube(rng):
    return Cube(rng.random((37, 11, 6)).astype(np.float32), WL)


def _record(calls: list):
    lock = threading.Lock()

    def fn(rows, pixels, ok):
        with lock:
            calls.append((rows, pixels.copy(), ok.copy(), threading.get_ident()))

    return fn


@pytest.mark.parametrize("n_jobs", [1, 2, 4])
@pytest.mark.parametrize("tile_rows", [None, 1, 5, 37, 100])
def test_every_row_once_with_its_pixels(cube, tile_rows, n_jobs):
    calls = []
    valid = for_each_tile(cube, _record(calls), tile_rows=tile_rows, n_jobs=n_jobs)
    assert valid.shape == (37, 11) and valid.all()
    covered = np.zeros(37, dtype=int)
    for rows, pixels, ok, _ in calls:
        covered[rows] += 1
        np.testing.assert_array_equal(pixels, cube.data[rows].reshape(-1, 6))
        assert ok.all()
    np.testing.assert_array_equal(covered, 1)
    expected_tiles = 1 if tile_rows is None else -(-37 // min(tile_rows, 37))
    assert len(calls) == expected_tiles


def test_invalid_and_masked_pixels(cube):
    data = cube.data.copy()
    data[0, 3, 2] = np.nan  # non-finite
    data[4:6] = np.inf  # two whole rows: that tile is skipped
    flagged = np.ones((37, 11), bool)
    flagged[10, 10] = False
    mask = np.ones((37, 11), bool)
    mask[20, :5] = False
    calls = []
    valid = for_each_tile(
        Cube(data, WL, valid=flagged), _record(calls), mask=mask, tile_rows=2, n_jobs=2
    )
    expected = np.ones((37, 11), bool)
    expected[0, 3] = expected[4:6] = expected[10, 10] = False
    expected[20, :5] = False
    np.testing.assert_array_equal(valid, expected)
    starts = sorted(rows.start for rows, *_ in calls)
    assert 4 not in starts and len(starts) == 18  # 19 tiles, one all invalid
    for rows, _, ok, _ in calls:
        np.testing.assert_array_equal(ok, expected[rows].reshape(-1))


def test_in_memory_tiles_are_views(cube):
    seen = []
    for_each_tile(cube, lambda rows, pixels, ok: seen.append(pixels), tile_rows=10, n_jobs=1)
    assert all(np.shares_memory(p, cube.data) for p in seen)


def test_other_dtypes_and_layouts_are_read(rng):
    raw = rng.integers(0, 4000, (9, 6, 5), dtype=np.uint16)
    bil = Cube(np.swapaxes(raw, 1, 2), WL)  # band-interleaved by line: a strided view
    seen = []
    for_each_tile(bil, lambda rows, pixels, ok: seen.append(pixels), tile_rows=4, n_jobs=1)
    assert all(p.flags.c_contiguous and p.dtype == np.uint16 for p in seen)
    np.testing.assert_array_equal(np.vstack(seen), bil.data.reshape(-1, 6))


def test_threads(cube):
    calls = []
    for_each_tile(cube, _record(calls), tile_rows=1, n_jobs=2)
    main = threading.get_ident()
    assert all(ident != main for *_, ident in calls)  # on the pool's threads
    calls.clear()
    for_each_tile(cube, _record(calls), tile_rows=1, n_jobs=4, threads=False)
    assert {ident for *_, ident in calls} == {main}  # one tile at a time, here


def _blas_threads() -> set[int]:
    return {lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"}


@pytest.mark.parametrize(
    ("n_jobs", "threads", "one_blas_thread", "limited"),
    [
        (2, True, False, True),
        (1, True, True, True),
        (1, True, False, False),
        (4, False, False, False),
    ],
)
def test_blas_threads(cube, n_jobs, threads, one_blas_thread, limited):
    outside = _blas_threads()
    if not outside:
        pytest.skip("no BLAS library loaded that threadpoolctl knows")
    inside = []
    for_each_tile(
        cube,
        lambda rows, pixels, ok: inside.append(_blas_threads()),
        tile_rows=10,
        n_jobs=n_jobs,
        threads=threads,
        one_blas_thread=one_blas_thread,
    )
    assert all(seen == ({1} if limited else outside) for seen in inside)
    assert _blas_threads() == outside


def test_progress_bar(cube, capsys, monkeypatch):
    monkeypatch.setattr("hsi_tumor._shared.progress.DELAY", 0.0)  # show at once
    for_each_tile(cube, lambda *args: None, tile_rows=10, progress=True, desc="checking")
    err = capsys.readouterr().err
    assert "checking" in err and "4/4" in err
    for_each_tile(cube, lambda *args: None, tile_rows=10, desc="silent")
    assert "silent" not in capsys.readouterr().err


def test_errors_propagate(cube):
    def fail(rows, pixels, ok):
        if rows.start == 20:
            raise RuntimeError("tile 20 failed")

    with pytest.raises(RuntimeError, match="tile 20 failed"):
        for_each_tile(cube, fail, tile_rows=5, n_jobs=2)


def test_default_tile_rows_is_8_mb_of_input():
    big = Cube(np.zeros((40, 512, 224), np.float32), np.arange(224.0) + 900)
    assert default_tile_rows(big) == 8 * 2**20 // (512 * 224 * 4)  # 18 rows
    ints = Cube(np.zeros((40, 512, 224), np.uint16), np.arange(224.0) + 900)
    assert default_tile_rows(ints) == 18  # at least 4 bytes a value: the working dtype
    small = Cube(np.zeros((7, 3, 4), np.float32), np.arange(4.0) + 900)
    assert default_tile_rows(small) == 7


def test_default_tile_rows_cover_whole_dask_chunks():
    da = pytest.importorskip("dask.array")
    data = da.zeros((100, 512, 224), dtype=np.float32, chunks=(5, -1, -1))
    assert default_tile_rows(Cube(data, np.arange(224.0) + 900)) == 15  # 18 → 3 chunks of 5
    coarse = da.zeros((100, 512, 224), dtype=np.float32, chunks=(40, -1, -1))
    assert default_tile_rows(Cube(coarse, np.arange(224.0) + 900)) == 40  # one whole chunk
