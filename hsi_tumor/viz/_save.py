"""Save a figure atomically, in the format its file name asks for."""

from __future__ import annotations

import os
from pathlib import Path

from matplotlib.axes import Axes
from matplotlib.figure import Figure, SubFigure

from hsi_tumor._shared.atomic import atomic_path, refuse_overwrite
from hsi_tumor._shared.errors import InvalidOptionError, InvalidTypeError
from hsi_tumor.viz._common import root_figure, shows_simulated_data, title_simulated_figure

__all__ = ["save_figure"]

_FORMATS = {".png": "png", ".pdf": "pdf", ".svg": "svg"}


def save_figure(
    fig: Figure | Axes, path: str | os.PathLike, *, dpi: float = 120, overwrite: bool = False
) -> Path:
    """Write a figure to ``path``: PNG, PDF or SVG after the suffix, never a partial file.

    Parameters
    ----------
    fig : matplotlib Figure or Axes
        An Axes (or SubFigure) saves the whole figure it belongs to.
    path : str or os.PathLike
        ``.png``, ``.pdf`` or ``.svg`` (any case). Missing folders are created.
    dpi : float, default=120
        Resolution of PNG output (and of images embedded in PDF and SVG).
    overwrite : bool, default=False
        Replace an existing file (like every writer of hsi_tumor, it refuses otherwise).

    Returns
    -------
    pathlib.Path
        ``path``.

    Raises
    ------
    InvalidOptionError
        If ``fig`` is not a figure or axes, the suffix is not one of the three, or ``dpi`` is
        not positive.
    OutputExistsError
        If ``path`` exists and ``overwrite`` is False.

    Notes
    -----
    The figure is written in a hidden staging folder beside ``path`` and renamed into place
    (:func:`hsi_tumor._shared.atomic.atomic_path`), so an error or interruption leaves either
    the old file or none, never a truncated one (the next write deletes what a killed one left).

    A figure that shows simulated data (a plotting function of :mod:`hsi_tumor.viz` drew a
    simulated cube on it, or :func:`hsi_tumor.viz.mark_simulated` marked it) is saved with
    SIMULATED in its title, even when a title was set after the data was drawn.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from matplotlib.figure import Figure
    >>> from hsi_tumor.viz import save_figure
    >>> ax = Figure().add_subplot()
    >>> _ = ax.plot([0, 1], [1, 0])
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     save_figure(ax, pathlib.Path(tmp) / "line.png").stat().st_size > 0
    True
    """
    if not isinstance(fig, (Figure, SubFigure, Axes)):
        raise InvalidTypeError(
            f"fig is a {type(fig).__name__}, not a matplotlib Figure or Axes",
            field="fig",
            fix="pass what a plot_* function returned",
        )
    path = Path(path)
    fmt = _FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise InvalidOptionError(
            f"cannot tell the format from the suffix {path.suffix!r}",
            field="path",
            fix="end the file name in .png, .pdf or .svg",
        )
    try:
        dpi = float(dpi)
    except (TypeError, ValueError):
        dpi = float("nan")
    if not dpi > 0:
        raise InvalidOptionError(
            "dpi must be a positive number", field="dpi", fix="e.g. dpi=120 (screen), 300 (print)"
        )
    figure = root_figure(fig)
    if shows_simulated_data(figure):
        title_simulated_figure(figure)
    refuse_overwrite(path, overwrite=overwrite)
    with atomic_path(path) as tmp:
        figure.savefig(tmp, format=fmt, dpi=dpi)
    return path
