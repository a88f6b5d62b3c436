"""Annotations drawn in QuPath, ImageJ/Fiji or napari, rasterised to a label map.

:func:`read_annotations` reads the regions a pathologist drew (QuPath GeoJSON exports, ImageJ
``.roi`` files and ROI-set ``.zip`` files, napari Shapes layers saved as CSV) and turns them into
a (rows, cols) label map of class ids, 0 = unlabelled, on the cube's pixel grid.

Rasterisation rule
------------------
All coordinates are first brought to the *corner-origin* convention of QuPath and ImageJ:
``x`` = column, ``y`` = row, ``(0, 0)`` the top-left corner of the top-left pixel, so pixel
``(r, c)`` covers ``[c, c + 1) x [r, r + 1)`` and its centre is ``(c + 0.5, r + 0.5)``. napari
puts pixel centres at whole numbers, so its ``(axis-0, axis-1)`` become ``(x, y) = (axis-1 +
0.5, axis-0 + 0.5)``. A pixel is labelled when its centre lies inside the region by the
even-odd rule (a hole, an interior ring, cuts the region out). A centre exactly on an edge
counts as inside on the left and top edges and outside on the right and bottom ones (the
half-open rule of scanline fills), so two regions that share an edge never share a pixel and
leave no gap between them, and the square ``[0.5, 2.5) x [0.5, 2.5)`` labels exactly 2 x 2
pixels. Regions are clipped to the image.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import math
import os
import zipfile
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from hsi_tumor._shared.errors import CubeFormatError, InvalidOptionError
from hsi_tumor._shared.limits import check_budget, check_inflation, read_zip_member, shorten
from hsi_tumor.io._common import existing_file

logger = logging.getLogger("hsi_tumor.io")

__all__ = [
    "ANNOTATION_EXTENSIONS",
    "annotation_class_names",
    "is_annotation_file",
    "read_annotations",
]

#: Extensions :func:`read_annotations` reads (``.json`` and ``.csv`` only with the right content).
ANNOTATION_EXTENSIONS = (".geojson", ".json", ".roi", ".zip", ".csv")
#: JSON decoded in memory takes many times the file's size; files are refused past the budget.
_JSON_INFLATION = 20
#: An ImageJ ROI set holds small files; more members, or larger ones, are not ROI sets.
_MAX_ROIS = 100_000
_MAX_ROI_BYTES = 64 * 2**20
_NAPARI_COLUMNS = ("index", "shape-type", "vertex-index", "axis-0", "axis-1")
_CLASS_COLUMNS = ("class", "label")
_ROWS_PER_CHUNK = 4096


# -- the public function ---------------------------------------------------------------------
def read_annotations(
    path: str | os.PathLike,
    *,
    shape: tuple[int, int],
    class_names: Mapping[int, str] | None = None,
    transform=None,
    overlap: str = "error",
) -> np.ndarray:
    """Rasterise annotations drawn in QuPath, ImageJ/Fiji or napari to a label map.

    Parameters
    ----------
    path : str or os.PathLike
        One of:

        - a QuPath GeoJSON export (``.geojson`` or ``.json``): a Feature, a FeatureCollection or
          a list of features; geometries ``Polygon`` and ``MultiPolygon`` (holes included);
          the class is ``properties.classification.name`` (``properties.classification`` may
          also be the name itself);
        - an ImageJ/Fiji ``.roi`` file or a ROI-set ``.zip`` (ROI Manager > More > Save):
          polygon, rectangle, oval, freehand and traced ROIs; the class is the ROI's name, or
          the part of it before the first ``:`` (``tumor:3`` is class ``tumor``);
        - a napari Shapes layer saved as ``.csv`` (columns ``index, shape-type, vertex-index,
          axis-0, axis-1``; axis-0 = row); polygons, rectangles and ellipses; the class is the
          row's ``class`` or ``label`` column when there is one, else every shape is one class
          named ``annotation``.

        napari Labels layers are saved as image files, which :func:`read_labels` reads.
    shape : (int, int)
        The label map's (rows, cols): the cube's.
    class_names : mapping of int to str, optional
        Class ids of the names, as elsewhere in hsi_tumor (``{1: "normal", 2: "tumor"}``).
        Default: the names found, sorted alphabetically, get ids 1, 2, ... A name not in
        ``class_names`` is an error.
    transform : array-like or ((int, int), (int, int)), optional
        Maps the annotation's image coordinates (corner origin, x = column) to the cube's: a
        2x3 or 3x3 affine matrix acting on ``(x, y, 1)``, or the pair ``((rows_from,
        cols_from), (rows_to, cols_to))`` of the annotated image's and the cube's sizes, which
        scales (an RGB photo 4 times the cube's size: ``((4 * rows, 4 * cols), (rows,
        cols))``).
    overlap : {"error", "last"}, default="error"
        Regions of different classes that share pixels: an error, or the later region wins.
        Regions of the same class may overlap.

    Returns
    -------
    labels : ndarray of uint8 (uint16 past 255 classes), shape (rows, cols)
        A pixel is labelled when its centre lies inside a region (even-odd rule; a centre on a
        left or top edge is inside, on a right or bottom edge outside); see the module's notes.

    Raises
    ------
    MissingFileError
        If the file does not exist.
    CubeFormatError
        If the file cannot be read or is not one of these formats, a geometry is not a polygon
        or is empty, a feature has no class, a class is not in ``class_names``, regions of
        different classes overlap with ``overlap="error"``, or the file is larger than the
        memory budget allows (or a ROI set is a zip bomb). The message names the file, the
        field and the fix.
    InvalidOptionError
        If ``shape``, ``transform`` or ``overlap`` is not valid.

    Examples
    --------
    >>> import json, os, tempfile
    >>> from hsi_tumor.io import read_annotations
    >>> square = {"type": "Feature", "properties": {"classification": {"name": "tumor"}},
    ...           "geometry": {"type": "Polygon", "coordinates": [[[1, 0], [3, 0], [3, 2],
    ...                                                           [1, 2], [1, 0]]]}}
    >>> path = os.path.join(tempfile.mkdtemp(), "tumor.geojson")
    >>> with open(path, "w") as f:
    ...     json.dump(square, f)
    >>> read_annotations(path, shape=(3, 4))
    array([[0, 1, 1, 0],
           [0, 1, 1, 0],
           [0, 0, 0, 0]], dtype=uint8)
    """
    rows, cols = _check_shape(shape)
    if overlap not in ("error", "last"):
        raise InvalidOptionError(
            f"overlap={shorten(repr(overlap))} is not an option",
            field="overlap",
            fix="pass overlap='error' (the default) or overlap='last' (later regions win)",
        )
    matrix = _affine(transform)
    path = existing_file(path)
    regions = _read_regions(path)
    if not regions:
        raise CubeFormatError(
            "the file holds no annotation",
            file=path,
            field="regions",
            fix="export at least one annotated region",
        )
    ids = _class_ids([name for name, _, _ in regions], class_names, path)
    dtype = np.uint8 if max(ids.values()) <= np.iinfo(np.uint8).max else np.uint16
    labels = np.zeros((rows, cols), dtype=dtype)
    for name, polygons, where in regions:
        class_id = ids[name]
        for rings in polygons:
            rings = [_apply(matrix, ring) for ring in rings]
            rows_slice, cols_slice, mask = _rasterise(rings, rows, cols)
            if mask is None:
                continue
            window = labels[rows_slice, cols_slice]
            clash = mask & (window != 0) & (window != class_id)
            if overlap == "error" and clash.any():
                other = {v: k for k, v in ids.items()}[int(window[clash][0])]
                raise CubeFormatError(
                    f"{where} (class {name!r}) overlaps a region of class {other!r} on "
                    f"{int(clash.sum())} pixels",
                    file=path,
                    field=where,
                    fix="pass overlap='last' (later features win) or remove the overlap",
                )
            window[mask] = class_id
    logger.debug("rasterised %d regions of %s to %s", len(regions), path, labels.shape)
    return labels


def annotation_class_names(path: str | os.PathLike) -> list[str]:
    """The class names of an annotation file's regions, sorted (the default ids' order)."""
    return sorted({name for name, _, _ in _read_regions(existing_file(path))})


def is_annotation_file(path: str | os.PathLike) -> bool:
    """Whether :func:`read_annotations` (not :func:`read_labels`) reads ``path``: ``.geojson``,
    ``.roi``, ``.zip``, or ``.json``/``.csv`` (read_labels reads neither)."""
    return Path(path).suffix.lower() in ANNOTATION_EXTENSIONS


# -- arguments -------------------------------------------------------------------------------
def _check_shape(shape) -> tuple[int, int]:
    try:
        rows, cols = (int(n) for n in shape)
        ok = rows > 0 and cols > 0 and (rows, cols) == tuple(shape)
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise InvalidOptionError(
            f"shape={shorten(repr(shape))} is not a (rows, cols) pair of positive integers",
            field="shape",
            fix="pass the cube's (rows, cols), e.g. shape=cube.shape[:2]",
        )
    return rows, cols


def _affine(transform) -> np.ndarray | None:
    """The 3x3 matrix of ``transform`` acting on (x, y, 1), or None."""
    if transform is None:
        return None
    fix = (
        "pass a 2x3 or 3x3 affine matrix acting on (x, y, 1), or ((rows_from, cols_from), "
        "(rows_to, cols_to))"
    )
    try:
        array = np.asarray(transform, dtype=np.float64)
    except (TypeError, ValueError):
        array = None
    if array is not None and array.shape == (2, 2):
        (rows_from, cols_from), (rows_to, cols_to) = array
        if min(rows_from, cols_from, rows_to, cols_to) <= 0:
            array = None
        else:
            return np.diag([cols_to / cols_from, rows_to / rows_from, 1.0])
    if array is None or array.shape not in ((2, 3), (3, 3)) or not np.isfinite(array).all():
        raise InvalidOptionError(
            f"transform={shorten(repr(transform))} is not an affine matrix or a pair of sizes",
            field="transform",
            fix=fix,
        )
    if array.shape == (2, 3):
        array = np.vstack([array, [0.0, 0.0, 1.0]])
    return array


def _apply(matrix: np.ndarray | None, ring: np.ndarray) -> np.ndarray:
    if matrix is None:
        return ring
    return ring @ matrix[:2, :2].T + matrix[:2, 2]


def _class_ids(names: list[str], class_names, path: Path) -> dict[str, int]:
    if class_names is None:
        return {name: i for i, name in enumerate(sorted(set(names)), start=1)}
    if not isinstance(class_names, Mapping):
        raise InvalidOptionError(
            "class_names is a mapping of class id to name",
            field="class_names",
            fix='pass e.g. {1: "normal", 2: "tumor"}',
        )
    ids = {str(name): int(i) for i, name in class_names.items()}
    if any(i <= 0 or i > np.iinfo(np.uint16).max for i in ids.values()):
        raise InvalidOptionError(
            "class ids are 1 to 65535 (0 is unlabelled)",
            field="class_names",
            fix="number the classes from 1",
        )
    for name in names:
        if name not in ids:
            raise CubeFormatError(
                f"class {name!r} is not in class_names {shorten(repr(dict(class_names)))}",
                file=path,
                field="classification",
                fix="add it to class_names, or rename the class in the annotation tool",
            )
    return ids


# -- rasterisation ---------------------------------------------------------------------------
def _rasterise(rings: list[np.ndarray], rows: int, cols: int):
    """(row slice, column slice, mask) of the pixels whose centres lie inside ``rings``
    (even-odd, half-open on the right and bottom edges), on their bounding box clipped to the
    image; mask None when no pixel is inside."""
    points = np.concatenate(rings)
    row0 = max(0, math.ceil(points[:, 1].min() - 0.5))
    row1 = min(rows, math.ceil(points[:, 1].max() - 0.5))
    col0 = max(0, math.ceil(points[:, 0].min() - 0.5))
    col1 = min(cols, math.ceil(points[:, 0].max() - 0.5))
    if row1 <= row0 or col1 <= col0:
        return None, None, None
    edges = np.concatenate([np.stack([r, np.roll(r, -1, axis=0)], axis=1) for r in rings])
    (x0, y0), (x1, y1) = edges[:, 0].T, edges[:, 1].T
    width = col1 - col0
    mask = np.zeros((row1 - row0, width), dtype=bool)
    step = max(1, min(_ROWS_PER_CHUNK, 2**22 // max(1, len(edges))))
    for start in range(row0, row1, step):
        y = np.arange(start, min(start + step, row1)) + 0.5
        crosses = (y0 > y[:, None]) != (y1 > y[:, None])  # half-open in y: top edge inside
        line, edge = np.nonzero(crosses)
        x = x0[edge] + (y[line] - y0[edge]) * (x1[edge] - x0[edge]) / (y1[edge] - y0[edge])
        # pixel c is inside when an odd number of crossings lie at or left of its centre
        first = np.clip(np.ceil(x - 0.5) - col0, 0, width).astype(np.intp)
        counts = np.zeros((len(y), width + 1), dtype=np.int32)
        np.add.at(counts, (line, first), 1)
        mask[start - row0 : start - row0 + len(y)] = (np.cumsum(counts, axis=1)[:, :width] % 2) == 1
    if not mask.any():
        return None, None, None
    return slice(row0, row1), slice(col0, col1), mask


# -- formats ---------------------------------------------------------------------------------
def _read_regions(path: Path) -> list[tuple[str, list[list[np.ndarray]], str]]:
    """[(class name, polygons (each a list of rings, (n, 2) x/y corner-origin), where)]."""
    suffix = path.suffix.lower()
    if path.is_dir():
        raise CubeFormatError(
            "a folder, not an annotation file", file=path, field="path", fix="give the file"
        )
    if suffix in (".geojson", ".json"):
        return _read_geojson(path)
    if suffix == ".roi":
        return [_roi_region(_roi_from_bytes(_read_small(path), path, "roi"), path, "roi")]
    if suffix == ".zip":
        return _read_roi_zip(path)
    if suffix == ".csv":
        return _read_napari_csv(path)
    raise CubeFormatError(
        f"cannot tell the annotation format from the extension '{suffix}'",
        file=path,
        field="format",
        fix="use a QuPath .geojson, an ImageJ .roi or ROI-set .zip, or a napari shapes .csv",
    )


def _read_small(path: Path, inflation: int = 1) -> bytes:
    check_budget(path.stat().st_size * inflation, "the annotation file", file=path, field="size")
    return path.read_bytes()


def _read_geojson(path: Path):
    data = _read_small(path, _JSON_INFLATION)
    try:
        document = json.loads(data)
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
        raise CubeFormatError(
            f"not valid JSON ({type(exc).__name__}: {shorten(str(exc))})",
            file=path,
            field="JSON",
            fix="export the annotations again from QuPath (File > Export objects as GeoJSON)",
        ) from None
    if isinstance(document, dict) and document.get("type") == "FeatureCollection":
        features = document.get("features")
    elif isinstance(document, dict) and document.get("type") == "Feature":
        features = [document]
    else:
        features = document
    if not isinstance(features, list):
        raise CubeFormatError(
            "not GeoJSON: expected a Feature, a FeatureCollection or a list of features",
            file=path,
            field="type",
            fix="export the annotations from QuPath with File > Export objects as GeoJSON",
        )
    regions = []
    for index, feature in enumerate(features):
        where = f"features[{index}]"
        if not isinstance(feature, dict) or feature.get("type") != "Feature":
            raise CubeFormatError(
                "not a GeoJSON Feature",
                file=path,
                field=where,
                fix="export the annotations from QuPath with File > Export objects as GeoJSON",
            )
        regions.append(
            (_feature_class(feature, path, where), _geometry(feature, path, where), where)
        )
    return regions


def _feature_class(feature: dict, path: Path, where: str) -> str:
    properties = feature.get("properties")
    classification = properties.get("classification") if isinstance(properties, dict) else None
    if isinstance(classification, dict):
        classification = classification.get("name")
    if not isinstance(classification, str) or not classification:
        raise CubeFormatError(
            "the feature has no class",
            file=path,
            field=f"{where}.properties.classification",
            fix="set a class on every annotation in QuPath (or delete the unclassified ones) "
            "and export again",
        )
    return classification


def _geometry(feature: dict, path: Path, where: str) -> list[list[np.ndarray]]:
    geometry = feature.get("geometry")
    kind = geometry.get("type") if isinstance(geometry, dict) else None
    field = f"{where}.geometry"
    if kind not in ("Polygon", "MultiPolygon"):
        raise CubeFormatError(
            f"geometry {shorten(repr(kind))} is not a region",
            file=path,
            field=field,
            fix="annotate regions (Polygon, MultiPolygon); points and lines label no pixel",
        )
    coordinates = geometry.get("coordinates")
    polygons = [coordinates] if kind == "Polygon" else coordinates
    if not isinstance(polygons, list) or not polygons:
        raise CubeFormatError(
            "the geometry is empty",
            file=path,
            field=f"{field}.coordinates",
            fix="delete the empty annotation",
        )
    return [_rings(polygon, path, f"{field}.coordinates") for polygon in polygons]


def _rings(polygon, path: Path, field: str) -> list[np.ndarray]:
    rings = []
    for ring in polygon if isinstance(polygon, list) else [None]:
        try:
            array = np.asarray(ring, dtype=np.float64)
        except (TypeError, ValueError):
            array = None
        if array is None or array.ndim != 2 or array.shape[1] < 2 or len(array) < 3:
            rings = []
            break
        rings.append(array[:, :2])
    if not rings or not all(np.isfinite(r).all() for r in rings):
        raise CubeFormatError(
            "a polygon is empty or malformed (a ring is a list of at least 3 finite [x, y])",
            file=path,
            field=field,
            fix="delete the empty or damaged annotation and export again",
        )
    return rings


def _read_roi_zip(path: Path):
    try:
        with zipfile.ZipFile(path) as archive:
            infos = [i for i in archive.infolist() if i.filename.lower().endswith(".roi")]
            if not infos:
                raise CubeFormatError(
                    "the zip holds no .roi file",
                    file=path,
                    field="members",
                    fix="save the ROI set from Fiji's ROI Manager (More > Save...)",
                )
            if len(infos) > _MAX_ROIS:
                raise CubeFormatError(
                    f"the zip holds {len(infos)} ROIs, more than {_MAX_ROIS}",
                    file=path,
                    field="members",
                    fix="this is not an ImageJ ROI set; split it",
                )
            declared = sum(i.file_size for i in infos)
            stored = sum(i.compress_size for i in infos)
            check_budget(declared, "the ROI set", file=path, field="members")
            check_inflation(declared, stored, "the ROI set", file=path, field="members")
            regions = []
            for info in infos:
                data = _read_member(archive, info, path)
                roi = _roi_from_bytes(data, path, info.filename)
                regions.append(_roi_region(roi, path, info.filename))
            return regions
    except CubeFormatError:
        raise
    except Exception as exc:  # zipfile raises many kinds (BadZipFile, zlib.error, ...)
        raise CubeFormatError(
            f"not a readable ROI set ({type(exc).__name__}: {shorten(str(exc))})",
            file=path,
            field="zip",
            fix="save the ROI set again from Fiji's ROI Manager (More > Save...)",
        ) from None


def _read_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, path: Path) -> bytes:
    """A member's bytes, refused past :data:`_MAX_ROI_BYTES` whatever its header declares."""
    data = read_zip_member(archive, info, _MAX_ROI_BYTES)
    if data is None:
        raise CubeFormatError(
            f"the member inflates to more than {_MAX_ROI_BYTES} bytes",
            file=path,
            field=info.filename,
            fix="this is not an ImageJ ROI (or it is a zip bomb)",
        )
    return data


