"""Model files that cannot run code when loaded: skops for the pipeline, JSON for the rest.

A model file (format version 2) is a zip archive with three members:

``model.json``
    The format name and version, the wavelengths, class names, preprocessing description,
    training summary, patient ids, the hsi_tumor version and, for models that have one, the
    training domain (:class:`~hsi_tumor.models.TrainingDomain`: its mean, principal axes,
    variances and limits as JSON numbers; schema: :mod:`._schema`).
``pipeline.skops``
    The fitted scikit-learn pipeline in the `skops <https://skops.readthedocs.io>`_ format,
    which rebuilds objects from a declared schema instead of unpickling them. Before loading,
    every type the file would create is checked against skops' own safe defaults plus
    :data:`TRUSTED_TYPES`; a file that names any other type is refused unless the caller
    trusts that type explicitly, and types that can run code (:data:`NEVER_TRUSTED`) are
    refused even then.
``integrity.json``
    The SHA-256 of the two other members and, for a file saved with a key, their HMAC-SHA256
    (:mod:`._archive`).

What :func:`load_model` checks, in this order, before the model can be used: the archive and
each member's size against :data:`~hsi_tumor.models._archive.MEMBER_BUDGETS` (inflated in
bounded chunks); the checksums and, with a key, the signature; ``model.json`` against its
schema; the pipeline archive's sizes and array headers; the types it would create; then every
fitted array of the rebuilt pipeline against what its predictor needs (:mod:`._fitted`), and
the class ids against the class names. Version 1 files (hsi_tumor 0.1: a checksum of the
pipeline only, in ``model.json``) are read with every check but the checksum of ``model.json``.

Raw pickle and joblib are never used: unpickling runs whatever code the file names.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from hsi_tumor._shared.atomic import atomic_path
from hsi_tumor._shared.errors import (
    HsiTumorError,
    InvalidOptionError,
    InvalidTypeError,
    MissingFileError,
    ModelFileError,
    OutputExistsError,
)
from hsi_tumor.models._archive import (
    INTEGRITY,
    KEY_VARIABLE,
    MEMBER_BUDGETS,
    META,
    PIPELINE,
    as_key,
    check_integrity,
    check_skops_archive,
    integrity_record,
    read_members,
    short,
)
from hsi_tumor.models._domain import domain_record
from hsi_tumor.models._fitted import check_fitted
from hsi_tumor.models._model import TumorModel
from hsi_tumor.models._schema import FORMAT, MAX_BANDS, check_meta, parse_meta

__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "KEY_VARIABLE",
    "MODEL_KINDS",
    "NEVER_TRUSTED",
    "TRUSTED_TYPES",
    "ModelKind",
    "as_model",
    "jsonable",
    "load_model",
    "rebuild_objects",
    "register_model_kind",
    "save_model",
]

#: The format version :func:`save_model` writes.
FORMAT_VERSION = 2

#: Types a model file may contain beyond those skops trusts by default (numpy, scipy and
#: scikit-learn's estimators): our own estimators and the scikit-learn internals the named
#: classifiers are made of. skops itself does not trust ``Tree`` and ``TreePredictor``, whose
#: node arrays scikit-learn indexes without bounds checks: hsi_tumor checks every node of them
#: after loading (:mod:`._fitted`), so a crafted file is refused rather than crashing.
TRUSTED_TYPES: tuple[str, ...] = (
    "hsi_tumor.models._pls_da.PLSDAClassifier",
    "hsi_tumor.preprocessing._absorbance.Absorbance",
    "hsi_tumor.preprocessing._multiplicative_scatter_correction.MultiplicativeScatterCorrection",
    "hsi_tumor.preprocessing._normalization.AreaNormalization",
    "hsi_tumor.preprocessing._normalization.MinMaxNormalization",
    "hsi_tumor.preprocessing._normalization.VectorNormalization",
    "hsi_tumor.preprocessing._savitzky_golay.SavitzkyGolay",
    "hsi_tumor.preprocessing._standard_normal_variate.StandardNormalVariate",
    "hsi_tumor.preprocessing._wavelength_selection.BadBandRemoval",
    "hsi_tumor.preprocessing._wavelength_selection.WavelengthRange",
    "sklearn.calibration._CalibratedClassifier",
    "sklearn.calibration._SigmoidCalibration",
    "sklearn.ensemble._hist_gradient_boosting.binning._BinMapper",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    "sklearn.model_selection._split.GroupKFold",
    "sklearn.model_selection._split.StratifiedGroupKFold",
    "sklearn.model_selection._split.StratifiedKFold",
    "sklearn.tree._tree.Tree",
)

#: Types that are refused even when the caller names them in ``trusted=``: anything from a
#: module that runs code, spawns processes, reaches files or the network or rebuilds objects
#: from bytes (os, subprocess, pickle, operator, ... — the operator functions are the code
#: reuse route of skops' CVE-2025-54412), built-ins other than plain data types (eval, exec,
#: getattr, open, ...), and functions named like loaders, savers or runners anywhere.
NEVER_TRUSTED = re.compile(
    r"(?:os|posix|nt|subprocess|sys|shutil|importlib|runpy|pickle|_pickle|copyreg|marshal"
    r"|shelve|dill|cloudpickle|joblib|code|codeop|ctypes|cffi|socket|ssl|multiprocessing|pty"
    r"|operator|_operator|functools|types|inspect|io|_io|pathlib|tempfile|webbrowser|urllib"
    r"|http|asyncio|threading|_thread|signal|gc|pdb|bdb|timeit|trace|platform|glob|pkgutil"
    r"|site|sysconfig|zipimport|requests|dask|distributed)(?:\..*)?"
    r"|builtins\.(?!(?:complex|bytes|bytearray|frozenset|range|slice|NoneType)$).*"
    r"|.*\.(?:load|loads|save|savez|fromfile|tofile|memmap|loadtxt|genfromtxt|read_pickle"
    r"|system|popen|spawn\w*|exec\w*|eval|call|run|open|compile|__import__)"
)

_REPAIR = "use an unaltered copy of the model file, or train and save the model again"


@dataclass(frozen=True)
class ModelKind:
    """Another kind of model file: the same archive (``model.json``, ``pipeline.skops``,
    ``integrity.json``) with its own ``format`` name and readers.

    ``write(model, path)`` returns the ``model.json`` and ``pipeline.skops`` bytes (and must
    refuse what ``read`` would refuse); ``read(path, members, trusted)`` rebuilds the model
    from checked members (integrity already verified), raising :class:`ModelFileError`.
    """

    type: type
    format: str
    write: Callable[[Any, Path], dict[str, bytes]]
    read: Callable[[Path, dict[str, bytes], Sequence[str]], Any]


#: The other model kinds :func:`save_model` and :func:`load_model` handle, by format name
#: (:func:`register_model_kind`; the fraction models of :mod:`hsi_tumor.fraction`).
MODEL_KINDS: dict[str, ModelKind] = {}


def register_model_kind(kind: ModelKind) -> None:
    """Let :func:`save_model` and :func:`load_model` handle another kind of model."""
    MODEL_KINDS[kind.format] = kind


def _format_of(data: bytes) -> str | None:
    try:
        meta = json.loads(data)
    except (ValueError, RecursionError):
        return None
    value = meta.get("format") if isinstance(meta, dict) else None
    return value if isinstance(value, str) else None


def rebuild_objects(path: Path, data: bytes, trusted: Sequence[str] = ()):
    """The objects of a ``pipeline.skops`` member, rebuilt creating only allowed types."""
    return _rebuild(path, data, trusted)


def jsonable(value: Any) -> Any:
    """``value`` with numpy scalars and arrays turned into JSON types (recursively)."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    return value


