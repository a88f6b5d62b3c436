"""Atomic outputs: complete or absent, never partial."""

from __future__ import annotations

import pytest

import hsi_tumor as ht
from hsi_tumor._shared.atomic import (
    atomic_directory,
    atomic_files,
    atomic_path,
    refuse_overwrite,
    remove_stale,
)


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


# -- staging folders, locks and leftovers (issue 18) -------------------------------------------


def _staging(folder):
    return [p for p in folder.iterdir() if p.name.endswith(".partial")]


def test_a_write_is_staged_in_a_locked_hidden_folder(tmp_path):
    import fcntl
    import os
    import re

    target = tmp_path / "out.bin"
    with atomic_path(target) as tmp:
        (stage,) = _staging(tmp_path)
        assert re.fullmatch(r"\.out\.bin\.[a-z0-9_]{8}\.partial", stage.name)
        assert tmp == stage / "new" / "out.bin" and tmp.is_file()
        with open(stage / "lock", "rb") as other:  # another open file: the lock is taken
            with pytest.raises(BlockingIOError):
                fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)
        assert remove_stale(target) == [] and stage.is_dir()  # a live write is never touched
        tmp.write_bytes(b"x")
    assert os.listdir(tmp_path) == ["out.bin"]


def _dead_staging(folder, name, *, lock=True, tag="dead_123"):
    """What a killed write leaves: its staging folder with a lock file nobody holds."""
    stage = folder / f".{name}.{tag}.partial"
    (stage / "new").mkdir(parents=True)
    (stage / "new" / name).write_bytes(b"half")
    if lock:
        (stage / "lock").touch()
    return stage


def test_remove_stale_deletes_only_the_leftovers_of_dead_writes(tmp_path):
    import os
    import time

    target = tmp_path / "c.hdr"
    target.write_text("the destination")
    dead = _dead_staging(tmp_path, "c.hdr")
    young = _dead_staging(tmp_path, "c.hdr", lock=False, tag="young_12")  # being made now
    old = _dead_staging(tmp_path, "c.hdr", lock=False, tag="old_1234")
    old_file = tmp_path / ".c.hdr.f1le_123.partial"  # an earlier version's temporary file
    old_file.write_bytes(b"half")
    for path in (old, old_file):
        os.utime(path, (time.time() - 120,) * 2)
    kept = [
        ".c.hdr.notes",  # not a temporary name
        "c.hdr.partial",
        ".c.hdr.abc.partial",  # not 8 characters
        ".c.hdr.ABCDEFGH.partial",  # not tempfile's characters
        ".other.dead_123.partial",  # another destination's
    ]
    for name in kept:
        (tmp_path / name).write_text("a user's file")
    (tmp_path / ".c.hdr.link_123.partial").symlink_to(tmp_path / ".c.hdr.notes")
    removed = remove_stale(target)
    assert sorted(p.name for p in removed) == sorted([dead.name, old.name, old_file.name])
    left = sorted(os.listdir(tmp_path))
    assert left == sorted(["c.hdr", young.name, ".c.hdr.link_123.partial", *kept])
    assert target.read_text() == "the destination"


def test_a_lock_held_by_another_process_protects_until_it_dies(tmp_path):
    """The real thing: another process holds the lock (its write is under way); once that
    process is killed, the kernel has released the lock and the folder is stale."""
    import signal
    import subprocess
    import sys

    stage = _dead_staging(tmp_path, "map")
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import fcntl, sys, time\n"
            f"f = open({str(stage / 'lock')!r}, 'r+')\n"
            "fcntl.flock(f, fcntl.LOCK_EX)\nprint('locked', flush=True)\ntime.sleep(60)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        assert remove_stale(tmp_path / "map") == [] and stage.is_dir()
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    assert remove_stale(tmp_path / "map") == [stage] and not stage.exists()


