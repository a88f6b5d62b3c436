"""What reading an untrusted file may cost: the memory budget, regular files only, short echoes.

Every reader checks what a file *declares* (array shapes, decompressed sizes, pixel counts)
against the file's size and against one memory budget before it decodes anything, so a small
file cannot make the library allocate gigabytes. The budget is set in one place, the environment
variable ``HSI_TUMOR_MEMORY_BUDGET`` (read at every check, so a change applies at once and worker
processes started afterwards inherit it); :func:`memory_budget` says what it is now.
"""

from __future__ import annotations

import io
import os
import re
import stat
import zipfile
from pathlib import Path

from hsi_tumor._shared.errors import CubeFormatError, InvalidOptionError, MissingFileError

__all__ = [
    "BUDGET_VARIABLE",
    "INFLATION_FLOOR",
    "MAX_INFLATION",
    "check_budget",
    "check_inflation",
    "check_regular_file",
    "describe_bytes",
    "memory_budget",
    "read_zip_member",
    "shorten",
]

#: The environment variable that sets the memory budget (bytes, or a number with a unit).
BUDGET_VARIABLE = "HSI_TUMOR_MEMORY_BUDGET"
#: The default budget: 4 GiB, or a quarter of the machine's memory where that is less.
DEFAULT_BUDGET = 4 * 2**30
_UNITS = {
    "": 1,
    "b": 1,
    "kb": 10**3,
    "mb": 10**6,
    "gb": 10**9,
    "tb": 10**12,
    "kib": 2**10,
    "mib": 2**20,
    "gib": 2**30,
    "tib": 2**40,
    "k": 2**10,
    "m": 2**20,
    "g": 2**30,
    "t": 2**40,
}
#: Compressed data read whole may inflate to at most this many times its stored size ...
MAX_INFLATION = 100
#: ... once it is larger than this: a zip bomb (4 MB of zeros declaring 3.8 GB) is refused,
#: while measured data (which deflate shrinks 1.1-3x, label maps 10-100x) and anything small
#: are not.
INFLATION_FLOOR = 256 * 2**20
_AMOUNT = re.compile(r"^\s*([0-9]+(?:\.[0-9]*)?)\s*([a-z]*)\s*$", re.IGNORECASE)


def _physical_memory() -> int | None:
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):  # not POSIX, or not reported
        return None


