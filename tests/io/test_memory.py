"""Memory-mapped and lazy cubes are sliced without being read whole: peak RSS proves it.

Each measurement runs in a fresh Python process (``subprocess.run([sys.executable, "-c", ...])``)
that imports hsi_tumor, warms up the code paths it will use on a tiny in-memory cube, opens the
file, takes its resident set size as the baseline, does the selection, and reports how far the
peak resident set size rose above the baseline. The ENVI cubes are sparse files (``truncate``):
1 GiB that costs no disk and no time to create, yet every page the reader touches is mapped into
the process and counted. The positive controls show that the measurement can fail: loading a
whole cube, or merely summing a memory map, raises the peak by at least the cube's size.

The peak is ``VmHWM`` from ``/proc/self/status``, reset to the current RSS at the baseline by
writing 5 to ``/proc/self/clear_refs``, not ``getrusage(RUSAGE_SELF).ru_maxrss``: a process
started by ``subprocess`` (vfork + exec) inherits its parent's peak in ``ru_maxrss``, so in a
child of pytest it starts at pytest's own peak (hundreds of MiB after the other tests) and can
neither be reset nor trusted to show growth below that level. Both figures are reported.

The kernel maps pages around each one touched (fault-around, readahead), so a selection costs
more than its own bytes: a pseudo-RGB of 128 x 128 pixels raises the peak by about 30 MiB for
BIL (three bands, one page each per row, each page bringing 64 KiB) against about 10 MiB for
BSQ. The 64 MiB limit leaves room for that and is still 1/16 of the cube.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest

pytestmark = [
    pytest.mark.skipif(
        not sys.platform.startswith("linux"),
        reason="reads /proc/self/status; sparse files on Linux",
    ),
    pytest.mark.slow,  # each test reads GiB-sized files in a subprocess: seconds each
]

ROOT = Path(__file__).resolve().parents[2]
MiB = 2**20
BANDS = 128
WL = np.round(900.0 + 800.0 * np.arange(BANDS) / (BANDS - 1), 4)  # 900-1700 nm
BIG = (2048, 1024, BANDS)  # rows, cols, bands: float32, 1 GiB
SMALL = (512, 512, BANDS)  # float32, 128 MiB: the positive control
H5 = (1024, 512, BANDS)  # float32, 256 MiB, chunked, uncompressed
H5_CHUNKS = (32, 32, BANDS)  # 512 KiB per chunk
LIMIT = 64 * MiB

# Runs in the child. argv: path, action. Prints one JSON line.
CHILD = r"""
import json, resource, sys
import numpy as np
import hsi_tumor as ht

def status_bytes(key):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024  # kB
    raise SystemExit(f"no {key} in /proc/self/status")

def peak_bytes():  # the peak RSS of this process's own memory since the last reset
    return status_bytes("VmHWM")

