"""Atomic output: what a write makes visible is whole, even when the writing process is killed.

Staging
-------
Every write is staged in a hidden folder beside its destination, ``.NAME.xxxxxxxx.partial``
(``NAME`` the destination's name, ``xxxxxxxx`` eight random characters), which holds

- ``lock``: a file on which the writing process holds an exclusive ``flock`` until it is done;
  the kernel releases it when the process ends, however it ends (``SIGKILL`` included);
- ``new/``: the output, under its final name(s);
- ``old/``: only while a folder is being replaced without an atomic exchange (below).

Writers: ``write_cube`` (ENVI, HDF5), ``write_labels``, ``write_capture``, ``write_tumor_map``
(and so ``classify_to_folder`` and ``classify_many``), ``write_report``, ``save_figure``,
``save_rgb_png``, ``save_model``.

Commit
------
The staged output is made visible by renames within one folder (one file system):

- **one file** (:func:`atomic_path`): one rename;
- **a folder** (:func:`atomic_directory`): a new folder appears by one rename; an existing one
  (``overwrite=True``) is swapped with the new one by **one atomic exchange** (Linux
  ``renameat2(RENAME_EXCHANGE)``, macOS ``renamex_np(RENAME_SWAP)``), after which the old
  version lies in the staging folder and is deleted with it. Where the file system cannot
  exchange (NFS, SMB, Windows), two renames: the old folder into ``old/``, then the new one
  into place. A kill between these two leaves no folder under the name until the next write to
  it or :func:`remove_stale` completes the swap (the new version is complete by then);
- **files side by side** (:func:`atomic_files`, the ENVI header and data pair): one rename
  each, in the order given. The first rename is the commit point: a kill after it leaves the
  first file new and the later ones as they were (old or absent), so a writer whose files must
  agree makes its first file self-describing and its reader checks the others against it. The
  ENVI writer does (:mod:`hsi_tumor.io._envi`): no reader of ours ever sees a mix.

Leftovers
---------
A killed write leaves its staging folder behind. :func:`remove_stale` deletes the staging
folders of one destination whose lock no process holds (finishing an interrupted folder swap
first); every write calls it before it starts, and ``classify_many`` calls it for its output
folders. A staging folder whose writer is alive is locked and never touched, and nothing but
names of the pattern above is ever deleted: never a destination, never another file.
Temporaries of earlier versions of hsi_tumor (the same names, without a lock) count as stale
once they are :data:`UNLOCKED_STALE_S` seconds old.

Not covered: a crash of the operating system or a power cut (nothing is ``fsync``-ed), two
processes writing one destination at the same time (the last rename wins; each version is
whole), and file systems without ``flock`` (there leftovers are kept, never guessed at).
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import functools
import logging
import os
import re
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from hsi_tumor._shared.errors import InvalidOptionError, OutputExistsError

try:
    import fcntl
except ImportError:  # Windows: no flock, so leftovers are never judged stale
    fcntl = None

logger = logging.getLogger("hsi_tumor.io")

__all__ = [
    "UNLOCKED_STALE_S",
    "atomic_directory",
    "atomic_files",
    "atomic_path",
    "output_folder_overwrite",
    "refuse_overwrite",
    "remove_stale",
]

#: Age (seconds) after which a temporary of ours that has no lock file counts as stale: one
#: of an earlier version, or a staging folder whose writer died before it made its lock.
UNLOCKED_STALE_S = 60.0

_LOCK, _NEW, _OLD = "lock", "new", "old"


def _staging_pattern(name: str) -> re.Pattern:
    """The names of the staging folders (and earlier versions' temporary files) of ``name``."""
    return re.compile(rf"\.{re.escape(name)}\.[a-z0-9_]{{8}}\.partial")


def _flock(fd: int) -> bool | None:
    """Lock ``fd`` exclusively without waiting: True, False (another process holds it) or
    None (no flock on this system or file system)."""
    if fcntl is None:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    except OSError:
        return None
    return True


def _lock_new(stage: Path) -> int | None:
    """Create and lock ``stage/lock``: its descriptor, or None when a cleaner took ``stage``
    first (it deletes it: make another)."""
    try:
        fd = os.open(stage / _LOCK, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
    except FileNotFoundError:
        return None
    if _flock(fd) is False:
        os.close(fd)
        return None
    try:  # still the file of that name (not deleted by a cleaner before the flock)
        in_place = os.stat(stage / _LOCK).st_ino == os.fstat(fd).st_ino
    except FileNotFoundError:
        in_place = False
    if not in_place:
        os.close(fd)
        return None
    return fd


def _stage(final: Path) -> tuple[Path, int]:
    """A new, locked staging folder for ``final`` (with its empty ``new/``) and its lock."""
    final.parent.mkdir(parents=True, exist_ok=True)
    while True:
        stage = Path(
            tempfile.mkdtemp(prefix=f".{final.name}.", suffix=".partial", dir=final.parent)
        )
        fd = _lock_new(stage)
        if fd is not None:
            (stage / _NEW).mkdir()
            return stage, fd


def _discard(stage: Path, fd: int | None) -> None:
    """Delete a staging folder, its lock file last, then release the lock (also when the
    deletion fails): a kill half-way leaves a folder that is locked or empty, stale either way."""
    try:
        for part in (_NEW, _OLD):
            shutil.rmtree(stage / part, ignore_errors=True)
        if fcntl is None:  # Windows: no lock to keep, and an open file cannot be deleted
            os.close(fd)
            fd = None
        with contextlib.suppress(OSError):
            os.unlink(stage / _LOCK)
        with contextlib.suppress(OSError):
            os.rmdir(stage)
    finally:
        if fd is not None:
            os.close(fd)


def _old_enough(path: Path) -> bool:
    try:
        return time.time() - path.lstat().st_mtime > UNLOCKED_STALE_S
    except FileNotFoundError:
        return False


def _finish_swap(stage: Path, final: Path) -> None:
    """Complete a folder replacement that a kill interrupted between its two renames (the old
    version in ``old/``, the complete new one still in ``new/``, nothing under the name)."""
    new = stage / _NEW / final.name
    if (stage / _OLD).exists() and new.exists() and not os.path.lexists(final):
        os.replace(new, final)
        logger.warning("%s: finished the replacement a killed write had begun", final)


def _remove_if_stale(entry: Path, final: Path) -> bool:
    """Delete ``entry`` (a staging folder of ``final``) if its writer is gone; True if so."""
    if entry.is_symlink():
        return False  # never one of ours
    if not entry.is_dir():  # a temporary file of an earlier version
        if not _old_enough(entry):
            return False
        entry.unlink(missing_ok=True)
        return True
    try:
        fd = os.open(entry / _LOCK, os.O_RDWR)
    except FileNotFoundError:
        with contextlib.suppress(OSError):  # empty: a dead writer's last remains (or a new one
            os.rmdir(entry)  # whose writer has not made its lock yet: it makes another)
            return True
        if not _old_enough(entry):  # an earlier version's: judged by its age
            return False
        shutil.rmtree(entry, ignore_errors=True)
        return True
    except OSError:  # another user's: not ours to judge
        return False
    try:
        if _flock(fd) is not True:  # its writer is alive (or no flock here: cannot tell)
            return False
        _finish_swap(entry, final)
        shutil.rmtree(entry, ignore_errors=True)
        return True
    finally:
        os.close(fd)


def remove_stale(path: str | os.PathLike) -> list[Path]:
    """Delete what killed writes of ``path`` left beside it.

    Only staging folders of ``path`` (``.NAME.xxxxxxxx.partial``) whose lock no process holds
    are deleted; an interrupted folder replacement is completed first (see the module's notes).

    Parameters
    ----------
    path : str or os.PathLike
        The destination (a file or a folder); it is never touched otherwise.

    Returns
    -------
    list of pathlib.Path
        What was deleted.
    """
    final = Path(path)
    pattern = _staging_pattern(final.name)
    try:
        names = sorted(name for name in os.listdir(final.parent) if pattern.fullmatch(name))
    except OSError:  # no such folder yet, or not readable
        return []
    removed = [final.parent / n for n in names if _remove_if_stale(final.parent / n, final)]
    if removed:
        logger.info(
            "%s: removed %d leftover(s) of killed writes (%s)",
            final,
            len(removed),
            ", ".join(p.name for p in removed),
        )
    return removed


@contextlib.contextmanager
def atomic_files(*paths: str | os.PathLike) -> Iterator[tuple[Path, ...]]:
    """Yield temporary names for files of one folder; on success each replaces its final name,
    in the order given.

    The first rename is the commit point (see the module's notes): a kill after it leaves the
    later files as they were, so the first file must say what the others should be.

    Parameters
    ----------
    *paths : str or os.PathLike
        The final names, all in one folder (created if needed).

    Yields
    ------
    tuple of pathlib.Path
        Empty files with the final names, inside the staging folder.

    Raises
    ------
    InvalidOptionError
        If the paths are not in one folder, or a name is given twice.
    """
    finals = [Path(p) for p in paths]
    if len({f.parent for f in finals}) > 1 or len({f.name for f in finals}) < len(finals):
        raise InvalidOptionError(
            "files written together must be in one folder, each once: "
            + ", ".join(map(os.fspath, finals)),
            field="paths",
            fix="give distinct names in one folder",
        )
    for final in finals:
        remove_stale(final)
    stage, fd = _stage(finals[0])
    try:
        staged = tuple(stage / _NEW / final.name for final in finals)
        for path in staged:
            path.touch(exist_ok=False)  # the permissions of a plain open
        yield staged
        for path, final in zip(staged, finals, strict=True):
            os.replace(path, final)
    finally:
        _discard(stage, fd)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary file name; on success it replaces ``path`` in one rename.

    Parameters
    ----------
    path : str or os.PathLike
        The final file name. Its folder is created if needed.

    Yields
    ------
    pathlib.Path
        An empty file with the final name, inside the staging folder (same file system, so
        the rename is atomic).
    """
    with atomic_files(path) as (tmp,):
        yield tmp


@functools.cache
def _exchange_call() -> Callable[[bytes, bytes], int] | None:
    """The C function that swaps two paths in one step, where the system has one."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        if sys.platform.startswith("linux"):
            renameat2 = libc.renameat2  # glibc 2.28+
            at_fdcwd, rename_exchange = -100, 2
            renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p] * 2 + [ctypes.c_uint]
            return lambda a, b: renameat2(at_fdcwd, a, at_fdcwd, b, rename_exchange)
        if sys.platform == "darwin":
            renamex_np = libc.renamex_np
            rename_swap = 2
            renamex_np.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_uint]
            return lambda a, b: renamex_np(a, b, rename_swap)
    except (OSError, AttributeError):
        pass
    return None


