"""Malformed label files: ``read_labels`` raises an HsiTumorError or reads correctly, within the
memory budget (issue 18; the cube readers' counterpart is ``test_malformed.py``).

Property-based (hypothesis). Each example writes a valid label map in one of the formats
``read_labels`` reads (PNG in three modes, TIFF, BMP, ``.npy``, ``.npz`` plain and compressed,
HDF5, an ENVI classification image, MATLAB v5 plain and compressed, MATLAB v7.3), damages it —
cut short, bytes overwritten, or its declared size (image width and height, array shape, ENVI
lines and samples, MATLAB dimensions, HDF5 dataset shape) replaced by up to 2**31 - 1 per axis —
and reads it in a forked child that runs under a memory budget of 64 MiB
(``HSI_TUMOR_MEMORY_BUDGET``) and an address-space limit. Accepted outcomes:

* an :class:`hsi_tumor.HsiTumorError` whose message names the file and a fix; or
* success, when the damaged file is still valid: the map then equals what the format's own
  reader (Pillow, NumPy, h5py, spectral, SciPy) reads from it.

And in both cases the child's peak resident memory (``VmHWM`` from ``/proc/self/status``, reset
at the start) grows by less than the budget: a file that declares gigabytes is refused before
it is decoded. A hang or crash of libhdf5 discards the example (native code hsi_tumor cannot
make safe, see ``test_malformed.py``); any other hang or crash fails the test.
"""

from __future__ import annotations

import os
import re
import resource
import shutil
import struct
import sys
import zipfile
import zlib
from pathlib import Path

import h5py
import numpy as np
import pytest
import scipy.io
from hypothesis import HealthCheck, example, given, note, reject, settings
from hypothesis import strategies as st
from PIL import Image
from spectral.io import envi

import hsi_tumor as ht
from hsi_tumor._shared.limits import BUDGET_VARIABLE
from hsi_tumor.io import read_labels, write_labels
from tests.io.test_malformed import damage, fresh_dir, run_forked, truncations

pytestmark = [
    pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork"),
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/status"),
]

