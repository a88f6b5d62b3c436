"""Tumor-fraction figures: the fraction (with the pixels outside the training domain) and its
uncertainty, as heat maps with a colour bar over the not-estimated and invalid pixels, and the
calibration of an estimate against the true fraction with the coverage of its interval."""

from __future__ import annotations

import matplotlib.colors as mcolors
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from hsi_tumor._shared.errors import InvalidOptionError, InvalidTypeError
from hsi_tumor.metrics import FractionCalibration
from hsi_tumor.viz._common import counts_beneath
from hsi_tumor.viz._maps import plot_probability

__all__ = [
    "OUTLIER_COLOR",
    "plot_fraction",
    "plot_fraction_calibration",
    "plot_fraction_uncertainty",
]

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


def _coverage_bars(ax: Axes, x, coverage, nominal, target, **bar) -> bool:
    """Coverage per bin as bars against the nominal level and the target band, or a note when
    there is no interval (returns False then)."""
    ax.set_ylim(0, 1.2)
    ax.set_yticks(np.linspace(0, 1, 6))
    ax.set_ylabel("coverage of the interval")
    if not np.isfinite(coverage).any():
        ax.text(
            0.5,
            0.5,
            "the estimate has no interval",
            ha="center",
            va="center",
            transform=ax.transAxes,
            color="0.4",
        )
        return False
    ax.bar(
        x,
        np.nan_to_num(coverage, nan=0.0),
        alpha=0.8,
        label="pixels whose interval covers f",
        **bar,
    )
    if target is not None:
        ax.axhspan(
            *target,
            color="#2ca02c",
            alpha=0.15,
            label=f"target {100 * target[0]:g}–{100 * target[1]:g} %",
        )
    ax.axhline(nominal, color="#d62728", lw=1.2, ls="--", label=f"nominal {100 * nominal:g} %")
    return True


def plot_fraction_calibration(
    calibration: FractionCalibration,
    *,
    nominal: float = 0.90,
    target: tuple[float, float] | None = (0.80, 0.95),
    title: str | None = None,
) -> Figure:
    """Calibration curve of a tumor-fraction estimate and the coverage of its interval.

    Parameters
    ----------
    calibration : FractionCalibration
        From :func:`hsi_tumor.metrics.fraction_calibration` (or
        :attr:`hsi_tumor.evaluation.Evaluation.fraction_calibration`).
    nominal : float, default=0.90
        The interval's nominal coverage, drawn as a line on the coverage panel.
    target : (float, float) or None, default=(0.80, 0.95)
        A band of acceptable coverage, shaded; None for no band.
    title : str, optional
        The figure's title.

    Returns
    -------
    matplotlib.figure.Figure
        Three Axes. Left: mean true fraction against mean estimated fraction per bin of the
        estimate (first line the diagonal, second the curve over the non-empty bins, labelled
        with the pixel-weighted mean gap), pixels per bin as bars on a twin Axes (log scale).
        Middle: per bin of the *true* fraction (pure normal, the partial bins, pure tumor), the
        share of pixels whose interval covers it, one bar each (its pixel count under its
        tick label). Right: the same per bin of the *estimate* (what a calibrated interval
        holds near ``nominal`` in every bin). Coverage panels without intervals carry a note.

    Examples
    --------
    >>> import numpy as np
    >>> from hsi_tumor.metrics import fraction_calibration
    >>> from hsi_tumor.viz import plot_fraction_calibration
    >>> f = np.array([0.0, 0.3, 0.6, 1.0])
    >>> c = fraction_calibration(f + 0.05, f, lower=f - 0.1, upper=f + 0.1)
    >>> fig = plot_fraction_calibration(c)
    >>> curve, coverage = fig.axes[:2]
    >>> curve.lines[1].get_ydata().tolist()
    [0.0, 0.3, 0.6, 1.0]
    """
    if not isinstance(calibration, FractionCalibration):
        raise InvalidTypeError(
            f"calibration is a {type(calibration).__name__}, not a FractionCalibration",
            field="calibration",
            fix="pass hsi_tumor.metrics.fraction_calibration(estimate, fraction, ...) or "
            "Evaluation.fraction_calibration",
        )
    fig = Figure(figsize=(15.5, 4.6), layout="constrained")
    ax, cov_ax, est_ax = fig.subplots(1, 3)
    c = calibration
    filled = c.counts > 0
    ax.plot([0, 1], [0, 1], linestyle="--", color="0.6", lw=1.0, label="estimate = truth")
    gap = c.mean_absolute_error
    ax.plot(
        c.mean_estimated[filled],
        c.mean_true[filled],
        "o-",
        color="black",
        lw=1.5,
        label=f"mean per bin of the estimate (mean gap {gap:.3f})",
    )
    counts_ax = ax.twinx()
    counts_ax.bar(
        c.bin_edges[:-1],
        c.counts,
        width=np.diff(c.bin_edges),
        align="edge",
        color="0.55",
        alpha=0.35,
        label="pixels per bin",
    )
    counts_beneath(ax, counts_ax, c.counts.max(initial=0))
    ax.set(xlim=(0, 1), ylim=(0, 1.01))
    ax.set_xlabel("mean estimated tumor fraction")
    ax.set_ylabel("mean true tumor fraction")
    ax.set_title("calibration of the fraction", fontsize=10)

    x = np.arange(len(c.coverage_labels))
    ticks = list(c.coverage_labels)
    if _coverage_bars(cov_ax, x, c.coverage, nominal, target, color="#1f77b4"):
        ticks = [f"{t}\nn={n}" for t, n in zip(ticks, c.coverage_counts, strict=True)]
        cov_ax.legend(loc="upper center", ncol=3, fontsize="small")
    cov_ax.set_xticks(x, ticks, fontsize="small")
    cov_ax.set_xlabel("true tumor fraction")
    cov_ax.set_title("coverage of the interval by true fraction", fontsize=10)
    _coverage_bars(
        est_ax,
        c.bin_edges[:-1],
        c.coverage_by_estimate,
        nominal,
        target,
        color="#9467bd",
        width=np.diff(c.bin_edges) * 0.9,
        align="edge",
    )
    est_ax.set_xlim(0, 1)
    est_ax.set_xlabel("estimated tumor fraction")
    est_ax.set_title("coverage by bin of the estimate", fontsize=10)
    if title is not None:
        fig.suptitle(title)
    return fig
