"""evaluate: train and test with patients never split across folds; metrics with bootstrap CIs."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sklearn.model_selection import GroupKFold, LeaveOneGroupOut, StratifiedKFold

from hsi_tumor._shared.classes import class_name_map
from hsi_tumor._shared.classes import tumor_class as find_tumor_class
from hsi_tumor._shared.dask import check_client, dask_client
from hsi_tumor._shared.errors import InvalidOptionError, TrainingDataError
from hsi_tumor.datasets._specimen import Specimen, as_specimens
from hsi_tumor.inference import TumorMap, classify_cube
from hsi_tumor.metrics._calibration import ReliabilityCurve, reliability_curve
from hsi_tumor.metrics._scores import (
    auc_from_histograms,
    confusion_counts,
    fraction_sums,
    metrics_from_confusion,
    metrics_from_fraction_sums,
    score_histograms,
)
from hsi_tumor.models import train

logger = logging.getLogger("hsi_tumor.evaluation")

__all__ = [
    "LEAVE_ONE_PATIENT_OUT",
    "RANDOM",
    "Evaluation",
    "Fold",
    "Prediction",
    "compare",
    "evaluate",
]

LEAVE_ONE_PATIENT_OUT = "leave-one-patient-out"
#: Pixel-wise random folds: pixels of one patient on both sides, so optimistic.
RANDOM = "random"
#: Folds of ``cv="random"``.
RANDOM_FOLDS = 5
#: Metrics in the order reports show them.
METRICS = (
    "accuracy",
    "sensitivity",
    "specificity",
    "balanced_accuracy",
    "roc_auc",
    "dice",
    "kappa",
    "fuzzy_dice",
    "area_error",
)


@dataclass(frozen=True)
class Fold:
    """One train/test split: the patients (and pixels) each side saw."""

    index: int
    train_patients: tuple[str, ...]
    test_patients: tuple[str, ...]
    n_train_pixels: int
    n_test_pixels: int
    best_params: dict[str, Any] | None = None


@dataclass(eq=False)
class Prediction:
    """What the models predicted for one specimen's test pixels.

    Attributes
    ----------
    specimen : Specimen
    flat : ndarray of int
        Flat pixel indices (row * cols + col) of the test pixels.
    y_true, y_pred : ndarray of int
        True and predicted class ids of those pixels (0 = not classified: invalid pixel).
    tumor_score : ndarray of float or None
        Predicted tumor probability of those pixels (NaN where not classified).
    tumor_map : TumorMap or None
        The whole specimen's map, for patient-wise schemes when ``keep_maps=True``.
    """

    specimen: Specimen
    flat: np.ndarray
    y_true: np.ndarray
    y_pred: np.ndarray
    tumor_score: np.ndarray | None
    tumor_map: TumorMap | None = None
    fraction_sums: np.ndarray | None = None


@dataclass(eq=False)
class Evaluation:
    """Result of :func:`evaluate`.

    Attributes
    ----------
    scheme : str
        How the data was split, in words (e.g. ``"leave-one-patient-out (12 folds)"``).
    optimistic : bool
        True for random pixel splits: pixels of a test patient were also in training, so the
        figures overstate performance on new patients.
    classifier : str
    preprocessing : tuple of str
    class_names : dict of int to str
    tumor_class : int or None
        Positive class of the tumor metrics (the class named "tumor").
    folds : list of Fold
    per_patient : list of dict
        ``patient``, ``n_pixels``, ``n_tumor``, ``n_unclassified`` and each metric.
    pooled : dict of str to float
        Metrics over all test pixels of all patients together.
    patient_mean : dict of str to float
        Mean of the per-patient metrics (patients where a metric is undefined left out).
    ci : dict of str to (float, float)
        Bootstrap 95 % interval of each pooled metric, resampling patients.
    ci_patient_mean : dict of str to (float, float)
        Bootstrap 95 % interval of each patient-mean metric.
    confusion : ndarray of shape (n_classes, n_classes)
        Pooled confusion counts, rows = true class, in ``classes`` order.
    classes : ndarray of int
    reliability : ReliabilityCurve or None
        Calibration of the pooled tumor probability.
    predictions : list of Prediction
    n_bootstrap : int
    random_state : int
    """

    scheme: str
    optimistic: bool
    classifier: str
    preprocessing: tuple[str, ...]
    class_names: dict[int, str]
    tumor_class: int | None
    folds: list[Fold]
    per_patient: list[dict[str, Any]]
    pooled: dict[str, float]
    patient_mean: dict[str, float]
    ci: dict[str, tuple[float, float]]
    ci_patient_mean: dict[str, tuple[float, float]]
    confusion: np.ndarray
    classes: np.ndarray
    reliability: ReliabilityCurve | None
    predictions: list[Prediction] = field(repr=False)
    n_bootstrap: int = 0
    random_state: int = 0

    @property
    def metric_names(self) -> list[str]:
        """The metrics this evaluation has, in report order."""
        return [m for m in METRICS if m in self.pooled]

    def roc_curves(self) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """Per patient: (is tumor, tumor probability) of the classified test pixels."""
        if self.tumor_class is None:
            return {}
        out: dict[str, tuple[list, list]] = {}
        for p in self.predictions:
            if p.tumor_score is None:
                continue
            ok = np.isfinite(p.tumor_score)
            y, s = out.setdefault(p.specimen.patient, ([], []))
            y.append(p.y_true[ok] == self.tumor_class)
            s.append(p.tumor_score[ok])
        return {k: (np.concatenate(y), np.concatenate(s)) for k, (y, s) in sorted(out.items())}

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly summary (no pixel arrays); NaN as None."""

        def num(v):
            return None if v is None or not np.isfinite(v) else float(v)

        return {
            "scheme": self.scheme,
            "optimistic": self.optimistic,
            "classifier": self.classifier,
            "preprocessing": list(self.preprocessing),
            "class_names": {str(k): v for k, v in self.class_names.items()},
            "tumor_class": self.tumor_class,
            "pooled": {k: num(v) for k, v in self.pooled.items()},
            "ci95": {k: [num(a), num(b)] for k, (a, b) in self.ci.items()},
            "patient_mean": {k: num(v) for k, v in self.patient_mean.items()},
            "ci95_patient_mean": {
                k: [num(a), num(b)] for k, (a, b) in self.ci_patient_mean.items()
            },
            "per_patient": [
                {k: (num(v) if isinstance(v, float) else v) for k, v in row.items()}
                for row in self.per_patient
            ],
            "confusion": {
                "classes": [int(c) for c in self.classes],
                "counts": self.confusion.astype(int).tolist(),
            },
            "folds": [
                {
                    "train_patients": list(f.train_patients),
                    "test_patients": list(f.test_patients),
                    "n_train_pixels": f.n_train_pixels,
                    "n_test_pixels": f.n_test_pixels,
                    "best_params": f.best_params,
                }
                for f in self.folds
            ],
            "calibration": None if self.reliability is None else self.reliability.to_dict(),
            "n_bootstrap": self.n_bootstrap,
            "random_state": self.random_state,
        }

    def to_markdown(self) -> str:
        """The metrics as Markdown tables: pooled and patient mean with 95 % CIs, per patient."""
        names = self.metric_names
        lines = [f"Scheme: **{self.scheme}**."]
        if self.optimistic:
            lines.append(
                "**Optimistic:** random pixel splits put pixels of every test patient in "
                "training too; these figures overstate performance on new patients."
            )
        lines += [
            "",
            "| | " + " | ".join(_LABELS[m] for m in names) + " |",
            "|---|" + "---:|" * len(names),
            "| pooled pixels | "
            + " | ".join(_cell(self.pooled[m], self.ci.get(m), m) for m in names)
            + " |",
            "| mean of patients | "
            + " | ".join(
                _cell(self.patient_mean.get(m), self.ci_patient_mean.get(m), m) for m in names
            )
            + " |",
            "",
            f"95 % intervals: bootstrap over patients ({self.n_bootstrap} resamples).",
            "",
            "| patient | pixels | tumor pixels | " + " | ".join(_LABELS[m] for m in names) + " |",
            "|---|---:|---:|" + "---:|" * len(names),
        ]
        for row in self.per_patient:
            lines.append(
                f"| {row['patient']} | {row['n_pixels']} | {row['n_tumor']} | "
                + " | ".join(_cell(row.get(m), None, m) for m in names)
                + " |"
            )
        return "\n".join(lines)

    def __repr__(self) -> str:
        shown = ", ".join(
            f"{m} {self.pooled[m]:.3f}"
            for m in self.metric_names[:4]
            if np.isfinite(self.pooled[m])
        )
        return (
            f"Evaluation({self.scheme}, {len(self.per_patient)} patients, {self.classifier}: "
            f"{shown}{', OPTIMISTIC' if self.optimistic else ''})"
        )