BUDGET = 64 * 2**20
LABELS = (np.arange(6 * 7).reshape(6, 7) % 4).astype(np.uint8)
KINDS = (
    "png-L",
    "png-P",
    "png-I16",
    "tif",
    "bmp",
    "npy",
    "npz",
    "npz-z",
    "h5",
    "hdr",
    "mat-v5",
    "mat-v5-z",
    "mat-v7.3",
)
HDF5_KINDS = ("h5", "mat-v7.3")
FUZZ = settings(
    max_examples=int(os.environ.get("HSI_TUMOR_FUZZ_EXAMPLES", "60")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("malformed_labels")


# -- valid files, and where each keeps its declared size ---------------------------------------


def write_v73(path: Path, labels: np.ndarray, shape=None) -> None:
    with h5py.File(path, "w", userblock_size=512) as f:
        if shape is None:
            f.create_dataset("labels", data=labels.T)
        else:  # a declared size, data never written
            f.create_dataset("labels", shape=shape, dtype="u1", chunks=True, compression="gzip")
    with open(path, "r+b") as fh:
        fh.write(b"MATLAB 7.3 MAT-file".ljust(124) + b"\x00\x02IM")


def write_seed(kind: str, folder: Path, shape=None) -> Path:
    """A valid label file of ``kind`` holding LABELS (HDF5 kinds: or declaring ``shape``)."""
    if kind.startswith(("png", "tif", "bmp")):
        image = {
            "png-L": Image.fromarray(LABELS, "L"),
            "png-P": Image.fromarray(LABELS, "L").convert("P"),
            "png-I16": Image.fromarray(LABELS.astype(np.uint16)),
            "tif": Image.fromarray(LABELS),
            "bmp": Image.fromarray(LABELS),
        }[kind]
        path = folder / f"labels.{kind.split('-')[0]}"
        image.save(path)
    elif kind == "npy":
        path = folder / "labels.npy"
        np.save(path, LABELS)
    elif kind.startswith("npz"):
        path = folder / "labels.npz"
        (np.savez_compressed if kind.endswith("-z") else np.savez)(path, labels=LABELS)
    elif kind == "h5":
        path = folder / "labels.h5"
        if shape is None:
            write_labels(LABELS, path)
        else:
            with h5py.File(path, "w") as f:
                f.create_dataset("labels", shape=shape, dtype="u1", chunks=True, compression="lzf")
    elif kind == "hdr":
        path = write_labels(LABELS, folder / "labels.hdr")
    elif kind.startswith("mat-v5"):
        path = folder / "labels.mat"
        scipy.io.savemat(path, {"labels": LABELS}, do_compression=kind.endswith("-z"))
    else:
        path = folder / "labels.mat"
        write_v73(path, LABELS, shape)
    return path


def fix_png_crc(raw: bytearray, start: int) -> None:
    length = struct.unpack_from(">I", raw, start)[0]
    crc = zlib.crc32(bytes(raw[start + 4 : start + 8 + length]))
    raw[start + 8 + length : start + 12 + length] = struct.pack(">I", crc)


def declare(path: Path, kind: str, rows: int, cols: int) -> Path:
    """Replace the file's declared size by ``rows`` x ``cols`` (the data stays as it was)."""
    raw = bytearray(path.read_bytes())
    if kind.startswith("png"):
        raw[16:24] = struct.pack(">II", cols, rows)
        fix_png_crc(raw, 8)
    elif kind == "tif":
        for tag, value in ((256, cols), (257, rows)):
            i = raw.find(struct.pack("<HHI", tag, 4, 1))
            raw[i + 8 : i + 12] = struct.pack("<I", value)
    elif kind == "bmp":
        raw[18:26] = struct.pack("<ii", cols, rows)
    elif kind == "npy":
        return _npy_with_shape(path, (rows, cols))
    elif kind.startswith("npz"):
        with zipfile.ZipFile(path) as zf:
            body = zf.read("labels.npy")
        npy = path.with_suffix(".npy")
        npy.write_bytes(body)
        _npy_with_shape(npy, (rows, cols))
        compression = zipfile.ZIP_DEFLATED if kind.endswith("-z") else zipfile.ZIP_STORED
        with zipfile.ZipFile(path, "w", compression) as zf:
            zf.write(npy, "labels.npy")
        npy.unlink()
        return path
    elif kind in HDF5_KINDS:
        path.unlink()
        return write_seed(kind, path.parent, shape=(rows, cols))
    elif kind == "hdr":
        text = path.read_text().replace("samples = 7", f"samples = {cols}")
        path.write_text(text.replace("lines = 6", f"lines = {rows}"))
        return path
    else:  # MATLAB v5: the labels variable's dimensions
        return _mat_with_dims(path, kind, rows, cols)
    path.write_bytes(bytes(raw))
    return path


def _npy_with_shape(path: Path, shape) -> Path:
    raw = path.read_bytes()
    old = repr(LABELS.shape).encode()
    header_len = struct.unpack_from("<H", raw, 8)[0]
    header = raw[10 : 10 + header_len].replace(old, repr(tuple(shape)).encode())
    header = header.rstrip(b" \n")
    header += b" " * ((-(10 + len(header) + 1)) % 64) + b"\n"
    path.write_bytes(raw[:8] + struct.pack("<H", len(header)) + header + raw[10 + header_len :])
    return path


def _mat_with_dims(path: Path, kind: str, rows: int, cols: int) -> Path:
    old = struct.pack("<IIii", 5, 8, *LABELS.shape)
    new = struct.pack("<IIii", 5, 8, rows, cols)
    raw = path.read_bytes()
    if kind.endswith("-z"):
        size = struct.unpack_from("<I", raw, 132)[0]
        inner = zlib.decompress(raw[136 : 136 + size]).replace(old, new, 1)
        z = zlib.compress(inner)
        raw = raw[:128] + struct.pack("<II", 15, len(z)) + z + raw[136 + size :]
    else:
        raw = raw.replace(old, new, 1)
    path.write_bytes(raw)
    return path


# -- the reference readers and the check ---------------------------------------------------


def _the_map(arrays: dict) -> np.ndarray:
    """The array read_labels picks: the one named 'labels', else the only 2-D one (a damaged
    name leaves one array under another name)."""
    if "labels" in arrays:
        return arrays["labels"]
    (only,) = [v for k, v in arrays.items() if not k.startswith("__") and np.ndim(v) == 2]
    return only


def _envi_read(path: Path) -> np.ndarray:
    """spectral's reading of the label pair, with the one rule of hsi_tumor's atomic writes
    it does not know: a data file that starts with the header its write embedded (``ENVI``
    ... NUL) holds its data after that header's ``header offset``, which applies when the
    side-car header states none (a damaged ``header offset`` line, for example)."""
    image = envi.open(os.fspath(path))
    data_file = Path(image.filename)
    head = data_file.read_bytes()[: 1 << 16]
    if "header offset" in image.metadata or not head.startswith(b"ENVI") or b"\0" not in head:
        return image.read_band(0)
    found = re.search(rb"^header offset = (\d+)\s*$", head[: head.index(b"\0")], re.MULTILINE)
    if found is None:
        return image.read_band(0)
    fixed = path.with_name(path.stem + ".reference.hdr")
    fixed.write_bytes(path.read_bytes() + b"\nheader offset = " + found.group(1) + b"\n")
    return envi.open(os.fspath(fixed), image=os.fspath(data_file)).read_band(0)


def independent_read(path: Path, kind: str) -> np.ndarray:
    if kind.startswith(("png", "tif", "bmp")):
        with Image.open(path) as image:
            return np.asarray(image)
    if kind == "npy":
        return np.load(path)
    if kind.startswith("npz"):
        with np.load(path) as archive:
            return _the_map({k: archive[k] for k in archive.files})
    if kind == "hdr":
        return _envi_read(path)
    if kind.startswith("mat-v5"):
        return _the_map(scipy.io.loadmat(path))
    with h5py.File(path, "r") as f:
        data = _the_map({k: f[k][()] for k in f})
    return data.T if kind == "mat-v7.3" else data


def _status(key: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
    raise AssertionError(f"no {key} in /proc/self/status")


def read_measured(path: Path, kind: str) -> tuple[str, int]:
    """In the child: read the labels under the budget; return the outcome and the growth of
    the peak resident memory."""
    os.environ[BUDGET_VARIABLE] = str(BUDGET)
    limit = _status("VmSize") + 2 * 2**30  # room for the budget; more raises MemoryError
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # reset the peak (VmHWM) to the current resident size
    base = _status("VmRSS")
    try:
        labels = read_labels(path)
    except ht.HsiTumorError as exc:
        message = str(exc)
        assert exc.file is not None and "Fix:" in message, message
        return f"{type(exc).__name__}", _status("VmHWM") - base
    growth = _status("VmHWM") - base
    try:
        reference = independent_read(path, kind)
    except Exception as exc:
        raise AssertionError(
            f"read_labels read a file {kind}'s own reader rejects: {exc!r}"
        ) from exc
    assert labels.shape == reference.shape and np.array_equal(labels, reference)
    return "read", growth


def check(path: Path, kind: str, mutation) -> None:
    result, value = run_forked(read_measured, path, kind, timeout=30.0)
    if result in ("hang", "crash") and kind in HDF5_KINDS:
        note(f"libhdf5 {result} (wait status {value}); example discarded")
        reject()
    assert result == "done", f"{kind}: {result} {value}"
    outcome, growth = value
    note(f"{kind}: {outcome}, peak +{growth / 2**20:.1f} MiB")
    assert growth < BUDGET, f"{kind}: peak memory grew by {growth / 2**20:.0f} MiB"
    report = os.environ.get("HSI_TUMOR_FUZZ_REPORT")
    if report:
        with open(report, "a", encoding="utf-8") as out:
            out.write(f"labels,{kind},{mutation[0]},{outcome},{growth}\n")


@pytest.fixture(scope="module", autouse=True)
def warm_up(workdir):
    """Read one valid file of each kind first, so the children start with every reader module
    imported (an import is not a file's cost)."""
    folder = fresh_dir(workdir)
    for kind in KINDS:
        np.testing.assert_array_equal(read_labels(write_seed(kind, fresh_dir(folder))), LABELS)


overwrites = st.tuples(
    st.just("overwrite"),
    st.lists(st.tuples(st.integers(0, 2**16), st.integers(0, 255)), min_size=1, max_size=8),
)
sizes = st.one_of(st.integers(1, 64), st.integers(2**10, 2**31 - 1))
declarations = st.tuples(st.just("declare"), st.tuples(sizes, sizes))


@FUZZ
@given(kind=st.sampled_from(KINDS), mutation=st.one_of(truncations, overwrites, declarations))
@example(kind="png-L", mutation=("declare", (100000, 100000)))
@example(kind="h5", mutation=("declare", (2**31 - 1, 2**31 - 1)))
@example(kind="npz-z", mutation=("declare", (60000, 60000)))
@example(kind="mat-v5-z", mutation=("declare", (2**31 - 1, 2**20)))
@example(kind="mat-v5", mutation=("overwrite", [(3536, 0)]))  # the name 'labels' damaged
@example(kind="hdr", mutation=("overwrite", [(65523, 0)]))  # "header offset" damaged: embedded
def test_label_files_damaged(workdir, kind, mutation):
    folder = fresh_dir(workdir)
    path = write_seed(kind, folder)
    if mutation[0] == "declare":
        declare(path, kind, *mutation[1])
    else:  # ENVI: the data file cut short, the header overwritten
        cut_data = kind == "hdr" and mutation[0] == "truncate"
        damage(path.with_suffix(".img") if cut_data else path, mutation)
    check(path, kind, mutation)
    shutil.rmtree(folder)
