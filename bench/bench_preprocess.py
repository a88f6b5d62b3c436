"""Preprocessing benchmarks: the filters against their peers, and a whole cube through them.

``filters`` — Savitzky–Golay, MSC and SNV on 262,144 x 224 spectra (float32 and float64), best
of 3, against the obvious peer in the same run: :func:`scipy.signal.savgol_filter` (``axis=1``),
the vectorised closed-form MSC and the numpy SNV one-liners as engiNIR writes them (written
out here, not imported); then the same on real spectra (Indian Pines pixels from
``../shared/data``, repeated to the same number of rows; skipped with a message when absent).
Prints the load average, the times, the ratios and the largest difference from the peer.

``cube`` — calibration + SNV + PCA(20) projection of a whole cube: the obvious way vs
hsi_tumor. The obvious way: the whole cube at once in numpy with float64 references, SNV by
broadcasting, then ``PCA.transform``. hsi_tumor: ``calibrate`` (lazy, float32) streamed tile by
tile through ``transform_cube`` with a ``StandardNormalVariate → PCA`` pipeline. Both use the
same fitted PCA. Prints time, peak extra memory (tracemalloc: numpy buffers, not the input),
ratios, the time the bytes read and written would take at the measured memory bandwidth, and
checks that the scores agree within float32 tolerance.

Run: ``python bench/bench_preprocess.py [--section {filters,cube,all}] [--size ROWS COLS BANDS]
[--spectra N] [--repeat N]``
"""

from __future__ import annotations

import argparse
import os
import time
import tracemalloc
import warnings
from pathlib import Path

import numpy as np
from scipy.signal import savgol_filter
from sklearn.decomposition import PCA
from sklearn.pipeline import make_pipeline

import hsi_tumor as ht
from hsi_tumor.preprocessing import (
    DegenerateSpectrumWarning,
    MultiplicativeScatterCorrection,
    SavitzkyGolay,
    StandardNormalVariate,
    _compiled,
)

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def make_capture(rows: int, cols: int, bands: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    wl = np.linspace(900.0, 1700.0, bands)
    water = np.exp(-0.5 * ((wl - 1450) / 60) ** 2) + 0.4 * np.exp(-0.5 * ((wl - 1190) / 35) ** 2)
    lipid = np.exp(-0.5 * ((wl - 1210) / 15) ** 2)
    wf = rng.uniform(0.5, 0.8, (rows, cols, 1)).astype(np.float32)
    lf = rng.uniform(0.0, 0.3, (rows, cols, 1)).astype(np.float32)
    reflectance = 0.6 * 10 ** (-(wf * water + lf * lipid)).astype(np.float32)
    gain = rng.normal(3000, 50, (cols, bands)).astype(np.float32)
    dark_level = rng.normal(100, 2, (cols, bands)).astype(np.float32)
    raw = (dark_level + gain * reflectance).astype(np.uint16)
    white = (dark_level + gain + rng.normal(0, 10, (10, cols, bands))).astype(np.uint16)
    dark = (dark_level + rng.normal(0, 2, (10, cols, bands))).astype(np.uint16)
    return ht.Cube(raw, wl), white, dark


def obvious(raw: np.ndarray, white: np.ndarray, dark: np.ndarray, pca: PCA) -> np.ndarray:
    w = white.astype(np.float64).mean(axis=0)
    d = dark.astype(np.float64).mean(axis=0)
    reflectance = (raw.astype(np.float64) - d) / (w - d)
    x = reflectance.reshape(-1, raw.shape[2])
    x = (x - x.mean(axis=1, keepdims=True)) / x.std(axis=1, ddof=1, keepdims=True)
    return pca.transform(x).reshape(raw.shape[0], raw.shape[1], -1)


def library(cube: ht.Cube, white, dark, pipeline) -> np.ndarray:
    return ht.transform_cube(ht.calibrate(cube, white, dark), pipeline).data


def best_of(fn, repeat: int) -> float:
    best = np.inf
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - t0)
        del result
    return best


