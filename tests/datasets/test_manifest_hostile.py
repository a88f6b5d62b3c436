"""Hostile manifests (issue 18): only HsiTumorError escapes read_manifest, memory stays small.

The regression tests are the issue's reproducers (``OSError`` ENAMETOOLONG and ``_csv.Error``
escaped; a manifest that is a named pipe hung forever). The fuzz test builds manifests from
fragments an attacker or an unlucky spreadsheet would produce — real cube and label files,
paths too long to exist, NUL characters, quotes, delimiters, cells beyond the CSV field limit,
a byte-order mark, invalid UTF-8, files that are pipes, folders or corrupt — and asserts that
``read_manifest`` either returns Specimens or raises an HsiTumorError naming the manifest, with
the traced allocations below the memory budget it runs under.
"""

from __future__ import annotations

import os
import threading
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import hsi_tumor as ht
from hsi_tumor._shared.limits import BUDGET_VARIABLE
from hsi_tumor.datasets import read_manifest
from hsi_tumor.io import write_labels

WL = [1000.0, 1100.0, 1200.0]
BUDGET = 32 * 2**20
FUZZ_EXAMPLES = int(os.environ.get("HSI_TUMOR_FUZZ_EXAMPLES", "100"))


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    """Good and bad files a manifest can name (made once for the module)."""
    root = tmp_path_factory.mktemp("hostile_manifest")
    rng = np.random.default_rng(0)
    ht.write_cube(ht.Cube(rng.random((5, 6, 3)).astype(np.float32), WL), root / "cube.hdr")
    write_labels(rng.integers(0, 3, (5, 6)).astype(np.uint8), root / "labels.hdr")
    np.save(root / "labels.npy", rng.integers(0, 3, (5, 6)).astype(np.uint8))
    np.save(root / "wrong_shape.npy", np.zeros((2, 2), np.uint8))
    np.save(root / "fraction.npy", np.full((5, 6), 0.5))
    (root / "garbage.hdr").write_bytes(b"ENVI\nsamples = {\n\x00\xff")
    (root / "garbage.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(40))
    os.mkfifo(root / "pipe.hdr")
    os.mkfifo(root / "pipe.npy")
    (root / "sub").mkdir()
    return root


def names_manifest_or_file(exc: ht.HsiTumorError, manifest: Path) -> bool:
    return exc.file is not None and "Fix:" in str(exc)


def test_a_cell_naming_a_path_too_long_to_exist(folder):
    """Issue 18: OSError ENAMETOOLONG escaped read_manifest."""
    manifest = folder / "long.csv"
    manifest.write_text("cube,labels\n" + "a" * 300 + ".hdr,labels.npy\n")
    with pytest.raises(ht.MissingFileError, match="File name too long") as info:
        read_manifest(manifest)
    assert info.value.file == os.fspath(manifest) and info.value.field == "cube"
    assert len(str(info.value)) < 1000


def test_a_manifest_path_too_long_to_exist(folder):
    with pytest.raises(ht.MissingFileError, match="cannot be opened"):
        read_manifest(folder / ("m" * 300 + ".csv"))


def test_a_cell_beyond_the_csv_field_limit(folder):
    """Issue 18: _csv.Error ('field larger than field limit') escaped read_manifest."""
    manifest = folder / "big_cell.csv"
    manifest.write_text('cube,labels\n"' + "x" * 200_000 + '",labels.npy\n')
    with pytest.raises(ht.CubeFormatError, match="not valid CSV at line 2") as info:
        read_manifest(manifest)
    assert info.value.field == "line 2" and len(str(info.value)) < 600


def test_a_manifest_that_is_a_named_pipe_is_refused_at_once(folder):
    """Issue 18, item 3: a manifest path that is a named pipe hung forever."""
    fifo = folder / "manifest_pipe.csv"
    os.mkfifo(fifo)
    threading.Thread(target=lambda: (time.sleep(5), os.close(os.open(fifo, os.O_RDWR)))).start()
    start = time.monotonic()
    with pytest.raises(ht.CubeFormatError, match="named pipe"):
        read_manifest(fifo)
    assert time.monotonic() - start < 2.0


def test_a_row_naming_a_named_pipe_is_refused_at_once(folder):
    manifest = folder / "pipes.csv"
    manifest.write_text("cube,labels\ncube.hdr,pipe.npy\n")
    start = time.monotonic()
    with pytest.raises(ht.CubeFormatError, match="named pipe") as info:
        read_manifest(manifest)
    assert info.value.field == "labels" and time.monotonic() - start < 2.0


def test_a_manifest_beyond_the_budget_is_not_read(folder, monkeypatch):
    manifest = folder / "huge.csv"
    manifest.write_text("cube,labels\n" + "cube.hdr,labels.npy\n" * 5000)
    monkeypatch.setenv(BUDGET_VARIABLE, "64KiB")
    with pytest.raises(ht.CubeFormatError, match="memory budget"):
        read_manifest(manifest)


def test_a_cube_cell_without_a_stem(folder):
    manifest = folder / "dot.csv"
    manifest.write_text("cube,labels\n.,labels.npy\n")
    with pytest.raises(ht.HsiTumorError):
        read_manifest(manifest)


# -- fuzz ---------------------------------------------------------------------------------

CELLS = st.one_of(
    st.sampled_from(
        [
            "cube.hdr",
            "cube.img",
            "labels.hdr",
            "labels.npy",
            "fraction.npy",
            "wrong_shape.npy",
            "garbage.hdr",
            "garbage.png",
            "pipe.hdr",
            "pipe.npy",
            "sub",
            "sub/",
            ".",
            "..",
            "/",
            "/dev/zero",
            "missing.hdr",
            "~",
            "~nobody/x.hdr",
            "",
            " ",
            "P01",
            "a" * 300 + ".hdr",
            "sub/" + "b" * 256,
            "x\x00y",
            '"',
            '""',
            ",",
            ";",
            "\t",
            "\r",
            "\\",
            "NaN",
            "1e999",
        ]
    ),
    st.text(max_size=40),
    st.integers(1, 200_000).map(lambda n: '"' + "z" * n + '"'),
)
COLUMNS = ["cube", "labels", "patient", "name", "tumor_fraction", "tissue"]
GOOD = {
    "cube": "cube.hdr",
    "labels": "labels.npy",
    "patient": "P01",
    "name": "s1",
    "tumor_fraction": "fraction.npy",
    "tissue": "labels.hdr",
}
HEADERS = st.one_of(
    st.lists(st.sampled_from(COLUMNS[2:]), unique=True).flatmap(
        lambda optional: st.permutations(["cube", "labels", *optional])
    ),
    st.lists(st.sampled_from([*COLUMNS, "CUBE", "Labels", "x", ""]), max_size=7),
)
DELIMITERS = st.sampled_from([",", ",", ",", ";", "\t", "|"])


@st.composite
def manifests(draw) -> bytes:
    """A manifest: mostly a valid header and rows of good cells with a few bad ones."""
    delimiter = draw(DELIMITERS)
    header = draw(HEADERS)
    rows = []
    for _ in range(draw(st.integers(0, 4))):
        row = [GOOD.get(column.lower(), "") for column in header]
        for i in draw(st.lists(st.integers(0, max(0, len(header))), max_size=3)):
            cell = draw(CELLS)
            if i < len(row):
                row[i] = cell
            else:
                row.append(cell)
        rows.append(row)
    text = "\n".join(delimiter.join(row) for row in [header, *rows])
    data = text.encode("utf-8", "surrogatepass")
    if draw(st.booleans()):
        data = b"\xef\xbb\xbf" + data  # a byte-order mark, as Excel writes
    if draw(st.integers(0, 9)) == 0:
        data = draw(st.binary(max_size=200)) + data  # bytes that are not UTF-8
    return data


@settings(
    max_examples=FUZZ_EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(content=manifests())
def test_manifest_fuzz_raises_only_hsi_errors_within_the_budget(folder, content, monkeypatch):
    monkeypatch.setenv(BUDGET_VARIABLE, str(BUDGET))
    manifest = folder / "fuzz.csv"
    manifest.write_bytes(content)
    tracemalloc.start()
    try:
        specimens = read_manifest(manifest)
    except ht.HsiTumorError as exc:
        assert names_manifest_or_file(exc, manifest), str(exc)
        outcome = f"{type(exc).__name__},{exc.field}"
    except Exception as exc:
        raise AssertionError(f"{type(exc).__name__} escaped read_manifest: {exc}") from exc
    else:
        assert all(isinstance(s, ht.datasets.Specimen) for s in specimens)
        outcome = "read,"
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    assert peak < BUDGET, f"{peak / 2**20:.1f} MiB traced"
    report = os.environ.get("HSI_TUMOR_FUZZ_REPORT")
    if report:
        with open(report, "a", encoding="utf-8") as out:
            out.write(f"manifest,{outcome}\n")
