"""write_report: an evaluation as a Markdown report with its figures and a metrics JSON."""

from __future__ import annotations

import datetime
import json
import logging
import os
import re
from pathlib import Path

import numpy as np

from hsi_tumor._shared.atomic import atomic_directory
from hsi_tumor._shared.provenance import SIMULATED, is_simulated
from hsi_tumor._shared.version import __version__
from hsi_tumor.evaluation._results import Evaluation

logger = logging.getLogger("hsi_tumor.evaluation")

__all__ = ["write_report"]

#: Metrics shown in each per-patient report figure.
FIGURE_METRICS = ("accuracy", "sensitivity", "specificity", "roc_auc", "fuzzy_dice")


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("_") or "specimen"


def write_report(
    evaluation: Evaluation,
    out_dir: str | os.PathLike,
    *,
    title: str = "Tumor classification: evaluation",
    notes: str | None = None,
    overwrite: bool = False,
) -> Path:
    """Write an evaluation as ``report.md`` with its figures and ``metrics.json``.

    The folder holds: ``report.md`` (scheme, classifier, preprocessing, the folds, the metrics
    tables with 95 % intervals, the figures), ``metrics.json`` (:meth:`Evaluation.to_dict`),
    ``roc.png`` (per patient and pooled), ``confusion.png``, ``reliability.png`` (calibration
    of the tumor probability) and, when the evaluation kept its maps (``keep_maps=True``),
    one ``patient_<specimen>.png`` report figure per test specimen. When it estimated tumor
    fractions (``evaluate(..., fraction=...)``) against a known true fraction, also
    ``fraction_calibration.png`` (calibration curve of the estimated fraction and coverage of
    its 90 % interval by true fraction and by estimate) and, with the maps kept, one
    ``fraction_<specimen>.png`` per test specimen (true fraction, estimated fraction with its
    outliers, uncertainty). The folder is written beside its final name and renamed when
    complete.

    When the specimens are simulated (their cubes' metadata say so, see
    :func:`hsi_tumor.viz.mark_simulated`), the title of the report and of every figure says
    SIMULATED.

    Parameters
    ----------
    evaluation : Evaluation
    out_dir : path-like
    title : str
    notes : str, optional
        Markdown put under the title (e.g. where the data comes from).
    overwrite : bool, default=False
        Replace an existing ``out_dir``.

    Returns
    -------
    pathlib.Path
        The ``report.md`` file.

    Raises
    ------
    OutputExistsError
        ``out_dir`` exists and ``overwrite`` is False.
    """
    from hsi_tumor.viz import (
        mark_simulated,
        plot_confusion_matrix,
        plot_fraction_calibration,
        plot_patient_report,
        plot_reliability,
        plot_roc,
        save_figure,
    )

    final = Path(out_dir)
    specimens = [p.specimen for p in evaluation.predictions]
    simulated = is_simulated(*specimens)
    if simulated and SIMULATED not in title:
        title = f"{SIMULATED} data: {title}"
    with atomic_directory(final, overwrite=overwrite) as tmp:
        figures: list[tuple[str, str]] = []
        curves = evaluation.roc_curves()
        if curves:
            ax = plot_roc(curves, title="ROC: tumor vs rest, per patient and pooled")
            mark_simulated(ax, *specimens)
            save_figure(ax, tmp / "roc.png")
            figures.append(("ROC curves", "roc.png"))
        y = np.concatenate([p.y_true for p in evaluation.predictions])
        yp = np.concatenate([p.y_pred for p in evaluation.predictions])
        ok = yp > 0
        ax = plot_confusion_matrix(
            y[ok],
            yp[ok],
            labels=list(evaluation.classes),
            class_names=evaluation.class_names,
            normalize="true",
            title="Confusion matrix (pooled test pixels)",
        )
        mark_simulated(ax, *specimens)
        save_figure(ax, tmp / "confusion.png")
        figures.append(("Confusion matrix", "confusion.png"))
        if evaluation.reliability is not None:
            y_tumor, score = (np.concatenate(v) for v in zip(*curves.values(), strict=True))
            ax = plot_reliability(y_tumor, score, title="Calibration of the tumor probability")
            mark_simulated(ax, *specimens)
            save_figure(ax, tmp / "reliability.png")
            figures.append(("Reliability (calibration) curve", "reliability.png"))
        if evaluation.fraction_calibration is not None:
            fig = plot_fraction_calibration(
                evaluation.fraction_calibration,
                title=f"Tumor fraction estimate ({evaluation.fraction.split(',')[0]}): "
                "pooled test pixels",
            )
            mark_simulated(fig, *specimens)
            save_figure(fig, tmp / "fraction_calibration.png")
            figures.append(
                ("Tumor fraction: calibration and interval coverage", "fraction_calibration.png")
            )
        rows = {r["patient"]: r for r in evaluation.per_patient}
        patient_figures = []
        for pred in evaluation.predictions:
            if pred.tumor_map is None:
                continue
            spec = pred.specimen
            row = rows[spec.patient]
            fig = plot_patient_report(
                spec.cube,
                pred.tumor_map,
                labels=spec.labels,
                metrics={m: row[m] for m in FIGURE_METRICS if m in row},
                tumor_fraction=spec.tumor_fraction,
                class_names=evaluation.class_names,
                title=f"{spec.name} (patient {spec.patient}) — tested in a fold without it",
            )
            name = f"patient_{_safe(spec.name)}.png"
            save_figure(fig, tmp / name)
            patient_figures.append((spec.name, name))
        for pred in evaluation.predictions:
            if pred.fraction_map is None:
                continue
            spec = pred.specimen
            fig = _fraction_figure(spec, pred.fraction_map, rows[spec.patient])
            mark_simulated(fig, spec)
            name = f"fraction_{_safe(spec.name)}.png"
            save_figure(fig, tmp / name)
            patient_figures.append((f"{spec.name}: tumor fraction", name))
        text = json.dumps(evaluation.to_dict(), indent=2, allow_nan=False)
        (tmp / "metrics.json").write_text(text + "\n", encoding="utf-8")
        if simulated and SIMULATED not in (notes or ""):
            notes = (
                f"**{SIMULATED} data**: the specimens' cubes are marked as simulated "
                "(hsi_tumor.datasets), not measured.\n\n" + (notes or "")
            )
        report = _markdown(evaluation, title, notes, figures, patient_figures, __version__)
        (tmp / "report.md").write_text(report, encoding="utf-8")
    logger.info("wrote the evaluation report %s", final / "report.md")
    return final / "report.md"


