"""Helpers shared by the figure modules: new axes without pyplot, argument checks, and the
SIMULATED mark on figures made from simulated data."""

from __future__ import annotations

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from hsi_tumor._shared.arrays import materialize, valid_pixels
from hsi_tumor._shared.classes import check_label_map
from hsi_tumor._shared.classes import class_name_map as names_of
from hsi_tumor._shared.errors import InvalidOptionError, InvalidTypeError
from hsi_tumor._shared.provenance import SIMULATED, is_simulated

__all__ = [
    "add_colorbar",
    "check_label_map",
    "check_unit_interval",
    "counts_beneath",
    "mark_simulated",
    "names_of",
    "new_axes",
    "read_block",
    "root_figure",
    "shows_simulated_data",
    "simulated_title",
    "title_simulated_figure",
    "valid_pixel_map",
]

#: Set on a Figure that shows simulated data; :func:`hsi_tumor.viz.save_figure` reads it.
_SIMULATED_ATTRIBUTE = "_hsi_tumor_simulated"


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


def counts_beneath(ax: Axes, counts_ax: Axes, largest: int) -> None:
    """Finish a curve ``ax`` whose pixels per bin are bars on its twin ``counts_ax``: a log
    scale that keeps the bars in the lower third, the curve drawn above them, one legend."""
    counts_ax.set_yscale("log")
    decades = int(np.ceil(np.log10(max(int(largest), 10))))
    counts_ax.set_ylim(1, 10.0 ** (3 * decades))
    counts_ax.set_yticks([10.0**k for k in range(decades + 1)])
    counts_ax.set_ylabel("pixels per bin (log scale)", loc="bottom")
    ax.set_zorder(counts_ax.get_zorder() + 1)
    ax.patch.set_visible(False)
    handles, labels = ax.get_legend_handles_labels()
    bars, bar_labels = counts_ax.get_legend_handles_labels()
    ax.legend([*handles, *bars], [*labels, *bar_labels], loc="upper left", fontsize="small")


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


def simulated_title(title: str | None) -> str:
    """``title`` led by "SIMULATED data: " unless it says SIMULATED already."""
    if not title:
        return f"{SIMULATED} data"
    return title if SIMULATED in title else f"{SIMULATED} data: {title}"


def _content_axes(fig: Figure) -> list[Axes]:
    """The Axes of ``fig`` that are not colour bars, one per position (twins count once)."""
    seen, out = set(), []
    for ax in fig.axes:
        if hasattr(ax, "_colorbar"):
            continue
        key = tuple(np.round(ax.get_position().bounds, 4))
        if key not in seen:
            seen.add(key)
            out.append(ax)
    return out


def title_simulated_figure(fig: Figure) -> None:
    """Make the title of ``fig`` say SIMULATED: its suptitle, the title of its only Axes, or a
    new suptitle. Font size and weight of an existing title are kept."""
    suptitle = getattr(fig, "_suptitle", None)
    if suptitle is not None and suptitle.get_text():
        suptitle.set_text(simulated_title(suptitle.get_text()))
        return
    axes = _content_axes(fig)
    if len(axes) == 1:
        axes[0].title.set_text(simulated_title(axes[0].title.get_text()))
    else:
        fig.suptitle(simulated_title(None))


def mark_simulated(artist, *sources) -> bool:
    """Say SIMULATED in a figure's title when the data drawn on it is simulated.

    Every plotting function of :mod:`hsi_tumor.viz` calls this with the cube it draws; call it
    yourself for a figure you draw from a simulated cube with plain matplotlib.

    Parameters
    ----------
    artist : matplotlib Axes, SubFigure or Figure
        Anything on the figure.
    *sources
        The data drawn: Cubes, Specimens, metadata mappings (simulated when their metadata
        says ``simulated`` or their ``description`` says SIMULATED, as the simulator's cubes
        and the files written from them do).

    Returns
    -------
    bool
        Whether the data is simulated. If so, the figure's suptitle, or the title of its only
        Axes, or a new suptitle, now says "SIMULATED data", and the figure is marked so that
        :func:`hsi_tumor.viz.save_figure` makes sure of it again when it writes the file.

    Examples
    --------
    >>> from matplotlib.figure import Figure
    >>> from hsi_tumor.viz import mark_simulated
    >>> ax = Figure().add_subplot()
    >>> _ = ax.set_title("mean spectra")
    >>> mark_simulated(ax, {"description": "SIMULATED specimen (hsi_tumor.datasets)"})
    True
    >>> ax.get_title()
    'SIMULATED data: mean spectra'
    """
    if not is_simulated(*sources):
        return False
    fig = root_figure(artist)
    setattr(fig, _SIMULATED_ATTRIBUTE, True)
    title_simulated_figure(fig)
    return True


def shows_simulated_data(fig: Figure) -> bool:
    """Whether :func:`mark_simulated` marked ``fig``."""
    return bool(getattr(fig, _SIMULATED_ATTRIBUTE, False))


def read_block(data) -> np.ndarray:
    """An ndarray (possibly a memmap view) as it is; a lazy array read into memory."""
    return data if isinstance(data, np.ndarray) else materialize(data)


def valid_pixel_map(cube) -> np.ndarray:
    """(rows, cols) bool: True where every band of the pixel is finite and not flagged invalid
    in ``cube.valid`` (the pixels a classifier can use). Reads the cube tile by tile."""
    ok = np.zeros(cube.shape[:2], dtype=bool)
    for rows, sub in cube.tiles():
        pixels = np.asarray(read_block(sub.data)).reshape(-1, cube.n_bands)
        ok[rows] = valid_pixels(sub, pixels).reshape(sub.shape[:2])
    return ok
