"""Hostile files (issue 18): each reproducer of the issue, and the checks that stop it.

Files that crashed the interpreter, hung on a named pipe, or made a kilobyte-sized file
allocate gigabytes. Every reproducer is a test: what once killed the process runs in a fresh
interpreter (so a regression fails the test instead of the test run); what once hung runs with a
writer that unblocks the pipe after a few seconds; what once blew up memory is read under
``tracemalloc`` (NumPy and zlib allocations are traced) or with a small memory budget.
"""

from __future__ import annotations

import io
import os
import struct
import subprocess
import sys
import threading
import time
import tracemalloc
import zipfile
import zlib
from pathlib import Path

import h5py
import numpy as np
import pytest
import scipy.io
from PIL import Image

import hsi_tumor as ht
from hsi_tumor._shared.limits import BUDGET_VARIABLE
from hsi_tumor.io import read_labels
from hsi_tumor.io._mat5 import MAX_DEPTH

ROOT = Path(__file__).resolve().parents[2]
WL4 = [900.0, 1000.0, 1100.0, 1200.0]
MiB = 2**20


def run_fresh(code: str, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    """Run ``code`` in a fresh interpreter importing this checkout's hsi_tumor."""
    env = dict(
        os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])
    )
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=timeout,
        check=False,
    )


def peak_bytes(func) -> tuple[object, int]:
    """``func()``'s result (or the exception it raised) and the peak of traced allocations."""
    tracemalloc.start()
    try:
        try:
            result = func()
        except Exception as exc:
            result = exc
        return result, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


# -- MATLAB v5: a tiny writer for crafted elements ------------------------------------------


def element(kind: int, payload: bytes) -> bytes:
    return struct.pack("<II", kind, len(payload)) + payload + bytes(-len(payload) % 8)


def matrix(mclass: int, dims, name: bytes, *parts: bytes, flags: int = 0) -> bytes:
    body = element(6, struct.pack("<II", mclass | flags, 0))
    body += element(5, struct.pack(f"<{len(dims)}i", *dims)) + element(1, name)
    return element(14, body + b"".join(parts))


def mat_file(*variables: bytes) -> bytes:
    header = b"MATLAB 5.0 MAT-file, crafted by hsi_tumor's tests".ljust(116, b" ")
    return header + bytes(8) + b"\x00\x01IM" + b"".join(variables)


def compressed(variable: bytes) -> bytes:
    z = zlib.compress(variable)
    return struct.pack("<II", 15, len(z)) + z


def double_matrix(dims, name=b"x") -> bytes:
    n = int(np.prod(dims))
    return matrix(6, dims, name, element(9, np.arange(n, dtype="<f8").tobytes()))


def test_crafted_writer_writes_what_scipy_reads(tmp_path):
    path = tmp_path / "ok.mat"
    path.write_bytes(mat_file(double_matrix((2, 3)), compressed(double_matrix((1, 2), b"y"))))
    contents = scipy.io.loadmat(path)
    np.testing.assert_array_equal(contents["x"], np.arange(6.0).reshape(3, 2).T)
    assert read_labels(path, name="x").shape == (2, 3)


def test_issue_reproducer_compressed_element_inside_a_matrix_does_not_kill_the_process(tmp_path):
    """Issue 18, item 1: an miCOMPRESSED code where miMATRIX holds its number data passed the
    old structure check and killed the interpreter with SIGSEGV in scipy.io.loadmat."""
    buf = io.BytesIO()
    scipy.io.savemat(buf, {"cube": np.ones((2, 2, 2), np.float32)})
    b = bytearray(buf.getvalue())
    b[b.index(struct.pack("<II", 7, 32))] = 15
    path = tmp_path / "s.mat"
    path.write_bytes(bytes(b))
    code = (
        "import sys, hsi_tumor as ht\n"
        "try:\n    ht.read_cube(sys.argv[1])\n"
        "except ht.CubeFormatError as exc:\n    print(exc.field, '|', exc)\n"
    )
    done = run_fresh(code, os.fspath(path))
    assert done.returncode == 0, f"exit status {done.returncode}: {done.stderr[-2000:]}"
    assert done.stdout.startswith("MAT-file elements |") and "data type 15" in done.stdout