path, action = sys.argv[1], sys.argv[2]
# Warm up on a tiny in-memory cube so code loaded on first use is not counted as data.
tiny = ht.Cube(np.ones((4, 4, 8), np.float32), 900.0 + 100.0 * np.arange(8))
tiny.sel(rows=(1, 3), wavelengths=(1000, 1400)).load()
tiny[1:3, 0:2].pixels()
ht.pseudo_rgb(tiny)
cube = ht.read_cube(path)
out = {"storage": cube.storage, "shape": list(cube.shape), "nbytes": cube.nbytes}
out["ru_maxrss_at_baseline"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
try:
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # reset the peak (VmHWM) to the current RSS
except OSError as exc:
    print(json.dumps({"skip": f"cannot reset the peak RSS: {exc}"}))
    raise SystemExit(0)
baseline = status_bytes("VmRSS")
out["baseline"] = baseline
if action == "select":  # the peak after each step, to tell which one grew
    block = cube.sel(rows=(100, 110), wavelengths=(1000, 1300)).load().data
    steps = {"sel(rows, wavelengths).load()": peak_bytes() - baseline}
    spectra = cube[500:510, 0:20].pixels()
    steps["[500:510, 0:20].pixels()"] = peak_bytes() - baseline
    rgb = ht.pseudo_rgb(cube[0:128, 0:128])
    steps["pseudo_rgb([0:128, 0:128])"] = peak_bytes() - baseline
    out.update(
        steps_mib={k: round(v / 2**20, 1) for k, v in steps.items()},
        block_shape=list(block.shape),
        block_first=float(block[0, 0, 0]),
        block_sum=float(block.sum(dtype=np.float64)),
        spectra_shape=list(spectra.shape),
        spectra_first=spectra[0].tolist(),
        rgb_shape=list(rgb.shape),
    )
elif action == "load":
    out["loaded_shape"] = list(cube.load().data.shape)
elif action == "touch":  # read every byte of the memory map without copying it
    out["sum"] = float(np.sum(cube.data, dtype=np.float64))
else:
    raise SystemExit(f"unknown action {action}")
out["increase"] = peak_bytes() - baseline
out["ru_maxrss_at_end"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(json.dumps(out))
"""


def measure(path: Path, action: str) -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(path), action],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    if "skip" in result:
        pytest.skip(result["skip"])
    result["increase_mib"] = result["increase"] / MiB
    return result


def sparse_envi(folder: Path, shape: tuple[int, int, int], interleave: str) -> Path:
    """An ENVI float32 cube whose data file is one hole: any size, no disk, no time."""
    rows, cols, bands = shape
    header = folder / f"sparse_{interleave}_{rows}x{cols}x{bands}.hdr"
    header.write_text(
        "ENVI\n"
        "description = {sparse test cube}\n"
        f"samples = {cols}\nlines = {rows}\nbands = {bands}\n"
        "header offset = 0\nfile type = ENVI Standard\ndata type = 4\n"
        f"interleave = {interleave}\nbyte order = 0\nwavelength units = Nanometers\n"
        "wavelength = { " + " , ".join(map(repr, WL.tolist())) + " }\n"
    )
    with open(header.with_suffix(".img"), "wb") as f:
        f.truncate(rows * cols * bands * 4)
    return header


def h5_value(rows: np.ndarray, bands: np.ndarray) -> np.ndarray:
    """What the HDF5 test cube holds at (row, any col, band)."""
    return (rows[:, None, None] * 1000 + bands[None, None, :]).astype(np.float32)


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("memory")


@pytest.fixture(scope="module")
def h5_file(folder) -> Path:
    """A chunked, uncompressed 256 MiB HDF5 cube written one row of chunks at a time."""
    path = folder / "chunked.h5"
    rows, cols, bands = H5
    with h5py.File(path, "w") as f:
        ds = f.create_dataset("cube", shape=H5, dtype=np.float32, chunks=H5_CHUNKS)
        for r0 in range(0, rows, H5_CHUNKS[0]):
            block = h5_value(np.arange(r0, r0 + H5_CHUNKS[0]), np.arange(bands))
            ds[r0 : r0 + H5_CHUNKS[0]] = np.broadcast_to(block, (H5_CHUNKS[0], cols, bands))
        ds.attrs["wavelengths"] = WL
        ds.attrs["wavelength_units"] = "nm"
    return path


@pytest.mark.parametrize("interleave", ["bsq", "bil", "bip"])
def test_envi_selection_reads_a_fraction_of_a_1_gib_cube(folder, interleave):
    header = sparse_envi(folder, BIG, interleave)
    result = measure(header, "select")
    assert result["storage"] == "memory-mapped"
    assert result["nbytes"] == 2**30
    n_sel = int(np.sum((WL >= 1000) & (WL <= 1300)))
    assert result["block_shape"] == [10, BIG[1], n_sel]
    assert result["block_sum"] == 0.0  # a hole reads as zeros
    assert result["spectra_shape"] == [200, BANDS]
    assert result["rgb_shape"] == [128, 128, 3]
    assert result["increase"] < LIMIT, (
        f"{interleave}: peak RSS rose by {result['increase_mib']:.1f} MiB for selections "
        f"of a 1024 MiB cube (limit {LIMIT // MiB} MiB); after each step: {result['steps_mib']}"
    )


def test_hdf5_selection_reads_a_fraction_of_a_256_mib_dataset(h5_file):
    result = measure(h5_file, "select")
    assert result["storage"] == "lazy (HDF5)"
    assert result["nbytes"] == 256 * MiB
    band_index = np.flatnonzero((WL >= 1000) & (WL <= 1300))
    assert result["block_shape"] == [10, H5[1], band_index.size]
    assert result["block_first"] == float(h5_value(np.array([100]), band_index[:1])[0, 0, 0])
    expected = h5_value(np.array([500]), np.arange(BANDS))[0, 0]
    assert result["spectra_first"] == expected.tolist()
    assert result["rgb_shape"] == [128, 128, 3]
    assert result["increase"] < min(LIMIT, result["nbytes"] // 4), (
        f"peak RSS rose by {result['increase_mib']:.1f} MiB for selections of a 256 MiB "
        f"dataset; after each step: {result['steps_mib']}"
    )


# -- positive controls: the measurement does see a whole cube being read -----------------------


@pytest.mark.parametrize("interleave", ["bsq", "bip"])
def test_control_loading_a_whole_envi_cube_shows_in_peak_rss(folder, interleave):
    header = sparse_envi(folder, SMALL, interleave)
    result = measure(header, "load")
    assert result["loaded_shape"] == list(SMALL)
    assert result["nbytes"] == 128 * MiB
    assert result["increase"] >= 0.95 * result["nbytes"], result


def test_control_reading_a_whole_memory_map_shows_in_peak_rss(folder):
    """Pages of the file that are read count, not only copies: the select test can fail."""
    header = sparse_envi(folder, SMALL, "bip")
    result = measure(header, "touch")
    assert result["sum"] == 0.0
    assert result["increase"] >= 0.9 * result["nbytes"], result


def test_control_loading_a_whole_hdf5_dataset_shows_in_peak_rss(h5_file):
    result = measure(h5_file, "load")
    assert result["loaded_shape"] == list(H5)
    assert result["increase"] >= 0.95 * result["nbytes"], result
