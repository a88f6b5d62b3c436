"""Image overlays as arrays: class maps and probability maps drawn over a background image.

These return plain (rows, cols, 3) float32 images in [0, 1], ready for
:func:`hsi_tumor.viz.save_rgb_png` or ``imshow``; the ``plot_*`` functions draw them with
legends and colorbars. Every colour comes from :data:`hsi_tumor.viz.PALETTE`.
"""

from __future__ import annotations

from collections.abc import Mapping

import matplotlib
import matplotlib.colors as mcolors
import numpy as np

from hsi_tumor._shared.classes import PALETTE, class_colors
from hsi_tumor._shared.errors import InvalidOptionError, InvalidTypeError
from hsi_tumor.cube import Cube
from hsi_tumor.viz._common import check_label_map, check_unit_interval, valid_pixel_map
from hsi_tumor.viz._rgb import pseudo_rgb

__all__ = ["class_colors", "class_overlay", "probability_overlay"]

#: What label 0 means in a label map: the two states of a pixel without a class.
ZERO_STATES = ("unlabelled", "not classified")
#: How flat the colours of label 0 (unlabelled, not classified) are over a background: flatter
#: than the classes', so that the area reads as its legend patch and the texture still shows.
STATE_ALPHA = 0.75
#: Rec. 709 weights of the brightness (luma) of an RGB background.
_LUMA = np.array([0.2126, 0.7152, 0.0722])


def background_image(background, shape: tuple[int, int], *, field: str = "background"):
    """``background`` as a (rows, cols, 3) float32 image in [0, 1]; None stays None.

    Accepts a :class:`Cube` (its :func:`pseudo_rgb`), an RGB or RGBA image (floats in [0, 1],
    or uint8), or a 2-D grey image (stretched between its finite minimum and maximum when its
    values leave [0, 1]). Non-finite values show black (:func:`invalid_map` finds them).
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


def invalid_map(background, shape: tuple[int, int], invalid=None) -> np.ndarray | None:
    """(rows, cols) bool of the invalid pixels, or None when nothing says.

    ``invalid`` when given; else, for a Cube background, the pixels with a non-finite or
    flagged value in any band (:func:`valid_pixel_map`); for an array background, its
    non-finite pixels.
    """
    if invalid is not None:
        array = np.asarray(invalid)
        if array.shape != tuple(shape) or not (
            array.dtype == bool or (array.dtype.kind in "iu" and np.isin(array, (0, 1)).all())
        ):
            raise InvalidOptionError(
                f"invalid must be a (rows, cols) boolean map of {tuple(shape)} pixels; got "
                f"shape {array.shape}, dtype {array.dtype}",
                field="invalid",
                fix="pass True where a pixel's spectrum is unusable, e.g. "
                "~cube.valid.all(axis=2), or leave it None",
            )
        return array.astype(bool)
    if isinstance(background, Cube):
        if background.shape[:2] != tuple(shape):
            return None  # background_image says what is wrong
        return ~valid_pixel_map(background)
    if background is None:
        return None
    image = np.asarray(background)
    if image.dtype.kind not in "fc" or image.shape[:2] != tuple(shape):
        return None
    if image.ndim == 3:
        image = image[..., :3]
        return ~np.isfinite(image).all(axis=2)
    return ~np.isfinite(image)


def outlier_map(outlier, shape: tuple[int, int]) -> np.ndarray | None:
    """(rows, cols) bool of the pixels outside the training domain, or None when not given."""
    if outlier is None:
        return None
    array = np.asarray(outlier)
    if array.shape != tuple(shape) or array.dtype != bool:
        raise InvalidOptionError(
            f"outlier must be a (rows, cols) boolean map of {tuple(shape)} pixels; got shape "
            f"{array.shape}, dtype {array.dtype}",
            field="outlier",
            fix="pass TumorMap.outlier of the same map, or leave it None",
        )
    return array


def shading(background: np.ndarray | None, alpha: float) -> np.ndarray | float:
    """Factor ``alpha + (1 - alpha) * L`` per pixel, ``L`` the background's luma (1 without)."""
    if background is None:
        return 1.0
    luma = np.clip(background.astype(np.float64) @ _LUMA, 0.0, 1.0)
    return (alpha + (1.0 - alpha) * luma)[..., np.newaxis]