def _exchange(a: Path, b: Path) -> bool:
    """Swap the entries ``a`` and ``b`` atomically; False where this cannot be done (no such
    call, or a file system without it: the caller then renames twice)."""
    call = _exchange_call()
    if call is None:
        return False
    if call(os.fsencode(a), os.fsencode(b)) == 0:
        return True
    code = ctypes.get_errno()
    logger.debug("no atomic exchange of %s and %s: %s", a, b, errno.errorcode.get(code, code))
    return False


@contextlib.contextmanager
def atomic_directory(path: str | os.PathLike, *, overwrite: bool = False) -> Iterator[Path]:
    """Yield a temporary folder; on success it appears as ``path`` in one step.

    Parameters
    ----------
    path : str or os.PathLike
        The final folder name.
    overwrite : bool, default=False
        Replace an existing folder of that name: the new one is swapped in by one atomic
        exchange where the file system has one (see the module's notes); the old one is then
        deleted.

    Yields
    ------
    pathlib.Path
        An empty folder with the final name, inside the staging folder.

    Raises
    ------
    OutputExistsError
        If ``path`` exists and ``overwrite`` is False.
    """
    final = Path(path)
    remove_stale(final)
    if os.path.lexists(final) and not overwrite:
        raise OutputExistsError(
            "the output folder exists already",
            file=final,
            fix="choose another folder or pass overwrite=True",
        )
    stage, fd = _stage(final)
    try:
        new = stage / _NEW / final.name
        new.mkdir()
        yield new
        if not os.path.lexists(final):
            os.replace(new, final)
        elif not _exchange(new, final):
            os.replace(final, stage / _OLD)  # a kill from here to the next rename: remove_stale
            os.replace(new, final)  # completes the swap
    finally:
        _discard(stage, fd)


def refuse_overwrite(*paths: Path, overwrite: bool) -> None:
    """Raise OutputExistsError when any of ``paths`` exists and ``overwrite`` is False.

    Called as a write begins: it first deletes what killed writes of ``paths`` left
    (:func:`remove_stale`), so that a write removes them even when it is refused.
    """
    for p in paths:
        remove_stale(p)
    if overwrite:
        return
    for p in paths:
        if p.exists():
            raise OutputExistsError(
                "the output exists already",
                file=p,
                fix="choose another name or pass overwrite=True",
            )


def output_folder_overwrite(out_dir: Path, overwrite: bool) -> bool:
    """``overwrite`` for :func:`atomic_directory` writing a folder of outputs.

    An empty folder (made for the output) may always be replaced.

    Raises
    ------
    OutputExistsError
        If ``out_dir`` is a file.
    """
    if out_dir.exists() and not out_dir.is_dir():
        raise OutputExistsError(
            "a file of that name exists; the output is a folder",
            file=out_dir,
            fix="choose another output folder name",
        )
    return overwrite or (out_dir.is_dir() and not any(out_dir.iterdir()))
