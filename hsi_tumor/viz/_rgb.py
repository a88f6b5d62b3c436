"""Pseudo-colour images of a cube from three wavelengths."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from hsi_tumor._shared.atomic import atomic_path, refuse_overwrite
from hsi_tumor._shared.errors import InvalidOptionError, WavelengthError
from hsi_tumor.cube import Cube
from hsi_tumor.viz._common import valid_pixel_map

__all__ = ["default_rgb_wavelengths", "map_background", "pseudo_rgb", "save_rgb_png"]

_VISIBLE_RGB = (640.0, 550.0, 460.0)


def default_rgb_wavelengths(cube: Cube) -> tuple[float, float, float]:
    """Wavelengths (nm) to show as red, green, blue.

    The header's ``default bands`` when the file gives them; true colour (640, 550, 460 nm) when
    the cube covers the visible range; otherwise three bands at 5/6, 1/2 and 1/6 of the range
    (longest wavelength shown red), a common false-colour choice for NIR cameras.
    """
    wl = cube.wavelengths
    bands = cube.metadata.get("default_bands")
    if bands is not None and len(bands) == 3:
        return tuple(float(wl[b]) for b in bands)
    if wl[0] <= 460 and wl[-1] >= 640:
        return _VISIBLE_RGB
    idx = np.round(np.array([5 / 6, 1 / 2, 1 / 6]) * (wl.size - 1)).astype(int)
    return tuple(float(wl[i]) for i in idx)


def pseudo_rgb(
    cube: Cube,
    wavelengths: Sequence[float] | None = None,
    *,
    percentiles: tuple[float, float] = (2.0, 98.0),
) -> np.ndarray:
    """Make an RGB image from three bands, each contrast-stretched between two percentiles.

    Only the three bands are read, so this is cheap on memory-mapped and lazy cubes.

    Parameters
    ----------
    cube : Cube
    wavelengths : (red, green, blue) in nm, optional
        The bands nearest to these are used; default :func:`default_rgb_wavelengths`.
    percentiles : (low, high), default=(2, 98)
        Each channel maps its ``low`` percentile to 0 and ``high`` to 1 (clipped). Non-finite
        values are left out of the percentiles, and a pixel with one in any of the three
        bands is black in all three (never a false colour such as yellow glare);
        :func:`hsi_tumor.viz.plot_rgb` and the overlays show such pixels in the ``invalid``
        colour of :data:`hsi_tumor.viz.PALETTE`.

    Returns
    -------
    numpy.ndarray, shape (rows, cols, 3), float32 in [0, 1]

    Examples
    --------
    >>> import numpy as np, hsi_tumor as ht
    >>> cube = ht.Cube(np.random.default_rng(0).random((4, 4, 5)), [900, 1000, 1100, 1200, 1300])
    >>> ht.pseudo_rgb(cube).shape
    (4, 4, 3)
    """
    if wavelengths is None:
        wavelengths = default_rgb_wavelengths(cube)
    if len(wavelengths) != 3:
        raise WavelengthError(
            f"{len(wavelengths)} wavelengths given for a pseudo-RGB image",
            field="wavelengths",
            fix="give three wavelengths in nm: (red, green, blue)",
        )
    idx = [cube.band_index(w) for w in wavelengths]
    channels = np.stack([np.asarray(cube.data[:, :, i], dtype=np.float64) for i in idx], axis=-1)
    out = np.zeros(channels.shape, dtype=np.float32)
    lo_p, hi_p = percentiles
    for c in range(3):
        ch = channels[..., c]
        finite = np.isfinite(ch)
        if not finite.any():
            continue
        lo, hi = np.percentile(ch[finite], [lo_p, hi_p])
        scale = hi - lo if hi > lo else 1.0
        out[..., c] = np.where(finite, np.clip((ch - lo) / scale, 0.0, 1.0), 0.0)
    out[~np.isfinite(channels).all(axis=-1)] = 0.0
    return out


def save_rgb_png(image: np.ndarray, path: str | os.PathLike, *, overwrite: bool = False) -> Path:
    """Save an (rows, cols, 3) image in [0, 1] as PNG, atomically. Returns the path.

    An existing file is replaced only with ``overwrite=True`` (else ``OutputExistsError``).
    """
    import matplotlib.image

    path = Path(path)
    refuse_overwrite(path, overwrite=overwrite)
    with atomic_path(path) as tmp:
        matplotlib.image.imsave(tmp, np.clip(image, 0, 1), format="png")
    return path


def map_background(background, shape: tuple[int, int]) -> tuple[np.ndarray | None, str]:
    """The RGB image a map's PNGs are drawn over, and its title.

    Parameters
    ----------
    background : Cube, ndarray of shape (rows, cols, 3), or None
        A cube (shown as :func:`pseudo_rgb`, its invalid pixels NaN so that they show as
        invalid), or an RGB image in [0, 1].
    shape : (rows, cols)
        The map's shape.

    Returns
    -------
    image : ndarray of shape (rows, cols, 3) or None
    title : str

    Raises
    ------
    InvalidOptionError
        If the image is not (rows, cols, 3).
    """
    title = "RGB image"
    if isinstance(background, Cube):
        source = background
        title = "pseudo-RGB: R {:.4g}, G {:.4g}, B {:.4g} nm".format(
            *default_rgb_wavelengths(source)
        )
        background = pseudo_rgb(source)
        if source.shape[:2] == tuple(shape):
            background[~valid_pixel_map(source)] = np.nan  # shown as invalid
    if background is not None:
        background = np.asarray(background)
        if background.shape != (*shape, 3):
            raise InvalidOptionError(
                f"the background has shape {background.shape}; the map needs {(*shape, 3)}",
                field="background",
                fix="pass the cube, or an RGB image of it, e.g. hsi_tumor.pseudo_rgb(cube)",
            )
    return background, title
