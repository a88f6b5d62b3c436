"""evaluate and compare: train and test with patients never split across folds; metrics with
bootstrap CIs. The folds, their running and the summary live in sibling private modules."""

from __future__ import annotations

import logging
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

from hsi_tumor._shared.classes import class_name_map
from hsi_tumor._shared.classes import tumor_class as find_tumor_class
from hsi_tumor._shared.dask import check_client, dask_client
from hsi_tumor._shared.errors import CalibrationWarning, InvalidOptionError, TrainingDataError
from hsi_tumor.datasets._specimen import as_specimens
from hsi_tumor.evaluation._folds import (
    LEAVE_ONE_PATIENT_OUT,
    RANDOM,
    RANDOM_FOLDS,
    _check_cv,
    _splits,
)
from hsi_tumor.evaluation._results import Evaluation, Prediction, no_tumor_class_note
from hsi_tumor.evaluation._run import _merge, _run_all, _Settings
from hsi_tumor.evaluation._summary import _summarise
from hsi_tumor.fraction._model import METHODS as FRACTION_METHODS
from hsi_tumor.models._train import _valid, build_pipeline
from hsi_tumor.specimen import class_names_of

logger = logging.getLogger("hsi_tumor.evaluation")

__all__ = ["compare", "evaluate"]


def _without_invalid_training_pixels(specimens, splits: list) -> list:
    """``splits`` with the invalid labelled pixels (NaN, flagged in ``cube.valid``) left out of
    every training side, said once for the evaluation: not by each fold's ``train``. Where
    tested, they are not classified (``n_unclassified``)."""
    invalid, n_labelled = [], 0
    for i, specimen in enumerate(specimens):
        labelled = np.flatnonzero(specimen.labels.reshape(-1))
        n_labelled += labelled.size
        flags = np.zeros(specimen.labels.size, dtype=bool)
        flags[labelled[~_valid(specimen.cube, labelled, i)]] = True
        invalid.append(flags)
    n_invalid = int(sum(flags.sum() for flags in invalid))
    if not n_invalid:
        return splits
    warnings.warn(
        f"evaluate: {n_invalid} of {n_labelled} labelled pixels are invalid (NaN/saturated): "
        "left out of every fold's training, and counted as not classified where tested",
        CalibrationWarning,
        stacklevel=4,  # the caller of evaluate
    )
    return [
        ([None if f is None else f[~invalid[i][f]] for i, f in enumerate(train)], test)
        for train, test in splits
    ]


_CONFIGURATION_KEYS = {
    "classifier",
    "classifier_params",
    "preprocessing",
    "max_pixels_per_class",
    "fraction",
}
#: The arguments of :func:`hsi_tumor.train_fraction` a ``fraction`` option may set.
_FRACTION_KEYS = {
    "method",
    "fractions",
    "n_endmembers",
    "n_components",
    "context_sigma",
    "max_pixels",
}


def _fraction_option(value, cv) -> dict[str, Any] | None:
    """``fraction=`` as :func:`hsi_tumor.train_fraction` keyword arguments (None: no fraction)."""
    if value is None:
        return None
    if isinstance(value, str):
        value = {"method": value}
    if not isinstance(value, dict):
        raise InvalidOptionError(
            f"fraction={value!r}",
            field="fraction",
            fix='give None, "learned", "unmixing" or a dict of train_fraction arguments',
        )
    unknown = set(value) - _FRACTION_KEYS
    if unknown:
        raise InvalidOptionError(
            f"fraction has unknown keys {sorted(unknown)}",
            field="fraction",
            fix=f"use {', '.join(sorted(_FRACTION_KEYS))}",
        )
    if cv == RANDOM:
        raise InvalidOptionError(
            'fraction estimation with cv="random": a fraction model is trained on whole '
            "specimens, so a random pixel split would test it on the specimens it learned",
            field="fraction",
            fix='use a patient-wise cv ("leave-one-patient-out" or an int), or fraction=None',
        )
    options = dict(value)
    method = options.setdefault("method", "learned")
    if method not in FRACTION_METHODS:
        raise InvalidOptionError(
            f"fraction method {method!r}",
            field="fraction",
            fix=f"use one of {', '.join(FRACTION_METHODS)}",
        )
    return options


