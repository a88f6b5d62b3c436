"""Image overlays as arrays: class maps and probability maps blended over a background image.

These return plain (rows, cols, 3) float32 images in [0, 1], ready for
:func:`hsi_tumor.viz.save_rgb_png` or ``imshow``; the ``plot_*`` functions draw them with
legends and colorbars.
"""

from __future__ import annotations

from collections.abc import Mapping

import matplotlib
import matplotlib.colors as mcolors
import numpy as np

from hsi_tumor._shared.classes import class_colors
from hsi_tumor._shared.errors import InvalidOptionError, InvalidTypeError
from hsi_tumor.cube import Cube
from hsi_tumor.viz._common import check_label_map, check_unit_interval
from hsi_tumor.viz._rgb import pseudo_rgb

__all__ = ["class_colors", "class_overlay", "probability_overlay"]


def background_image(background, shape: tuple[int, int], *, field: str = "background"):
    """``background`` as a (rows, cols, 3) float32 image in [0, 1]; None stays None.

    Accepts a :class:`Cube` (its :func:`pseudo_rgb`), an RGB or RGBA image (floats in [0, 1],
    or uint8), or a 2-D grey image (stretched between its finite minimum and maximum when its
    values leave [0, 1]). Non-finite values show black.
    """
    if background is None:
        return None
    if isinstance(background, Cube):
        background = pseudo_rgb(background)
    image = np.asarray(background)
    if image.ndim == 3 and image.shape[2] == 4:
        image = image[..., :3]
    if not (image.ndim == 2 or (image.ndim == 3 and image.shape[2] == 3)):
        raise InvalidOptionError(
            f"a background is a (rows, cols) grey or (rows, cols, 3) RGB image; got shape "
            f"{image.shape}",
            field=field,
            fix="pass hsi_tumor.pseudo_rgb(cube), one band, or the Cube itself",
        )
    if image.shape[:2] != tuple(shape):
        raise InvalidOptionError(
            f"the background has {image.shape[:2]} pixels, the map has {tuple(shape)}",
            field=field,
            fix="give a background of the same rows and columns as the map",
        )
    if image.dtype == np.uint8:
        image = image / 255.0
    image = image.astype(np.float64)
    finite = np.isfinite(image)
    if image.ndim == 2 and finite.any():
        lo, hi = image[finite].min(), image[finite].max()
        if lo < 0 or hi > 1:
            image = (image - lo) / (hi - lo if hi > lo else 1.0)
    image = np.where(finite, np.clip(image, 0.0, 1.0), 0.0)
    if image.ndim == 2:
        image = np.repeat(image[..., np.newaxis], 3, axis=2)
    return image.astype(np.float32)


def _resolve_colors(classes, class_names, colors) -> dict[int, np.ndarray]:
    resolved = class_colors(classes, class_names)
    if colors is not None:
        if not isinstance(colors, Mapping):
            raise InvalidTypeError(
                f"colors is a {type(colors).__name__}",
                field="colors",
                fix="give a mapping {class id: colour}, e.g. {2: 'red'}",
            )
        for cid, spec in colors.items():
            try:
                resolved[int(cid)] = mcolors.to_rgb(spec)
            except ValueError:
                raise InvalidOptionError(
                    f"{spec!r} is not a colour (class {cid})",
                    field="colors",
                    fix="use a matplotlib colour: a name, '#rrggbb' or an (r, g, b) tuple",
                ) from None
    return {cid: np.asarray(rgb, dtype=np.float64) for cid, rgb in resolved.items()}


