"""The zip container of a model file: bounded reading, checksums and the keyed signature.

A model file is a zip archive. Nothing in it is decoded before its size is known to fit the
budgets below: each member's declared size is compared with its budget, then the member is
inflated in chunks and reading stops at the budget whatever the header declared (a member
that inflates further is refused, never held in memory); inside ``pipeline.skops`` (itself a
zip archive of ``schema.json`` and ``.npy`` arrays) the members' sizes, every array's header
(its shape and dtype must account for exactly the bytes stored) and the bytes skops would read
for each array reference are checked the same way before skops sees them.

Integrity (format version 2): ``integrity.json`` holds the SHA-256 of ``model.json`` and of
``pipeline.skops`` and, when the file was saved with a key, their HMAC-SHA256. Checksums detect
damage; anyone can recompute them, so only the HMAC detects tampering, and only for the holder
of the key.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import json
import math
import os
import reprlib
import zipfile
from pathlib import Path

import numpy as np

from hsi_tumor._shared.errors import InvalidOptionError, InvalidTypeError, ModelFileError
from hsi_tumor._shared.limits import read_zip_member

__all__ = [
    "INTEGRITY",
    "KEY_VARIABLE",
    "MEMBER_BUDGETS",
    "META",
    "MIN_KEY_BYTES",
    "PIPELINE",
    "as_key",
    "check_integrity",
    "check_skops_archive",
    "integrity_record",
    "read_members",
    "short",
]

META, PIPELINE, INTEGRITY = "model.json", "pipeline.skops", "integrity.json"

#: Largest uncompressed size of each member (bytes). ``pipeline.skops`` of a random forest of
#: 200 trees trained on 4,200 pixels is 7.7 MB, growing about linearly with the pixels; loading
#: takes about three times the pipeline's size at its peak (the member, the arrays skops reads
#: from it, the arrays built).
MEMBER_BUDGETS = {META: 16 << 20, PIPELINE: 1 << 30, INTEGRITY: 64 << 10}

#: The environment variable that holds the lab's key when ``key=`` is not given.
KEY_VARIABLE = "HSI_TUMOR_MODEL_KEY"

#: Shortest key accepted (bytes): HMAC-SHA256 with a short key is guessable.
MIN_KEY_BYTES = 16

_CHUNK = 1 << 20
_SIGNATURE_DOMAIN = b"hsi_tumor-model/2\0"
_DAMAGED = "use an unaltered copy of the model file, or save the model again"
_SHORT = reprlib.Repr()
_SHORT.maxstring, _SHORT.maxlong, _SHORT.maxother = 60, 40, 60
_SHORT.maxlist = _SHORT.maxdict = _SHORT.maxtuple = 4
_SHORT.maxlevel = 2


def short(value) -> str:
    """``repr(value)`` cut to about 60 characters, for error messages."""
    return _SHORT.repr(value)


def _error(path, field: str, problem: str, fix: str = _DAMAGED) -> ModelFileError:
    return ModelFileError(problem, file=path, field=field, fix=fix)


def as_key(key) -> bytes | None:
    """The HMAC key as bytes: ``key`` (bytes, or str encoded as UTF-8), else the environment
    variable :data:`KEY_VARIABLE` when it is set and not empty, else None."""
    field = "key"
    if key is None:
        key = os.environ.get(KEY_VARIABLE) or None
        if key is None:
            return None
        field = f"environment variable {KEY_VARIABLE}"
    if isinstance(key, str):
        key = key.encode("utf-8")
    if not isinstance(key, (bytes, bytearray)):
        raise InvalidTypeError(
            f"the key is a {type(key).__name__}",
            field=field,
            fix="give the key as bytes or str (e.g. secrets.token_hex(32), kept out of the repo)",
        )
    if len(key) < MIN_KEY_BYTES:
        raise InvalidOptionError(
            f"the key has {len(key)} bytes; at least {MIN_KEY_BYTES} are needed",
            field=field,
            fix="make a key with secrets.token_hex(32) and keep it where only the lab reads it",
        )
    return bytes(key)


# --- reading the archive -------------------------------------------------------------------


def _check_infos(path, infos: list[zipfile.ZipInfo], budgets: dict[str, int], where: str):
    names = [info.filename for info in infos]
    if len(set(names)) != len(names):
        raise _error(path, where, "the archive holds two members of the same name")
    for info in infos:
        field = f"{where}: {short(info.filename)}"
        if info.flag_bits & 0x1:
            raise _error(path, field, "the member is encrypted")
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise _error(path, field, f"the member uses compression method {info.compress_type}")
        budget = budgets.get(info.filename)
        if budget is not None and info.file_size > budget:
            raise _error(
                path,
                field,
                f"the member declares {info.file_size} bytes, more than the {budget} allowed",
                "this is not a model file hsi_tumor writes (or it is a zip bomb)",
            )


def _read_bounded(archive: zipfile.ZipFile, info: zipfile.ZipInfo, budget: int, path) -> bytes:
    """A member's bytes, inflated in chunks; refused as soon as they pass ``budget``."""
    data = read_zip_member(archive, info, budget, chunk=_CHUNK)
    if data is None:
        raise _error(
            path,
            info.filename,
            f"the member inflates to more than the {budget} bytes allowed",
            "this is not a model file hsi_tumor writes (or it is a zip bomb)",
        )
    return data


