"""The results of an evaluation: :class:`Fold` (who trained and who was tested in one split),
:class:`Prediction` (one specimen's test pixels) and :class:`Evaluation` (the metrics per patient,
pooled and as the patient mean with their intervals), with its dict, Markdown and repr output."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from hsi_tumor._shared.classes import class_colors
from hsi_tumor._shared.display import Html, facts_table, grid_table, swatch
from hsi_tumor.datasets._specimen import Specimen
from hsi_tumor.fraction import FractionMap
from hsi_tumor.inference import TumorMap
from hsi_tumor.metrics._calibration import ReliabilityCurve
from hsi_tumor.metrics._fraction import FractionCalibration

__all__ = ["METRICS", "Evaluation", "Fold", "Prediction", "no_tumor_class_note"]

#: Metrics in the order reports show them.
METRICS = (
    "accuracy",
    "sensitivity",
    "specificity",
    "balanced_accuracy",
    "roc_auc",
    "dice",
    "kappa",
    "fuzzy_dice",
    "area_error",
    "fraction_fuzzy_dice",
    "fraction_area_error",
    "fraction_mae_partial",
    "fraction_coverage",
    "fraction_coverage_partial",
)


@dataclass(frozen=True)
class Fold:
    """One train/test split: the patients (and pixels) each side saw."""

    index: int
    train_patients: tuple[str, ...]
    test_patients: tuple[str, ...]
    n_train_pixels: int
    n_test_pixels: int
    best_params: dict[str, Any] | None = None


@dataclass(eq=False)
class Prediction:
    """What the models predicted for one specimen's test pixels.

    Attributes
    ----------
    specimen : Specimen
    flat : ndarray of int
        Flat pixel indices (row * cols + col) of the test pixels.
    y_true, y_pred : ndarray of int
        True and predicted class ids of those pixels (0 = not classified: invalid pixel).
    tumor_score : ndarray of float or None
        Predicted tumor probability of those pixels (NaN where not classified).
    tumor_map : TumorMap or None
        The whole specimen's map, for patient-wise schemes when ``keep_maps=True``.
    fraction_sums : ndarray or None
        The tumor probability against the true fraction (fuzzy Dice and area sums), where the
        specimen carries its true fraction.
    fraction_map : FractionMap or None
        The whole specimen's estimated tumor fraction, when the evaluation estimated fractions
        and ``keep_maps=True``.
    fraction_estimate_sums : ndarray or None
        The estimated fraction against the true one
        (:func:`~hsi_tumor.metrics._fraction.fraction_estimate_sums`).
    """

    specimen: Specimen
    flat: np.ndarray
    y_true: np.ndarray
    y_pred: np.ndarray
    tumor_score: np.ndarray | None
    tumor_map: TumorMap | None = None
    fraction_sums: np.ndarray | None = None
    fraction_map: FractionMap | None = None
    fraction_estimate_sums: np.ndarray | None = None


@dataclass(eq=False)
class Evaluation:
    """Result of :func:`evaluate`.

    Attributes
    ----------
    scheme : str
        How the data was split, in words (e.g. ``"leave-one-patient-out (12 folds)"``).
    optimistic : bool
        True for random pixel splits: pixels of a test patient were also in training, so the
        figures overstate performance on new patients.
    classifier : str
    preprocessing : tuple of str
    class_names : dict of int to str
    tumor_class : int or None
        Positive class of the tumor metrics (the class named "tumor").
    folds : list of Fold
    per_patient : list of dict
        ``patient``, ``n_pixels``, ``n_tumor`` (None without a tumor class),
        ``n_unclassified`` and each metric.
    pooled : dict of str to float
        Metrics over all test pixels of all patients together.
    patient_mean : dict of str to float
        Mean of the per-patient metrics (patients where a metric is undefined left out).
    ci : dict of str to (float, float)
        Bootstrap 95 % interval of each pooled metric, resampling patients.
    ci_patient_mean : dict of str to (float, float)
        Bootstrap 95 % interval of each patient-mean metric.
    confusion : ndarray of shape (n_classes, n_classes)
        Pooled confusion counts, rows = true class, in ``classes`` order.
    classes : ndarray of int
    reliability : ReliabilityCurve or None
        Calibration of the pooled tumor probability.
    predictions : list of Prediction
    n_bootstrap : int
    random_state : int
    fraction : str or None
        The tumor-fraction estimator evaluated beside the classifier (e.g.
        ``"learned (partial-volume truth ...)"``), None when no fraction was estimated.
    fraction_calibration : FractionCalibration or None
        Pooled calibration curve of the estimated fraction and the coverage of its 90 %
        interval by true fraction, where the specimens carry their true fraction.
    """

    scheme: str
    optimistic: bool
    classifier: str
    preprocessing: tuple[str, ...]
    class_names: dict[int, str]
    tumor_class: int | None
    folds: list[Fold]
    per_patient: list[dict[str, Any]]
    pooled: dict[str, float]
    patient_mean: dict[str, float]
    ci: dict[str, tuple[float, float]]
    ci_patient_mean: dict[str, tuple[float, float]]
    confusion: np.ndarray
    classes: np.ndarray
    reliability: ReliabilityCurve | None
    predictions: list[Prediction] = field(repr=False)
    n_bootstrap: int = 0
    random_state: int = 0
    fraction: str | None = None
    fraction_calibration: FractionCalibration | None = None

    @property
    def metric_names(self) -> list[str]:
        """The metrics this evaluation has, in report order."""
        return [m for m in METRICS if m in self.pooled]

    def roc_curves(self) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """Per patient: (is tumor, tumor probability) of the classified test pixels."""
        if self.tumor_class is None:
            return {}
        out: dict[str, tuple[list, list]] = {}
        for p in self.predictions:
            if p.tumor_score is None:
                continue
            ok = np.isfinite(p.tumor_score)
            y, s = out.setdefault(p.specimen.patient, ([], []))
            y.append(p.y_true[ok] == self.tumor_class)
            s.append(p.tumor_score[ok])
        return {k: (np.concatenate(y), np.concatenate(s)) for k, (y, s) in sorted(out.items())}

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly summary (no pixel arrays); NaN as None."""

        def num(v):
            return None if v is None or not np.isfinite(v) else float(v)

        return {
            "scheme": self.scheme,
            "optimistic": self.optimistic,
            "classifier": self.classifier,
            "preprocessing": list(self.preprocessing),
            "class_names": {str(k): v for k, v in self.class_names.items()},
            "tumor_class": self.tumor_class,
            "pooled": {k: num(v) for k, v in self.pooled.items()},
            "ci95": {k: [num(a), num(b)] for k, (a, b) in self.ci.items()},
            "patient_mean": {k: num(v) for k, v in self.patient_mean.items()},
            "ci95_patient_mean": {
                k: [num(a), num(b)] for k, (a, b) in self.ci_patient_mean.items()
            },
            "per_patient": [
                {k: (num(v) if isinstance(v, float) else v) for k, v in row.items()}
                for row in self.per_patient
            ],
            "confusion": {
                "classes": [int(c) for c in self.classes],
                "counts": self.confusion.astype(int).tolist(),
            },
            "folds": [
                {
                    "train_patients": list(f.train_patients),
                    "test_patients": list(f.test_patients),
                    "n_train_pixels": f.n_train_pixels,
                    "n_test_pixels": f.n_test_pixels,
                    "best_params": f.best_params,
                }
                for f in self.folds
            ],
            "calibration": None if self.reliability is None else self.reliability.to_dict(),
            "fraction": self.fraction,
            "fraction_calibration": (
                None if self.fraction_calibration is None else self.fraction_calibration.to_dict()
            ),
            "n_bootstrap": self.n_bootstrap,
            "random_state": self.random_state,
        }

    def _groups(self) -> list[tuple[str | None, list[str]]]:
        """The metric tables: the classification metrics, then (when estimated) the tumor
        fraction's, each as (heading or None, metric keys)."""
        fraction = [m for m in self.metric_names if m.startswith("fraction_")]
        groups: list[tuple[str | None, list[str]]] = [
            (None, [m for m in self.metric_names if m not in fraction])
        ]
        if fraction:
            groups.append((f"Tumor fraction estimate ({self.fraction})", fraction))
        return groups

    def _tables(self, names: list[str]) -> tuple[list[list[str]], list[list[str]]]:
        """The cells of two tables of the metrics ``names`` (first row: metric keys for the
        headers): pooled and patient mean with their intervals, and one row per patient."""
        summary = [
            ["", *names],
            ["pooled pixels", *(_cell(self.pooled[m], self.ci.get(m), m) for m in names)],
            [
                "mean of patients",
                *(_cell(self.patient_mean.get(m), self.ci_patient_mean.get(m), m) for m in names),
            ],
        ]
        tumor = self.tumor_class is not None  # no tumor class: no tumor pixels to count
        patients = [["patient", "pixels", *(["tumor pixels"] if tumor else []), *names]]
        patients += [
            [str(row["patient"]), str(row["n_pixels"]), *([str(row["n_tumor"])] if tumor else [])]
            + [_cell(row.get(m), None, m) for m in names]
            for row in self.per_patient
        ]
        return summary, patients

    def _notes(self) -> tuple[str, str | None, str]:
        """The scheme, the optimism warning (or None) and the intervals' note, as plain text."""
        optimistic = (
            "random pixel splits put pixels of every test patient in training too; these "
            "figures overstate performance on new patients."
            if self.optimistic
            else None
        )
        return (
            self.scheme,
            optimistic,
            f"95 % intervals: bootstrap over patients ({self.n_bootstrap} resamples).",
        )

    def to_markdown(self) -> str:
        """The metrics as Markdown tables: pooled and patient mean with 95 % CIs, per patient
        (and the same for the tumor-fraction estimate, when there is one)."""
        scheme, optimistic, intervals = self._notes()
        lines = [f"Scheme: **{scheme}**."]
        if optimistic:
            lines.append(f"**Optimistic:** {optimistic}")
        if self.tumor_class is None:
            lines.append("**No tumor class:** " + no_tumor_class_note(self.class_names) + ".")
        for k, (heading, names) in enumerate(self._groups()):
            summary, patients = self._tables(names)
            if heading:
                lines += ["", f"**{heading}**"]
            lines += ["", *_markdown(summary), ""]
            if k == 0:
                lines += [intervals, ""]
            lines += _markdown(patients)
        return "\n".join(lines)

    def to_text(self) -> str:
        """The metrics as plain-text tables for a terminal (what ``hsi-tumor`` prints).

        The numbers of :meth:`to_markdown` without its Markdown: the pooled and patient-mean
        metrics with their 95 % intervals one metric per line, then one line per patient.
        """
        scheme, optimistic, intervals = self._notes()
        lines = [f"Scheme: {scheme}."]
        if optimistic:
            lines.append(f"OPTIMISTIC: {optimistic}")
        if self.tumor_class is None:
            lines.append("NO TUMOR CLASS: " + no_tumor_class_note(self.class_names) + ".")
        for k, (heading, names) in enumerate(self._groups()):
            (heads, pooled, mean), patients = self._tables(names)
            by_metric = [["metric", "pooled pixels (95 % CI)", "mean of patients (95 % CI)"]]
            by_metric += [
                [_LABELS[m], p, q] for m, p, q in zip(heads[1:], pooled[1:], mean[1:], strict=True)
            ]
            patients[0] = [_SHORT.get(h, h) for h in patients[0]]
            lines += ["", *([f"{heading}:"] if heading else []), *_aligned(by_metric, right=False)]
            if k == 0:
                lines.append(intervals)
            lines += ["", *_aligned(patients, right=True)]
        return "\n".join(lines)

    def _metric_table(self, names: list[str]) -> tuple[list[str], list[list[str]]]:
        """(header, rows) of the pooled and patient-mean metrics ``names``, headers as labels."""
        summary, _ = self._tables(names)
        return ["", *(_LABELS[m] for m in names)], summary[1:]

    def _patient_table(self, names: list[str]) -> tuple[list[str], list[list[str]]]:
        """(header, rows) of the per-patient table of the metrics ``names``, headers as
        labels."""
        _, patients = self._tables(names)
        counts = patients[0][: len(patients[0]) - len(names)]
        return [*counts, *(_LABELS[m] for m in names)], patients[1:]

    def _repr_html_(self) -> str:
        """The scheme and model, the metrics table with intervals and the per-patient table."""
        colours = class_colors(self.classes, self.class_names)
        rows = [("scheme", self.scheme)]
        if self.optimistic:
            rows.append(
                (
                    "OPTIMISTIC",
                    "random pixel splits put pixels of every test patient in training too; "
                    "these figures overstate performance on new patients",
                )
            )
        tumor = self.class_names.get(self.tumor_class) if self.tumor_class is not None else None
        rows += [
            ("classifier", self.classifier),
            ("preprocessing", " → ".join(self.preprocessing) or "none"),
            (
                "classes",
                Html(
                    ", ".join(
                        swatch(colours[int(c)], f"{self.class_names[int(c)]} ({int(c)})")
                        for c in self.classes
                    )
                ),
            ),
            ("tumor class", tumor or "none named tumor: no tumor metrics"),
        ]
        (_, names), *fraction = self._groups()
        rows += [
            ("metrics", grid_table(*self._metric_table(names))),
            ("intervals", f"95 %, bootstrap over patients ({self.n_bootstrap} resamples)"),
            ("per patient", grid_table(*self._patient_table(names))),
        ]
        for heading, names in fraction:
            rows += [
                ("tumor fraction", heading),
                ("fraction metrics", grid_table(*self._metric_table(names))),
                ("fraction per patient", grid_table(*self._patient_table(names))),
            ]
        return facts_table("hsi_tumor.Evaluation", rows)

    def __repr__(self) -> str:
        shown = ", ".join(
            f"{m} {self.pooled[m]:.3f}"
            for m in self.metric_names[:4]
            if np.isfinite(self.pooled[m])
        )
        return (
            f"Evaluation({self.scheme}, {len(self.per_patient)} patients, {self.classifier}: "
            f"{shown}{', no tumor class' if self.tumor_class is None else ''}"
            f"{', OPTIMISTIC' if self.optimistic else ''})"
        )


