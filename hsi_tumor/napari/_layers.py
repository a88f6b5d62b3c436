"""napari layer data for cubes, label maps and tumor maps, in the project's colours.

Everything here returns napari's *layer data tuples* ``(data, kwargs, layer_type)``, which a
reader returns and :meth:`napari.Viewer._add_layer_from_data` (or ``viewer.add_<type>``) turns
into layers, so that the reader, the widgets and the tests draw the same thing. Only
:func:`cube_of` reads a napari layer; nothing here imports napari.

A cube is shown twice: as a pseudo-RGB image (:func:`hsi_tumor.pseudo_rgb`) and as the cube
itself with its band axis first, in nm (``scale`` and ``translate`` of the band axis
are the mean band spacing and the first wavelength). The cube is never read whole: napari
asks for one band at a time, which a memory map or a lazy HDF5 cube reads on demand.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from hsi_tumor._shared.classes import PALETTE, class_colors, class_name_map
from hsi_tumor.cube import Cube
from hsi_tumor.viz import default_rgb_wavelengths, pseudo_rgb

__all__ = [
    "CUBE_KEY",
    "BandFirstArray",
    "band_first",
    "cube_layers",
    "cube_of",
    "fraction_layers",
    "label_layer",
    "labels_class_names",
    "tumor_map_layers",
]

#: The ``metadata`` key of a cube layer under which the :class:`~hsi_tumor.Cube` travels.
CUBE_KEY = "hsi_tumor_cube"
#: Values sampled for a cube layer's contrast limits (a strided subset of the pseudo-RGB bands).
_CONTRAST_SAMPLE = 200_000
_TRANSPARENT = (0.0, 0.0, 0.0, 0.0)

LayerData = tuple[Any, dict[str, Any], str]


class BandFirstArray:
    """A (bands, rows, cols) view of a (rows, cols, bands) lazy array, read on indexing.

    napari slices its layers as ``data[band, rows, cols]``; this forwards such a key to the
    cube's own ``data[rows, cols, band]`` so that an HDF5 or band-reordered cube reads one band
    per slider step. (In-memory and memory-mapped cubes get a plain :func:`numpy.moveaxis`
    view instead, see :func:`band_first`.)
    """

    def __init__(self, data) -> None:
        self.data = data

    @property
    def shape(self) -> tuple[int, int, int]:
        rows, cols, bands = self.data.shape
        return (bands, rows, cols)

    @property
    def dtype(self) -> np.dtype:
        return np.dtype(self.data.dtype)

    @property
    def ndim(self) -> int:
        return 3

    @property
    def size(self) -> int:
        return int(np.prod(self.shape))

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, key) -> np.ndarray:
        if not isinstance(key, tuple):
            key = (key,)
        if any(k is Ellipsis for k in key):
            at = next(i for i, k in enumerate(key) if k is Ellipsis)
            key = key[:at] + (slice(None),) * (4 - len(key)) + key[at + 1 :]
        band, rows, cols = key + (slice(None),) * (3 - len(key))
        block = np.asarray(self.data[rows, cols, band])
        if not isinstance(band, (int, np.integer)):
            block = np.moveaxis(block, -1, 0)  # the band axis is the last one kept
        return block

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        out = np.moveaxis(np.asarray(self.data), -1, 0)
        return out if dtype is None else out.astype(dtype)


def band_first(cube: Cube):
    """The cube's data as (bands, rows, cols), without reading it."""
    if isinstance(cube.data, np.ndarray):
        return np.moveaxis(cube.data, -1, 0)
    if type(cube.data).__module__.startswith("dask"):
        import dask.array as da

        return da.moveaxis(cube.data, -1, 0)
    return BandFirstArray(cube.data)


def _band_axis(cube: Cube) -> dict[str, Any]:
    """scale/translate/axis labels putting the band axis in nm (or band numbers)."""
    wl = cube.wavelengths
    if wl is None:
        start, step, unit = 0.0, 1.0, None
    else:
        step = float((wl[-1] - wl[0]) / (wl.size - 1)) if wl.size > 1 else 1.0
        start, unit = float(wl[0]), "nm"
    label = "band" if unit is None else "wavelength"
    return {
        "scale": (step, 1.0, 1.0),
        "translate": (start, 0.0, 0.0),
        "axis_labels": (label, "y", "x"),
        "units": (unit, "pixel", "pixel"),
    }


