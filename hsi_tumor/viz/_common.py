"""Helpers shared by the figure modules: new axes without pyplot, argument checks."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

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


def names_of(class_names: Mapping[int, str] | None) -> dict[int, str]:
    """``{id: name}`` with int keys; an absent mapping gives an empty one."""
    if class_names is None:
        return {}
    if not isinstance(class_names, Mapping):
        raise InvalidTypeError(
            f"class_names is a {type(class_names).__name__}",
            field="class_names",
            fix="give a mapping {class id: name}, e.g. {1: 'normal', 2: 'tumor'}",
        )
    return {int(k): str(v) for k, v in class_names.items()}


def check_label_map(labels, *, field: str = "labels", shape=None) -> np.ndarray:
    """Return ``labels`` as a 2-D integer array, or raise naming ``field``."""
    array = np.asarray(labels)
    if array.ndim != 2:
        raise InvalidOptionError(
            f"a label map is (rows, cols); got shape {array.shape}",
            field=field,
            fix="give one integer class id per pixel (0 = unlabelled)",
        )
    if shape is not None and array.shape != tuple(shape):
        raise InvalidOptionError(
            f"the label map has shape {array.shape}, the image has {tuple(shape)} pixels",
            field=field,
            fix="give a label map of the same rows and columns as the image",
        )
    if array.dtype == bool:
        return array.astype(np.int64)
    if array.dtype.kind in "iu":
        return array
    if array.dtype.kind == "f" and np.all(np.isfinite(array)) and np.all(array == np.round(array)):
        return array.astype(np.int64)
    raise InvalidOptionError(
        f"a label map holds integer class ids; got dtype {array.dtype}",
        field=field,
        fix="convert it to integers (0 = unlabelled), e.g. labels.astype(int)",
    )


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
