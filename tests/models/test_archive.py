"""The zip container of model files: damaged members, zip bombs outside and inside the
pipeline, odd archives. Every case is a ModelFileError, raised before anything is inflated
past its budget."""

from __future__ import annotations

import io
import json
import tracemalloc
import zipfile
import zlib
from contextlib import nullcontext

import numpy as np
import pytest

import hsi_tumor as ht
from hsi_tumor.models import _archive
from tests.models.files import (
    INTEGRITY,
    META,
    PIPELINE,
    declare_size,
    fitted_model,
    members,
    write,
    zip_bytes,
)


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    return ht.save_model(fitted_model("svm"), tmp_path_factory.mktemp("a") / "m.htmodel")


def load_peak(path, **options) -> tuple[BaseException, int]:
    """The error ``load_model`` raises and its peak of traced memory (bytes)."""
    tracemalloc.start()
    try:
        with pytest.raises(ht.ModelFileError) as info:
            ht.load_model(path, **options)
        return info.value, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def _data_offsets(path, name: str) -> tuple[int, int]:
    """Where ``name``'s compressed bytes start in the file, and how many there are."""
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo(name)
    raw = path.read_bytes()
    header = info.header_offset
    name_length, extra_length = np.frombuffer(raw[header + 26 : header + 30], "<u2")
    return header + 30 + int(name_length) + int(extra_length), info.compress_size


@pytest.mark.parametrize("name", [META, PIPELINE, INTEGRITY])
@pytest.mark.parametrize("where", [0.0, 0.1, 0.5, 0.9, 0.999])
def test_bit_flips_in_a_compressed_member(saved, tmp_path, name, where):
    """zlib.error ("invalid stored block lengths", ...) and CRC errors escaped before.

    A flip in the unused padding bits after a deflate stream's last block, or one that
    damages only what follows the member's declared size (zip readers stop there), changes
    no byte of the member (the CRC cannot see it, and nothing is damaged): the model then
    loads. Which bits those are depends on the compressed bytes, so both outcomes are
    checked.
    """
    start, size = _data_offsets(saved, name)
    raw = bytearray(saved.read_bytes())
    before = _inflate(bytes(raw[start : start + size]))
    raw[start + int(where * (size - 1))] ^= 0x5A
    bad = tmp_path / "bad.htmodel"
    bad.write_bytes(bytes(raw))
    if _inflate(bytes(raw[start : start + size]), len(before)) == before:
        assert ht.load_model(bad).wavelengths is not None
        return
    with pytest.raises(ht.ModelFileError, match=r"bad\.htmodel.*Fix: "):
        ht.load_model(bad)


def _inflate(data: bytes, size: int = 0) -> bytes | None:
    """A raw deflate stream's content (its first ``size`` bytes, all where 0), or None where
    zlib rejects it before then."""
    try:
        return zlib.decompressobj(-zlib.MAX_WBITS).decompress(data, size)
    except zlib.error:
        return None


def test_a_member_declaring_more_than_its_budget_is_not_inflated(saved, tmp_path):
    """A 2 GB model.json (deflated to 2 MB) passed 6 GiB of memory; it is refused from its
    declared size, before one byte is inflated."""
    files = members(saved)
    bomb = write(tmp_path / "bomb.htmodel", files)
    raw = declare_size(bomb.read_bytes(), META, 2 * 10**9)
    bomb.write_bytes(raw)
    error, peak = load_peak(bomb)
    assert "declares 2000000000 bytes" in str(error) and "model.json" in str(error)
    assert peak < 4 << 20


def test_a_member_inflating_past_its_declared_size_is_cut_there(saved, tmp_path):
    """The declared size is not trusted alone: reading stops there (then the CRC fails)."""
    files = members(saved)
    files[META] = files[META] + b" " * (64 << 20)  # 64 MB of padding deflates to 64 KB
    bomb = write(tmp_path / "bomb.htmodel", files, reseal=False)
    bomb.write_bytes(declare_size(bomb.read_bytes(), META, 1000))
    error, peak = load_peak(bomb)
    assert "Bad CRC-32 for file 'model.json'" in str(error)
    assert peak < 8 << 20


def test_reading_stops_at_the_budget(saved):
    with zipfile.ZipFile(saved) as archive:
        info = archive.getinfo(PIPELINE)
        with pytest.raises(ht.ModelFileError, match="inflates to more than the 100 bytes"):
            _archive._read_bounded(archive, info, 100, saved)


def test_budgets_bound_honest_bombs(saved, tmp_path, monkeypatch):
    monkeypatch.setitem(_archive.MEMBER_BUDGETS, PIPELINE, 1 << 20)
    files = members(saved)
    files[PIPELINE] = bytes(4 << 20)
    bomb = write(tmp_path / "bomb.htmodel", files)
    error, peak = load_peak(bomb)
    assert "more than the 1048576 allowed" in str(error)
    assert peak < 2 << 20