def save_model(
    model: TumorModel, path: str | os.PathLike, *, overwrite: bool = False, key=None
) -> Path:
    """Write a model file (atomically: a temporary file, then one rename).

    Parameters
    ----------
    model : TumorModel
        From :func:`hsi_tumor.train` or :meth:`TumorModel.from_pipeline`.
    path : str or path-like
        The file to write (any name; ``.htmodel`` is customary).
    overwrite : bool, default=False
        Replace an existing file.
    key : bytes or str, optional
        Sign the file with this key (HMAC-SHA256 of every member), so that
        ``load_model(path, key=...)`` can tell it was written by a holder of the key. At least
        16 bytes; a str is encoded as UTF-8. Without it, the environment variable
        ``HSI_TUMOR_MODEL_KEY`` is used when it is set; else the file is not signed. Keep the
        key out of code and repositories: in that variable, or in a file only the lab's
        accounts can read (make one with ``secrets.token_hex(32)``).

    Returns
    -------
    pathlib.Path
        The file written.

    Raises
    ------
    OutputExistsError
        If ``path`` exists and ``overwrite`` is False.
    ModelFileError
        If the model could not be read back: wavelengths outside 200–20,000 nm, a member
        over its size budget, more than 16,384 bands.
    InvalidOptionError, InvalidTypeError
        If the key is shorter than 16 bytes, or neither bytes nor str.

    Examples
    --------
    >>> import tempfile, pathlib, hsi_tumor as ht
    >>> spec = ht.simulate_specimen(seed=0, shape=(40, 48), n_bands=40)
    >>> model = ht.train(spec.calibrate(), spec.labels, classifier="lda", random_state=0)
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "lda.htmodel"
    >>> ht.load_model(ht.save_model(model, path)).class_names
    {1: '1', 2: '2'}
    """
    import skops.io as sio

    key = as_key(key)
    path = Path(path)
    if path.exists() and not overwrite:
        raise OutputExistsError(
            "the model file exists already", file=path, fix="choose another name or overwrite=True"
        )
    kind = next((k for k in MODEL_KINDS.values() if isinstance(model, k.type)), None)
    if kind is not None:
        _write(path, kind.write(model, path), key)
        return path
    if not isinstance(model, TumorModel):
        raise InvalidTypeError(
            f"model is a {type(model).__name__}, not a TumorModel or FractionModel",
            field="model",
            fix="save what hsi_tumor.train or hsi_tumor.train_fraction made",
        )
    meta = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "hsi_tumor_version": model.version,
        "wavelengths": None if model.wavelengths is None else model.wavelengths.tolist(),
        "class_names": {str(k): v for k, v in model.class_names.items()},
        "preprocessing": list(model.preprocessing),
        "classifier": model.classifier,
        "training": jsonable(model.training),
        "patients": list(model.patients),
    }
    if model.domain is not None:
        meta["domain"] = domain_record(model.domain)
    members = {
        META: json.dumps(meta, indent=1, allow_nan=True).encode(),
        PIPELINE: sio.dumps(model.pipeline),
    }
    _check_readable(path, members)
    _write(path, members, key)
    return path


