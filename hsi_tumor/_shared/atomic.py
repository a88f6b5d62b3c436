"""Atomic output: write to a temporary name beside the target, then rename.

An interrupted write (exception, ``KeyboardInterrupt``, killed process) never leaves a partial file
under the final name: the temporary file is removed on error and, if the process dies, it keeps a
name that starts with ``.`` and ends in ``.partial`` so that it is recognisably incomplete.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from hsi_tumor._shared.errors import OutputExistsError

__all__ = ["atomic_directory", "atomic_path", "refuse_overwrite"]


def _umask() -> int:
    """The process's umask, read without changing it where the OS allows (Linux)."""
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    mask = os.umask(0o022)  # elsewhere: the usual read-and-restore
    os.umask(mask)
    return mask


def _temporary_sibling(path: Path, *, directory: bool) -> Path:
    """A new, empty file or folder beside ``path``, with the permissions a plain ``open`` or
    ``mkdir`` would give (``tempfile`` makes them private: 0600 / 0700)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    prefix = f".{path.name}."
    if directory:
        tmp = Path(tempfile.mkdtemp(prefix=prefix, suffix=".partial", dir=path.parent))
        os.chmod(tmp, 0o777 & ~_umask())
        return tmp
    fd, name = tempfile.mkstemp(prefix=prefix, suffix=".partial", dir=path.parent)
    os.close(fd)
    os.chmod(name, 0o666 & ~_umask())
    return Path(name)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path; on success it replaces ``path`` in one rename.

    Parameters
    ----------
    path : str or os.PathLike
        The final file name. Its folder is created if needed.

    Yields
    ------
    pathlib.Path
        A temporary file name in the same folder (same file system, so the rename is atomic).
    """
    final = Path(path)
    tmp = _temporary_sibling(final, directory=False)
    try:
        yield tmp
        os.replace(tmp, final)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise


@contextlib.contextmanager
def atomic_directory(path: str | os.PathLike, *, overwrite: bool = False) -> Iterator[Path]:
    """Yield a temporary folder; on success it is renamed to ``path``.

    Parameters
    ----------
    path : str or os.PathLike
        The final folder name.
    overwrite : bool, default=False
        Replace an existing folder of that name. The old folder is moved aside first and deleted
        only once the new one is in place.

    Yields
    ------
    pathlib.Path
        A temporary folder beside ``path``.
    """
    final = Path(path)
    if final.exists() and not overwrite:
        raise OutputExistsError(
            "the output folder exists already",
            file=final,
            fix="choose another folder or pass overwrite=True",
        )
    tmp = _temporary_sibling(final, directory=True)
    try:
        yield tmp
        if final.exists():
            old = _temporary_sibling(final, directory=True)
            os.rmdir(old)
            os.replace(final, old)
            os.replace(tmp, final)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def refuse_overwrite(*paths: Path, overwrite: bool) -> None:
    """Raise OutputExistsError when any of ``paths`` exists and ``overwrite`` is False."""
    if overwrite:
        return
    for p in paths:
        if p.exists():
            raise OutputExistsError(
                "the output exists already",
                file=p,
                fix="choose another name or pass overwrite=True",
            )
