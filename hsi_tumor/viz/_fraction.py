"""Tumor-fraction figures: the fraction (with the pixels outside the training domain) and its
uncertainty, as heat maps with a colour bar over the not-estimated and invalid pixels."""

from __future__ import annotations

import matplotlib.colors as mcolors
import numpy as np
from matplotlib.axes import Axes
from matplotlib.patches import Patch

from hsi_tumor._shared.errors import InvalidOptionError
from hsi_tumor.viz._maps import plot_probability

__all__ = ["OUTLIER_COLOR", "plot_fraction", "plot_fraction_uncertainty"]

#: Colour of the pixels outside the training domain (cyan: neither in ``inferno`` nor in
#: :data:`hsi_tumor.viz.PALETTE`).
OUTLIER_COLOR = "#00ffff"
_OUTLIER_LABEL = "outside the training domain"
_NOT_ESTIMATED = "not estimated"


def _relegend(ax: Axes, extra: list) -> None:
    """The heat map's legend with its gaps called "not estimated", and ``extra`` entries."""
    legend = ax.get_legend()
    handles = []
    if legend is not None:
        for handle, text in zip(legend.legend_handles, legend.get_texts(), strict=True):
            label = text.get_text()
            handles.append(
                Patch(
                    facecolor=handle.get_facecolor(),
                    edgecolor="0.4",
                    lw=0.5,
                    label=_NOT_ESTIMATED if label == "not classified" else label,
                )
            )
        legend.remove()
    handles += extra
    if handles:
        ax.legend(
            handles=handles,
            loc="upper center",
            bbox_to_anchor=(0.5, -0.02),
            borderaxespad=0.0,
            fontsize="small",
            frameon=False,
        )


def plot_fraction(
    fraction,
    *,
    outlier=None,
    background=None,
    invalid=None,
    ax: Axes | None = None,
    title: str | None = "tumor fraction",
) -> Axes:
    """Show a tumor-fraction map, 0 to 1 against a colour bar, its outliers in cyan.

    Drawn like :func:`hsi_tumor.viz.plot_probability` (``inferno``): pixels not estimated
    (NaN) take the ``not classified`` colour of :data:`hsi_tumor.viz.PALETTE` (legend "not
    estimated") and invalid pixels the ``invalid`` colour; pixels outside the training domain
    are drawn flat in :data:`OUTLIER_COLOR` over the heat map, with a legend entry.

    Parameters
    ----------
    fraction : array of shape (rows, cols), or FractionMap
        The fraction of each pixel's area that is tumor; NaN where not estimated. A
        :class:`~hsi_tumor.fraction.FractionMap` gives its ``fraction`` and ``outlier``.
    outlier : array of bool, shape (rows, cols), optional
        Pixels outside the training domain.
    background, invalid
        As for :func:`hsi_tumor.viz.plot_probability`.
    ax : matplotlib Axes, optional
        Where to draw; a new Figure is made when None.
    title : str, optional

    Returns
    -------
    matplotlib.axes.Axes

    Raises
    ------
    InvalidOptionError
        If ``outlier`` does not match the map (and as for :func:`plot_probability`).

    Examples
    --------
    >>> import numpy as np
    >>> from hsi_tumor.viz import plot_fraction
    >>> ax = plot_fraction(np.array([[0.1, np.nan], [0.7, 0.9]]),
    ...                    outlier=np.array([[False, False], [False, True]]))
    >>> [t.get_text() for t in ax.get_legend().get_texts()]
    ['not estimated', 'outside the training domain']
    """
    if hasattr(fraction, "fraction") and hasattr(fraction, "uncertainty"):  # a FractionMap
        outlier = fraction.outlier if outlier is None else outlier
        fraction = fraction.fraction
    values = np.asarray(fraction)
    ax = plot_probability(
        values, background=background, invalid=invalid, ax=ax, title=title, label="tumor fraction"
    )
    extra = []
    if outlier is not None:
        flags = np.asarray(outlier)
        if flags.shape != values.shape or flags.dtype != bool:
            raise InvalidOptionError(
                f"outlier must be a boolean map of {values.shape} pixels; got shape "
                f"{flags.shape}, dtype {flags.dtype}",
                field="outlier",
                fix="pass the FractionMap's outlier, or leave outlier=None",
            )
        flags = flags & np.isfinite(values)
        if flags.any():
            layer = np.zeros((*values.shape, 4))
            layer[flags] = (*mcolors.to_rgb(OUTLIER_COLOR), 1.0)
            ax.imshow(layer, interpolation="nearest")
            extra.append(
                Patch(facecolor=OUTLIER_COLOR, edgecolor="0.4", lw=0.5, label=_OUTLIER_LABEL)
            )
    _relegend(ax, extra)
    return ax


def plot_fraction_uncertainty(
    uncertainty,
    *,
    background=None,
    invalid=None,
    vmax: float | None = None,
    ax: Axes | None = None,
    title: str | None = "uncertainty of the tumor fraction",
) -> Axes:
    """Show the standard deviation of a tumor-fraction estimate (``viridis``, from 0).

    Parameters
    ----------
    uncertainty : array of shape (rows, cols), or FractionMap
        Standard deviation per pixel; NaN where not estimated.
    background, invalid
        As for :func:`hsi_tumor.viz.plot_probability`.
    vmax : float, optional
        Top of the colour bar; default the largest value shown. Give a fixed one (e.g. 0.304,
        that of the widest 90 % interval, [0, 1]) to compare maps.
    ax : matplotlib Axes, optional
    title : str, optional

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> import numpy as np
    >>> from hsi_tumor.viz import plot_fraction_uncertainty
    >>> ax = plot_fraction_uncertainty(np.array([[0.02, np.nan], [0.1, 0.2]]), vmax=0.3)
    >>> ax.images[-1].get_clim()
    (0.0, 0.3)
    """
    if hasattr(uncertainty, "fraction") and hasattr(uncertainty, "uncertainty"):
        uncertainty = uncertainty.uncertainty
    values = np.asarray(uncertainty)
    if vmax is None:
        finite = values[np.isfinite(values)] if values.dtype.kind == "f" else values.ravel()
        vmax = float(finite.max()) if finite.size and finite.max() > 0 else 1.0
    ax = plot_probability(
        values,
        background=background,
        invalid=invalid,
        ax=ax,
        title=title,
        label="standard deviation",
        cmap="viridis",
        vmin=0.0,
        vmax=vmax,
    )
    _relegend(ax, [])
    return ax