def state_rgb(state: str) -> np.ndarray:
    """The colour of a pixel state of :data:`PALETTE` as an RGB float array."""
    return np.asarray(mcolors.to_rgb(PALETTE[state]), dtype=np.float64)


def check_zero_state(zero_means) -> str:
    """``zero_means`` if it is one of :data:`ZERO_STATES`, or raise."""
    if zero_means not in ZERO_STATES:
        raise InvalidOptionError(
            f"zero_means={zero_means!r} is not one of {ZERO_STATES}",
            field="zero_means",
            fix="'unlabelled' for an annotation, 'not classified' for a predicted map",
        )
    return zero_means


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
    zero_means: str = "unlabelled",
    invalid=None,
    outlier=None,
) -> np.ndarray:
    r"""Colour a label map over a background image, in the colours of :data:`PALETTE`.

    Parameters
    ----------
    labels : array of int, shape (rows, cols)
        Class id per pixel; 0 means no class (see ``zero_means``).
    background : array or Cube, optional
        An RGB image such as :func:`hsi_tumor.pseudo_rgb`'s output, a 2-D grey image, or a
        Cube (its pseudo-RGB is used, and its invalid pixels are found). Without one, every
        colour is drawn flat.
    class_names : mapping of int to str, optional
        Used to pick the conventional colours (see :func:`class_colors`).
    colors : mapping of int to colour, optional
        Colours overriding :func:`class_colors` for some ids (any matplotlib colour).
    alpha : float, default=0.5
        How flat the class colours are over the background: 1 paints them flat, lower values
        let the background's brightness (never its hue) through.
    zero_means : {'unlabelled', 'not classified'}, default='unlabelled'
        What label 0 is: no label in an annotation, or no prediction in a classified map
        (outside the mask). Its pixels take that state's colour, with alpha 0.75.
    invalid : array of bool, shape (rows, cols), optional
        Pixels whose spectrum is unusable (NaN, saturated glare, dead camera column), drawn
        flat in the ``invalid`` colour over everything. Default: for a Cube background, the
        pixels with a non-finite or flagged value in any band; for an array background, its
        non-finite pixels.
    outlier : array of bool, shape (rows, cols), optional
        Pixels outside the model's training domain (``TumorMap.outlier``), drawn flat in the
        ``outside training domain`` colour (cyan) over their class; invalid pixels stay
        invalid.

    Returns
    -------
    numpy.ndarray, shape (rows, cols, 3), float32 in [0, 1]

    Raises
    ------
    InvalidOptionError
        If ``labels`` is not a 2-D integer map, the background's, ``invalid``'s or
        ``outlier``'s shape differs, ``alpha`` is outside [0, 1], ``zero_means`` is unknown or
        a colour is not one.

    Notes
    -----
    A pixel of colour :math:`c` (its class's; its state's for label 0, with
    :math:`\alpha = 0.75`) over a background of luma
    :math:`L = 0.2126\,R + 0.7152\,G + 0.0722\,B` is drawn
    :math:`c\,(\alpha + (1 - \alpha)\,L)`: it keeps the hue of :math:`c` whatever the
    background (a red class over dark blue tissue stays dark red, not purple) and shows the
    tissue's texture as brightness. Invalid pixels are :math:`c_\mathrm{invalid}` flat.

    Examples
    --------
    >>> import numpy as np
    >>> from hsi_tumor.viz import class_overlay
    >>> labels = np.array([[0, 1], [2, 2]])
    >>> background = np.array([[1.0, 1.0], [0.0, 1.0]])
    >>> image = class_overlay(labels, background=background, colors={1: "white", 2: "red"})
    >>> image[0, 1].tolist(), image[1].tolist()
    ([1.0, 1.0, 1.0], [[0.5, 0.0, 0.0], [1.0, 0.0, 0.0]])
    """
    labels = check_label_map(labels)
    alpha = check_unit_interval(alpha, "alpha")
    zero_means = check_zero_state(zero_means)
    bg = background_image(background, labels.shape)
    bad = invalid_map(background, labels.shape, invalid)
    classes = [int(c) for c in np.unique(labels) if c != 0]
    palette = _resolve_colors(classes, class_names, colors)
    factor = np.broadcast_to(shading(bg, alpha), (*labels.shape, 1))
    out = state_rgb(zero_means) * shading(bg, STATE_ALPHA)
    out = np.array(np.broadcast_to(out, (*labels.shape, 3)))
    for cid in classes:
        where = labels == cid
        out[where] = palette[cid] * factor[where]
    flagged = outlier_map(outlier, labels.shape)
    if flagged is not None:
        out[flagged] = state_rgb("outside training domain")
    if bad is not None:
        out[bad] = state_rgb("invalid")
    return np.clip(out, 0.0, 1.0).astype(np.float32)