def _fraction_figure(spec, fraction_map, row):
    """True fraction (where known), estimated fraction with its outliers, and uncertainty."""
    from matplotlib.figure import Figure

    from hsi_tumor.fraction._model import UNCERTAINTY_VMAX
    from hsi_tumor.viz import plot_fraction, plot_fraction_uncertainty
    from hsi_tumor.viz._common import valid_pixel_map

    invalid = ~valid_pixel_map(spec.cube) & ~fraction_map.valid  # left out as unusable
    panels = 3 if spec.tumor_fraction is not None else 2
    fig = Figure(figsize=(4.3 * panels, 3.9), layout="constrained")
    axes = fig.subplots(1, panels)
    if spec.tumor_fraction is not None:
        shown = np.where(fraction_map.valid, spec.tumor_fraction, np.nan)
        plot_fraction(shown, invalid=invalid, ax=axes[0], title="true tumor fraction")
    scores = [
        f"{label} {text(row[key])}"
        for key, label, text in (
            ("fraction_fuzzy_dice", "fuzzy Dice", lambda v: f"{v:.2f}"),
            ("fraction_area_error", "area", lambda v: f"{100 * v:+.0f} %"),
            ("fraction_coverage", "coverage", lambda v: f"{100 * v:.0f} %"),
        )
        if key in row and np.isfinite(row[key])
    ]
    plot_fraction(
        fraction_map,
        invalid=invalid,
        ax=axes[-2],
        title="estimated" + (f" ({', '.join(scores)})" if scores else " tumor fraction"),
    )
    plot_fraction_uncertainty(
        fraction_map,
        invalid=invalid,
        ax=axes[-1],
        vmax=UNCERTAINTY_VMAX,
        title="uncertainty (standard deviation)",
    )
    for ax in axes:
        ax.title.set_fontsize(9)
    fig.suptitle(f"{spec.name} (patient {spec.patient}) — tested in a fold without it")
    return fig


