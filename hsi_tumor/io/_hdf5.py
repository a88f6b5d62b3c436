"""HDF5 cubes (h5py): any dataset, any axis order, read lazily chunk by chunk."""

from __future__ import annotations

import contextlib
import json
import logging
import os
from pathlib import Path
from typing import Any

import numpy as np

from hsi_tumor._shared.atomic import atomic_path
from hsi_tumor._shared.errors import (
    CubeFormatError,
    HsiTumorError,
    InvalidOptionError,
    InvalidTypeError,
)
from hsi_tumor._shared.limits import (
    check_budget,
    check_inflation,
    check_regular_file,
    describe_bytes,
    shorten,
)
from hsi_tumor.cube import Cube
from hsi_tumor.io._common import build_cube, is_wavelength_name
from hsi_tumor.io._lazy import HDF5CubeArray

logger = logging.getLogger("hsi_tumor.io")

__all__ = ["HDF5Reader", "check_dataset", "open_hdf5", "read_attribute", "write_hdf5"]

HDF5_EXTENSIONS = (".h5", ".hdf5", ".he5", ".hdf", ".nc", ".nc4")
_UNIT_ATTRS = ("wavelength_units", "wavelength units", "units", "unit")
#: The field named by errors about the file's internal structure (groups, links, heaps).
STRUCTURE = "HDF5 structure"
#: How many times its stored size each HDF5 filter can expand data at most: deflate (gzip)
#: 1032:1 (its hard limit), LZF about 88:1, byte shuffling and checksums 1:1. Other filters
#: (szip, scale-offset, plugins) have no known bound: datasets using them are read lazily as
#: they are, and whole reads of them are bounded by the memory budget.
_FILTER_EXPANSION = {1: 1032, 2: 1, 3: 1, 32000: 100}
#: Datasets up to this size are read without comparing their stored size (harmless either way).
_SMALL_DATASET = 2**20


def _hdf5_message(exc: BaseException) -> str:
    """libhdf5's text, cut short (it can carry addresses and long call-stack lines)."""
    return shorten(f"{type(exc).__name__}: {exc}", 200)


def open_hdf5(path: Path):
    """Open an HDF5 file read-only, turning h5py's errors into CubeFormatError."""
    import h5py

    check_regular_file(path)
    try:
        return h5py.File(path, "r")
    except OSError as exc:
        raise CubeFormatError(
            f"cannot open as HDF5 ({_hdf5_message(exc)})",
            file=path,
            field=STRUCTURE,
            fix="the file is truncated, corrupt or not HDF5; re-export it",
        ) from None


@contextlib.contextmanager
def reading_hdf5(path: Path):
    """Open an HDF5 file and turn any h5py error met while reading its structure into
    CubeFormatError (a corrupt group index, attribute heap or link name raises RuntimeError,
    KeyError, OSError, ValueError or TypeError deep inside h5py)."""
    try:
        with open_hdf5(path) as f:
            yield f
    except HsiTumorError:
        raise
    except (RuntimeError, KeyError, OSError, ValueError, TypeError, AttributeError) as exc:
        raise CubeFormatError(
            f"the HDF5 structure is corrupt (libhdf5 says {_hdf5_message(exc)})",
            file=path,
            field=STRUCTURE,
            fix="the file is corrupt or truncated; re-export it",
        ) from None


