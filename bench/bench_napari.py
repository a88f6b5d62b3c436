"""Benchmark: opening a 2-GB ENVI cube in napari with the hsi_tumor plugin, and paging bands.

Writes a float32 ENVI cube of about 2 GB (default 2000 x 1000 x 256, 2.05 GB) in each of the
three interleaves (BSQ, BIL, BIP) with ``write_cube`` (the data is a smooth random field, not
zeros, so pages are real), then in a real napari viewer (shown on the display in ``DISPLAY``;
run it under ``xvfb-run`` when there is none) times

* **open**: ``viewer.open(path, plugin="hsi_tumor")`` until the first frame is drawn (the
  reader memory-maps the cube, makes the pseudo-RGB from three bands and the contrast limits
  from a strided sample; nothing else is read);
* **band step**: moving the wavelength slider by one band (napari reads that band of the
  memory map and draws it), the median over ``--steps`` consecutive steps;

and prints the resident memory added by the open (it stays far below the cube's size when the
cube is not read whole). Target (issue 19): open in under 2 s.

Each figure is printed twice: with the file in the page cache (just written) and, where the
process may drop the page cache (root on Linux: ``/proc/sys/vm/drop_caches``), cold from disk.
Run ``xvfb-run -a python bench/bench_napari.py [--size R C B] [--steps N]``.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

TARGET_OPEN_S = 2.0


def _drop_page_cache() -> bool:
    try:
        os.sync()
        Path("/proc/sys/vm/drop_caches").write_text("3\n")
        return True
    except OSError:
        return False


def _rss_mb() -> float:
    import psutil

    return psutil.Process().memory_info().rss / 2**20


def _write(folder: Path, shape, interleave: str) -> Path:
    import hsi_tumor as ht

    rows, cols, bands = shape
    wavelengths = np.linspace(900.0, 1700.0, bands)
    path = folder / f"cube_{interleave}.hdr"
    data = np.lib.format.open_memmap(folder / "source.npy", "w+", np.float32, shape)
    rng = np.random.default_rng(0)
    profile = 0.3 + 0.2 * np.sin(wavelengths / 90.0)
    for r0 in range(0, rows, 250):
        block = rng.random((min(250, rows - r0), cols, 1), dtype=np.float32) * 0.2
        data[r0 : r0 + block.shape[0]] = block + profile.astype(np.float32)
    data.flush()
    ht.write_cube(ht.Cube(data, wavelengths), path, interleave=interleave)
    del data
    (folder / "source.npy").unlink()
    return path


def _process(app, seconds: float = 0.0) -> None:
    end = time.perf_counter() + seconds
    app.processEvents()
    while time.perf_counter() < end:
        app.processEvents()


def _time_open(path: Path, steps: int) -> dict:
    import napari
    from qtpy.QtWidgets import QApplication

    app = QApplication.instance() or QApplication([])
    viewer = napari.Viewer(show=True)
    _process(app, 0.5)
    rss0 = _rss_mb()
    t0 = time.perf_counter()
    viewer.open(path, plugin="hsi_tumor")
    viewer.window._qt_viewer.canvas.native.repaint()
    app.processEvents()
    opened = time.perf_counter() - t0
    cube_layer = viewer.layers[path.stem]
    cube_layer.visible = True
    viewer.layers.selection.active = cube_layer
    app.processEvents()
    times = []
    start = viewer.dims.current_step[0]
    for i in range(1, steps + 1):
        t = time.perf_counter()
        viewer.dims.set_current_step(0, start + i)
        viewer.window._qt_viewer.canvas.native.repaint()
        app.processEvents()
        times.append(time.perf_counter() - t)
    rss = _rss_mb() - rss0
    viewer.close()
    return {"open": opened, "step": float(np.median(times)), "rss": rss}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", nargs=3, type=int, default=(2000, 1000, 256))
    parser.add_argument("--steps", type=int, default=10)
    args = parser.parse_args()
    shape = tuple(args.size)
    gb = np.prod(shape) * 4 / 1e9
    print(f"napari open of a {shape[0]} x {shape[1]} x {shape[2]} float32 ENVI cube ({gb:.2f} GB)")
    print(f"python {platform.python_version()}, {os.cpu_count()} cores, {platform.machine()}")
    import napari

    print(f"napari {napari.__version__}; target: open < {TARGET_OPEN_S:.0f} s")
    folder = Path(tempfile.mkdtemp(prefix="bench_napari_"))
    try:
        print(
            f"{'layout':8}{'cache':>7}{'open s':>9}{'band step s':>13}{'RSS added MB':>14}  target"
        )
        for interleave in ("bsq", "bil", "bip"):
            path = _write(folder, shape, interleave)
            runs = [("warm", _time_open(path, args.steps))]
            if _drop_page_cache():
                runs.append(("cold", _time_open(path, args.steps)))
            for cache, r in runs:
                ok = "met" if r["open"] < TARGET_OPEN_S else "MISSED"
                figures = f"{r['open']:9.2f}{r['step']:13.3f}{r['rss']:14.0f}"
                print(f"{interleave:8}{cache:>7}{figures}  {ok}")
            for f in folder.iterdir():
                f.unlink()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