def measure(fn, repeat: int):
    best = best_of(fn, repeat)
    tracemalloc.start()
    result = fn()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return best, peak, result


# --- filters against their peers --------------------------------------------------------------


def savgol_peer(X, window_length, polyorder, deriv, mode):
    return savgol_filter(X, window_length, polyorder, deriv=deriv, axis=1, mode=mode)


def msc_peer(X, r):
    """engiNIR's closed-form MSC, vectorised."""
    rc = r - r.mean()
    b = (X @ rc) / (rc @ rc)
    a = X.mean(1) - b * r.mean()
    return (X - a[:, None]) / b[:, None]


def snv_peer(X):
    """engiNIR-style SNV (ddof=1, as ours)."""
    return (X - X.mean(1, keepdims=True)) / X.std(1, ddof=1, keepdims=True)


def simulated_spectra(n: int, bands: int, seed: int = 1) -> np.ndarray:
    """Reflectance-like float64 spectra: water and lipid bands, scatter, noise."""
    rng = np.random.default_rng(seed)
    wl = np.linspace(900.0, 1700.0, bands)
    water = np.exp(-0.5 * ((wl - 1450) / 60) ** 2) + 0.4 * np.exp(-0.5 * ((wl - 1190) / 35) ** 2)
    lipid = np.exp(-0.5 * ((wl - 1210) / 15) ** 2)
    out = np.empty((n, bands))
    for start in range(0, n, 65536):  # in blocks: a few hundred MB of temporaries at most
        k = min(65536, n - start)
        wf = rng.uniform(0.5, 0.8, (k, 1))
        lf = rng.uniform(0.0, 0.3, (k, 1))
        block = 0.6 * 10 ** (-(wf * water + lf * lipid)) * rng.uniform(0.7, 1.3, (k, 1))
        out[start : start + k] = block + rng.uniform(-0.05, 0.05, (k, 1))
        out[start : start + k] += rng.normal(0, 0.003, (k, bands))
    return out


def filter_rows(X: np.ndarray, repeat: int):
    """(name, ours s, peer s, max |ours - peer| / max |peer|) for SG, MSC and SNV on X."""
    rows = []
    sg_params = {"window_length": 11, "polyorder": 2, "deriv": 1}
    for mode in ("interp", "nearest"):
        sg = SavitzkyGolay(**sg_params, mode=mode).fit(X[:2])
        ours, peer = sg.transform(X), savgol_peer(X, 11, 2, 1, mode)
        err = float(np.abs(ours - peer).max() / np.abs(peer).max())
        del ours, peer
        t_ours = best_of(lambda sg=sg: sg.transform(X), repeat)
        t_peer = best_of(lambda mode=mode: savgol_peer(X, 11, 2, 1, mode), repeat)
        rows.append((f"Savitzky-Golay 11/2/d1 {mode}", t_ours, t_peer, err))
    reference = X[::97].mean(axis=0, dtype=np.float64)
    msc = MultiplicativeScatterCorrection(reference=reference).fit(X[:2])
    r = reference.astype(X.dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DegenerateSpectrumWarning)
        ours, peer = msc.transform(X), msc_peer(X, r)
        err = float(np.abs(ours - peer).max() / np.abs(peer).max())
        del ours, peer
        t_ours = best_of(lambda: msc.transform(X), repeat)
    rows.append(("MSC (mean reference)", t_ours, best_of(lambda: msc_peer(X, r), repeat), err))
    snv = StandardNormalVariate().fit(X[:2])
    ours, peer = snv.transform(X), snv_peer(X)
    err = float(np.abs(ours - peer).max() / np.abs(peer).max())
    del ours, peer
    t_ours = best_of(lambda: snv.transform(X), repeat)
    rows.append(("SNV (ddof=1)", t_ours, best_of(lambda: snv_peer(X), repeat), err))
    return rows