def check_dataset(ds, path: Path, *, field: str, whole: bool, what: str = "the dataset") -> None:
    """Refuse a dataset whose declared size the file cannot back, before reading any of it.

    Parameters
    ----------
    ds : h5py.Dataset
    path : Path
        The file (its size bounds what the dataset can store).
    field : str
        Named in the error (the dataset or variable).
    whole : bool
        The dataset is about to be read at once: its size must fit the memory budget.
    what : str
        What the dataset is, in words.

    Raises
    ------
    CubeFormatError
        If reading it whole would exceed the memory budget or inflate its stored data more than
        100 times (beyond 256 MiB: :func:`~hsi_tumor._shared.limits.check_inflation`); if its
        stored data adds up to more bytes than the file has; or if it declares more than its
        stored bytes can decompress to (unfiltered data: its stored size; deflate: 1032 x; LZF:
        100 x) — a small file declaring gigabytes of data it does not hold (unwritten chunks
        read as the fill value). Datasets of at most 1 MiB, virtual and external datasets are
        not compared with their storage.
    """
    declared = ds.dtype.itemsize
    for n in ds.shape or ():
        declared *= int(n)
    name = _text(ds.name)
    if whole:
        check_budget(declared, f"reading {what} '{shorten(name)}' whole", file=path, field=field)
    if declared <= _SMALL_DATASET or ds.is_virtual or ds.external:
        return
    plist = ds.id.get_create_plist()
    bound: int | None = 1
    for i in range(plist.get_nfilters()):
        code = plist.get_filter(i)[0]
        bound = (
            None
            if bound is None or code not in _FILTER_EXPANSION
            else bound * _FILTER_EXPANSION[code]
        )
    stored = ds.id.get_storage_size()
    size = path.stat().st_size
    shape = f"{'x'.join(map(str, ds.shape))} of {ds.dtype}"
    if stored > size:
        raise CubeFormatError(
            f"{what} '{shorten(name)}' ({shape}) has {describe_bytes(stored)} of stored data in a "
            f"file of {describe_bytes(size)}",
            file=path,
            field=field,
            fix="the file is corrupt or truncated; re-export it",
        )
    if whole:
        check_inflation(declared, stored, f"{what} '{shorten(name)}'", file=path, field=field)
    if bound is not None and declared > stored * bound:
        how = "uncompressed" if bound == 1 else f"compressed at most {bound}:1"
        raise CubeFormatError(
            f"{what} '{shorten(name)}' declares {describe_bytes(declared)} ({shape}) but the file "
            f"stores {describe_bytes(stored)} of it ({how})",
            file=path,
            field=field,
            fix="the file is truncated or its data was never written (missing chunks read as "
            "the fill value); re-export it",
        )


def read_attribute(attrs, key, path: Path):
    """An HDF5 attribute's value, refused when its declared size exceeds the memory budget."""
    aid = attrs.get_id(key)
    declared = aid.dtype.itemsize
    for n in aid.shape or ():
        declared *= int(n)
    check_budget(declared, f"the attribute '{shorten(key)}'", file=path, field=str(key))
    return attrs[key]


def _attr_lookup(attrs, names_ok, path: Path) -> tuple[str, Any] | None:
    for key in attrs:
        if names_ok(key):
            return key, read_attribute(attrs, key, path)
    return None


def _text(value) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, np.ndarray) and value.size == 1:
        return _text(value.reshape(-1)[0])
    return str(value)


def find_3d_datasets(f) -> list[str | bytes]:
    """Names of every numeric 3-D dataset in an open h5py file (MATLAB's '#refs#' skipped).

    Names that are not UTF-8 (HDF5 names are bytes) stay bytes, which h5py accepts back.
    """
    import h5py

    found: list[str | bytes] = []

    def visit(name, obj):
        root, hidden = (b"/", b"#") if isinstance(name, bytes) else ("/", "#")
        if name.startswith(hidden) or not isinstance(obj, h5py.Dataset):
            return
        if obj.ndim == 3 and obj.dtype.kind in "biufc":
            found.append(root + name)

    f.visititems(visit)
    return found


class HDF5Reader:
    """Reader for 3-D datasets in HDF5 files."""

    name = "hdf5"
    description = "HDF5 .h5/.hdf5 (a 3-D dataset, any axis order)"

    def guess_can_open(self, path: Path) -> bool:
        if path.is_dir() or path.suffix.lower() not in HDF5_EXTENSIONS:
            return False
        return True

    def open(
        self,
        path: Path,
        *,
        dataset: str | None = None,
        band_axis: int | None = None,
        wavelengths=None,
    ) -> Cube:
        """Open a 3-D HDF5 dataset lazily.

        Parameters
        ----------
        path : Path
        dataset : str, optional
            The dataset's name; found automatically when the file holds one 3-D dataset.
        band_axis : int, optional
            The dataset axis that holds the bands. Default: the dataset's ``band_axis``
            attribute, else the one axis whose length matches the wavelengths, else the last.
            The other two axes are rows then columns, in their stored order.
        wavelengths : array-like or path, optional
            Band centres in nm (or a CSV band table), overriding what the file holds.

        Notes
        -----
        Wavelengths are looked for in an attribute of the dataset, of its group or of the file
        named ``wavelengths``/``wavelength``/``wl``/``lambda`` (any case), then in a 1-D sibling
        dataset of such a name. Their unit comes from a ``wavelength_units``/``units`` attribute
        (nm assumed for values above 100, µm below).
        """
        path = Path(path)
        with reading_hdf5(path) as f:
            if dataset is None:
                found = find_3d_datasets(f)
                if len(found) != 1:
                    raise CubeFormatError(
                        "no 3-D numeric dataset"
                        if not found
                        else f"{len(found)} 3-D datasets ({', '.join(map(_text, found))})",
                        file=path,
                        field="dataset",
                        fix="pass dataset= with the cube's name",
                    )
                dataset = found[0]
            try:
                ds = f[dataset]  # not `dataset in f`: h5py cannot test non-UTF-8 names that way
            except KeyError:
                raise CubeFormatError(
                    f"no dataset '{_text(dataset)}' (3-D datasets: "
                    f"{', '.join(map(_text, find_3d_datasets(f))) or 'none'})",
                    file=path,
                    field="dataset",
                    fix="pass the name of an existing dataset",
                ) from None
            if not hasattr(ds, "ndim") or ds.ndim != 3:
                raise CubeFormatError(
                    f"'{dataset}' is not a 3-D dataset (shape {getattr(ds, 'shape', None)})",
                    file=path,
                    field="dataset",
                    fix="name a (rows, cols, bands) dataset in any axis order",
                )
            if ds.dtype.kind not in "biufc":
                raise CubeFormatError(
                    f"'{dataset}' holds {ds.dtype}, not numbers",
                    file=path,
                    field="dataset",
                    fix="store the cube as an integer or float dataset",
                )
            check_dataset(ds, path, field=_text(ds.name).lstrip("/"), whole=False, what="the cube")
            file_wl, units = _find_wavelengths(f, ds, path)
            metadata = _read_metadata(ds, path)
            axes = _axes(ds, band_axis, None if wavelengths is not None else file_wl, path)
            name = ds.name
        data = HDF5CubeArray(path, name, axes)
        metadata.update({"format": "hdf5", "dataset": name})
        return build_cube(
            data,
            file=path,
            wavelengths=file_wl,
            units=units,
            override=wavelengths,
            metadata=metadata,
            data_field=_text(name).lstrip("/"),
        )


