"""MATLAB v5 files validated element by element before ``scipy.io.loadmat`` reads them.

scipy's v5 reader is compiled code that trusts the file: a data type code it has no entry for
(an unknown code, or ``miCOMPRESSED`` where a number array belongs) makes it dereference a null
or stray pointer and kills the process (SIGSEGV), nesting thousands of cells deep overflows the
C stack, and a few bytes of header can ask for gigabytes. :func:`validated_v5` walks every
element the way scipy will read it — the same grammar: array flags, dimensions, name, then per
array class its parts, cells and struct fields recursively, compressed variables inflated first
(bounded by the memory budget) — and returns the file as one uncompressed stream, so scipy reads
exactly the bytes that were checked, and nothing it cannot read safely reaches it.

Why validate rather than read in a subprocess: a child process costs an interpreter start (about
half a second) and a copy of every array for each file, cannot be started from the daemonic
worker processes Dask uses, and says only "it crashed"; the walk is one pass over bytes already
in memory (faster than before for compressed files, which are now inflated once, not twice) and
its errors say which element at which byte is wrong. ``tests/io/test_malformed.py`` fuzzes it:
randomly damaged v5 files must raise an HsiTumorError or read like scipy reads them, never crash.
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

from hsi_tumor._shared.errors import CubeFormatError
from hsi_tumor._shared.limits import (
    BUDGET_VARIABLE,
    check_inflation,
    describe_bytes,
    memory_budget,
)

__all__ = ["MAX_DEPTH", "validated_v5"]

_HEADER = 128
_MATRIX, _COMPRESSED = 14, 15
#: Item size of each data type scipy makes arrays of (the types its dtype table holds): miINT8,
#: miUINT8, miINT16, miUINT16, miINT32, miUINT32, miSINGLE, miDOUBLE, miINT64, miUINT64,
#: miUTF8, miUTF16, miUTF32. Any other code where data belongs crashes scipy.
_ITEMSIZE = {1: 1, 2: 1, 3: 2, 4: 2, 5: 4, 6: 4, 7: 4, 9: 8, 12: 8, 13: 8, 16: 1, 17: 2, 18: 4}
_INT8_TYPES = (1, 16)  # names: miINT8 (or ASCII miUTF8, which some writers use)
_INT32_TYPES = (5, 6)  # dimensions, field-name length: miINT32 (or miUINT32)
_CELL, _STRUCT, _OBJECT, _CHAR, _SPARSE, _FUNCTION, _OPAQUE = 1, 2, 3, 4, 5, 16, 17
_NUMERIC = frozenset(range(6, 16))  # mxDOUBLE_CLASS .. mxUINT64_CLASS
#: Cells and structs nested deeper than this are refused (scipy recurses in C for each level).
MAX_DEPTH = 64
#: What scipy spends on each array it builds besides the data (Python and NumPy objects).
_ARRAY_OVERHEAD = 256


def _corrupt(walk: _Walk, offset: int, what: str) -> CubeFormatError:
    """The error for an element scipy could not read safely."""
    return CubeFormatError(
        f"{what} at byte {offset}{walk.where}",
        file=walk.path,
        field="MAT-file elements",
        fix="the file is corrupt or truncated (or not written by MATLAB, Octave or scipy); "
        "save it again from MATLAB",
    )


class _Walk:
    """One pass over a v5 file's elements, in scipy's reading order."""

    def __init__(self, path: Path, order: str, budget: int) -> None:
        self.path, self.order, self.budget = path, order, budget
        self.cost = 0  # bytes scipy will hold: the stream plus the arrays it builds
        self.where = ""  # "of the compressed variable at byte N" while inside one

    def spend(self, nbytes: int, offset: int) -> None:
        self.cost += nbytes
        if self.cost > self.budget:
            raise CubeFormatError(
                f"reading it would take more than the memory budget of "
                f"{describe_bytes(self.budget)} (element at byte {offset}{self.where})",
                file=self.path,
                field="MAT-file elements",
                fix=f"if the file is genuine, raise the budget (environment variable "
                f"{BUDGET_VARIABLE}) or save the data with save(..., '-v7.3'), which is read "
                "lazily",
            )

    def element(self, buf, pos: int, end: int) -> tuple[int, int, int, int]:
        """A data element's (type, size, data offset, next offset), small format or full."""
        if end - pos < 8:
            raise _corrupt(self, pos, "a truncated element tag")
        first, second = struct.unpack_from(self.order + "II", buf, pos)
        if first >> 16:  # small data element: type and size share the first word
            if first >> 16 > 4:
                raise _corrupt(self, pos, f"a small element of {first >> 16} bytes (at most 4)")
            return first & 0xFFFF, first >> 16, pos + 4, pos + 8
        nxt = pos + 8 + second + (-second % 8)
        if nxt > end:
            raise _corrupt(self, pos, f"an element of {second} bytes past the end of its parent")
        return first, second, pos + 8, nxt

    def data(self, buf, pos: int, end: int, types, what: str) -> tuple[int, int, int, int]:
        kind, size, start, nxt = self.element(buf, pos, end)
        if kind not in types:
            raise _corrupt(self, pos, f"{what} of data type {kind}")
        return kind, size, start, nxt

    def int32s(self, buf, pos: int, end: int, max_bytes: int, what: str) -> tuple[list, int]:
        _, size, start, nxt = self.data(buf, pos, end, _INT32_TYPES, what)
        if size > max_bytes:
            raise _corrupt(self, pos, f"{what} of {size} bytes (at most {max_bytes})")
        values = list(struct.unpack_from(f"{self.order}{size // 4}i", buf, start))
        if any(v < 0 for v in values):
            raise _corrupt(self, pos, f"{what} with a negative value")
        return values, nxt

    def numeric(self, buf, pos: int, end: int) -> tuple[int, int, int]:
        """A number array's (count, bytes, next offset)."""
        kind, size, _, nxt = self.data(buf, pos, end, _ITEMSIZE, "number data")
        return size // _ITEMSIZE[kind], size, nxt

    def matrix(self, buf, pos: int, end: int, depth: int) -> int:
        """An miMATRIX element (scipy's ``read_mi_matrix``); returns where it ends."""
        if end - pos < 8:
            raise _corrupt(self, pos, "a truncated matrix tag")
        kind, size = struct.unpack_from(self.order + "II", buf, pos)
        if kind != _MATRIX:
            raise _corrupt(self, pos, f"an element of type {kind} where a matrix belongs")
        stop = pos + 8 + size
        if stop > end:
            raise _corrupt(self, pos, f"a matrix of {size} bytes past the end of its parent")
        self.spend(_ARRAY_OVERHEAD, pos)
        if size == 0:
            return stop
        if depth > MAX_DEPTH:
            raise _corrupt(self, pos, f"arrays nested more than {MAX_DEPTH} deep")
        if self.array(buf, pos + 8, stop, depth) != stop:
            raise _corrupt(self, pos, "a matrix whose parts do not fill it exactly")
        return stop

    def array(self, buf, pos: int, stop: int, depth: int) -> int:
        """The parts of one array (scipy's ``read_header`` and ``array_from_header``)."""
        if stop - pos < 16 or struct.unpack_from(self.order + "II", buf, pos) != (6, 8):
            raise _corrupt(self, pos, "a matrix without its array flags")
        flags = struct.unpack_from(self.order + "I", buf, pos + 8)[0]
        mclass, is_complex = flags & 0xFF, flags >> 11 & 1
        pos += 16
        if mclass == _OPAQUE:  # MATLAB objects: three names, then a matrix
            for _ in range(3):
                pos = self.data(buf, pos, stop, _INT8_TYPES, "a name")[3]
            return self.matrix(buf, pos, stop, depth + 1)
        dims, pos = self.int32s(buf, pos, stop, 128, "dimensions")
        pos = self.data(buf, pos, stop, _INT8_TYPES, "a name")[3]
        count = 1
        for d in dims:
            count *= d
        if mclass in _NUMERIC:
            n, nbytes, pos = self.numeric(buf, pos, stop)
            if n != count:
                raise _corrupt(self, pos, f"{n} values for dimensions {dims}")
            if is_complex:
                n_imag, imag_bytes, pos = self.numeric(buf, pos, stop)
                if n_imag != n:
                    raise _corrupt(self, pos, f"{n_imag} imaginary values for {n} real ones")
                nbytes = 2 * (nbytes + imag_bytes) + 16 * n
            self.spend(nbytes, pos)
            return pos
        if mclass == _SPARSE:
            if len(dims) != 2:
                raise _corrupt(self, pos, f"a sparse matrix of dimensions {dims}")
            for _ in range(3 + is_complex):  # row indices, column pointers, values (+ imaginary)
                _, nbytes, pos = self.numeric(buf, pos, stop)
                self.spend(2 * nbytes, pos)
            return pos
        if mclass == _CHAR:
            _, size, _, pos = self.data(buf, pos, stop, _ITEMSIZE, "text")
            self.spend(4 * count if size == 0 else 8 * size, pos)
            return pos
        if mclass in (_CELL, _STRUCT, _OBJECT):
            return self.container(buf, pos, stop, depth, mclass, count)
        if mclass == _FUNCTION:
            return self.matrix(buf, pos, stop, depth + 1)
        raise _corrupt(self, pos, f"an array of unknown class {mclass}")

    def container(self, buf, pos: int, stop: int, depth: int, mclass: int, count: int) -> int:
        """Cells (``count`` matrices) or a struct/object (field names, then the fields)."""
        n_fields = 1
        if mclass != _CELL:
            if mclass == _OBJECT:
                pos = self.data(buf, pos, stop, _INT8_TYPES, "a class name")[3]
            length, pos = self.int32s(buf, pos, stop, 4, "the field-name length")
            if len(length) != 1 or length[0] == 0:
                raise _corrupt(self, pos, f"a field-name length of {length}")
            _, size, _, pos = self.data(buf, pos, stop, _INT8_TYPES, "field names")
            n_fields = size // length[0]
        self.spend(8 * count * max(1, n_fields), pos)
        n_children = count * n_fields
        if 8 * n_children > stop - pos:  # each child is a matrix of at least 8 bytes
            raise _corrupt(self, pos, f"{n_children} cells or fields in {stop - pos} bytes")
        for _ in range(n_children):
            pos = self.matrix(buf, pos, stop, depth + 1)
        return pos


