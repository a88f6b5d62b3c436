"""The compiled (numba) kernels of Savitzky–Golay and MSC, and their numpy fallback.

References: :func:`scipy.signal.savgol_filter` (bit for bit where the kernel keeps scipy's
order), the exact rational least-squares coefficients (``fractions``), and MSC's closed form in
float64 (``b = X r_c / r_c·r_c``, ``a = x̄ − b r̄``).
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import sys
import threading
import warnings
from fractions import Fraction
from math import factorial

import numpy as np
import pytest
import sklearn
from numpy.testing import assert_allclose, assert_array_equal
from scipy.signal import savgol_filter

from hsi_tumor.preprocessing import (
    DegenerateSpectrumWarning,
    MultiplicativeScatterCorrection,
    SavitzkyGolay,
    _compiled,
)

MODES = ["interp", "mirror", "constant", "nearest", "wrap"]
N_BANDS = 37

#: (window_length, polyorder, deriv, delta): symmetric and antisymmetric weights, every
#: derivative of one polynomial order, delta != 1, a window as long as the spectra, and small
#: deltas whose large weights fail scipy.ndimage's DBL_EPSILON symmetry test (general order).
FILTERS = [
    (1, 0, 0, 1.0),
    (3, 1, 1, 1.0),
    (5, 2, 0, 1.0),
    (11, 2, 1, 1.0),
    (7, 4, 1, 0.5),
    (21, 3, 2, 2.0),
    (9, 3, 0, 0.7),
    (9, 3, 1, 0.7),
    (9, 3, 2, 0.7),
    (9, 3, 3, 0.7),
    (35, 6, 0, 1.0),
    (37, 5, 3, 1.3),
    (11, 3, 2, 0.01),
    (13, 4, 3, 0.05),
]


def _spectra(rng, n_rows=40, n_bands=N_BANDS, dtype=np.float64):
    t = np.linspace(0, 1, n_bands)
    rows = 0.5 + 0.3 * np.sin(7 * t + rng.uniform(0, 6, (n_rows, 1))) * rng.uniform(
        0.2, 3, (n_rows, 1)
    )
    rows += rng.normal(0, 0.05, rows.shape) - rng.uniform(0, 1, (n_rows, 1))
    return rows.astype(dtype)


def _sg(X, window, polyorder, deriv, delta, mode):
    sg = SavitzkyGolay(
        window_length=window, polyorder=polyorder, deriv=deriv, delta=delta, mode=mode
    )
    return sg.fit(X).transform(X)


def _exact_edge_rows(window, polyorder, deriv, delta, positions):
    """Rows evaluating the LSQ polynomial's derivative at window positions, in exact rationals."""
    n = polyorder + 1
    powers = [[Fraction(t) ** a for a in range(n)] for t in range(window)]
    normal = [
        [sum(row[a] * row[b] for row in powers) for b in range(n)]
        + [Fraction(a == c) for c in range(n)]
        for a in range(n)
    ]
    for c in range(n):  # Gauss-Jordan: the normal matrix is positive definite
        pivot = normal[c][c]
        normal[c] = [v / pivot for v in normal[c]]
        for r in range(n):
            if r != c:
                f = normal[r][c]
                normal[r] = [a - f * b for a, b in zip(normal[r], normal[c], strict=True)]
    inverse = [row[n:] for row in normal]
    rows = []
    for p in positions:
        weights = [Fraction(0)] * n
        for a in range(deriv, n):
            weights[a] = Fraction(factorial(a), factorial(a - deriv)) * Fraction(p) ** (a - deriv)
        solve = [sum(weights[a] * inverse[a][b] for a in range(n)) for b in range(n)]
        scale = Fraction(delta) ** deriv
        rows.append(
            [float(sum(solve[b] * powers[t][b] for b in range(n)) / scale) for t in range(window)]
        )
    return np.array(rows).reshape(len(rows), window)


