"""Manifests: a CSV listing a cohort's cubes, label maps and patients, read as Specimens.

A loader of real data (hence here, above calibration): a cube column naming a Specim capture
folder is calibrated to reflectance (:func:`~hsi_tumor.calibration.as_cube`), as everywhere.
"""

from __future__ import annotations

import csv
import logging
import os
import re
from collections.abc import Mapping
from functools import partial
from pathlib import Path

import numpy as np

from hsi_tumor._shared.classes import class_name_map
from hsi_tumor._shared.errors import CubeFormatError, HsiTumorError, TrainingDataError
from hsi_tumor._shared.limits import check_budget, shorten
from hsi_tumor.calibration._inputs import as_cube
from hsi_tumor.io import read_cube
from hsi_tumor.io._annotations import annotation_class_names, is_annotation_file, read_annotations
from hsi_tumor.io._common import existing_file
from hsi_tumor.io._hdf5 import HDF5_EXTENSIONS
from hsi_tumor.io._labels import read_labels, read_map
from hsi_tumor.specimen import Specimen

logger = logging.getLogger("hsi_tumor.datasets")

__all__ = ["MANIFEST_COLUMNS", "read_manifest"]

#: The columns a manifest may have; ``cube`` and ``labels`` are required.
MANIFEST_COLUMNS = ("cube", "labels", "patient", "name", "tumor_fraction", "tissue")
_REQUIRED = ("cube", "labels")
#: A cell ``FILE:NAME`` names one array of a file that holds several: an ``.npz`` array, an
#: HDF5 dataset (``maps.h5:P01/labels``), a MATLAB variable.
_NAMED = re.compile(
    r"^(?P<file>.+?(?:\.npz|\.mat|"
    + "|".join(re.escape(e) for e in HDF5_EXTENSIONS)
    + r")):(?P<name>[^:]+)$",
    re.IGNORECASE,
)


class FiniteValues:
    """The validity of a float cube stored with NaN where it is invalid: its finite values.

    Calibration writes NaN where a pixel-band cannot be trusted (saturated, unusable
    references); a file keeps the NaN but not the validity mask. Set as ``Cube.valid``, this
    lazy view (``finite_means_valid``, as calibrated cubes have) tells training and
    classification that those NaN are known invalid pixels, to be left out, not an error.
    """

    finite_means_valid = True
    ndim = 3
    storage_kind = "finite values"

    def __init__(self, data) -> None:
        self.data = data

    @property
    def shape(self) -> tuple[int, int, int]:
        return tuple(self.data.shape)

    @property
    def dtype(self) -> np.dtype:
        return np.dtype(bool)

    def select(self, key) -> FiniteValues:
        from hsi_tumor.cube import _select

        return FiniteValues(_select(self.data, key))

    def __getitem__(self, key) -> np.ndarray:
        return np.isfinite(np.asarray(self.data[key]))

    def __array__(self, dtype=None, copy=None):
        from hsi_tumor._shared.arrays import materialize

        valid = np.isfinite(materialize(self.data))
        return valid if dtype is None else valid.astype(dtype)


def _with_nan_as_invalid(cube):
    """``cube`` whose NaN/inf values are marked invalid (float cubes without a valid mask)."""
    from hsi_tumor.cube import Cube

    if cube.valid is not None or cube.dtype.kind not in "fc":
        return cube
    return Cube(cube.data, cube.wavelengths, cube.metadata, valid=FiniteValues(cube.data))


def _file_and_name(value: str, folder: Path) -> tuple[Path, str | None]:
    """The file a cell names (relative to the manifest's folder) and, for ``FILE:NAME`` on an
    ``.npz``, HDF5 or MATLAB file, the array inside it."""

    def located(text: str) -> Path:
        candidate = Path(os.path.expanduser(text))
        return candidate if candidate.is_absolute() else folder / candidate

    whole = located(value)
    try:
        exists = whole.exists()
    except (OSError, ValueError):  # a name too long to exist, a NUL: reported where read
        exists = False
    match = None if exists else _NAMED.match(value)  # a file named 'a.npz:b' wins
    return (located(match["file"]), match["name"]) if match else (whole, None)


