"""train: annotated cubes of several patients → a fitted, tuned, calibrated TumorModel."""

from __future__ import annotations

import logging
import os
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import sklearn
from sklearn.base import clone, is_classifier
from sklearn.calibration import CalibratedClassifierCV
from sklearn.metrics import get_scorer
from sklearn.model_selection import (
    GridSearchCV,
    ParameterGrid,
    StratifiedGroupKFold,
    StratifiedKFold,
)
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils._param_validation import InvalidParameterError as SklearnInvalidParameterError

from hsi_tumor._shared.arrays import materialize, rows_per_tile
from hsi_tumor._shared.classes import check_label_map, class_name_map
from hsi_tumor._shared.errors import (
    CalibrationWarning,
    InvalidOptionError,
    InvalidParameterError,
    InvalidTypeError,
    TrainingDataError,
)
from hsi_tumor._shared.progress import progress_bar
from hsi_tumor._shared.tiles import blas_controller
from hsi_tumor._shared.version import __version__
from hsi_tumor._shared.wavelengths import match_wavelengths
from hsi_tumor.calibration._inputs import as_cube
from hsi_tumor.cube import Cube
from hsi_tumor.models._domain import TrainingDomain
from hsi_tumor.models._model import TumorModel
from hsi_tumor.models._persistence import jsonable
from hsi_tumor.models._registry import (
    ClassifierRecipe,
    classifier_recipe,
    preprocessing_recipe,
)
from hsi_tumor.specimen import Specimen, class_names_of

logger = logging.getLogger("hsi_tumor.models")

__all__ = [
    "DEFAULT_PREPROCESSING",
    "TUNING_PIXELS_PER_CLASS",
    "build_pipeline",
    "input_range",
    "train",
    "training_domain",
]

#: Preprocessing when none is given (and the classifier is not a Pipeline of its own).
DEFAULT_PREPROCESSING = ("snv", "pca")
#: Training pixels per class used by the hyperparameter search (the final fit uses all).
TUNING_PIXELS_PER_CLASS = 1000
#: Folds of the inner searches and of the probability calibration.
INNER_FOLDS = 3


def _as_cubes(cubes) -> list[Cube]:
    if isinstance(cubes, (Cube, str, os.PathLike)):
        cubes = [cubes]
    out = [as_cube(cube, field=f"cubes[{i}]") for i, cube in enumerate(cubes)]
    if not out:
        raise TrainingDataError("no cubes given", field="cubes", fix="give at least one cube")
    return out


def _unpack_specimens(cubes, label_maps, groups):
    """``(cubes, label_maps, groups, class_names)``: those of the Specimens given as ``cubes``,
    if any (``class_names`` the names they carry, or None)."""
    items = [cubes] if isinstance(cubes, Specimen) else cubes
    if isinstance(items, (Cube, str, os.PathLike)) or not isinstance(items, Sequence):
        return cubes, label_maps, groups, None
    kinds = [isinstance(item, Specimen) for item in items]
    if not any(kinds):
        return cubes, label_maps, groups, None
    if not all(kinds):
        first = kinds.index(False)
        raise InvalidOptionError(
            f"cubes mixes Specimens and other things (cubes[{first}] is a "
            f"{type(items[first]).__name__})",
            field="cubes",
            fix="give only Specimens, or only cubes with label_maps and groups",
        )
    for name, value in (("label_maps", label_maps), ("groups", groups)):
        if value is not None:
            raise InvalidOptionError(
                f"{name} given with Specimens, which carry their own "
                + ("labels" if name == "label_maps" else "patient ids (Specimen.patient)"),
                field=name,
                fix=f"leave {name} out, or give cubes instead of Specimens",
            )
    return (
        [s.cube for s in items],
        [s.labels for s in items],
        [s.patient for s in items],
        class_names_of(items),
    )


def _as_label_maps(label_maps, cubes: list[Cube]) -> list[np.ndarray]:
    if label_maps is None:
        raise TrainingDataError(
            "no label_maps given for the cubes",
            field="label_maps",
            fix="give one (rows, cols) label map per cube, or give Specimens (hsi_tumor.Specimen)",
        )
    if isinstance(label_maps, np.ndarray) and label_maps.ndim == 2:
        label_maps = [label_maps]
    maps = list(label_maps)
    if len(maps) != len(cubes):
        raise TrainingDataError(
            f"{len(maps)} label maps for {len(cubes)} cubes",
            field="label_maps",
            fix="give one (rows, cols) label map per cube, in the same order",
        )
    return [
        check_label_map(
            labels, shape=cube.shape[:2], field=f"label_maps[{i}]", error=TrainingDataError
        )
        for i, (labels, cube) in enumerate(zip(maps, cubes, strict=True))
    ]


def _patients(groups, n_cubes: int) -> list[str] | None:
    if groups is None:
        return None
    if isinstance(groups, (str, bytes)):
        groups = [groups]
    groups = [str(g) for g in groups]
    if len(groups) != n_cubes:
        raise TrainingDataError(
            f"{len(groups)} patient ids (groups) for {n_cubes} cubes",
            field="groups",
            fix="give one patient id per cube",
        )
    return groups