def _msc_closed_form(X, reference):
    """engiNIR's vectorised MSC, in float64."""
    X = X.astype(np.float64)
    rc = reference - reference.mean()
    b = (X @ rc) / (rc @ rc)
    a = X.mean(axis=1) - b * reference.mean()
    return (X - a[:, None]) / b[:, None]


def _ulp_distance(got32, exact64):
    """Distance of float32 values from float64 ones, in float32 ulps of the rounded value."""
    rounded = exact64.astype(np.float32)
    spacing = np.spacing(np.abs(rounded)).astype(np.float64)
    return np.abs(got32.astype(np.float64) - exact64) / spacing


# --- Savitzky–Golay ------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(("window", "polyorder", "deriv", "delta"), FILTERS)
def test_savgol_is_scipy_to_the_bit_outside_interp_edges(
    kernel_path, rng, dtype, mode, window, polyorder, deriv, delta
):
    X = _spectra(rng, dtype=dtype)
    result = _sg(X, window, polyorder, deriv, delta, mode)
    expected = savgol_filter(X, window, polyorder, deriv=deriv, delta=delta, axis=1, mode=mode)
    assert result.dtype == expected.dtype == dtype
    m = window // 2
    inner = slice(m, N_BANDS - m) if mode == "interp" else slice(None)
    assert_array_equal(result[:, inner], expected[:, inner])
    if mode == "interp" and kernel_path == "numpy":
        assert_array_equal(result, expected)  # the fallback is savgol_filter itself


def test_the_filters_cover_every_weight_symmetry():
    kinds = {_compiled.savgol_plan(*f, "nearest").kind for f in FILTERS}
    assert kinds == {1, -1, 0}


@pytest.mark.parametrize(("window", "polyorder", "deriv", "delta"), FILTERS)
def test_interp_edges_float64_match_scipy_and_the_exact_fit(
    kernel_path, rng, window, polyorder, deriv, delta
):
    X = _spectra(rng)
    result = _sg(X, window, polyorder, deriv, delta, "interp")
    expected = savgol_filter(X, window, polyorder, deriv=deriv, delta=delta, axis=1)
    m = window // 2
    if m == 0:
        pytest.skip("a window of 1 band has no edge bands")
    edges = np.r_[0:m, N_BANDS - m : N_BANDS]
    exact = np.hstack(
        [
            X[:, :window] @ _exact_edge_rows(window, polyorder, deriv, delta, range(m)).T,
            X[:, -window:]
            @ _exact_edge_rows(window, polyorder, deriv, delta, range(window - m, window)).T,
        ]
    )
    plan = _compiled.savgol_plan(window, polyorder, deriv, delta, "interp")
    # the size of an edge value's sum: |x| times the coefficients' absolute sum
    scale = np.abs(X).max() * max(1.0, np.abs(np.vstack([plan.left, plan.right])).sum(1).max())
    assert_allclose(result[:, edges], expected[:, edges], rtol=1e-12, atol=1e-12 * scale)
    tolerance = 1e-14 if kernel_path == "numba" else 1e-12  # scipy's polyfit loses digits
    assert_allclose(result[:, edges], exact, rtol=0, atol=tolerance * scale)


@pytest.mark.parametrize(("window", "polyorder", "deriv", "delta"), FILTERS)
def test_interp_edges_float32_are_the_float64_value_rounded_once(
    rng, window, polyorder, deriv, delta
):
    if not _compiled.compiled():
        pytest.skip("numba kernels unavailable")
    X = _spectra(rng, dtype=np.float32)
    result = _sg(X, window, polyorder, deriv, delta, "interp")
    exact = savgol_filter(X.astype(np.float64), window, polyorder, deriv=deriv, delta=delta)
    assert result.dtype == np.float32
    assert _ulp_distance(result, exact).max() <= 1.0
    # scipy fits float32 rows in float32: its edges are further off, within float32 noise
    scipy32 = savgol_filter(X, window, polyorder, deriv=deriv, delta=delta)
    scale = np.abs(X).max() / delta**deriv
    assert_allclose(result, scipy32, rtol=0, atol=1e-3 * scale)


