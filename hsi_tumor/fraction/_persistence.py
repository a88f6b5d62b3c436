"""Fraction model files: the model file archive of :mod:`hsi_tumor.models` with its own format.

``model.json`` holds ``"format": "hsi_tumor-fraction-model"``, the method, wavelengths, class
names, the tumor class, the unmixing endmembers (as JSON numbers: a float64 written by Python's
``json`` reads back to the same bits), the training domain's arrays, the training summary and
patients; ``pipeline.skops`` holds the learned estimator's PCA and regressors (for unmixing
the PCA of its training domain; an empty dict in files of earlier versions), rebuilt by skops
from a declared schema and checked like a classifier pipeline's trees; ``integrity.json`` the
checksums (and the signature, with a key). Saved and read by :func:`hsi_tumor.save_model` and
:func:`hsi_tumor.load_model`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from hsi_tumor._shared.errors import ModelFileError
from hsi_tumor.fraction._conformal import IntervalCalibration
from hsi_tumor.fraction._model import METHODS, FractionModel
from hsi_tumor.models._archive import META, PIPELINE
from hsi_tumor.models._domain import domain_record
from hsi_tumor.models._fitted import check_fitted_parts
from hsi_tumor.models._persistence import ModelKind, jsonable, rebuild_objects
from hsi_tumor.models._schema import MAX_BANDS
from hsi_tumor.models._schema import _domain as check_domain

__all__ = ["FORMAT", "FORMAT_VERSION", "KIND", "load_fraction_model"]

FORMAT = "hsi_tumor-fraction-model"
FORMAT_VERSION = 1
_LEARNED_PARTS = ("pca", "fraction", "lower", "upper")
_FIX = "use an unaltered copy of the model file, or train and save the fraction model again"


def _error(path: Path, field: str, problem: str) -> ModelFileError:
    return ModelFileError(problem, file=path, field=f"{META}: {field}", fix=_FIX)


def _write(model: FractionModel, path: Path) -> dict[str, bytes]:
    import skops.io as sio

    meta = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "hsi_tumor_version": model.version,
        "method": model.method,
        "wavelengths": model.wavelengths.tolist(),
        "class_names": {str(k): v for k, v in model.class_names.items()},
        "tumor_class": int(model.tumor_class),
        "endmembers": None if model.endmembers is None else model.endmembers.tolist(),
        "endmember_classes": None
        if model.endmember_classes is None
        else [int(c) for c in model.endmember_classes],
        "context_sigma": model.context_sigma,
        "domain": None if model.domain is None else domain_record(model.domain),
        "interval_calibration": None
        if model.interval_calibration is None
        else model.interval_calibration.to_dict(),
        "training": jsonable(model.training),
        "patients": list(model.patients),
    }
    members = {
        META: json.dumps(meta, allow_nan=False).encode(),
        PIPELINE: sio.dumps({k: model.estimators[k] for k in sorted(model.estimators)}),
    }
    _read(path, members, ())  # refuse to write what could not be read back
    return members


def _array(path, meta, name, *, ndim, shape=None) -> np.ndarray:
    value = meta.get(name)
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise _error(path, name, f"{name} is not an array of numbers") from None
    if array.ndim != ndim or not np.all(np.isfinite(array)) or array.size == 0:
        raise _error(path, name, f"{name} is not a finite {ndim}-D array")
    if shape is not None and any(
        s is not None and s != a for s, a in zip(shape, array.shape, strict=True)
    ):
        raise _error(path, name, f"{name} has shape {array.shape}, expected {shape}")
    return array


def _read(path: Path, members: dict[str, bytes], trusted: Sequence[str]) -> FractionModel:
    try:
        meta = json.loads(members[META])
    except (ValueError, RecursionError):
        raise _error(path, "(all)", "the model description is not valid JSON") from None
    if meta.get("format_version") != FORMAT_VERSION:
        raise _error(path, "format_version", f"unknown version {meta.get('format_version')!r}")
    method = meta.get("method")
    if method not in METHODS:
        raise _error(path, "method", f"unknown method {method!r}")
    wavelengths = _array(path, meta, "wavelengths", ndim=1)
    if (
        wavelengths.size > MAX_BANDS
        or np.any(np.diff(wavelengths) <= 0)
        or wavelengths[0] < 200
        or wavelengths[-1] > 20_000
    ):
        raise _error(path, "wavelengths", "not ascending wavelengths in nm (200–20,000)")
    n_bands = wavelengths.size
    names = meta.get("class_names")
    try:
        class_names = {int(k): str(v) for k, v in names.items()}
    except (AttributeError, TypeError, ValueError):
        raise _error(path, "class_names", "class_names is not {id: name}") from None
    tumor = meta.get("tumor_class")
    if not isinstance(tumor, int) or tumor not in class_names:
        raise _error(path, "tumor_class", f"tumor_class {tumor!r} is not a named class")
    sigma = meta.get("context_sigma")
    if sigma is not None and not (isinstance(sigma, (int, float)) and 0 < sigma <= 100):
        raise _error(path, "context_sigma", f"context_sigma {sigma!r} is not in (0, 100]")
    estimators: dict[str, Any] = rebuild_objects(path, members[PIPELINE], trusted)
    if not isinstance(estimators, dict):
        raise _error(path, PIPELINE, "the estimators are not a dict")
    endmembers = classes = None
    if method == "unmixing":
        endmembers = _array(path, meta, "endmembers", ndim=2, shape=(None, n_bands))
        classes = np.asarray(meta.get("endmember_classes"))
        if classes.shape != (endmembers.shape[0],) or not set(classes.tolist()) <= set(class_names):
            raise _error(path, "endmember_classes", "not one named class per endmember")
        if tumor not in classes or len(set(classes.tolist())) < 2:
            raise _error(path, "endmember_classes", "no tumor endmember, or one class only")
        if sorted(estimators) not in ([], ["pca"]):  # the domain's PCA (none before)
            raise _error(path, PIPELINE, "an unmixing model holds at most its domain's PCA")
        if estimators:
            pca = estimators["pca"]
            if getattr(pca, "n_features_in_", None) != n_bands:
                raise _error(path, PIPELINE, f"the PCA does not take the model's {n_bands} bands")
            check_fitted_parts({"pca": pca}, path=path, n_features=n_bands)
    else:
        if sorted(estimators) != sorted(_LEARNED_PARTS):
            raise _error(path, PIPELINE, f"expected the estimators {_LEARNED_PARTS}")
        pca = estimators["pca"]
        if getattr(pca, "n_features_in_", None) != n_bands:
            raise _error(path, PIPELINE, f"the PCA does not take the model's {n_bands} bands")
        check_fitted_parts({"pca": pca}, path=path, n_features=n_bands)
        k = int(pca.n_components_) * (2 if sigma else 1)
        for name in _LEARNED_PARTS[1:]:
            check_fitted_parts({name: estimators[name]}, path=path, n_features=k)
            if getattr(estimators[name], "n_features_in_", None) != k:
                raise _error(path, PIPELINE, f"the {name} regressor does not take {k} features")
    domain = None
    if meta.get("domain") is not None:
        domain = check_domain(path, meta["domain"])
        # the PCA scores (model files of earlier versions: the bands)
        takes = {n_bands}
        if "pca" in estimators:
            takes.add(int(estimators["pca"].n_components_))
        if domain.n_features_in_ not in takes:
            raise _error(
                path, "domain", f"the training domain does not take {sorted(takes)} features"
            )
    calibration = None
    if meta.get("interval_calibration") is not None:
        if method != "learned":
            raise _error(path, "interval_calibration", "only a learned model has one")
        try:
            calibration = IntervalCalibration.from_dict(meta["interval_calibration"])
        except (KeyError, TypeError, ValueError):
            raise _error(
                path, "interval_calibration", "not bin edges, offsets in [-1, 1] and counts"
            ) from None
    patients = meta.get("patients") or []
    return FractionModel(
        method=method,
        wavelengths=wavelengths,
        class_names=class_names,
        tumor_class=tumor,
        endmembers=endmembers,
        endmember_classes=None if classes is None else classes.astype(np.int64),
        estimators=estimators,
        context_sigma=None if sigma is None else float(sigma),
        domain=domain,
        interval_calibration=calibration,
        training=meta.get("training") if isinstance(meta.get("training"), dict) else {},
        patients=tuple(str(p) for p in patients),
        version=str(meta.get("hsi_tumor_version", "")),
    )


KIND = ModelKind(type=FractionModel, format=FORMAT, write=_write, read=_read)


def load_fraction_model(path) -> FractionModel:
    """A fraction model file, through :func:`hsi_tumor.load_model` (which checks it)."""
    from hsi_tumor.models import load_model

    model = load_model(path)
    if not isinstance(model, FractionModel):
        raise ModelFileError(
            "a classifier model file (hsi_tumor.train), not a tumor-fraction model",
            file=Path(path),
            field="model",
            fix="give a tumor-fraction model file (hsi_tumor.train_fraction), or classify with "
            "this one (hsi_tumor.classify_cube)",
        )
    return model
