"""Model files that cannot run code when loaded: skops for the pipeline, JSON for the rest.

A model file is a zip archive with two members:

``model.json``
    The format name and version, the wavelengths, class names, preprocessing description,
    training summary, patient ids, the hsi_tumor version, and the SHA-256 of the pipeline.
``pipeline.skops``
    The fitted scikit-learn pipeline in the `skops <https://skops.readthedocs.io>`_ format,
    which rebuilds objects from a declared schema instead of unpickling them. Before loading,
    every type the file would create is checked against skops' own safe defaults plus
    :data:`TRUSTED_TYPES`; a file that names any other type is refused unless the caller
    trusts that type explicitly.

Raw pickle and joblib are never used: unpickling runs whatever code the file names.
"""

from __future__ import annotations

import hashlib
import json
import os
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from hsi_tumor._shared.atomic import atomic_path
from hsi_tumor._shared.errors import (
    InvalidOptionError,
    InvalidTypeError,
    MissingFileError,
    ModelFileError,
    OutputExistsError,
)
from hsi_tumor.models._model import TumorModel

__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "TRUSTED_TYPES",
    "as_model",
    "jsonable",
    "load_model",
    "save_model",
]

FORMAT = "hsi_tumor-model"
FORMAT_VERSION = 1
_META, _PIPELINE = "model.json", "pipeline.skops"

#: Types a model file may contain beyond those skops trusts by default (numpy, scipy and
#: scikit-learn's estimators): our own estimators and the scikit-learn internals the named
#: classifiers are made of.
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


def save_model(model: TumorModel, path: str | os.PathLike, *, overwrite: bool = False) -> Path:
    """Write a model file (atomically: a temporary file, then one rename).

    Parameters
    ----------
    model : TumorModel
        From :func:`hsi_tumor.train` or :meth:`TumorModel.from_pipeline`.
    path : str or path-like
        The file to write (any name; ``.htmodel`` is customary).
    overwrite : bool, default=False
        Replace an existing file.

    Returns
    -------
    pathlib.Path
        The file written.

    Raises
    ------
    OutputExistsError
        If ``path`` exists and ``overwrite`` is False.

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

    path = Path(path)
    if path.exists() and not overwrite:
        raise OutputExistsError(
            "the model file exists already", file=path, fix="choose another name or overwrite=True"
        )
    pipeline = sio.dumps(model.pipeline)
    meta = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "hsi_tumor_version": model.version,
        "pipeline_sha256": hashlib.sha256(pipeline).hexdigest(),
        "wavelengths": None if model.wavelengths is None else model.wavelengths.tolist(),
        "class_names": {str(k): v for k, v in model.class_names.items()},
        "preprocessing": list(model.preprocessing),
        "classifier": model.classifier,
        "training": jsonable(model.training),
        "patients": list(model.patients),
    }
    with atomic_path(path) as tmp:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            archive.writestr(_META, json.dumps(meta, indent=1, allow_nan=True))
            archive.writestr(_PIPELINE, pipeline)
    return path


def _read_archive(path: Path) -> tuple[dict, bytes]:
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
            if not {_META, _PIPELINE} <= names:
                raise ModelFileError(
                    f"not an hsi_tumor model file (members {sorted(names)[:5]})",
                    file=path,
                    field=_META,
                    fix="give a file written by hsi_tumor.save_model",
                )
            meta_bytes = archive.read(_META)
            pipeline = archive.read(_PIPELINE)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError, ValueError) as exc:
        if isinstance(exc, ModelFileError):
            raise
        raise ModelFileError(
            f"not a readable model file ({type(exc).__name__}: {exc})",
            file=path,
            fix="give a file written by hsi_tumor.save_model; the file may be truncated",
        ) from None
    try:
        meta = json.loads(meta_bytes)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelFileError(
            f"the model description is not valid JSON ({exc})",
            file=path,
            field=_META,
            fix="the file is corrupt; save the model again with hsi_tumor.save_model",
        ) from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ModelFileError(
            "not an hsi_tumor model file", file=path, field="format", fix="check the file"
        )
    if meta.get("format_version") != FORMAT_VERSION:
        raise ModelFileError(
            f"model file format version {meta.get('format_version')!r}; this hsi_tumor reads "
            f"version {FORMAT_VERSION}",
            file=path,
            field="format_version",
            fix="load it with the hsi_tumor version that wrote it "
            f"({meta.get('hsi_tumor_version')}) and retrain or re-save",
        )
    if hashlib.sha256(pipeline).hexdigest() != meta.get("pipeline_sha256"):
        raise ModelFileError(
            "the pipeline does not match its checksum: the file was altered or damaged",
            file=path,
            field="pipeline_sha256",
            fix="use an unaltered copy of the model file",
        )
    return meta, pipeline


def load_model(path: str | os.PathLike, *, trusted: Sequence[str] = ()) -> TumorModel:
    """Read a model file without running code from it.

    Parameters
    ----------
    path : str or path-like
        A file written by :func:`save_model`.
    trusted : sequence of str, optional
        Further fully qualified type names to allow (for pipelines with estimators from
        other libraries). Only add types you know are safe to construct.

    Returns
    -------
    TumorModel
        The model as saved: it predicts identically.

    Raises
    ------
    MissingFileError
        If the file does not exist.
    ModelFileError
        If the file is not a model file, is truncated, was altered (checksum), comes from an
        unknown format version, or would create a type that is not trusted.
    """
    import skops.io as sio

    path = Path(path)
    if not path.is_file():
        raise MissingFileError("no such model file", file=path, fix="check the path")
    meta, pipeline_bytes = _read_archive(path)
    try:
        untrusted = sio.get_untrusted_types(data=pipeline_bytes)
    except Exception as exc:  # skops raises bare Exceptions on malformed schemas
        raise ModelFileError(
            f"the pipeline cannot be read ({type(exc).__name__}: {exc})",
            file=path,
            field=_PIPELINE,
            fix="the file is corrupt; save the model again with hsi_tumor.save_model",
        ) from None
    allowed = set(TRUSTED_TYPES) | set(trusted)
    refused = sorted(t for t in untrusted if t not in allowed)
    if refused:
        raise ModelFileError(
            f"the pipeline would create types that are not trusted: {', '.join(refused)}",
            file=path,
            field=_PIPELINE,
            fix="if you know the file and these types are safe, pass "
            "load_model(path, trusted=[...]) with those names",
        )
    try:
        pipeline = sio.loads(pipeline_bytes, trusted=list(untrusted))
    except Exception as exc:
        raise ModelFileError(
            f"the pipeline cannot be rebuilt ({type(exc).__name__}: {exc})",
            file=path,
            field=_PIPELINE,
            fix="load it with the scikit-learn and hsi_tumor versions that wrote it "
            f"(hsi_tumor {meta.get('hsi_tumor_version')})",
        ) from None
    try:
        wavelengths = meta["wavelengths"]
        return TumorModel(
            pipeline,
            None if wavelengths is None else np.asarray(wavelengths, dtype=np.float64),
            {int(k): v for k, v in meta["class_names"].items()},
            preprocessing=tuple(meta.get("preprocessing", ())),
            classifier=str(meta.get("classifier", "")),
            training=dict(meta.get("training", {})),
            patients=tuple(meta.get("patients", ())),
            version=str(meta.get("hsi_tumor_version", "")),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelFileError(
            f"the model description is incomplete ({type(exc).__name__}: {exc})",
            file=path,
            field=_META,
            fix="give a file written by hsi_tumor.save_model, or save the model again",
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
        return load_model(model)
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
