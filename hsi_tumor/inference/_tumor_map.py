"""TumorMap: what classify_cube returns (labels, probabilities, what was not classified)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hsi_tumor._shared.classes import class_colors, tumor_class
from hsi_tumor._shared.display import facts_table, grid_table, swatch
from hsi_tumor._shared.errors import InvalidOptionError, UnknownClassError

__all__ = ["TumorMap"]


@dataclass(eq=False)
class TumorMap:
    """Per-pixel classes and class probabilities of one cube.

    Attributes
    ----------
    labels : ndarray of shape (rows, cols)
        The class id of each pixel (the ids of the training label maps); 0 where the pixel was
        not classified (outside the mask, or invalid).
    probabilities : ndarray of shape (rows, cols, n_classes), float32, or None
        Class probabilities, columns in ``classes`` order; NaN where not classified. None when
        the model has no probabilistic output.
    classes : ndarray of shape (n_classes,)
        Class ids, in the order of the probability columns.
    class_names : dict of int to str
        Name of each class id.
    valid : ndarray of shape (rows, cols), bool
        True where the pixel was classified.
    n_masked : int
        Pixels outside the mask.
    n_invalid : int
        Pixels inside the mask that were not classified because a value is NaN/inf or flagged
        in the cube's valid mask (e.g. saturated per the calibration). They are reported, not
        guessed.
    outlier : ndarray of shape (rows, cols), bool, or None
        True where a classified pixel lies outside the model's training domain: its features
        exceed the Hotelling's T² or Q residual limit of the PCA model of the training pixels
        (:class:`~hsi_tumor.models.TrainingDomain`), so it is unlike every pixel the model
        was trained on (a material never seen in training, glare) and its label is an
        extrapolation. False where not classified. None when the model has no training
        domain (models from ``TumorModel.from_pipeline`` or older model files).
    """

    labels: np.ndarray
    probabilities: np.ndarray | None
    classes: np.ndarray
    class_names: dict[int, str]
    valid: np.ndarray
    n_masked: int = 0
    n_invalid: int = 0
    outlier: np.ndarray | None = None

    @property
    def n_outlier(self) -> int | None:
        """Classified pixels outside the training domain (None without an outlier map)."""
        if self.outlier is None:
            return None
        return int(np.count_nonzero(self.outlier & self.valid))

    @property
    def shape(self) -> tuple[int, int]:
        """(rows, cols)."""
        return self.labels.shape

    def probability(self, name_or_id: str | int) -> np.ndarray:
        """The (rows, cols) probability map of one class, by name or id (NaN where unclassified).

        Raises
        ------
        UnknownClassError
            If there is no such class (a ``KeyError``).
        InvalidOptionError
            If the model has no probabilistic output (a ``ValueError``).
        """
        if self.probabilities is None:
            raise InvalidOptionError(
                "the model has no probabilistic output (no predict_proba)",
                field="probabilities",
                fix="classify with a model that has predict_proba, or use the labels",
            )
        ids = [int(c) for c in self.classes]
        if isinstance(name_or_id, str):
            wanted = name_or_id.strip().lower()
            matches = [c for c in ids if self.class_names[c].strip().lower() == wanted]
            if not matches:
                raise UnknownClassError(
                    f"no class named {name_or_id!r}; classes: {self.class_names}",
                    field="name_or_id",
                    fix="give one of the model's class names or ids",
                )
            cid = matches[0]
        else:
            cid = int(name_or_id)
            if cid not in ids:
                raise UnknownClassError(
                    f"no class id {cid}; classes: {self.class_names}",
                    field="name_or_id",
                    fix="give one of the model's class names or ids",
                )
        return self.probabilities[..., ids.index(cid)]

    @property
    def tumor_probability(self) -> np.ndarray | None:
        """(rows, cols) probability of the tumor class (named "tumor" or "tumour", any case);
        None if there is none."""
        cid = tumor_class(self.class_names)
        if self.probabilities is None or cid is None:
            return None
        return self.probability(cid)

    @property
    def uncertainty(self) -> np.ndarray | None:
        r"""(rows, cols) normalised entropy of the class probabilities, in [0, 1].

        :math:`-\sum_k p_k \log p_k / \log K`: 0 where one class has probability 1, 1 where all
        K classes are equally likely; NaN where unclassified.
        """
        if self.probabilities is None:
            return None
        p = self.probabilities.astype(np.float64)
        with np.errstate(divide="ignore", invalid="ignore"):
            terms = np.where(p > 0, p * np.log(p), 0.0)
        entropy = -terms.sum(axis=-1) / np.log(p.shape[-1])
        entropy[~self.valid] = np.nan
        return entropy.astype(np.float32)

    def counts(self) -> dict[str, int]:
        """Classified pixels per class name."""
        ids, n = np.unique(self.labels[self.valid], return_counts=True)
        found = dict(zip(ids.tolist(), n.tolist(), strict=True))
        return {self.class_names[int(c)]: int(found.get(int(c), 0)) for c in self.classes}

    def __repr__(self) -> str:
        counts = ", ".join(f"{k}: {v}" for k, v in self.counts().items())
        outside = "" if self.outlier is None else f", {self.n_outlier} outside training domain"
        return (
            f"TumorMap({self.shape[0]}×{self.shape[1]}; {counts}; "
            f"{self.n_masked} masked, {self.n_invalid} invalid{outside})"
        )

    def _repr_html_(self) -> str:
        """The map's size, its classes (colour, id, pixels, share) and what was left out."""
        ids, n = np.unique(self.labels[self.valid], return_counts=True)
        found = dict(zip(ids.tolist(), n.tolist(), strict=True))
        total = int(self.valid.sum())
        colours = class_colors(self.classes, self.class_names)
        classes = grid_table(
            ["class", "id", "pixels", "share"],
            [
                [
                    swatch(colours[c], self.class_names[c]),
                    c,
                    found.get(c, 0),
                    f"{100 * found.get(c, 0) / total:.1f} %" if total else "–",
                ]
                for c in (int(c) for c in self.classes)
            ],
        )
        cid = tumor_class(self.class_names)
        return facts_table(
            "hsi_tumor.TumorMap",
            [
                ("shape", f"{self.shape[0]} rows x {self.shape[1]} cols"),
                ("classified", f"{total} pixels ({100 * total / max(1, self.labels.size):.1f} %)"),
                ("classes", classes),
                ("tumor class", "none named tumor" if cid is None else self.class_names[cid]),
                (
                    "probabilities",
                    "none (the model has no predict_proba)"
                    if self.probabilities is None
                    else f"{self.probabilities.dtype}, one map per class",
                ),
                ("outside the mask", f"{self.n_masked} pixels"),
                ("not classified", f"{self.n_invalid} pixels (NaN/inf or flagged invalid)"),
                (
                    "outside training domain",
                    "not known (the model has no training domain)"
                    if self.outlier is None
                    else f"{self.n_outlier} pixels "
                    f"({100 * self.n_outlier / max(1, total):.1f} % of those classified; "
                    "Hotelling's T² or Q over its limit)",
                ),
            ],
        )
