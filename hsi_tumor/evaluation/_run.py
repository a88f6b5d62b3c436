"""Running the folds of an evaluation: one fold trains on its training pixels and classifies its
test specimens (:func:`_run_fold`, a plain function of its arguments), and all folds run here one
after another or as Dask tasks (:func:`_run_all`); a specimen's results from several folds are
merged into one :class:`~hsi_tumor.evaluation.Prediction`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from hsi_tumor._shared.progress import progress_bar
from hsi_tumor.datasets._specimen import Specimen
from hsi_tumor.evaluation._results import Fold, Prediction
from hsi_tumor.fraction import FractionMap, estimate_fraction, train_fraction
from hsi_tumor.inference import TumorMap, classify_cube
from hsi_tumor.metrics._fraction import fraction_estimate_sums
from hsi_tumor.metrics._scores import fraction_sums
from hsi_tumor.models import train


def _masked_labels(specimen: Specimen, flat: np.ndarray) -> np.ndarray:
    out = np.zeros(specimen.labels.size, dtype=specimen.labels.dtype)
    out[flat] = specimen.labels.reshape(-1)[flat]
    return out.reshape(specimen.labels.shape)


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
    fraction: dict[str, Any] | None = None  # train_fraction's arguments, or no fraction


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
    fraction_map: FractionMap | None = None
    fraction_estimate_sums: np.ndarray | None = None


def _run_fold(
    k: int,
    specimens: list[Specimen],
    train_flat,
    test_flat,
    settings: _Settings,
    progress: bool = False,
):
    """Train on one fold's training pixels, classify its test specimens.

    Returns ``(fold, tested, preprocessing description, classifier name, fraction estimator
    description or None)``; with ``settings.fraction``, a fraction model is trained on the
    training patients' whole specimens and estimates each test specimen. A plain function
    of its arguments, so it runs the same in this process and as a Dask task. ``progress``
    shows the training's bar (an inner bar, under the folds'); never in a Dask task.
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
        progress=progress,
    )
    tested = [i for i, f in enumerate(test_flat) if f is not None and f.size]
    fraction_model = None
    if settings.fraction is not None:  # patient-wise schemes only: whole specimens held out
        fraction_model = train_fraction(
            [specimens[i] for i in used],
            **settings.fraction,
            class_names=settings.names,
            resample=settings.resample,
            random_state=settings.seed + k,
            progress=False,
        )
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
            spec.cube,
            model,
            mask=mask,
            resample=settings.resample,
            n_jobs=settings.n_jobs,
            progress=False,  # a test specimen takes well under a second
        )
        score = sums = None
        if settings.tumor_class is not None and result.probabilities is not None:
            score = result.tumor_probability.reshape(-1)[flat].astype(np.float64)
            if settings.patient_wise and spec.tumor_fraction is not None:
                sums = fraction_sums(result.tumor_probability, spec.tumor_fraction, mask)
        estimated = estimate_sums = None
        if fraction_model is not None:  # over the whole specimen: its median is the reference
            whole_mask = None if spec.tissue is None else spec.tissue | (spec.labels > 0)
            estimated = estimate_fraction(
                spec.cube,
                fraction_model,
                mask="tissue" if whole_mask is None else whole_mask,
                resample=settings.resample,
                progress=False,
            )
            if spec.tumor_fraction is not None:
                estimate_sums = fraction_estimate_sums(
                    estimated.fraction,
                    spec.tumor_fraction,
                    whole_mask,
                    lower=estimated.lower,
                    upper=estimated.upper,
                )
        out.append(
            _Tested(
                i,
                flat,
                spec.labels.reshape(-1)[flat].astype(np.int64),
                result.labels.reshape(-1)[flat].astype(np.int64),
                score,
                result if (settings.keep_maps and whole) else None,
                sums,
                estimated if settings.keep_maps else None,
                estimate_sums,
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
    described = None
    if fraction_model is not None:
        described = f"{fraction_model.method}, trained on {fraction_model.training['targets']}"
    return fold, out, model.preprocessing, model.classifier, described


def _run_all(jobs: list[tuple], specimens: list[Specimen], client, progress: bool) -> list:
    """Run ``_run_fold(*job)`` for every job: here, or as Dask tasks on ``client``; a progress
    bar over the folds (and here, each fold's training bar under it)."""
    with progress_bar(len(jobs), desc="evaluate", unit="fold", enabled=progress) as bar:
        if client is None:
            results = []
            for k, train_flat, test_flat, settings in jobs:
                results.append(_run_fold(k, specimens, train_flat, test_flat, settings, progress))
                bar.update(1)
            return results
        from distributed import as_completed

        shared = client.scatter(specimens, broadcast=False)
        futures = [
            client.submit(_run_fold, k, shared, tr, te, settings, pure=False)
            for k, tr, te, settings in jobs
        ]
        for _ in as_completed(futures, loop=client.loop):  # the client's, default or not
            bar.update(1)
        return client.gather(futures)


def _merge(parts: list[Prediction]) -> Prediction:
    """One specimen's predictions over the folds that tested it (random pixel folds)."""
    if len(parts) == 1:
        return parts[0]
    scores = [p.tumor_score for p in parts]
    return Prediction(  # random pixel folds: no whole-specimen maps or fractions
        parts[0].specimen,
        np.concatenate([p.flat for p in parts]),
        np.concatenate([p.y_true for p in parts]),
        np.concatenate([p.y_pred for p in parts]),
        None if any(s is None for s in scores) else np.concatenate(scores),
    )
