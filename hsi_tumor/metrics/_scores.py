"""Pixel metrics of a tumor map: from confusion counts, scores and tumor-fraction truth.

Every metric here is a function of sums over pixels (a confusion matrix, score histograms,
fraction sums), so per-patient sums add up to the pooled value and the bootstrap over patients
only re-weights them.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from hsi_tumor._shared.errors import InvalidOptionError

__all__ = [
    "AUC_BINS",
    "area_error",
    "auc_from_histograms",
    "confusion_counts",
    "fraction_inputs",
    "fraction_sums",
    "fuzzy_dice",
    "metrics_from_confusion",
    "metrics_from_fraction_sums",
    "pixel_metrics",
    "score_histograms",
]

#: Probability bins of the score histograms behind the bootstrapped ROC AUC.
AUC_BINS = 1000


def confusion_counts(y_true, y_pred, classes: Sequence[int]) -> np.ndarray:
    """Confusion matrix ``cm[i, j]``: pixels of class ``classes[i]`` predicted ``classes[j]``.

    Pixels whose true or predicted id is not in ``classes`` are not counted.
    """
    classes = np.asarray(classes)
    order = np.argsort(classes)
    ordered = classes[order]

    def index(values):
        values = np.asarray(values).ravel()
        pos = np.clip(np.searchsorted(ordered, values), 0, ordered.size - 1)
        return np.where(ordered[pos] == values, order[pos], -1)

    t, p = index(y_true), index(y_pred)
    keep = (t >= 0) & (p >= 0)
    n = classes.size
    return np.bincount(t[keep] * n + p[keep], minlength=n * n).reshape(n, n)


def _ratio(num, den):
    num, den = np.asarray(num, dtype=np.float64), np.asarray(den, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1), np.nan)


def metrics_from_confusion(cm: np.ndarray, tumor_index: int | None = None) -> dict[str, np.ndarray]:
    """Metrics of one or many confusion matrices (``cm`` of shape (..., C, C)).

    Returns
    -------
    dict of str to ndarray of shape cm.shape[:-2]
        ``accuracy``, ``balanced_accuracy`` (mean recall over the classes that occur),
        ``kappa`` (Cohen's), and, with ``tumor_index`` (tumor vs every other class):
        ``sensitivity``, ``specificity``, ``precision`` and ``dice`` (= F1 of the tumor class).
        NaN where a metric is undefined (e.g. specificity of a patient without normal pixels).
    """
    cm = np.asarray(cm, dtype=np.float64)
    total = cm.sum(axis=(-2, -1))
    diag = np.diagonal(cm, axis1=-2, axis2=-1)
    truth = cm.sum(axis=-1)
    predicted = cm.sum(axis=-2)
    accuracy = _ratio(diag.sum(axis=-1), total)
    recall = _ratio(diag, truth)
    with np.errstate(invalid="ignore"):
        present = truth > 0
        balanced = _ratio(np.where(present, recall, 0).sum(axis=-1), present.sum(axis=-1))
        expected = _ratio((truth * predicted).sum(axis=-1), total**2)
        kappa = _ratio(accuracy - expected, 1 - expected)
    out = {"accuracy": accuracy, "balanced_accuracy": balanced, "kappa": kappa}
    if tumor_index is not None:
        tp = cm[..., tumor_index, tumor_index]
        fn = truth[..., tumor_index] - tp
        fp = predicted[..., tumor_index] - tp
        tn = total - tp - fn - fp
        out["sensitivity"] = _ratio(tp, tp + fn)
        out["specificity"] = _ratio(tn, tn + fp)
        out["precision"] = _ratio(tp, tp + fp)
        out["dice"] = _ratio(2 * tp, 2 * tp + fp + fn)
    return out


def score_histograms(is_tumor, score, bins: int = AUC_BINS) -> np.ndarray:
    """Counts of tumor (row 1) and other (row 0) pixels per equal-width score bin on [0, 1]."""
    is_tumor = np.asarray(is_tumor, dtype=bool).ravel()
    score = np.asarray(score, dtype=np.float64).ravel()
    which = np.clip((score * bins).astype(np.int64), 0, bins - 1)
    return np.stack(
        [
            np.bincount(which[~is_tumor], minlength=bins),
            np.bincount(which[is_tumor], minlength=bins),
        ]
    )


def auc_from_histograms(hist: np.ndarray) -> np.ndarray:
    """ROC AUC from score histograms (..., 2, bins): P(tumor score > other) + ties / 2.

    Exact for scores that fall in distinct bins; pixels sharing a bin count as ties. Used for
    the bootstrap, where the point estimate comes from :func:`sklearn.metrics.roc_auc_score`.
    """
    hist = np.asarray(hist, dtype=np.float64)
    neg, pos = hist[..., 0, :], hist[..., 1, :]
    below = np.cumsum(neg, axis=-1) - neg  # others with a lower score bin
    wins = (pos * (below + 0.5 * neg)).sum(axis=-1)
    return _ratio(wins, pos.sum(axis=-1) * neg.sum(axis=-1))


def fraction_inputs(probability, fraction, mask):
    """``(p, f, keep)``: the probability (or estimated fraction) and true fraction of the
    compared pixels ``keep`` (in the mask, with a finite true fraction), NaN ``p`` as 0."""
    p = np.asarray(probability, dtype=np.float64)
    f = np.asarray(fraction, dtype=np.float64)
    if p.shape != f.shape:
        raise InvalidOptionError(
            f"probability map {p.shape} and tumor fraction {f.shape} differ in shape",
            field="fraction",
            fix="give maps of the same (rows, cols)",
        )
    keep = np.isfinite(f) if mask is None else np.asarray(mask, dtype=bool) & np.isfinite(f)
    return np.nan_to_num(p[keep], nan=0.0), f[keep], keep


def fraction_sums(probability, fraction, mask=None) -> np.ndarray:
    """``[sum(min(p, f)), sum(p), sum(f)]`` over the mask: what fuzzy Dice and area need.

    Pixels with no probability (NaN: not classified) count as probability 0, so unclassified
    tumor is missed tumor.
    """
    p, f, _ = fraction_inputs(probability, fraction, mask)
    return np.array([np.minimum(p, f).sum(), p.sum(), f.sum()])


def metrics_from_fraction_sums(sums: np.ndarray) -> dict[str, np.ndarray]:
    """``fuzzy_dice`` and ``area_error`` from :func:`fraction_sums` (shape (..., 3))."""
    inter, sp, sf = np.moveaxis(np.asarray(sums, dtype=np.float64), -1, 0)
    return {"fuzzy_dice": _ratio(2 * inter, sp + sf), "area_error": _ratio(sp - sf, sf)}


def fuzzy_dice(probability, fraction, mask=None) -> float:
    """Fuzzy Dice of a tumor-probability map against the true tumor fraction.

    ``2 * sum(min(p, f)) / (sum(p) + sum(f))`` over the pixels of ``mask`` (Crum et al.,
    IEEE TMI 2006): 1 when the maps are equal, and the ordinary Dice when both are binary.

    Parameters
    ----------
    probability : ndarray
        Predicted tumor probability (or fraction) per pixel; NaN counts as 0.
    fraction : ndarray
        True tumor fraction per pixel, in [0, 1].
    mask : ndarray of bool, optional
        Pixels to compare (e.g. the specimen). Default: every pixel with a finite fraction.

    Examples
    --------
    >>> fuzzy_dice([[0.5, 1.0]], [[1.0, 1.0]])
    0.8571428571428571
    """
    sums = fraction_sums(probability, fraction, mask)
    return float(metrics_from_fraction_sums(sums)["fuzzy_dice"])


def area_error(probability, fraction, mask=None) -> float:
    """Relative error of the tumor area: ``(sum(p) - sum(f)) / sum(f)`` over ``mask``.

    Positive when the map over-estimates the tumor area (partial-volume areas: a pixel that is
    40 % tumor adds 0.4). NaN when there is no tumor.

    Examples
    --------
    >>> area_error([[0.5, 1.0]], [[1.0, 1.0]])
    -0.25
    """
    sums = fraction_sums(probability, fraction, mask)
    return float(metrics_from_fraction_sums(sums)["area_error"])


def pixel_metrics(
    y_true,
    y_pred,
    *,
    classes: Sequence[int],
    tumor_class: int | None = None,
    tumor_score=None,
) -> dict[str, float]:
    """Pixel metrics of predicted labels (and tumor scores) against true labels.

    Parameters
    ----------
    y_true, y_pred : array-like of int, shape (n,)
        True and predicted class ids.
    classes : sequence of int
        The class ids; pixels with other ids are not counted.
    tumor_class : int, optional
        The positive class of the tumor metrics (tumor vs every other class).
    tumor_score : array-like of float, shape (n,), optional
        Tumor probability per pixel, for the ROC AUC.

    Returns
    -------
    dict of str to float
        See :func:`metrics_from_confusion`; plus ``roc_auc`` with a tumor score (NaN when
        only one of tumor / not tumor occurs).
    """
    classes = list(classes)
    if tumor_class is not None and tumor_class not in classes:
        raise InvalidOptionError(
            f"tumor_class {tumor_class} is not one of the classes {classes}",
            field="tumor_class",
            fix="name one of the classes as the tumor class",
        )
    cm = confusion_counts(y_true, y_pred, classes)
    index = None if tumor_class is None else classes.index(tumor_class)
    out = {k: float(v) for k, v in metrics_from_confusion(cm, index).items()}
    if tumor_class is not None and tumor_score is not None:
        from sklearn.metrics import roc_auc_score

        is_tumor = np.asarray(y_true).ravel() == tumor_class
        score = np.asarray(tumor_score, dtype=np.float64).ravel()
        ok = np.isfinite(score)
        both = is_tumor[ok].any() and not is_tumor[ok].all()
        out["roc_auc"] = float(roc_auc_score(is_tumor[ok], score[ok])) if both else float("nan")
    return out