def read_members(path: Path, expected: tuple[str, ...]) -> dict[str, bytes]:
    """The members of a model file, each within :data:`MEMBER_BUDGETS`.

    ``expected`` are the members every model file has; :data:`INTEGRITY` may be present too
    (format version 2), and nothing else.

    Raises
    ------
    ModelFileError
        If the file is not a zip archive, misses a member, holds another one, or a member is
        encrypted, compressed by another method, larger than its budget, or damaged.
    """
    try:
        with zipfile.ZipFile(path) as archive:
            infos = archive.infolist()
            names = {info.filename for info in infos}
            if not set(expected) <= names or not names <= {*expected, INTEGRITY}:
                raise _error(
                    path,
                    META,
                    f"not an hsi_tumor model file (members {short(sorted(names))})",
                    "give a file written by hsi_tumor.save_model",
                )
            _check_infos(path, infos, MEMBER_BUDGETS, "archive")
            return {
                i.filename: _read_bounded(archive, i, MEMBER_BUDGETS[i.filename], path)
                for i in infos
            }
    except ModelFileError:
        raise
    except (
        Exception
    ) as exc:  # zipfile raises many kinds (BadZipFile, zlib.error, struct.error, ...)
        raise _error(
            path,
            "archive",
            f"not a readable model file ({type(exc).__name__}: {short(str(exc))})",
            "give a file written by hsi_tumor.save_model; the file may be truncated or damaged",
        ) from None


# --- the skops archive inside ---------------------------------------------------------------


def _array_bytes(member, path, field: str) -> int:
    """The bytes an ``.npy`` member's header promises (header included), from its header."""
    version = np.lib.format.read_magic(member)
    if version == (1, 0):
        shape, _, dtype = np.lib.format.read_array_header_1_0(member)
    elif version == (2, 0):
        shape, _, dtype = np.lib.format.read_array_header_2_0(member)
    else:
        raise _error(path, field, f"array format version {version} is not supported")
    if dtype.hasobject:
        raise _error(path, field, "the array holds Python objects")
    return member.tell() + math.prod(shape) * dtype.itemsize


def _referenced_files(schema) -> list[str]:
    """The member names that skops reads, once per node that names them (walked iteratively:
    a deeply nested schema must not exhaust the stack here)."""
    files, stack, seen_ids = [], [schema], set()
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            node_id = node.get("__id__")
            if node_id is not None and not isinstance(node_id, (dict, list)):
                if node_id in seen_ids:  # skops returns the memoised node: read once
                    continue
                seen_ids.add(node_id)
            if isinstance(node.get("file"), str):
                files.append(node["file"])
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return files


