"""The schema of ``model.json``: every field's type and range, checked before it is used.

======================  ===================================================================
field                   value
======================  ===================================================================
``format``              ``"hsi_tumor-model"``
``format_version``      an integer in :data:`SUPPORTED_VERSIONS` (not a bool)
``hsi_tumor_version``   a string of at most 64 characters
``pipeline_sha256``     64 hexadecimal digits (format version 1 only)
``wavelengths``         null, or 1 to :data:`MAX_BANDS` finite numbers, strictly ascending,
                        within :data:`PLAUSIBLE_NM` (nm)
``class_names``         an object of 1 to 255 entries: decimal class id → name; the ids
                        are the classifier's classes
``preprocessing``       a list of at most 64 strings
``classifier``          a string
``training``            an object nested at most :data:`MAX_DEPTH` levels deep
``patients``            a list of strings
``domain``              optional (models trained by hsi_tumor ≥ 0.1 with a training
                        domain): an object of exactly the fields of
                        :data:`~hsi_tumor.models._domain.RECORD_FIELDS`: ``mean`` (p finite
                        numbers, p ≤ :data:`MAX_BANDS`), ``components`` (k lists of p finite
                        numbers, 1 ≤ k ≤ :data:`~hsi_tumor.models._domain.MAX_COMPONENTS`),
                        ``explained_variance`` (k positive numbers), ``residual_variance``
                        (3 non-negative numbers), ``total_variance``, ``t2_limit`` and
                        ``q_limit`` (positive numbers), ``n_samples`` (an integer > k + 1),
                        ``confidence`` (in (0.5, 1)), ``n_components`` (the parameter: an
                        integer ≥ 1 or a number in (0, 1)). ``p`` must be the number of
                        features the classifier takes (checked once the pipeline is rebuilt)
======================  ===================================================================

No other field is allowed. Strings are at most 1,000 characters unless said otherwise.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import numpy as np

from hsi_tumor._shared.errors import ModelFileError
from hsi_tumor.models._archive import META, short
from hsi_tumor.models._domain import (
    MAX_COMPONENTS,
    RECORD_FIELDS,
    TrainingDomain,
    domain_from_record,
)

__all__ = [
    "FORMAT",
    "MAX_BANDS",
    "MAX_DEPTH",
    "PLAUSIBLE_NM",
    "SUPPORTED_VERSIONS",
    "check_meta",
    "parse_meta",
]

FORMAT = "hsi_tumor-model"
#: Format versions this hsi_tumor reads: 1 (hsi_tumor 0.1; no checksum of ``model.json``) and
#: 2 (``integrity.json``: checksums of every member, optionally signed).
SUPPORTED_VERSIONS = (1, 2)
#: Most bands a model may take.
MAX_BANDS = 16384
#: Band centres a model may have (nm): ultraviolet to far infrared.
PLAUSIBLE_NM = (200.0, 20000.0)
#: Deepest nesting of the training summary.
MAX_DEPTH = 32
_MAX_TEXT = 1000
_CLASS_ID = re.compile(r"-?[0-9]{1,18}")
_FIELDS = {
    "format",
    "format_version",
    "hsi_tumor_version",
    "wavelengths",
    "class_names",
    "preprocessing",
    "classifier",
    "training",
    "patients",
}
_OPTIONAL = {"domain"}
_FIX = "use an unaltered copy of the model file, or save the model again with hsi_tumor.save_model"


def _error(path, field: str, problem: str, fix: str = _FIX) -> ModelFileError:
    return ModelFileError(problem, file=path, field=f"{META}: {field}", fix=fix)


def parse_meta(path: Path, data: bytes) -> dict:
    """``model.json`` parsed: a JSON object, or a :class:`ModelFileError` (never another kind)."""
    try:
        meta = json.loads(data)
    except (ValueError, RecursionError) as exc:  # bad UTF-8 or JSON, a 5,000-digit number
        raise ModelFileError(
            f"the model description is not valid JSON ({type(exc).__name__}: {short(str(exc))})",
            file=path,
            field=META,
            fix=_FIX,
        ) from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise _error(path, "format", "not an hsi_tumor model file", "check the file")
    return meta


def _text(path, field: str, value, limit: int = _MAX_TEXT) -> str:
    if not isinstance(value, str) or len(value) > limit:
        raise _error(path, field, f"{short(value)} is not a string of at most {limit} characters")
    return value


def _texts(path, field: str, value, limit: int) -> tuple[str, ...]:
    if not isinstance(value, list) or len(value) > limit:
        raise _error(path, field, f"{short(value)} is not a list of at most {limit} strings")
    return tuple(_text(path, f"{field}[{i}]", v) for i, v in enumerate(value))


def _wavelengths(path, value) -> np.ndarray | None:
    if value is None:
        return None
    if (
        not isinstance(value, list)
        or not 1 <= len(value) <= MAX_BANDS
        or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)
    ):
        raise _error(
            path, "wavelengths", f"{short(value)} is not a list of 1 to {MAX_BANDS} numbers"
        )
    wl = np.array(value, dtype=np.float64)
    low, high = PLAUSIBLE_NM
    if not np.all(np.isfinite(wl)) or not np.all((wl >= low) & (wl <= high)):
        raise _error(path, "wavelengths", f"wavelengths outside {low:g}–{high:g} nm or not finite")
    if not np.all(np.diff(wl) > 0):
        raise _error(path, "wavelengths", "wavelengths are not strictly ascending")
    return wl


def _class_names(path, value) -> dict[int, str]:
    if not isinstance(value, dict) or not 1 <= len(value) <= 255:
        raise _error(path, "class_names", f"{short(value)} is not an object of 1 to 255 names")
    names = {}
    for key, name in value.items():
        if not _CLASS_ID.fullmatch(key):  # int() would also take " 1", "+1", "1_0" or "١"
            raise _error(path, "class_names", f"{short(key)} is not a class id")
        names[int(key)] = _text(path, f"class_names[{key}]", name)
    if len(names) != len(value):
        raise _error(path, "class_names", "a class id is given twice")
    return names


def _depth(value) -> int:
    """Nesting depth of a JSON value (iterative)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        node, level = stack.pop()
        if isinstance(node, (dict, list)):
            deepest = max(deepest, level)
            stack.extend(
                (v, level + 1) for v in (node.values() if isinstance(node, dict) else node)
            )
    return deepest


