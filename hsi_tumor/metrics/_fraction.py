"""Quality of a tumor-fraction estimate against the true fraction: fuzzy Dice, area error, the
mean absolute error on partial pixels, the coverage of its interval, and its calibration curve.

Everything is computed from additive per-specimen sums (:func:`fraction_estimate_sums`), so
the sums of several specimens give the pooled value and a bootstrap over patients only
re-weights them, as for :func:`~hsi_tumor.metrics._scores.fraction_sums`.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from hsi_tumor._shared.errors import InvalidOptionError
from hsi_tumor.metrics._scores import _ratio, fraction_inputs, metrics_from_fraction_sums

__all__ = [
    "CALIBRATION_BINS",
    "COVERAGE_BINS",
    "FractionCalibration",
    "calibration_from_sums",
    "fraction_calibration",
    "fraction_estimate_metrics",
    "fraction_estimate_sums",
    "metrics_from_fraction_estimate_sums",
]

#: Edges of the equal-width bins of the *estimated* fraction of the calibration curve.
CALIBRATION_BINS = np.linspace(0.0, 1.0, 11)
#: Edges of the bins of the *true* fraction of the coverage curve, between the pure ends:
#: f = 0, then (0, 0.2], (0.2, 0.4], ... (0.8, 1), then f = 1.
COVERAGE_BINS = np.linspace(0.0, 1.0, 6)

_N_CAL = len(CALIBRATION_BINS) - 1
_N_COV = len(COVERAGE_BINS) + 1  # f = 0, the partial bins, f = 1
# layout of the sums vector
_DICE = slice(0, 3)  # Σ min(e, f), Σ e, Σ f  (fraction_sums)
_ABS_PARTIAL, _N_PARTIAL = 3, 4
# pixels with an interval (finite bounds), and those of them covered; all and partial
_COVERED, _N_INTERVAL, _COVERED_PARTIAL, _N_INTERVAL_PARTIAL = 5, 6, 7, 8
_CAL = slice(9, 9 + 3 * _N_CAL)  # per bin of e: n, Σ e, Σ f
_COV = slice(_CAL.stop, _CAL.stop + 2 * _N_COV)  # per bin of f: n, n covered
_COV_E = slice(_COV.stop, _COV.stop + 2 * _N_CAL)  # per bin of e: n with an interval, covered
N_SUMS = _COV_E.stop


def _coverage_bin(f: np.ndarray) -> np.ndarray:
    """Bin of each true fraction: 0 for f = 0, 1 … len-2 for the partial bins, last for f = 1."""
    partial = np.clip(np.searchsorted(COVERAGE_BINS, f, side="left"), 1, _N_COV - 2)
    return np.where(f <= 0, 0, np.where(f >= 1, _N_COV - 1, partial))


def fraction_estimate_sums(estimate, fraction, mask=None, *, lower=None, upper=None) -> np.ndarray:
    """The additive sums behind every fraction-estimate metric, over one specimen's pixels.

    Parameters
    ----------
    estimate : ndarray of shape (rows, cols)
        Estimated tumor fraction; NaN (not estimated) counts as 0 and as not covered, so a
        pixel left out is an error, not a pixel spared.
    fraction : ndarray of shape (rows, cols)
        True tumor fraction in [0, 1]; pixels where it is not finite are left out.
    mask : ndarray of bool, optional
        Pixels to compare (e.g. the specimen). Default: every pixel with a finite fraction.
    lower, upper : ndarray of shape (rows, cols), optional
        The estimate's interval; the true fraction is covered when ``lower ≤ f ≤ upper``.
        Coverage counts the pixels with an interval (finite bounds) only: a pixel not
        estimated (invalid) says nothing about the interval. Without them the coverage sums
        are 0.

    Returns
    -------
    ndarray of float64, shape (N_SUMS,)
        Read with :func:`metrics_from_fraction_estimate_sums` and
        :func:`calibration_from_sums`; add the sums of several specimens to pool them.
    """
    e, f, keep = fraction_inputs(estimate, fraction, mask)
    out = np.zeros(N_SUMS)
    out[_DICE] = [np.minimum(e, f).sum(), e.sum(), f.sum()]
    partial = (f > 0) & (f < 1)
    out[_ABS_PARTIAL] = np.abs(e - f)[partial].sum()
    out[_N_PARTIAL] = partial.sum()
    b = np.clip(np.digitize(e, CALIBRATION_BINS) - 1, 0, _N_CAL - 1)
    cal = np.stack(
        [
            np.bincount(b, minlength=_N_CAL),
            np.bincount(b, weights=e, minlength=_N_CAL),
            np.bincount(b, weights=f, minlength=_N_CAL),
        ],
        axis=1,
    )
    out[_CAL] = cal.ravel()
    if lower is not None and upper is not None:
        lo = np.asarray(lower, dtype=np.float64)[keep]
        hi = np.asarray(upper, dtype=np.float64)[keep]
        has = np.isfinite(lo) & np.isfinite(hi)
        f, lo, hi, partial = f[has], lo[has], hi[has], partial[has]
        covered = (lo <= f) & (f <= hi)
        out[_COVERED] = covered.sum()
        out[_N_INTERVAL] = f.size
        out[_COVERED_PARTIAL] = covered[partial].sum()
        out[_N_INTERVAL_PARTIAL] = partial.sum()
        k = _coverage_bin(f)
        cov = np.stack(
            [np.bincount(k, minlength=_N_COV), np.bincount(k, weights=covered, minlength=_N_COV)],
            axis=1,
        )
        out[_COV] = cov.ravel()
        b = b[has]
        out[_COV_E] = np.stack(
            [np.bincount(b, minlength=_N_CAL), np.bincount(b, weights=covered, minlength=_N_CAL)],
            axis=1,
        ).ravel()
    return out


def metrics_from_fraction_estimate_sums(sums: np.ndarray) -> dict[str, np.ndarray]:
    """Fraction-estimate metrics from :func:`fraction_estimate_sums` (shape (..., N_SUMS)).

    Returns
    -------
    dict of str to ndarray
        ``fraction_fuzzy_dice`` ``2 Σ min(e, f) / (Σ e + Σ f)``; ``fraction_area_error``
        ``(Σ e − Σ f) / Σ f``; ``fraction_mae_partial``, the mean ``|e − f|`` over pixels with
        ``0 < f < 1``; ``fraction_coverage`` and ``fraction_coverage_partial``, the share of
        the pixels with an interval, and of the partial ones, whose interval covers ``f``
        (NaN without intervals).
    """
    s = np.asarray(sums, dtype=np.float64)
    dice = metrics_from_fraction_sums(s[..., _DICE])
    n_partial = s[..., _N_PARTIAL]
    has = s[..., _N_INTERVAL] > 0
    nan = np.full(n_partial.shape, np.nan)
    return {
        "fraction_fuzzy_dice": dice["fuzzy_dice"],
        "fraction_area_error": dice["area_error"],
        "fraction_mae_partial": _ratio(s[..., _ABS_PARTIAL], n_partial),
        "fraction_coverage": np.where(has, _ratio(s[..., _COVERED], s[..., _N_INTERVAL]), nan),
        "fraction_coverage_partial": np.where(
            has, _ratio(s[..., _COVERED_PARTIAL], s[..., _N_INTERVAL_PARTIAL]), nan
        ),
    }


@dataclass(frozen=True)
class FractionCalibration:
    """How a fraction estimate compares with the truth, bin by bin.

    Attributes
    ----------
    bin_edges : ndarray of shape (n_bins + 1,)
        Equal-width bins of the estimated fraction (:data:`CALIBRATION_BINS`).
    mean_estimated, mean_true : ndarray of shape (n_bins,)
        Mean estimated and mean true fraction of the pixels in each bin (NaN when empty); a
        calibrated estimate has them equal.
    counts : ndarray of int, shape (n_bins,)
    coverage_labels : tuple of str
        The bins of the true fraction of the coverage curve: ``"0"``, the partial bins
        (``"0–0.2"``, …) and ``"1"``.
    coverage : ndarray of shape (len(coverage_labels),)
        Share of each bin's pixels whose interval covers the true fraction (NaN when the bin
        is empty or the estimate has no interval).
    coverage_counts : ndarray of int, shape (len(coverage_labels),)
    coverage_by_estimate : ndarray of shape (n_bins,)
        Share of the pixels with an interval in each bin of the *estimated* fraction whose
        interval covers the true fraction (NaN when empty or without intervals): what a
        calibrated interval holds near its nominal level in every bin.
    mean_absolute_error : float
        ``Σ counts |mean_true − mean_estimated| / Σ counts``: the pixel-weighted gap of the
        curve from the diagonal (an expected calibration error of the fraction).
    """

    bin_edges: np.ndarray
    mean_estimated: np.ndarray
    mean_true: np.ndarray
    counts: np.ndarray
    coverage_labels: tuple[str, ...]
    coverage: np.ndarray
    coverage_counts: np.ndarray
    coverage_by_estimate: np.ndarray
    mean_absolute_error: float

    def to_dict(self) -> dict:
        """JSON-friendly form (NaN as None)."""

        def listed(a):
            return [None if not np.isfinite(v) else float(v) for v in a]

        return {
            "bin_edges": listed(self.bin_edges),
            "mean_estimated": listed(self.mean_estimated),
            "mean_true": listed(self.mean_true),
            "counts": [int(c) for c in self.counts],
            "coverage_labels": list(self.coverage_labels),
            "coverage": listed(self.coverage),
            "coverage_counts": [int(c) for c in self.coverage_counts],
            "coverage_by_estimate": listed(self.coverage_by_estimate),
            "mean_absolute_error": (
                float(self.mean_absolute_error) if np.isfinite(self.mean_absolute_error) else None
            ),
        }


def _coverage_labels() -> tuple[str, ...]:
    edges = [f"{v:g}" for v in COVERAGE_BINS]
    middle = [f"{a}–{b}" for a, b in itertools.pairwise(edges)]
    return ("0", *middle, "1")


def calibration_from_sums(sums: np.ndarray) -> FractionCalibration:
    """The calibration and coverage curves of pooled :func:`fraction_estimate_sums`.

    Parameters
    ----------
    sums : ndarray of shape (N_SUMS,)
        One specimen's sums, or the sum over several.

    Returns
    -------
    FractionCalibration
    """
    s = np.asarray(sums, dtype=np.float64)
    if s.shape != (N_SUMS,):
        raise InvalidOptionError(
            f"sums of shape {s.shape}, expected ({N_SUMS},)",
            field="sums",
            fix="give what fraction_estimate_sums returns (or a sum of them)",
        )
    cal = s[_CAL].reshape(_N_CAL, 3)
    n, se, sf = cal.T
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_e = np.where(n > 0, se / n, np.nan)
        mean_f = np.where(n > 0, sf / n, np.nan)
        cov = s[_COV].reshape(_N_COV, 2)
        coverage = np.where(cov[:, 0] > 0, cov[:, 1] / cov[:, 0], np.nan)
        by_e = s[_COV_E].reshape(_N_CAL, 2)
        coverage_by_estimate = np.where(by_e[:, 0] > 0, by_e[:, 1] / by_e[:, 0], np.nan)
    ok = n > 0
    gap = float(np.sum(n[ok] * np.abs(mean_f[ok] - mean_e[ok])) / n.sum()) if n.sum() else np.nan
    if s[_N_INTERVAL] == 0:
        coverage = np.full(_N_COV, np.nan)
        coverage_by_estimate = np.full(_N_CAL, np.nan)
    return FractionCalibration(
        bin_edges=CALIBRATION_BINS.copy(),
        mean_estimated=mean_e,
        mean_true=mean_f,
        counts=n.astype(np.int64),
        coverage_labels=_coverage_labels(),
        coverage=coverage,
        coverage_counts=cov[:, 0].astype(np.int64),
        coverage_by_estimate=coverage_by_estimate,
        mean_absolute_error=gap,
    )


def fraction_estimate_metrics(
    estimate, fraction, mask=None, *, lower=None, upper=None
) -> dict[str, float]:
    """How close an estimated tumor fraction is to the true one, over one image.

    Parameters
    ----------
    estimate : ndarray of shape (rows, cols)
        Estimated tumor fraction (e.g. :attr:`hsi_tumor.fraction.FractionMap.fraction`);
        NaN (not estimated) counts as 0 and as not covered.
    fraction : ndarray of shape (rows, cols)
        True tumor fraction in [0, 1]; pixels where it is not finite are left out.
    mask : ndarray of bool, optional
        Pixels to compare (e.g. the specimen). Default: every pixel with a finite fraction.
    lower, upper : ndarray of shape (rows, cols), optional
        The estimate's interval (e.g. ``FractionMap.lower`` and ``.upper``).

    Returns
    -------
    dict of str to float
        ``fraction_fuzzy_dice`` ``2 Σ min(e, f) / (Σ e + Σ f)``; ``fraction_area_error``
        ``(Σ e − Σ f) / Σ f``; ``fraction_mae_partial``, the mean ``|e − f|`` over the
        partial pixels (``0 < f < 1``); ``fraction_coverage`` and
        ``fraction_coverage_partial``, the share of the pixels with an interval (finite
        ``lower`` and ``upper``), and of the partial ones, whose interval covers ``f`` (NaN
        without ``lower`` and ``upper``). NaN where a ratio has nothing to divide by.

    Examples
    --------
    >>> import numpy as np
    >>> from hsi_tumor.metrics import fraction_estimate_metrics
    >>> m = fraction_estimate_metrics(np.array([[0.0, 0.4, 1.0]]), np.array([[0.0, 0.5, 1.0]]))
    >>> round(m["fraction_mae_partial"], 3), round(m["fraction_area_error"], 3)
    (0.1, -0.067)
    """
    sums = fraction_estimate_sums(estimate, fraction, mask, lower=lower, upper=upper)
    return {k: float(v) for k, v in metrics_from_fraction_estimate_sums(sums).items()}


def fraction_calibration(
    estimate, fraction, mask=None, *, lower=None, upper=None
) -> FractionCalibration:
    """Calibration curve of an estimated tumor fraction, and the coverage of its interval.

    Parameters are those of :func:`fraction_estimate_metrics`. The calibration curve bins
    the pixels by their estimated fraction (:data:`CALIBRATION_BINS`) and compares the mean
    estimate with the mean true fraction of each bin; the coverage curve bins them by their
    true fraction (:data:`COVERAGE_BINS`: pure normal, the partial bins, pure tumor) and gives
    the share whose interval covers it.

    Returns
    -------
    FractionCalibration

    Examples
    --------
    >>> import numpy as np
    >>> from hsi_tumor.metrics import fraction_calibration
    >>> c = fraction_calibration(np.array([0.05, 0.15, 0.95]), np.array([0.0, 0.3, 1.0]))
    >>> c.mean_true[:2].tolist(), c.counts.tolist()
    ([0.0, 0.3], [1, 1, 0, 0, 0, 0, 0, 0, 0, 1])
    """
    sums = fraction_estimate_sums(estimate, fraction, mask, lower=lower, upper=upper)
    return calibration_from_sums(sums)
