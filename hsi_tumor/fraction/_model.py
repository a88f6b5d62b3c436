"""FractionModel (what train_fraction makes) and FractionMap (what estimate_fraction returns)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from hsi_tumor._shared.display import facts_table
from hsi_tumor._shared.wavelengths import describe_grid
from hsi_tumor.fraction._conformal import IntervalCalibration

__all__ = ["INTERVAL", "METHODS", "UNCERTAINTY_VMAX", "Z90", "FractionMap", "FractionModel"]

#: The estimators :func:`~hsi_tumor.fraction.train_fraction` builds.
METHODS = ("learned", "unmixing")
#: Central probability of the interval ``[lower, upper]`` of a :class:`FractionMap`.
INTERVAL = 0.90
#: The standard normal quantile of ``(1 + INTERVAL) / 2``: ``uncertainty`` is the half-width of
#: the interval over this (a Gaussian-equivalent standard deviation).
Z90 = 1.6448536269514722
#: The largest ``uncertainty``, that of the widest interval [0, 1]: the top of a colour bar
#: that compares maps.
UNCERTAINTY_VMAX = 0.5 / Z90


@dataclass(eq=False)
class FractionModel:
    """A trained per-pixel tumor-fraction estimator.

    Made by :func:`hsi_tumor.train_fraction`, applied by :func:`hsi_tumor.estimate_fraction`,
    stored by :func:`hsi_tumor.save_model` (no code runs on load).

    Attributes
    ----------
    method : {'learned', 'unmixing'}
        The estimator (see :func:`~hsi_tumor.fraction.train_fraction`).
    wavelengths : ndarray
        Band centres (nm) the model takes.
    class_names : dict of int to str
        Classes of the training annotation; the fraction is that of ``tumor_class``.
    tumor_class : int
        The class whose area fraction is estimated.
    endmembers : ndarray of shape (n_endmembers, n_bands) or None
        Unmixing: the endmember spectra (reflectance).
    endmember_classes : ndarray of shape (n_endmembers,) or None
        Unmixing: the class of each endmember.
    estimators : dict
        Learned: ``"pca"`` (the scores of specimen-referenced SNV spectra) and the regressors
        ``"fraction"``, ``"lower"`` and ``"upper"`` (scikit-learn estimators). Unmixing:
        ``"pca"`` of the annotated reflectance spectra, for the training domain.
    context_sigma : float or None
        Learned: σ (pixels) of the neighbourhood mean added to each pixel's scores; None when
        the model uses no context.
    domain : object or None
        The training domain (:class:`~hsi_tumor.models.TrainingDomain`) for the outlier flag,
        of the scores on ``estimators["pca"]`` of the real training pixels: for unmixing the
        annotated reflectance spectra, for the learned estimator the pixels with
        partial-volume truth or the annotated pure ones (not the synthetic mixtures). None when
        unknown.
    interval_calibration : IntervalCalibration or None
        Learned: the conformal corrections of the 90 % interval per bin of the estimate,
        from regressors fitted without each training patient
        (:mod:`hsi_tumor.fraction._conformal`); None for unmixing and for a model trained on
        one patient.
    training : dict
        Training summary (JSON-compatible): targets, pixels, parameters, seeds.
    patients : tuple of str
        Patient ids of the training data.
    version : str
        hsi_tumor version that trained the model.
    """

    method: str
    wavelengths: np.ndarray
    class_names: dict[int, str]
    tumor_class: int
    endmembers: np.ndarray | None = None
    endmember_classes: np.ndarray | None = None
    estimators: dict[str, Any] = field(default_factory=dict)
    context_sigma: float | None = None
    domain: Any = None
    interval_calibration: IntervalCalibration | None = None
    training: dict[str, Any] = field(default_factory=dict)
    patients: tuple[str, ...] = ()
    version: str = ""

    @property
    def n_bands(self) -> int:
        return int(self.wavelengths.size)

    def _facts(self) -> list[tuple[str, str]]:
        facts = [
            ("method", self.method),
            ("fraction of", f"{self.class_names[self.tumor_class]} (class {self.tumor_class})"),
            ("wavelengths", describe_grid(self.wavelengths)),
            ("trained on", str(self.training.get("targets", "?"))),
            ("patients", str(len(self.patients))),
        ]
        if self.method == "unmixing" and self.endmember_classes is not None:
            counts = {
                self.class_names.get(int(c), str(c)): int(np.sum(self.endmember_classes == c))
                for c in np.unique(self.endmember_classes)
            }
            facts.append(("endmembers", ", ".join(f"{n} {k}" for k, n in counts.items())))
        if self.context_sigma:
            facts.append(("context", f"Gaussian σ {self.context_sigma:g} px"))
        if "reference_pixels" in self.training:
            facts.append(("specimen reference over", str(self.training["reference_pixels"])))
        if self.method == "learned":
            facts.append(
                (
                    "interval",
                    "90 %, conformal per bin of the estimate (held-out training patients)"
                    if self.interval_calibration is not None
                    else "90 %, the quantile regressors' own (one training patient)",
                )
            )
        facts.append(("outlier flag", "yes" if self.domain is not None else "no"))
        return facts

    def __repr__(self) -> str:
        return "FractionModel(" + "; ".join(f"{k} {v}" for k, v in self._facts()) + ")"

    def _repr_html_(self) -> str:
        return facts_table("FractionModel", self._facts())


@dataclass(eq=False)
class FractionMap:
    """Per-pixel tumor fraction, its uncertainty and the outside-the-training-domain flag.

    Attributes
    ----------
    fraction : ndarray of shape (rows, cols), float32
        Estimated fraction of each pixel's area that is tumor, in [0, 1]; NaN where not
        estimated (outside the mask, or invalid).
    uncertainty : ndarray of shape (rows, cols), float32
        A standard deviation of the estimate: ``(upper − lower) / (2 × 1.645)``, the
        standard deviation of a normal distribution with the same central 90 % interval.
        NaN where not estimated.
    lower, upper : ndarray of shape (rows, cols), float32
        The 90 % interval (:data:`INTERVAL`) around ``fraction``, clipped to [0, 1]: for the
        learned estimator the 5 % and 95 % quantile regressions, widened or narrowed per bin
        of the estimate by the model's conformal ``interval_calibration`` (set on patients
        held out in training); for unmixing ``fraction ∓ 1.645 ×`` the residual-based
        standard deviation.
    outlier : ndarray of shape (rows, cols), bool, or None
        True where the spectrum lies outside the training domain (Hotelling's T² or the Q
        residual over its limit); None when the model has no domain.
    valid : ndarray of shape (rows, cols), bool
        True where the fraction was estimated.
    method : str
        The estimator.
    n_masked, n_invalid : int
        Pixels outside the mask; pixels inside it that were not estimated (NaN/inf, flagged).
    """

    fraction: np.ndarray
    uncertainty: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    outlier: np.ndarray | None
    valid: np.ndarray
    method: str
    n_masked: int = 0
    n_invalid: int = 0

    @property
    def shape(self) -> tuple[int, int]:
        """(rows, cols)."""
        return self.fraction.shape

    @property
    def tumor_area(self) -> float:
        """Σ fraction over the estimated pixels (pixels)."""
        return float(np.nansum(self.fraction))

    def _facts(self) -> list[tuple[str, str]]:
        n = int(self.valid.sum())
        facts = [
            ("size", f"{self.shape[0]}×{self.shape[1]}"),
            ("method", self.method),
            ("estimated", f"{n} pixels ({self.n_masked} masked, {self.n_invalid} invalid)"),
            ("tumor area", f"{self.tumor_area:.1f} px"),
        ]
        if n:
            facts.append(("mean uncertainty", f"{float(np.nanmean(self.uncertainty)):.3f}"))
        if self.outlier is not None:
            facts.append(("outside the training domain", f"{int(self.outlier.sum())} pixels"))
        return facts

    def __repr__(self) -> str:
        return "FractionMap(" + "; ".join(f"{k} {v}" for k, v in self._facts()) + ")"

    def _repr_html_(self) -> str:
        return facts_table("FractionMap", self._facts())
