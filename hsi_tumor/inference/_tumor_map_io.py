"""Writing a classification result (a :class:`~hsi_tumor.TumorMap`) as files for people and GIS.

One folder per classified cube: the label map, the class probabilities, the tumor probability,
PNG overlays and a JSON summary.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from hsi_tumor._shared.atomic import atomic_directory, output_folder_overwrite
from hsi_tumor._shared.classes import tumor_class
from hsi_tumor._shared.errors import InvalidOptionError
from hsi_tumor.cube import Cube
from hsi_tumor.io._labels import write_labels
from hsi_tumor.io._registry import write_cube
from hsi_tumor.viz import (
    mark_simulated,
    plot_class_map,
    plot_probability,
    plot_rgb,
    save_figure,
)
from hsi_tumor.viz._rgb import map_background

logger = logging.getLogger("hsi_tumor.io")

__all__ = ["OUTLIER_CLASSES", "TUMOR_MAP_FORMATS", "write_tumor_map"]

#: Output formats of :func:`write_tumor_map` and the extension of their files.
TUMOR_MAP_FORMATS = {"envi": ".hdr", "hdf5": ".h5"}
#: The ids of the ``outlier`` file (0: not classified).
OUTLIER_CLASSES = {1: "inside training domain", 2: "outside training domain"}


def _summary(tumor_map, files: dict[str, str], format: str) -> dict:
    names = {int(k): str(v) for k, v in tumor_map.class_names.items()}
    classes = [int(c) for c in tumor_map.classes]
    labels = np.asarray(tumor_map.labels)
    valid = np.asarray(tumor_map.valid, dtype=bool)
    counts = tumor_map.counts()
    tumor = [c for c in [tumor_class(names)] if c is not None and c in classes]
    summary = {
        "shape": [int(n) for n in labels.shape],
        "classes": classes,
        "class_names": {str(c): names.get(c, str(c)) for c in classes},
        "counts": {name: int(n) for name, n in counts.items()},
        "n_pixels": int(labels.size),
        "n_classified": int(valid.sum()),
        "n_masked": int(tumor_map.n_masked),
        "n_invalid": int(tumor_map.n_invalid),
        "n_outlier": tumor_map.n_outlier,
        "tumor_class": tumor[0] if tumor else None,
        "tumor_area_pixels": int(np.sum(valid & (labels == tumor[0]))) if tumor else None,
        "format": format,
        "files": files,
    }
    tumor_probability = tumor_map.tumor_probability
    if tumor_probability is not None and valid.any():
        summary["mean_tumor_probability"] = float(np.nanmean(tumor_probability[valid]))
    return summary


def write_tumor_map(
    tumor_map,
    out_dir: str | os.PathLike,
    *,
    format: str = "envi",
    background=None,
    overwrite: bool = False,
    settings: Mapping[str, Any] | None = None,
) -> dict[str, Path]:
    """Write a classification result into a new folder: maps, overlays and a summary.

    Parameters
    ----------
    tumor_map : TumorMap
        From :func:`hsi_tumor.classify_cube`.
    out_dir : str or os.PathLike
        The folder to create. It is written in a hidden staging folder beside it and renamed
        into place when complete (an existing one, with ``overwrite=True``, is swapped with it
        in one atomic exchange), so a folder of that name is always whole, old or new, even if
        the process is killed.
    format : {'envi', 'hdf5'}, default='envi'
        Format of the label and probability files.
    background : Cube or array of shape (rows, cols, 3), optional
        The classified cube (best: its pseudo-RGB is the background, its invalid pixels are
        marked, and a simulated cube is said so in the titles), or an RGB image in [0, 1] to
        draw the maps on, e.g. ``hsi_tumor.pseudo_rgb(cube)`` (NaN pixels marked invalid). It
        is saved too, as ``background.png``. Without it the map colours are flat.
    overwrite : bool, default=False
        Replace an existing folder (an existing *empty* folder is always used).
    settings : mapping, optional
        How the map was made (JSON-compatible), recorded as ``summary.json``'s ``settings``
        (e.g. the model file, the mask, the spatial filter).

    Returns
    -------
    dict of str to pathlib.Path
        The files written, by kind: ``labels``, ``probabilities`` and ``tumor_probability``
        (ENVI headers or HDF5 files; the probability files only when the model gives
        probabilities, the tumor one only when a class is named "tumor"), ``outlier`` (when
        the map has an outlier map), ``classes_png``,
        ``tumor_probability_png``, ``background_png`` (with ``background``) and ``summary``.

    Raises
    ------
    OutputExistsError
        If ``out_dir`` exists (and is not an empty folder) and ``overwrite`` is False.
    InvalidOptionError
        If ``format`` is unknown or ``background`` has the wrong shape.

    Notes
    -----
    Files in ``out_dir`` (``.hdr`` + ``.img`` pairs for ENVI, ``.h5`` for HDF5):

    - ``labels``: the class id of each pixel, 0 where not classified, as an ENVI
      classification image with class names and colours (HDF5: dataset ``labels``), read
      back by :func:`hsi_tumor.io.read_labels`;
    - ``probabilities``: float32 (rows, cols, n_classes), one band per class in ``classes``
      order, band names the class names, NaN where not classified. The bands are classes,
      not wavelengths: ENVI ``wavelength units = Index`` (HDF5 ``wavelength_units = 'index'``)
      and no wavelength axis, so :func:`hsi_tumor.read_cube` reads it back with
      ``wavelengths=None``;
    - ``tumor_probability``: the tumor class's band alone (one band);
    - ``outlier`` (when ``tumor_map.outlier`` is not None): a classification image like
      ``labels``, 1 = inside the training domain, 2 = outside (``TumorMap.outlier``), 0 = not
      classified (:data:`OUTLIER_CLASSES`); ``read_labels(path) == 2`` is the outlier map;
    - ``classes.png`` (:func:`hsi_tumor.viz.plot_class_map`: the classes, not classified
      invalid and outside-training-domain pixels with a legend) and ``tumor_probability.png``
      (:func:`hsi_tumor.viz.plot_probability`, 0 to 1, ``inferno``, with a colorbar), and
      ``background.png`` (:func:`hsi_tumor.viz.plot_rgb`): figures of 600 x 450 pixels in
      the colours of :data:`hsi_tumor.viz.PALETTE`, titled SIMULATED when the background
      cube is simulated;
    - ``summary.json``: shape, classes and names, classified pixels per class, ``n_masked``,
      ``n_invalid``, ``n_outlier`` (None without an outlier map), the tumor class and its
      area in pixels, the mean tumor probability, the files, and ``settings`` when given.

    Examples
    --------
    >>> import os, tempfile
    >>> import hsi_tumor as ht
    >>> from hsi_tumor.inference import write_tumor_map
    >>> spec = ht.simulate_specimen(seed=0, shape=(40, 48), n_bands=40)
    >>> cube = spec.calibrate()
    >>> model = ht.train(cube, spec.labels, classifier="lda", random_state=0,
    ...                  class_names={1: "normal", 2: "tumor"})
    >>> result = ht.classify_cube(cube, model, mask=spec.true_labels > 0)
    >>> out = os.path.join(tempfile.mkdtemp(), "result")
    >>> files = write_tumor_map(result, out, background=ht.pseudo_rgb(cube))
    >>> sorted(path.name for path in files.values())  # doctest: +NORMALIZE_WHITESPACE
    ['background.png', 'classes.png', 'labels.hdr', 'outlier.hdr', 'probabilities.hdr',
     'summary.json', 'tumor_probability.hdr', 'tumor_probability.png']
    """

    if format not in TUMOR_MAP_FORMATS:
        raise InvalidOptionError(
            f"unknown format {format!r}",
            field="format",
            fix=f"use one of: {', '.join(TUMOR_MAP_FORMATS)}",
        )
    out_dir = Path(out_dir)
    labels = np.asarray(tumor_map.labels)
    source = background if isinstance(background, Cube) else None  # SIMULATED marks
    background, title = map_background(background, labels.shape)
    overwrite = output_folder_overwrite(out_dir, overwrite)
    ext = TUMOR_MAP_FORMATS[format]
    names = {int(k): str(v) for k, v in tumor_map.class_names.items()}
    classes = [int(c) for c in tumor_map.classes]
    band_names = np.array([names.get(c, str(c)) for c in classes])
    relative: dict[str, str] = {}
    with atomic_directory(out_dir, overwrite=overwrite) as tmp:

        def record(kind: str, path: Path) -> None:
            relative[kind] = path.name

        record("labels", write_labels(labels, tmp / f"labels{ext}", class_names=names))
        probabilities = tumor_map.probabilities
        if probabilities is not None:
            path = tmp / f"probabilities{ext}"
            cube = Cube(
                np.asarray(probabilities, dtype=np.float32),
                None,
                {"band_names": band_names, "description": "class probabilities (hsi_tumor)"},
            )
            write_cube(cube, path, **({"dataset": "probabilities"} if format == "hdf5" else {}))
            record("probabilities", path)
        tumor_probability = tumor_map.tumor_probability
        if tumor_probability is not None:
            path = tmp / f"tumor_probability{ext}"
            cube = Cube(
                np.asarray(tumor_probability, dtype=np.float32)[..., np.newaxis],
                None,
                {"band_names": ["tumor"], "description": "tumor probability (hsi_tumor)"},
            )
            write_cube(cube, path, **({"dataset": "tumor_probability"} if format == "hdf5" else {}))
            record("tumor_probability", path)
        outlier = None if tumor_map.outlier is None else np.asarray(tumor_map.outlier, bool)
        if outlier is not None:
            path = write_labels(
                np.where(outlier, 2, np.where(np.asarray(tumor_map.valid, bool), 1, 0)).astype(
                    np.uint8
                ),
                tmp / f"outlier{ext}",
                class_names=OUTLIER_CLASSES,
            )
            record("outlier", path)
        ax = plot_class_map(
            labels,
            background=background,
            class_names=names,
            zero_means="not classified",
            outlier=outlier,
            title="predicted classes",
        )
        mark_simulated(ax, source)
        record("classes_png", save_figure(ax, tmp / "classes.png", dpi=100))
        if tumor_probability is not None:
            ax = plot_probability(
                tumor_probability,
                background=background,
                outlier=outlier,
                title="tumor probability",
            )
            mark_simulated(ax, source)
            record("tumor_probability_png", save_figure(ax, tmp / "tumor_probability.png", dpi=100))
        if background is not None:
            ax = plot_rgb(background, title=title)
            mark_simulated(ax, source)
            record("background_png", save_figure(ax, tmp / "background.png", dpi=100))
        summary = _summary(tumor_map, dict(relative), format)
        if settings:
            summary["settings"] = dict(settings)
        (tmp / "summary.json").write_text(json.dumps(summary, indent=1) + "\n", encoding="utf-8")
        relative["summary"] = "summary.json"
    logger.info("wrote %s: %s", out_dir, ", ".join(relative.values()))
    return {kind: out_dir / name for kind, name in relative.items()}
