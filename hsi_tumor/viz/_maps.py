"""Image figures: pseudo-RGB, class maps with a legend, probability heat maps with a colorbar.

Every map has a legend entry for each colour it shows (the classes, and the pixel states of
:data:`hsi_tumor.viz.PALETTE`: unlabelled, not classified, invalid, outside training domain),
and says SIMULATED in its title when its cube is simulated.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.axes import Axes
from matplotlib.patches import Patch

from hsi_tumor._shared.classes import PALETTE, STATE_LABELS
from hsi_tumor._shared.errors import InvalidOptionError, InvalidTypeError, WavelengthError
from hsi_tumor.cube import Cube
from hsi_tumor.viz._common import (
    add_colorbar,
    check_label_map,
    mark_simulated,
    names_of,
    new_axes,
    valid_pixel_map,
)
from hsi_tumor.viz._overlay import (
    _resolve_colors,
    background_image,
    check_zero_state,
    class_overlay,
    invalid_map,
    outlier_map,
    probability_map,
    probability_overlay,
    state_rgb,
)
from hsi_tumor.viz._rgb import default_rgb_wavelengths, pseudo_rgb

__all__ = ["plot_class_map", "plot_probability", "plot_rgb"]


def _image_axes(ax: Axes, title: str | None) -> None:
    ax.set_xticks([])
    ax.set_yticks([])
    if title is not None:
        ax.set_title(title)


def state_patch(state: str) -> Patch:
    """The legend entry of a pixel state of :data:`PALETTE`."""
    return Patch(facecolor=PALETTE[state], edgecolor="0.4", lw=0.5, label=STATE_LABELS[state])


def _legend(ax: Axes, handles: list, *, below: bool) -> None:
    if not handles:
        return
    where = (  # below: one column, as narrow as the longest entry, never wider than the map
        {"loc": "upper center", "bbox_to_anchor": (0.5, -0.02)}
        if below
        else {"loc": "upper left", "bbox_to_anchor": (1.02, 1.0)}
    )
    ax.legend(handles=handles, borderaxespad=0.0, fontsize="small", frameon=False, **where)


def plot_rgb(
    cube: Cube,
    wavelengths: Sequence[float] | None = None,
    *,
    ax: Axes | None = None,
    title: str | None = None,
) -> Axes:
    """Show a pseudo-RGB (false-colour) image of three chosen wavelengths.

    Invalid pixels (a non-finite or flagged value in any band: glare, dead camera columns) are
    drawn in the ``invalid`` colour of :data:`hsi_tumor.viz.PALETTE`, with a legend entry;
    finding them reads every band once. The title says SIMULATED when the cube is simulated
    (:func:`hsi_tumor.viz.mark_simulated`).

    Parameters
    ----------
    cube : Cube, or array of shape (rows, cols, 3)
        The cube; or an RGB image in [0, 1] (e.g. :func:`hsi_tumor.pseudo_rgb`'s output),
        shown as it is, its non-finite pixels as invalid.
    wavelengths : (red, green, blue) in nm, optional
        The nearest bands are shown; default :func:`hsi_tumor.viz.default_rgb_wavelengths`.
        Only for a cube.
    ax : matplotlib Axes, optional
        Where to draw; a new Figure is made when None.
    title : str, optional
        Default: the three band centres actually shown, in nm ("RGB image" for an image).

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
    if isinstance(cube, np.ndarray) and cube.ndim == 3 and cube.shape[2] == 3:
        if wavelengths is not None:
            raise InvalidOptionError(
                "wavelengths were given with an RGB image, which has no bands to choose",
                field="wavelengths",
                fix="pass the Cube to choose its bands, or leave wavelengths=None",
            )
        image = background_image(cube, cube.shape[:2], field="cube").copy()
        invalid = invalid_map(cube, cube.shape[:2])
        return _show_rgb(image, invalid, ax, "RGB image" if title is None else title, None)
    if not isinstance(cube, Cube):
        raise InvalidTypeError(
            f"cube is a {type(cube).__name__}, not a Cube or an RGB image",
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
    if title is None:
        title = "pseudo-RGB: R {:.4g}, G {:.4g}, B {:.4g} nm".format(*shown)
    image = pseudo_rgb(cube, wavelengths)
    return _show_rgb(image, ~valid_pixel_map(cube), ax, title, cube)


def _show_rgb(image: np.ndarray, invalid, ax, title, cube) -> Axes:
    if invalid is not None:
        image[invalid] = state_rgb("invalid")
    ax = new_axes(ax)
    ax.imshow(image, interpolation="nearest")
    _image_axes(ax, title)
    _legend(ax, [state_patch("invalid")] if np.any(invalid) else [], below=True)
    mark_simulated(ax, cube)
    return ax


def plot_class_map(
    labels,
    *,
    background=None,
    class_names: Mapping[int, str] | None = None,
    colors: Mapping[int, object] | None = None,
    alpha: float = 0.5,
    zero_means: str | None = None,
    invalid=None,
    outlier=None,
    ax: Axes | None = None,
    title: str | None = None,
) -> Axes:
    """Show a label map over a background image, with a legend of every colour shown.

    The legend lists the classes present, then the state of label 0 (``unlabelled`` or ``not
    classified``), ``invalid`` and ``outside training domain`` when such pixels are present,
    in the colours of :data:`hsi_tumor.viz.PALETTE`. The title says SIMULATED when the
    background is a simulated cube.

    Parameters
    ----------
    labels : array of int, shape (rows, cols)
        Class id per pixel; 0 means no class (see ``zero_means``). A
        :class:`~hsi_tumor.inference.TumorMap` is accepted too (its ``labels``,
        ``class_names`` and ``outlier``).
    background : array or Cube, optional
        See :func:`hsi_tumor.viz.class_overlay`. A Cube also gives the invalid pixels.
    class_names : mapping of int to str, optional
        Legend names; an id without a name is shown as the id.
    colors : mapping of int to colour, optional
        Colours overriding :func:`hsi_tumor.viz.class_colors`.
    alpha : float, default=0.5
        How flat the colours are over the background (:func:`hsi_tumor.viz.class_overlay`).
    zero_means : {'unlabelled', 'not classified'}, optional
        What label 0 is; default 'not classified' for a TumorMap, else 'unlabelled'.
    invalid : array of bool, shape (rows, cols), optional
        Pixels with an unusable spectrum; see :func:`hsi_tumor.viz.class_overlay`.
    outlier : array of bool, shape (rows, cols), optional
        Pixels outside the model's training domain, drawn cyan; default a TumorMap's
        ``outlier`` (see :func:`hsi_tumor.viz.class_overlay`).
    ax : matplotlib Axes, optional
        Where to draw; a new Figure is made when None.
    title : str, optional

    Returns
    -------
    matplotlib.axes.Axes

    Raises
    ------
    InvalidOptionError
        If ``labels`` is not a 2-D integer map or does not match the background or
        ``outlier``.

    Examples
    --------
    >>> import numpy as np
    >>> from hsi_tumor.viz import plot_class_map
    >>> ax = plot_class_map(np.array([[0, 1], [2, 2]]), class_names={1: "normal", 2: "tumor"})
    >>> [t.get_text() for t in ax.get_legend().get_texts()]
    ['normal', 'tumor', 'unlabelled']
    """
    return _class_map(
        labels,
        background=background,
        class_names=class_names,
        colors=colors,
        alpha=alpha,
        zero_means=zero_means,
        invalid=invalid,
        outlier=outlier,
        ax=ax,
        title=title,
        legend_below=False,
    )


def _class_map(
    labels,
    *,
    background,
    class_names,
    colors,
    alpha,
    ax,
    title,
    legend_below: bool,
    zero_means=None,
    invalid=None,
    outlier=None,
) -> Axes:
    if hasattr(labels, "labels") and hasattr(labels, "class_names"):  # a TumorMap
        names = {**labels.class_names, **names_of(class_names)}
        if outlier is None:
            outlier = getattr(labels, "outlier", None)
        labels = labels.labels
        zero_means = "not classified" if zero_means is None else zero_means
    else:
        names = names_of(class_names)
    zero_means = check_zero_state("unlabelled" if zero_means is None else zero_means)
    labels = check_label_map(labels)
    invalid = invalid_map(background, labels.shape, invalid)
    image = class_overlay(
        labels,
        background=pseudo_rgb(background) if isinstance(background, Cube) else background,
        class_names=names,
        colors=colors,
        alpha=alpha,
        zero_means=zero_means,
        invalid=invalid,
        outlier=outlier,
    )
    classes = [int(c) for c in np.unique(labels) if c != 0]
    palette = _resolve_colors(classes, names, colors)
    ax = new_axes(ax)
    ax.imshow(image, interpolation="nearest")
    handles = [
        Patch(facecolor=tuple(palette[c]), edgecolor="0.4", lw=0.5, label=names.get(c, str(c)))
        for c in classes
    ]
    bad = np.zeros(labels.shape, bool) if invalid is None else invalid
    flagged = outlier_map(outlier, labels.shape)
    if np.any((labels == 0) & ~bad):
        handles.append(state_patch(zero_means))
    if bad.any():
        handles.append(state_patch("invalid"))
    if flagged is not None and np.any(flagged & ~bad):
        handles.append(state_patch("outside training domain"))
    _legend(ax, handles, below=legend_below)
    _image_axes(ax, title)
    mark_simulated(ax, background)
    return ax


def plot_probability(
    probability,
    *,
    background=None,
    invalid=None,
    outlier=None,
    ax: Axes | None = None,
    title: str | None = None,
    label: str = "tumor probability",
    cmap="inferno",
    vmin: float = 0.0,
    vmax: float = 1.0,
) -> Axes:
    """Show a probability map as a heat map with a colorbar, its gaps in the palette's colours.

    NaN pixels take the ``not classified`` colour of :data:`hsi_tumor.viz.PALETTE` (shaded by
    the background's brightness), invalid pixels the ``invalid`` colour and pixels outside the
    model's training domain the ``outside training domain`` colour (cyan), each with a legend
    entry, so neither glare, a dead column nor a material the model never saw can pass for a
    probability. The title says
    SIMULATED when the background is a simulated cube.

    Parameters
    ----------
    probability : array of shape (rows, cols), or TumorMap
        The values; NaN pixels are not classified. A TumorMap gives its ``tumor_probability``
        (and its ``outlier``).
    background : array or Cube, optional
        Seen, as brightness, through the not-classified pixels; see
        :func:`hsi_tumor.viz.probability_overlay`. A Cube also gives the invalid pixels.
    invalid : array of bool, shape (rows, cols), optional
        Pixels with an unusable spectrum; default from the background
        (:func:`hsi_tumor.viz.class_overlay`).
    outlier : array of bool, shape (rows, cols), optional
        Pixels outside the model's training domain; default a TumorMap's ``outlier``.
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
        Its last image is the heat map (a masked array: masked where NaN, invalid or outside
        the training domain); the one below it shows those pixels.

    Raises
    ------
    InvalidOptionError
        If the map is not 2-D, a TumorMap has no tumor probability, the background or
        ``invalid`` does not match, ``cmap`` is unknown or ``vmin >= vmax``.

    Examples
    --------
    >>> import numpy as np
    >>> from hsi_tumor.viz import plot_probability
    >>> ax = plot_probability(np.array([[0.1, np.nan], [0.7, 0.9]]))
    >>> ax.images[-1].get_array().mask.tolist()
    [[False, True], [False, False]]
    >>> [t.get_text() for t in ax.get_legend().get_texts()]
    ['not classified']
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
        if outlier is None:
            outlier = getattr(probability, "outlier", None)
        probability = tumor
    values, colormap = probability_map(probability, cmap, vmin, vmax)
    bg = background_image(background, values.shape)
    bad = invalid_map(background, values.shape, invalid)
    bad = np.zeros(values.shape, bool) if bad is None else bad
    flagged = outlier_map(outlier, values.shape)
    flagged = np.zeros(values.shape, bool) if flagged is None else flagged & ~bad
    gaps = probability_overlay(
        np.full(values.shape, np.nan), background=bg, invalid=bad, outlier=flagged
    )
    ax = new_axes(ax)
    ax.imshow(gaps, interpolation="nearest")
    shown = np.ma.masked_array(values, mask=~np.isfinite(values) | bad | flagged)
    image = ax.imshow(
        shown, cmap=colormap, vmin=float(vmin), vmax=float(vmax), interpolation="nearest"
    )
    add_colorbar(ax, image, label)
    handles = []
    if np.any(~np.isfinite(values) & ~bad & ~flagged):
        handles.append(state_patch("not classified"))
    if bad.any():
        handles.append(state_patch("invalid"))
    if flagged.any():
        handles.append(state_patch("outside training domain"))
    _legend(ax, handles, below=True)
    _image_axes(ax, title)
    mark_simulated(ax, background)
    return ax
