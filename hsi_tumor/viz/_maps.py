"""Image figures: pseudo-RGB, class maps with a legend, probability heat maps with a colorbar."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.axes import Axes
from matplotlib.patches import Patch

from hsi_tumor._shared.errors import InvalidOptionError, InvalidTypeError, WavelengthError
from hsi_tumor.cube import Cube
from hsi_tumor.viz._common import add_colorbar, check_label_map, names_of, new_axes
from hsi_tumor.viz._overlay import (
    _resolve_colors,
    background_image,
    class_overlay,
    probability_map,
)
from hsi_tumor.viz._rgb import default_rgb_wavelengths, pseudo_rgb

__all__ = ["plot_class_map", "plot_probability", "plot_rgb"]


def _image_axes(ax: Axes, title: str | None) -> None:
    ax.set_xticks([])
    ax.set_yticks([])
    if title is not None:
        ax.set_title(title)


def plot_rgb(
    cube: Cube,
    wavelengths: Sequence[float] | None = None,
    *,
    ax: Axes | None = None,
    title: str | None = None,
) -> Axes:
    """Show a pseudo-RGB (false-colour) image of three chosen wavelengths.

    Parameters
    ----------
    cube : Cube
    wavelengths : (red, green, blue) in nm, optional
        The nearest bands are shown; default :func:`hsi_tumor.viz.default_rgb_wavelengths`.
    ax : matplotlib Axes, optional
        Where to draw; a new Figure is made when None.
    title : str, optional
        Default: the three band centres actually shown, in nm.

    Returns
    -------
    matplotlib.axes.Axes

    Raises
    ------
    WavelengthError
        If not three wavelengths are given, or one lies outside the cube's range.

    Examples
    --------
    >>> import numpy as np, hsi_tumor as ht
    >>> from hsi_tumor.viz import plot_rgb
    >>> cube = ht.Cube(np.random.default_rng(0).random((4, 5, 6)), np.linspace(1000, 1500, 6))
    >>> plot_rgb(cube, (1500, 1200, 1000)).get_title()
    'pseudo-RGB: R 1500, G 1200, B 1000 nm'
    """
    if not isinstance(cube, Cube):
        raise InvalidTypeError(
            f"cube is a {type(cube).__name__}, not a Cube",
            field="cube",
            fix="wrap the array: hsi_tumor.Cube(data, wavelengths)",
        )
    if wavelengths is None:
        wavelengths = default_rgb_wavelengths(cube)
    if np.ndim(wavelengths) != 1 or len(wavelengths) != 3:
        raise WavelengthError(
            f"give three wavelengths (red, green, blue) in nm, got {wavelengths!r}",
            field="wavelengths",
            fix="e.g. wavelengths=(1600, 1300, 1000)",
        )
    shown = [float(cube.wavelengths[cube.band_index(w)]) for w in wavelengths]
    image = pseudo_rgb(cube, wavelengths)
    ax = new_axes(ax)
    ax.imshow(image, interpolation="nearest")
    if title is None:
        title = "pseudo-RGB: R {:.4g}, G {:.4g}, B {:.4g} nm".format(*shown)
    _image_axes(ax, title)
    return ax


def plot_class_map(
    labels,
    *,
    background=None,
    class_names: Mapping[int, str] | None = None,
    colors: Mapping[int, object] | None = None,
    alpha: float = 0.5,
    ax: Axes | None = None,
    title: str | None = None,
) -> Axes:
    """Show a label map over a background image, with a legend of the classes present.

    Parameters
    ----------
    labels : array of int, shape (rows, cols)
        Class id per pixel; 0 (unlabelled, unclassified) shows the background. A
        :class:`~hsi_tumor.inference.TumorMap` is accepted too (its ``labels`` and
        ``class_names``).
    background : array or Cube, optional
        See :func:`hsi_tumor.viz.class_overlay`.
    class_names : mapping of int to str, optional
        Legend names; an id without a name is shown as the id.
    colors : mapping of int to colour, optional
        Colours overriding :func:`hsi_tumor.viz.class_colors`.
    alpha : float, default=0.5
        Opacity of the class colours over the background.
    ax : matplotlib Axes, optional
        Where to draw; a new Figure is made when None.
    title : str, optional

    Returns
    -------
    matplotlib.axes.Axes

    Raises
    ------
    InvalidOptionError
        If ``labels`` is not a 2-D integer map or does not match the background.

    Examples
    --------
    >>> import numpy as np
    >>> from hsi_tumor.viz import plot_class_map
    >>> ax = plot_class_map(np.array([[0, 1], [2, 2]]), class_names={1: "normal", 2: "tumor"})
    >>> [t.get_text() for t in ax.get_legend().get_texts()]
    ['normal', 'tumor']
    """
    return _class_map(
        labels,
        background=background,
        class_names=class_names,
        colors=colors,
        alpha=alpha,
        ax=ax,
        title=title,
        legend_below=False,
    )


def _class_map(
    labels, *, background, class_names, colors, alpha, ax, title, legend_below: bool
) -> Axes:
    if hasattr(labels, "labels") and hasattr(labels, "class_names"):  # a TumorMap
        names = {**labels.class_names, **names_of(class_names)}
        labels = labels.labels
    else:
        names = names_of(class_names)
    labels = check_label_map(labels)
    image = class_overlay(
        labels, background=background, class_names=names, colors=colors, alpha=alpha
    )
    classes = [int(c) for c in np.unique(labels) if c != 0]
    palette = _resolve_colors(classes, names, colors)
    ax = new_axes(ax)
    ax.imshow(image, interpolation="nearest")
    handles = [
        Patch(facecolor=tuple(palette[c]), edgecolor="none", label=names.get(c, str(c)))
        for c in classes
    ]
    if handles:
        where = (
            {"loc": "upper center", "bbox_to_anchor": (0.5, -0.02), "ncol": min(len(handles), 3)}
            if legend_below
            else {"loc": "upper left", "bbox_to_anchor": (1.02, 1.0)}
        )
        ax.legend(handles=handles, borderaxespad=0.0, fontsize="small", frameon=False, **where)
    _image_axes(ax, title)
    return ax


def plot_probability(
    probability,
    *,
    background=None,
    ax: Axes | None = None,
    title: str | None = None,
    label: str = "tumor probability",
    cmap="inferno",
    vmin: float = 0.0,
    vmax: float = 1.0,
) -> Axes:
    """Show a probability map as a heat map with a colorbar.

    Parameters
    ----------
    probability : array of shape (rows, cols), or TumorMap
        The values; NaN pixels (unclassified) are transparent. A TumorMap gives its
        ``tumor_probability``.
    background : array or Cube, optional
        Shown under the heat map (seen through the NaN pixels); see
        :func:`hsi_tumor.viz.class_overlay`.
    ax : matplotlib Axes, optional
        Where to draw; a new Figure is made when None.
    title : str, optional
    label : str, default="tumor probability"
        The colorbar's label.
    cmap : str or Colormap, default="inferno"
    vmin, vmax : float, default=0, 1
        The colour range.

    Returns
    -------
    matplotlib.axes.Axes

    Raises
    ------
    InvalidOptionError
        If the map is not 2-D, a TumorMap has no tumor probability, the background does not
        match, ``cmap`` is unknown or ``vmin >= vmax``.

    Examples
    --------
    >>> import numpy as np
    >>> from hsi_tumor.viz import plot_probability
    >>> ax = plot_probability(np.array([[0.1, np.nan], [0.7, 0.9]]))
    >>> ax.images[0].get_array().mask.tolist()
    [[False, True], [False, False]]
    """
    if hasattr(probability, "tumor_probability"):  # a TumorMap
        tumor = probability.tumor_probability
        if tumor is None:
            raise InvalidOptionError(
                "this TumorMap has no tumor probability (no class named 'tumor', or a model "
                "without probabilities)",
                field="probability",
                fix="pass a map explicitly, e.g. tumor_map.probability('<class name>')",
            )
        probability = tumor
    values, colormap = probability_map(probability, cmap, vmin, vmax)
    bg = background_image(background, values.shape)
    ax = new_axes(ax)
    if bg is not None:
        ax.imshow(bg, interpolation="nearest")
    image = ax.imshow(
        np.ma.masked_invalid(values),
        cmap=colormap,
        vmin=float(vmin),
        vmax=float(vmax),
        interpolation="nearest",
    )
    add_colorbar(ax, image, label)
    _image_axes(ax, title)
    return ax