@pytest.mark.parametrize(
    ("window", "polyorder", "deriv", "delta"),
    [(5, 2, 0, 1.0), (9, 8, 0, 1.0), (15, 14, 3, 1.0), (31, 8, 2, 0.5), (35, 6, 0, 1.0)],
)
def test_edge_matrix_is_the_exact_least_squares_fit(window, polyorder, deriv, delta):
    m = window // 2
    positions = [*range(m), *range(window - m, window)]
    got = _compiled.edge_matrix(window, polyorder, deriv, delta, positions)
    exact = _exact_edge_rows(window, polyorder, deriv, delta, positions)
    assert_allclose(got, exact, rtol=0, atol=1e-14 * np.abs(exact).max())


@pytest.mark.parametrize("mode", MODES)
def test_window_as_long_as_the_spectra(kernel_path, rng, mode):
    X = _spectra(rng, n_bands=9)
    expected = savgol_filter(X, 9, 3, deriv=1, axis=1, mode=mode)
    result = _sg(X, 9, 3, 1, 1.0, mode)
    if mode == "interp":  # all but the centre band are edge bands
        assert_allclose(result, expected, rtol=1e-12, atol=1e-12 * np.abs(X).max())
    else:
        assert_array_equal(result, expected)


@pytest.mark.parametrize("n_bands", [1, 2, 3])
def test_tiny_spectra(kernel_path, rng, n_bands):
    X = _spectra(rng, n_bands=n_bands)
    for mode in MODES:
        assert_array_equal(_sg(X, 1, 0, 0, 1.0, mode), X)  # the identity filter
    if n_bands == 3:
        for mode in MODES:
            expected = savgol_filter(X, 3, 1, deriv=1, axis=1, mode=mode)
            assert_allclose(_sg(X, 3, 1, 1, 1.0, mode), expected, rtol=1e-12, atol=1e-15)


# --- MSC -------------------------------------------------------------------------------------


@pytest.fixture
def msc_data(rng):
    bands = np.linspace(0, 1, 224)
    reference = 0.4 + 0.3 * np.exp(-((bands - 0.4) ** 2) / 0.01) + 0.02 * rng.standard_normal(224)
    X = rng.uniform(-0.3, 0.3, (300, 1)) + rng.uniform(0.3, 3, (300, 1)) * reference
    X += 0.01 * rng.standard_normal(X.shape)
    return X, reference


def test_msc_float64_matches_the_closed_form(kernel_path, msc_data):
    X, reference = msc_data
    result = MultiplicativeScatterCorrection(reference=reference).fit(X).transform(X)
    assert_allclose(result, _msc_closed_form(X, reference), rtol=1e-12, atol=1e-13)


def test_msc_float32(kernel_path, msc_data):
    X, reference = msc_data
    X32 = X.astype(np.float32)
    result = MultiplicativeScatterCorrection(reference=reference).fit(X32).transform(X32)
    assert result.dtype == np.float32
    exact = _msc_closed_form(X32, reference)  # float64 arithmetic on the float32 data
    if kernel_path == "numba":  # float64 sums, one rounding
        assert _ulp_distance(result, exact).max() <= 1.0
    else:  # every numpy step in float32
        assert_allclose(result, exact, rtol=1e-5, atol=1e-5)