def cube_layers(cube: Cube, name: str, *, path: str | None = None) -> list[LayerData]:
    """A pseudo-RGB image and the cube (band axis in nm) as napari layer data.

    Parameters
    ----------
    cube : Cube
    name : str
        Layer name of the cube; the pseudo-RGB is ``"<name> RGB"``.
    path : str, optional
        The file the cube came from, recorded in the layers' metadata.

    Returns
    -------
    list of (data, kwargs, 'image')
        The cube layer's ``metadata[CUBE_KEY]`` is the :class:`~hsi_tumor.Cube` (the widgets
        classify it); both carry ``wavelengths`` and ``path``.
    """
    meta: dict[str, Any] = {
        CUBE_KEY: cube,
        "wavelengths": None if cube.wavelengths is None else np.asarray(cube.wavelengths),
        "path": path,
    }
    layers: list[LayerData] = []
    limits = None
    if cube.wavelengths is not None:
        rgb_nm = default_rgb_wavelengths(cube)
        rgb = pseudo_rgb(cube, rgb_nm)
        rgb_name = f"{name} RGB ({'/'.join(f'{w:.0f}' for w in rgb_nm)} nm)"
        layers.append((rgb, {"name": rgb_name, "rgb": True, "metadata": dict(meta)}, "image"))
        limits = _contrast_limits(cube, rgb_nm)
    cube_kwargs: dict[str, Any] = {
        "name": name,
        "metadata": meta,
        "colormap": "gray",
        "visible": not layers,
        **_band_axis(cube),
    }
    if limits is not None:
        cube_kwargs["contrast_limits"] = limits
    layers.append((band_first(cube), cube_kwargs, "image"))
    return layers


def _contrast_limits(cube: Cube, wavelengths) -> tuple[float, float] | None:
    """1st–99th percentile of a strided sample of the pseudo-RGB bands (napari would read the
    cube to find its range otherwise)."""
    rows, cols = cube.n_rows, cube.n_cols
    step = max(1, int(np.sqrt(rows * cols * 3 / _CONTRAST_SAMPLE)))
    sample = np.concatenate(
        [
            np.asarray(cube.data[::step, ::step, cube.band_index(w)], dtype=np.float64).ravel()
            for w in wavelengths
        ]
    )
    sample = sample[np.isfinite(sample)]
    if sample.size == 0:
        return None
    lo, hi = np.percentile(sample, [1, 99])
    return (float(lo), float(hi) if hi > lo else float(lo) + 1.0)


def cube_of(layer) -> Cube | None:
    """The :class:`~hsi_tumor.Cube` behind a napari image layer, or None.

    A layer from the hsi_tumor reader carries its cube; any other 3-D single-channel image is
    taken as (bands, rows, cols) with the wavelengths of its ``metadata['wavelengths']``.
    """
    cube = layer.metadata.get(CUBE_KEY)
    if isinstance(cube, Cube):
        return cube
    if getattr(layer, "rgb", False) or layer.data.ndim != 3 or getattr(layer, "multiscale", False):
        return None
    wavelengths = layer.metadata.get("wavelengths")
    data = layer.data
    if isinstance(data, BandFirstArray):
        return Cube(data.data, wavelengths)
    return Cube(np.moveaxis(np.asarray(data), 0, -1), wavelengths)


def _labels_colormap(colors: Mapping[int, tuple]) -> dict:
    mapping: dict = {None: _TRANSPARENT, 0: _TRANSPARENT}
    for cid, rgb in colors.items():
        mapping[int(cid)] = (*rgb[:3], 1.0)
    return {"colormap": mapping}


def label_layer(
    labels: np.ndarray,
    class_names: Mapping[int, str] | None,
    name: str,
    *,
    zero_means: str = "unlabelled",
    **kwargs,
) -> LayerData:
    """A class map as a napari Labels layer in the colours of :func:`hsi_tumor.viz.class_colors`.

    The class names travel in ``metadata['class_names']`` (the plugin's writers store them)
    and in ``features`` (napari shows the name of the class under the cursor).
    """
    labels = np.asarray(labels)
    present = [int(c) for c in np.unique(labels) if c != 0]
    names = class_name_map(class_names, present)
    ids = sorted(set(names) | set(present))
    colors = class_colors(ids, names)
    features = {
        "index": [0, *ids],
        "class": [zero_means, *(names.get(c, str(c)) for c in ids)],
    }
    layer_kwargs = {
        "name": name,
        "metadata": {"class_names": {c: names.get(c, str(c)) for c in ids}},
        "features": features,
        "opacity": 0.6,
        **_labels_colormap(colors),
        **kwargs,
    }
    return (labels, layer_kwargs, "labels")


