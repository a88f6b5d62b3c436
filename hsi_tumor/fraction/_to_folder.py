"""write_fraction_map and fraction_to_folder: a FractionMap as files (the maps, PNG figures and
a summary), the routine of ``hsi-tumor fraction``."""

from __future__ import annotations

import json
import logging
import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from hsi_tumor._shared.atomic import atomic_directory, output_folder_overwrite
from hsi_tumor._shared.errors import InvalidOptionError
from hsi_tumor._shared.version import __version__
from hsi_tumor.calibration._inputs import as_cube
from hsi_tumor.cube import Cube
from hsi_tumor.fraction._estimate import _as_fraction_model, estimate_fraction
from hsi_tumor.fraction._model import INTERVAL, UNCERTAINTY_VMAX, FractionMap
from hsi_tumor.io._labels import write_labels
from hsi_tumor.io._registry import write_cube
from hsi_tumor.viz import (
    mark_simulated,
    plot_fraction,
    plot_fraction_uncertainty,
    plot_rgb,
    save_figure,
)
from hsi_tumor.viz._rgb import map_background

logger = logging.getLogger("hsi_tumor.fraction")

__all__ = ["FRACTION_MAP_FORMATS", "OUTLIER_CLASSES", "fraction_to_folder", "write_fraction_map"]

#: Output formats of :func:`write_fraction_map` and the extension of their files.
FRACTION_MAP_FORMATS = {"envi": ".hdr", "hdf5": ".h5"}
#: Classes of the ``outlier`` label file (0: not estimated).
OUTLIER_CLASSES = {1: "within the training domain", 2: "outside the training domain"}
#: The float maps of a FractionMap, written one file each, and their descriptions.
_MAPS = {
    "fraction": "tumor fraction of each pixel's area",
    "uncertainty": "standard deviation of the tumor fraction",
    "lower": "lower end of the 90 % interval of the tumor fraction",
    "upper": "upper end of the 90 % interval of the tumor fraction",
}


def _check_format(format: str) -> str:
    if format not in FRACTION_MAP_FORMATS:
        raise InvalidOptionError(
            f"unknown format {format!r}",
            field="format",
            fix=f"use one of: {', '.join(FRACTION_MAP_FORMATS)}",
        )
    return format


def _check_pixel_size(pixel_size) -> float | None:
    if pixel_size is None:
        return None
    try:
        value = float(pixel_size)
    except (TypeError, ValueError):
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise InvalidOptionError(
            f"pixel_size={pixel_size!r}",
            field="pixel_size",
            fix="give the side of a pixel in mm (> 0), or None",
        )
    return value


def _summary(result: FractionMap, pixel_size: float | None, files, format: str) -> dict:
    valid = np.asarray(result.valid, dtype=bool)
    area = result.tumor_area
    summary = {
        "shape": [int(n) for n in result.shape],
        "method": result.method,
        "interval": INTERVAL,
        "n_pixels": int(valid.size),
        "n_estimated": int(valid.sum()),
        "n_masked": int(result.n_masked),
        "n_invalid": int(result.n_invalid),
        "tumor_area_pixels": area,
        "pixel_size_mm": pixel_size,
        "tumor_area_mm2": None if pixel_size is None else area * pixel_size**2,
        "mean_fraction": float(np.mean(result.fraction[valid])) if valid.any() else None,
        "mean_uncertainty": float(np.mean(result.uncertainty[valid])) if valid.any() else None,
        "n_outliers": None if result.outlier is None else int(np.sum(result.outlier & valid)),
        "format": format,
        "files": files,
    }
    return summary


