"""Benchmark: how fast ``read_cube(path).load()`` reads a cube into memory, against references.

For one synthetic float32 cube (default 512 x 512 x 224, about 235 MB) written as ENVI BSQ, BIL and
BIP and as HDF5 (all with ``write_cube``, HDF5 with its default compression) the script prints the
best-of-N wall time and throughput of

* ``hsi_tumor.read_cube(path).load()``: a C-contiguous (rows, cols, bands) array in memory;
* the reference reader: ``spectral.open_image(hdr).load()`` for ENVI, plain h5py
  ``f['cube'][()]`` for HDF5;
* ``np.load`` of the same array saved as ``.npy`` (the speed of reading the bytes);

then the ratios and whether each layout meets the targets: BIP within 2x of ``np.load``, BIL and
BSQ within 4x, and every layout (HDF5 included, against spectral's BSQ time) at least 3x faster
than ``spectral.open_image(hdr).load()``. Every array read is checked once against the original.

The files are read right after being written, so they are in the page cache: the figures are
memory and CPU speed, not disk speed. Run ``python bench/bench_io.py [--size R C B] [--repeat N]``.
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
LAYOUTS = ("bsq", "bil", "bip")
TARGET_VS_NPY = {"bip": 2.0, "bil": 4.0, "bsq": 4.0}  # library time / np.load time at most
TARGET_VS_SPECTRAL = 3.0  # spectral.load() time / library time at least


def import_library():
    """Import hsi_tumor from this checkout (ahead of any installed copy)."""
    sys.path.insert(0, str(ROOT))
    import hsi_tumor

    return hsi_tumor


def synthetic_cube(rows: int, cols: int, bands: int, seed: int = 0):
    """Realistic-looking NIR reflectance: smooth spectra x per-pixel scale + noise (float32)."""
    rng = np.random.default_rng(seed)
    wl = np.linspace(900.0, 1700.0, bands)
    # Three smooth "tissue" spectra: a baseline slope plus broad water/lipid-like absorptions.
    centres = np.array([[970, 1200, 1450], [930, 1210, 1400], [1000, 1180, 1500]], float)
    depths = np.array([[0.15, 0.25, 0.4], [0.1, 0.35, 0.3], [0.2, 0.15, 0.45]])
    widths = np.array([[40, 60, 90], [30, 50, 80], [50, 70, 100]], float)
    base = 0.6 + 0.1 * (wl - 900) / 800
    profiles = base - np.sum(
        depths[:, :, None]
        * np.exp(-0.5 * ((wl[None, None, :] - centres[:, :, None]) / widths[:, :, None]) ** 2),
        axis=1,
    )
    mix = rng.dirichlet(np.ones(3), size=rows * cols).astype(np.float32)
    yy, xx = np.mgrid[0:rows, 0:cols]
    shading = 0.8 + 0.3 * np.sin(np.pi * yy / rows) * np.cos(np.pi * xx / (2 * cols))
    scale = (shading.reshape(-1) * rng.uniform(0.9, 1.1, rows * cols)).astype(np.float32)
    data = (mix * scale[:, None]) @ profiles.astype(np.float32)
    data += rng.normal(0.0, 0.005, data.shape).astype(np.float32)
    return data.reshape(rows, cols, bands).astype(np.float32), wl


def best_of(func, repeat: int) -> tuple[float, object]:
    """Best wall time of ``repeat`` calls, and the last result."""
    best, result = float("inf"), None
    for _ in range(repeat):
        result = None
        gc.collect()
        t0 = time.perf_counter()
        result = func()
        best = min(best, time.perf_counter() - t0)
    return best, result


def fmt(seconds: float, nbytes: int) -> str:
    return f"{seconds * 1e3:8.1f} ms {nbytes / seconds / 1e9:6.2f} GB/s"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--size", nargs=3, type=int, default=(512, 512, 224), metavar=("ROWS", "COLS", "BANDS")
    )
    parser.add_argument("--repeat", type=int, default=3, help="best of N (default 3)")
    parser.add_argument(
        "--tmpdir", default=None, help="where to write the files (default: system temp)"
    )
    parser.add_argument(
        "--check", action="store_true", help="exit with status 1 when a target is missed"
    )
    args = parser.parse_args(argv)

    ht = import_library()
    import h5py
    import spectral

    rows, cols, bands = args.size
    cube_data, wl = synthetic_cube(rows, cols, bands)
    nbytes = cube_data.nbytes
    cores = os.cpu_count()
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else cores
    print(
        f"hsi_tumor I/O benchmark: {cores} cores ({usable} usable by this process), "
        f"{platform.machine()}, {platform.system()}, Python {platform.python_version()}"
    )
    print(
        f"numpy {np.__version__}, h5py {h5py.__version__} (HDF5 {h5py.version.hdf5_version}), "
        f"spectral {spectral.__version__}, hsi_tumor {ht.__version__}"
    )
    print(
        f"cube {rows} x {cols} x {bands} float32 = {nbytes / 1e6:.1f} MB; best of {args.repeat}; "
        "files freshly written (warm page cache)"
    )

    folder = Path(tempfile.mkdtemp(prefix="hsi_bench_", dir=args.tmpdir))
    try:
        cube = ht.Cube(cube_data, wl)
        paths, files = {}, {}
        for layout in LAYOUTS:
            paths[layout] = folder / f"cube_{layout}.hdr"
            ht.write_cube(cube, paths[layout], interleave=layout)
            files[layout] = [paths[layout], paths[layout].with_suffix(".img")]
        paths["hdf5"] = files["hdf5"] = folder / "cube.h5"
        ht.write_cube(cube, paths["hdf5"])
        files["hdf5"] = [paths["hdf5"]]
        npy = folder / "array.npy"
        np.save(npy, cube_data)

        t_npy, arr = best_of(lambda: np.load(npy), args.repeat)
        assert np.array_equal(arr, cube_data), "np.load differs from the original"
        del arr

        rows_out = []
        for key, path in paths.items():
            t_lib, arr = best_of(lambda path=path: ht.read_cube(path).load().data, args.repeat)
            assert arr.shape == (rows, cols, bands) and arr.flags.c_contiguous
            assert np.array_equal(arr, cube_data), f"read_cube({key}) differs from the original"
            del arr
            if key == "hdf5":

                def reference(path=path):
                    with h5py.File(path, "r") as f:
                        return f["cube"][()]

                ref_name = "h5py f['cube'][()]"
            else:

                def reference(path=path):
                    return spectral.open_image(str(path)).load()

                ref_name = "spectral .load()"
            t_ref, arr = best_of(reference, args.repeat)
            assert np.array_equal(np.asarray(arr), cube_data), f"{ref_name} ({key}) differs"
            if not np.asarray(arr).flags.c_contiguous:
                ref_name += " *"
            del arr
            size = sum(f.stat().st_size for f in files[key])
            rows_out.append((key, size, t_lib, t_ref, ref_name))

        t_spectral = {key: t_ref for key, _, _, t_ref, _ in rows_out if key in LAYOUTS}
        t_spectral["hdf5"] = t_spectral["bsq"]  # the reference for every layout
        head = (
            f"{'layout':6} {'file MB':>7}  {'read_cube(path).load()':>23}  "
            f"{'reference':>23}  {'reference reader':20} {'lib/np.load':>11} {'spectral/lib':>12}"
        )
        print()
        print(head)
        print("-" * len(head))
        print(
            f"{'npy':6} {npy.stat().st_size / 1e6:7.1f}  {fmt(t_npy, nbytes):>23}  {'':23}  np.load"
        )
        verdicts = []
        for key, size, t_lib, t_ref, ref_name in rows_out:
            vs_npy = t_lib / t_npy
            vs_spectral = t_spectral[key] / t_lib
            mark = " (BSQ)" if key == "hdf5" else ""
            print(
                f"{key:6} {size / 1e6:7.1f}  {fmt(t_lib, nbytes):>23}  {fmt(t_ref, nbytes):>23}  "
                f"{ref_name:20} {vs_npy:10.2f}x {vs_spectral:11.2f}x{mark}"
            )
            if key in TARGET_VS_NPY:
                limit = TARGET_VS_NPY[key]
                verdicts.append((vs_npy <= limit, f"{key}: within {limit:g}x of np.load", vs_npy))
            against = "spectral.load()" + (" of the BSQ file" if key == "hdf5" else "")
            verdicts.append(
                (
                    vs_spectral >= TARGET_VS_SPECTRAL,
                    f"{key}: >= {TARGET_VS_SPECTRAL:g}x faster than {against}",
                    vs_spectral,
                )
            )
        print("* spectral returns a transposed view (not C-contiguous) for BSQ and BIL")
        print("every array read was checked equal to the original once")
        print("\ntargets")
        for ok, text, value in verdicts:
            print(f"  {'MET   ' if ok else 'MISSED'} {text:52} {value:6.2f}x")
        missed = sum(not ok for ok, _, _ in verdicts)
        print(f"{len(verdicts) - missed} of {len(verdicts)} targets met on {cores} cores")
        return 1 if (missed and args.check) else 0
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