def _roi_from_bytes(data: bytes, path: Path, field: str):
    from roifile import ImagejRoi

    try:
        return ImagejRoi.frombytes(data)
    except Exception as exc:  # roifile raises ValueError, struct.error, IndexError...
        raise CubeFormatError(
            f"not an ImageJ ROI ({type(exc).__name__}: {shorten(str(exc))})",
            file=path,
            field=field,
            fix="save the ROI from ImageJ/Fiji again (File > Save As > Selection...)",
        ) from None


def _roi_region(roi, path: Path, field: str):
    from roifile import ROI_TYPE

    if roi.roitype not in (
        ROI_TYPE.POLYGON,
        ROI_TYPE.RECT,
        ROI_TYPE.OVAL,
        ROI_TYPE.FREEHAND,
        ROI_TYPE.TRACED,
    ) or (roi.subtype != 0):
        raise CubeFormatError(
            f"ROI type {getattr(roi.roitype, 'name', roi.roitype)} is not a region",
            file=path,
            field=field,
            fix="draw polygon, rectangle, oval, freehand or traced selections",
        )
    name = roi.name or Path(field).stem
    name = name.split(":", 1)[0] if ":" in name else name
    coords = np.asarray(roi.coordinates(), dtype=np.float64)
    if coords.ndim != 2 or len(coords) < 3:
        raise CubeFormatError(
            "the ROI is empty", file=path, field=field, fix="delete the empty selection"
        )
    return name, [[coords]], field