def _quota(counts: np.ndarray, budget: int) -> np.ndarray:
    """Pixels to take from each patient: as equal as possible, ``budget`` in all."""
    take = np.zeros_like(counts)
    left = budget
    order = np.argsort(counts, kind="stable")
    for k, i in enumerate(order):  # smallest first; each gets an equal share of what is left
        share = left // (len(order) - k)
        take[i] = min(counts[i], share)
        left -= take[i]
    # what integer division left over goes to the patients with pixels to spare
    for i in order[::-1]:
        if left == 0:
            break
        extra = min(left, counts[i] - take[i])
        take[i] += extra
        left -= extra
    return take


def _sample(
    maps: list[np.ndarray],
    units: list[str],
    classes: np.ndarray,
    budget: int | None,
    rng: np.random.Generator,
) -> tuple[list[np.ndarray], dict[int, dict[str, int]]]:
    """Flat pixel indices per cube, balanced over patients within each class."""
    chosen: list[list[np.ndarray]] = [[] for _ in maps]
    available: dict[int, dict[str, int]] = {}
    unit_names = sorted(set(units))
    for c in classes:
        pools = {u: [] for u in unit_names}
        for i, labels in enumerate(maps):
            idx = np.flatnonzero(labels.reshape(-1) == c)
            if idx.size:
                pools[units[i]].append((i, idx))
        counts = np.array([sum(p[1].size for p in pools[u]) for u in unit_names])
        available[int(c)] = {u: int(n) for u, n in zip(unit_names, counts, strict=True) if n}
        take = counts if budget is None or counts.sum() <= budget else _quota(counts, budget)
        for u, n in zip(unit_names, take, strict=True):
            if n == 0:
                continue
            cube_of = np.concatenate([np.full(idx.size, i) for i, idx in pools[u]])
            flat = np.concatenate([idx for _, idx in pools[u]])
            pick = rng.choice(flat.size, size=int(n), replace=False)
            for i in np.unique(cube_of[pick]):
                chosen[i].append(flat[pick[cube_of[pick] == i]])
    return [np.sort(np.concatenate(c)) if c else np.zeros(0, np.int64) for c in chosen], available


def _blocks(cube: Cube, flat: np.ndarray):
    """Yield ``(positions, spectra)``: the spectra (float64) of ``flat`` pixels, tile by tile."""
    rows, cols = np.divmod(flat, cube.n_cols)
    if isinstance(cube.data, np.ndarray):
        yield np.arange(flat.size), np.asarray(cube.data[rows, cols], dtype=np.float64)
        return
    tile_rows = rows_per_tile(cube.shape, cube.dtype.itemsize)
    for start in range(0, cube.n_rows, tile_rows):
        inside = np.flatnonzero((rows >= start) & (rows < start + tile_rows))
        if inside.size:
            block = materialize(cube.data[start : start + tile_rows])
            yield inside, block[rows[inside] - start, cols[inside]].astype(np.float64)


def _valid(cube: Cube, flat: np.ndarray, index: int) -> np.ndarray:
    """Whether each of the ``flat`` pixels is valid (finite and not flagged in ``cube.valid``).

    Non-finite values that ``cube.valid`` (or a calibration's NaN convention) accounts for are
    invalid; any other non-finite value is an error.
    """
    ok = np.ones(flat.size, dtype=bool)
    flagged = np.zeros(flat.size, dtype=bool)
    flags = cube.valid
    nan_flags = flags is not None and getattr(flags, "finite_means_valid", False)
    if flags is not None and not nan_flags:
        flags = np.asarray(flags)
        flags = flags.all(axis=2) if flags.ndim == 3 else flags
        flagged = ~flags.reshape(-1)[flat]
    for inside, spectra in _blocks(cube, flat):
        finite = np.isfinite(spectra).all(axis=1)
        ok[inside] = finite & ~flagged[inside]
        unexplained = ~finite & ~flagged[inside] & (not nan_flags)
        if unexplained.any():
            r, c = divmod(int(flat[inside[unexplained][0]]), cube.n_cols)
            raise TrainingDataError(
                f"cubes[{index}] has NaN or inf in {int(unexplained.sum())} labelled pixels "
                f"(first at row {r}, column {c})",
                field="cubes",
                fix="set those pixels to 0 in the label map, or mark them in the Cube's valid mask",
            )
    return ok


def _read_pixels(cube: Cube, flat: np.ndarray) -> np.ndarray:
    """The spectra (float64) of the ``flat`` pixels."""
    spectra = np.empty((flat.size, cube.n_bands), dtype=np.float64)
    for inside, block in _blocks(cube, flat):
        spectra[inside] = block
    return spectra


def _describe_step(name: str, params: dict) -> str:
    if not params:
        return name
    return f"{name}({', '.join(f'{k}={v!r}' for k, v in params.items())})"