def _inflate(data, walk: _Walk, offset: int) -> tuple[bytes, bytes]:
    """Inflate one compressed variable: first its 8-byte matrix tag, whose declared size is
    checked against the memory budget and 100 times the compressed size
    (beyond 256 MiB), then no more than that size (a zlib bomb is refused, or cut off, before
    it inflates further). Returns the tag and the matrix's contents."""
    what = f"the compressed variable at byte {offset}"
    inflater = zlib.decompressobj()
    try:
        head = inflater.decompress(data, 8)
        if len(head) < 8:
            raise _corrupt(walk, offset, "a compressed variable too short for a matrix tag")
        kind, size = struct.unpack_from(walk.order + "II", head)
        if kind != _MATRIX:
            raise _corrupt(walk, offset, f"a compressed variable of data type {kind}")
        check_inflation(8 + size, len(data), what, file=walk.path, field="MAT-file elements")
        walk.spend(8 + size, offset)
        rest = inflater.decompress(inflater.unconsumed_tail, size + 1)
    except zlib.error as exc:
        raise _corrupt(
            walk, offset, f"a compressed variable that does not inflate ({exc})"
        ) from None
    if len(rest) != size or not inflater.eof:
        raise _corrupt(walk, offset, f"a compressed variable that does not inflate to {size} bytes")
    if inflater.unused_data or inflater.unconsumed_tail:
        raise _corrupt(walk, offset, "bytes after the end of a compressed variable")
    return head, rest


