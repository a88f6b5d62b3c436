"""Helpers shared by the figure modules: new axes without pyplot, argument checks."""

from __future__ import annotations

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from hsi_tumor._shared.classes import check_label_map
from hsi_tumor._shared.classes import class_name_map as names_of
from hsi_tumor._shared.errors import InvalidOptionError, InvalidTypeError

__all__ = [
    "add_colorbar",
    "check_label_map",
    "check_unit_interval",
    "names_of",
    "new_axes",
    "root_figure",
]


def new_axes(ax: Axes | None, figsize: tuple[float, float] = (6.0, 4.5)) -> Axes:
    """Return ``ax``, or the Axes of a new :class:`~matplotlib.figure.Figure` (no pyplot)."""
    if ax is not None:
        if not isinstance(ax, Axes):
            raise InvalidTypeError(
                f"ax is a {type(ax).__name__}, not a matplotlib Axes",
                field="ax",
                fix="pass a matplotlib Axes (e.g. fig.add_subplot()) or leave ax=None",
            )
        return ax
    fig = Figure(figsize=figsize, layout="constrained")
    return fig.add_subplot()


def root_figure(artist) -> Figure:
    """The top-level Figure of an Axes, SubFigure or Figure."""
    fig = artist if isinstance(artist, Figure) else artist.figure
    while fig is not None and not isinstance(fig, Figure):  # SubFigure -> its parent
        fig = fig.figure
    return fig


def check_unit_interval(value, field: str) -> float:
    """``value`` as a float in [0, 1], or raise naming ``field``."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = np.nan
    if not 0.0 <= number <= 1.0:
        raise InvalidOptionError(
            f"{field} must lie in [0, 1], got {value!r}",
            field=field,
            fix="give a number between 0 (transparent) and 1 (opaque)",
        )
    return number


def add_colorbar(ax: Axes, mappable, label: str | None = None):
    """A colorbar as tall as the image drawn in ``ax`` (an inset just right of it)."""
    cax = ax.inset_axes([1.03, 0.0, 0.045, 1.0])
    colorbar = ax.figure.colorbar(mappable, cax=cax)
    if label:
        colorbar.set_label(label)
    return colorbar
