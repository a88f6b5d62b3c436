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
    """

    bin_edges: np.ndarray
    mean_predicted: np.ndarray
    observed: np.ndarray
    counts: np.ndarray
    ece: float

    def to_dict(self) -> dict:
        """JSON-friendly form (NaN as None)."""

        def listed(a):
            return [None if not np.isfinite(v) else float(v) for v in a]

        return {
            "bin_edges": listed(self.bin_edges),
            "mean_predicted": listed(self.mean_predicted),
            "observed": listed(self.observed),
            "counts": [int(c) for c in self.counts],
            "ece": float(self.ece),
        }


def reliability_curve(y_true, probability, *, n_bins: int = 10) -> ReliabilityCurve:
    """Reliability curve and expected calibration error (ECE) of a positive-class probability.

    Pixels are put in ``n_bins`` equal-width bins of predicted probability (the last bin
    includes 1.0). In each bin, the observed positive fraction is compared with the mean
    prediction; ECE is the pixel-weighted mean absolute gap (Naeini et al. 2015; Guo et al.
    2017). A well calibrated map has points on the diagonal and an ECE near 0.

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

    Examples
    --------
    >>> import numpy as np
    >>> curve = reliability_curve([0, 0, 1, 1], [0.1, 0.3, 0.7, 0.9], n_bins=2)
    >>> curve.observed, curve.mean_predicted, round(curve.ece, 3)
    (array([0., 1.]), array([0.2, 0.8]), 0.2)
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
    ece = (
        float(np.sum(counts[filled] * np.abs(observed[filled] - mean[filled])) / counts.sum())
        if counts.sum()
        else float("nan")
    )
    return ReliabilityCurve(edges, mean, observed, counts, ece)