def class_overlay(
    labels,
    *,
    background=None,
    class_names: Mapping[int, str] | None = None,
    colors: Mapping[int, object] | None = None,
    alpha: float = 0.5,
) -> np.ndarray:
    r"""Colour a label map and blend it over a background image.

    Parameters
    ----------
    labels : array of int, shape (rows, cols)
        Class id per pixel; 0 means unlabelled and shows the background.
    background : array or Cube, optional
        An RGB image such as :func:`hsi_tumor.pseudo_rgb`'s output, a 2-D grey image, or a
        Cube (its pseudo-RGB is used). Without one, unlabelled pixels are black and class
        colours are shown opaque.
    class_names : mapping of int to str, optional
        Used to pick the conventional colours (see :func:`class_colors`).
    colors : mapping of int to colour, optional
        Colours overriding :func:`class_colors` for some ids (any matplotlib colour).
    alpha : float, default=0.5
        Opacity of the class colours over the background.

    Returns
    -------
    numpy.ndarray, shape (rows, cols, 3), float32 in [0, 1]

    Raises
    ------
    InvalidOptionError
        If ``labels`` is not a 2-D integer map, the background's shape differs, ``alpha`` is
        outside [0, 1] or a colour is not one.

    Notes
    -----
    Each labelled pixel is :math:`(1 - \alpha)\,b + \alpha\,c` for background ``b`` and
    class colour ``c``.

    Examples
    --------
    >>> import numpy as np
    >>> from hsi_tumor.viz import class_overlay
    >>> labels = np.array([[0, 1], [2, 2]])
    >>> image = class_overlay(labels, background=np.ones((2, 2)), colors={1: "black"})
    >>> image.shape, image[0, 0].tolist(), image[0, 1].tolist()
    ((2, 2, 3), [1.0, 1.0, 1.0], [0.5, 0.5, 0.5])
    """
    labels = check_label_map(labels)
    alpha = check_unit_interval(alpha, "alpha")
    bg = background_image(background, labels.shape)
    if bg is None:
        bg = np.zeros((*labels.shape, 3), dtype=np.float32)
        alpha = 1.0
    out = bg.astype(np.float64)
    classes = [int(c) for c in np.unique(labels) if c != 0]
    palette = _resolve_colors(classes, class_names, colors)
    for cid in classes:
        where = labels == cid
        out[where] = (1.0 - alpha) * out[where] + alpha * palette[cid]
    return np.clip(out, 0.0, 1.0).astype(np.float32)


def probability_overlay(
    probability,
    *,
    background=None,
    cmap="inferno",
    alpha: float = 0.6,
    vmin: float = 0.0,
    vmax: float = 1.0,
) -> np.ndarray:
    """Colour a probability (or any scalar) map and blend it over a background image.

    Parameters
    ----------
    probability : array, shape (rows, cols)
        Values to colour; NaN (unclassified) pixels show the background.
    background : array or Cube, optional
        As in :func:`class_overlay`. Without one, NaN pixels are black and colours opaque.
    cmap : str or matplotlib Colormap, default="inferno"
    alpha : float, default=0.6
        Opacity of the colours over the background.
    vmin, vmax : float, default=0, 1
        Values mapped to the ends of the colormap (values beyond are clipped).

    Returns
    -------
    numpy.ndarray, shape (rows, cols, 3), float32 in [0, 1]

    Raises
    ------
    InvalidOptionError
        If ``probability`` is not 2-D, the background's shape differs, ``cmap`` is unknown,
        ``alpha`` is outside [0, 1] or ``vmin >= vmax``.

    Examples
    --------
    >>> import numpy as np
    >>> from hsi_tumor.viz import probability_overlay
    >>> p = np.array([[0.0, 1.0], [np.nan, 0.5]])
    >>> image = probability_overlay(p, background=np.full((2, 2), 0.5), cmap="gray")
    >>> np.round(image[..., 0].astype(float), 2).tolist()
    [[0.2, 0.8], [0.5, 0.5]]
    """
    values, colormap = probability_map(probability, cmap, vmin, vmax)
    alpha = check_unit_interval(alpha, "alpha")
    bg = background_image(background, values.shape)
    if bg is None:
        bg = np.zeros((*values.shape, 3), dtype=np.float32)
        alpha = 1.0
    finite = np.isfinite(values)
    norm = mcolors.Normalize(vmin=float(vmin), vmax=float(vmax), clip=True)
    rgb = colormap(norm(np.where(finite, values, vmin)))[..., :3]
    out = bg.astype(np.float64)
    out[finite] = (1.0 - alpha) * out[finite] + alpha * rgb[finite]
    return np.clip(out, 0.0, 1.0).astype(np.float32)


def probability_map(probability, cmap, vmin, vmax) -> tuple[np.ndarray, mcolors.Colormap]:
    """A (rows, cols) map as float64 and its colormap, with ``vmin < vmax``; or raise."""
    values = np.asarray(probability, dtype=np.float64)
    if values.ndim != 2:
        raise InvalidOptionError(
            f"a probability map is (rows, cols); got shape {values.shape}",
            field="probability",
            fix="give one map, e.g. tumor_map.tumor_probability",
        )
    colormap = _colormap(cmap)
    if not float(vmin) < float(vmax):
        raise InvalidOptionError(
            f"vmin ({vmin}) must be below vmax ({vmax})",
            field="vmin",
            fix="give vmin < vmax, e.g. vmin=0, vmax=1 for probabilities",
        )
    return values, colormap


def _colormap(cmap) -> mcolors.Colormap:
    if isinstance(cmap, mcolors.Colormap):
        return cmap
    try:
        return matplotlib.colormaps[cmap]
    except (KeyError, TypeError):
        raise InvalidOptionError(
            f"{cmap!r} is not a matplotlib colormap",
            field="cmap",
            fix="use a colormap name such as 'inferno', 'viridis' or 'magma'",
        ) from None