def _read_napari_csv(path: Path):
    text = _read_small(path, _JSON_INFLATION).decode("utf-8", errors="replace")
    reader = csv.reader(io.StringIO(text))
    header = [h.strip() for h in next(reader, [])]
    if not all(c in header for c in _NAPARI_COLUMNS):
        raise CubeFormatError(
            f"not a napari Shapes CSV (header {shorten(repr(header))})",
            file=path,
            field="header",
            fix="save the Shapes layer from napari (File > Save Selected Layer(s)) as .csv; "
            f"the columns are {', '.join(_NAPARI_COLUMNS)}",
        )
    column = {name: header.index(name) for name in header}
    class_column = next((column[c] for c in _CLASS_COLUMNS if c in column), None)
    shapes: dict[str, list] = {}
    for line_number, row in enumerate(reader, start=2):
        if not row:
            continue
        try:
            key = row[column["index"]].strip()
            kind = row[column["shape-type"]].strip().lower()
            point = [float(row[column["axis-1"]]) + 0.5, float(row[column["axis-0"]]) + 0.5]
            name = row[class_column].strip() if class_column is not None else "annotation"
        except (IndexError, ValueError):
            raise CubeFormatError(
                "a row is not index, shape-type, vertex-index, axis-0, axis-1",
                file=path,
                field=f"line {line_number}",
                fix="save the Shapes layer from napari again",
            ) from None
        shape = shapes.setdefault(key, [kind, name, []])
        shape[2].append(point)
    regions = []
    for key, (kind, name, points) in shapes.items():
        field = f"shape {key}"
        points = _napari_polygon(kind, np.asarray(points), path, field)
        if not name:
            raise CubeFormatError(
                "the shape has no class",
                file=path,
                field=f"{field}: {_CLASS_COLUMNS[0]}",
                fix="give every shape a class",
            )
        regions.append((name, [[points]], field))
    return regions


