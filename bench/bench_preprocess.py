"""Calibration + SNV + PCA(20) projection of a whole cube: the obvious way vs hsi_tumor.

The obvious way: the whole cube at once in numpy with float64 references, SNV by broadcasting,
then ``PCA.transform``. hsi_tumor: ``calibrate`` (lazy, float32) streamed tile by tile through
``transform_cube`` with a ``StandardNormalVariate → PCA`` pipeline. Both use the same fitted PCA.
Prints time, peak extra memory (tracemalloc: numpy buffers, not the input) and ratios, and checks
that the scores agree within float32 tolerance.

Run: ``python bench/bench_preprocess.py [--size ROWS COLS BANDS] [--repeat N]``
"""

from __future__ import annotations

import argparse
import os
import time
import tracemalloc

import numpy as np
from sklearn.decomposition import PCA
from sklearn.pipeline import make_pipeline

import hsi_tumor as ht
from hsi_tumor.preprocessing import StandardNormalVariate


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


def measure(fn, repeat: int):
    best = np.inf
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - t0)
        del result
    tracemalloc.start()
    result = fn()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return best, peak, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", nargs=3, type=int, default=(512, 512, 224))
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    rows, cols, bands = args.size
    cube, white, dark = make_capture(rows, cols, bands)
    # PCA(20) fitted once on SNV-corrected reflectance of a pixel sample (float32, as in a model)
    sample = ht.calibrate(cube, white, dark).load().pixels()[:: max(1, rows * cols // 20000)]
    snv = StandardNormalVariate().fit(sample)
    pca = PCA(n_components=20, svd_solver="randomized", random_state=0).fit(snv.transform(sample))
    pipeline = make_pipeline(snv, pca)

    print(
        f"bench_preprocess: calibration + SNV + PCA(20), {rows}x{cols}x{bands} uint16 raw, "
        f"{os.cpu_count()} cores"
    )
    t_obv, m_obv, r_obv = measure(lambda: obvious(cube.data, white, dark, pca), args.repeat)
    t_lib, m_lib, r_lib = measure(lambda: library(cube, white, dark, pipeline), args.repeat)
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
    ok = t_obv / t_lib >= 5 and m_obv / m_lib >= 5 and err < 1e-4
    print(
        "target (>= 5x faster, >= 5x less memory, equal within float32):",
        "met" if ok else "NOT met",
    )


if __name__ == "__main__":
    main()