def _write(path: Path, members: dict[str, bytes], key: bytes | None) -> None:
    """The archive, with its integrity record, written atomically."""
    for name, data in members.items():
        if len(data) > MEMBER_BUDGETS[name]:
            raise ModelFileError(
                f"the model cannot be saved: {len(data)} bytes, over {MEMBER_BUDGETS[name]}",
                file=path,
                field=name,
                fix="train on fewer pixels",
            )
    members = {**members, INTEGRITY: integrity_record(members, key)}
    with atomic_path(path) as tmp:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for name, data in members.items():
                archive.writestr(name, data)


def _check_readable(path: Path, members: dict[str, bytes]) -> None:
    """Refuse to write what :func:`load_model` would refuse to read (the schema, the budgets)."""
    fix = (
        f"a model file holds wavelengths in nm (200–20,000), at most {MAX_BANDS} bands and at "
        "most 1 GiB of fitted arrays: train on fewer pixels (pixels_per_class=) or fewer trees"
    )
    for name, data in members.items():
        if len(data) > MEMBER_BUDGETS[name]:
            raise ModelFileError(
                f"the model cannot be saved: {len(data)} bytes, over {MEMBER_BUDGETS[name]}",
                file=path,
                field=name,
                fix=fix,
            )
    try:
        check_meta(path, parse_meta(path, members[META]), FORMAT_VERSION)
    except ModelFileError as exc:
        raise ModelFileError(
            f"the model cannot be saved: {exc.problem}", file=path, field=exc.field, fix=fix
        ) from None


