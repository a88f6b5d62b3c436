"""Label maps: 2-D integer images of class ids (0 = unlabelled), read from and written to files.

Annotations come from many tools: NumPy arrays, PNG/TIFF images drawn in an image editor
(palette or greyscale values are the class ids), ENVI classification images, HDF5 datasets and
MATLAB variables. :func:`read_labels` reads them all to one (rows, cols) integer array;
:func:`write_labels` writes ENVI classification images (with class names and colours, which
ENVI and QGIS show) or HDF5.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from hsi_tumor._shared.atomic import atomic_path, refuse_overwrite
from hsi_tumor._shared.classes import check_label_map, class_colors, class_name_map
from hsi_tumor._shared.errors import CubeFormatError
from hsi_tumor._shared.limits import check_budget, shorten
from hsi_tumor.io._common import existing_file
from hsi_tumor.io._envi import (
    _DTYPE_CODES,
    EnviReader,
    read_envi_pair,
    write_envi_files,
)
from hsi_tumor.io._hdf5 import HDF5_EXTENSIONS, check_dataset, read_attribute, reading_hdf5
from hsi_tumor.io._matlab import load_v5
from hsi_tumor.io._numpy import npz_members, open_npy, read_npz_member

logger = logging.getLogger("hsi_tumor.io")

__all__ = ["IMAGE_EXTENSIONS", "read_labels", "read_map", "write_labels"]

#: Image files read with Pillow; their pixel values (palette indices or grey levels) are ids.
IMAGE_EXTENSIONS = (".png", ".tif", ".tiff", ".bmp")
_ENVI_DATA_EXTENSIONS = (".img", ".raw", ".dat", ".bin", ".bsq", ".bil", ".bip")
_DEFAULT_NAMES = ("labels",)


# -- reading ---------------------------------------------------------------------------------
def read_labels(
    path: str | os.PathLike,
    *,
    name: str | None = None,
    return_class_names: bool = False,
) -> np.ndarray | tuple[np.ndarray, dict[int, str] | None]:
    """Read a label map: a 2-D image of integer class ids, 0 = unlabelled.

    Parameters
    ----------
    path : str or os.PathLike
        ``.npy``; ``.npz``; ``.png``/``.tif``/``.tiff``/``.bmp`` (palette or greyscale: the
        pixel values are the ids); an ENVI classification image (``.hdr`` or its data file,
        one band); HDF5 (``.h5``/``.hdf5``); MATLAB ``.mat`` (v5/v7 or v7.3).
    name : str, optional
        The array, dataset or variable to read (``.npz``, HDF5, MATLAB). Default: one named
        ``labels``, else the only 2-D array of the file.
    return_class_names : bool, default=False
        Also return the class names the file records (ENVI ``class names``, the HDF5 attribute
        ``class_names`` written by :func:`write_labels`), or None.

    Returns
    -------
    labels : ndarray of int, shape (rows, cols)
        In memory; the file's integer type (float maps holding whole numbers become the
        smallest unsigned type that holds them, booleans ``uint8``).
    class_names : dict of int to str or None
        Only with ``return_class_names=True``; class 0 (unclassified) is left out.

    Raises
    ------
    MissingFileError
        If the file does not exist.
    CubeFormatError
        If the file cannot be read, holds no 2-D array, or holds values that are not class ids
        (fractions, negative numbers, NaN), or is an RGB image; if the map would take more
        memory than the memory budget (it is read whole; see
        :func:`hsi_tumor.io.memory_budget`), or the file declares more data than it holds; if
        the path is a named pipe or a device. The message names the file and the field.

    Examples
    --------
    >>> import numpy as np, tempfile, os
    >>> from hsi_tumor.io import read_labels, write_labels
    >>> path = os.path.join(tempfile.mkdtemp(), "labels.hdr")
    >>> labels = np.array([[0, 1, 1], [2, 2, 0]], dtype=np.uint8)
    >>> _ = write_labels(labels, path, class_names={1: "normal", 2: "tumor"})
    >>> read_labels(path, return_class_names=True)
    (array([[0, 1, 1],
           [2, 2, 0]], dtype=uint8), {1: 'normal', 2: 'tumor'})
    """
    path = existing_file(path)
    array, field, class_names = _read_2d(path, name, what="label map")
    labels = check_label_map(array, file=path, field=field, error=CubeFormatError)
    logger.debug("read labels %s %s from %s", labels.shape, labels.dtype, path)
    if return_class_names:
        return labels, class_names
    return labels


def read_map(path: str | os.PathLike, *, name: str | None = None) -> np.ndarray:
    """Read a 2-D numeric map (e.g. a tumor fraction) from the files :func:`read_labels` reads.

    Returns a float64 (rows, cols) array; no check of the values is made.
    """
    path = existing_file(path)
    array, field, _ = _read_2d(path, name, what="map")
    array = np.asarray(array)
    if array.ndim != 2 or array.dtype.kind not in "biuf":
        raise CubeFormatError(
            f"a map is a 2-D numeric array; got {array.dtype} of shape {array.shape}",
            file=path,
            field=field,
            fix="save one number per pixel as a (rows, cols) array",
        )
    return array.astype(np.float64)


def _read_2d(path: Path, name: str | None, what: str) -> tuple[np.ndarray, str, dict | None]:
    """(array, field naming where it came from, class names or None) of any supported file."""

    suffix = path.suffix.lower()
    if path.is_dir():
        raise CubeFormatError(
            f"a folder, not a {what} file", file=path, field="path", fix=f"give the {what}'s file"
        )
    if suffix == ".npy":
        return _read_npy(path), "array", None
    if suffix == ".npz":
        return _read_npz(path, name, what)
    if suffix in IMAGE_EXTENSIONS:
        return _read_image(path), "pixel values", None
    if suffix == ".mat":
        return _read_mat(path, name, what)
    if suffix in HDF5_EXTENSIONS:
        return _read_hdf5(path, name, what)
    if suffix == ".hdr" or suffix in _ENVI_DATA_EXTENSIONS or EnviReader().guess_can_open(path):
        return _read_envi(path)
    raise CubeFormatError(
        f"cannot tell the {what}'s format from the extension '{suffix}'",
        file=path,
        field="format",
        fix="use .npy, .npz, .png/.tif/.bmp, an ENVI .hdr, .h5/.hdf5 or .mat",
    )


def _read_npy(path: Path) -> np.ndarray:
    mapped = open_npy(path)  # header and file size checked, nothing read yet
    check_budget(mapped.nbytes, "the label map", file=path, field="array")
    return np.array(mapped)


def _pick(candidates: dict, everything: Sequence, name, path: Path, what: str, field: str):
    """The key of the 2-D array to read: ``name``, else ``labels``, else the only one."""
    if name is not None:
        if name not in everything:
            raise CubeFormatError(
                f"no {field} '{name}' ({field}s: {', '.join(map(str, everything)) or 'none'})",
                file=path,
                field=field,
                fix=f"give the name of the {field} that holds the {what}",
            )
        return name
    for default in _DEFAULT_NAMES:
        if default in everything:
            return default
    if len(candidates) == 1:
        return next(iter(candidates))
    raise CubeFormatError(
        f"no {field} named 'labels' and "
        + (
            f"{len(candidates)} 2-D arrays ({', '.join(map(str, candidates))})"
            if candidates
            else "no 2-D array"
        ),
        file=path,
        field=field,
        fix=f"pass name= with the {what}'s name",
    )


def _read_npz(path: Path, name, what) -> tuple[np.ndarray, str, None]:
    members = npz_members(path)  # headers only: nothing inflated yet
    candidates = {k: m for k, m in members.items() if m.ndim == 2}
    key = _pick(candidates, list(members), name, path, what, "array")
    return read_npz_member(path, members[key], f"the {what}"), key, None


#: Bytes per pixel of the image modes a label map may have (their NumPy arrays).
_MODE_BYTES = {"1": 1, "L": 1, "P": 1, "PA": 2, "I": 4, "F": 4}


def _read_image(path: Path) -> np.ndarray:
    """A palette or greyscale image's pixel values. Its declared size is checked against the
    memory budget before any pixel is decoded (Pillow reads only the header on open); any
    error Pillow raises on a damaged file becomes a CubeFormatError."""
    from PIL import Image

    try:
        with Image.open(path) as image:
            frames = getattr(image, "n_frames", 1)
            if frames > 1:
                raise CubeFormatError(
                    f"the image has {frames} frames (pages)",
                    file=path,
                    field="frames",
                    fix="save the label map as a single-page image",
                )
            mode = image.mode
            if not (mode in _MODE_BYTES or mode.startswith("I;")):
                raise CubeFormatError(
                    f"a {shorten(mode)} colour image: its colours are not class ids",
                    file=path,
                    field="mode",
                    fix="save the label map as a palette (P) or greyscale (L, I;16) image whose "
                    "pixel values are the class ids, e.g. "
                    "PIL.Image.fromarray(labels.astype(numpy.uint8)).save(path)",
                )
            width, height = image.size
            check_budget(
                3 * width * height * _MODE_BYTES.get(mode, 2),  # decoded, then two copies
                f"the {width} x {height} image",
                file=path,
                field="size",
            )
            array = np.array(image.convert("P") if mode == "PA" else image)
    except CubeFormatError:
        raise
    except Image.DecompressionBombError as exc:
        raise CubeFormatError(
            f"Pillow refuses the image as a possible decompression bomb ({shorten(exc, 200)})",
            file=path,
            field="size",
            fix="if the image is genuine, raise PIL.Image.MAX_IMAGE_PIXELS before reading it; "
            "otherwise the file is corrupt",
        ) from None
    except Exception as exc:  # Pillow's parsers raise OSError, SyntaxError, ValueError, ...
        raise CubeFormatError(
            f"cannot read as an image ({shorten(f'{type(exc).__name__}: {exc}', 200)})",
            file=path,
            field="pixel values",
            fix="the file is truncated or not an image; save it again",
        ) from None
    return array


def _read_mat(path: Path, name, what) -> tuple[np.ndarray, str, None]:
    import h5py

    def is_map(shape, dtype) -> bool:
        return len(shape) == 2 and min(shape) > 1 and np.dtype(dtype).kind in "biuf"

    if h5py.is_hdf5(path):  # v7.3: column-major, so h5py sees the transpose
        with reading_hdf5(path) as f:
            everything = [k for k in f if not k.startswith("#")]
            candidates = {
                k: f[k].shape
                for k in everything
                if isinstance(f[k], h5py.Dataset) and is_map(f[k].shape, f[k].dtype)
            }
            key = _pick(candidates, everything, name, path, what, "variable")
            array = _read_dataset(f[key], path, key, what).T
        return array, key, None
    names = load_v5(path)
    candidates = {
        k: v for k, v in names.items() if isinstance(v, np.ndarray) and is_map(v.shape, v.dtype)
    }
    key = _pick(candidates, list(names), name, path, what, "variable")
    return np.asarray(names[key]), key, None


def _read_hdf5(path: Path, name, what) -> tuple[np.ndarray, str, dict | None]:
    import h5py

    with reading_hdf5(path) as f:
        everything: list[str] = []
        f.visititems(
            lambda key, obj: everything.append(key) if isinstance(obj, h5py.Dataset) else None
        )
        candidates = {k: None for k in everything if f[k].ndim == 2}
        key = _pick(candidates, everything, name, path, what, "dataset")
        ds = f[key]
        array = _read_dataset(ds, path, key, what)
        class_names = None
        if "class_names" in ds.attrs:
            try:
                text = read_attribute(ds.attrs, "class_names", path)
                text = text.decode() if isinstance(text, bytes) else str(text)
                class_names = {int(k): str(v) for k, v in json.loads(text).items()}
            except (ValueError, AttributeError, RecursionError):
                logger.warning("%s: attribute class_names of '%s' is not JSON; ignored", path, key)
    return array, key, class_names


def _read_dataset(ds, path: Path, key, what: str) -> np.ndarray:
    """A dataset read whole, after its declared size was checked against the file and the
    memory budget."""
    import h5py

    if not isinstance(ds, h5py.Dataset):
        raise CubeFormatError(
            f"'{shorten(key)}' is a group, not an array",
            file=path,
            field=str(key),
            fix=f"name the dataset that holds the {what}",
        )
    check_dataset(ds, path, field=str(key), whole=True, what=f"the {what}")
    return np.asarray(ds[()])


def _read_envi(path: Path) -> tuple[np.ndarray, str, dict | None]:

    header, _, hdr = read_envi_pair(path)  # the header that describes the data beside it
    bands = str(hdr.get("bands", "")).strip()
    if bands != "1":
        raise CubeFormatError(
            f"a label map has one band; the header says bands = {bands or '(missing)'}",
            file=header,
            field="bands",
            fix="give a single-band ENVI classification image",
        )
    # Classification images carry no wavelengths: give the reader a dummy band position.
    cube = EnviReader().open(header, wavelengths=np.array([1.0]))
    check_budget(cube.nbytes, "the label map", file=header, field="lines/samples")
    array = np.array(cube.data[:, :, 0])
    class_names = None
    names = hdr.get("class names")
    if names is not None:
        names = names if isinstance(names, list) else [names]
        class_names = {i: str(n).strip() for i, n in enumerate(names) if i > 0}
    return array, "data", class_names


# -- writing ---------------------------------------------------------------------------------
def _name_map(class_names, labels: np.ndarray) -> dict[int, str]:
    """Names of the map's classes; a mapping may name more ids than the map holds."""
    present = [int(c) for c in np.unique(labels) if c != 0]
    if isinstance(class_names, Mapping):
        class_name_map(class_names, present)  # every present id named
        return dict(sorted(class_name_map(class_names).items()))
    return class_name_map(class_names, present)


