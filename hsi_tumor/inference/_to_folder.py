"""smooth_tumor_map and classify_to_folder: the one classify-filter-write routine of the CLI and
of classify_many."""

from __future__ import annotations

import numbers
import os
from collections.abc import Mapping
from typing import Any

import numpy as np

from hsi_tumor._shared.errors import InvalidOptionError, InvalidTypeError
from hsi_tumor._shared.version import __version__
from hsi_tumor.calibration._inputs import as_cube
from hsi_tumor.cube import Cube
from hsi_tumor.inference._classify import classify_cube
from hsi_tumor.inference._tumor_map import TumorMap
from hsi_tumor.inference._tumor_map_io import TUMOR_MAP_FORMATS, write_tumor_map
from hsi_tumor.models._persistence import as_model

__all__ = ["SMOOTHING_METHODS", "check_smoothing", "classify_to_folder", "smooth_tumor_map"]

#: The spatial filters of :func:`smooth_tumor_map` and their options (with defaults).
SMOOTHING_METHODS: dict[str, dict[str, Any]] = {
    "knn": {"n_neighbors": 40, "spatial_weight": 1.0},
    "majority": {"size": 3},
}


def check_smoothing(spatial_filter) -> dict[str, Any] | None:
    """The spatial filter's full settings (``{"method": ..., option: value}``), or None.

    ``spatial_filter`` is None, a method name (``"knn"``, ``"majority"``) or a mapping with a
    ``"method"`` and that method's options. Checked before any work is done.

    Raises
    ------
    InvalidOptionError
        An unknown method or option, or an option value out of range (e.g. ``n_neighbors=0``).
    """
    if spatial_filter is None:
        return None
    if isinstance(spatial_filter, str):
        spatial_filter = {"method": spatial_filter}
    if not isinstance(spatial_filter, Mapping):
        raise InvalidTypeError(
            f"spatial_filter is a {type(spatial_filter).__name__}",
            field="spatial_filter",
            fix="give None, 'knn', 'majority' or a dict such as {'method': 'knn', "
            "'n_neighbors': 40}",
        )
    options = dict(spatial_filter)
    method = options.pop("method", "knn")
    if method not in SMOOTHING_METHODS:
        raise InvalidOptionError(
            f"unknown spatial filter {method!r}",
            field="spatial_filter",
            fix=f"use one of: {', '.join(SMOOTHING_METHODS)}",
        )
    defaults = SMOOTHING_METHODS[method]
    unknown = sorted(set(options) - set(defaults))
    if unknown:
        raise InvalidOptionError(
            f"the {method} filter has no option {', '.join(unknown)}",
            field="spatial_filter",
            fix=f"its options are: {', '.join(defaults)}",
        )
    settings = {"method": method, **defaults, **options}
    for name in ("n_neighbors", "size"):
        if name in settings:
            value = settings[name]
            if (
                isinstance(value, bool)
                or not isinstance(value, numbers.Integral)
                or value < 1
                or (name == "size" and value % 2 == 0)
            ):
                raise InvalidOptionError(
                    f"{name}={value!r}",
                    field=name,
                    fix="give a positive integer"
                    + (", odd" if name == "size" else "")
                    + (" (e.g. 40)" if name == "n_neighbors" else " (e.g. 3)"),
                )
            settings[name] = int(value)
    if "spatial_weight" in settings:
        from hsi_tumor.spatial._knn import _spatial_weight

        settings["spatial_weight"] = _spatial_weight(settings["spatial_weight"])
    return settings