def _preprocessing_steps(preprocessing, wavelengths, seed) -> tuple[list, list[str]]:
    steps, described, names = [], [], set()
    for item in preprocessing:
        params: dict = {}
        if isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], str):
            item, params = item[0], dict(item[1])
        if isinstance(item, str):
            transformer = _make_step(item, params, wavelengths, seed)
            name = item
            described.append(_describe_step(item, params))
        elif hasattr(item, "fit") and hasattr(item, "transform"):
            transformer = clone(item)
            name = type(item).__name__.lower()
            described.append(repr(item))
        else:
            raise InvalidTypeError(
                f"preprocessing step {item!r} is neither a name nor a transformer",
                field="preprocessing",
                fix="give names such as 'snv', ('pca', {'n_components': 10}) or transformers",
            )
        while name in names:
            name += "_"
        names.add(name)
        steps.append((name, transformer))
    return steps, described


def _make_step(name: str, params: dict, wavelengths, seed):
    """The named preprocessing step with ``params``; a parameter it lacks is an option error."""
    recipe = preprocessing_recipe(name)
    try:
        return recipe.make(wavelengths, seed, **params)
    except TypeError as exc:  # an unexpected keyword argument
        known = sorted(recipe.make(wavelengths, seed).get_params(deep=False))
        unknown = sorted(set(params) - set(known)) or sorted(params)
        raise InvalidOptionError(
            f"preprocessing step {name!r} has no parameter {', '.join(map(repr, unknown))} ({exc})",
            field="preprocessing",
            fix=f"the parameters of {name!r} are: {', '.join(known) or 'none'}",
        ) from None


def _check_parameters(pipeline: Pipeline) -> None:
    """Check every step's parameters against its declared constraints (scikit-learn's
    ``_parameter_constraints``) before any data is read: a bad value fails at once, named."""
    for name, step in pipeline.steps:
        validate = getattr(step, "_validate_params", None)
        if validate is None or not hasattr(step, "_parameter_constraints"):
            continue  # a BaseEstimator without declared constraints: nothing to check
        try:
            validate()
        except InvalidParameterError:
            raise
        except SklearnInvalidParameterError as exc:
            field = "classifier_params" if name == "classifier" else "preprocessing"
            raise InvalidParameterError(
                str(exc),
                field=field,
                fix="give a value of the kind the message names"
                + (f" (step {name!r})" if field == "preprocessing" else ""),
            ) from None


def build_pipeline(
    classifier: str | Any = "svm",
    classifier_params: dict[str, Any] | None = None,
    preprocessing: Sequence | None = None,
    *,
    wavelengths=None,
    random_state: int = 0,
    n_jobs: int | None = None,
):
    """The unfitted pipeline :func:`train` fits, every parameter checked; no data is read.

    ``train`` and ``compare`` call it before reading any pixel, and the ``hsi-tumor`` command
    before reading a manifest, so a bad classifier, step or parameter fails at once.

    Parameters
    ----------
    classifier, classifier_params, preprocessing, random_state, n_jobs
        As in :func:`train`.
    wavelengths : ndarray, optional
        The training cubes' wavelengths (steps that select bands need them; None to check
        the options alone).

    Returns
    -------
    pipeline : sklearn.pipeline.Pipeline
        Preprocessing steps, a scaler where the classifier wants one, then ``"classifier"``.
    recipe : ClassifierRecipe or None
        The named classifier's recipe (None for an estimator).
    classifier_name : str
    described : list of str
        The preprocessing steps, described.

    Raises
    ------
    InvalidOptionError
        An unknown classifier or step name, a parameter a step or the classifier does not
        have, or a value its constraints refuse (:class:`~hsi_tumor.InvalidParameterError`,
        field ``classifier_params`` or ``preprocessing``).
    """
    seed = int(random_state)
    estimator, recipe, clf_name = _classifier(classifier, classifier_params, seed, n_jobs)
    if preprocessing is None:
        preprocessing = () if isinstance(estimator, Pipeline) else DEFAULT_PREPROCESSING
    steps, described = _preprocessing_steps(preprocessing, wavelengths, seed)
    if recipe is not None and recipe.standardize:
        steps.append(("scale", StandardScaler()))
    if isinstance(estimator, Pipeline):
        steps.extend(estimator.steps[:-1])
        described.extend(repr(s) for _, s in estimator.steps[:-1])
        estimator = estimator.steps[-1][1]
    pipeline = Pipeline([*steps, ("classifier", estimator)])
    _check_parameters(pipeline)
    return pipeline, recipe, clf_name, described