def _read_cube(file: Path, array: str | None):
    """The cube of a ``cube`` cell: :func:`as_cube` (a capture folder is calibrated), or the
    named array of a container file (an HDF5 ``dataset``, an ``.npz``/MATLAB ``variable``)."""
    if array is None:
        return as_cube(file)
    option = "dataset" if file.suffix.lower() in HDF5_EXTENSIONS else "variable"
    return read_cube(file, **{option: array})


def _delimiter(first_line: str) -> str:
    """',' unless the header only uses ';' (spreadsheets in many locales) or tabs."""
    if "," in first_line:
        return ","
    for candidate in (";", "\t"):
        if candidate in first_line:
            return candidate
    return ","


def read_manifest(path: str | os.PathLike, *, class_names=None) -> list:
    """Read a cohort manifest: one row per specimen, as :class:`~hsi_tumor.datasets.Specimen`.

    Parameters
    ----------
    path : str or os.PathLike
        A CSV file with a header row. Columns (any order, names case-insensitive):

        ``cube`` (required)
            The calibrated cube: any file :func:`hsi_tumor.read_cube` opens.
        ``labels`` (required)
            The label map: any file :func:`hsi_tumor.io.read_labels` reads (0 = unlabelled), or
            annotations :func:`hsi_tumor.io.read_annotations` rasterises on the cube's grid (a
            QuPath ``.geojson``/``.json``, an ImageJ ``.roi`` or ROI-set ``.zip``, a napari
            Shapes ``.csv``).
        ``patient`` (optional)
            Patient id; rows of one patient are never split apart in evaluation. Default: each
            row its own patient (its name).
        ``name`` (optional)
            Specimen name for reports; default the ``cube`` cell without its extension.
        ``tumor_fraction`` (optional)
            A 2-D map (``.npy``, ``.npz``, ``.h5``, ...) of the tumor fraction (0..1) of each
            pixel, where known; enables the fuzzy metrics of the evaluation.
        ``tissue`` (optional)
            A 2-D mask (nonzero = tissue) over which tumor area is compared.

        Relative paths are relative to the manifest's folder. A cell ``FILE:NAME`` names one
        array of a file that holds several: an ``.npz`` array (``truth.npz:tumor_fraction``),
        an HDF5 dataset (``maps.h5:P01/labels``) or a MATLAB variable; without ``:NAME`` the
        array is ``labels`` or the file's only 2-D array (a cube file's only cube). Empty cells
        of optional columns mean "not given"; blank lines are skipped. The delimiter is ``,``
        (or ``;``/tab when the header uses only that).

    Returns
    -------
    list of Specimen
        Cubes opened lazily (memory-mapped or lazy HDF5); label maps in memory. NaN (and inf)
        values of a float cube mark invalid pixel-bands, as :func:`hsi_tumor.calibrate` writes
        them (saturated or without usable references): the cube's ``valid`` is its finite
        values, so training leaves those pixels out (``model.training["invalid_left_out"]``)
        instead of raising, and classification does not classify them.

    class_names : mapping of int to str or sequence of str, optional
        The class ids of the names in annotation files (a sequence: ids 1, 2, ...). Default:
        every class name of the manifest's annotation files, sorted alphabetically, gets ids
        1, 2, ... (the same ids in every row, whichever classes a row has).

    Raises
    ------
    MissingFileError
        If the manifest or a file it names does not exist (the message names the manifest,
        the row and the column).
    CubeFormatError
        If a required column is missing, a row has no cube or labels, the text is not CSV
        (a NUL character, a cell over 128 KiB), a file cannot be read, or the manifest or a
        file it names is a named pipe or a device (refused before it is opened).
    TrainingDataError
        If a label map or tumor fraction does not have its cube's rows and columns.

    Examples
    --------
    A manifest::

        cube,labels,patient
        P01/reflectance.hdr,P01/labels.hdr,P01
        P02/reflectance.hdr,P02/labels.hdr,P02

    Maps as arrays of an ``.npz`` (``hsi-tumor demo`` writes ``out/cohort.csv`` so)::

        cube,labels,patient,tumor_fraction
        P01/reflectance.hdr,P01/truth.npz:annotation,P01,P01/truth.npz:tumor_fraction
    """
    path = existing_file(path)  # a named pipe or a device is refused before it is opened
    folder = path.parent
    if path.is_dir():
        raise CubeFormatError(
            "a folder, not a manifest", file=path, field="path", fix="give the manifest's CSV file"
        )
    check_budget(8 * path.stat().st_size, "parsing this manifest", file=path, field="path")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise CubeFormatError(
            f"cannot read the manifest as UTF-8 text ({shorten(exc, 200)})",
            file=path,
            field="path",
            fix="save it as a CSV file (UTF-8)",
        ) from None
    header, rows = _header_and_rows(path, text)
    annotation_ids = _annotation_ids(folder, header, rows, class_names)
    specimens = []
    names_seen: dict[str, int] = {}
    for index, (line, cells) in enumerate(rows, start=1):
        specimen, patient_given = _row_specimen(
            path, folder, header, index, line, cells, annotation_ids
        )
        if not patient_given:  # each row its own patient: keep the ids distinct
            names_seen[specimen.patient] = names_seen.get(specimen.patient, 0) + 1
            if names_seen[specimen.patient] > 1:
                specimen.patient = f"{specimen.patient} (row {index})"
        specimens.append(specimen)
    logger.info(
        "%s: %d specimens of %d patients",
        path,
        len(specimens),
        len({s.patient for s in specimens}),
    )
    return specimens