def smooth_tumor_map(
    tumor_map: TumorMap,
    cube: Cube,
    *,
    method: str = "knn",
    n_neighbors: int = 40,
    spatial_weight: float = 1.0,
    size: int = 3,
    n_jobs: int | None = None,
) -> TumorMap:
    """The spatial filter of a tumor map: a new, smoother :class:`TumorMap`.

    Parameters
    ----------
    tumor_map : TumorMap
        From :func:`hsi_tumor.classify_cube`.
    cube : Cube
        The cube it classified (the KNN filter's guide is its first principal component).
    method : {'knn', 'majority'}, default='knn'
        ``'knn'``: the HELICoiD chain, :func:`hsi_tumor.knn_filter` of the class probabilities
        guided by :func:`hsi_tumor.principal_component_guide`, then the most probable class.
        ``'majority'``: :func:`hsi_tumor.majority_filter` of the labels (the probabilities are
        kept as they are).
    n_neighbors, spatial_weight : int, float
        The KNN filter's K and its weight of position against the guide (``'knn'`` only).
    size : int, default=3
        The majority filter's odd window side (``'majority'`` only).
    n_jobs : int, optional
        Threads of the KNN search.

    Returns
    -------
    TumorMap
        Pixels whose smoothed probabilities are not finite (or whose guide is not) count as
        invalid. The outlier map (``TumorMap.outlier``) is kept as it is, per pixel (not
        smoothed), less the pixels that became invalid.

    Raises
    ------
    InvalidOptionError
        Unknown method or bad options (checked first), or ``'knn'`` for a model without
        probabilities.

    Examples
    --------
    >>> import hsi_tumor as ht
    >>> from hsi_tumor.inference import smooth_tumor_map
    >>> spec = ht.simulate_specimen(seed=0, shape=(40, 48), n_bands=40)
    >>> cube = spec.calibrate().load()
    >>> model = ht.train(cube, spec.labels, classifier="lda", random_state=0)
    >>> raw = ht.classify_cube(cube, model)
    >>> smooth_tumor_map(raw, cube, method="majority", size=5).labels.shape
    (40, 48)
    """
    settings = check_smoothing(
        {"method": method}
        | (
            {"n_neighbors": n_neighbors, "spatial_weight": spatial_weight}
            if method == "knn"
            else {"size": size}
            if method == "majority"
            else {}
        )
    )
    if settings["method"] == "majority":
        from hsi_tumor.spatial import majority_filter

        labels = majority_filter(tumor_map.labels, size=settings["size"], mask=tumor_map.valid)
        return TumorMap(
            labels,
            tumor_map.probabilities,
            tumor_map.classes,
            tumor_map.class_names,
            tumor_map.valid,
            n_masked=tumor_map.n_masked,
            n_invalid=tumor_map.n_invalid,
            outlier=tumor_map.outlier,
        )
    from hsi_tumor.spatial import knn_filter, principal_component_guide

    if tumor_map.probabilities is None:
        raise InvalidOptionError(
            "the KNN filter averages class probabilities, and this model gives none",
            field="spatial_filter",
            fix="use method='majority', or a classifier with probabilities",
        )
    region = tumor_map.valid.copy()
    guide = principal_component_guide(cube, mask=region)
    region &= np.isfinite(guide)
    smooth = knn_filter(
        tumor_map.probabilities,
        guide,
        n_neighbors=settings["n_neighbors"],
        spatial_weight=settings["spatial_weight"],
        mask=region,
        n_jobs=n_jobs,
    )
    valid = region & np.isfinite(smooth).all(axis=2)
    labels = np.zeros_like(tumor_map.labels)
    labels[valid] = np.asarray(tumor_map.classes)[np.argmax(smooth[valid], axis=1)]
    return TumorMap(
        labels,
        smooth,
        tumor_map.classes,
        tumor_map.class_names,
        valid,
        n_masked=tumor_map.n_masked,
        n_invalid=tumor_map.n_invalid + int(np.sum(tumor_map.valid & ~valid)),
        outlier=None if tumor_map.outlier is None else tumor_map.outlier & valid,
    )


def _check_mask(mask):
    if mask is None or (isinstance(mask, str) and mask == "tissue"):
        return mask
    if isinstance(mask, str):
        raise InvalidOptionError(
            f"mask={mask!r}",
            field="mask",
            fix="give None, 'tissue' (hsi_tumor.tissue_mask of the cube) or a (rows, cols) "
            "boolean array",
        )
    return mask