def check_meta(path: Path, meta: dict, version: int) -> dict[str, Any]:
    """Check ``model.json`` against the schema (module docstring) and return its values.

    Parameters
    ----------
    path : Path
        The model file, for messages.
    meta : dict
        From :func:`parse_meta`.
    version : int
        The format version the archive's members say the file has (1 without
        ``integrity.json``, else 2); ``format_version`` must equal it.

    Returns
    -------
    dict
        ``wavelengths`` (ndarray or None), ``class_names`` (dict of int to str),
        ``preprocessing``, ``classifier``, ``training``, ``patients``, ``version``,
        ``domain`` (a TrainingDomain, or None when the file has none).

    Raises
    ------
    ModelFileError
        Naming the first field that does not conform.
    """
    found = meta.get("format_version")
    if type(found) is not int or found not in SUPPORTED_VERSIONS:
        raise _error(
            path,
            "format_version",
            f"model file format version {short(found)}; this hsi_tumor reads versions "
            f"{', '.join(map(str, SUPPORTED_VERSIONS))}",
            "load it with the hsi_tumor version that wrote it "
            f"({short(meta.get('hsi_tumor_version'))}) and retrain or re-save",
        )
    if found != version:
        raise _error(
            path,
            "format_version",
            f"format version {found} in an archive with the members of version {version}",
            "use an unaltered copy of the model file",
        )
    fields = _FIELDS | ({"pipeline_sha256"} if version == 1 else set())
    if not fields <= set(meta) <= fields | _OPTIONAL:
        odd = sorted((set(meta) ^ fields) - _OPTIONAL)
        raise _error(path, odd[0][:60], f"fields missing or unknown: {short(odd)}")
    training = meta["training"]
    if not isinstance(training, dict) or _depth(training) > MAX_DEPTH:
        raise _error(path, "training", f"not an object nested at most {MAX_DEPTH} levels deep")
    return {
        "wavelengths": _wavelengths(path, meta["wavelengths"]),
        "class_names": _class_names(path, meta["class_names"]),
        "preprocessing": _texts(path, "preprocessing", meta["preprocessing"], 64),
        "classifier": _text(path, "classifier", meta["classifier"]),
        "training": training,
        "patients": _texts(path, "patients", meta["patients"], 1_000_000),
        "version": _text(path, "hsi_tumor_version", meta["hsi_tumor_version"], 64),
        "domain": _domain(path, meta["domain"]) if "domain" in meta else None,
    }