def write_labels(
    labels,
    path: str | os.PathLike,
    *,
    class_names: Mapping[int, str] | Sequence[str] | None = None,
    overwrite: bool = False,
) -> Path:
    """Write a label map as an ENVI classification image or an HDF5 dataset, atomically.

    Parameters
    ----------
    labels : array-like of int, shape (rows, cols)
        Class ids, 0 = unlabelled / unclassified.
    path : str or os.PathLike
        ``NAME.hdr`` (data in ``NAME.img``) or an ENVI data name (``.img``, ``.raw``, ...) for
        ENVI; ``.h5``/``.hdf5`` for HDF5 (dataset ``labels``).
    class_names : mapping or sequence, optional
        ``{id: name}``, or one name per class id present, in ascending order. Default: the ids.
    overwrite : bool, default=False
        Replace existing output; without it an existing file is never touched.

    Returns
    -------
    pathlib.Path
        The header (ENVI) or the HDF5 file.

    Raises
    ------
    CubeFormatError
        If ``labels`` is not a 2-D map of non-negative integer ids, or the extension names no
        supported format.
    OutputExistsError
        If the output exists and ``overwrite`` is False.

    Notes
    -----
    The ENVI header has ``file type = ENVI Classification``, ``classes`` (the largest id + 1:
    ENVI's classes are 0..classes-1), ``class names`` (class 0 is ``Unclassified``) and
    ``class lookup`` (one RGB triple per class, the colours of
    :func:`hsi_tumor.viz.class_overlay`; 0 is black), so ENVI, QGIS and ``spectral``
    show the map in colour with its legend. Data is ``uint8`` when the ids fit, else ``uint16``
    or ``int32``, band-sequential, little-endian. The HDF5 dataset ``labels`` stores the class
    names as JSON in its ``class_names`` attribute. :func:`read_labels` reads both back exactly.
    """

    labels = check_label_map(labels, field="labels")
    names = _name_map(class_names, labels)
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".hdr" or suffix in _ENVI_DATA_EXTENSIONS:
        return _write_envi_labels(labels, path, names, overwrite)
    if suffix in HDF5_EXTENSIONS:
        return _write_hdf5_labels(labels, path, names, overwrite)
    raise CubeFormatError(
        f"cannot tell the output format from the extension '{suffix}'",
        file=path,
        field="format",
        fix="use .hdr (ENVI classification image) or .h5 (HDF5)",
    )