def compare(
    data,
    configurations: Sequence[dict[str, Any]],
    label_maps: Sequence[np.ndarray] | None = None,
    *,
    groups: Sequence | None = None,
    class_names=None,
    cv: str | int = LEAVE_ONE_PATIENT_OUT,
    resample: bool = False,
    random_state: int = 0,
    n_bootstrap: int = 2000,
    keep_maps: bool = False,
    n_jobs: int | None = None,
    client=None,
    progress: bool = True,
) -> list[Evaluation]:
    """Evaluate several classifier/preprocessing configurations on the same folds.

    Every configuration sees exactly the same patient-wise folds and seeds, so the
    differences between the returned evaluations come from the configurations alone. With a
    Dask ``client``, the folds of all configurations run as tasks at once.

    Parameters
    ----------
    data, label_maps, groups, class_names, cv, resample, random_state, n_bootstrap, keep_maps
        As in :func:`evaluate`.
    configurations : sequence of dict
        Each a dict with any of ``classifier``, ``classifier_params``, ``preprocessing`` and
        ``max_pixels_per_class`` (the arguments of :func:`hsi_tumor.train`), and ``fraction``
        (as in :func:`evaluate`), e.g.
        ``[{"classifier": "svm"}, {"classifier": "random-forest", "preprocessing": ["snv"]}]``.
    n_jobs : int, optional
        Passed to training and classification (inside each task on a cluster).
    client : None, "local", str or distributed.Client, default=None
        As in :func:`evaluate`: None runs the folds here, one after another; otherwise they
        run as Dask tasks, with results equal to the local run's for the same
        ``random_state``.
    progress : bool, default=True
        As in :func:`evaluate`.

    Returns
    -------
    list of Evaluation
        One per configuration, in order.

    Examples
    --------
    >>> import hsi_tumor as ht
    >>> cohort = ht.simulate_cohort(3, seed=0, shape=(40, 48), n_bands=40)
    >>> svm, lda = ht.evaluation.compare(  # doctest: +SKIP
    ...     cohort, [{"classifier": "svm"}, {"classifier": "lda"}], n_bootstrap=100)
    """
    configurations = [dict(c) for c in configurations]
    if not configurations:
        raise InvalidOptionError(
            "no configuration given", field="configurations", fix="give at least one dict"
        )
    for i, config in enumerate(configurations):
        unknown = set(config) - _CONFIGURATION_KEYS
        if unknown:
            raise InvalidOptionError(
                f"configurations[{i}] has unknown keys {sorted(unknown)}",
                field="configurations",
                fix=f"use {', '.join(sorted(_CONFIGURATION_KEYS))}",
            )
        build_pipeline(  # a bad classifier, step or parameter fails before any data is read
            config.get("classifier", "svm"),
            config.get("classifier_params"),
            config.get("preprocessing"),
            random_state=int(random_state),
        )
    cv = _check_cv(cv)
    fractions = [_fraction_option(config.get("fraction"), cv) for config in configurations]
    check_client(client)
    specimens = as_specimens(data, label_maps, groups)
    seed = int(random_state)
    classes = np.unique(np.concatenate([np.unique(s.labels) for s in specimens]))
    classes = classes[classes != 0]
    if classes.size < 2:
        raise TrainingDataError(
            f"the specimens' labels have {classes.size} class(es)",
            field="label_maps",
            fix="label pixels of at least two classes",
        )
    if class_names is None:  # the names the specimens carry (simulated ones: normal, tumor)
        carried = class_names_of(specimens) or {}
        class_names = {int(c): carried.get(int(c), str(c)) for c in classes}
    names = class_name_map(class_names, classes)
    tumor_class = find_tumor_class(names)
    if tumor_class is None:
        logger.warning("%s", no_tumor_class_note(names))
    patient_wise = cv != RANDOM
    splits = _without_invalid_training_pixels(specimens, list(_splits(specimens, cv, seed)))
    if cv == LEAVE_ONE_PATIENT_OUT:
        scheme = f"leave-one-patient-out ({len(splits)} folds)"
    elif cv == RANDOM:
        scheme = f"random pixel split ({RANDOM_FOLDS} folds) — OPTIMISTIC"
    else:
        scheme = f"{cv}-fold by patient"

    settings = [
        _Settings(
            classifier=config.get("classifier", "svm"),
            classifier_params=config.get("classifier_params"),
            preprocessing=config.get("preprocessing"),
            names=names,
            tumor_class=tumor_class,
            max_pixels_per_class=config.get("max_pixels_per_class"),
            resample=resample,
            seed=seed,
            keep_maps=keep_maps,
            patient_wise=patient_wise,
            n_jobs=n_jobs,
            fraction=fraction,
        )
        for config, fraction in zip(configurations, fractions, strict=True)
    ]
    jobs = [(k, tr, te, s) for s in settings for k, (tr, te) in enumerate(splits)]
    with dask_client(client, n_tasks=len(jobs), what="evaluate on Dask") as dask:
        results = _run_all(jobs, specimens, dask, progress)

    evaluations = []
    for c in range(len(configurations)):
        ran = results[c * len(splits) : (c + 1) * len(splits)]
        _, _, described, clf_name, fraction_described = ran[-1]
        parts: dict[int, list[Prediction]] = {}
        folds = []
        for fold, tested, _, _, _ in ran:
            folds.append(fold)
            for t in tested:
                parts.setdefault(t.index, []).append(
                    Prediction(
                        specimens[t.index],
                        t.flat,
                        t.y_true,
                        t.y_pred,
                        t.tumor_score,
                        t.tumor_map,
                        t.fraction_sums,
                        t.fraction_map,
                        t.fraction_estimate_sums,
                    )
                )
        predictions = [_merge(parts[i]) for i in sorted(parts)]
        evaluations.append(
            _summarise(
                predictions,
                classes,
                names,
                tumor_class,
                scheme=scheme,
                optimistic=not patient_wise,
                classifier=clf_name,
                preprocessing=tuple(described),
                folds=folds,
                n_bootstrap=int(n_bootstrap),
                seed=seed,
                fraction=fraction_described,
            )
        )
    return evaluations