_LABELS = {
    "accuracy": "accuracy",
    "sensitivity": "sensitivity",
    "specificity": "specificity",
    "balanced_accuracy": "balanced acc.",
    "roc_auc": "ROC AUC",
    "dice": "Dice (F1)",
    "kappa": "kappa",
    "fuzzy_dice": "fuzzy Dice",
    "area_error": "area error",
}
_PERCENT = {"accuracy", "sensitivity", "specificity", "balanced_accuracy", "area_error"}


def _cell(value, interval, metric) -> str:
    if value is None or not np.isfinite(value):
        return "–"
    if metric in _PERCENT:
        text = f"{100 * value:.1f} %"
        if interval is not None and np.all(np.isfinite(interval)):
            text += f" ({100 * interval[0]:.1f} to {100 * interval[1]:.1f})"
        return text
    text = f"{value:.3f}"
    if interval is not None and np.all(np.isfinite(interval)):
        text += f" ({interval[0]:.3f} to {interval[1]:.3f})"
    return text


def _splits(specimens: list[Specimen], cv, seed: int):
    """Yield ``(train, test)``: per specimen, the flat pixels on each side (None = not used)."""
    patients = np.array([s.patient for s in specimens])
    labelled = [np.flatnonzero(s.labels.reshape(-1)) for s in specimens]
    if cv == RANDOM:
        units = np.concatenate([np.full(f.size, i) for i, f in enumerate(labelled)])
        flat = np.concatenate(labelled)
        y = np.concatenate(
            [s.labels.reshape(-1)[f] for s, f in zip(specimens, labelled, strict=True)]
        )
        folds = StratifiedKFold(RANDOM_FOLDS, shuffle=True, random_state=seed)
        for tr, te in folds.split(flat, y):
            yield (
                [flat[tr][units[tr] == i] for i in range(len(specimens))],
                [flat[te][units[te] == i] for i in range(len(specimens))],
            )
        return
    n_patients = np.unique(patients).size
    if cv == LEAVE_ONE_PATIENT_OUT:
        splitter = LeaveOneGroupOut()
    else:
        splitter = GroupKFold(int(cv), shuffle=True, random_state=seed)
    if n_patients < 2 or (cv != LEAVE_ONE_PATIENT_OUT and int(cv) > n_patients):
        raise TrainingDataError(
            f"{n_patients} patient(s) cannot make {cv} patient-wise folds",
            field="cv",
            fix="give specimens of more patients, fewer folds, or cv='random' (optimistic)",
        )
    index = np.arange(len(specimens))
    for tr, te in splitter.split(index, groups=patients):
        train_set, test_set = set(tr.tolist()), set(te.tolist())
        yield (
            [labelled[i] if i in train_set else None for i in index],
            [labelled[i] if i in test_set else None for i in index],
        )