def _storage_dtype(labels: np.ndarray) -> np.dtype:
    top = int(labels.max()) if labels.size else 0
    return np.dtype(
        next((t for t in (np.uint8, np.uint16, np.int32) if top <= np.iinfo(t).max), np.int64)
    )


def _write_envi_labels(labels: np.ndarray, path: Path, names: dict[int, str], overwrite) -> Path:
    if path.suffix.lower() == ".hdr":
        header, data_file = path, path.with_suffix(".img")
    else:
        header, data_file = path.with_suffix(".hdr"), path
    dtype = _storage_dtype(labels)
    n_classes = max([int(labels.max()) if labels.size else 0, *names]) + 1
    class_names = ["Unclassified"] + [
        names.get(i, str(i)).replace(",", ";").replace("}", ")") for i in range(1, n_classes)
    ]
    # the colours of hsi_tumor.viz's overlays: tumor red, normal green, others tab10 by id
    named = dict(enumerate(class_names))
    colours = class_colors(range(1, n_classes), named)
    lookup = [0, 0, 0] + [round(255 * v) for i in range(1, n_classes) for v in colours[i]]
    hdr = {
        "description": "label map written by hsi_tumor",
        "samples": labels.shape[1],
        "lines": labels.shape[0],
        "bands": 1,
        "header offset": 0,
        "file type": "ENVI Classification",
        "data type": _DTYPE_CODES[dtype],
        "interleave": "bsq",
        "byte order": 0,
        "classes": n_classes,
        "class names": class_names,
        "class lookup": lookup,
        "band names": ["labels"],
    }
    write_envi_files(
        header,
        data_file,
        hdr,
        dtype=dtype.newbyteorder("<"),
        shape=(1, *labels.shape),
        fill=lambda out: out.__setitem__(0, labels),
        overwrite=overwrite,
    )
    logger.debug("wrote %s (%d classes)", header, n_classes)
    return header


def _write_hdf5_labels(labels: np.ndarray, path: Path, names: dict[int, str], overwrite) -> Path:
    import h5py

    refuse_overwrite(path, overwrite=overwrite)
    with atomic_path(path) as tmp, h5py.File(tmp, "w") as f:
        ds = f.create_dataset(
            "labels",
            data=labels.astype(_storage_dtype(labels)),
            compression="lzf" if labels.size else None,
        )
        ds.attrs["class_names"] = json.dumps({str(k): v for k, v in names.items()})
        ds.attrs["description"] = "label map (0 = unclassified) written by hsi_tumor"
    logger.debug("wrote %s:labels", path)
    return path