def no_tumor_class_note(class_names: dict[int, str]) -> str:
    """Why an evaluation has no tumor metrics, and how to get them."""
    listed = ", ".join(f"{c} {n!r}" for c, n in class_names.items())
    return (
        f"no class is named 'tumor' (classes: {listed}), so sensitivity, specificity, ROC AUC, "
        "Dice and the tumor-area metrics are not computed. If one of them is the tumor, name it "
        "with class_names=, e.g. {1: 'normal', 2: 'tumor'}, or in the specimens' class_names"
    )


_LABELS = {
    "accuracy": "accuracy",
    "sensitivity": "sensitivity",
    "specificity": "specificity",
    "balanced_accuracy": "balanced acc.",
    "roc_auc": "ROC AUC",
    "dice": "Dice (F1)",
    "kappa": "kappa",
    "fuzzy_dice": "fuzzy Dice",
    "area_error": "area error",
    "fraction_fuzzy_dice": "fraction fuzzy Dice",
    "fraction_area_error": "fraction area error",
    "fraction_mae_partial": "fraction MAE, partial px",
    "fraction_coverage": "90 % interval coverage",
    "fraction_coverage_partial": "coverage, partial px",
}
#: Shorter column heads of the per-patient lines of :meth:`Evaluation.to_text`.
_SHORT = {
    "tumor pixels": "tumor",
    "accuracy": "acc.",
    "sensitivity": "sens.",
    "specificity": "spec.",
    "balanced_accuracy": "bal. acc.",
    "roc_auc": "AUC",
    "dice": "Dice",
    "kappa": "kappa",
    "fuzzy_dice": "fuzzy Dice",
    "area_error": "area err.",
    "fraction_fuzzy_dice": "fr. fuzzy Dice",
    "fraction_area_error": "fr. area err.",
    "fraction_mae_partial": "fr. MAE part.",
    "fraction_coverage": "fr. cov.",
    "fraction_coverage_partial": "fr. cov. part.",
}
_PERCENT = {
    "accuracy",
    "sensitivity",
    "specificity",
    "balanced_accuracy",
    "area_error",
    "fraction_area_error",
    "fraction_coverage",
    "fraction_coverage_partial",
}