def _rebuild(path: Path, data: bytes, trusted: Sequence[str]):
    """The pipeline, rebuilt by skops from checked bytes, creating only allowed types."""
    import skops.io as sio

    check_skops_archive(path, data)
    try:
        untrusted = sio.get_untrusted_types(data=data)
    except Exception as exc:  # skops raises bare Exceptions on malformed schemas
        raise ModelFileError(
            f"the pipeline cannot be read ({type(exc).__name__}: {short(str(exc))})",
            file=path,
            field=PIPELINE,
            fix=_REPAIR,
        ) from None
    dangerous = sorted(t for t in untrusted if NEVER_TRUSTED.fullmatch(t))
    if dangerous:
        raise ModelFileError(
            f"the pipeline names {short(', '.join(dangerous))}, which can run code or reach "
            "files: such types are never loaded, whatever trusted= says",
            file=path,
            field=PIPELINE,
            fix="do not use this file; train the model again, or ask its author for a model "
            "file written by hsi_tumor.save_model",
        )
    allowed = set(TRUSTED_TYPES) | set(trusted)
    refused = sorted(t for t in untrusted if t not in allowed)
    if refused:
        raise ModelFileError(
            f"the pipeline would create types that are not trusted: {short(', '.join(refused))}",
            file=path,
            field=PIPELINE,
            fix="if you know the file and these types are safe, pass "
            "load_model(path, trusted=[...]) with those names",
        )
    try:
        return sio.loads(data, trusted=list(untrusted))
    except Exception as exc:
        raise ModelFileError(
            f"the pipeline cannot be rebuilt ({type(exc).__name__}: {short(str(exc))})",
            file=path,
            field=PIPELINE,
            fix="load it with the scikit-learn and hsi_tumor versions that wrote it, or "
            "train and save the model again",
        ) from None


def _check_classes(path: Path, pipeline, class_names: dict[int, str], n_bands) -> int:
    """The bands the model takes; the classifier's classes must be the named ones."""
    classes = getattr(pipeline, "classes_", None)
    ids = np.asarray(classes).tolist() if isinstance(classes, np.ndarray) else None
    if ids is None or sorted(class_names) != ids:
        raise ModelFileError(
            f"class names for ids {short(sorted(class_names))}, the classifier's classes are "
            f"{short(ids)}",
            file=path,
            field=f"{META}: class_names",
            fix=_REPAIR,
        )
    n = getattr(pipeline, "n_features_in_", None)
    if n_bands is not None and n != n_bands:
        raise ModelFileError(
            f"{n_bands} wavelengths for a pipeline that takes {short(n)} bands",
            file=path,
            field=f"{META}: wavelengths",
            fix=_REPAIR,
        )
    if not isinstance(n, (int, np.integer)) or not 1 <= n <= MAX_BANDS:
        raise ModelFileError(
            f"the pipeline takes {short(n)} bands", file=path, field=PIPELINE, fix=_REPAIR
        )
    return int(n)


def load_model(path: str | os.PathLike, *, trusted: Sequence[str] = (), key=None) -> TumorModel:
    """Read a model file without running code from it, and check it before it is used.

    Parameters
    ----------
    path : str or path-like
        A file written by :func:`save_model`.
    trusted : sequence of str, optional
        Further fully qualified type names to allow (for pipelines with estimators from
        other libraries). Only add types you know are safe to construct; types that can run
        code (:data:`NEVER_TRUSTED`) are refused anyway.
    key : bytes or str, optional
        Accept only a file signed with this key (``save_model(..., key=)``). Without it, the
        environment variable ``HSI_TUMOR_MODEL_KEY`` is used when it is set; else signatures
        are not required (checksums still detect damage, but anyone can recompute them).

    Returns
    -------
    TumorModel
        The model as saved: it predicts identically.

    Raises
    ------
    MissingFileError
        If the file does not exist.
    ModelFileError
        If the file is not a model file, is truncated or damaged (checksums), unsigned or
        signed with another key while a key is given, larger than its budgets, from an
        unknown format version, if ``model.json`` breaks its schema, if the pipeline would
        create a type that is not trusted, or if its fitted arrays are not what its
        predictors need (see the module docstring).
    InvalidOptionError, InvalidTypeError
        If the key is shorter than 16 bytes, or neither bytes nor str.
    """
    key = as_key(key)
    path = Path(path)
    if not path.is_file():
        if path.exists():  # a folder, a FIFO (reading it would wait forever), a device
            raise ModelFileError(
                "not a regular file", file=path, field="path", fix="give a model file's path"
            )
        raise MissingFileError("no such model file", file=path, fix="check the path")
    members = read_members(path, (META, PIPELINE))
    version = 2 if INTEGRITY in members else 1
    check_integrity(path, members, key)
    kind = MODEL_KINDS.get(_format_of(members[META]) or "")
    if kind is not None:
        return kind.read(path, members, trusted)
    meta = parse_meta(path, members[META])
    values = check_meta(path, meta, version)
    if version == 1 and not hmac.compare_digest(
        hashlib.sha256(members[PIPELINE]).hexdigest(), str(meta["pipeline_sha256"])
    ):
        raise ModelFileError(
            "the pipeline does not match its checksum: the file was altered or damaged",
            file=path,
            field="pipeline_sha256",
            fix="use an unaltered copy of the model file",
        )
    pipeline = _rebuild(path, members[PIPELINE], trusted)
    wavelengths = values["wavelengths"]
    n_bands = _check_classes(
        path, pipeline, values["class_names"], None if wavelengths is None else wavelengths.size
    )
    check_fitted(pipeline, path=path, n_features=n_bands)
    try:
        return TumorModel(
            pipeline,
            wavelengths,
            values["class_names"],
            preprocessing=values["preprocessing"],
            classifier=values["classifier"],
            training=values["training"],
            patients=values["patients"],
            version=values["version"],
            domain=values["domain"],
        )
    except HsiTumorError as exc:
        raise ModelFileError(
            f"the model cannot be rebuilt: {exc.problem}",
            file=path,
            field=exc.field,
            fix=_REPAIR,
        ) from None