def _numbers(value, path: Path, field: str) -> np.ndarray:
    """Wavelengths as float64, or a CubeFormatError naming where they came from."""
    try:
        return np.asarray(value, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError) as exc:
        raise CubeFormatError(
            f"the wavelengths are not numbers ({shorten(exc)})",
            file=path,
            field=field,
            fix="store the band centres as numbers, or pass wavelengths= in nm",
        ) from None


def _find_wavelengths(f, ds, path: Path) -> tuple[np.ndarray | None, str | None]:
    def is_unit(key) -> bool:
        return key.lower() in _UNIT_ATTRS

    for owner in (ds, ds.parent, f):
        hit = _attr_lookup(owner.attrs, is_wavelength_name, path)
        if hit is not None:
            units = _attr_lookup(owner.attrs, is_unit, path)
            return _numbers(hit[1], path, hit[0]), (None if units is None else _text(units[1]))
    for key in ds.parent:
        obj = ds.parent[key]
        if is_wavelength_name(key) and hasattr(obj, "ndim") and obj.size == max(obj.shape or (0,)):
            check_dataset(obj, path, field=key, whole=True, what="the wavelengths")
            units = _attr_lookup(obj.attrs, is_unit, path)
            return _numbers(obj[()], path, key), (None if units is None else _text(units[1]))
    units = _attr_lookup(ds.attrs, is_unit, path)
    return None, None if units is None else _text(units[1])


def _read_metadata(ds, path: Path) -> dict[str, Any]:
    meta: dict[str, Any] = {}
    for key in ("fwhm", "bbl", "band_names", "description"):
        if key in ds.attrs:
            value = read_attribute(ds.attrs, key, path)
            if key == "bbl":
                value = np.asarray(value).astype(bool)
            elif key == "band_names":
                value = np.array([_text(v) for v in np.asarray(value).reshape(-1)])
            elif key == "description":
                value = _text(value)
            meta[key] = value
    if "metadata_json" in ds.attrs:
        text = _text(read_attribute(ds.attrs, "metadata_json", path))
        try:
            extra = json.loads(text)
        except (ValueError, RecursionError):
            extra = None
        if isinstance(extra, dict):
            meta.update(extra)
        else:
            logger.warning("%s: attribute metadata_json is not a JSON object; ignored", ds.name)
    return meta