def write_fraction_map(
    result: FractionMap,
    out_dir: str | os.PathLike,
    *,
    format: str = "envi",
    background=None,
    pixel_size: float | None = None,
    overwrite: bool = False,
    settings: Mapping[str, Any] | None = None,
) -> dict[str, Path]:
    """Write a tumor-fraction result into a new folder: the maps, PNG figures and a summary.

    Parameters
    ----------
    result : FractionMap
        From :func:`hsi_tumor.estimate_fraction`.
    out_dir : str or os.PathLike
        The folder to create, atomically (as :func:`hsi_tumor.inference.write_tumor_map`).
    format : {'envi', 'hdf5'}, default='envi'
        Format of the map files.
    background : Cube or array of shape (rows, cols, 3), optional
        The cube (its pseudo-RGB, with its invalid pixels marked) or an RGB image in [0, 1],
        seen through the pixels not estimated and saved as ``background.png``.
    pixel_size : float, optional
        Side of a pixel in mm: the summary then gives the tumor area in mm² too.
    overwrite : bool, default=False
        Replace an existing folder (an existing *empty* folder is always used).
    settings : mapping, optional
        How the map was made (JSON-compatible), recorded as ``summary.json``'s ``settings``.

    Returns
    -------
    dict of str to pathlib.Path
        The files written, by kind: ``fraction``, ``uncertainty``, ``lower``, ``upper``,
        ``outlier`` (when the model has a training domain), ``fraction_png``,
        ``uncertainty_png``, ``background_png`` (with ``background``) and ``summary``.

    Raises
    ------
    OutputExistsError
        If ``out_dir`` exists (and is not an empty folder) and ``overwrite`` is False.
    InvalidOptionError
        If ``format`` or ``pixel_size`` is bad, or ``background`` has the wrong shape.

    Notes
    -----
    Files in ``out_dir`` (``.hdr`` + ``.img`` pairs for ENVI, ``.h5`` for HDF5):

    - ``fraction``, ``uncertainty``, ``lower``, ``upper``: float32, one band, NaN where not
      estimated; bands that are not wavelengths (read back by :func:`hsi_tumor.read_cube`
      with ``wavelengths=None``; HDF5 dataset of the map's name);
    - ``outlier``: a label map (:func:`hsi_tumor.io.read_labels`), 0 not estimated, 1 within
      and 2 outside the training domain (:data:`OUTLIER_CLASSES`);
    - ``fraction.png`` (:func:`hsi_tumor.viz.plot_fraction`), ``uncertainty.png``
      (:func:`hsi_tumor.viz.plot_fraction_uncertainty`, 0 to 0.304, the standard deviation
      of the widest interval) and ``background.png``;
    - ``summary.json``: shape, method, pixels estimated / masked / invalid, the tumor area
      (Σ fraction, in pixels, and in mm² with ``pixel_size``), the mean fraction and
      uncertainty, the number of outliers, the files and ``settings``.

    Examples
    --------
    >>> import os, tempfile
    >>> import hsi_tumor as ht
    >>> from hsi_tumor.datasets import simulate_cohort, as_specimens
    >>> from hsi_tumor.fraction import write_fraction_map
    >>> train = as_specimens(simulate_cohort(2, seed=1, shape=(40, 48), n_bands=40))
    >>> model = ht.train_fraction(train, method="unmixing", random_state=0, progress=False)
    >>> test = as_specimens(simulate_cohort(1, seed=7, shape=(40, 48), n_bands=40))[0]
    >>> result = ht.estimate_fraction(test.cube, model, mask=test.tissue, progress=False)
    >>> files = write_fraction_map(result, os.path.join(tempfile.mkdtemp(), "f"))
    >>> sorted(path.name for path in files.values())  # doctest: +NORMALIZE_WHITESPACE
    ['fraction.hdr', 'fraction.png', 'lower.hdr', 'outlier.hdr', 'summary.json',
     'uncertainty.hdr', 'uncertainty.png', 'upper.hdr']
    """
    ext = FRACTION_MAP_FORMATS[_check_format(format)]
    pixel_size = _check_pixel_size(pixel_size)
    out_dir = Path(out_dir)
    shape = tuple(result.shape)
    source = background if isinstance(background, Cube) else None  # SIMULATED marks
    background, title = map_background(background, shape)
    overwrite = output_folder_overwrite(out_dir, overwrite)
    relative: dict[str, str] = {}
    with atomic_directory(out_dir, overwrite=overwrite) as tmp:
        for name, description in _MAPS.items():
            path = tmp / f"{name}{ext}"
            cube = Cube(
                np.asarray(getattr(result, name), dtype=np.float32)[..., np.newaxis],
                None,
                {"band_names": [name], "description": f"{description} (hsi_tumor)"},
            )
            write_cube(cube, path, **({"dataset": name} if format == "hdf5" else {}))
            relative[name] = path.name
        if result.outlier is not None:
            flags = np.where(result.valid, np.where(result.outlier, 2, 1), 0).astype(np.uint8)
            path = write_labels(flags, tmp / f"outlier{ext}", class_names=OUTLIER_CLASSES)
            relative["outlier"] = path.name
        ax = plot_fraction(result, background=background)
        mark_simulated(ax, source)
        relative["fraction_png"] = save_figure(ax, tmp / "fraction.png", dpi=100).name
        ax = plot_fraction_uncertainty(result, background=background, vmax=UNCERTAINTY_VMAX)
        mark_simulated(ax, source)
        relative["uncertainty_png"] = save_figure(ax, tmp / "uncertainty.png", dpi=100).name
        if background is not None:
            ax = plot_rgb(background, title=title)
            mark_simulated(ax, source)
            relative["background_png"] = save_figure(ax, tmp / "background.png", dpi=100).name
        summary = _summary(result, pixel_size, dict(relative), format)
        if settings:
            summary["settings"] = dict(settings)
        text = json.dumps(summary, indent=1, allow_nan=False)
        (tmp / "summary.json").write_text(text + "\n", encoding="utf-8")
        relative["summary"] = "summary.json"
    logger.info("wrote %s: %s", out_dir, ", ".join(relative.values()))
    return {kind: out_dir / name for kind, name in relative.items()}