def _short(value) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)


def _markdown(evaluation, title, notes, figures, patient_figures, version) -> str:
    today = datetime.date.today().isoformat()
    lines = [f"# {title}", ""]
    if notes:
        lines += [notes.strip(), ""]
    lines += [
        f"hsi_tumor {version}, {today}. Classifier: **{evaluation.classifier}**; "
        f"preprocessing: {', '.join(evaluation.preprocessing) or 'none'}; "
        f"bootstrap seed {evaluation.random_state}.",
        "",
        "## Metrics",
        "",
        evaluation.to_markdown(),
        "",
        "Tumor is the positive class. Pixel metrics are computed on the annotated pixels of "
        "the test specimens; `n_unclassified` pixels (NaN or saturated) are left out. Fuzzy "
        "Dice and area error compare the tumor-probability map with the true tumor fraction "
        "over the whole specimen, where it is known.",
        "",
        "## Folds",
        "",
        "| fold | training patients | test patients | training pixels | test pixels | tuned |",
        "|---:|---|---|---:|---:|---|",
    ]
    for f in evaluation.folds:
        tuned = ", ".join(f"{k}={_short(v)}" for k, v in (f.best_params or {}).items()) or "–"
        lines.append(
            f"| {f.index + 1} | {', '.join(f.train_patients)} | {', '.join(f.test_patients)} "
            f"| {f.n_train_pixels} | {f.n_test_pixels} | {tuned} |"
        )
    lines += ["", "## Figures", ""]
    for caption, name in figures:
        lines += [f"### {caption}", "", f"![{caption}]({name})", ""]
    if evaluation.reliability is not None:
        curve = evaluation.reliability
        lines += [
            f"Expected calibration error (ECE): {curve.ece:.3f}; class-balanced ECE: "
            f"{curve.ece_balanced:.3f}. The ECE weights each probability bin by its pixels, "
            "so with few tumor pixels it mostly measures the lowest bin; the class-balanced "
            "ECE weights tumor and other pixels equally and shows how far the probabilities "
            "given to tumor pixels are from the observed tumor fraction.",
            "",
        ]
    if evaluation.fraction_calibration is not None:
        curve = evaluation.fraction_calibration
        lines += [
            f"Tumor fraction estimated by **{evaluation.fraction}**, trained in each fold on the "
            "training patients only. Fuzzy Dice `2 Σ min(e, f) / (Σ e + Σ f)` and area error "
            "`(Σ e − Σ f) / Σ f` compare the estimate e with the true fraction f over the whole "
            "specimen (pixels not estimated count as 0); the fraction MAE is the mean |e − f| "
            "over the partial pixels (0 < f < 1); coverage is the share of the estimated pixels "
            "whose 90 % interval (`FractionMap.lower` to `.upper`) holds f, over all of them and "
            f"over the partial ones. Calibration: mean gap between the curve and the diagonal "
            f"{curve.mean_absolute_error:.3f} (pixel-weighted).",
            "",
        ]
    if patient_figures:
        lines += ["## Per-specimen reports", ""]
        for name, file in patient_figures:
            lines += [f"### {name}", "", f"![{name}]({file})", ""]
    return "\n".join(lines)