def validated_v5(raw: bytes, path: Path) -> bytes:
    """Check every element of a v5 MAT file; return it as one uncompressed stream.

    Parameters
    ----------
    raw : bytes
        The whole file.
    path : Path
        Named in errors.

    Returns
    -------
    bytes
        The 128-byte header followed by each variable's miMATRIX element, compressed ones
        inflated (``raw`` itself when nothing was compressed): what scipy should read.

    Raises
    ------
    CubeFormatError
        At the first element scipy could not read safely: a truncated or oversized element, a
        data type or array class scipy has no reader for, sizes that disagree (values for the
        dimensions, children for a cell or struct), nesting deeper than :data:`MAX_DEPTH`, a
        compressed variable that does not inflate exactly; or when inflating, or what scipy
        would build, exceeds the memory budget.
    """
    order = {b"IM": "<", b"MI": ">"}.get(bytes(raw[126:128]))
    if len(raw) < _HEADER or order is None:
        raise CubeFormatError(
            "no MAT-file header (128 bytes ending in the endian indicator 'IM' or 'MI')",
            file=path,
            field="MAT-file header",
            fix="the file is truncated or not a MAT file; save it again from MATLAB",
        )
    walk = _Walk(path, order, memory_budget())
    view = memoryview(raw)
    parts = [view[:_HEADER]]
    pos, changed = _HEADER, False
    while pos < len(raw):
        walk.where = ""
        tail = len(raw) - pos
        kind, size = struct.unpack_from(order + "II", raw, pos) if tail >= 8 else (0, 0)
        if (kind, size) == (0, 0) and raw.count(b"\0", pos) == tail:
            changed = True  # zero padding after the last variable: left out
            break
        if tail < 8:
            raise _corrupt(walk, pos, "a truncated variable tag")
        if pos + 8 + size > len(raw) or size == 0:
            raise _corrupt(
                walk, pos, f"a variable of {size} bytes in the {len(raw) - pos - 8} left"
            )
        if kind == _COMPRESSED:  # walked in its inflated contents, offsets counted there
            head, body = _inflate(view[pos + 8 : pos + 8 + size], walk, pos)
            walk.where = f" of the contents of the compressed variable at byte {pos}"
            parts += [head, body]
            start, stop, changed = 0, len(body), True
        elif kind == _MATRIX:  # walked in place, offsets counted in the file
            body = view
            walk.spend(8 + size, pos)
            parts.append(view[pos : pos + 8 + size])
            start, stop = pos + 8, pos + 8 + size
        else:
            raise _corrupt(walk, pos, f"a variable of data type {kind} (not a matrix)")
        if start == stop:
            raise _corrupt(walk, pos, "an empty variable")
        walk.spend(_ARRAY_OVERHEAD, pos)
        if walk.array(body, start, stop, 0) != stop:
            raise _corrupt(walk, pos, "a variable whose parts do not fill it exactly")
        pos += 8 + size
    return b"".join(parts) if changed else raw
