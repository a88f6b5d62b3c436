"""Rasterising an annotation: :func:`hsi_tumor.io.read_annotations`' scanline fill against the
obvious way, :meth:`matplotlib.path.Path.contains_points` on every pixel centre of the region's
bounding box.

A random star-shaped polygon (``--vertices`` vertices, radii 300-500 px) on a 2000 x 2000 image,
at fractional offsets so that no pixel centre lies on an edge (where the two rules may differ:
hsi_tumor's is half-open, matplotlib's undefined). Best of ``--repeat``; prints the load
average, both times, the ratio, and that the masks agree exactly.

Run: ``python bench/bench_annotations.py [--vertices N] [--repeat N]``
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
from matplotlib.path import Path as MplPath

from hsi_tumor.io._annotations import _rasterise

SIZE = 2000


def best_of(fn, repeat: int):
    """``(last result, best wall-clock seconds)`` of ``repeat`` calls."""
    best, result = np.inf, None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - t0)
    return result, best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vertices", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    angles = np.sort(rng.uniform(0, 2 * np.pi, args.vertices))
    radii = rng.uniform(300, 500, args.vertices)
    ring = np.c_[1000.3 + radii * np.cos(angles), 1000.7 + radii * np.sin(angles)]

    (rows, cols, mask), ours = best_of(lambda: _rasterise([ring], SIZE, SIZE), args.repeat)

    def obvious():
        r, c = np.mgrid[rows, cols]
        centres = np.c_[c.ravel() + 0.5, r.ravel() + 0.5]
        return MplPath(ring).contains_points(centres).reshape(r.shape)

    reference, theirs = best_of(obvious, args.repeat)
    print(f"load average {os.getloadavg()}")
    print(f"{args.vertices} vertices, bounding box {mask.shape} of a {SIZE} x {SIZE} image")
    print(f"hsi_tumor scanline fill        {ours * 1e3:8.1f} ms")
    print(f"matplotlib contains_points     {theirs * 1e3:8.1f} ms   ({theirs / ours:.0f}x)")
    print(f"masks identical: {bool(np.array_equal(mask, reference))}")


if __name__ == "__main__":
    main()