def class_spectra(X: np.ndarray, y: np.ndarray, names: dict[int, str]) -> dict[str, dict]:
    """Mean and standard deviation of each class's training spectra (the pipeline's input, on
    the model's wavelengths), recorded as ``training["class_spectra"]``: ``{name: {"n": pixels,
    "mean": [...], "sd": [...]}}``, so that a model file can show what its classes look like
    (the napari spectrum panel draws them beside a pixel's spectrum).

    Of the pixels actually used (after ``max_pixels_per_class``); non-finite values are left
    out of the statistics (there are none after the training set's validity check).
    """
    out: dict[str, dict] = {}
    for cid, name in names.items():
        spectra = X[y == cid]
        if spectra.shape[0] == 0:
            continue
        mean = np.nanmean(spectra, axis=0, dtype=np.float64)
        sd = np.nanstd(spectra, axis=0, ddof=1 if spectra.shape[0] > 1 else 0, dtype=np.float64)
        out[name] = {"n": int(spectra.shape[0]), "mean": mean.tolist(), "sd": sd.tolist()}
    return out


def input_range(X: np.ndarray) -> list[float]:
    """The range of the values a model was trained on: the 0.1 and 99.9 percentiles of the
    training spectra (at most about 20,000 of them), recorded as ``training["input_range"]``.

    :func:`hsi_tumor.classify_cube` compares a cube with it, so that raw camera counts (or
    reflectance in percent) given to a model trained on reflectance fail with a clear message
    instead of a plausible-looking but meaningless map.
    """
    step = max(1, X.shape[0] // 20000)
    values = X[::step]
    values = values[np.isfinite(values)]
    if values.size == 0:
        return []
    lo, hi = np.percentile(values, [0.1, 99.9])
    return [float(lo), float(hi)]


def _splitter(y: np.ndarray, groups: np.ndarray | None, seed: int, n_folds: int = INNER_FOLDS):
    """The inner cross-validation: by patient when every class has ≥ 2 patients."""
    if groups is not None:
        per_class = [np.unique(groups[y == c]).size for c in np.unique(y)]
        if min(per_class) >= 2:
            k = min(n_folds, min(per_class))
            return StratifiedGroupKFold(k, shuffle=True, random_state=seed), f"{k} folds by patient"
        logger.warning(
            "a class occurs in only one patient: inner cross-validation splits pixels, "
            "which is optimistic for tuning and calibration"
        )
    k = int(min(n_folds, np.bincount(np.unique(y, return_inverse=True)[1]).min()))
    if k < 2:
        raise TrainingDataError(
            "a class has a single training pixel",
            field="label_maps",
            fix="label more pixels of every class",
        )
    return StratifiedKFold(k, shuffle=True, random_state=seed), f"{k} stratified pixel folds"


def _check_components(pipeline: Pipeline, n_pixels: int, where: str) -> None:
    """Refuse steps that ask for more components than the pixels a fit sees: scikit-learn's
    own ValueError (e.g. PCA's "n_components=20 must be between 0 and ...") names neither the
    labelled pixels nor the fix."""
    for name, step in pipeline.steps[:-1]:
        wanted = getattr(step, "n_components", None)
        if isinstance(wanted, (int, np.integer)) and not isinstance(wanted, bool):
            if wanted > n_pixels:
                raise TrainingDataError(
                    f"preprocessing step {name!r} asks for n_components={int(wanted)} but "
                    f"{where} has only {n_pixels} training pixels",
                    field="label_maps",
                    fix=f"label more pixels of every class, or give {name!r} at most "
                    f"{max(n_pixels, 1)} components, e.g. preprocessing=('snv', "
                    f"('{name}', {{'n_components': {max(min(n_pixels // 2, 5), 1)}}}))",
                )


def _subsample(y: np.ndarray, per_class: int, rng: np.random.Generator) -> np.ndarray:
    keep = []
    for c in np.unique(y):
        idx = np.flatnonzero(y == c)
        keep.append(idx if idx.size <= per_class else rng.choice(idx, per_class, replace=False))
    return np.sort(np.concatenate(keep))


class _CountingScorer:
    """Balanced accuracy that advances a progress bar by one fit each time it scores.

    The search calls its scorer once per fit (on the test split), so a bar over the fits
    follows the search without changing how it runs. A copy sent to a worker process (the
    search's ``n_jobs > 1``) counts nothing: the bar then catches up when the search ends.
    """

    def __init__(self, bar) -> None:
        self.bar = bar
        self.score = get_scorer("balanced_accuracy")

    def __call__(self, estimator, X, y) -> float:
        try:
            return self.score(estimator, X, y)
        finally:
            if self.bar is not None:
                self.bar.update()

    def __getstate__(self) -> dict:
        return {**self.__dict__, "bar": None}


def _tune(pipeline, grid, Xs, ys, splits, cv_text, n_jobs, bar) -> dict[str, Any]:
    """Grid search on the class-balanced subsample ``Xs, ys`` over ``splits``; sets the best
    parameters on ``pipeline``; one step of ``bar`` per fit."""
    done = bar.n + len(ParameterGrid(grid)) * len(splits)
    search = GridSearchCV(
        pipeline,
        {f"classifier__{k}": v for k, v in grid.items()},
        scoring=_CountingScorer(bar),
        cv=splits,
        n_jobs=n_jobs,
        refit=False,
    )
    search.fit(Xs, ys)
    bar.update(done - bar.n)  # fits that failed, or ran in other processes
    best = {k.removeprefix("classifier__"): v for k, v in search.best_params_.items()}
    pipeline.set_params(**{f"classifier__{k}": v for k, v in best.items()})
    logger.info("tuned %s: balanced accuracy %.3f (%s)", best, search.best_score_, cv_text)
    return {
        "grid": {k: [jsonable(v) for v in vs] for k, vs in grid.items()},
        "best_params": {k: jsonable(v) for k, v in best.items()},
        "best_score": float(search.best_score_),
        "scoring": "balanced_accuracy",
        "cv": cv_text,
        "pixels": int(ys.size),
    }


def _classifier(classifier, classifier_params, seed, n_jobs):
    """(estimator, recipe or None, name) for a registry name or a scikit-learn estimator."""
    if isinstance(classifier, str):
        recipe = classifier_recipe(classifier)
        estimator = recipe.make(seed, n_jobs)
        name = classifier
    elif is_classifier(classifier) or isinstance(classifier, Pipeline):
        recipe, estimator = None, clone(classifier)
        name = type(classifier).__name__
    else:
        raise InvalidTypeError(
            f"classifier {classifier!r} is neither a registry name nor a scikit-learn classifier",
            field="classifier",
            fix="give a name such as 'svm' or an estimator such as SVC()",
        )
    if classifier_params:
        try:
            estimator.set_params(**classifier_params)
        except ValueError as exc:
            raise InvalidOptionError(
                str(exc), field="classifier_params", fix=f"use parameters of {name}"
            ) from None
    return estimator, recipe, name


def train(
    cubes: Cube | Specimen | str | os.PathLike | Sequence[Cube | Specimen | str | os.PathLike],
    label_maps: np.ndarray | Sequence[np.ndarray] | None = None,
    *,
    classifier: str | Any = "svm",
    classifier_params: dict[str, Any] | None = None,
    preprocessing: Sequence | None = None,
    class_names=None,
    groups: Sequence | None = None,
    max_pixels_per_class: int | None = None,
    resample: bool = False,
    random_state: int | None = None,
    n_jobs: int | None = None,
    progress: bool = True,
) -> TumorModel:
    """Train a per-pixel classifier on annotated cubes of several patients.

    Parameters
    ----------
    cubes : Cube, path, Specimen, or sequence of them
        Calibrated cubes (reflectance or absorbance), one per specimen. A Specim capture
        folder is calibrated to reflectance, any other path is read with
        :func:`hsi_tumor.read_cube` (:func:`hsi_tumor.calibration.as_cube`). Or
        :class:`~hsi_tumor.Specimen` objects (all of them): their ``cube``, ``labels`` and
        ``patient`` are the cubes, label maps and groups, and ``label_maps`` and ``groups``
        must then be left out.
    label_maps : ndarray or sequence of ndarray, optional
        One (rows, cols) integer map per cube: 0 = unlabelled, other values are class ids
        (e.g. 1 = normal, 2 = tumor). The model predicts these ids. Required with cubes,
        refused with Specimens.
    classifier : str or scikit-learn classifier, default="svm"
        A name from :data:`hsi_tumor.models.CLASSIFIERS` ("svm", "linear-svm",
        "random-forest", "lda", "knn", "logistic", "pls-da", "hist-gradient-boosting"), or any
        unfitted scikit-learn classifier or Pipeline (it is cloned, fitted as given, and
        wrapped in ``CalibratedClassifierCV(ensemble=False)`` when it has a decision function
        but no ``predict_proba``).
    classifier_params : dict, optional
        Parameters set on the classifier (``set_params``), e.g. ``{"C": 100}``. A parameter
        given here is not tuned.
    preprocessing : sequence, optional
        Steps before the classifier: names from :data:`hsi_tumor.models.PREPROCESSING`, pairs
        ``(name, params)`` such as ``("pca", {"n_components": 10})``, or transformers.
        Default ``("snv", "pca")`` (PCA with 20 components), or none when ``classifier`` is a
        Pipeline.
    class_names : mapping or sequence, optional
        ``{id: name}``, or one name per class id in ascending order. Name the tumor class
        ``"tumor"`` for :attr:`TumorMap.tumor_probability`. Default: the Specimens'
        ``class_names`` (simulated specimens carry ``{1: "normal", 2: "tumor"}``), else the
        ids as text.
    groups : sequence, optional
        Patient id of each cube. Training pixels are then balanced over patients, and the
        hyperparameter search and the probability calibration split by patient (never the
        pixels of one patient on both sides). Kept in the model (``model.patients``). With
        Specimens, their ``patient`` attributes.
    max_pixels_per_class : int, optional
        Bound on training pixels per class, drawn as evenly as possible from each patient
        (from each cube when no groups are given). Default: the classifier's own bound (5,000
        for the RBF SVM and k-NN, whose cost grows faster than linearly; see
        :data:`~hsi_tumor.models.CLASSIFIERS`), else all labelled pixels.
    resample : bool, default=False
        Interpolate cubes whose wavelengths differ from the first cube's onto its grid
        (linearly, within the measured range) instead of raising.
    random_state : int, optional
        Seed of the pixel sampling, the search folds and the estimators. When None, a seed is
        drawn and recorded in ``model.training["random_state"]``, so the run can be repeated.
    n_jobs : int, optional
        Parallel jobs of the search and of classifiers that have ``n_jobs``.
    progress : bool, default=True
        A progress bar over the fits (tqdm: on stderr, or a widget in a notebook): those of
        the hyperparameter search (candidates x folds), of the probability calibration, and
        the final fit. Shown once the call has run a second; False writes nothing.

    Returns
    -------
    TumorModel
        The fitted pipeline with its wavelengths, class names, preprocessing description,
        training summary (``model.training``), patient ids and training domain
        (``model.domain``, a :class:`~hsi_tumor.models.TrainingDomain` of the training pixels'
        features, from which :func:`hsi_tumor.classify_cube` flags pixels outside it).

    Warns
    -----
    CalibrationWarning
        Once, with their number, when labelled pixels are invalid (NaN or flagged in
        ``cube.valid``: saturated, unusable references) and so left out
        (``model.training["invalid_left_out"]``).

    Raises
    ------
    TrainingDataError
        No labelled pixel, a single class, a label map whose shape differs from its cube's,
        labelled pixels with NaN/inf that no valid mask accounts for, fewer patient ids than
        cubes, cubes without ``label_maps``.
    WavelengthError
        Cubes with different wavelengths (unless ``resample=True``).
    InvalidOptionError
        Unknown classifier or preprocessing names, bad parameters; ``label_maps`` or
        ``groups`` given with Specimens, or Specimens mixed with cubes
        (:class:`~hsi_tumor.InvalidTypeError`, a subclass, for a cube, classifier or step of the
        wrong type).

    Notes
    -----
    Named classifiers are tuned unless their parameters are fixed: a grid search (balanced
    accuracy, 3 folds by patient when ``groups`` has ≥ 2 patients per class, else stratified
    pixel folds) on at most :data:`TUNING_PIXELS_PER_CLASS` pixels per class picks e.g. the
    SVM's ``C`` and ``gamma``; the final fit uses every sampled pixel. The RBF SVM standardises
    its input and gets probabilities from a sigmoid fitted on cross-validated decision values
    (``CalibratedClassifierCV(SVC(), ensemble=False)``, folds by patient), since scikit-learn
    1.9 deprecates ``SVC(probability=True)``. Preprocessing is fitted on the training pixels
    only.

    Examples
    --------
    >>> import hsi_tumor as ht
    >>> spec = ht.simulate_specimen(seed=0, shape=(40, 48), n_bands=40)
    >>> model = ht.train(spec.cube, spec.labels, classifier="lda",
    ...                  class_names={1: "normal", 2: "tumor"}, random_state=0)
    >>> model.class_names
    {1: 'normal', 2: 'tumor'}
    """
    cubes, label_maps, groups, carried = _unpack_specimens(cubes, label_maps, groups)
    cubes = _as_cubes(cubes)
    maps = _as_label_maps(label_maps, cubes)
    patients = _patients(groups, len(cubes))
    if random_state is None:
        random_state = int(np.random.default_rng().integers(2**31 - 1))
    seed = int(random_state)
    rng = np.random.default_rng(seed)

    reference = cubes[0].wavelengths
    resamplers = _resamplers(cubes, resample)
    classes = _classes(maps)
    if class_names is None and carried is not None:  # the Specimens' own names
        class_names = {int(c): carried.get(int(c), str(c)) for c in classes}
    names = class_name_map(class_names, classes)

    pipeline, recipe, clf_name, described = build_pipeline(
        classifier,
        classifier_params,
        preprocessing,
        wavelengths=reference,
        random_state=seed,
        n_jobs=n_jobs,
    )
    budget = max_pixels_per_class
    if budget is None and recipe is not None:
        budget = recipe.pixels_per_class
    if budget is not None and budget < 2:
        raise InvalidOptionError(
            f"max_pixels_per_class={budget}", field="max_pixels_per_class", fix="use at least 2"
        )
    units = patients if patients is not None else [f"cube {i}" for i in range(len(cubes))]
    X, y, unit_arr, available, n_invalid = _training_set(
        cubes, maps, units, classes, budget, rng, resamplers
    )
    groups_arr = unit_arr if patients is not None else None

    summary: dict[str, Any] = {
        "n_pixels": int(y.size),
        "pixels": _counts(y, unit_arr, names),
        "labelled": {names[c]: per for c, per in available.items()},
        "invalid_left_out": n_invalid,
        "max_pixels_per_class": budget,
        "random_state": seed,
        "groups": "patients" if patients is not None else "none (pixels balanced per cube)",
        "resampled_cubes": [i for i, m in enumerate(resamplers) if m is not None],
        "input_range": input_range(X),
        "class_spectra": class_spectra(X, y, names),
    }
    _check_components(pipeline, int(y.size), "the training set")
    # BLAS on one thread: the search fits the preprocessing (SNV, PCA) dozens of times on a few
    # thousand pixels, and idle OpenBLAS threads spinning between those small products took
    # 2-5x the CPU time (3 small simulated patients, SVM: 4.3 s → 1.6 s of CPU; 3 of
    # 128 x 160 x 128: 31 s → 5.8 s). OpenMP (gradient boosting) keeps its threads.
    with blas_controller().limit(limits=1, user_api="blas"):
        probe = _subsample(y, 100, rng)
        _check_components(pipeline, int(probe.size), "the sample that sizes the search grid")
        grid = _grid(recipe, classifier_params, pipeline, X[probe], y[probe])
        tuning, calibration = _tune_and_fit(
            pipeline, grid, X, y, groups_arr, recipe, seed, n_jobs, rng, progress
        )
    if tuning:
        summary["tuning"] = tuning
    if calibration:
        summary["calibration"] = calibration
    domain = training_domain(pipeline, X)

    return TumorModel(
        pipeline,
        reference,
        names,
        preprocessing=tuple(described),
        classifier=clf_name,
        training=summary,
        patients=tuple(sorted(set(patients))) if patients is not None else (),
        version=__version__,
        domain=domain,
    )


def training_domain(pipeline: Pipeline, X: np.ndarray) -> TrainingDomain:
    """The :class:`TrainingDomain` of the fitted ``pipeline``'s training spectra ``X``: fitted
    on the features its classifier sees (``pipeline[:-1].transform(X)``), with the defaults
    (99 % of the variance, confidence 0.999)."""
    features = X
    if len(pipeline.steps) > 1:
        with sklearn.config_context(assume_finite=True):
            features = pipeline[:-1].transform(X)
    return TrainingDomain().fit(features)


def _resamplers(cubes: list[Cube], resample: bool) -> list[np.ndarray | None]:
    """Per cube, the matrix onto ``cubes[0]``'s wavelengths (None where they are equal)."""
    reference = cubes[0].wavelengths
    return [None] + [
        match_wavelengths(
            cube.wavelengths,
            reference,
            resample=resample,
            what=f"cubes[{i}]",
            expected="cubes[0]",
            field="cubes",
        )
        if reference is not None
        else _same_bands(cube, cubes[0], i)
        for i, cube in enumerate(cubes[1:], start=1)
    ]


def _classes(maps: list[np.ndarray]) -> np.ndarray:
    """The labelled class ids (at least two, or TrainingDataError)."""
    classes = np.unique(np.concatenate([np.unique(m) for m in maps]))
    classes = classes[classes != 0]
    if classes.size == 0:
        raise TrainingDataError(
            "the label maps have no labelled pixel (all 0)",
            field="label_maps",
            fix="label pixels of at least two classes with positive ids",
        )
    if classes.size == 1:
        raise TrainingDataError(
            f"the label maps have a single class (id {int(classes[0])}); a classifier needs two",
            field="label_maps",
            fix="label pixels of at least two classes (e.g. normal and tumor)",
        )
    return classes


def _training_set(cubes, maps, units, classes, budget, rng, resamplers):
    """The sampled training pixels: ``(X, y, unit of each pixel, labelled pixels per class
    and unit, number of invalid labelled pixels left out)``."""
    usable, n_invalid = [], 0
    for i, (cube, labels) in enumerate(zip(cubes, maps, strict=True)):
        labelled = np.flatnonzero(labels.reshape(-1))
        ok = _valid(cube, labelled, i)
        n_invalid += int((~ok).sum())
        usable.append(labels.copy())
        usable[-1].reshape(-1)[labelled[~ok]] = 0
    if n_invalid:  # a warning, not a log line: evaluate and the demo say it once for many
        warnings.warn(
            f"train: {n_invalid} labelled pixels are invalid (NaN/saturated) and left out",
            CalibrationWarning,
            stacklevel=3,
        )
    chosen, available = _sample(usable, units, classes, budget, rng)

    spectra, labels, unit_of = [], [], []
    for i, (cube, flat) in enumerate(zip(cubes, chosen, strict=True)):
        if flat.size == 0:
            continue
        x = _read_pixels(cube, flat)
        if resamplers[i] is not None:
            x = x @ resamplers[i]
        spectra.append(x)
        labels.append(maps[i].reshape(-1)[flat].astype(np.int64))
        unit_of.append(np.full(x.shape[0], units[i], dtype=object))
    X = np.concatenate(spectra) if spectra else np.zeros((0, cubes[0].n_bands))
    y = np.concatenate(labels) if labels else np.zeros(0, np.int64)
    unit_arr = np.concatenate(unit_of) if unit_of else np.zeros(0, object)
    present = np.unique(y)
    if present.size < 2:
        raise TrainingDataError(
            f"after leaving out {n_invalid} invalid labelled pixels, {present.size} class(es) "
            "remain",
            field="label_maps",
            fix="label valid pixels of at least two classes",
        )
    values, counts = np.unique(y, return_counts=True)
    if counts.min() < 2:
        single = ", ".join(str(int(v)) for v in values[counts < 2])
        raise TrainingDataError(
            f"class id(s) {single} have a single valid labelled pixel; a classifier cannot "
            "learn a class from one spectrum",
            field="label_maps",
            fix="label at least 2 valid pixels of every class (in practice hundreds, from "
            "several patients)",
        )
    return X, y, unit_arr, available, n_invalid


def _tune_and_fit(pipeline, grid, X, y, groups, recipe, seed, n_jobs, rng, progress):
    """Tune ``pipeline`` on ``grid`` (if any), then fit it in place, under one progress bar
    over every fit: the search's (candidates x folds), the calibration's folds, the final fit.
    Returns the summaries ``(tuning, calibration)``, each None when not done."""
    n_fits, tuning, calibration = 1, None, None
    if grid:  # a class-balanced subsample, split once: the folds are counted and recorded
        sub = _subsample(y, TUNING_PIXELS_PER_CLASS, rng)
        Xs, ys, gs = X[sub], y[sub], None if groups is None else groups[sub]
        splitter, tune_cv = _splitter(ys, gs, seed)
        splits = list(splitter.split(Xs, ys, gs))
        _check_components(pipeline, min(len(fit) for fit, _ in splits), "a tuning fold")
        n_fits += len(ParameterGrid(grid)) * len(splits)
    calibration_cv = _splitter(y, groups, seed) if _calibrates(pipeline, recipe) else None
    if calibration_cv is not None:
        n_fits += calibration_cv[0].get_n_splits()
    with progress_bar(n_fits, desc="train", unit="fit", enabled=progress) as bar:
        if grid:
            tuning = _tune(pipeline, grid, Xs, ys, splits, tune_cv, n_jobs, bar)
        calibration = _fit(pipeline, X, y, groups, calibration_cv)
        bar.update(n_fits - bar.n)
    return tuning, calibration


def _calibrates(pipeline: Pipeline, recipe) -> bool:
    """Whether the final fit calibrates the classifier: one with a decision function but no
    probabilities, or whose recipe asks for it."""
    final = pipeline.steps[-1][1]
    calibrate = recipe.calibrate if recipe is not None else not hasattr(final, "predict_proba")
    return bool(calibrate and hasattr(final, "decision_function"))


def _fit(pipeline: Pipeline, X, y, groups, calibration_cv) -> dict | None:
    """Fit ``pipeline`` (in place); with ``calibration_cv`` (a splitter and its description,
    see :func:`_calibrates`) its classifier is calibrated by sigmoid on those folds (by
    patient when possible). Returns the calibration's summary, or None."""
    if calibration_cv is None:
        with sklearn.config_context(assume_finite=True):
            pipeline.fit(X, y)
        return None
    splitter, cv_text = calibration_cv
    folds = list(splitter.split(X, y, groups))
    _check_components(pipeline, min(len(fit) for fit, _ in folds), "a calibration fold")
    final = pipeline.steps[-1][1]
    head = pipeline.steps[:-1]
    features = Pipeline(head).fit_transform(X, y) if head else X
    calibrated = CalibratedClassifierCV(final, method="sigmoid", ensemble=False)
    calibrated.set_params(cv=folds)
    calibrated.fit(features, y)
    calibrated.set_params(cv=splitter)  # record the scheme, not the fold indices
    pipeline.steps[-1] = ("classifier", calibrated)
    return {"method": "sigmoid", "cv": cv_text}


def _same_bands(cube: Cube, first: Cube, index: int) -> None:
    if cube.n_bands != first.n_bands or cube.wavelengths is not None:
        raise TrainingDataError(
            f"cubes[{index}] has {cube.n_bands} bands, cubes[0] has {first.n_bands} and no "
            "wavelengths",
            field="cubes",
            fix="give every cube its wavelengths, or cubes with the same bands",
        )
    return None


def _counts(y: np.ndarray, units: np.ndarray, names: dict[int, str]) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    for c in np.unique(y):
        u, n = np.unique(units[y == c].astype(str), return_counts=True)
        out[names[int(c)]] = {str(a): int(b) for a, b in zip(u, n, strict=True)}
    return out


def _grid(recipe: ClassifierRecipe | None, fixed, pipeline, X, y) -> dict[str, list]:
    """The search grid, less the parameters the user fixed; sized by the feature count."""
    if recipe is None:
        return {}
    n_features = X.shape[1]
    if len(pipeline.steps) > 1:
        with sklearn.config_context(assume_finite=True):
            n_features = clone(Pipeline(pipeline.steps[:-1])).fit(X, y).transform(X[:1]).shape[1]
    grid = recipe.candidates(n_features)
    return {k: v for k, v in grid.items() if k not in (fixed or {}) and len(v) > 1}