def test_msc_paths_agree_on_the_degenerate_rows(monkeypatch, msc_data):
    X, reference = msc_data
    centred = reference - reference.mean()
    orthogonal = np.roll(centred, 7)
    orthogonal -= orthogonal.mean()
    orthogonal -= (orthogonal @ centred) / (centred @ centred) * centred
    X = np.vstack([X[:3], np.full(224, 0.3), orthogonal, -2 * reference])
    msc = MultiplicativeScatterCorrection(reference=reference).fit(X)
    results = []
    for use in (True, False):
        monkeypatch.setattr(_compiled, "USE_NUMBA", use)
        for dtype in (np.float64, np.float32):
            with pytest.warns(DegenerateSpectrumWarning, match=r"^2 of 6 spectra are flat"):
                result = msc.transform(X.astype(dtype))
            assert_array_equal(result[3:5], 0)
            results.append(result.astype(np.float64))
    assert_allclose(results[0], results[2], rtol=1e-12)
    assert_allclose(results[0][5], reference, rtol=1e-12)  # a negative slope is fine
    assert_allclose(results[1], results[3], rtol=1e-5)


# --- inputs: rows, layout, read-only, NaN, threads -------------------------------------------


def _scattered(rng, n_rows, n_bands, dtype=np.float64):
    """Offsets and multiples of a reference spectrum, with noise: no degenerate row for MSC."""
    reference = np.linspace(1.0, 2.0, n_bands) ** 2
    X = rng.uniform(-0.5, 0.5, (n_rows, 1)) + rng.uniform(0.3, 3, (n_rows, 1)) * reference
    return (X + 0.05 * rng.standard_normal(X.shape)).astype(dtype)


