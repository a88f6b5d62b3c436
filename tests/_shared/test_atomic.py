"""Atomic outputs: complete or absent, never partial."""

from __future__ import annotations

import pytest

import hsi_tumor as ht
from hsi_tumor._shared.atomic import atomic_directory, atomic_path


def test_atomic_path_success_and_failure(tmp_path):
    target = tmp_path / "out.bin"
    with atomic_path(target) as tmp:
        tmp.write_bytes(b"complete")
        assert not target.exists()
    assert target.read_bytes() == b"complete"
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_bytes(b"half")
        raise RuntimeError
    assert target.read_bytes() == b"complete"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.bin"]


def test_atomic_directory(tmp_path):
    target = tmp_path / "folder"
    with atomic_directory(target) as tmp:
        (tmp / "a").write_text("1")
    assert (target / "a").read_text() == "1"
    with pytest.raises(ht.OutputExistsError):
        with atomic_directory(target):
            pass
    with pytest.raises(KeyboardInterrupt), atomic_directory(target, overwrite=True) as tmp:
        (tmp / "b").write_text("2")
        raise KeyboardInterrupt
    assert sorted(p.name for p in target.iterdir()) == ["a"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["folder"]
    with atomic_directory(target, overwrite=True) as tmp:
        (tmp / "b").write_text("2")
    assert sorted(p.name for p in target.iterdir()) == ["b"]


def test_outputs_get_the_permissions_of_a_plain_open(tmp_path):
    """tempfile makes private files (0600); outputs must be readable as a plain open's are."""
    import os
    import stat

    with open(tmp_path / "plain", "w"):
        pass
    with atomic_path(tmp_path / "atomic") as tmp:
        tmp.write_text("x")
    with atomic_directory(tmp_path / "folder") as tmp:
        (tmp / "f").write_text("x")
    os.mkdir(tmp_path / "plain_folder")
    mode = lambda p: stat.S_IMODE(os.stat(p).st_mode)  # noqa: E731
    assert mode(tmp_path / "atomic") == mode(tmp_path / "plain")
    assert mode(tmp_path / "folder") == mode(tmp_path / "plain_folder")