def _header_and_rows(path: Path, text: str) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """The manifest's column names (lower case) and its specimen rows ``(line, cells)``."""
    lines = text.splitlines()
    first = next((line for line in lines if line.strip()), "")
    reader = csv.reader(lines, delimiter=_delimiter(first))
    try:
        rows = [(reader.line_num, row) for row in reader]
    except csv.Error as exc:  # a NUL character, a cell over the CSV field limit (128 KiB)...
        raise CubeFormatError(
            f"not valid CSV at line {max(1, reader.line_num)} ({shorten(exc)})",
            file=path,
            field=f"line {max(1, reader.line_num)}",
            fix="save the manifest as plain CSV text: one row per specimen, cells holding "
            "paths and names",
        ) from None
    rows = [(n, [cell.strip() for cell in row]) for n, row in rows if any(c.strip() for c in row)]
    if not rows:
        raise CubeFormatError(
            "the manifest is empty",
            file=path,
            field="header",
            fix="write a header row 'cube,labels,patient' and one row per specimen",
        )
    header = [h.lower() for h in rows[0][1]]
    for column in _REQUIRED:
        if column not in header:
            raise CubeFormatError(
                f"no '{column}' column (the header is "
                f"{shorten(', '.join(rows[0][1]), 200) or 'empty'})",
                file=path,
                field=column,
                fix="the first row names the columns: cube, labels and optionally patient, "
                "name, tumor_fraction, tissue",
            )
    duplicated = sorted({h for h in header if h and header.count(h) > 1})
    if duplicated:
        raise CubeFormatError(
            f"the column(s) {shorten(', '.join(duplicated), 200)} appear twice",
            file=path,
            field=duplicated[0],
            fix="give each column once",
        )
    unknown = [h for h in header if h not in MANIFEST_COLUMNS]
    if unknown:
        logger.warning(
            "%s: column(s) %s ignored (known: %s)",
            path,
            ", ".join(repr(u) for u in unknown),
            ", ".join(MANIFEST_COLUMNS),
        )
    if len(rows) == 1:
        raise CubeFormatError(
            "the manifest has a header but no specimen rows",
            file=path,
            field="rows",
            fix="add one row per specimen",
        )
    return header, rows[1:]


def _stem(cell: str) -> str:
    """The cube cell without its extension (the default specimen name)."""
    try:
        return Path(cell).with_suffix("").as_posix()
    except ValueError:  # a name without a stem, such as '.' or '/'
        return cell