def check_skops_archive(path: Path, data: bytes) -> None:
    """Check ``pipeline.skops`` before skops decodes it: member sizes, array headers, and the
    bytes skops would read, all within the pipeline's budget.

    Raises
    ------
    ModelFileError
        If any of it does not hold, or the archive cannot be read.
    """
    budget = MEMBER_BUDGETS[PIPELINE]
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            infos = archive.infolist()
            _check_infos(path, infos, {i.filename: budget for i in infos}, PIPELINE)
            sizes = {info.filename: info.file_size for info in infos}
            if sum(sizes.values()) > budget or "schema.json" not in sizes:
                raise _error(path, PIPELINE, "the pipeline's members are missing or too large")
            for info in infos:
                if info.filename.endswith(".npy"):
                    field = f"{PIPELINE}: {short(info.filename)}"
                    with archive.open(info) as member:
                        if _array_bytes(member, path, field) != info.file_size:
                            raise _error(path, field, "the array's header does not match its size")
            schema = json.loads(
                _read_bounded(archive, archive.getinfo("schema.json"), budget, path)
            )
    except ModelFileError:
        raise
    except Exception as exc:  # zipfile, numpy's header parser, json: many kinds
        raise _error(
            path,
            PIPELINE,
            f"the pipeline cannot be read ({type(exc).__name__}: {short(str(exc))})",
        ) from None
    total = sum(sizes.get(name, 0) for name in _referenced_files(schema))
    if total > budget:
        raise _error(
            path, PIPELINE, f"the pipeline would read {total} bytes of arrays, over {budget}"
        )


# --- integrity and the keyed signature ----------------------------------------------------


def _signature(key: bytes, members: dict[str, bytes]) -> str:
    """HMAC-SHA256 of every member but the record, each framed by its name and length."""
    mac = hmac.new(key, _SIGNATURE_DOMAIN, hashlib.sha256)
    for name in sorted(members):
        if name == INTEGRITY:
            continue
        data = members[name]
        mac.update(name.encode() + b"\0" + len(data).to_bytes(8, "big"))
        mac.update(data)
    return mac.hexdigest()


def integrity_record(members: dict[str, bytes], key: bytes | None) -> bytes:
    """``integrity.json`` for ``members``: their SHA-256, and their HMAC when ``key`` is given."""
    record = {
        "sha256": {
            name: hashlib.sha256(data).hexdigest() for name, data in sorted(members.items())
        },
        "hmac_sha256": None if key is None else _signature(key, members),
    }
    return json.dumps(record, indent=1).encode()


def _is_hex(value) -> bool:
    return (
        isinstance(value, str) and len(value) == 64 and all(c in "0123456789abcdef" for c in value)
    )


def check_integrity(path: Path, members: dict[str, bytes], key: bytes | None) -> None:
    """Check the checksums of ``integrity.json`` and, with a key, the signature.

    Raises
    ------
    ModelFileError
        If the record is malformed, a checksum differs (damage), the file is unsigned or has no
        record while a key is given, or the signature differs (another key, or tampering).
    """
    unsigned_fix = (
        "load only files your lab signed: save the model again with save_model(..., key=), "
        "or load without a key if you trust this file"
    )
    if INTEGRITY not in members:
        if key is not None:
            raise _error(path, INTEGRITY, "the file is not signed", unsigned_fix)
        return
    try:
        record = json.loads(members[INTEGRITY])
    except (ValueError, RecursionError) as exc:
        raise _error(path, INTEGRITY, f"not valid JSON ({short(str(exc))})") from None
    expected = sorted(name for name in members if name != INTEGRITY)
    sums = record.get("sha256") if isinstance(record, dict) else None
    if (
        not isinstance(record, dict)
        or set(record) != {"sha256", "hmac_sha256"}
        or not isinstance(sums, dict)
        or sorted(sums) != expected
        or not all(_is_hex(v) for v in sums.values())
        or not (record["hmac_sha256"] is None or _is_hex(record["hmac_sha256"]))
    ):
        raise _error(path, INTEGRITY, "the integrity record is malformed")
    for name in expected:
        if not hmac.compare_digest(hashlib.sha256(members[name]).hexdigest(), sums[name]):
            raise _error(
                path,
                name,
                "the member does not match its checksum: the file was altered or damaged",
            )
    if key is None:
        return
    if record["hmac_sha256"] is None:
        raise _error(path, INTEGRITY, "the file is not signed", unsigned_fix)
    if not hmac.compare_digest(_signature(key, members), record["hmac_sha256"]):
        raise _error(
            path,
            INTEGRITY,
            "the signature does not match: the file was signed with another key or altered",
            "load only files signed with this key; check that the key is the lab's",
        )