def probability_overlay(
    probability,
    *,
    background=None,
    cmap="inferno",
    alpha: float = 1.0,
    vmin: float = 0.0,
    vmax: float = 1.0,
    invalid=None,
    outlier=None,
) -> np.ndarray:
    """Colour a probability (or any scalar) map, its gaps in the colours of :data:`PALETTE`.

    Parameters
    ----------
    probability : array, shape (rows, cols)
        Values to colour; NaN pixels (not classified) take the ``not classified`` colour,
        shaded by the background's brightness as in :func:`class_overlay` (alpha 0.75).
    background : array or Cube, optional
        As in :func:`class_overlay`. Without one, the NaN pixels are flat.
    cmap : str or matplotlib Colormap, default="inferno"
    alpha : float, default=1
        Opacity of the colours over the background. Below 1 the background's colour mixes
        in, and the colours no longer match the colorbar: keep 1 for maps to be read.
    vmin, vmax : float, default=0, 1
        Values mapped to the ends of the colormap (values beyond are clipped).
    invalid : array of bool, shape (rows, cols), optional
        Pixels drawn flat in the ``invalid`` colour (NaN, saturated glare, dead camera column),
        never as a probability. Default as in :func:`class_overlay`.
    outlier : array of bool, shape (rows, cols), optional
        Pixels outside the model's training domain (``TumorMap.outlier``), drawn flat in the
        ``outside training domain`` colour (cyan) instead of their probability.

    Returns
    -------
    numpy.ndarray, shape (rows, cols, 3), float32 in [0, 1]

    Raises
    ------
    InvalidOptionError
        If ``probability`` is not 2-D, the background's or ``invalid``'s shape differs,
        ``cmap`` is unknown, ``alpha`` is outside [0, 1] or ``vmin >= vmax``.

    Examples
    --------
    >>> import numpy as np
    >>> from hsi_tumor.viz import probability_overlay
    >>> p = np.array([[0.0, 1.0], [np.nan, 0.5]])
    >>> image = probability_overlay(p, cmap="gray", invalid=[[0, 0], [1, 0]])
    >>> np.round(image[..., 0].astype(float), 2).tolist()  # invalid: magenta (1, 0, 1)
    [[0.0, 1.0], [1.0, 0.5]]
    """
    values, colormap = probability_map(probability, cmap, vmin, vmax)
    alpha = check_unit_interval(alpha, "alpha")
    bg = background_image(background, values.shape)
    bad = invalid_map(background, values.shape, invalid)
    finite = np.isfinite(values)
    norm = mcolors.Normalize(vmin=float(vmin), vmax=float(vmax), clip=True)
    rgb = colormap(norm(np.where(finite, values, vmin)))[..., :3]
    factor = np.broadcast_to(shading(bg, STATE_ALPHA), (*values.shape, 1))
    out = state_rgb("not classified") * factor
    if bg is None:
        out[finite] = rgb[finite]
    else:
        out[finite] = (1.0 - alpha) * bg[finite] + alpha * rgb[finite]
    flagged = outlier_map(outlier, values.shape)
    if flagged is not None:
        out[flagged] = state_rgb("outside training domain")
    if bad is not None:
        out[bad] = state_rgb("invalid")
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