def _sg_and_msc(X):
    sg = SavitzkyGolay(window_length=7, polyorder=2, deriv=1).fit(X)
    msc = MultiplicativeScatterCorrection(reference=np.linspace(1.0, 2.0, X.shape[1]) ** 2)
    return sg.transform(X), msc.fit(X).transform(X)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_split_over_cores_changes_nothing(monkeypatch, rng, dtype):
    if not _compiled.compiled():
        pytest.skip("numba kernels unavailable")
    X = _scattered(rng, 101, 50, dtype)
    whole = _sg_and_msc(X)
    monkeypatch.setattr(_compiled, "SPLIT_BYTES", 0)
    monkeypatch.setattr(_compiled, "_cores", lambda: 3)
    blocks: list[int] = []  # rows per kernel call (appended from the pool's threads too)
    real = _compiled.kernels()

    def spy(kernel):
        def call(x, out, *args):
            blocks.append(x.shape[0])
            return kernel(x, out, *args)

        return call

    monkeypatch.setattr(_compiled, "kernels", lambda: {k: spy(v) for k, v in real.items()})
    for rows in (1, 2, 5, 6, 7, 101):  # fewer rows than 2 per core are not split
        blocks.clear()
        split = _sg_and_msc(X[:rows])
        for a, b in zip(split, whole, strict=True):
            assert_array_equal(a, b[:rows])
        n_blocks = 1 if rows < 6 else min(4 * 3, rows // 2)
        assert len(blocks) == 2 * n_blocks  # SG and MSC
        assert sum(blocks) == 2 * rows


def test_non_contiguous_and_read_only_memmap_input(kernel_path, rng, tmp_path):
    X = _scattered(rng, 30, 40)
    expected = _sg_and_msc(X)
    fortran = np.asfortranarray(X)
    strided = np.repeat(X, 2, axis=1)[:, ::2]
    np.save(tmp_path / "x.npy", X)
    memmap = np.load(tmp_path / "x.npy", mmap_mode="r")
    assert not memmap.flags.writeable
    for variant in (fortran, strided, memmap):
        for got, want in zip(_sg_and_msc(variant), expected, strict=True):
            if kernel_path == "numba":  # rows are copied to C order first: the same sums
                assert_array_equal(got, want)
            else:  # numpy's and BLAS's sums follow the memory layout
                assert_allclose(got, want, rtol=1e-13, atol=1e-13)


@pytest.mark.parametrize("mode", MODES)
def test_nan_rows(kernel_path, rng, mode):
    X = _spectra(rng, n_rows=4, n_bands=30)
    X[1, 3] = np.nan
    X[2, 15] = np.nan
    sg = SavitzkyGolay(window_length=7, polyorder=2, mode=mode).fit(np.abs(X[[0, 3]]))
    msc = MultiplicativeScatterCorrection().fit(X[[0, 3]])
    for step in (sg, msc):  # as before: a checked transform rejects NaN
        with pytest.raises(ValueError, match="Input X contains NaN"):
            step.transform(X)
    # With the checks off (the tile loops' contract: finite pixels only), NaN stays in its row:
    # SG: NaN on the bands whose window holds it; MSC: the whole row; no warning.
    with sklearn.config_context(assume_finite=True), warnings.catch_warnings():
        warnings.simplefilter("error")
        msc_out = msc.transform(X)
        if mode == "interp" and kernel_path == "numpy":
            with pytest.raises(ValueError, match="infs or NaNs"):  # scipy's polyfit
                sg.transform(X)
            sg_out = None
        else:
            sg_out = sg.transform(X)
    assert_array_equal(np.isnan(msc_out).all(axis=1), [False, True, True, False])
    assert not np.isnan(msc_out[[0, 3]]).any()
    if sg_out is not None:
        assert_array_equal(np.flatnonzero(np.isnan(sg_out[1])), np.arange(7))  # bands 0..6
        assert_array_equal(np.flatnonzero(np.isnan(sg_out[2])), np.arange(12, 19))
        assert not np.isnan(sg_out[[0, 3]]).any()
        finite = SavitzkyGolay(window_length=7, polyorder=2, mode=mode).fit(X[[0, 3]])
        assert_array_equal(sg_out[[0, 3]], finite.transform(X[[0, 3]]))


def test_two_threads_at_once_give_the_serial_result(rng):
    X = _scattered(rng, 3000, 224, np.float32)
    expected = _sg_and_msc(X)
    results: list = [None, None]
    barrier = threading.Barrier(2)

    def work(index: int) -> None:
        barrier.wait()
        results[index] = [_sg_and_msc(X) for _ in range(3)]

    threads = [threading.Thread(target=work, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for per_thread in results:
        for pair in per_thread:
            for got, want in zip(pair, expected, strict=True):
                assert_array_equal(got, want)


def _split_in_child(queue) -> None:
    X = _scattered(np.random.default_rng(0), 64, 30)
    queue.put([a.tolist() for a in _sg_and_msc(X)])


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_gets_its_own_pool(monkeypatch):
    # The parent's pool threads do not exist in a forked child: a split call there must not
    # wait for them forever.
    if not _compiled.compiled():
        pytest.skip("numba kernels unavailable")
    monkeypatch.setattr(_compiled, "SPLIT_BYTES", 0)
    monkeypatch.setattr(_compiled, "_cores", lambda: 2)
    X = _scattered(np.random.default_rng(0), 64, 30)
    expected = _sg_and_msc(X)  # starts the parent's pool
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    child = context.Process(target=_split_in_child, args=(queue,))
    child.start()
    try:
        got = queue.get(timeout=60)
    finally:
        child.join(timeout=60)
        if child.is_alive():  # pragma: no cover - the failure this test is for
            child.kill()
    assert child.exitcode == 0
    for a, b in zip(got, expected, strict=True):
        assert_array_equal(np.array(a), b)


def test_without_numba_the_numpy_path_is_used(monkeypatch, caplog, rng):
    monkeypatch.setitem(sys.modules, "numba", None)  # import numba raises ImportError
    _compiled._kernels.cache_clear()
    try:
        with caplog.at_level(logging.INFO, logger="hsi_tumor.preprocessing"):
            assert not _compiled.compiled()
            X = _spectra(rng)
            assert_array_equal(_sg(X, 7, 2, 0, 1.0, "interp"), savgol_filter(X, 7, 2, axis=1))
        assert "numba is not installed" in caplog.text
    finally:
        _compiled._kernels.cache_clear()  # the next use builds the kernels again


def test_switch_selects_the_path(monkeypatch):
    monkeypatch.setattr(_compiled, "USE_NUMBA", False)
    assert _compiled.kernels() is None