def _flag_layer(flag: np.ndarray, state: str, name: str, **kwargs) -> LayerData:
    import matplotlib.colors as mcolors

    return label_layer(
        flag.astype(np.uint8),
        {1: state},
        name,
        zero_means="",
        **{**_labels_colormap({1: mcolors.to_rgb(PALETTE[state])}), "opacity": 0.8, **kwargs},
    )


def _probability_layer(values: np.ndarray, name: str, **kwargs) -> LayerData:
    kwargs = {"name": name, "colormap": "inferno", "contrast_limits": (0.0, 1.0), **kwargs}
    return (np.asarray(values, dtype=np.float32), kwargs, "image")


def tumor_map_layers(result, name: str, *, mask=None, translate=(0.0, 0.0)) -> list[LayerData]:
    """Layers of a :class:`~hsi_tumor.TumorMap`: tumor probability (when a class is named
    tumor), uncertainty (hidden), class map, and the invalid and outside-training-domain
    pixels when there are any, in the colours of :data:`hsi_tumor.viz.PALETTE`.

    ``mask`` is the mask the map was made with (pixels outside it are not flagged invalid);
    ``translate`` (rows, cols) places a map of a region at its place on the cube.
    """
    common = {"translate": tuple(float(t) for t in translate)}
    layers: list[LayerData] = []
    if result.tumor_probability is not None:
        layers.append(
            _probability_layer(result.tumor_probability, f"{name} tumor probability", **common)
        )
    if result.uncertainty is not None:
        layers.append(
            _probability_layer(result.uncertainty, f"{name} uncertainty", visible=False, **common)
        )
    layers.append(
        label_layer(
            result.labels,
            result.class_names,
            f"{name} classes",
            zero_means="not classified",
            **common,
        )
    )
    layers.extend(_flags(result, name, common, mask))
    return layers


def fraction_layers(result, name: str, *, mask=None, translate=(0.0, 0.0)) -> list[LayerData]:
    """Layers of a :class:`~hsi_tumor.FractionMap`: tumor fraction, its uncertainty (hidden;
    the standard deviation, shown up to ``UNCERTAINTY_VMAX`` like the figures), and the
    invalid / outside-domain pixels; ``mask`` and ``translate`` as in
    :func:`tumor_map_layers`."""
    from hsi_tumor.fraction._model import UNCERTAINTY_VMAX

    common = {"translate": tuple(float(t) for t in translate)}
    layers = [
        _probability_layer(result.fraction, f"{name} tumor fraction", **common),
        _probability_layer(
            result.uncertainty,
            f"{name} fraction uncertainty",
            visible=False,
            **{**common, "contrast_limits": (0.0, float(UNCERTAINTY_VMAX))},
        ),
    ]
    layers.extend(_flags(result, name, common, mask))
    return layers


def _flags(result, name: str, common: dict, mask) -> list[LayerData]:
    layers = []
    invalid = ~np.asarray(result.valid, dtype=bool)
    if mask is not None:
        invalid &= np.asarray(mask, dtype=bool)
    if invalid.any():
        layers.append(_flag_layer(invalid, "invalid", f"{name} invalid", **common))
    outlier = getattr(result, "outlier", None)
    if outlier is not None and np.any(outlier):
        layers.append(
            _flag_layer(
                np.asarray(outlier), "outside training domain", f"{name} outliers", **common
            )
        )
    return layers


def labels_class_names(metadata: Mapping, features=None) -> dict[int, str] | None:
    """Class names of a napari Labels layer from its ``metadata`` and ``features``.

    ``metadata['class_names']`` (layers from the hsi_tumor reader and widgets), else a
    ``class`` or ``name`` column of ``features`` (a DataFrame) beside an ``index`` column
    (napari shows those under the cursor), else None. Class 0 (unlabelled) is left out.
    """
    names = metadata.get("class_names")
    if names:
        return {int(k): str(v) for k, v in dict(names).items() if int(k) != 0}
    if features is None or "index" not in getattr(features, "columns", ()):
        return None
    column = next((c for c in ("class", "name") if c in features.columns), None)
    if column is None:
        return None
    return {
        int(i): str(n)
        for i, n in zip(features["index"], features[column], strict=True)
        if int(i) != 0 and str(n)
    }