def _check_cv(cv) -> str | int:
    if cv in (LEAVE_ONE_PATIENT_OUT, RANDOM):
        return cv
    if isinstance(cv, (int, np.integer)) and not isinstance(cv, bool) and cv >= 2:
        return int(cv)
    raise InvalidOptionError(
        f"cv={cv!r}",
        field="cv",
        fix=f"use '{LEAVE_ONE_PATIENT_OUT}', an int k ≥ 2 (k folds by patient) or "
        f"'{RANDOM}' (pixel folds, optimistic)",
    )


def _masked_labels(specimen: Specimen, flat: np.ndarray) -> np.ndarray:
    out = np.zeros(specimen.labels.size, dtype=specimen.labels.dtype)
    out[flat] = specimen.labels.reshape(-1)[flat]
    return out.reshape(specimen.labels.shape)


def _default_class_names(data, class_names):
    """The simulator's class names for simulated data, unless names were given."""
    if class_names is not None:
        return class_names
    from hsi_tumor.datasets._simulate import CLASS_NAMES, SimulatedCohort, SimulatedSpecimen

    if isinstance(data, (SimulatedCohort, SimulatedSpecimen)):
        return CLASS_NAMES
    if isinstance(data, (list, tuple)) and all(isinstance(s, SimulatedSpecimen) for s in data):
        return CLASS_NAMES
    return None