def evaluate(
    data,
    label_maps: Sequence[np.ndarray] | None = None,
    *,
    groups: Sequence | None = None,
    classifier: str | Any = "svm",
    classifier_params: dict[str, Any] | None = None,
    preprocessing: Sequence | None = None,
    class_names=None,
    cv: str | int = LEAVE_ONE_PATIENT_OUT,
    max_pixels_per_class: int | None = None,
    fraction: str | dict[str, Any] | None = None,
    resample: bool = False,
    random_state: int = 0,
    n_bootstrap: int = 2000,
    keep_maps: bool = False,
    n_jobs: int | None = None,
    client=None,
    progress: bool = True,
) -> Evaluation:
    """Cross-validate a classifier with patients never split across folds.

    Each fold trains :func:`hsi_tumor.train` on the training patients' annotated pixels (its
    hyperparameter search and probability calibration see the training patients only) and
    classifies the test patients' specimens with :func:`hsi_tumor.classify_cube`. Metrics are
    reported per patient, pooled over all test pixels, and as the mean of the patients, with
    bootstrap 95 % confidence intervals that resample patients.

    Parameters
    ----------
    data : SimulatedCohort, sequence of Specimen or SimulatedSpecimen, or cubes
        The annotated specimens (see :func:`hsi_tumor.datasets.as_specimens`); cubes need
        ``label_maps`` and ``groups``.
    label_maps : sequence of ndarray, optional
        One (rows, cols) label map per cube, when ``data`` holds cubes.
    groups : sequence, optional
        Patient id per cube, when ``data`` holds cubes.
    classifier, classifier_params, preprocessing, class_names, max_pixels_per_class, resample
        As in :func:`hsi_tumor.train`. ``class_names`` defaults to the names the specimens
        carry (``Specimen.class_names``; simulated specimens: ``{1: "normal", 2: "tumor"}``).
        The class named ``"tumor"`` is the positive class of sensitivity, specificity, ROC AUC
        and Dice; without one, these are not computed, and the log and ``to_markdown()`` say
        so.
    cv : "leave-one-patient-out", int or "random", default="leave-one-patient-out"
        ``"leave-one-patient-out"``: one fold per patient. An int k: k folds of whole patients
        (:class:`~sklearn.model_selection.GroupKFold`, shuffled with ``random_state``).
        ``"random"``: 5 stratified folds of pixels, ignoring patients — only when asked for,
        and marked **optimistic** everywhere it is reported.
    fraction : None, "learned", "unmixing" or dict, default=None
        Also estimate the tumor fraction: each fold trains :func:`hsi_tumor.train_fraction`
        on the training patients' whole specimens (a dict gives its ``method`` and any of
        ``fractions``, ``n_endmembers``, ``n_components``, ``context_sigma``,
        ``max_pixels``) and :func:`hsi_tumor.estimate_fraction` estimates each test specimen.
        Where the specimens carry their true fraction, the metrics gain
        ``fraction_fuzzy_dice``, ``fraction_area_error``, ``fraction_mae_partial`` (mean
        absolute error over pixels with 0 < f < 1), ``fraction_coverage`` and
        ``fraction_coverage_partial`` (the share of pixels whose 90 % interval covers the
        true fraction), and :attr:`Evaluation.fraction_calibration` holds the calibration and
        coverage curves. Patient-wise schemes only.
    random_state : int, default=0
        Seed of the folds, the training and the bootstrap.
    n_bootstrap : int, default=2000
        Bootstrap resamples of patients for the confidence intervals (0: none).
    keep_maps : bool, default=False
        Keep every test specimen's whole :class:`~hsi_tumor.TumorMap` (and
        :class:`~hsi_tumor.FractionMap` with ``fraction``) in the predictions (patient-wise
        schemes), e.g. for figures.
    n_jobs : int, optional
        Passed to training and classification.
    client : None, "local", str or distributed.Client, default=None
        Where the folds run (the meaning ``client`` has everywhere in hsi_tumor): None, in
        this process one after another (Dask is not needed); ``"local"``, as Dask tasks on a
        local cluster started for the call; a scheduler address (``"tcp://host:8786"``) or a
        ``distributed.Client``, as Dask tasks there. The results equal the local run's for
        the same ``random_state``.
        Specimens are sent to the workers once (in-memory and memory-mapped cubes as arrays,
        lazy HDF5 cubes as their file path). See :func:`compare` for several configurations.
    progress : bool, default=True
        A progress bar over the folds (tqdm: on stderr, or a widget in a notebook), and,
        when the folds run here, each fold's training bar under it, cleared when done.
        Shown once the call has run a second; False writes nothing.

    Returns
    -------
    Evaluation

    Warns
    -----
    CalibrationWarning
        Once, when labelled pixels are invalid (NaN, or flagged in ``cube.valid``: saturated,
        unusable references): they are left out of every fold's training and counted in
        ``n_unclassified`` where tested.

    Raises
    ------
    TrainingDataError
        Fewer than two patients for a patient-wise scheme, a fold whose training patients
        lack a class, and the errors of :func:`hsi_tumor.train`.
    InvalidOptionError
        An unknown ``cv``.

    Notes
    -----
    Test metrics are computed on the annotated (labelled) pixels of the test specimens.
    Where a specimen carries its true tumor fraction (simulated data, or a registered pathology
    map), the whole specimen (``Specimen.tissue``) is classified and the tumor probability map
    is compared with it: fuzzy Dice ``2 Σ min(p, f) / (Σ p + Σ f)`` and the relative tumor-area
    error ``(Σ p − Σ f) / Σ f`` (positive = over-estimate). Pixels a model could not classify
    (NaN, saturated) are counted in ``n_unclassified`` and left out of the label metrics.
    Bootstrapped ROC AUC intervals use score histograms of
    :data:`~hsi_tumor.evaluation.AUC_BINS` bins; point estimates are exact.

    Examples
    --------
    >>> import hsi_tumor as ht
    >>> cohort = ht.simulate_cohort(3, seed=0, shape=(40, 48), n_bands=40)
    >>> result = ht.evaluate(cohort, classifier="lda", n_bootstrap=100)  # doctest: +SKIP
    >>> print(result.to_markdown())  # doctest: +SKIP
    """
    return compare(
        data,
        [
            {
                "classifier": classifier,
                "classifier_params": classifier_params,
                "preprocessing": preprocessing,
                "max_pixels_per_class": max_pixels_per_class,
                "fraction": fraction,
            }
        ],
        label_maps,
        groups=groups,
        class_names=class_names,
        cv=cv,
        resample=resample,
        random_state=random_state,
        n_bootstrap=n_bootstrap,
        keep_maps=keep_maps,
        n_jobs=n_jobs,
        client=client,
        progress=progress,
    )[0]
