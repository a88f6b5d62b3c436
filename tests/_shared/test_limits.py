"""The memory budget, regular files only, and short echoes of what a file holds (issue 18)."""

from __future__ import annotations

import os
import socket

import pytest

import hsi_tumor as ht
from hsi_tumor._shared import limits
from hsi_tumor._shared.limits import (
    BUDGET_VARIABLE,
    check_budget,
    check_inflation,
    check_regular_file,
    memory_budget,
    shorten,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1000", 1000),
        ("512MiB", 512 * 2**20),
        ("8 GiB", 8 * 2**30),
        ("16GB", 16 * 10**9),
        ("2g", 2 * 2**30),
        ("1.5 KiB", 1536),
        (" 64 mib ", 64 * 2**20),
    ],
)
def test_budget_from_the_environment(monkeypatch, text, expected):
    monkeypatch.setenv(BUDGET_VARIABLE, text)
    assert memory_budget() == expected


@pytest.mark.parametrize("text", ["lots", "-5", "0", "4 parsecs", "0.1"])
def test_a_budget_that_is_not_an_amount_names_the_variable(monkeypatch, text):
    monkeypatch.setenv(BUDGET_VARIABLE, text)
    with pytest.raises(ht.InvalidOptionError, match=BUDGET_VARIABLE) as info:
        memory_budget()
    assert info.value.field == BUDGET_VARIABLE and "Fix:" in str(info.value)


def test_default_budget_is_4_gib_or_a_quarter_of_memory(monkeypatch):
    monkeypatch.delenv(BUDGET_VARIABLE, raising=False)
    monkeypatch.setattr(limits, "_physical_memory", lambda: 64 * 2**30)
    assert memory_budget() == 4 * 2**30
    monkeypatch.setattr(limits, "_physical_memory", lambda: 8 * 2**30)
    assert memory_budget() == 2 * 2**30
    monkeypatch.setattr(limits, "_physical_memory", lambda: None)
    assert memory_budget() == 4 * 2**30


def test_check_budget_names_the_sizes_and_the_variable(monkeypatch, tmp_path):
    monkeypatch.setenv(BUDGET_VARIABLE, "1MiB")
    check_budget(2**20, "a map")  # at the budget: fine
    with pytest.raises(ht.CubeFormatError) as info:
        check_budget(2**20 + 1, "a map", file=tmp_path / "m.npy", field="array")
    message = str(info.value)
    assert "1 MiB" in message and BUDGET_VARIABLE in message and "m.npy" in message
    assert info.value.field == "array"


def test_check_inflation_refuses_bombs_not_small_or_modest_data():
    check_inflation(200 * 2**20, 1000, "small")  # below the floor: any ratio
    check_inflation(10 * 2**30, 2**30, "modest")  # 10:1
    with pytest.raises(ht.CubeFormatError, match="more than 100 times"):
        check_inflation(3800 * 10**6, 4 * 10**6, "a bomb")


def test_fifo_device_socket_and_folder_are_refused_without_opening(tmp_path):
    fifo = tmp_path / "pipe.hdr"
    os.mkfifo(fifo)  # opening it for reading would block until a writer came
    with pytest.raises(ht.CubeFormatError, match="named pipe") as info:
        check_regular_file(fifo)
    assert info.value.field == "path" and "Fix:" in str(info.value)
    with pytest.raises(ht.CubeFormatError, match="character device"):
        check_regular_file("/dev/zero")
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(os.fspath(tmp_path / "s"))
        with pytest.raises(ht.CubeFormatError, match="socket"):
            check_regular_file(tmp_path / "s")
    with pytest.raises(ht.CubeFormatError, match="a folder"):
        check_regular_file(tmp_path)
    assert check_regular_file(tmp_path, folder_ok=True) == tmp_path


@pytest.mark.parametrize("name", ["x" * 300, "a\0b"])
def test_paths_that_cannot_exist_are_missing_file_errors(tmp_path, name):
    with pytest.raises(ht.MissingFileError, match="cannot be opened") as info:
        check_regular_file(tmp_path / name)
    assert len(str(info.value)) < 600


def test_shorten_keeps_both_ends_within_the_limit():
    assert shorten("short") == "short"
    long = "1" + "9" * 4998 + "2"
    text = shorten(long, 80)
    assert len(text) <= 80 and text.startswith("19") and text.endswith("(5000 characters)")


def test_read_zip_member_stops_past_the_budget(tmp_path):
    import zipfile

    from hsi_tumor._shared.limits import read_zip_member

    path = tmp_path / "a.zip"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("m", b"x" * 1000)
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo("m")
        assert read_zip_member(archive, info, 1000, chunk=64) == b"x" * 1000
        assert read_zip_member(archive, info, 999, chunk=64) is None