def _bootstrap(
    stats: dict[str, np.ndarray],
    per_patient: dict[str, np.ndarray],
    tumor_index,
    n_bootstrap: int,
    rng: np.random.Generator,
):
    """95 % intervals of the pooled and patient-mean metrics, resampling patients."""
    n = stats["confusion"].shape[0]
    if n < 2 or n_bootstrap < 1:
        return {}, {}
    weights = rng.multinomial(n, np.full(n, 1 / n), size=n_bootstrap).astype(np.float64)
    values = metrics_from_confusion(np.tensordot(weights, stats["confusion"], axes=1), tumor_index)
    if "histograms" in stats:
        values["roc_auc"] = auc_from_histograms(np.tensordot(weights, stats["histograms"], axes=1))
    if "fractions" in stats:
        values.update(metrics_from_fraction_sums(weights @ stats["fractions"]))
    pooled = {k: _interval(v) for k, v in values.items()}
    means = {}
    for k, v in per_patient.items():
        ok = np.isfinite(v)
        if ok.sum() < 2:
            continue
        w = weights[:, ok]
        with np.errstate(invalid="ignore", divide="ignore"):
            means[k] = _interval((w @ v[ok]) / w.sum(axis=1))
    return pooled, means


def _interval(samples: np.ndarray) -> tuple[float, float]:
    samples = samples[np.isfinite(samples)]
    if samples.size == 0:
        return (float("nan"), float("nan"))
    lo, hi = np.percentile(samples, [2.5, 97.5])
    return (float(lo), float(hi))


@dataclass(frozen=True)
class _Settings:
    """What every fold of one configuration needs (sent to Dask workers as is)."""

    classifier: Any
    classifier_params: dict[str, Any] | None
    preprocessing: Sequence | None
    names: dict[int, str]
    tumor_class: int | None
    max_pixels_per_class: int | None
    resample: bool
    seed: int
    keep_maps: bool
    patient_wise: bool
    n_jobs: int | None


@dataclass(frozen=True)
class _Tested:
    """One specimen's test result from a fold: arrays only, no cube (cheap to send back)."""

    index: int
    flat: np.ndarray
    y_true: np.ndarray
    y_pred: np.ndarray
    tumor_score: np.ndarray | None
    tumor_map: TumorMap | None
    fraction_sums: np.ndarray | None


def _run_fold(k: int, specimens: list[Specimen], train_flat, test_flat, settings: _Settings):
    """Train on one fold's training pixels, classify its test specimens.

    Returns ``(fold, tested, preprocessing description, classifier name)``. A plain function
    of its arguments, so it runs the same in this process and as a Dask task.
    """
    used = [i for i, f in enumerate(train_flat) if f is not None and f.size]
    model = train(
        [
            Specimen(
                specimens[i].cube,
                _masked_labels(specimens[i], train_flat[i]),
                specimens[i].patient,
                name=specimens[i].name,
            )
            for i in used
        ],
        classifier=settings.classifier,
        classifier_params=settings.classifier_params,
        preprocessing=settings.preprocessing,
        class_names=settings.names,
        max_pixels_per_class=settings.max_pixels_per_class,
        resample=settings.resample,
        random_state=settings.seed + k,
        n_jobs=settings.n_jobs,
    )
    tested = [i for i, f in enumerate(test_flat) if f is not None and f.size]
    out = []
    for i in tested:
        spec, flat = specimens[i], test_flat[i]
        whole = settings.patient_wise and (settings.keep_maps or spec.tumor_fraction is not None)
        if whole:
            mask = None if spec.tissue is None else spec.tissue | (spec.labels > 0)
        else:
            mask = np.zeros(spec.labels.size, dtype=bool)
            mask[flat] = True
            mask = mask.reshape(spec.labels.shape)
        result = classify_cube(
            spec.cube, model, mask=mask, resample=settings.resample, n_jobs=settings.n_jobs
        )
        score = sums = None
        if settings.tumor_class is not None and result.probabilities is not None:
            score = result.tumor_probability.reshape(-1)[flat].astype(np.float64)
            if settings.patient_wise and spec.tumor_fraction is not None:
                sums = fraction_sums(result.tumor_probability, spec.tumor_fraction, mask)
        out.append(
            _Tested(
                i,
                flat,
                spec.labels.reshape(-1)[flat].astype(np.int64),
                result.labels.reshape(-1)[flat].astype(np.int64),
                score,
                result if (settings.keep_maps and whole) else None,
                sums,
            )
        )
    fold = Fold(
        k,
        tuple(sorted({specimens[i].patient for i in used})),
        tuple(sorted({specimens[i].patient for i in tested})),
        int(model.training["n_pixels"]),
        int(sum(t.flat.size for t in out)),
        model.training.get("tuning", {}).get("best_params"),
    )
    return fold, out, model.preprocessing, model.classifier