def as_model(model, *, field: str = "model") -> TumorModel:
    """The :class:`TumorModel` that ``model`` means, wherever hsi_tumor expects a model.

    The one model policy of :func:`hsi_tumor.classify_cube`,
    :func:`hsi_tumor.inference.classify_to_folder`, :func:`hsi_tumor.classify_many` and the
    ``hsi-tumor`` command:

    - a :class:`TumorModel` is used as it is;
    - a path is a model file, read with :func:`load_model` (its checks included);
    - a fitted scikit-learn classifier or Pipeline is wrapped with
      :meth:`TumorModel.from_pipeline` (it has no wavelengths: only the band count of a cube
      can then be checked).

    Parameters
    ----------
    model : TumorModel, str, os.PathLike or fitted scikit-learn classifier
    field : str, default="model"
        The argument's name, for error messages.

    Returns
    -------
    TumorModel

    Raises
    ------
    InvalidOptionError
        If ``model`` is an estimator that is not fitted or not a classifier
        (:class:`~hsi_tumor.InvalidTypeError`, a subclass, if it is none of these kinds).
    MissingFileError, ModelFileError
        If the model file is missing or cannot be loaded safely.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
    >>> from hsi_tumor.models import as_model
    >>> lda = LinearDiscriminantAnalysis().fit(np.eye(4)[[0, 1, 2, 3, 0, 1]], [1, 1, 2, 2, 1, 2])
    >>> as_model(lda).class_names
    {1: '1', 2: '2'}
    """
    if isinstance(model, TumorModel):
        return model
    if isinstance(model, (str, os.PathLike)):
        loaded = load_model(model)
        if not isinstance(loaded, TumorModel):  # another registered kind: a fraction model
            raise ModelFileError(
                "a tumor-fraction model file (hsi_tumor.train_fraction), not a classifier",
                file=Path(model),
                field=field,
                fix="give a classifier model file (hsi_tumor.train), or estimate the tumor "
                "fraction with this one (hsi_tumor.estimate_fraction)",
            )
        return loaded
    if hasattr(model, "predict") and hasattr(model, "fit"):
        from sklearn.exceptions import NotFittedError
        from sklearn.utils.validation import check_is_fitted

        try:
            check_is_fitted(model)
        except NotFittedError:
            raise InvalidOptionError(
                f"{field} is an unfitted {type(model).__name__}",
                field=field,
                fix="fit it first (on integer class ids), or use hsi_tumor.train",
            ) from None
        if not hasattr(model, "classes_"):
            raise InvalidOptionError(
                f"{field} is a {type(model).__name__} without classes_: not a classifier",
                field=field,
                fix="end the pipeline with a scikit-learn classifier",
            )
        return TumorModel.from_pipeline(model)
    raise InvalidTypeError(
        f"{field} is a {type(model).__name__}",
        field=field,
        fix="pass a TumorModel (hsi_tumor.train), the path of a model file "
        "(hsi_tumor.save_model), or a fitted scikit-learn classifier",
    )