def print_filter_table(title: str, X64: np.ndarray, repeat: int) -> None:
    print(f"\n{title}: {X64.shape[0]:,} x {X64.shape[1]} spectra, best of {repeat}")
    print(f"load average before: {os.getloadavg()[0]:.2f}")
    print(f"{'':34s}{'dtype':>8s}{'ours ms':>9s}{'peer ms':>9s}{'ratio':>7s}{'max rel diff':>14s}")
    for dtype in (np.float32, np.float64):
        X = X64.astype(dtype)
        for name, t_ours, t_peer, err in filter_rows(X, repeat):
            print(
                f"{name:34s}{np.dtype(dtype).name:>8s}{t_ours * 1e3:9.0f}{t_peer * 1e3:9.0f}"
                f"{t_peer / t_ours:6.2f}x{err:14.1e}"
            )
        del X
    print(f"load average after: {os.getloadavg()[0]:.2f}")


def filters_vs_peers(n_spectra: int, bands: int, repeat: int) -> None:
    """Savitzky–Golay, MSC, SNV: ours against scipy / engiNIR's numpy, simulated and real."""
    t0 = time.perf_counter()
    compiled = _compiled.compiled()
    X = simulated_spectra(8, bands)
    SavitzkyGolay().fit(X).transform(X)
    SavitzkyGolay(window_length=11, mode="nearest").fit(X).transform(X.astype(np.float32))
    MultiplicativeScatterCorrection().fit(X).transform(X)
    MultiplicativeScatterCorrection().fit(X).transform(X.astype(np.float32))
    print(
        f"filters vs peers: numba kernels {'on' if compiled else 'OFF (numpy path)'}; first "
        f"calls (compile, or load from numba's cache) {time.perf_counter() - t0:.2f} s; "
        f"{os.cpu_count()} cores; peers: scipy.signal.savgol_filter(axis=1), engiNIR's "
        "closed-form MSC and SNV in numpy"
    )
    print_filter_table("simulated reflectance", simulated_spectra(n_spectra, bands), repeat)
    path = SHARED_DATA / "indian-pines" / "Indian_pines_corrected.npy"
    if not path.exists():
        print(f"\nreal spectra: skipped ({path} is absent)")
        return
    pixels = np.load(path).reshape(-1, 200).astype(np.float64) / 10000.0
    reps = -(-n_spectra // pixels.shape[0])
    real = np.tile(pixels, (reps, 1))[:n_spectra]
    print_filter_table(
        f"Indian Pines pixels ({pixels.shape[0]:,} real spectra, repeated)", real, repeat
    )


def memory_bandwidth(mib: int = 256, repeat: int = 5) -> float:
    """Bytes per second of a large copy into a buffer already touched (read + write)."""
    a = np.ones(mib * 2**20 // 8)
    b = np.zeros_like(a)
    best = best_of(lambda: np.copyto(b, a), repeat)
    return 2 * a.nbytes / best


def cube_bench(rows: int, cols: int, bands: int, repeat: int) -> None:
    cube, white, dark = make_capture(rows, cols, bands)
    # PCA(20) fitted once on SNV-corrected reflectance of a pixel sample (float32, as in a model)
    sample = ht.calibrate(cube, white, dark).load().pixels()[:: max(1, rows * cols // 20000)]
    snv = StandardNormalVariate().fit(sample)
    pca = PCA(n_components=20, svd_solver="randomized", random_state=0).fit(snv.transform(sample))
    pipeline = make_pipeline(snv, pca)

    print(
        f"\ncube: calibration + SNV + PCA(20), {rows}x{cols}x{bands} uint16 raw, "
        f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f}"
    )
    t_obv, m_obv, r_obv = measure(lambda: obvious(cube.data, white, dark, pca), repeat)
    t_lib, m_lib, r_lib = measure(lambda: library(cube, white, dark, pipeline), repeat)
    scale = np.abs(r_obv).max()
    err = float(np.abs(r_obv - r_lib).max() / scale)
    mb = 2**20
    print(f"{'':28s}{'time (s)':>10s}{'peak extra (MiB)':>18s}")
    print(f"{'obvious (numpy, float64)':28s}{t_obv:10.3f}{m_obv / mb:18.0f}")
    print(f"{'hsi_tumor (tiled, float32)':28s}{t_lib:10.3f}{m_lib / mb:18.0f}")
    print(
        f"speed-up: {t_obv / t_lib:.1f}x   memory: {m_obv / m_lib:.1f}x less   "
        f"max |difference| / max |score|: {err:.1e}"
    )
    # the bytes the tiled path must move at least: the raw cube read, the scores written
    moved = cube.data.nbytes + r_lib.nbytes
    bandwidth = memory_bandwidth()
    bound = moved / bandwidth
    print(
        f"memory-bandwidth bound: {moved / mb:.0f} MiB read + written at {bandwidth / 1e9:.1f} "
        f"GB/s (np.copyto, this run) = {bound * 1e3:.0f} ms; hsi_tumor takes "
        f"{t_lib / bound:.1f}x that (load average {os.getloadavg()[0]:.2f})"
    )
    block = np.random.default_rng(0).random((65536, bands)).astype(np.float32)
    components = pca.components_.T.astype(np.float32)
    gemm = best_of(lambda: block @ components, repeat) * rows * cols / block.shape[0]
    print(
        f"compute floor: the PCA(20) product alone (float32 BLAS, all cores, 64 Ki-pixel blocks "
        f"scaled to the cube) takes {gemm * 1e3:.0f} ms; hsi_tumor takes {t_lib / gemm:.1f}x that"
    )
    ok = t_obv / t_lib >= 5 and m_obv / m_lib >= 5 and err < 1e-4
    print(
        "target (>= 5x faster, >= 5x less memory, equal within float32):",
        "met" if ok else "NOT met",
    )
    filters_on_a_cube(ht.calibrate(cube, white, dark).load(), repeat, bandwidth)


def filters_on_a_cube(reflectance: ht.Cube, repeat: int, bandwidth: float) -> None:
    """``transform_cube`` with one filter, against the filter on the whole cube in numpy."""
    data = reflectance.data  # float32 (rows, cols, bands), in memory
    rows, cols, bands = data.shape
    moved = 2 * data.nbytes  # read the reflectance, write the float32 result
    print(
        f"\none filter on the whole float32 reflectance cube ({rows}x{cols}x{bands}): "
        f"transform_cube vs the filter on all pixels at once; bandwidth bound "
        f"{moved / bandwidth * 1e3:.0f} ms ({moved / 2**20:.0f} MiB); load average "
        f"{os.getloadavg()[0]:.2f}"
    )
    pixels = data.reshape(-1, bands)
    reference = pixels[::97].mean(axis=0, dtype=np.float64)
    cases = [
        (
            "Savitzky-Golay 11/2/d1",
            SavitzkyGolay(window_length=11, deriv=1).fit(pixels[:2]),
            lambda: savgol_filter(data, 11, 2, deriv=1, axis=2),
        ),
        (
            "MSC",
            MultiplicativeScatterCorrection(reference=reference).fit(pixels[:2]),
            lambda: msc_peer(pixels, reference.astype(np.float32)),
        ),
    ]
    print(f"{'':24s}{'whole-cube numpy':>18s}{'transform_cube':>16s}{'ratio':>7s}{'x bound':>9s}")
    for name, step, peer in cases:
        t_peer = best_of(peer, repeat)
        t_ours = best_of(lambda step=step: ht.transform_cube(reflectance, step), repeat)
        print(
            f"{name:24s}{t_peer * 1e3:15.0f} ms{t_ours * 1e3:13.0f} ms{t_peer / t_ours:6.1f}x"
            f"{t_ours * bandwidth / moved:8.1f}x"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--section", choices=("filters", "cube", "all"), default="all")
    parser.add_argument("--size", nargs=3, type=int, default=(512, 512, 224))
    parser.add_argument("--spectra", type=int, default=262144, help="rows for 'filters'")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    rows, cols, bands = args.size
    if args.section in ("filters", "all"):
        filters_vs_peers(args.spectra, bands, args.repeat)
    if args.section in ("cube", "all"):
        cube_bench(rows, cols, bands, args.repeat)


if __name__ == "__main__":
    main()
