"""Killed writes (issue 18): a reader sees the whole old output, the whole new one, or (for a new
destination) nothing, whatever step the writing process dies at; the next write succeeds and
removes what the dead one left.

Each multi-file writer is killed at every step it takes (every rename, folder exchange and
deletion, :mod:`tests._shared.killing`); a real ``SIGKILL`` of a writing subprocess at chosen
moments checks the same thing without any simulation (slow).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

import hsi_tumor as ht
from hsi_tumor._shared import atomic
from hsi_tumor.inference import TumorMap, write_tumor_map
from hsi_tumor.io import read_labels, write_labels
from tests._shared.killing import hidden, kill_at_every_step

OLD, NEW, NOTHING = "old", "new", "nothing"


def _cube(seed: int, wavelengths: np.ndarray, shape=(5, 4, 3)) -> ht.Cube:
    data = np.random.default_rng(seed).random(shape).astype(np.float32)
    return ht.Cube(data, wavelengths, {"description": f"version {seed}"})


# the finding's case: same shape and type, so old header + new data would read "fine"
CUBES = {
    OLD: _cube(1, np.array([900.0, 1000.0, 1100.0])),
    NEW: _cube(2, np.array([1500.0, 1600.0, 1700.0])),
}


def _version(observed: dict[str, np.ndarray], versions: dict[str, dict[str, np.ndarray]]) -> str:
    """Which version ``observed`` is, entirely; an AssertionError for a mix."""
    for name, want in versions.items():
        if observed.keys() == want.keys() and all(_same(observed[k], want[k]) for k in want):
            return name
    raise AssertionError(f"a mix of versions: {observed}")


def _same(a, b) -> bool:
    a, b = np.asarray(a), np.asarray(b)
    return np.array_equal(a, b, equal_nan=a.dtype.kind == "f" and b.dtype.kind == "f")


def _cube_parts(cube: ht.Cube) -> dict[str, np.ndarray]:
    return {"data": np.asarray(cube.load().data), "wavelengths": np.asarray(cube.wavelengths)}


@dataclass
class Case:
    """One writer: its destination, how to write each version, how to read what is there."""

    name: str
    target: str
    write: object  # (version, folder, overwrite) -> None
    read: object  # folder -> version name (OLD, NEW or NOTHING); raises on a mix
    listing: list[str]  # what the folder holds once written, and nothing else


def _write_cube(suffix):
    def write(version, folder, overwrite):
        ht.write_cube(CUBES[version], folder / f"c{suffix}", overwrite=overwrite)

    return write


def _read_envi(folder: Path) -> str:
    seen = set()
    for path in (folder / "c.hdr", folder / "c.img"):  # both ways in: the header, the data
        try:
            cube = ht.read_cube(path)
        except ht.MissingFileError:
            seen.add(NOTHING)
            continue
        seen.add(_version(_cube_parts(cube), {v: _cube_parts(c) for v, c in CUBES.items()}))
    assert seen in ({OLD}, {NEW}, {NOTHING}, {NOTHING, NEW}), seen
    return NEW if NEW in seen else seen.pop()


def _read_hdf5(folder: Path) -> str:
    try:
        cube = ht.read_cube(folder / "c.h5")
    except ht.MissingFileError:
        return NOTHING
    return _version(_cube_parts(cube), {v: _cube_parts(c) for v, c in CUBES.items()})


LABELS = {
    OLD: (np.array([[0, 1, 2], [2, 1, 0]], np.uint8), {1: "normal", 2: "tumor"}),
    NEW: (np.array([[3, 3, 1], [0, 2, 3]], np.uint8), {1: "normal", 2: "fat", 3: "blood"}),
}


def _write_labels(version, folder, overwrite):
    labels, names = LABELS[version]
    write_labels(labels, folder / "m.hdr", class_names=names, overwrite=overwrite)


def _read_labels(folder: Path) -> str:
    versions = {
        v: {"labels": lab, "names": np.array(sorted(n.items()))} for v, (lab, n) in LABELS.items()
    }
    seen = set()
    for path in (folder / "m.hdr", folder / "m.img"):
        try:
            labels, names = read_labels(path, return_class_names=True)
        except ht.MissingFileError:
            seen.add(NOTHING)
            continue
        observed = {"labels": labels, "names": np.array(sorted(names.items()))}
        seen.add(_version(observed, versions))
    assert seen in ({OLD}, {NEW}, {NOTHING}, {NOTHING, NEW}), seen
    return NEW if NEW in seen else seen.pop()


def _capture(version: str) -> dict[str, ht.Cube]:
    seed = {OLD: 10, NEW: 20}[version]
    wl = np.linspace(950.0, 1700.0, 4) + (0.0 if version == OLD else 5.0)
    rng = np.random.default_rng(seed)
    return {
        key: ht.Cube(rng.integers(0, 4095, (rows, 3, 4), dtype=np.uint16), wl)
        for key, rows in (("raw", 6), ("white", 2), ("dark", 2))
    }


def _write_capture(version, folder, overwrite):
    parts = _capture(version)
    ht.write_capture(
        parts["raw"], folder / "cap", parts["white"], parts["dark"], overwrite=overwrite
    )


def _read_capture(folder: Path) -> str:
    try:
        capture = ht.read_capture(folder / "cap")
    except ht.MissingFileError:
        return NOTHING

    def parts(cubes):
        return {key: np.asarray(cube.load().data) for key, cube in cubes.items()} | {
            "wavelengths": np.asarray(cubes["raw"].wavelengths)
        }

    got = {"raw": capture.raw, "white": capture.white, "dark": capture.dark}
    return _version(parts(got), {v: parts(_capture(v)) for v in (OLD, NEW)})


def _tumor_map(version: str) -> TumorMap:
    rng = np.random.default_rng({OLD: 3, NEW: 4}[version])
    tumor = rng.random((4, 5)).astype(np.float32)
    probabilities = np.stack([1 - tumor, tumor], axis=2)
    labels = np.where(tumor > 0.5, 2, 1).astype(np.uint8)
    valid = np.ones((4, 5), bool)
    return TumorMap(labels, probabilities, np.array([1, 2]), {1: "normal", 2: "tumor"}, valid)


def _write_map(version, folder, overwrite):
    write_tumor_map(_tumor_map(version), folder / "map", overwrite=overwrite)


MAP_FILES = [
    "classes.png",
    "labels.hdr",
    "labels.img",
    "probabilities.hdr",
    "probabilities.img",
    "summary.json",
    "tumor_probability.hdr",
    "tumor_probability.img",
    "tumor_probability.png",
]


def _read_map(folder: Path) -> str:
    out = folder / "map"
    if not out.exists():
        return NOTHING
    assert sorted(p.name for p in out.iterdir()) == MAP_FILES  # whole, nothing half-written
    summary = json.loads((out / "summary.json").read_text())
    got = {
        "labels": read_labels(out / "labels.hdr"),
        "probabilities": ht.read_cube(out / "probabilities.hdr").load().data,
        "counts": np.array(sorted(summary["counts"].items())),
    }

    def want(version):
        tm = _tumor_map(version)
        return {
            "labels": tm.labels,
            "probabilities": tm.probabilities,
            "counts": np.array(sorted(tm.counts().items())),
        }

    return _version(got, {v: want(v) for v in (OLD, NEW)})


CASES = [
    Case("envi", "c", _write_cube(".hdr"), _read_envi, ["c.hdr", "c.img"]),
    Case("hdf5", "c", _write_cube(".h5"), _read_hdf5, ["c.h5"]),
    Case("labels", "m", _write_labels, _read_labels, ["m.hdr", "m.img"]),
    Case("capture", "cap", _write_capture, _read_capture, ["cap"]),
    Case("tumor_map", "map", _write_map, _read_map, ["map"]),
]


def _kill_everywhere(tmp_path, case, overwrite, *, deletions):
    template = tmp_path / "template"
    template.mkdir()
    if overwrite:
        case.write(OLD, template, False)

    def check(folder, k):
        seen = case.read(folder)
        assert seen in ((OLD, NEW) if overwrite else (NOTHING, NEW)), (k, seen)
        # the next write to the destination succeeds and removes what the dead one left
        try:
            case.write(NEW, folder, overwrite)
        except ht.OutputExistsError:
            assert not overwrite and seen == NEW, k  # the killed write had committed
        assert case.read(folder) == NEW, k
        assert sorted(p.name for p in folder.iterdir()) == case.listing, k

    steps = kill_at_every_step(
        tmp_path / "runs",
        before=lambda folder: shutil.copytree(template, folder, dirs_exist_ok=True),
        write=lambda folder: case.write(NEW, folder, overwrite),
        check=check,
        deletions=deletions,
    )
    assert steps >= (2 if case.listing[0].endswith(".hdr") else 1)


@pytest.mark.parametrize("overwrite", [True, False], ids=["overwrite", "new"])
@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_killed_at_every_rename(tmp_path, case, overwrite):
    """Killed at each rename (or exchange of folders), the nested ones inside a folder's
    staging folder included."""
    _kill_everywhere(tmp_path, case, overwrite, deletions=False)


@pytest.mark.slow
@pytest.mark.parametrize("overwrite", [True, False], ids=["overwrite", "new"])
@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_killed_at_every_step(tmp_path, case, overwrite):
    """Killed at each rename and each deletion (a kill while a staging folder is deleted)."""
    _kill_everywhere(tmp_path, case, overwrite, deletions=True)


# -- a real SIGKILL ------------------------------------------------------------------------------

ROOT = Path(__file__).resolve().parents[2]

#: A writer that stops at a chosen moment, says so, and waits there to be killed.
_CHILD = textwrap.dedent(
    """
    import os, sys
    import numpy as np
    import hsi_tumor as ht
    from hsi_tumor._shared import atomic
    from hsi_tumor.inference import write_tumor_map

    what, folder, stop = sys.argv[1], sys.argv[2], sys.argv[3]
    count = 0

    def halt(description):
        print("AT", description, flush=True)
        sys.stdin.readline()  # killed here

    def counting(function, name):
        def step(*args):
            global count
            count += 1
            if stop == f"rename {count}":
                halt(f"{name} {args}")
            return function(*args)
        return step

    os.replace = counting(os.replace, "replace")
    atomic._exchange = counting(atomic._exchange, "exchange")
    tiles = ht.Cube.tiles

    def tiles_then_halt(self, tile_rows=None):
        for i, item in enumerate(tiles(self, tile_rows=64)):
            if i == 2 and stop == "mid-data":
                halt("in the middle of the data")
            yield item

    ht.Cube.tiles = tiles_then_halt
    if what == "envi":
        rng = np.random.default_rng(2)
        cube = ht.Cube(rng.random((512, 64, 32)).astype(np.float32), np.linspace(1500, 1700, 32))
        ht.write_cube(cube, os.path.join(folder, "c.hdr"), overwrite=True)
    else:
        from tests._shared.test_atomic_kills import NEW, _tumor_map
        write_tumor_map(_tumor_map(NEW), os.path.join(folder, "map"), overwrite=True)
    print("DONE", flush=True)
    """
)


def _killed_child(what: str, folder: Path, stop: str) -> str:
    """Run the writer in a subprocess, SIGKILL it where it stops; what it said at the end."""
    child = subprocess.Popen(
        [sys.executable, "-c", _CHILD, what, os.fspath(folder), stop],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": os.fspath(ROOT)},
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        line = child.stdout.readline()
        child.send_signal(signal.SIGKILL)
        assert child.wait(timeout=60) == -signal.SIGKILL
    finally:
        if child.poll() is None:
            child.kill()
        child.stdin.close()
        child.stdout.close()
    return line


@pytest.mark.slow
@pytest.mark.parametrize(
    ("what", "stop"),
    [
        ("envi", "mid-data"),
        ("envi", "rename 1"),  # before the data file's rename: the old version
        ("envi", "rename 2"),  # between the data file's rename and the header's: the new one
        ("map", "rename 1"),  # inside the staging folder: the old version
        ("map", "rename 9"),  # the exchange of the folders: the old version, then the new one
    ],
)
def test_a_real_sigkill(tmp_path, what, stop):
    rng = np.random.default_rng(2)
    new_cube = ht.Cube(rng.random((512, 64, 32)).astype(np.float32), np.linspace(1500, 1700, 32))
    old_cube = ht.Cube(np.zeros((512, 64, 32), np.float32), np.linspace(900, 1100, 32))
    if what == "envi":
        ht.write_cube(old_cube, tmp_path / "c.hdr")
    else:
        _write_map(OLD, tmp_path, False)
    said = _killed_child(what, tmp_path, stop)
    assert said.startswith("AT"), said
    assert ("exchange" in said) == (what == "map" and stop == "rename 9"), said
    assert hidden(tmp_path), "a killed write leaves its staging folder"
    if what == "envi":
        back = ht.read_cube(tmp_path / "c.hdr")
        want = new_cube if stop == "rename 2" else old_cube
        np.testing.assert_array_equal(back.wavelengths, want.wavelengths)
        np.testing.assert_array_equal(back.load().data, want.data)
        ht.write_cube(new_cube, tmp_path / "c.hdr", overwrite=True)  # the rerun
        assert sorted(os.listdir(tmp_path)) == ["c.hdr", "c.img"]
        np.testing.assert_array_equal(ht.read_cube(tmp_path / "c.hdr").load().data, new_cube.data)
    else:
        assert _read_map(tmp_path) == OLD
        _write_map(NEW, tmp_path, True)  # the rerun
        assert sorted(os.listdir(tmp_path)) == ["map"]
        assert _read_map(tmp_path) == NEW


FOLDER_CASES = [c for c in CASES if c.name in ("capture", "tumor_map")]


@pytest.mark.parametrize("case", FOLDER_CASES, ids=[c.name for c in FOLDER_CASES])
def test_folders_replaced_without_an_exchange(tmp_path, case, monkeypatch):
    """Where folders cannot be exchanged in one step (NFS, SMB), replacing one is two renames:
    a kill between them, and only there, shows nothing under the name; remove_stale (run by
    the next write and by classify_many) then moves the complete new folder in."""
    monkeypatch.setattr(atomic, "_exchange", lambda a, b: False)
    template = tmp_path / "template"
    template.mkdir()
    case.write(OLD, template, False)
    gaps = []

    def check(folder, k):
        seen = case.read(folder)
        if seen == NOTHING:
            gaps.append(k)
            atomic.remove_stale(folder / case.target)
            assert case.read(folder) == NEW, k
        else:
            assert seen in (OLD, NEW), (k, seen)
        case.write(NEW, folder, True)
        assert case.read(folder) == NEW, k
        assert sorted(p.name for p in folder.iterdir()) == case.listing, k

    steps = kill_at_every_step(
        tmp_path / "runs",
        before=lambda folder: shutil.copytree(template, folder, dirs_exist_ok=True),
        write=lambda folder: case.write(NEW, folder, True),
        check=check,
        deletions=False,
    )
    assert gaps == [steps]  # killed before the last rename: the new folder not yet moved in