def test_every_data_type_code_in_place_of_number_data_raises_or_reads(tmp_path):
    """Each of the 2**8 low type codes (and a few large ones) where a number array's data
    element belongs: scipy reads the codes it knows, every other is refused first."""
    itemsize = {1: 1, 2: 1, 3: 2, 4: 2, 5: 4, 6: 4, 7: 4, 9: 8, 12: 8, 13: 8, 16: 1, 17: 2, 18: 4}
    codes = [*range(256), 0xFFFF, 2**31, 2**32 - 1]
    for code in codes:
        data = struct.pack("<II", code, 8) + np.float64(7).tobytes()
        variable = matrix(6, (1, 8 // itemsize.get(code, 8)), b"x", data)
        (tmp_path / f"t{code}.mat").write_bytes(mat_file(variable))
    run = (
        "import sys, pathlib, hsi_tumor as ht\n"
        "from hsi_tumor.io import read_labels\n"
        "ok, refused = [], []\n"
        "for p in sorted(pathlib.Path(sys.argv[1]).glob('t*.mat')):\n"
        "    try:\n        ht.io._matlab.load_v5(p); ok.append(int(p.stem[1:]))\n"
        "    except ht.HsiTumorError:\n        refused.append(int(p.stem[1:]))\n"
        "print(sorted(ok), len(refused))\n"
    )
    done = run_fresh(run, os.fspath(tmp_path))
    assert done.returncode == 0, f"exit status {done.returncode}: {done.stderr[-2000:]}"
    ok, n_refused = done.stdout.rsplit(" ", 1)
    assert ok == "[1, 2, 3, 4, 5, 6, 7, 9, 12, 13, 16, 17, 18]"  # scipy's dtype table
    assert int(n_refused) == len(codes) - 13


def test_compressed_variable_inside_a_compressed_variable_is_refused(tmp_path):
    path = tmp_path / "nested.mat"
    path.write_bytes(mat_file(compressed(compressed(double_matrix((2, 2))))))
    with pytest.raises(ht.CubeFormatError, match="compressed variable of data type 15"):
        read_labels(path)


def nested_cells(depth: int) -> bytes:
    """A variable 'c': a 1 x 1 cell holding a 1 x 1 cell ... ``depth`` deep, then a number."""
    inner = double_matrix((1, 1), b"")
    for level in range(depth):
        inner = matrix(1, (1, 1), b"c" if level == depth - 1 else b"", inner)
    return inner


def test_cells_nested_deeper_than_the_limit_are_refused_shallower_read(tmp_path):
    """scipy recurses in C once per level: thousands of levels overflow the C stack."""
    deep, shallow = tmp_path / "deep.mat", tmp_path / "shallow.mat"
    deep.write_bytes(mat_file(compressed(nested_cells(5000))))
    shallow.write_bytes(mat_file(nested_cells(MAX_DEPTH - 1)))
    code = (
        "import sys, hsi_tumor as ht\n"
        "from pathlib import Path\n"
        "print(len(ht.io._matlab.load_v5(Path(sys.argv[2]))))\n"
        "try:\n    ht.io._matlab.load_v5(Path(sys.argv[1]))\n"
        "except ht.CubeFormatError as exc:\n    print(exc)\n"
    )
    done = run_fresh(code, os.fspath(deep), os.fspath(shallow))
    assert done.returncode == 0, f"exit status {done.returncode}: {done.stderr[-2000:]}"
    assert done.stdout.startswith("1\n") and f"nested more than {MAX_DEPTH} deep" in done.stdout


def test_cell_array_declaring_a_trillion_cells_allocates_nothing(tmp_path):
    path = tmp_path / "cells.mat"
    path.write_bytes(mat_file(matrix(1, (10**6, 10**6), b"c")))  # dims only, no cells
    result, peak = peak_bytes(lambda: ht.io._matlab.load_v5(path))
    assert isinstance(result, ht.CubeFormatError), result
    assert peak < 4 * MiB


def zlib_stream(declared: int, actual: int) -> bytes:
    """A compressed variable: a matrix tag declaring ``declared`` bytes, then ``actual`` zeros."""
    z = zlib.compressobj(9)
    parts = [z.compress(struct.pack("<II", 14, declared))]
    chunk = bytes(16 * MiB)
    for start in range(0, actual, len(chunk)):
        parts.append(z.compress(chunk[: min(len(chunk), actual - start)]))
    parts.append(z.flush())
    stream = b"".join(parts)
    return struct.pack("<II", 15, len(stream)) + stream


@pytest.mark.slow
def test_zlib_bomb_in_a_v5_file_is_refused_before_it_inflates(tmp_path):
    """Issue 18: the v5 checker inflated a 1 GB zlib bomb whole before rejecting it."""
    honest, lying = tmp_path / "bomb.mat", tmp_path / "lie.mat"
    honest.write_bytes(mat_file(zlib_stream(2**30, 2**30)))  # ~1 MB on disk
    lying.write_bytes(mat_file(zlib_stream(64, 2**30)))  # tag says 64 bytes, inflates to 1 GiB
    for path, message in ((honest, "more than 100 times"), (lying, "does not inflate to 64")):
        result, peak = peak_bytes(lambda path=path: ht.io._matlab.load_v5(path))
        assert isinstance(result, ht.CubeFormatError) and message in str(result), result
        assert peak < 8 * MiB, f"{path.name}: {peak / MiB:.0f} MiB traced"


def test_v5_file_beyond_the_budget_is_not_read(tmp_path, monkeypatch):
    path = tmp_path / "big.mat"
    scipy.io.savemat(path, {"cube": np.zeros((64, 64, 8))})  # 256 KiB
    monkeypatch.setenv(BUDGET_VARIABLE, "64KiB")
    with pytest.raises(ht.CubeFormatError, match="memory budget of 64 KiB") as info:
        ht.read_cube(path, wavelengths=np.linspace(1000, 1700, 8))
    assert BUDGET_VARIABLE in str(info.value)


def test_every_kind_of_matlab_variable_passes_the_check(tmp_path):
    """Structs, cells, text, sparse, complex, logical, empty and nested values beside the cube
    (compressed and not): the check walks them all and the cube reads as scipy reads it."""
    cube = np.random.default_rng(0).normal(size=(3, 4, 5))
    cells = np.empty((1, 3), dtype=object)
    cells[0, 0], cells[0, 1], cells[0, 2] = "text", np.eye(2), {"deep": {"er": [1, 2]}}
    values = {
        "cube": cube,
        "wavelength": np.linspace(950, 1650, 5)[None],
        "s": {"a": 1, "b": "two", "c": np.ones((2, 2), np.int16)},
        "c": cells,
        "sp": scipy.sparse.random(5, 4, density=0.5, random_state=0, format="csc"),
        "z": np.ones((2, 3)) * (1 + 2j),
        "flag": np.array([[True, False]]),
        "empty": np.zeros((0, 3)),
        "e2": "",
    }
    for compress in (False, True):
        path = tmp_path / f"all{compress}.mat"
        scipy.io.savemat(path, values, do_compression=compress)
        read = ht.read_cube(path, variable="cube")
        np.testing.assert_array_equal(read.load().data, cube)
        np.testing.assert_allclose(read.wavelengths, np.linspace(950, 1650, 5))


def test_complex_variable_is_not_a_cube(tmp_path):
    path = tmp_path / "kinds.mat"
    scipy.io.savemat(path, {"z": np.ones((2, 3, 4)) * 1j})
    with pytest.raises(ht.CubeFormatError, match="complex numbers") as info:
        ht.read_cube(path, variable="z", wavelengths=WL4)
    assert info.value.field == "z"


# -- HDF5 and MATLAB v7.3: declared sizes against the file and the budget --------------------


def huge_h5(path: Path, name: str, shape, dtype="f4", **attrs) -> Path:
    """A small file whose dataset declares ``shape`` (chunked, compressed, never written)."""
    chunks = tuple(min(n, 64) for n in shape)
    with h5py.File(path, "w") as f:
        ds = f.create_dataset(name, shape=shape, dtype=dtype, chunks=chunks, compression="gzip")
        ds.attrs.update(attrs)
    return path


def test_small_hdf5_cube_declaring_gigabytes_is_refused_at_open(tmp_path):
    path = huge_h5(tmp_path / "c.h5", "cube", (40000, 40000, 2), wavelengths=[1000.0, 1100.0])
    assert path.stat().st_size < 8000
    with pytest.raises(ht.CubeFormatError, match="stores 0 bytes of it") as info:
        ht.read_cube(path)
    assert info.value.field == "cube" and "11.9 GiB" in str(info.value)


@pytest.mark.parametrize("shape", [(100000, 100000), (10**6, 10**6)])
def test_hdf5_label_map_declaring_gigabytes_is_a_budget_error_not_memory_error(tmp_path, shape):
    path = huge_h5(tmp_path / "l.h5", "labels", shape, dtype="u1")
    with pytest.raises(ht.CubeFormatError, match="memory budget") as info:
        read_labels(path)
    assert info.value.field == "labels"


def write_v73(path: Path, **variables) -> Path:
    with h5py.File(path, "w", userblock_size=512) as f:
        for name, (shape, dtype) in variables.items():
            f.create_dataset(name, shape=shape, dtype=dtype, chunks=True, compression="gzip")
    with open(path, "r+b") as fh:
        fh.write(b"MATLAB 7.3 MAT-file".ljust(124) + b"\x00\x02IM")
    return path


def test_matlab_v73_files_declaring_gigabytes_are_refused(tmp_path):
    labels = write_v73(tmp_path / "l.mat", labels=((100000, 100000), "u1"))
    with pytest.raises(ht.CubeFormatError, match="memory budget"):
        read_labels(labels)
    cube = write_v73(tmp_path / "c.mat", cube=((8, 30000, 30000), "f4"))
    with pytest.raises(ht.CubeFormatError, match=r"declares 26\.8 GiB"):
        ht.read_cube(cube, wavelengths=np.linspace(1000, 1700, 8))


def test_wavelength_dataset_declaring_gigabytes_is_refused(tmp_path):
    path = tmp_path / "w.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("cube", data=np.ones((2, 3, 4), np.float32))
        f.create_dataset("wavelengths", shape=(2**34,), dtype="f8", chunks=(2**16,))
    with pytest.raises(ht.CubeFormatError, match="wavelengths") as info:
        ht.read_cube(path)
    assert info.value.field == "wavelengths"


def test_honest_compressed_hdf5_cube_still_reads(tmp_path):
    """Zeros compress ~1000:1 with gzip; within deflate's bound they are a genuine file."""
    path = tmp_path / "zeros.h5"
    ht.write_cube(
        ht.Cube(np.zeros((256, 256, 64), np.float32), np.linspace(900, 1700, 64)),
        path,
        compression="gzip",
    )
    assert ht.read_cube(path).load().data.sum() == 0


def test_zero_band_hdf5_cube_is_refused_and_its_repr_works(tmp_path):
    """Issue 18: repr of a 0-band cube read from HDF5 raised IndexError."""
    path = tmp_path / "empty.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("cube", shape=(4, 5, 0), dtype="f4")
    with pytest.raises(ht.CubeFormatError, match="no bands") as info:
        ht.read_cube(path, wavelengths=[])
    assert info.value.field == "cube"
    assert "no bands" in repr(ht.Cube(np.zeros((4, 5, 0), np.float32), []))


def test_corrupt_hdf5_structure_names_the_field_and_keeps_the_message_short(tmp_path):
    path = tmp_path / "c.h5"
    ht.write_cube(ht.Cube(np.ones((8, 8, 4), np.float32), WL4), path)
    raw = bytearray(path.read_bytes())
    i = raw.find(b"TREE")
    raw[i : i + 4] = b"XXXX"
    path.write_bytes(bytes(raw))
    with pytest.raises(ht.CubeFormatError) as info:
        ht.read_cube(path).load()
    assert info.value.field == "HDF5 structure" and "Fix:" in str(info.value)
    assert len(str(info.value)) < 600


def test_deeply_nested_metadata_json_is_ignored(tmp_path, caplog):
    path = tmp_path / "c.h5"
    ht.write_cube(ht.Cube(np.ones((2, 2, 4), np.float32), WL4), path)
    with h5py.File(path, "a") as f:
        f["cube"].attrs["metadata_json"] = "[" * 100000 + "]" * 100000
    assert ht.read_cube(path).shape == (2, 2, 4)
    assert "metadata_json" in caplog.text


# -- NumPy: zip members checked before they are inflated ------------------------------------


def test_npz_zip_bomb_is_refused_before_it_is_inflated(tmp_path):
    """Issue 18: a 4 MB .npz zip bomb loaded, using 3.8 GB."""
    path = tmp_path / "bomb.npz"
    with (
        zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf,
        zf.open("cube.npy", "w", force_zip64=True) as fp,
    ):
        np.lib.format.write_array_header_1_0(
            fp, {"descr": "|u1", "fortran_order": False, "shape": (1000, 1000, 400)}
        )
        chunk = bytes(50 * 10**6)
        for _ in range(8):  # 400 MB of zeros: the issue's bomb, smaller
            fp.write(chunk)
    assert path.stat().st_size < MiB
    result, peak = peak_bytes(lambda: ht.read_cube(path, wavelengths=np.linspace(900, 1700, 400)))
    assert isinstance(result, ht.CubeFormatError), result
    assert "more than 100 times" in str(result) and result.field == "cube"
    assert peak < 8 * MiB


def test_npz_member_whose_zip_entry_is_smaller_than_its_array_is_refused(tmp_path):
    path = tmp_path / "lie.npz"
    with zipfile.ZipFile(path, "w") as zf, zf.open("labels.npy", "w") as fp:
        np.lib.format.write_array_header_1_0(
            fp, {"descr": "|u1", "fortran_order": False, "shape": (100000, 100000)}
        )
        fp.write(bytes(100))
    with pytest.raises(ht.CubeFormatError, match="its zip entry holds") as info:
        read_labels(path)
    assert info.value.field == "labels"


def test_npy_label_map_declaring_more_than_the_file_holds_allocates_nothing(tmp_path):
    path = tmp_path / "l.npy"
    with open(path, "wb") as fp:
        np.lib.format.write_array_header_1_0(
            fp, {"descr": "|u1", "fortran_order": False, "shape": (10**6, 10**6)}
        )
    result, peak = peak_bytes(lambda: read_labels(path))
    assert isinstance(result, ht.CubeFormatError), result
    assert peak < 4 * MiB


def test_label_maps_beyond_the_budget_are_refused(tmp_path, monkeypatch):
    labels = np.ones((512, 512), np.uint8)
    np.save(tmp_path / "l.npy", labels)
    np.savez(tmp_path / "l.npz", labels=labels)
    ht.io.write_labels(labels, tmp_path / "l.hdr")
    ht.io.write_labels(labels, tmp_path / "l.h5")
    Image.fromarray(labels).save(tmp_path / "l.png")
    monkeypatch.setenv(BUDGET_VARIABLE, "100KiB")
    for name in ("l.npy", "l.npz", "l.hdr", "l.h5", "l.png"):
        with pytest.raises(ht.CubeFormatError, match="memory budget of 100 KiB"):
            read_labels(tmp_path / name)
    monkeypatch.setenv(BUDGET_VARIABLE, "2MiB")
    for name in ("l.npy", "l.npz", "l.hdr", "l.h5", "l.png"):
        np.testing.assert_array_equal(read_labels(tmp_path / name), labels)


def test_boolean_npy_cube_is_refused(tmp_path):
    np.save(tmp_path / "b.npy", np.ones((2, 2, 4), bool))
    with pytest.raises(ht.CubeFormatError, match="booleans") as info:
        ht.read_cube(tmp_path / "b.npy", wavelengths=WL4)
    assert info.value.field == "array"


# -- PNG and TIFF labels: pixel counts checked before decoding -------------------------------


def png_with_size(path: Path, width: int, height: int) -> Path:
    Image.fromarray(np.zeros((4, 4), np.uint8)).save(path)
    raw = bytearray(path.read_bytes())
    raw[16:24] = struct.pack(">II", width, height)
    raw[29:33] = struct.pack(">I", zlib.crc32(bytes(raw[12:29])))
    path.write_bytes(bytes(raw))
    return path


def test_png_decompression_bomb_is_a_cube_format_error(tmp_path):
    """Issue 18: PIL's DecompressionBombError escaped read_labels."""
    path = png_with_size(tmp_path / "bomb.png", 100000, 100000)
    with pytest.raises(ht.CubeFormatError, match="decompression bomb") as info:
        read_labels(path)
    assert info.value.field == "size" and "MAX_IMAGE_PIXELS" in str(info.value)


def test_png_within_pillows_limit_but_beyond_the_budget_is_not_decoded(tmp_path, monkeypatch):
    path = png_with_size(tmp_path / "big.png", 8000, 8000)  # 64 Mpixel, header only
    monkeypatch.setenv(BUDGET_VARIABLE, "64MiB")
    result, peak = peak_bytes(lambda: read_labels(path))
    assert isinstance(result, ht.CubeFormatError) and "memory budget" in str(result), result
    assert peak < 4 * MiB


def test_png_with_a_broken_chunk_is_a_cube_format_error(tmp_path):
    """Issue 18: PIL's SyntaxError ('broken PNG file') escaped read_labels."""
    path = tmp_path / "l.png"
    Image.fromarray((np.arange(4096).reshape(64, 64) % 7).astype(np.uint8)).save(path)
    raw = bytearray(path.read_bytes())
    i = raw.find(b"IDAT") - 4
    raw[i : i + 4] = struct.pack(">I", struct.unpack_from(">I", raw, i)[0] // 2)
    path.write_bytes(bytes(raw))
    with pytest.raises(SyntaxError), Image.open(path) as image:  # what Pillow itself raises
        image.load()
    with pytest.raises(ht.CubeFormatError, match="SyntaxError: broken PNG file") as info:
        read_labels(path)
    assert info.value.field == "pixel values"


def test_tiff_declaring_a_huge_image_is_refused(tmp_path):
    path = tmp_path / "l.tif"
    Image.fromarray(np.zeros((4, 4), np.uint8)).save(path)
    raw = bytearray(path.read_bytes())
    for tag in (256, 257):  # ImageWidth, ImageLength: LONG, count 1
        i = raw.find(struct.pack("<HHI", tag, 4, 1))
        assert i > 0
        raw[i + 8 : i + 12] = struct.pack("<I", 60000)
    path.write_bytes(bytes(raw))
    result, peak = peak_bytes(lambda: read_labels(path))
    assert isinstance(result, ht.CubeFormatError), result
    assert peak < 4 * MiB


# -- special files: refused before anything opens them ---------------------------------------


def unblock_later(fifo: Path, after: float = 5.0) -> threading.Thread:
    """Open the FIFO for writing after ``after`` s, so a reader blocked on it gets EOF (a test
    that regressed fails instead of hanging)."""

    def write():
        time.sleep(after)
        os.close(os.open(fifo, os.O_RDWR))  # never blocks on Linux; the reader then sees EOF

    thread = threading.Thread(target=write, daemon=True)
    thread.start()
    return thread


@pytest.mark.parametrize("reader", ["read_cube", "read_labels", "read_capture"])
def test_named_pipe_header_is_refused_at_once(tmp_path, reader):
    """Issue 18, item 3: a .hdr that is a named pipe hung forever."""
    capture = tmp_path / "scan" / "capture"
    capture.mkdir(parents=True)
    (capture / "scan.raw").write_bytes(bytes(96))
    fifo = capture / "scan.hdr"
    os.mkfifo(fifo)
    unblock_later(fifo)
    start = time.monotonic()
    call = {
        "read_cube": lambda: ht.read_cube(fifo),
        "read_labels": lambda: read_labels(fifo),
        "read_capture": lambda: ht.read_capture(tmp_path / "scan"),
    }[reader]
    with pytest.raises(ht.CubeFormatError, match="named pipe") as info:
        call()
    assert time.monotonic() - start < 2.0
    assert info.value.field == "path"


def test_character_device_is_not_read_as_a_cube():
    with pytest.raises(ht.CubeFormatError, match="character device"):
        ht.read_cube("/dev/zero", format="numpy")


# -- ENVI headers: values echoed short, wavelengths plausible --------------------------------


def write_envi(tmp_path: Path, **fields: str) -> Path:
    base = {
        "samples": "4",
        "lines": "3",
        "bands": "4",
        "data type": "12",
        "interleave": "bsq",
        "wavelength units": "Nanometers",
        "wavelength": "{ 900, 1000, 1100, 1200 }",
    }
    base.update({k.replace("_", " "): v for k, v in fields.items()})
    header = tmp_path / "c.hdr"
    header.write_text("ENVI\n" + "".join(f"{k} = {v}\n" for k, v in base.items()))
    (tmp_path / "c.img").write_bytes(bytes(96))
    return header


@pytest.mark.parametrize("digits", [4000, 5000])
def test_a_5000_digit_header_value_is_echoed_short(tmp_path, digits):
    header = write_envi(tmp_path, samples="9" * digits)
    with pytest.raises(ht.CubeFormatError) as info:
        ht.read_cube(header)
    assert info.value.field == "samples" and len(str(info.value)) < 400


@pytest.mark.parametrize(
    "values", ["-1700, -1600, -1500, -1400", "0, 1, 2, 3", "1e300, 2e300, 3e300, 4e300"]
)
def test_implausible_wavelengths_are_refused(tmp_path, values):
    header = write_envi(tmp_path, wavelength="{ " + values + " }")
    with pytest.raises(ht.WavelengthError, match="outside the 200–20000 nm") as info:
        ht.read_cube(header)
    assert info.value.field == "wavelength"
    given = ht.read_cube(header, wavelengths=[1.0, 2.0, 3.0, 4.0])  # told otherwise: accepted
    np.testing.assert_array_equal(given.wavelengths, [1.0, 2.0, 3.0, 4.0])


def test_micrometres_on_values_that_are_nanometres_names_the_unit_to_use(tmp_path):
    """Issue 18: 'wavelength units = Micrometers' on 900-1200 read as 9e5-1.2e6 nm."""
    header = write_envi(tmp_path, wavelength_units="Micrometers")
    with pytest.raises(ht.WavelengthError, match="read as Nanometers they would be") as info:
        ht.read_cube(header)
    assert info.value.field == "wavelength units"
    assert "correct the unit to Nanometers" in str(info.value)
    um = write_envi(tmp_path, wavelength="{ 0.9, 1.0, 1.1, 1.2 }", wavelength_units="Nanometers")
    with pytest.raises(ht.WavelengthError, match="correct the unit to Micrometers"):
        ht.read_cube(um)


def test_band_table_with_implausible_values_is_refused(tmp_path):
    np.save(tmp_path / "c.npy", np.ones((2, 2, 3), np.float32))
    (tmp_path / "c_bands.csv").write_text("wavelength\n1\n2\n3\n")
    with pytest.raises(ht.WavelengthError, match="outside") as info:
        ht.read_cube(tmp_path / "c.npy")
    assert info.value.file.endswith("c_bands.csv")


def test_capture_whose_header_says_index_units(tmp_path):
    """Issue 18: read_capture raised TypeError when the header said wavelength units = Index."""
    raw = ht.Cube(np.ones((4, 5, 3), np.uint16), None)
    ref = ht.Cube(np.ones((2, 5, 3), np.uint16), None)
    ht.write_capture(raw, tmp_path / "cap", ref, ref)
    with pytest.raises(ht.WavelengthError, match="Index") as info:
        ht.read_capture(tmp_path / "cap")
    assert info.value.field == "wavelength units"
    capture = ht.read_capture(tmp_path / "cap", wavelengths=[1000.0, 1100.0, 1200.0])
    assert capture.white.wavelengths.tolist() == [1000.0, 1100.0, 1200.0]


def test_band_table_that_is_a_named_pipe_is_refused(tmp_path):
    np.save(tmp_path / "c.npy", np.ones((2, 2, 3), np.float32))
    os.mkfifo(tmp_path / "c_bands.csv")
    unblock_later(tmp_path / "c_bands.csv")
    with pytest.raises(ht.CubeFormatError, match="named pipe"):
        ht.read_cube(tmp_path / "c.npy", wavelengths=tmp_path / "c_bands.csv")
