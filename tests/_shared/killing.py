"""Simulated deaths of a writing process, for the kill-at-every-step tests of atomic output.

A real ``SIGKILL`` stops a process between two system calls: nothing of it runs afterwards
(no ``except``, no ``finally``), and the kernel closes its files, which releases its locks.
:func:`dying_at` reproduces that inside the test process, deterministically: the k-th *step*
(a rename, an exchange of two folders, or a deletion: every call that changes which file a
name shows) raises :class:`Killed` instead of running, and so does every step after it, so the
clean-up code that runs while the exception unwinds cannot change the files either. Closing
file descriptors still works, as it does when the kernel cleans up after a dead process.
"""

from __future__ import annotations

import contextlib
import itertools
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import hsi_tumor._shared.atomic as atomic

#: The ``os`` functions that change which file a name shows (``shutil.rmtree`` and
#: ``pathlib`` call these): renames, then deletions.
RENAMES = ("replace", "rename")
STEPS = (*RENAMES, "unlink", "remove", "rmdir")


class Killed(BaseException):
    """The writing process died here (a BaseException: no ``except Exception`` catches it)."""


@contextlib.contextmanager
def dying_at(k: int, *, deletions: bool = True) -> Iterator[list[str]]:
    """Run the body as a process that dies at its k-th step (1-based); yields the steps taken.

    With ``deletions=False`` only renames and exchanges count as steps (deletions run unharmed
    until the death, and are blocked after it like everything else).
    """
    steps: list[str] = []
    dead = False

    def wrap(name: str, function: Callable) -> Callable:
        def step(*args, **kwargs):
            nonlocal dead
            if dead:
                raise Killed(f"{name} after the death")
            if not deletions and name not in (*RENAMES, "exchange"):
                return function(*args, **kwargs)
            steps.append(f"{name} {' '.join(os.fspath(a) for a in args[:2])}")
            if len(steps) == k:
                dead = True
                raise Killed(f"killed at step {k}: {steps[-1]}")
            return function(*args, **kwargs)

        return step

    originals = {name: getattr(os, name) for name in STEPS}
    exchange = getattr(atomic, "_exchange", None)
    try:
        for name, function in originals.items():
            setattr(os, name, wrap(name, function))
        atomic._exchange = wrap("exchange", exchange)
        yield steps
    finally:
        for name, function in originals.items():
            setattr(os, name, function)
        atomic._exchange = exchange


def kill_at_every_step(
    root: Path,
    *,
    before: Callable[[Path], None],
    write: Callable[[Path], None],
    check: Callable[[Path, int], None],
    deletions: bool = True,
    limit: int = 400,
) -> int:
    """For k = 1, 2, ...: in a fresh folder ``root/k<k>`` run ``before`` (unharmed), then
    ``write`` dying at step k (:func:`dying_at`), then ``check(folder, k)``; stop when
    ``write`` completes without dying. Returns the number of steps of a complete write."""
    for k in itertools.count(1):
        assert k < limit, "the write never completed"
        folder = root / f"k{k}"
        folder.mkdir(parents=True)
        before(folder)
        with dying_at(k, deletions=deletions) as steps:
            try:
                write(folder)
            except Killed:
                completed = False
            else:
                completed = True
        check(folder, k)
        if completed:
            assert len(steps) == k - 1
            return k - 1
    raise AssertionError("unreachable")


def hidden(folder: Path) -> list[str]:
    """Names in ``folder`` that start with a dot (temporaries, leftovers)."""
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))