def _numbers(path, field: str, value, size: int | None, *, low: float = -np.inf) -> np.ndarray:
    """``value`` as a float64 array: a list of ``size`` finite JSON numbers (1 to
    :data:`MAX_BANDS` when ``size`` is None), each at least ``low``."""
    if (
        not isinstance(value, list)
        or not 1 <= len(value) <= MAX_BANDS
        or (size is not None and len(value) != size)
        or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)
    ):
        wanted = f"{size}" if size is not None else f"1 to {MAX_BANDS}"
        raise _error(path, field, f"{short(value)} is not a list of {wanted} numbers")
    array = np.array(value, dtype=np.float64)
    if not np.all(np.isfinite(array)) or not np.all(array >= low):
        raise _error(path, field, f"values not finite or below {low:g}")
    return array


def _domain(path, value) -> TrainingDomain:
    """The training domain of ``model.json`` (module docstring), its shapes consistent."""
    if not isinstance(value, dict) or set(value) != set(RECORD_FIELDS):
        odd = sorted(set(value) ^ set(RECORD_FIELDS)) if isinstance(value, dict) else value
        raise _error(path, "domain", f"not an object of the training domain's fields: {short(odd)}")
    positive = float(np.nextafter(0.0, 1.0))
    mean = _numbers(path, "domain: mean", value["mean"], None)
    rows = value["components"]
    if not isinstance(rows, list) or not 1 <= len(rows) <= MAX_COMPONENTS:
        raise _error(path, "domain: components", f"not a list of 1 to {MAX_COMPONENTS} components")
    for i, row in enumerate(rows):
        _numbers(path, f"domain: components[{i}]", row, mean.size)
    k = len(rows)
    _numbers(path, "domain: explained_variance", value["explained_variance"], k, low=positive)
    _numbers(path, "domain: residual_variance", value["residual_variance"], 3, low=0.0)
    for name in ("total_variance", "t2_limit", "q_limit"):
        _numbers(path, f"domain: {name}", [value[name]], 1, low=positive)
    n = value["n_samples"]
    if type(n) is not int or not k + 1 < n:
        raise _error(path, "domain: n_samples", f"{short(n)} is not an integer above {k + 1}")
    confidence = value["confidence"]
    if type(confidence) is not float or not 0.5 < confidence < 1.0:
        raise _error(path, "domain: confidence", f"{short(confidence)} is not in (0.5, 1)")
    n_components = value["n_components"]
    if not (
        (type(n_components) is int and n_components >= 1)
        or (type(n_components) is float and 0.0 < n_components < 1.0)
    ):
        raise _error(
            path,
            "domain: n_components",
            f"{short(n_components)} is neither an integer ≥ 1 nor a fraction in (0, 1)",
        )
    return domain_from_record(value)
