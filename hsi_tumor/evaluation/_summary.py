"""The summary of an evaluation's predictions: metrics per patient, pooled over all test pixels
and as the mean of the patients, with bootstrap 95 % intervals that resample patients."""

from __future__ import annotations

from typing import Any

import numpy as np

from hsi_tumor.evaluation._results import METRICS, Evaluation, Prediction
from hsi_tumor.metrics._calibration import reliability_curve
from hsi_tumor.metrics._fraction import calibration_from_sums, metrics_from_fraction_estimate_sums
from hsi_tumor.metrics._scores import (
    auc_from_histograms,
    confusion_counts,
    metrics_from_confusion,
    metrics_from_fraction_sums,
    score_histograms,
)


def _summarise(
    predictions,
    classes,
    names,
    tumor_class,
    *,
    scheme,
    optimistic,
    classifier,
    preprocessing,
    folds,
    n_bootstrap,
    seed,
    fraction=None,
) -> Evaluation:
    from sklearn.metrics import roc_auc_score

    tumor_index = None if tumor_class is None else int(np.flatnonzero(classes == tumor_class)[0])
    by_patient: dict[str, list[Prediction]] = {}
    for p in predictions:
        by_patient.setdefault(p.specimen.patient, []).append(p)
    patients = sorted(by_patient)
    has_scores = tumor_class is not None and all(p.tumor_score is not None for p in predictions)
    has_fractions = all(p.fraction_sums is not None for p in predictions)
    has_estimates = all(p.fraction_estimate_sums is not None for p in predictions)

    rows, cms, hists, fracs, estimates = [], [], [], [], []
    all_y, all_s = [], []
    for patient in patients:
        preds = by_patient[patient]
        y = np.concatenate([p.y_true for p in preds])
        yp = np.concatenate([p.y_pred for p in preds])
        cm = confusion_counts(y, yp, classes)
        cms.append(cm)
        row: dict[str, Any] = {
            "patient": patient,
            "specimens": [p.specimen.name for p in preds],
            "n_pixels": int(y.size),
            "n_tumor": int(np.sum(y == tumor_class)) if tumor_class is not None else None,
            "n_unclassified": int(np.sum(yp == 0)),
        }
        row.update({k: float(v) for k, v in metrics_from_confusion(cm, tumor_index).items()})
        if has_scores:
            s = np.concatenate([p.tumor_score for p in preds])
            ok = np.isfinite(s)
            is_tumor = y[ok] == tumor_class
            all_y.append(is_tumor)
            all_s.append(s[ok])
            hists.append(score_histograms(is_tumor, s[ok]))
            both = is_tumor.any() and not is_tumor.all()
            row["roc_auc"] = float(roc_auc_score(is_tumor, s[ok])) if both else float("nan")
        if has_fractions:
            sums = np.sum([p.fraction_sums for p in preds], axis=0)
            fracs.append(sums)
            row.update({k: float(v) for k, v in metrics_from_fraction_sums(sums).items()})
        if has_estimates:
            sums = np.sum([p.fraction_estimate_sums for p in preds], axis=0)
            estimates.append(sums)
            row.update({k: float(v) for k, v in metrics_from_fraction_estimate_sums(sums).items()})
        rows.append(row)

    confusion = np.sum(cms, axis=0)
    pooled = {k: float(v) for k, v in metrics_from_confusion(confusion, tumor_index).items()}
    stats: dict[str, np.ndarray] = {"confusion": np.array(cms)}
    reliability = None
    if has_scores:
        y_all, s_all = np.concatenate(all_y), np.concatenate(all_s)
        both = y_all.any() and not y_all.all()
        pooled["roc_auc"] = float(roc_auc_score(y_all, s_all)) if both else float("nan")
        stats["histograms"] = np.array(hists)
        reliability = reliability_curve(y_all, s_all)
    if has_fractions:
        sums = np.sum(fracs, axis=0)
        pooled.update({k: float(v) for k, v in metrics_from_fraction_sums(sums).items()})
        stats["fractions"] = np.array(fracs)
    calibration = None
    if has_estimates:
        sums = np.sum(estimates, axis=0)
        pooled.update({k: float(v) for k, v in metrics_from_fraction_estimate_sums(sums).items()})
        stats["estimates"] = np.array(estimates)
        calibration = calibration_from_sums(sums)
    metric_names = [m for m in METRICS if m in pooled]
    per_patient_values = {m: np.array([r[m] for r in rows], dtype=np.float64) for m in metric_names}
    patient_mean = {
        m: float(np.nanmean(v)) if np.isfinite(v).any() else float("nan")
        for m, v in per_patient_values.items()
    }
    rng = np.random.default_rng(seed)
    ci, ci_mean = _bootstrap(stats, per_patient_values, tumor_index, n_bootstrap, rng)
    return Evaluation(
        scheme=scheme,
        optimistic=optimistic,
        classifier=classifier,
        preprocessing=preprocessing,
        class_names=names,
        tumor_class=tumor_class,
        folds=folds,
        per_patient=rows,
        pooled=pooled,
        patient_mean=patient_mean,
        ci={m: ci[m] for m in metric_names if m in ci},
        ci_patient_mean={m: ci_mean[m] for m in metric_names if m in ci_mean},
        confusion=confusion,
        classes=classes,
        reliability=reliability,
        predictions=predictions,
        n_bootstrap=n_bootstrap,
        random_state=seed,
        fraction=fraction,
        fraction_calibration=calibration,
    )


def _bootstrap(
    stats: dict[str, np.ndarray],
    per_patient: dict[str, np.ndarray],
    tumor_index,
    n_bootstrap: int,
    rng: np.random.Generator,
):
    """95 % intervals of the pooled and patient-mean metrics, resampling patients."""
    n = stats["confusion"].shape[0]
    if n < 2 or n_bootstrap < 1:
        return {}, {}
    weights = rng.multinomial(n, np.full(n, 1 / n), size=n_bootstrap).astype(np.float64)
    values = metrics_from_confusion(np.tensordot(weights, stats["confusion"], axes=1), tumor_index)
    if "histograms" in stats:
        values["roc_auc"] = auc_from_histograms(np.tensordot(weights, stats["histograms"], axes=1))
    if "fractions" in stats:
        values.update(metrics_from_fraction_sums(weights @ stats["fractions"]))
    if "estimates" in stats:
        values.update(metrics_from_fraction_estimate_sums(weights @ stats["estimates"]))
    pooled = {k: _interval(v) for k, v in values.items()}
    means = {}
    for k, v in per_patient.items():
        ok = np.isfinite(v)
        if ok.sum() < 2:
            continue
        w = weights[:, ok]
        with np.errstate(invalid="ignore", divide="ignore"):
            means[k] = _interval((w @ v[ok]) / w.sum(axis=1))
    return pooled, means


def _interval(samples: np.ndarray) -> tuple[float, float]:
    samples = samples[np.isfinite(samples)]
    if samples.size == 0:
        return (float("nan"), float("nan"))
    lo, hi = np.percentile(samples, [2.5, 97.5])
    return (float(lo), float(hi))