def _run_all(jobs: list[tuple], specimens: list[Specimen], client, progress: bool) -> list:
    """Run ``_run_fold(*job)`` for every job: here, or as Dask tasks on ``client``."""
    bar = _progress(len(jobs), progress)
    try:
        if client is None:
            results = []
            for k, train_flat, test_flat, settings in jobs:
                results.append(_run_fold(k, specimens, train_flat, test_flat, settings))
                bar.update(1)
            return results
        from distributed import as_completed

        shared = client.scatter(specimens, broadcast=False)
        futures = [
            client.submit(_run_fold, k, shared, tr, te, settings, pure=False)
            for k, tr, te, settings in jobs
        ]
        for _ in as_completed(futures):
            bar.update(1)
        return client.gather(futures)
    finally:
        bar.close()


_CONFIGURATION_KEYS = {"classifier", "classifier_params", "preprocessing", "max_pixels_per_class"}


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
    progress: bool = False,
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
        ``max_pixels_per_class`` (the arguments of :func:`hsi_tumor.train`), e.g.
        ``[{"classifier": "svm"}, {"classifier": "random-forest", "preprocessing": ["snv"]}]``.
    n_jobs : int, optional
        Passed to training and classification (inside each task on a cluster).
    client : None, "local", str or distributed.Client, default=None
        As in :func:`evaluate`: None runs the folds here, one after another; otherwise they
        run as Dask tasks, with results equal to the local run's for the same
        ``random_state``.
    progress : bool, default=False
        A progress bar over the folds.

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
    cv = _check_cv(cv)
    check_client(client)
    class_names = _default_class_names(data, class_names)
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
    names = class_name_map(class_names, classes)
    tumor_class = find_tumor_class(names)
    if tumor_class is None:
        logger.warning(
            "no class is named 'tumor' (or 'tumour', any case): sensitivity, specificity, "
            "ROC AUC and Dice are not computed"
        )
    patient_wise = cv != RANDOM
    splits = list(_splits(specimens, cv, seed))
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
        )
        for config in configurations
    ]
    jobs = [(k, tr, te, s) for s in settings for k, (tr, te) in enumerate(splits)]
    with dask_client(client, n_tasks=len(jobs), what="evaluate on Dask") as dask:
        results = _run_all(jobs, specimens, dask, progress)

    evaluations = []
    for c in range(len(configurations)):
        ran = results[c * len(splits) : (c + 1) * len(splits)]
        _, _, described, clf_name = ran[-1]
        parts: dict[int, list[Prediction]] = {}
        folds = []
        for fold, tested, _, _ in ran:
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
    resample: bool = False,
    random_state: int = 0,
    n_bootstrap: int = 2000,
    keep_maps: bool = False,
    n_jobs: int | None = None,
    client=None,
    progress: bool = False,
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
        As in :func:`hsi_tumor.train`. ``class_names`` defaults to the simulator's
        ``{1: "normal", 2: "tumor"}`` for simulated data. The class named ``"tumor"`` is the
        positive class of sensitivity, specificity, ROC AUC and Dice.
    cv : "leave-one-patient-out", int or "random", default="leave-one-patient-out"
        ``"leave-one-patient-out"``: one fold per patient. An int k: k folds of whole patients
        (:class:`~sklearn.model_selection.GroupKFold`, shuffled with ``random_state``).
        ``"random"``: 5 stratified folds of pixels, ignoring patients — only when asked for,
        and marked **optimistic** everywhere it is reported.
    random_state : int, default=0
        Seed of the folds, the training and the bootstrap.
    n_bootstrap : int, default=2000
        Bootstrap resamples of patients for the confidence intervals (0: none).
    keep_maps : bool, default=False
        Keep every test specimen's whole :class:`~hsi_tumor.TumorMap` in the predictions
        (patient-wise schemes), e.g. for figures.
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
    progress : bool, default=False
        Show a progress bar over the folds.

    Returns
    -------
    Evaluation

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


def _progress(total: int, enabled: bool):
    from tqdm.auto import tqdm

    return tqdm(total=total, desc="evaluate", unit="fold", disable=not enabled, leave=False)


