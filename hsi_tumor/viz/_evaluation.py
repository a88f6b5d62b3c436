"""Evaluation figures: ROC curves, confusion matrix, reliability diagram, per-patient report."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from hsi_tumor._shared.classes import PALETTE
from hsi_tumor._shared.errors import InvalidOptionError, InvalidTypeError, WavelengthError
from hsi_tumor.cube import Cube
from hsi_tumor.metrics import reliability_curve
from hsi_tumor.viz._common import (
    check_label_map,
    counts_beneath,
    mark_simulated,
    names_of,
    new_axes,
    valid_pixel_map,
)
from hsi_tumor.viz._maps import _class_map, plot_probability, plot_rgb
from hsi_tumor.viz._rgb import default_rgb_wavelengths, pseudo_rgb
from hsi_tumor.viz._spectra import plot_mean_spectra

__all__ = [
    "plot_confusion_matrix",
    "plot_patient_report",
    "plot_reliability",
    "plot_roc",
]


# -- ROC -------------------------------------------------------------------------------------
def _binary_scores(y_true, score, field: str) -> tuple[np.ndarray, np.ndarray]:
    """(y, score) as flat bool / float64 arrays without the pairs whose score is not finite."""
    y = np.asarray(y_true).reshape(-1)
    s = np.asarray(score, dtype=np.float64).reshape(-1)
    if y.shape != s.shape:
        raise InvalidOptionError(
            f"y_true has {y.size} values, the score has {s.size}",
            field=field,
            fix="give one tumor probability per true label",
        )
    if y.dtype != bool:
        if y.dtype.kind not in "iuf" or not np.isin(y, (0, 1)).all():
            raise InvalidOptionError(
                f"y_true must be boolean or 0/1 (tumor = 1); got values {np.unique(y)[:5]}",
                field=field,
                fix="pass labels == tumor_id, not the class ids themselves",
            )
        y = y.astype(bool)
    keep = np.isfinite(s)
    return y[keep], s[keep]


def plot_roc(
    curves: Mapping[str, tuple[Sequence, Sequence]],
    *,
    pooled: bool = True,
    ax: Axes | None = None,
    title: str | None = None,
) -> Axes:
    """ROC curves of tumor detection: one per patient and the pooled one.

    Parameters
    ----------
    curves : mapping of str to (y_true, score)
        Per patient (or specimen): ``y_true`` boolean or 0/1 with tumor positive, and
        ``score`` the tumor probability of the same pixels (any shape; flattened). Pairs with a
        non-finite score (unclassified pixels) are left out.
    pooled : bool, default=True
        Also draw the ROC of all pixels of all patients together, in bold.
    ax : matplotlib Axes, optional
        Where to draw; a new Figure is made when None.
    title : str, optional

    Returns
    -------
    matplotlib.axes.Axes
        Thin lines per patient (in mapping order) with the AUC in the legend; a patient whose
        pixels hold one class only has no ROC and is listed as "(one class)" without a line;
        then the pooled line and the chance diagonal.

    Raises
    ------
    InvalidOptionError
        If ``curves`` is empty or not a mapping, or a ``y_true`` is not binary or does not
        match its score.

    Notes
    -----
    Uses :func:`sklearn.metrics.roc_curve` (default ``drop_intermediate=True``) and
    :func:`sklearn.metrics.roc_auc_score`. Pixels of one patient are not independent, so the
    spread of the per-patient curves says more about generalisation than the pooled curve.

    Examples
    --------
    >>> from hsi_tumor.viz import plot_roc
    >>> ax = plot_roc({"P1": ([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]), "P2": ([1, 1], [0.7, 0.9])})
    >>> [t.get_text() for t in ax.get_legend().get_texts()]
    ['P1 (AUC = 0.750)', 'P2 (one class)', 'pooled (AUC = 0.875)', 'chance']
    """
    from sklearn.metrics import roc_auc_score, roc_curve

    if not isinstance(curves, Mapping):
        raise InvalidTypeError(
            "curves must be a non-empty mapping {patient: (y_true, score)}",
            field="curves",
            fix="e.g. {'P01': (labels == tumor_id, tumor_map.tumor_probability)}",
        )
    if not curves:
        raise InvalidOptionError(
            "curves must be a non-empty mapping {patient: (y_true, score)}",
            field="curves",
            fix="e.g. {'P01': (labels == tumor_id, tumor_map.tumor_probability)}",
        )
    pairs = {}
    for name, pair in curves.items():
        if not isinstance(pair, (tuple, list)):
            raise InvalidTypeError(
                f"the entry for {name!r} is not a (y_true, score) pair",
                field="curves",
                fix="map each patient to a tuple (y_true, score)",
            )
        if len(pair) != 2:
            raise InvalidOptionError(
                f"the entry for {name!r} is not a (y_true, score) pair",
                field="curves",
                fix="map each patient to a tuple (y_true, score)",
            )
        pairs[name] = _binary_scores(*pair, field=f"curves[{name!r}]")
    ax = new_axes(ax, figsize=(6.0, 5.0))
    many = len(pairs) > 1 or not pooled

    def draw(name, y, s, **style):
        if y.size == 0 or y.all() or not y.any():
            ax.plot([], [], linestyle="none", label=f"{name} (one class)")
            return
        fpr, tpr, _ = roc_curve(y, s)
        ax.plot(fpr, tpr, label=f"{name} (AUC = {roc_auc_score(y, s):.3f})", **style)

    if many:
        for name, (y, s) in pairs.items():
            draw(name, y, s, lw=1.0, alpha=0.8)
    if pooled:
        y_all = np.concatenate([y for y, _ in pairs.values()])
        s_all = np.concatenate([s for _, s in pairs.values()])
        draw("pooled", y_all, s_all, lw=2.5, color="black")
    ax.plot([0, 1], [0, 1], linestyle="--", color="0.6", lw=1.0, label="chance")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.01)
    ax.set_aspect("equal")
    ax.set_xlabel("false positive rate (1 − specificity)")
    ax.set_ylabel("true positive rate (sensitivity)")
    ax.legend(loc="lower right", fontsize="small")
    if title is not None:
        ax.set_title(title)
    return ax


# -- confusion matrix ------------------------------------------------------------------------
def _class_label(value, names: dict[int, str]) -> str:
    try:
        key = int(value)
    except (TypeError, ValueError):
        return str(value)
    return names.get(key, str(value)) if key == value else str(value)


def plot_confusion_matrix(
    y_true,
    y_pred,
    *,
    labels=None,
    class_names: Mapping[int, str] | None = None,
    normalize: str | None = None,
    ax: Axes | None = None,
    title: str | None = None,
) -> Axes:
    """Confusion matrix with annotated cells (true classes as rows, predictions as columns).

    Parameters
    ----------
    y_true, y_pred : array-like, same shape
        True and predicted class ids of the same pixels (flattened).
    labels : sequence, optional
        Classes to show and their order; default all classes found in either, sorted.
    class_names : mapping of int to str, optional
        Tick labels (an id without a name is shown as the id).
    normalize : {None, "true", "pred", "all"}, default=None
        None annotates counts; "true" annotates each cell as a percentage of its row (the
        recall of each class), "pred" of its column, "all" of the total, with the count below.
        Cells are shaded by the annotated quantity.
    ax : matplotlib Axes, optional
        Where to draw; a new Figure is made when None.
    title : str, optional

    Returns
    -------
    matplotlib.axes.Axes

    Raises
    ------
    InvalidOptionError
        If the two arrays differ in size, or ``normalize`` is unknown.

    Notes
    -----
    The matrix is :func:`sklearn.metrics.confusion_matrix`; with ``normalize``, an empty row
    (or column) shows 0 %.

    Examples
    --------
    >>> from hsi_tumor.viz import plot_confusion_matrix
    >>> ax = plot_confusion_matrix([1, 1, 2, 2], [1, 2, 2, 2], class_names={2: "tumor"})
    >>> [t.get_text() for t in ax.texts]
    ['1', '1', '0', '2']
    """
    from sklearn.metrics import confusion_matrix

    y_true = np.asarray(y_true).reshape(-1)
    y_pred = np.asarray(y_pred).reshape(-1)
    if y_true.shape != y_pred.shape:
        raise InvalidOptionError(
            f"y_true has {y_true.size} values, y_pred has {y_pred.size}",
            field="y_pred",
            fix="give one prediction per true label",
        )
    if normalize not in (None, "true", "pred", "all"):
        raise InvalidOptionError(
            f"normalize={normalize!r} is not one of None, 'true', 'pred', 'all'",
            field="normalize",
            fix="use normalize='true' for row percentages, or None for counts",
        )
    if labels is None:
        labels = np.union1d(y_true, y_pred)
    labels = np.asarray(labels)
    counts = confusion_matrix(y_true, y_pred, labels=labels)
    shown = (
        counts
        if normalize is None
        else confusion_matrix(y_true, y_pred, labels=labels, normalize=normalize)
    )
    names = names_of(class_names)
    ax = new_axes(
        ax, figsize=(max(1.2 * len(labels) + 2.5, 5.5), max(1.1 * len(labels) + 2.0, 4.2))
    )
    vmax = 1.0 if normalize is not None else max(int(counts.max()), 1)
    ax.imshow(shown, cmap="Blues", vmin=0.0, vmax=vmax, interpolation="nearest")
    for i in range(len(labels)):
        for j in range(len(labels)):
            text = (
                f"{counts[i, j]:,}"
                if normalize is None
                else f"{100.0 * shown[i, j]:.1f} %\n({counts[i, j]:,})"
            )
            color = "white" if shown[i, j] > 0.5 * vmax else "black"
            ax.text(j, i, text, ha="center", va="center", color=color, fontsize="small")
    ticks = [_class_label(v, names) for v in labels.tolist()]
    ax.set_xticks(range(len(labels)), ticks, rotation=30 if max(map(len, ticks)) > 6 else 0)
    ax.set_yticks(range(len(labels)), ticks)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    if title is not None:
        ax.set_title(title)
    return ax


# -- reliability -----------------------------------------------------------------------------
def plot_reliability(
    y_true,
    probability,
    *,
    n_bins: int = 10,
    ax: Axes | None = None,
    title: str | None = None,
) -> Axes:
    """Reliability diagram: observed tumor fraction against mean predicted probability.

    Parameters
    ----------
    y_true : array-like of bool or {0, 1}
        True where the pixel is tumor.
    probability : array-like of float, same shape
        Predicted tumor probability; non-finite values are left out with their label.
    n_bins : int, default=10
        Equal-width probability bins on [0, 1].
    ax : matplotlib Axes, optional
        Where to draw; a new Figure is made when None.
    title : str, optional
        Default "reliability diagram".

    Returns
    -------
    matplotlib.axes.Axes
        The diagram: its first line is the diagonal, its second the curve (non-empty bins),
        labelled with the ECE and the class-balanced ECE. The tumor and other pixels per bin
        are bars side by side on a twin Axes (right, logarithmic scale, so the rare class's
        bins show).

    Raises
    ------
    InvalidOptionError
        As :func:`hsi_tumor.metrics.reliability_curve`.

    Notes
    -----
    The numbers are those of :func:`hsi_tumor.metrics.reliability_curve`; points on the
    diagonal mean the probabilities can be read as frequencies. The ECE weights each bin by
    its pixels, so with few tumor pixels it mostly measures the lowest bin; the class-balanced
    ECE weights tumor and other pixels equally and shows over-confidence on the tumor class.

    Examples
    --------
    >>> from hsi_tumor.viz import plot_reliability
    >>> ax = plot_reliability([0, 0, 1, 1], [0.1, 0.3, 0.7, 0.9], n_bins=2)
    >>> ax.lines[1].get_ydata().tolist(), ax.lines[1].get_label()
    ([0.0, 1.0], 'model (ECE = 0.200, class-balanced 0.200)')
    """
    curve = reliability_curve(y_true, probability, n_bins=n_bins)
    ax = new_axes(ax, figsize=(5.5, 5.0))
    ax.plot([0, 1], [0, 1], linestyle="--", color="0.6", lw=1.0, label="perfect calibration")
    filled = curve.counts > 0
    ax.plot(
        curve.mean_predicted[filled],
        curve.observed[filled],
        "o-",
        color="black",
        lw=1.5,
        label=f"model (ECE = {curve.ece:.3f}, class-balanced {curve.ece_balanced:.3f})",
    )
    counts_ax = ax.twinx()
    half = np.diff(curve.bin_edges) / 2
    for height, left, color, label in (
        (curve.counts - curve.positives, curve.bin_edges[:-1], "0.55", "other pixels per bin"),
        (curve.positives, curve.bin_edges[:-1] + half, PALETTE["tumor"], "tumor pixels per bin"),
    ):
        counts_ax.bar(left, height, width=half, align="edge", color=color, alpha=0.35, label=label)
    counts_beneath(ax, counts_ax, curve.counts.max(initial=0))
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.01)
    ax.set_xlabel("mean predicted tumor probability")
    ax.set_ylabel("observed tumor fraction")
    ax.set_title("reliability diagram" if title is None else title)
    return ax


# -- per-patient report ----------------------------------------------------------------------
_PERCENT_WORDS = (
    "accuracy",
    "sensitivity",
    "specificity",
    "precision",
    "recall",
    "f1",
    "dice",
    "jaccard",
    "iou",
    "fraction",
    "rate",
    "tpr",
    "fpr",
    "tnr",
    "ppv",
    "npv",
    "percent",
)


def _format_metric(name: str, value) -> str:
    """Percent for accuracy-like values in [0, 1], integers as counts, 3 decimals otherwise."""
    if isinstance(value, (bool, np.bool_, str)):
        return str(value)
    if isinstance(value, (int, np.integer)):
        return f"{int(value):,}"
    try:
        number = float(value)
    except (TypeError, ValueError):
        return str(value)
    if not np.isfinite(number):
        return "n/a"
    key = name.lower()
    if 0.0 <= number <= 1.0 and any(word in key for word in _PERCENT_WORDS):
        return f"{100.0 * number:.1f} %"
    return f"{number:.3f}"


def _report_title(cube: Cube) -> str:
    meta = cube.metadata
    for key in ("patient", "patient_id", "specimen", "name"):
        if meta.get(key):
            return f"Patient report: {meta[key]}"
    if meta.get("source"):
        return f"Patient report: {Path(str(meta['source'])).stem}"
    return "Patient report"


def _placeholder(ax: Axes, text: str, title: str) -> None:
    ax.text(0.5, 0.5, text, ha="center", va="center", color="0.4", transform=ax.transAxes)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(title)


def _report_map(
    ax: Axes,
    panel: str,
    *,
    cube: Cube,
    rgb_wavelengths,
    rgb: np.ndarray,
    invalid: np.ndarray,
    names: dict[int, str],
    tumor_map,
    labels,
    predicted,
    tumor_fraction,
) -> None:
    """Draw one image panel of :func:`plot_patient_report` on ``ax``."""
    if panel == "rgb":
        shown = [float(cube.wavelengths[cube.band_index(w)]) for w in rgb_wavelengths]
        plot_rgb(
            cube,
            rgb_wavelengths,
            ax=ax,
            title="pseudo-RGB\n{:.4g} / {:.4g} / {:.4g} nm".format(*shown),
        )
    elif panel in ("annotation", "prediction"):
        _class_map(
            labels if panel == "annotation" else predicted,
            background=rgb,
            class_names=names,
            colors=None,
            alpha=0.5,
            ax=ax,
            title="annotation" if panel == "annotation" else "predicted classes",
            legend_below=True,
            zero_means="unlabelled" if panel == "annotation" else "not classified",
            invalid=invalid,
        )
    elif panel == "probability":
        probability = getattr(tumor_map, "tumor_probability", None)
        if probability is None:
            _placeholder(ax, "no tumor probability", "tumor probability")
        else:
            plot_probability(
                probability,
                background=rgb,
                invalid=invalid,
                ax=ax,
                title="tumor probability",
            )
    else:
        plot_probability(tumor_fraction, ax=ax, title="true tumor fraction", label="tumor fraction")


def plot_patient_report(
    cube: Cube,
    tumor_map,
    *,
    labels=None,
    metrics: Mapping[str, float] | None = None,
    tumor_fraction=None,
    class_names: Mapping[int, str] | None = None,
    title: str | None = None,
    rgb_wavelengths: Sequence[float] | None = None,
) -> Figure:
    """One page (A4 landscape) summing up the classification of one patient's cube.

    Top row: pseudo-RGB; the annotation (when ``labels`` is given); the predicted class map;
    the tumor probability; the true tumor fraction (when given). Bottom row: mean spectra ± SD
    per class (of the annotation when given, else of the prediction; background classes left
    out) and a table of ``metrics`` followed by the predicted pixel counts.

    Parameters
    ----------
    cube : Cube
        The (calibrated) cube that was classified.
    tumor_map : TumorMap
        What :func:`hsi_tumor.classify_cube` returned for ``cube``.
    labels : array of int, shape (rows, cols), optional
        Ground-truth annotation (0 = unlabelled).
    metrics : mapping of str to float, optional
        Shown in the table: values in [0, 1] whose name says accuracy, sensitivity,
        specificity, precision, recall, F1, Dice, IoU, fraction or rate as percentages,
        integers as counts, anything else (AUC, ECE, kappa, ...) with 3 decimals.
    tumor_fraction : array of float, shape (rows, cols), optional
        The true tumor fraction per pixel (e.g. from the simulator).
    class_names : mapping of int to str, optional
        Names overriding ``tumor_map.class_names`` (and naming annotation-only classes).
    title : str, optional
        Default "Patient report: <name>", the name taken from the cube's metadata
        (``patient``, ``patient_id``, ``specimen``, ``name``, or the source file's stem).
        Led by "SIMULATED data: " when the cube is simulated.
    rgb_wavelengths : (red, green, blue) in nm, optional
        Bands of the pseudo-RGB image.

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    InvalidOptionError
        If the maps do not have the cube's rows and columns.
    WavelengthError
        If ``rgb_wavelengths`` are not three wavelengths of the cube.

    Examples
    --------
    >>> import numpy as np, hsi_tumor as ht
    >>> from hsi_tumor.inference import TumorMap
    >>> from hsi_tumor.viz import plot_patient_report
    >>> rng = np.random.default_rng(0)
    >>> cube = ht.Cube(rng.random((6, 8, 5)), np.linspace(1000, 1600, 5), {"patient": "P07"})
    >>> labels = np.repeat([[1, 1, 1, 1, 2, 2, 2, 2]], 6, axis=0)
    >>> p = np.stack([1 - labels / 2, labels / 2], axis=-1).astype(np.float32)
    >>> tm = TumorMap(labels, p, np.array([1, 2]), {1: "normal", 2: "tumor"}, labels > 0)
    >>> fig = plot_patient_report(cube, tm, labels=labels, metrics={"accuracy": 0.9, "auc": 0.95})
    >>> fig.get_suptitle()
    'Patient report: P07'
    """
    if not isinstance(cube, Cube):
        raise InvalidTypeError(
            f"cube is a {type(cube).__name__}, not a Cube",
            field="cube",
            fix="wrap the array: hsi_tumor.Cube(data, wavelengths)",
        )
    if not hasattr(tumor_map, "labels") or not hasattr(tumor_map, "class_names"):
        raise InvalidTypeError(
            f"tumor_map is a {type(tumor_map).__name__}, not a TumorMap",
            field="tumor_map",
            fix="pass what hsi_tumor.classify_cube(cube, model) returned",
        )
    shape = cube.shape[:2]
    predicted = check_label_map(tumor_map.labels, field="tumor_map", shape=shape)
    if labels is not None:
        labels = check_label_map(labels, field="labels", shape=shape)
    if tumor_fraction is not None:
        tumor_fraction = np.asarray(tumor_fraction, dtype=np.float64)
        if tumor_fraction.shape != shape:
            raise InvalidOptionError(
                f"tumor_fraction has shape {tumor_fraction.shape}, the cube {shape} pixels",
                field="tumor_fraction",
                fix="give one fraction per pixel of the cube",
            )
    names = {**{int(k): str(v) for k, v in tumor_map.class_names.items()}}
    names.update(names_of(class_names))
    if rgb_wavelengths is None:
        rgb_wavelengths = default_rgb_wavelengths(cube)
    if np.ndim(rgb_wavelengths) != 1 or len(rgb_wavelengths) != 3:
        raise WavelengthError(
            f"give three wavelengths (red, green, blue) in nm, got {rgb_wavelengths!r}",
            field="rgb_wavelengths",
            fix="e.g. rgb_wavelengths=(1600, 1300, 1000), or leave it None",
        )
    rgb = pseudo_rgb(cube, rgb_wavelengths)
    invalid = ~valid_pixel_map(cube)

    fig = Figure(figsize=(11.69, 8.27), layout="constrained")
    fig.suptitle(title if title is not None else _report_title(cube), fontsize="x-large")
    mark_simulated(fig, cube)
    panels = ["rgb", "annotation", "prediction", "probability", "fraction"]
    if labels is None:
        panels.remove("annotation")
    if tumor_fraction is None:
        panels.remove("fraction")
    # 2 x 4 grid: images fill (0, 0..2) then (1, 0..); the table sits at (0, 3); the spectra
    # take the rest of the bottom row.
    grid = fig.add_gridspec(2, 4, width_ratios=[1.0, 1.0, 1.0, 1.1])
    slots = [(0, 0), (0, 1), (0, 2), (1, 0), (1, 1)]
    for (row, col), panel in zip(slots, panels, strict=False):
        _report_map(
            fig.add_subplot(grid[row, col]),
            panel,
            cube=cube,
            rgb_wavelengths=rgb_wavelengths,
            rgb=rgb,
            invalid=invalid,
            names=names,
            tumor_map=tumor_map,
            labels=labels,
            predicted=predicted,
            tumor_fraction=tumor_fraction,
        )
    first_free = max(0, len(panels) - 3)

    ax_spectra = fig.add_subplot(grid[1, first_free:])
    source, which = (labels, "annotation") if labels is not None else (predicted, "prediction")
    background_ids = [c for c, n in names.items() if n.strip().lower() == "background"]
    shown = np.where(np.isin(source, background_ids), 0, source)
    if np.any(shown != 0):
        plot_mean_spectra(
            cube,
            shown,
            class_names=names,
            ax=ax_spectra,
            title=f"mean spectra ± SD by {which}",
        )
    else:
        _placeholder(ax_spectra, "no labelled pixels", f"mean spectra by {which}")

    ax_table = fig.add_subplot(grid[0, 3])
    ax_table.set_axis_off()
    rows = [[str(k), _format_metric(str(k), v)] for k, v in (metrics or {}).items()]
    classified = int(np.count_nonzero(predicted))
    rows.append(["pixels classified", f"{classified:,}"])
    for cid in sorted(int(c) for c in np.unique(predicted) if c != 0):
        share = np.count_nonzero(predicted == cid) / max(classified, 1)
        rows.append([f"predicted {names.get(cid, str(cid))}", f"{100.0 * share:.1f} %"])
    table = ax_table.table(
        cellText=rows,
        colLabels=["metric", "value"],
        loc="upper center",
        cellLoc="left",
    )
    table.auto_set_font_size(False)
    table.set_fontsize(9)
    table.auto_set_column_width([0, 1])
    table.scale(1.0, 1.3)
    ax_table.set_title("metrics")
    return fig