def classify_to_folder(
    cube,
    model,
    out_dir: str | os.PathLike,
    *,
    mask=None,
    spatial_filter=None,
    resample: bool = False,
    format: str = "envi",
    overwrite: bool = False,
    n_jobs: int | None = None,
    device: str = "cpu",
    progress: bool = True,
    wavelengths=None,
    settings: Mapping[str, Any] | None = None,
) -> TumorMap:
    """Classify one cube and write its tumor map folder: the routine of ``hsi-tumor classify``
    and of each task of :func:`hsi_tumor.classify_many`.

    Parameters
    ----------
    cube : Cube or path
        Read with :func:`hsi_tumor.calibration.as_cube` (a Specim capture folder is calibrated
        to reflectance).
    model : TumorModel, path or fitted scikit-learn classifier
        See :func:`hsi_tumor.models.as_model`.
    out_dir : str or os.PathLike
        The output folder (:func:`write_tumor_map`).
    mask : None, 'tissue' or ndarray of bool, optional
        The pixels to classify: all, the cube's :func:`hsi_tumor.tissue_mask`, or these.
    spatial_filter : None, str or dict, optional
        Smooth the map with :func:`smooth_tumor_map`: a method name (``"knn"``,
        ``"majority"``) or a dict with ``"method"`` and its options, e.g.
        ``{"method": "knn", "n_neighbors": 40, "spatial_weight": 1.0}``. Checked before
        anything is read.
    resample, n_jobs, device, progress
        As in :func:`hsi_tumor.classify_cube`.
    format : {'envi', 'hdf5'}, default='envi'
        Format of the label and probability files.
    overwrite : bool, default=False
        Replace an existing output folder.
    wavelengths : array-like or path, optional
        Wavelengths overriding the file's (only for a path).
    settings : mapping, optional
        Further settings to record in ``summary.json`` (JSON-compatible; e.g. the command
        line that made the map).

    Returns
    -------
    TumorMap
        What was written (smoothed, with a spatial filter).

    Raises
    ------
    InvalidOptionError
        Bad ``mask``, ``spatial_filter`` or ``format`` (before any work), or a model that is
        not one.
    OutputExistsError
        If ``out_dir`` exists and ``overwrite`` is False.

    Notes
    -----
    ``summary.json`` records in ``settings`` the cube's source file (the capture's raw cube
    for a capture folder, None for a cube made in memory), where its wavelengths came from,
    the model file (when the model was given as a path), the mask (``"tissue"``, ``"array"``
    or None), the spatial filter's settings, ``resample``, the device, the hsi_tumor version,
    and ``settings``.
    """
    smoothing = check_smoothing(spatial_filter)
    mask = _check_mask(mask)
    if format not in TUMOR_MAP_FORMATS:
        raise InvalidOptionError(
            f"unknown format {format!r}",
            field="format",
            fix=f"use one of: {', '.join(TUMOR_MAP_FORMATS)}",
        )
    model_file = os.fspath(model) if isinstance(model, (str, os.PathLike)) else None
    model = as_model(model)
    cube = as_cube(cube, wavelengths=wavelengths)
    result = classify_cube(
        cube,
        model,
        mask=mask,
        resample=resample,
        n_jobs=n_jobs,
        progress=progress,
        device=device,
    )
    if smoothing is not None:
        result = smooth_tumor_map(result, cube, **smoothing, n_jobs=n_jobs)
    background = cube if cube.wavelengths is not None else None  # maps drawn on its pseudo-RGB
    recorded = {
        "cube": cube.metadata.get("source", cube.metadata.get("raw_source")),
        "wavelengths": cube.metadata.get("wavelength_source"),
        "model_file": model_file,
        "mask": mask if mask is None or isinstance(mask, str) else "array",
        "spatial_filter": smoothing,
        "resample": bool(resample),
        "device": str(device),
        "hsi_tumor_version": __version__,
        **(settings or {}),
    }
    write_tumor_map(
        result,
        out_dir,
        format=format,
        background=background,
        overwrite=overwrite,
        settings=recorded,
    )
    return result
