"""TumorModel: a fitted scikit-learn pipeline plus what is needed to apply it safely."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sklearn.exceptions import NotFittedError
from sklearn.utils.validation import check_is_fitted

from hsi_tumor._shared.classes import class_colors, class_name_map, tumor_class
from hsi_tumor._shared.display import facts_table, grid_table, swatch
from hsi_tumor._shared.errors import InvalidOptionError, InvalidTypeError
from hsi_tumor._shared.version import __version__
from hsi_tumor._shared.wavelengths import check_wavelengths, describe_grid
from hsi_tumor.models._domain import TrainingDomain

__all__ = ["TumorModel"]


@dataclass(eq=False)
class TumorModel:
    """A trained per-pixel classifier and the facts needed to apply it to new cubes.

    Made by :func:`hsi_tumor.train` (or :meth:`from_pipeline` for a pipeline fitted elsewhere),
    applied by :func:`hsi_tumor.classify_cube`, stored by :func:`hsi_tumor.save_model`.

    Attributes
    ----------
    pipeline : sklearn.pipeline.Pipeline
        The fitted pipeline: preprocessing steps, then the classifier. ``pipeline.predict`` on
        ``(n_pixels, n_bands)`` spectra returns the label ids of the training label maps and
        ``pipeline.predict_proba`` their probabilities, columns in ``pipeline.classes_`` order.
    wavelengths : ndarray or None
        Band centres (nm) the pipeline expects; None when unknown (then only the band count is
        checked).
    class_names : dict of int to str
        Name of each class id, e.g. ``{1: "normal", 2: "tumor"}``.
    preprocessing : tuple of str
        The preprocessing steps, described (e.g. ``"pca(n_components=20)"``).
    classifier : str
        The classifier's registry name, or its class name when it was given as an estimator.
    training : dict
        Training summary (JSON-compatible): pixels used per class and patient, pixels left out
        as invalid, the tuning search and its score, the cross-validation scheme, seeds, and
        ``input_range``, the 0.1–99.9 percentile range of the training spectra's values, which
        :func:`hsi_tumor.classify_cube` checks a cube against (raw counts given to a
        reflectance model are refused; models without it, e.g. from older files or
        :meth:`from_pipeline`, are not checked), and ``class_spectra``, the mean and SD of
        each class's training spectra (``{name: {"n", "mean", "sd"}}``, on ``wavelengths``;
        absent from older model files).
    patients : tuple of str
        Patient ids (``groups``) of the training data, for honest evaluation later: a cube of
        one of these patients is not an independent test.
    version : str
        hsi_tumor version that trained the model.
    domain : TrainingDomain or None
        The training domain: a PCA model of the features the classifier saw in training
        (the spectra after the pipeline's preprocessing steps) with Hotelling's T² and Q
        limits, from which :func:`hsi_tumor.classify_cube` flags pixels unlike any training
        pixel (``TumorMap.outlier``). None for models from :meth:`from_pipeline` and from
        files written before hsi_tumor had it: their maps have no outlier flag.
    """

    pipeline: Any
    wavelengths: np.ndarray | None
    class_names: dict[int, str]
    preprocessing: tuple[str, ...] = ()
    classifier: str = ""
    training: dict[str, Any] = field(default_factory=dict)
    patients: tuple[str, ...] = ()
    version: str = ""
    domain: TrainingDomain | None = None

    def __post_init__(self) -> None:
        try:
            check_is_fitted(self.pipeline)
        except TypeError as exc:  # not an estimator at all
            raise InvalidTypeError(
                f"the pipeline is not a fitted scikit-learn estimator ({exc})",
                field="pipeline",
                fix="fit it first, or use hsi_tumor.train",
            ) from None
        except NotFittedError as exc:
            raise InvalidOptionError(
                f"the pipeline is not a fitted scikit-learn estimator ({exc})",
                field="pipeline",
                fix="fit it first, or use hsi_tumor.train",
            ) from None
        classes = getattr(self.pipeline, "classes_", None)
        if classes is None:
            raise InvalidTypeError(
                "the pipeline has no classes_: it is not a classifier",
                field="pipeline",
                fix="end the pipeline with a scikit-learn classifier",
            )
        if self.wavelengths is not None:
            n_in = getattr(self.pipeline, "n_features_in_", None)
            n = n_in if n_in is not None else np.size(self.wavelengths)
            self.wavelengths = check_wavelengths(self.wavelengths, n, field="wavelengths")
        self.class_names = class_name_map(self.class_names, classes)
        if not self.version:
            self.version = __version__
        if self.domain is not None:
            self._check_domain()

    def _check_domain(self) -> None:
        if not isinstance(self.domain, TrainingDomain):
            raise InvalidTypeError(
                f"domain is a {type(self.domain).__name__}, not a TrainingDomain",
                field="domain",
                fix="give a TrainingDomain fitted on the pipeline's features, or None",
            )
        try:
            check_is_fitted(self.domain)
        except NotFittedError:
            raise InvalidOptionError(
                "the TrainingDomain is not fitted",
                field="domain",
                fix="fit it on the training spectra as the pipeline's preprocessing "
                "transforms them (pipeline[:-1].transform(X)), or give None",
            ) from None
        final = self.pipeline[-1] if hasattr(self.pipeline, "steps") else self.pipeline
        n = getattr(final, "n_features_in_", None)
        if n is not None and int(n) != int(self.domain.n_features_in_):
            raise InvalidOptionError(
                f"the TrainingDomain takes {self.domain.n_features_in_} features, the "
                f"classifier {int(n)}",
                field="domain",
                fix="fit it on the training spectra as the pipeline's preprocessing "
                "transforms them (pipeline[:-1].transform(X)), or give None",
            )

    @classmethod
    def from_pipeline(
        cls,
        pipeline,
        *,
        wavelengths=None,
        class_names=None,
    ) -> TumorModel:
        """Wrap a classifier or Pipeline fitted elsewhere (labels must be integer class ids).

        Parameters
        ----------
        pipeline : fitted scikit-learn classifier or Pipeline
            Takes ``(n_pixels, n_bands)`` spectra.
        wavelengths : array-like, optional
            Band centres (nm) it was fitted on; without them, cubes are only checked for their
            band count.
        class_names : mapping or sequence, optional
            Names of the class ids.

        Returns
        -------
        TumorModel
        """
        classes = getattr(pipeline, "classes_", None)
        if classes is not None and np.asarray(classes).dtype.kind not in "iu":
            raise InvalidOptionError(
                f"the classifier's classes are {np.asarray(classes)!r}, not integer label ids",
                field="pipeline",
                fix="fit it on the integer ids of the label maps (0 = unlabelled, not a class)",
            )
        name = type(pipeline[-1] if hasattr(pipeline, "steps") else pipeline).__name__
        return cls(pipeline, wavelengths, class_names, classifier=name)

    @property
    def classes(self) -> np.ndarray:
        """Class ids in the order of the probability columns."""
        return np.asarray(self.pipeline.classes_)

    @property
    def n_bands(self) -> int:
        """Number of bands the pipeline takes."""
        n = getattr(self.pipeline, "n_features_in_", None)
        return int(n if n is not None else np.size(self.wavelengths))

    @property
    def tumor_class(self) -> int | None:
        """The id of the tumor class ("tumor" or "tumour", any case; see
        :func:`hsi_tumor._shared.classes.tumor_class`), or None."""
        return tumor_class(self.class_names)

    @property
    def has_probabilities(self) -> bool:
        """Whether the pipeline gives class probabilities (``predict_proba``)."""
        return hasattr(self.pipeline, "predict_proba")

    def __repr__(self) -> str:
        names = ", ".join(f"{k}={v!r}" for k, v in self.class_names.items())
        steps = " → ".join([*self.preprocessing, self.classifier or "classifier"])
        return (
            f"TumorModel({steps}; classes {names}; {describe_grid(self.wavelengths)}; "
            f"{len(self.patients)} patients; hsi_tumor {self.version})"
        )

    def _repr_html_(self) -> str:
        """The classifier and its tuning, preprocessing, classes (colour, id, training
        pixels), wavelengths, probabilities, patients and version."""
        info = self.training
        tuning = info.get("tuning") or {}
        classifier = self.classifier or type(self.pipeline).__name__
        if tuning:
            params = ", ".join(f"{k}={v}" for k, v in tuning.get("best_params", {}).items())
            classifier += (
                f", tuned: {params} (balanced accuracy {tuning.get('best_score', float('nan')):.3f}"
                f", {tuning.get('cv', '')})"
            )
        pixels = info.get("pixels", {})
        colours = class_colors(self.classes, self.class_names)
        classes = grid_table(
            ["class", "id", "training pixels"],
            [
                [
                    swatch(colours[c], self.class_names[c]),
                    c,
                    sum(pixels.get(self.class_names[c], {}).values()) if pixels else "–",
                ]
                for c in (int(c) for c in self.classes)
            ],
        )
        calibration = info.get("calibration")
        probabilities = "no (labels only)"
        if self.has_probabilities:
            probabilities = "yes" + (
                f" (calibrated: {calibration['method']}, {calibration['cv']})"
                if calibration
                else ""
            )
        patients = ", ".join(self.patients[:12]) + (" ..." if len(self.patients) > 12 else "")
        rows = [
            ("classifier", classifier),
            ("preprocessing", " → ".join(self.preprocessing) or "none"),
            ("classes", classes),
            ("wavelengths", describe_grid(self.wavelengths)),
            ("probabilities", probabilities),
            ("patients", f"{len(self.patients)}" + (f" ({patients})" if patients else "")),
        ]
        if "n_pixels" in info:
            rows.append(
                (
                    "training",
                    f"{info['n_pixels']} pixels, random_state={info.get('random_state')}"
                    + (
                        f", {info['invalid_left_out']} invalid labelled pixels left out"
                        if info.get("invalid_left_out")
                        else ""
                    ),
                )
            )
        domain = self.domain
        rows.append(
            (
                "training domain",
                "none (no outlier flag)"
                if domain is None
                else f"{domain.n_components_} principal components of the classifier's "
                f"features; T² ≤ {domain.t2_limit_:.4g} and Q ≤ {domain.q_limit_:.4g} "
                f"(confidence {domain.confidence:g} for both together)",
            )
        )
        rows.append(("hsi_tumor", self.version))
        return facts_table("hsi_tumor.TumorModel", rows)