def _napari_polygon(kind: str, points: np.ndarray, path: Path | None, field: str) -> np.ndarray:
    """The polygon (x/y, corner origin) of one napari shape of ``kind`` with these vertices."""
    if kind == "ellipse" and len(points) == 4:
        points = _ellipse(points)
    elif kind not in ("polygon", "rectangle"):
        raise CubeFormatError(
            f"shape type {shorten(repr(kind))} is not a region",
            file=path,
            field=field,
            fix="draw polygons, rectangles or ellipses; paths and lines label no pixel",
        )
    if not np.isfinite(points).all() or len(points) < 3:
        raise CubeFormatError(
            "the shape is empty", file=path, field=field, fix="delete the empty shape"
        )
    return points


def napari_shape_mask(kind: str, vertices, shape: tuple[int, int]) -> np.ndarray:
    """The pixels inside one shape of a napari Shapes layer, by :func:`read_annotations`' rule.

    Parameters
    ----------
    kind : str
        napari's shape type: ``polygon``, ``rectangle`` or ``ellipse``.
    vertices : array of shape (n, D)
        The shape's vertices in data coordinates; the last two columns are (row, col), pixel
        centres at whole numbers (a 3-D layer's leading axes, such as a band, are ignored).
    shape : (rows, cols)

    Returns
    -------
    ndarray of bool, shape ``shape``
        True where the pixel centre lies inside the shape (all False when none does).

    Raises
    ------
    CubeFormatError
        If the shape is a line or path, or has fewer than 3 finite vertices.
    """
    rows, cols = _check_shape(shape)
    corner_xy = np.asarray(vertices, dtype=np.float64)[:, -2:][:, ::-1] + 0.5
    polygon = _napari_polygon(kind.lower(), corner_xy, None, "shape")
    mask = np.zeros((rows, cols), dtype=bool)
    row_slice, col_slice, inside = _rasterise([polygon], rows, cols)
    if inside is not None:
        mask[row_slice, col_slice] = inside
    return mask


def _ellipse(corners: np.ndarray, n: int = 256) -> np.ndarray:
    """The ellipse inscribed in napari's bounding box (4 corners, in order), as a polygon."""
    centre = corners.mean(axis=0)
    half_a = (corners[1] - corners[0]) / 2
    half_b = (corners[3] - corners[0]) / 2
    t = np.linspace(0, 2 * np.pi, n, endpoint=False)[:, None]
    return centre + np.cos(t) * half_a + np.sin(t) * half_b