def _cell(value, interval, metric) -> str:
    if value is None or not np.isfinite(value):
        return "–"
    if metric in _PERCENT:
        text = f"{100 * value:.1f} %"
        if interval is not None and np.all(np.isfinite(interval)):
            text += f" ({100 * interval[0]:.1f} to {100 * interval[1]:.1f})"
        return text
    text = f"{value:.3f}"
    if interval is not None and np.all(np.isfinite(interval)):
        text += f" ({interval[0]:.3f} to {interval[1]:.3f})"
    return text


def _aligned(rows: list[list[str]], *, right: bool) -> list[str]:
    """Rows of cells as lines of aligned columns (the first left-aligned, the others right-
    aligned when ``right``), two spaces apart."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return [
        "  ".join(
            cell.ljust(w) if i == 0 or not right else cell.rjust(w)
            for i, (cell, w) in enumerate(zip(row, widths, strict=True))
        ).rstrip()
        for row in rows
    ]


def _markdown(rows: list[list[str]]) -> list[str]:
    """A Markdown table: the header row (metric keys as labels), then right-aligned columns
    after the first."""
    head = [_LABELS.get(h, h) for h in rows[0]]
    return [
        "|" + "|".join(f" {h} " if h else " " for h in head) + "|",
        "|---|" + "---:|" * (len(head) - 1),
        *("| " + " | ".join(row) + " |" for row in rows[1:]),
    ]