def _merge(parts: list[Prediction]) -> Prediction:
    """One specimen's predictions over the folds that tested it (random pixel folds)."""
    if len(parts) == 1:
        return parts[0]
    scores = [p.tumor_score for p in parts]
    return Prediction(
        parts[0].specimen,
        np.concatenate([p.flat for p in parts]),
        np.concatenate([p.y_true for p in parts]),
        np.concatenate([p.y_pred for p in parts]),
        None if any(s is None for s in scores) else np.concatenate(scores),
    )


def _summarise(
    predictions,
    classes,
    names,
    tumor_class,
    *,
    scheme,
    optimistic,
    classifier,
    preprocessing,
    folds,
    n_bootstrap,
    seed,
) -> Evaluation:
    from sklearn.metrics import roc_auc_score

    tumor_index = None if tumor_class is None else int(np.flatnonzero(classes == tumor_class)[0])
    by_patient: dict[str, list[Prediction]] = {}
    for p in predictions:
        by_patient.setdefault(p.specimen.patient, []).append(p)
    patients = sorted(by_patient)
    has_scores = tumor_class is not None and all(p.tumor_score is not None for p in predictions)
    has_fractions = all(p.fraction_sums is not None for p in predictions)

    rows, cms, hists, fracs = [], [], [], []
    all_y, all_s = [], []
    for patient in patients:
        preds = by_patient[patient]
        y = np.concatenate([p.y_true for p in preds])
        yp = np.concatenate([p.y_pred for p in preds])
        cm = confusion_counts(y, yp, classes)
        cms.append(cm)
        row: dict[str, Any] = {
            "patient": patient,
            "specimens": [p.specimen.name for p in preds],
            "n_pixels": int(y.size),
            "n_tumor": int(np.sum(y == tumor_class)) if tumor_class is not None else 0,
            "n_unclassified": int(np.sum(yp == 0)),
        }
        row.update({k: float(v) for k, v in metrics_from_confusion(cm, tumor_index).items()})
        if has_scores:
            s = np.concatenate([p.tumor_score for p in preds])
            ok = np.isfinite(s)
            is_tumor = y[ok] == tumor_class
            all_y.append(is_tumor)
            all_s.append(s[ok])
            hists.append(score_histograms(is_tumor, s[ok]))
            both = is_tumor.any() and not is_tumor.all()
            row["roc_auc"] = float(roc_auc_score(is_tumor, s[ok])) if both else float("nan")
        if has_fractions:
            sums = np.sum([p.fraction_sums for p in preds], axis=0)
            fracs.append(sums)
            row.update({k: float(v) for k, v in metrics_from_fraction_sums(sums).items()})
        rows.append(row)

    confusion = np.sum(cms, axis=0)
    pooled = {k: float(v) for k, v in metrics_from_confusion(confusion, tumor_index).items()}
    stats: dict[str, np.ndarray] = {"confusion": np.array(cms)}
    reliability = None
    if has_scores:
        y_all, s_all = np.concatenate(all_y), np.concatenate(all_s)
        both = y_all.any() and not y_all.all()
        pooled["roc_auc"] = float(roc_auc_score(y_all, s_all)) if both else float("nan")
        stats["histograms"] = np.array(hists)
        reliability = reliability_curve(y_all, s_all)
    if has_fractions:
        sums = np.sum(fracs, axis=0)
        pooled.update({k: float(v) for k, v in metrics_from_fraction_sums(sums).items()})
        stats["fractions"] = np.array(fracs)
    metric_names = [m for m in METRICS if m in pooled]
    per_patient_values = {m: np.array([r[m] for r in rows], dtype=np.float64) for m in metric_names}
    patient_mean = {
        m: float(np.nanmean(v)) if np.isfinite(v).any() else float("nan")
        for m, v in per_patient_values.items()
    }
    rng = np.random.default_rng(seed)
    ci, ci_mean = _bootstrap(stats, per_patient_values, tumor_index, n_bootstrap, rng)
    return Evaluation(
        scheme=scheme,
        optimistic=optimistic,
        classifier=classifier,
        preprocessing=preprocessing,
        class_names=names,
        tumor_class=tumor_class,
        folds=folds,
        per_patient=rows,
        pooled=pooled,
        patient_mean=patient_mean,
        ci={m: ci[m] for m in metric_names if m in ci},
        ci_patient_mean={m: ci_mean[m] for m in metric_names if m in ci_mean},
        confusion=confusion,
        classes=classes,
        reliability=reliability,
        predictions=predictions,
        n_bootstrap=n_bootstrap,
        random_state=seed,
    )