def _with_inner(saved, tmp_path, change, *, deflate=False):
    """The model file with pipeline.skops's members changed by ``change(dict)``, resealed."""
    files = members(saved)
    with zipfile.ZipFile(io.BytesIO(files[PIPELINE])) as inner:
        inner_files = {name: inner.read(name) for name in inner.namelist()}
    change(inner_files)
    files[PIPELINE] = zip_bytes(inner_files, deflate=deflate)
    return write(tmp_path / "inner.htmodel", files)


def test_a_zip_bomb_inside_the_pipeline(saved, tmp_path, monkeypatch):
    monkeypatch.setitem(_archive.MEMBER_BUDGETS, PIPELINE, 4 << 20)

    def bomb(inner):
        inner["padding.npy"] = bytes(16 << 20)

    path = _with_inner(saved, tmp_path, bomb, deflate=True)
    error, peak = load_peak(path)
    assert "pipeline.skops" in str(error) and "allowed" in str(error)
    assert peak < 4 << 20


def test_an_array_header_that_promises_more_than_is_stored(saved, tmp_path):
    """np.load would allocate the declared shape first (8 GB here), then fail."""

    def lie(inner):
        name = next(n for n in inner if n.endswith(".npy"))
        buffer = io.BytesIO()
        np.lib.format.write_array_header_1_0(
            buffer, {"descr": "<f8", "fortran_order": False, "shape": (10**9,)}
        )
        inner[name] = buffer.getvalue() + bytes(8)

    error, peak = load_peak(_with_inner(saved, tmp_path, lie))
    assert "header does not match its size" in str(error)
    assert peak < 8 << 20


def test_a_schema_reading_one_array_many_times(saved, tmp_path, monkeypatch):
    """skops reads an array once per node that names it: 10,000 names of one array."""
    monkeypatch.setitem(_archive.MEMBER_BUDGETS, PIPELINE, 8 << 20)

    def repeat(inner):
        schema = json.loads(inner["schema.json"])
        name = max((n for n in inner if n.endswith(".npy")), key=lambda n: len(inner[n]))
        node = {"__class__": "ndarray", "__module__": "numpy", "__loader__": "NdArrayNode"}
        schema["extra"] = [{**node, "type": "numpy", "file": name} for _ in range(10_000)]
        inner["schema.json"] = json.dumps(schema).encode()

    error, _ = load_peak(_with_inner(saved, tmp_path, repeat))
    assert "would read" in str(error)


@pytest.mark.parametrize(
    "odd",
    ["duplicate", "extra", "encrypted", "bzip2", "missing", "empty", "directory"],
)
def test_odd_archives(saved, tmp_path, odd):
    files = members(saved)
    path = tmp_path / f"{odd}.htmodel"
    if odd in ("duplicate", "extra", "missing", "directory"):
        extra = {"duplicate": META, "extra": "run.py", "missing": None, "directory": "d/"}[odd]
        with zipfile.ZipFile(path, "w") as archive:
            for name, data in files.items():
                if odd != "missing" or name != PIPELINE:
                    archive.writestr(name, data)
            if extra:
                with pytest.warns(UserWarning) if odd == "duplicate" else nullcontext():
                    archive.writestr(extra, b"{}")
    elif odd == "encrypted":
        write(path, files, reseal=False)
        raw = bytearray(path.read_bytes())
        at = raw.find(b"PK\x01\x02")
        raw[at + 8] |= 0x1  # the central directory's "encrypted" flag
        path.write_bytes(bytes(raw))
    elif odd == "bzip2":
        with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_BZIP2) as archive:
            for name, data in files.items():
                archive.writestr(name, data)
    else:
        path.write_bytes(b"")
    with pytest.raises(ht.ModelFileError, match=rf"{odd}\.htmodel.*Fix: "):
        ht.load_model(path)


@pytest.mark.slow
@pytest.mark.parametrize("name", [META, PIPELINE])
def test_two_gigabyte_bombs_of_the_issue(saved, tmp_path, name):
    """The issue's bombs, deflated for real: 2 GB of one byte in a member."""
    files = members(saved)
    path = tmp_path / "bomb.htmodel"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=6) as archive:
        for member, data in files.items():
            if member != name:
                archive.writestr(member, data)
        with archive.open(name, "w", force_zip64=True) as out:
            block = bytes(64 << 20)
            for _ in range(32):
                out.write(block)
    assert path.stat().st_size < 4 << 20
    error, peak = load_peak(path)
    assert "declares 2147483648 bytes" in str(error)
    assert peak < 4 << 20
