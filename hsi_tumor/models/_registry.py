"""The registries of named classifiers and preprocessing steps that :func:`train` builds from.

Both are plain dicts from a name to a recipe, so adding an entry is one line and nothing
dispatches on strings with if/elif::

    from hsi_tumor.models import CLASSIFIERS, PREPROCESSING
    sorted(CLASSIFIERS)    # ['hist-gradient-boosting', 'knn', 'lda', 'linear-svm', ...]
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sklearn.decomposition import PCA
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import KNeighborsClassifier
from sklearn.svm import SVC, LinearSVC

from hsi_tumor._shared.errors import InvalidOptionError
from hsi_tumor.models._pls_da import PLSDAClassifier
from hsi_tumor.preprocessing import (
    Absorbance,
    AreaNormalization,
    BadBandRemoval,
    MinMaxNormalization,
    MultiplicativeScatterCorrection,
    SavitzkyGolay,
    StandardNormalVariate,
    VectorNormalization,
    WavelengthRange,
)

__all__ = ["CLASSIFIERS", "PREPROCESSING", "ClassifierRecipe", "PreprocessingRecipe"]


def _relative_gammas(n_features: int) -> dict[str, list]:
    # on standardised features gamma = 1/n_features is scikit-learn's "scale"; search around it
    return {"gamma": [g / n_features for g in (0.03, 0.1, 0.3, 1.0, 3.0)]}


@dataclass(frozen=True)
class ClassifierRecipe:
    """How :func:`hsi_tumor.train` builds and tunes one named classifier.

    Attributes
    ----------
    make : callable
        ``make(random_state, n_jobs) -> estimator``, the unfitted scikit-learn classifier with
        the library's defaults.
    grid : dict
        Hyperparameters tuned by an inner cross-validated search (grouped by patient when
        groups are given), name → candidate values. A parameter the user fixes is not tuned.
    grid_by_features : callable, optional
        Extra candidates that depend on the number of features the classifier sees
        (e.g. RBF ``gamma`` around ``1 / n_features``).
    standardize : bool
        Put a :class:`~sklearn.preprocessing.StandardScaler` before the classifier.
    calibrate : bool
        Wrap the fitted classifier in ``CalibratedClassifierCV(ensemble=False)`` for
        probabilities (classifiers with a decision function but no probabilistic output).
    pixels_per_class : int or None
        Default bound on training pixels per class (None: all); classifiers whose training
        time grows faster than linearly have one.
    description : str
        One line for listings and reports.
    """

    make: Callable[[Any, Any], Any]
    grid: dict[str, list] = field(default_factory=dict)
    grid_by_features: Callable[[int], dict[str, list]] | None = None
    standardize: bool = False
    calibrate: bool = False
    pixels_per_class: int | None = None
    description: str = ""

    def candidates(self, n_features: int) -> dict[str, list]:
        """The full search grid for a classifier that sees ``n_features`` features."""
        grid = dict(self.grid)
        if self.grid_by_features is not None:
            grid.update(self.grid_by_features(n_features))
        if "n_components" in grid:  # PLS-DA cannot have more latent variables than features
            kept = sorted({min(int(c), n_features) for c in grid["n_components"]})
            grid["n_components"] = kept
        return grid


#: Named classifiers: ``train(..., classifier=NAME)``.
CLASSIFIERS: dict[str, ClassifierRecipe] = {
    "svm": ClassifierRecipe(
        make=lambda rs, n_jobs: SVC(kernel="rbf", class_weight="balanced", cache_size=500),
        grid={"C": [1.0, 10.0, 100.0, 1000.0]},
        grid_by_features=_relative_gammas,
        standardize=True,
        calibrate=True,
        pixels_per_class=5000,
        description="RBF support vector machine; C and gamma tuned, sigmoid-calibrated",
    ),
    "linear-svm": ClassifierRecipe(
        make=lambda rs, n_jobs: LinearSVC(class_weight="balanced", max_iter=20000, random_state=rs),
        grid={"C": [0.01, 0.1, 1.0, 10.0, 100.0]},
        standardize=True,
        calibrate=True,
        pixels_per_class=20000,
        description="linear support vector machine; C tuned, sigmoid-calibrated",
    ),
    "random-forest": ClassifierRecipe(
        make=lambda rs, n_jobs: RandomForestClassifier(
            n_estimators=200, class_weight="balanced", n_jobs=n_jobs, random_state=rs
        ),
        pixels_per_class=20000,
        description="random forest of 200 trees",
    ),
    "lda": ClassifierRecipe(
        make=lambda rs, n_jobs: LinearDiscriminantAnalysis(solver="lsqr", shrinkage="auto"),
        description="linear discriminant analysis with Ledoit–Wolf shrinkage",
    ),
    "knn": ClassifierRecipe(
        make=lambda rs, n_jobs: KNeighborsClassifier(weights="distance", n_jobs=n_jobs),
        grid={"n_neighbors": [3, 5, 9, 15, 25]},
        standardize=True,
        pixels_per_class=5000,
        description="k nearest neighbours (distance-weighted); k tuned",
    ),
    "logistic": ClassifierRecipe(
        make=lambda rs, n_jobs: LogisticRegression(
            class_weight="balanced", max_iter=5000, random_state=rs
        ),
        grid={"C": [0.01, 0.1, 1.0, 10.0, 100.0]},
        standardize=True,
        description="multinomial logistic regression; C tuned",
    ),
    "pls-da": ClassifierRecipe(
        make=lambda rs, n_jobs: PLSDAClassifier(),
        grid={"n_components": [2, 5, 10, 20, 30, 40]},
        calibrate=True,
        description="PLS discriminant analysis; latent variables tuned, sigmoid-calibrated",
    ),
    "hist-gradient-boosting": ClassifierRecipe(
        make=lambda rs, n_jobs: HistGradientBoostingClassifier(
            class_weight="balanced", random_state=rs
        ),
        pixels_per_class=50000,
        description="histogram gradient boosting (early stopping on large samples)",
    ),
}


@dataclass(frozen=True)
class PreprocessingRecipe:
    """How :func:`hsi_tumor.train` builds one named preprocessing step.

    ``make(wavelengths, random_state, **params)`` returns the unfitted transformer; steps that
    select bands get the training cubes' wavelengths.
    """

    make: Callable[..., Any]
    description: str = ""


def _pca(wavelengths, rs, **params):
    params.setdefault("n_components", 20)
    if wavelengths is not None and isinstance(params["n_components"], int):
        params["n_components"] = min(params["n_components"], np.size(wavelengths))
    params.setdefault("random_state", rs)
    return PCA(**params)


#: Named preprocessing steps: ``train(..., preprocessing=("snv", "pca"))``; a name may come
#: with parameters as a pair: ``("pca", {"n_components": 10})``.
PREPROCESSING: dict[str, PreprocessingRecipe] = {
    "absorbance": PreprocessingRecipe(lambda wl, rs, **p: Absorbance(**p), "absorbance −log10 R"),
    "snv": PreprocessingRecipe(
        lambda wl, rs, **p: StandardNormalVariate(**p), "standard normal variate"
    ),
    "msc": PreprocessingRecipe(
        lambda wl, rs, **p: MultiplicativeScatterCorrection(**p),
        "multiplicative scatter correction",
    ),
    "savgol": PreprocessingRecipe(
        lambda wl, rs, **p: SavitzkyGolay(**p), "Savitzky–Golay smoothing/derivative"
    ),
    "bad-bands": PreprocessingRecipe(
        lambda wl, rs, **p: BadBandRemoval(wavelengths=wl, **p), "remove water-absorption bands"
    ),
    "range": PreprocessingRecipe(
        lambda wl, rs, **p: WavelengthRange(wavelengths=wl, **p), "keep a wavelength range"
    ),
    "area": PreprocessingRecipe(lambda wl, rs, **p: AreaNormalization(**p), "area normalisation"),
    "vector": PreprocessingRecipe(
        lambda wl, rs, **p: VectorNormalization(**p), "vector (L2) normalisation"
    ),
    "minmax": PreprocessingRecipe(
        lambda wl, rs, **p: MinMaxNormalization(**p), "min–max normalisation"
    ),
    "pca": PreprocessingRecipe(_pca, "principal components (20 by default)"),
}


def classifier_recipe(name: str) -> ClassifierRecipe:
    """The recipe of a named classifier, or an error listing the names."""
    try:
        return CLASSIFIERS[name]
    except (KeyError, TypeError):
        raise InvalidOptionError(
            f"unknown classifier {name!r}",
            field="classifier",
            fix=f"use one of {', '.join(sorted(CLASSIFIERS))}, or pass a scikit-learn classifier",
        ) from None


def preprocessing_recipe(name: str) -> PreprocessingRecipe:
    """The recipe of a named preprocessing step, or an error listing the names."""
    try:
        return PREPROCESSING[name]
    except (KeyError, TypeError):
        raise InvalidOptionError(
            f"unknown preprocessing step {name!r}",
            field="preprocessing",
            fix=f"use one of {', '.join(sorted(PREPROCESSING))}, or pass a transformer",
        ) from None