def _axes(ds, band_axis, wavelengths, path) -> tuple[int, int, int]:
    if band_axis is None and "band_axis" in ds.attrs:
        stored = np.asarray(read_attribute(ds.attrs, "band_axis", path)).reshape(-1)
        if stored.size != 1 or stored.dtype.kind not in "iu" or not -3 <= int(stored[0]) <= 2:
            raise CubeFormatError(
                f"the dataset's band_axis attribute is {shorten(stored.tolist())}, not an axis of "
                "a 3-D dataset",
                file=path,
                field="band_axis",
                fix="pass band_axis= (0, 1 or 2) to override it, or correct the attribute",
            )
        band_axis = int(stored[0])
    if band_axis is None and wavelengths is not None:
        matches = [i for i, n in enumerate(ds.shape) if n == wavelengths.size]
        if len(matches) == 1:
            band_axis = matches[0]
    if band_axis is None:
        band_axis = 2
    if not isinstance(band_axis, (int, np.integer)):
        raise InvalidTypeError(
            f"band_axis={band_axis!r} is not an axis of a 3-D dataset",
            file=path,
            field="band_axis",
            fix="use 0, 1 or 2 (or -1 for the last axis)",
        )
    if not -3 <= band_axis <= 2:
        raise InvalidOptionError(
            f"band_axis={band_axis!r} is not an axis of a 3-D dataset",
            file=path,
            field="band_axis",
            fix="use 0, 1 or 2 (or -1 for the last axis)",
        )
    band_axis = int(band_axis) % 3
    spatial = [a for a in range(3) if a != band_axis]
    return (spatial[0], spatial[1], band_axis)


def write_hdf5(
    cube: Cube,
    path: Path,
    *,
    overwrite: bool = False,
    dataset: str = "cube",
    compression: str | None = "lzf",
    compression_opts: int | None = None,
    chunks: tuple[int, int, int] | None = None,
) -> None:
    """Write a cube to HDF5, chunked by spatial tiles, compressed, with its wavelengths.

    Parameters
    ----------
    cube : Cube
    path : Path
    overwrite : bool, default=False
    dataset : str, default='cube'
        The dataset's name.
    compression : {'lzf', 'gzip', None}, default='lzf'
        ``'lzf'`` decompresses at memory speed (reading is not slowed); ``'gzip'`` (with byte
        shuffling) stores camera counts in about half the space but reads 5-10x slower.
    compression_opts : int, optional
        The gzip level (0-9).
    chunks : (rows, cols, bands), optional
        Chunk shape; default square spatial tiles of about 1 MB with all bands.

    Notes
    -----
    The dataset is (rows, cols, bands) with attributes ``wavelengths`` (nm, float64),
    ``wavelength_units = 'nm'``, ``band_axis = 2``, and ``fwhm``, ``bbl``, ``band_names``,
    ``description`` when the cube has them. It is written tile by tile into a temporary file
    renamed into place when complete.
    """
    import h5py

    from hsi_tumor._shared.atomic import refuse_overwrite

    refuse_overwrite(Path(path), overwrite=overwrite)
    if compression not in ("lzf", "gzip", None):
        raise InvalidOptionError(
            f"compression={compression!r}", field="compression", fix="use 'lzf', 'gzip' or None"
        )
    rows, cols, bands = cube.shape
    dtype = cube.dtype.newbyteorder("=")
    if chunks is None:
        side = max(1, int(np.sqrt(2**20 / max(1, bands * dtype.itemsize))))
        chunks = (min(rows, side), min(cols, side), bands)
    kwargs: dict[str, Any] = {"chunks": tuple(max(1, c) for c in chunks) if cube.nbytes else None}
    if compression is not None and cube.nbytes:
        kwargs["compression"] = compression
        if compression == "gzip":
            kwargs["shuffle"] = True
            kwargs["compression_opts"] = 4 if compression_opts is None else compression_opts
    with atomic_path(path) as tmp, h5py.File(tmp, "w") as f:
        ds = f.create_dataset(dataset, shape=cube.shape, dtype=dtype, **kwargs)
        for rows_slice, tile in cube.tiles(
            tile_rows=kwargs["chunks"][0] if kwargs["chunks"] else None
        ):
            ds[rows_slice] = tile.load().data
        if cube.wavelengths is None:  # derived features (scores, probabilities)
            ds.attrs["wavelength_units"] = "index"
        else:
            ds.attrs["wavelengths"] = np.asarray(cube.wavelengths, dtype=np.float64)
            ds.attrs["wavelength_units"] = "nm"
        ds.attrs["band_axis"] = 2
        meta = cube.metadata
        if meta.get("fwhm") is not None:
            ds.attrs["fwhm"] = np.asarray(meta["fwhm"], dtype=np.float64)
        if meta.get("bbl") is not None:
            ds.attrs["bbl"] = np.asarray(meta["bbl"]).astype(np.uint8)
        if meta.get("band_names") is not None:
            ds.attrs["band_names"] = np.array(
                [str(n) for n in meta["band_names"]], dtype=h5py.string_dtype()
            )
        if meta.get("description"):
            ds.attrs["description"] = str(meta["description"])
    logger.info("wrote %s:%s", os.fspath(path), dataset)