def test_every_write_first_removes_leftovers_even_when_refused(tmp_path):
    (tmp_path / "out.bin").write_bytes(b"old")
    dead = _dead_staging(tmp_path, "out.bin")
    with pytest.raises(ht.OutputExistsError):
        refuse_overwrite(tmp_path / "out.bin", overwrite=False)
    assert not dead.exists()
    dead = _dead_staging(tmp_path, "out.bin")
    with atomic_path(tmp_path / "out.bin") as tmp:
        tmp.write_bytes(b"new")
    assert not dead.exists() and (tmp_path / "out.bin").read_bytes() == b"new"
    dead = _dead_staging(tmp_path, "folder")
    with pytest.raises(ht.OutputExistsError):  # the folder exists as a file here
        with atomic_directory(tmp_path / "out.bin"):
            pass
    with atomic_directory(tmp_path / "folder"):
        pass
    assert not dead.exists()


def test_files_written_together_must_share_a_folder(tmp_path):
    (tmp_path / "a").mkdir()
    with pytest.raises(ht.InvalidOptionError, match="one folder"):
        with atomic_files(tmp_path / "x.img", tmp_path / "a" / "x.hdr"):
            pass
    with pytest.raises(ht.InvalidOptionError, match="one folder"):
        with atomic_files(tmp_path / "x.img", tmp_path / "x.img"):
            pass
    with atomic_files(tmp_path / "x.img", tmp_path / "x.hdr") as (data, header):
        data.write_bytes(b"data")
        header.write_bytes(b"header")
    assert (tmp_path / "x.img").read_bytes() == b"data"
    assert (tmp_path / "x.hdr").read_bytes() == b"header"


def test_exchange_swaps_two_folders_in_one_step(tmp_path):
    import sys

    from hsi_tumor._shared.atomic import _exchange

    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "1").touch()
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "2").touch()
    if not _exchange(tmp_path / "a", tmp_path / "b"):
        assert not sys.platform.startswith("linux"), "renameat2(RENAME_EXCHANGE) failed"
        pytest.skip("no atomic exchange on this system or file system")
    assert [p.name for p in (tmp_path / "a").iterdir()] == ["2"]
    assert [p.name for p in (tmp_path / "b").iterdir()] == ["1"]


def test_a_folder_is_replaced_by_one_exchange(tmp_path, monkeypatch):
    from hsi_tumor._shared import atomic

    target = tmp_path / "folder"
    with atomic_directory(target) as tmp:
        (tmp / "old").write_text("1")
    calls = []
    real = atomic._exchange

    def spy(a, b):
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(atomic, "_exchange", spy)
    with atomic_directory(target, overwrite=True) as tmp:
        (tmp / "new").write_text("2")
    assert len(calls) == 1 and calls[0][1] == target
    assert [p.name for p in target.iterdir()] == ["new"]
    assert [p.name for p in tmp_path.iterdir()] == ["folder"]


def test_a_replacement_without_exchange_killed_between_its_renames_is_completed(
    tmp_path, monkeypatch
):
    """Where folders cannot be exchanged (NFS, SMB), a kill between the two renames leaves no
    folder under the name; the next write or remove_stale completes the swap."""
    from hsi_tumor._shared import atomic
    from tests._shared.killing import Killed, dying_at

    monkeypatch.setattr(atomic, "_exchange", lambda a, b: False)
    target = tmp_path / "folder"

    def write(text):
        with atomic_directory(target, overwrite=True) as tmp:
            (tmp / "file").write_text(text)

    write("old")
    with dying_at(10**6, deletions=False) as steps:
        write("new")
    assert [s.split()[0] for s in steps] == ["exchange", "replace", "replace"]
    with dying_at(3, deletions=False), pytest.raises(Killed):
        write("newer")  # killed between moving the old folder out and the new one in
    assert not target.exists()
    assert remove_stale(target)
    assert (target / "file").read_text() == "newer"  # the new version was whole: moved in
    assert [p.name for p in tmp_path.iterdir()] == ["folder"]
