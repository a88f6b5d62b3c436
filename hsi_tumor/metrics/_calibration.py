"""Probability quality: the reliability (calibration) curve and the expected calibration error."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hsi_tumor._shared.errors import InvalidOptionError

__all__ = ["ReliabilityCurve", "reliability_curve"]


@dataclass(frozen=True)
class ReliabilityCurve:
    """How often the positive class occurs among pixels given each predicted probability.

    Attributes
    ----------
    bin_edges : ndarray of shape (n_bins + 1,)
        Equal-width probability bins on [0, 1].
    mean_predicted : ndarray of shape (n_bins,)
        Mean predicted probability of the pixels in each bin (NaN for an empty bin).
    observed : ndarray of shape (n_bins,)
        Fraction of those pixels that are positive (NaN for an empty bin).
    counts : ndarray of int, shape (n_bins,)
        Pixels per bin.
    ece : float
        Expected calibration error: ``sum(counts * |observed - mean_predicted|) / sum(counts)``.
    ece_balanced : float
        Class-balanced ECE: the same gaps, each bin weighted by the mean of its share of the
        positive pixels and its share of the negative pixels; NaN when one class is absent.
    positives : ndarray of int, shape (n_bins,)
        Positive pixels per bin.
    """

    bin_edges: np.ndarray
    mean_predicted: np.ndarray
    observed: np.ndarray
    counts: np.ndarray
    ece: float
    ece_balanced: float = float("nan")
    positives: np.ndarray | None = None

    def to_dict(self) -> dict:
        """JSON-friendly form (NaN as None)."""

        def listed(a):
            return [None if not np.isfinite(v) else float(v) for v in a]

        return {
            "bin_edges": listed(self.bin_edges),
            "mean_predicted": listed(self.mean_predicted),
            "observed": listed(self.observed),
            "counts": [int(c) for c in self.counts],
            "positives": None if self.positives is None else [int(c) for c in self.positives],
            "ece": float(self.ece),
            "ece_balanced": None if not np.isfinite(self.ece_balanced) else self.ece_balanced,
        }


def reliability_curve(y_true, probability, *, n_bins: int = 10) -> ReliabilityCurve:
    r"""Reliability curve and expected calibration error (ECE) of a positive-class probability.

    Pixels are put in ``n_bins`` equal-width bins of predicted probability (the last bin
    includes 1.0). In each bin, the observed positive fraction is compared with the mean
    prediction; ECE is the pixel-weighted mean absolute gap (Naeini et al. 2015; Guo et al.
    2017). A well calibrated map has points on the diagonal and an ECE near 0.

    When one class is rare (tumor pixels), most pixels sit in the lowest bin and the ECE says
    little about the probabilities given to the rare class: a model whose 0.97 means 0.54 can
    have an ECE of 0.05. The class-balanced ECE weights the same gaps by the two classes
    equally; report both.

    Parameters
    ----------
    y_true : array-like of bool or {0, 1}, shape (n,)
        True where the pixel is positive (tumor).
    probability : array-like of float, shape (n,)
        Predicted probability of the positive class, in [0, 1]. Non-finite values are left
        out together with their label.
    n_bins : int, default=10

    Returns
    -------
    ReliabilityCurve

    Notes
    -----
    With :math:`n_b` pixels, :math:`n_b^+` positives and :math:`n_b^-` negatives in bin
    :math:`b` (totals :math:`N, N^+, N^-`), observed fraction :math:`o_b` and mean prediction
    :math:`p_b`:

    .. math::

        \mathrm{ECE} = \sum_b \frac{n_b}{N} |o_b - p_b|, \qquad
        \mathrm{ECE}_\mathrm{balanced} = \sum_b \frac{1}{2}\left(\frac{n_b^+}{N^+} +
        \frac{n_b^-}{N^-}\right) |o_b - p_b|,

    so :math:`\mathrm{ECE}_\mathrm{balanced}` is the mean of the expected gap of a positive
    pixel's bin and that of a negative pixel's bin. Both are 0 when every bin is calibrated
    (:math:`o_b = p_b`), whatever the prevalence.

    Examples
    --------
    >>> import numpy as np
    >>> curve = reliability_curve([0, 0, 1, 1], [0.1, 0.3, 0.7, 0.9], n_bins=2)
    >>> curve.observed, curve.mean_predicted, round(curve.ece, 3)
    (array([0., 1.]), array([0.2, 0.8]), 0.2)
    >>> round(reliability_curve([0, 0, 0, 1], [0.1, 0.1, 0.9, 0.9], n_bins=2).ece_balanced, 3)
    0.3
    """
    y = np.asarray(y_true).reshape(-1)
    p = np.asarray(probability, dtype=np.float64).reshape(-1)
    if y.shape != p.shape:
        raise InvalidOptionError(
            f"y_true has {y.size} values, probability has {p.size}",
            field="probability",
            fix="give one probability per label",
        )
    if int(n_bins) < 1:
        raise InvalidOptionError(f"n_bins={n_bins}", field="n_bins", fix="use at least 1 bin")
    n_bins = int(n_bins)
    keep = np.isfinite(p)
    y, p = y[keep].astype(bool), p[keep]
    if p.size and (p.min() < 0 or p.max() > 1):
        raise InvalidOptionError(
            f"probabilities outside [0, 1] (from {p.min():.3g} to {p.max():.3g})",
            field="probability",
            fix="give probabilities, not decision values",
        )
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    which = np.clip(np.searchsorted(edges, p, side="right") - 1, 0, n_bins - 1)
    counts = np.bincount(which, minlength=n_bins)
    sums = np.bincount(which, weights=p, minlength=n_bins)
    positives = np.bincount(which, weights=y.astype(np.float64), minlength=n_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(counts > 0, sums / counts, np.nan)
        observed = np.where(counts > 0, positives / counts, np.nan)
    filled = counts > 0
    gaps = np.where(filled, np.abs(observed - mean), 0.0)
    ece = float(np.sum(counts * gaps) / counts.sum()) if counts.sum() else float("nan")
    n_pos = positives.sum()
    n_neg = counts.sum() - n_pos
    if n_pos > 0 and n_neg > 0:
        weights = 0.5 * (positives / n_pos + (counts - positives) / n_neg)
        ece_balanced = float(np.sum(weights * gaps))
    else:
        ece_balanced = float("nan")
    return ReliabilityCurve(
        edges, mean, observed, counts, ece, ece_balanced, np.rint(positives).astype(np.int64)
    )