def _annotation_ids(folder: Path, header, rows, class_names) -> dict[int, str] | None:
    """``{id: name}`` for the annotation files of the labels column: ``class_names``, or every
    name found, sorted (unreadable files are skipped here: reading the row reports them)."""
    if class_names is not None:
        if isinstance(class_names, Mapping):
            return class_name_map(class_names)
        return class_name_map(class_names, range(1, len(class_names) + 1))
    if "labels" not in header:
        return None
    column = header.index("labels")
    names: set[str] = set()
    for _, cells in rows:
        cell = cells[column] if column < len(cells) else ""
        try:
            file, _ = _file_and_name(cell, folder) if cell else (None, None)
            if file is not None and is_annotation_file(file):
                names.update(annotation_class_names(file))
        except HsiTumorError:
            continue
    return {i: name for i, name in enumerate(sorted(names), start=1)} or None


def _read_labels_cell(file: Path, name, shape, class_names) -> np.ndarray:
    if is_annotation_file(file):
        return read_annotations(file, shape=shape, class_names=class_names)
    return read_labels(file, name=name)


def _row_specimen(
    path: Path, folder: Path, header, index: int, line: int, cells, annotation_ids=None
) -> tuple[Specimen, bool]:
    """The Specimen of one manifest row (its files read; errors name the row and column), and
    whether the row named its patient."""
    where = f"row {index} (line {line})"
    if len(cells) > len(header):
        raise CubeFormatError(
            f"{where} has {len(cells)} cells for {len(header)} columns",
            file=path,
            field=header[-1],
            fix="quote cells that contain the delimiter, or remove the extra cells",
        )
    record = dict(zip(header, cells + [""] * (len(header) - len(cells)), strict=True))

    def resolve(column: str, *, required: bool, where=where, record=record):
        """``(file, array name or None)`` of a cell; ``(None, None)`` for an empty one."""
        value = record.get(column, "")
        if not value:
            if required:
                raise CubeFormatError(
                    f"{where} has no {column}",
                    file=path,
                    field=column,
                    fix=f"give the {column} file of every row",
                )
            return None, None
        return _file_and_name(value, folder)

    def wrapped(exc: HsiTumorError, column: str, where=where) -> HsiTumorError:
        inner = f"{exc.file}: " if exc.file else ""
        inner += f"field '{exc.field}': " if exc.field else ""
        return type(exc)(f"{where}: {inner}{exc.problem}", file=path, field=column, fix=exc.fix)

    try:
        cube_file, array = resolve("cube", required=True)
        cube = _with_nan_as_invalid(_read_cube(cube_file, array))
    except HsiTumorError as exc:
        if exc.file == os.fspath(path):
            raise
        raise wrapped(exc, "cube") from None
    maps: dict[str, np.ndarray | None] = {}
    for column, read in (
        (
            "labels",
            partial(_read_labels_cell, shape=cube.shape[:2], class_names=annotation_ids),
        ),
        ("tumor_fraction", read_map),
        ("tissue", read_map),
    ):
        file, array = resolve(column, required=column == "labels")
        try:
            maps[column] = None if file is None else read(file, name=array)
        except HsiTumorError as exc:
            raise wrapped(exc, column) from None
        value = maps[column]
        if value is not None and value.shape != cube.shape[:2]:
            raise TrainingDataError(
                f"{where}: the {column} map {file} has shape {value.shape}, the cube has "
                f"{cube.shape[:2]} pixels",
                file=path,
                field=column,
                fix=f"give a {column} map of the cube's rows and columns",
            )
    fraction = maps["tumor_fraction"]
    if fraction is not None:
        finite = fraction[np.isfinite(fraction)]
        if finite.size and (finite.min() < 0 or finite.max() > 1):
            raise CubeFormatError(
                f"{where}: the tumor fraction ranges {finite.min():g}..{finite.max():g}",
                file=path,
                field="tumor_fraction",
                fix="give fractions between 0 and 1",
            )
    cube_cell = _NAMED.sub(r"\g<file>", record["cube"])  # 'cubes.h5:P01' is named 'cubes'
    name = record.get("name") or _stem(cube_cell)
    patient = record.get("patient") or name
    specimen = Specimen(
        cube,
        maps["labels"],
        patient,
        name=name,
        tumor_fraction=fraction,
        tissue=None if maps["tissue"] is None else maps["tissue"] != 0,
    )
    return specimen, bool(record.get("patient"))