def memory_budget() -> int:
    """The most bytes one whole read of a file's array may take (the memory budget).

    Returns
    -------
    int
        ``HSI_TUMOR_MEMORY_BUDGET`` when set: a number of bytes, or a number with a unit
        (``"512MiB"``, ``"8 GiB"``, ``"16GB"``; ``k``/``M``/``G``/``T`` alone are powers of 1024).
        Otherwise 4 GiB, or a quarter of the machine's physical memory where that is less.

    Raises
    ------
    InvalidOptionError
        If the variable is set to something that is not a positive amount of bytes.

    Notes
    -----
    What the budget bounds: arrays read whole (label maps, MATLAB v5 files, ``.npz`` members,
    PNG/TIFF images, HDF5 datasets read at once), the bytes a compressed element or zip member
    may inflate to, and the declared size of lazily read HDF5 data whose stored size cannot
    account for it. Cubes read lazily (ENVI and ``.npy`` memory maps, HDF5 and MATLAB v7.3
    datasets) may be larger than the budget and than memory: only what is selected is read.

    Examples
    --------
    >>> from hsi_tumor.io import memory_budget
    >>> memory_budget() >= 2**20  # bytes; HSI_TUMOR_MEMORY_BUDGET=8GiB would make it 8589934592
    True
    """
    text = os.environ.get(BUDGET_VARIABLE, "").strip()
    if not text:
        physical = _physical_memory()
        return DEFAULT_BUDGET if not physical else min(DEFAULT_BUDGET, physical // 4)
    match = _AMOUNT.match(text)
    unit = match.group(2).lower() if match else None
    if match is None or unit not in _UNITS or float(match.group(1)) * _UNITS[unit] < 1:
        raise InvalidOptionError(
            f"{BUDGET_VARIABLE}={shorten(text)!r} is not an amount of memory",
            field=BUDGET_VARIABLE,
            fix="set it to a number of bytes or a number with a unit, e.g. 8GiB or 512MiB "
            "(or unset it for the default)",
        )
    return int(float(match.group(1)) * _UNITS[unit])


def describe_bytes(n: int) -> str:
    """``'3.5 GiB'``: a byte count in words, for messages."""
    value = float(n)
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if value < 1024 or unit == "PiB":
            return f"{int(value)} bytes" if unit == "bytes" else f"{value:.3g} {unit}"
        value /= 1024
    return f"{n} bytes"  # pragma: no cover


def check_budget(
    nbytes: int,
    what: str,
    *,
    file: str | os.PathLike | None = None,
    field: str | None = None,
) -> None:
    """Refuse to read ``what`` (``nbytes`` in memory) when that exceeds :func:`memory_budget`.

    Raises
    ------
    CubeFormatError
        Naming the size, the budget and how to raise it.
    """
    budget = memory_budget()
    if nbytes > budget:
        raise CubeFormatError(
            f"{what} would take {describe_bytes(nbytes)} in memory, more than the memory budget "
            f"of {describe_bytes(budget)}",
            file=file,
            field=field,
            fix=f"if the file is genuine, raise the budget (environment variable "
            f"{BUDGET_VARIABLE}, e.g. {BUDGET_VARIABLE}=16GiB) or store the data in a format "
            "read lazily (ENVI, .npy, HDF5); otherwise the file is corrupt",
        )


def check_inflation(
    declared: int,
    stored: int,
    what: str,
    *,
    file: str | os.PathLike | None = None,
    field: str | None = None,
) -> None:
    """Refuse compressed data that would inflate from ``stored`` to ``declared`` bytes when that
    is more than :data:`MAX_INFLATION` times and more than :data:`INFLATION_FLOOR` (a
    decompression bomb), before inflating it.

    Raises
    ------
    CubeFormatError
        Naming both sizes and what to do with a genuine file.
    """
    if declared > INFLATION_FLOOR and declared > MAX_INFLATION * stored:
        raise CubeFormatError(
            f"{what} would inflate from {describe_bytes(stored)} to {describe_bytes(declared)}, "
            f"more than {MAX_INFLATION} times (a decompression bomb?)",
            file=file,
            field=field,
            fix="if the file is genuine, store the data uncompressed (.npy, ENVI, HDF5 without "
            "compression, MATLAB -v7.3), which is read lazily; otherwise the file is corrupt",
        )


_SPECIAL_KINDS = (
    (stat.S_ISFIFO, "a named pipe (FIFO)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


def check_regular_file(path: str | os.PathLike, *, folder_ok: bool = False) -> Path:
    """Return ``path`` as a Path if it is a regular file (or, with ``folder_ok``, a folder).

    A named pipe, device or socket is refused before anything opens it: reading one can block
    forever or never end (``/dev/zero``).

    Raises
    ------
    MissingFileError
        If the path does not exist or cannot be looked up (a name too long, a NUL character, no
        permission to search a folder on the way).
    CubeFormatError
        If it is a pipe, device or socket (or a folder without ``folder_ok``).
    """
    path = Path(path)
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise MissingFileError(
            "no such file or folder",
            file=path,
            field="path",
            fix="check the path (and the working folder)",
        ) from None
    except (OSError, ValueError) as exc:  # ENAMETOOLONG, ELOOP, EACCES, embedded NUL, ...
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise MissingFileError(
            f"the path cannot be opened ({shorten(reason)})",
            file=shorten(os.fspath(path), 300),
            field="path",
            fix="check the path: each name at most 255 bytes, no NUL character, folders readable",
        ) from None
    if stat.S_ISREG(mode) or (folder_ok and stat.S_ISDIR(mode)):
        return path
    kind = next((name for test, name in _SPECIAL_KINDS if test(mode)), "a folder")
    raise CubeFormatError(
        f"{kind}, not a regular file",
        file=path,
        field="path",
        fix="give a regular file"
        + (
            ""
            if kind == "a folder"
            else " (reading a pipe or device could block forever; copy its data into a file first)"
        ),
    )


def shorten(text, limit: int = 80) -> str:
    """``text`` as a string of at most ``limit`` characters (the middle elided), for messages
    that echo what a file holds: a 5,000-digit header value must not make a 5,000-character
    message."""
    text = str(text)
    if len(text) <= limit:
        return text
    suffix = f" ({len(text)} characters)"
    keep = max(1, (limit - len(suffix) - 5) // 2)
    return f"{text[:keep]} ... {text[-keep:]}{suffix}"


def read_zip_member(
    archive: zipfile.ZipFile, info: zipfile.ZipInfo, budget: int, *, chunk: int = 1 << 20
) -> bytes | None:
    """A zip member's bytes, inflated ``chunk`` bytes at a time, or None as soon as they pass
    ``budget`` bytes (whatever the member's header declares: a zip bomb can lie). The caller
    raises its own error on None (model files and ROI sets say different things)."""
    out = io.BytesIO()
    with archive.open(info) as member:
        while data := member.read(chunk):
            if out.tell() + len(data) > budget:
                return None
            out.write(data)
    return out.getvalue()