def fraction_to_folder(
    cube,
    model,
    out_dir: str | os.PathLike,
    *,
    mask=None,
    resample: bool = False,
    pixel_size: float | None = None,
    format: str = "envi",
    overwrite: bool = False,
    n_jobs: int | None = None,
    progress: bool = True,
    wavelengths=None,
    settings: Mapping[str, Any] | None = None,
) -> FractionMap:
    """Estimate the tumor fraction of one cube and write its folder: the routine of
    ``hsi-tumor fraction``.

    Parameters
    ----------
    cube : Cube or path
        Read with :func:`hsi_tumor.calibration.as_cube` (a Specim capture folder is calibrated
        to reflectance).
    model : FractionModel or path
        From :func:`hsi_tumor.train_fraction`, or its file.
    out_dir : str or os.PathLike
        The output folder (:func:`write_fraction_map`).
    mask : None, 'tissue' or ndarray of bool, optional
        As for :func:`hsi_tumor.estimate_fraction`.
    resample, n_jobs, progress
        As for :func:`hsi_tumor.estimate_fraction`.
    pixel_size, format, overwrite
        As for :func:`write_fraction_map` (checked before any work).
    wavelengths : array-like or path, optional
        Wavelengths overriding the file's (only for a path).
    settings : mapping, optional
        Further settings to record in ``summary.json`` (e.g. the command line).

    Returns
    -------
    FractionMap
        What was written.

    Notes
    -----
    ``summary.json`` records in ``settings`` the cube's source file, where its wavelengths
    came from, the model file (when given as a path), its method, tumor class and training
    targets, the mask (``"tissue"``, ``"array"`` or None), ``resample``, the hsi_tumor
    version, and ``settings``.
    """
    _check_format(format)
    pixel_size = _check_pixel_size(pixel_size)
    if isinstance(mask, str) and mask != "tissue":
        raise InvalidOptionError(
            f"mask={mask!r}",
            field="mask",
            fix="give None, 'tissue' (hsi_tumor.tissue_mask of the cube) or a (rows, cols) "
            "boolean array",
        )
    model_file = os.fspath(model) if isinstance(model, (str, os.PathLike)) else None
    model = _as_fraction_model(model)
    cube = as_cube(cube, wavelengths=wavelengths)
    result = estimate_fraction(
        cube, model, mask=mask, resample=resample, n_jobs=n_jobs, progress=progress
    )
    recorded = {
        "cube": cube.metadata.get("source", cube.metadata.get("raw_source")),
        "wavelengths": cube.metadata.get("wavelength_source"),
        "model_file": model_file,
        "model_method": model.method,
        "fraction_of": model.class_names[model.tumor_class],
        "training_targets": model.training.get("targets"),
        "mask": mask if mask is None or isinstance(mask, str) else "array",
        "resample": bool(resample),
        "hsi_tumor_version": __version__,
        **(settings or {}),
    }
    write_fraction_map(
        result,
        out_dir,
        format=format,
        background=cube,
        pixel_size=pixel_size,
        overwrite=overwrite,
        settings=recorded,
    )
    return result
