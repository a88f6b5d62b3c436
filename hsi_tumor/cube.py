"""The :class:`Cube`: a hyperspectral image with its wavelengths and metadata."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np

from hsi_tumor._shared.arrays import is_dask_array, materialize, rows_per_tile
from hsi_tumor._shared.display import facts_table
from hsi_tumor._shared.errors import (
    CubeFormatError,
    CubeIndexError,
    InvalidOptionError,
    InvalidTypeError,
    WavelengthError,
)
from hsi_tumor._shared.wavelengths import check_wavelengths

__all__ = ["PER_BAND_METADATA", "Cube"]

#: Metadata entries that hold one value per band; band selection subsets them with the data.
PER_BAND_METADATA = ("fwhm", "bbl", "band_names")


def _is_lazy_array(data) -> bool:
    if is_dask_array(data):
        return True
    return hasattr(data, "select") and hasattr(data, "shape") and hasattr(data, "dtype")


def _format_bytes(n: int) -> str:
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if n < 1000 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n} B"  # pragma: no cover


def _reshape_without_copy(array: np.ndarray, shape: tuple) -> np.ndarray:
    """A reshaped view of ``array``; raises (ValueError or AttributeError) where that would
    need a copy. NumPy ≥ 2.1 says so with ``reshape(copy=False)``; setting ``.shape`` on a
    view, the way of older versions, is deprecated from NumPy 2.5 on."""
    try:
        return np.reshape(array, shape, copy=False)
    except TypeError:  # NumPy < 2.1: no copy argument
        view = array.view()
        view.shape = shape
        return view


class Cube:
    """A hyperspectral image: a (rows, cols, bands) array, its wavelengths in nm, and metadata.

    The data may be an in-memory :class:`numpy.ndarray`, a :class:`numpy.memmap` of a file, a
    lazy HDF5 view, or a :class:`dask.array.Array` (HDF5/zarr chunks, memory-map tiles, or any
    dask computation); selecting rows, columns or a wavelength range returns a new :class:`Cube`
    over the same storage and reads nothing. :meth:`load` reads the selection into memory.

    Parameters
    ----------
    data : array-like, shape (rows, cols, bands)
        The image. Arrays, memory maps and dask arrays are kept as they are (no copy, nothing
        computed).
    wavelengths : array-like, shape (bands,), or None
        Band centres in nm, strictly ascending. ``None`` for a cube of derived features that are
        not bands (principal-component scores, class probabilities).
    metadata : mapping, optional
        Anything worth keeping with the cube (source file, sensor, ``fwhm`` in nm, ``bbl``, ...).
        The entries named in :data:`PER_BAND_METADATA` hold one value per band and follow band
        selection.
    valid : array of bool, shape (rows, cols) or (rows, cols, bands), optional
        Which pixels (or pixel-bands) hold trustworthy values; ``None`` means all. Calibration sets
        it where references are unusable or the sensor saturated, and it follows selection.

    Raises
    ------
    CubeFormatError
        If ``data`` is not 3-D or a per-band metadata entry has the wrong length.
    WavelengthError
        If ``wavelengths`` do not give one strictly ascending, finite value per band.

    Examples
    --------
    >>> import numpy as np
    >>> import hsi_tumor as ht
    >>> cube = ht.Cube(np.zeros((4, 5, 3), dtype=np.float32), [1000.0, 1100.0, 1200.0])
    >>> cube
    Cube(4 rows x 5 cols x 3 bands, float32, 1000–1200 nm, 240 B in memory)
    >>> cube.sel(wavelengths=(1050, 1250)).wavelengths
    array([1100., 1200.])
    >>> cube.pixels().shape
    (20, 3)
    """

    def __init__(
        self,
        data,
        wavelengths,
        metadata: Mapping[str, Any] | None = None,
        *,
        valid=None,
    ) -> None:
        if not (isinstance(data, np.ndarray) or _is_lazy_array(data)):
            data = np.asarray(data)
        if len(data.shape) != 3:
            raise CubeFormatError(
                f"a cube is (rows, cols, bands); got an array of shape {tuple(data.shape)}",
                field="data",
                fix="reshape to (rows, cols, bands), e.g. data[:, :, np.newaxis] for one band",
            )
        self.data = data
        self.wavelengths = (
            None if wavelengths is None else check_wavelengths(wavelengths, data.shape[2])
        )
        if valid is not None:
            if not (isinstance(valid, np.ndarray) or _is_lazy_array(valid)):
                valid = np.asarray(valid, dtype=bool)
            if tuple(valid.shape) not in (tuple(data.shape[:2]), tuple(data.shape)):
                raise CubeFormatError(
                    f"the validity mask has shape {tuple(valid.shape)}; the cube is "
                    f"{tuple(data.shape)}",
                    field="valid",
                    fix="give a (rows, cols) or (rows, cols, bands) boolean mask",
                )
        self.valid = valid
        self.metadata: dict[str, Any] = dict(metadata or {})
        for key in PER_BAND_METADATA:
            if key in self.metadata and self.metadata[key] is not None:
                value = np.asarray(self.metadata[key])
                if value.shape != (data.shape[2],):
                    raise CubeFormatError(
                        f"metadata '{key}' has {value.size} values for {data.shape[2]} bands",
                        field=key,
                        fix="give one value per band or drop the entry",
                    )
                self.metadata[key] = value

    # -- shape and storage ------------------------------------------------------------------
    @property
    def shape(self) -> tuple[int, int, int]:
        """(rows, cols, bands)."""
        return tuple(int(n) for n in self.data.shape)

    @property
    def n_rows(self) -> int:
        return self.shape[0]

    @property
    def n_cols(self) -> int:
        return self.shape[1]

    @property
    def n_bands(self) -> int:
        return self.shape[2]

    @property
    def dtype(self) -> np.dtype:
        return np.dtype(self.data.dtype)

    @property
    def nbytes(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64)) * self.dtype.itemsize

    @property
    def in_memory(self) -> bool:
        """True when the data is a plain in-memory array (not a memory map or lazy view)."""
        return isinstance(self.data, np.ndarray) and not isinstance(self.data, np.memmap)

    @property
    def storage(self) -> str:
        """How the data is held: ``'in memory'``, ``'memory-mapped'``, ``'lazy (HDF5)'``,
        ``'lazy (dask)'``, ..."""
        if isinstance(self.data, np.memmap):
            return "memory-mapped"
        if self.in_memory:
            return "in memory"
        if is_dask_array(self.data):
            return "lazy (dask)"
        return f"lazy ({getattr(self.data, 'storage_kind', type(self.data).__name__)})"

    # -- selection --------------------------------------------------------------------------
    def __getitem__(self, key) -> Cube:
        """Select ``cube[rows, cols]`` or ``cube[rows, cols, bands]`` by index; nothing is read.

        Rows and columns take slices (an integer ``i`` keeps that one row as ``i:i+1``); bands
        take a slice or, for in-memory and memory-mapped cubes, a list of indices or a mask.
        """
        if not isinstance(key, tuple):
            key = (key,)
        if len(key) > 3:
            raise CubeIndexError(
                f"a cube has 3 axes (rows, cols, bands); got {len(key)} indices",
                field="key",
                fix="select as cube[rows, cols] or cube[rows, cols, bands]",
            )
        key = tuple(_keep_axis(k, n) for k, n in zip(key, self.shape, strict=False))
        key = key + (slice(None),) * (3 - len(key))
        data = _select(self.data, key)
        valid = self.valid
        if valid is not None:
            valid = _select(valid, key) if valid.ndim == 3 else valid[key[0], key[1]]
        band_index = np.arange(self.n_bands)[key[2]]
        wavelengths = None if self.wavelengths is None else self.wavelengths[band_index]
        return Cube(data, wavelengths, self._band_metadata(band_index), valid=valid)

    def _band_metadata(self, band_index: np.ndarray) -> dict[str, Any]:
        meta = dict(self.metadata)
        if np.array_equal(band_index, np.arange(self.n_bands)):
            return meta
        for key in PER_BAND_METADATA:
            if meta.get(key) is not None:
                meta[key] = np.asarray(meta[key])[band_index]
        if "default_bands" in meta:
            remap = {int(old): new for new, old in enumerate(band_index)}
            kept = [remap[b] for b in meta["default_bands"] if b in remap]
            if len(kept) == len(meta["default_bands"]):
                meta["default_bands"] = kept
            else:
                del meta["default_bands"]
        return meta

    def sel(
        self,
        *,
        rows: slice | tuple[int, int] | None = None,
        cols: slice | tuple[int, int] | None = None,
        wavelengths: tuple[float, float] | None = None,
    ) -> Cube:
        """Select by row/column range and by a wavelength range in nm; nothing is read.

        Parameters
        ----------
        rows, cols : slice or (start, stop), optional
            Index ranges (stop excluded).
        wavelengths : (min_nm, max_nm), optional
            Keep the bands whose centre lies in ``[min_nm, max_nm]`` (both included).

        Returns
        -------
        Cube

        Raises
        ------
        WavelengthError
            If no band lies in the wavelength range.
        """
        band = slice(None)
        if wavelengths is not None:
            self._require_wavelengths()
            lo, hi = (float(v) for v in wavelengths)
            keep = np.flatnonzero((self.wavelengths >= lo) & (self.wavelengths <= hi))
            if keep.size == 0:
                raise WavelengthError(
                    f"no band between {lo:g} and {hi:g} nm; the cube covers "
                    f"{self.wavelengths[0]:g}–{self.wavelengths[-1]:g} nm",
                    field="wavelengths",
                    fix="choose a range inside the cube's wavelengths",
                )
            band = slice(int(keep[0]), int(keep[-1]) + 1)
        return self[_as_slice(rows), _as_slice(cols), band]

    def band_index(self, wavelength: float) -> int:
        """Index of the band whose centre is nearest to ``wavelength`` (nm).

        Raises
        ------
        WavelengthError
            If ``wavelength`` lies outside the cube's range by more than one band spacing.
        """
        wl = self._require_wavelengths()
        spacing = float(np.median(np.diff(wl))) if wl.size > 1 else 0.0
        if not (wl[0] - spacing <= wavelength <= wl[-1] + spacing):
            raise WavelengthError(
                f"{wavelength:g} nm is outside the cube's range {wl[0]:g}–{wl[-1]:g} nm",
                field="wavelength",
                fix="choose a wavelength the camera recorded",
            )
        return int(np.argmin(np.abs(wl - wavelength)))

    def _require_wavelengths(self) -> np.ndarray:
        if self.wavelengths is None:
            raise WavelengthError(
                f"this cube holds {self.n_bands} derived features, not bands with wavelengths",
                field="wavelengths",
                fix="select features by index (cube[:, :, i]) instead of by wavelength",
            )
        return self.wavelengths

    # -- reading ----------------------------------------------------------------------------
    def load(self) -> Cube:
        """Read the cube into memory (C-contiguous, native byte order).

        Memory-mapped band-sequential and band-interleaved-by-line files are transposed tile by
        tile on several threads; lazy HDF5 cubes are read chunk by chunk. A cube already in
        memory in that layout is returned as it is.
        """
        valid = self.valid
        in_memory_layout = self.in_memory and self.data.flags.c_contiguous and self.dtype.isnative
        data = self.data if in_memory_layout else materialize(self.data)
        if getattr(valid, "finite_means_valid", False):
            valid = np.isfinite(data)  # derived from the values: no second pass over the source
        elif valid is not None and not (
            isinstance(valid, np.ndarray) and not isinstance(valid, np.memmap)
        ):
            valid = np.asarray(valid, dtype=bool)
        if in_memory_layout and valid is self.valid:
            return self
        return Cube(data, self.wavelengths, self.metadata, valid=valid)

    def pixels(self) -> np.ndarray:
        """The spectra as a (rows * cols, bands) array.

        A view (no copy) for in-memory and band-interleaved-by-pixel memory-mapped cubes; other
        layouts are read into memory first (use :meth:`tiles` for cubes larger than memory).
        """
        data = self.data
        if isinstance(data, np.ndarray):
            try:
                return _reshape_without_copy(data, (-1, self.n_bands))
            except (AttributeError, ValueError):  # the layout needs a copy
                pass
        return self.load().data.reshape(-1, self.n_bands)

    def tiles(self, tile_rows: int | None = None) -> Iterator[tuple[slice, Cube]]:
        """Iterate over blocks of whole rows: ``(row_slice, sub_cube)`` pairs.

        Parameters
        ----------
        tile_rows : int, optional
            Rows per tile; by default as many as fit in about 8 MB.
        """
        if tile_rows is None:
            tile_rows = rows_per_tile(self.shape, self.dtype.itemsize)
        if isinstance(tile_rows, bool) or not isinstance(tile_rows, (int, np.integer)):
            raise InvalidTypeError(
                f"tile_rows must be a whole number of rows, got {type(tile_rows).__name__} "
                f"{str(tile_rows)[:40]!r}",
                field="tile_rows",
                fix="give a positive int, or None for tiles of about 8 MB",
            )
        if tile_rows < 1:
            raise InvalidOptionError(
                f"tile_rows must be at least 1, got {tile_rows}",
                field="tile_rows",
                fix="give a positive number of rows, or None for tiles of about 8 MB",
            )
        for r0 in range(0, self.n_rows, tile_rows):
            rows = slice(r0, min(r0 + tile_rows, self.n_rows))
            yield rows, self[rows]

    # -- display ----------------------------------------------------------------------------
    def _summary(self) -> dict[str, str]:
        wl = self.wavelengths
        summary = {
            "shape": f"{self.n_rows} rows x {self.n_cols} cols x {self.n_bands} "
            + ("bands" if wl is not None else "features"),
            "dtype": str(self.dtype),
            "wavelengths": (
                "no wavelengths"
                if wl is None
                else "no bands"
                if wl.size == 0
                else f"{wl[0]:.4g}–{wl[-1]:.4g} nm"
            ),
            "size": f"{_format_bytes(self.nbytes)} {self.storage}",
        }
        if self.valid is not None:
            summary["valid"] = "with validity mask"
        return summary

    def __repr__(self) -> str:
        return "Cube(" + ", ".join(self._summary().values()) + ")"

    def _repr_html_(self) -> str:
        rows = list(self._summary().items())
        source = self.metadata.get("source")
        if source:
            rows.append(("source", str(source)))
        return facts_table("hsi_tumor.Cube", rows)


def _select(data, key):
    """Index an array or lazy array by (rows, cols, bands) without reading, where possible."""
    rows, cols, bands = key
    if isinstance(data, np.ndarray) or is_dask_array(data):  # (dask slices lazily)
        return data[rows, cols][:, :, bands]
    if isinstance(bands, slice):
        return data.select(key)
    return data.select((rows, cols, slice(None)))[:, :, np.asarray(bands)]


def _keep_axis(key, length: int):
    if isinstance(key, (int, np.integer)):
        i = range(length)[int(key)]  # raises IndexError when out of range
        return slice(i, i + 1)
    return key


def _as_slice(value) -> slice:
    if value is None:
        return slice(None)
    if isinstance(value, slice):
        return value
    start, stop = value
    return slice(start, stop)
