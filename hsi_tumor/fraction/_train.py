"""train_fraction: a tumor-fraction estimator from annotated pure tissue (and partial-volume
truth where a cube carries it)."""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn.cluster import KMeans
from sklearn.decomposition import PCA
from sklearn.ensemble import HistGradientBoostingRegressor

from hsi_tumor._shared.arrays import check_mask
from hsi_tumor._shared.classes import class_name_map, tumor_class
from hsi_tumor._shared.errors import InvalidOptionError, TrainingDataError
from hsi_tumor._shared.progress import progress_bar
from hsi_tumor._shared.version import __version__
from hsi_tumor.cube import Cube
from hsi_tumor.fraction._conformal import calibrate_interval
from hsi_tumor.fraction._estimate import learned_features, reference_and_valid, score_image
from hsi_tumor.fraction._features import reference_pixels, snv
from hsi_tumor.fraction._model import INTERVAL, METHODS, FractionModel
from hsi_tumor.models._domain import TrainingDomain
from hsi_tumor.models._persistence import jsonable
from hsi_tumor.models._train import (
    _as_cubes,
    _as_label_maps,
    _classes,
    _patients,
    _read_pixels,
    _resamplers,
)
from hsi_tumor.specimen import Specimen, class_names_of

logger = logging.getLogger("hsi_tumor.fraction")

__all__ = ["train_fraction"]

_TRUTH = "partial-volume truth (tumor_fraction) of every pixel of the specimens"
_PURE = "annotated pure pixels and synthetic linear mixtures of them"


def _inputs(cubes, label_maps, groups, fractions, masks):
    """Cubes, label maps, patient ids, fraction maps (or None) and masks (or None) per cube."""
    items = [cubes] if isinstance(cubes, Specimen) else cubes
    carried = None
    if (
        not isinstance(items, (Cube, str, os.PathLike))
        and isinstance(items, Sequence)
        and items
        and all(isinstance(s, Specimen) for s in items)
    ):
        for name, value in (("label_maps", label_maps), ("groups", groups), ("masks", masks)):
            if value is not None:
                raise InvalidOptionError(
                    f"{name} given with Specimens, which carry their own",
                    field=name,
                    fix=f"leave {name} out, or give cubes instead of Specimens",
                )
        carried = class_names_of(items)
        truth = [s.tumor_fraction for s in items]
        if isinstance(fractions, str):
            fractions = truth if all(t is not None for t in truth) else None
        masks = [s.tissue for s in items]
        cubes, label_maps, groups = (
            [s.cube for s in items],
            [s.labels for s in items],
            [s.patient for s in items],
        )
    elif isinstance(fractions, str):
        fractions = None
    cube_list = _as_cubes(cubes)
    maps = _as_label_maps(label_maps, cube_list)
    n = len(cube_list)
    masks = [None] * n if masks is None else list(masks)
    if len(masks) != n:
        raise TrainingDataError(
            f"{len(masks)} masks for {n} cubes", field="masks", fix="give one mask per cube"
        )
    masks = [
        check_mask(m, c.shape[:2], field=f"masks[{i}]") if m is not None else None
        for i, (m, c) in enumerate(zip(masks, cube_list, strict=True))
    ]
    if fractions is not None:
        fractions = list(fractions)
        if len(fractions) != n:
            raise TrainingDataError(
                f"{len(fractions)} fraction maps for {n} cubes",
                field="fractions",
                fix="give one (rows, cols) tumor-fraction map per cube, or None",
            )
        checked = []
        for i, (f, c) in enumerate(zip(fractions, cube_list, strict=True)):
            f = np.asarray(f, dtype=np.float64)
            if f.shape != c.shape[:2] or not np.all((f >= 0) & (f <= 1) | np.isnan(f)):
                raise TrainingDataError(
                    f"fractions[{i}] must be a (rows, cols) map of values in [0, 1] the size of "
                    f"its cube {c.shape[:2]}, got shape {f.shape}",
                    field=f"fractions[{i}]",
                    fix="give the tumor fraction of each pixel, or fractions=None",
                )
            checked.append(f)
        fractions = checked
    return cube_list, maps, groups, fractions, masks, carried


def _sample(index: np.ndarray, budget: int, rng: np.random.Generator) -> np.ndarray:
    if index.size <= budget:
        return index
    return np.sort(rng.choice(index, budget, replace=False))


def _endmembers(spectra_by_class, n_endmembers, seed):
    E, classes = [], []
    for c, X in spectra_by_class.items():
        k = min(n_endmembers, len(X))
        if k == 1:
            centres = X.mean(axis=0, keepdims=True)
        else:
            centres = KMeans(k, n_init=4, random_state=seed).fit(X).cluster_centers_
        E.append(centres)
        classes.extend([c] * len(centres))
    return np.vstack(E), np.asarray(classes, dtype=np.int64)


def _regressor(loss: str, quantile: float | None, seed: int) -> HistGradientBoostingRegressor:
    params: dict[str, Any] = {"loss": loss, "max_iter": 300, "random_state": seed}
    if quantile is not None:
        params["quantile"] = quantile
    return HistGradientBoostingRegressor(**params)


def train_fraction(
    cubes,
    label_maps=None,
    *,
    class_names=None,
    groups: Sequence | None = None,
    method: str = "learned",
    fractions="auto",
    masks: Sequence[np.ndarray] | None = None,
    n_endmembers: int = 3,
    n_components: int = 20,
    context_sigma: float | None = 1.0,
    max_pixels: int = 60_000,
    resample: bool = False,
    random_state: int | None = None,
    progress: bool = True,
) -> FractionModel:
    """Train an estimator of the fraction of each pixel's area that is tumor.

    Parameters
    ----------
    cubes : Cube, path, Specimen, or sequence of them
        Calibrated reflectance cubes, one per specimen; or :class:`~hsi_tumor.Specimen`
        objects (their cube, labels, patient, ``tissue`` mask and ``tumor_fraction``).
    label_maps : ndarray or sequence of ndarray, optional
        With cubes: the annotation of each (0 unlabelled; the labelled pixels are taken as
        pure tissue of their class).
    class_names : mapping or sequence, optional
        Names of the class ids; the class named "tumor" is the one whose fraction is estimated.
        Default: the Specimens' names.
    groups : sequence, optional
        Patient id per cube (recorded in the model; the learned estimator's interval is
        calibrated on whole patients held out). Default: the Specimens' patients, else each
        cube is its own patient.
    method : {'learned', 'unmixing'}, default='learned'
        ``'learned'``: gradient-boosted regressors on specimen-referenced SNV spectra
        (Notes); ``'unmixing'``: fully constrained linear unmixing of the reflectance with
        ``n_endmembers`` endmembers per class (MESMA-style, one endmember of each class per
        model).
    fractions : 'auto', None or sequence of ndarray, default='auto'
        Partial-volume truth for the learned estimator: one (rows, cols) tumor-fraction map per
        cube. ``'auto'`` uses the Specimens' ``tumor_fraction`` when every one has it (the
        simulator's specimens do); None trains on annotated pure pixels only.
    masks : sequence of ndarray, optional
        With cubes: each specimen's pixels (the learned estimator's specimen reference is taken
        over them; give what ``estimate_fraction(mask=)`` will get). Default: the Specimens'
        ``tissue``, else every pixel (as ``estimate_fraction``'s default).
    n_endmembers : int, default=3
        Unmixing: endmembers per class (k-means centres of the annotated spectra).
    n_components : int, default=20
        Learned: principal components of the specimen-referenced SNV spectra. Unmixing:
        principal components of the annotated reflectance spectra, whose scores the outlier
        flag's training domain is of.
    context_sigma : float or None, default=1.0
        Learned, with partial-volume truth: σ (pixels) of the neighbourhood mean added to each
        pixel's scores. Ignored (None) without truth, whose synthetic mixtures have no
        neighbourhood.
    max_pixels : int, default=60000
        Training pixels (or synthetic mixtures) in all, spread evenly over the cubes.
    resample : bool, default=False
        Interpolate cubes whose wavelengths differ from the first cube's onto its grid.
    random_state : int, optional
        Seed of the sampling, the mixtures, k-means and the regressors.
    progress : bool, default=True
        A progress bar over the cubes.

    Returns
    -------
    FractionModel

    Raises
    ------
    TrainingDataError
        No tumor class, no pure pixels of the tumor class or of any other class, masks or
        fraction maps of the wrong shape.
    InvalidOptionError
        An unknown method or a bad parameter.

    Notes
    -----
    **Unmixing** treats a pixel's reflectance as the area-weighted sum of pure spectra
    (linear areal mixing: true where the materials sit side by side and little light passes
    from one to the other before leaving the tissue, which holds at a sharp border seen from
    above but not for a tumor under a mucosal layer, where the light crosses both). The
    endmembers are the k-means centres of the annotated pixels of each class; the fraction is
    the sum of the tumor endmembers' abundances of the best-fitting model
    (:func:`~hsi_tumor.fraction._unmixing.unmix`). It is done in reflectance, not absorbance or
    SNV, because the mixing is linear there.

    **Learned.** Each spectrum is SNV-normalised and its specimen's median SNV spectrum is
    subtracted (:mod:`hsi_tumor.fraction._features`); the first ``n_components`` principal
    components of those are the features, with (when ``context_sigma``) their Gaussian
    neighbourhood mean beside them. Three gradient-boosted regressors are fitted: the fraction
    (squared error) and its 5 % and 95 % quantiles (pinball loss), which make the 90 %
    interval. The targets are the partial-volume truth of every specimen pixel when it is
    given; else annotated pure pixels (fraction 0 or 1) and, from each specimen, synthetic
    linear mixtures ``(1 − f) x_other + f x_tumor`` of its annotated reflectance spectra with
    f uniform in (0, 1) (one third pure), which assumes the same linear areal mixing as
    unmixing.

    **The learned interval is calibrated on held-out patients** (conformalized quantile
    regression [2]_): the three regressors are also fitted without each fifth of the training
    patients (grouped cross-fitting, at most 5 folds), each training pixel's conformity score
    (how far its target lies outside the interval predicted without its patient) is computed,
    and per bin of the estimated fraction (0, 0.05, 0.25, 0.5, 0.75, 0.95, 1) the interval is
    widened or narrowed by the finite-sample 90 % quantile of the scores
    (:mod:`hsi_tumor.fraction._conformal`, :attr:`FractionModel.interval_calibration`). Within
    each bin a new patient's pixels are then covered about 90 % of the time; training costs six
    fits instead of one. With one patient there is nothing to hold out and the interval is the
    quantile regressors' own.

    References
    ----------
    .. [1] Z. Liu et al., "A Bayesian approach to tissue-fraction estimation for oncological
       PET segmentation," Phys. Med. Biol. 66, 124002 (2021).
    .. [2] Y. Romano, E. Patterson and E. Candès, "Conformalized quantile regression,"
       Advances in Neural Information Processing Systems 32 (2019).
    """
    if method not in METHODS:
        raise InvalidOptionError(
            f"method={method!r}", field="method", fix=f"use one of {', '.join(METHODS)}"
        )
    for name, value, low in (
        ("n_endmembers", n_endmembers, 1),
        ("n_components", n_components, 1),
        ("max_pixels", max_pixels, 10),
    ):
        if not isinstance(value, (int, np.integer)) or value < low:
            raise InvalidOptionError(
                f"{name}={value!r}", field=name, fix=f"give an integer ≥ {low}"
            )
    cube_list, maps, groups, fractions, masks, carried = _inputs(
        cubes, label_maps, groups, fractions, masks
    )
    patients = _patients(groups, len(cube_list))
    classes = _classes(maps)
    if class_names is None and carried is not None:
        class_names = {int(c): carried.get(int(c), str(c)) for c in classes}
    names = class_name_map(class_names, classes)
    target = tumor_class(names)
    if target is None or target not in names or len(names) < 2:
        raise TrainingDataError(
            f"no tumor class among the classes {names}",
            field="class_names",
            fix="name the tumor class 'tumor' (class_names={1: 'normal', 2: 'tumor'})",
        )
    seed = (
        int(np.random.default_rng().integers(2**31 - 1))
        if random_state is None
        else int(random_state)
    )
    rng = np.random.default_rng(seed)
    resamplers = _resamplers(cube_list, resample)

    per_cube = max(1, max_pixels // len(cube_list))
    target = int(target)
    if method == "unmixing":
        fields, facts = _train_unmixing(
            cube_list,
            maps,
            resamplers,
            classes,
            names,
            target,
            per_cube,
            rng,
            seed,
            n_endmembers,
            n_components,
        )
    else:
        fields, facts = _train_learned(
            cube_list,
            maps,
            masks,
            resamplers,
            fractions,
            target,
            per_cube,
            rng,
            seed,
            n_components,
            context_sigma,
            progress,
            patients or [f"cube {i}" for i in range(len(cube_list))],
        )
    summary = {"random_state": seed, "method": method, "classes": names, **facts}
    return FractionModel(
        method=method,
        wavelengths=np.asarray(cube_list[0].wavelengths, dtype=np.float64),
        class_names=names,
        tumor_class=target,
        training=jsonable(summary),
        patients=tuple(patients or ()),
        version=__version__,
        **fields,
    )


def _train_unmixing(
    cube_list,
    maps,
    resamplers,
    classes,
    names,
    target,
    per_cube,
    rng,
    seed,
    n_endmembers,
    n_components,
):
    """Endmembers: k-means centres of each class's annotated reflectance spectra; the
    training domain of their scores on their first ``n_components`` principal components.

    Returns the unmixing fields of the :class:`FractionModel` and the training facts.
    """
    spectra: dict[int, list[np.ndarray]] = {int(c): [] for c in classes}
    for cube, labels, resampler in zip(cube_list, maps, resamplers, strict=True):
        for c in spectra:
            index = _sample(np.flatnonzero(labels.reshape(-1) == c), per_cube, rng)
            X = _read_pixels(cube, index)
            X = X[np.isfinite(X).all(axis=1)]
            spectra[c].append(X if resampler is None else X @ resampler)
    pooled = {c: np.vstack(v) for c, v in spectra.items() if sum(len(x) for x in v)}
    _check_pure(pooled, target, names)
    E, E_classes = _endmembers(pooled, n_endmembers, seed)
    X = np.vstack(list(pooled.values()))
    # the domain of a PCA of the reflectance, as the learned estimator's and a classifier's:
    # on all the bands its limits flagged 14 % of held-out Indian Pines pixels, 2.7 % on 20
    # components (bench/bench_outlier.py --fractions)
    pca = PCA(min(n_components, X.shape[1], X.shape[0] - 1), random_state=seed).fit(X)
    fields = {
        "endmembers": E,
        "endmember_classes": E_classes,
        "estimators": {"pca": pca},
        "domain": TrainingDomain().fit(pca.transform(X)),
    }
    facts = {
        "targets": "annotated pure pixels (endmembers)",
        "pixels": {names[c]: len(x) for c, x in pooled.items()},
        "n_endmembers": n_endmembers,
    }
    return fields, facts


def _train_learned(
    cube_list,
    maps,
    masks,
    resamplers,
    fractions,
    target,
    per_cube,
    rng,
    seed,
    n_components,
    context_sigma,
    progress,
    cube_patients,
):
    """The learned estimator's PCA and regressors (see :func:`train_fraction`).

    Returns the learned fields of the :class:`FractionModel` and the training facts.
    """
    truth = fractions is not None
    sigma = context_sigma if truth else None
    rows_X: list[np.ndarray] = []  # specimen-referenced SNV spectra of the training pixels
    rows_y: list[np.ndarray] = []
    rows_g: list[np.ndarray] = []  # the patient of each row (conformal calibration)
    rows_d: list[np.ndarray] = []  # real training spectra, for the training domain
    picked: list[np.ndarray | None] = []  # flat pixel index per cube (truth mode)
    refs, valids = [], []
    pure_counts: dict[str, int] = {}
    with progress_bar(
        len(cube_list), desc="fraction training", unit="cube", enabled=progress
    ) as bar:
        for i, (cube, labels, resampler) in enumerate(
            zip(cube_list, maps, resamplers, strict=True)
        ):
            valid, ref = reference_and_valid(cube, masks[i], resampler)
            refs.append(ref)
            valids.append(valid)
            if ref is None:
                picked.append(None)
                bar.update()
                continue
            if truth:
                f = fractions[i].reshape(-1)
                index = _sample(np.flatnonzero(valid.reshape(-1) & np.isfinite(f)), per_cube, rng)
                X = _read_pixels(cube, index)
                X = X if resampler is None else X @ resampler
                rows_X.append(snv(X) - ref)
                rows_d.append(rows_X[-1])
                rows_y.append(f[index])
                rows_g.append(np.full(index.size, i))
                picked.append(index)
            else:
                flat = labels.reshape(-1)
                ok = valid.reshape(-1)
                tumor_index = np.flatnonzero((flat == target) & ok)
                other_index = np.flatnonzero((flat > 0) & (flat != target) & ok)
                pure_counts[f"cube {i}"] = int(tumor_index.size + other_index.size)
                if tumor_index.size == 0 or other_index.size == 0:
                    picked.append(None)
                    bar.update()
                    continue
                n_mix = per_cube
                a = _read_pixels(cube, rng.choice(other_index, n_mix))
                b = _read_pixels(cube, rng.choice(tumor_index, n_mix))
                if resampler is not None:
                    a, b = a @ resampler, b @ resampler
                f = rng.uniform(0.0, 1.0, n_mix)
                f[: n_mix // 6] = 0.0
                f[n_mix // 6 : n_mix // 3] = 1.0
                X = (1.0 - f)[:, None] * a + f[:, None] * b
                rows_X.append(snv(X) - ref)
                rows_d.append(snv(np.vstack([a, b])) - ref)  # the annotated pure pixels
                rows_y.append(f)
                rows_g.append(np.full(n_mix, i))
                picked.append(None)
            bar.update()
    if not rows_X:
        raise TrainingDataError(
            "no cube has valid annotated pixels of the tumor class and of another class"
            if not truth
            else "no cube has valid pixels with a tumor fraction",
            field="label_maps",
            fix="annotate pure tumor and pure non-tumor regions in at least one cube",
        )
    X = np.vstack(rows_X)
    y = np.concatenate(rows_y)
    row_patients = np.asarray(cube_patients, dtype=object)[np.concatenate(rows_g)].astype(str)
    if not truth and not (y > 0).any():
        raise TrainingDataError(
            "no pure tumor pixel", field="label_maps", fix="annotate a pure tumor region"
        )
    k = min(n_components, X.shape[1], X.shape[0] - 1)
    pca = PCA(k, random_state=seed).fit(X)
    if truth:
        features = []
        for cube, ref, valid, index, resampler in zip(
            cube_list, refs, valids, picked, resamplers, strict=True
        ):
            if index is None:
                continue
            scores = score_image(cube, valid, ref, pca, resampler)
            image = learned_features(scores, valid, sigma)
            features.append(image.reshape(-1, image.shape[2])[index])
        F = np.vstack(features)
    else:  # synthetic mixtures: no neighbourhood, no context (sigma is None)
        F = pca.transform(X).astype(np.float32)
    regressors, calibration = _fit_regressors(F, y, row_patients, seed)
    estimators = {"pca": pca, **regressors}
    facts = {
        "targets": _TRUTH if truth else _PURE,
        "reference_pixels": reference_pixels(masks),
        "n_pixels": int(y.size),
        "n_components": int(k),
        "context_sigma": sigma,
        "mean_target": float(y.mean()),
    }
    if pure_counts:
        facts["pure_pixels"] = pure_counts
    fields = {
        "estimators": estimators,
        "context_sigma": sigma,
        # on the scores of real training pixels, as a classifier's on its features: fitted on
        # all 200-odd referenced bands, or on the synthetic mixtures, its limits flagged 11-15 %
        # of held-out Indian Pines pixels of the trained classes (bench/bench_outlier.py)
        "domain": TrainingDomain().fit(pca.transform(np.vstack(rows_d))),
        "interval_calibration": calibration,
    }
    return fields, facts


def _fit_regressors(F, y, row_patients, seed) -> tuple[dict, object]:
    """The fraction and its 5 % and 95 % quantile regressors, and the conformal calibration
    of their interval on patients held out (:func:`calibrate_interval`)."""
    tail = (1.0 - INTERVAL) / 2

    def fit(F_train, y_train) -> dict:
        return {
            "fraction": _regressor("squared_error", None, seed).fit(F_train, y_train),
            "lower": _regressor("quantile", tail, seed).fit(F_train, y_train),
            "upper": _regressor("quantile", 1.0 - tail, seed).fit(F_train, y_train),
        }

    def fit_predict(F_train, y_train, F_test) -> tuple:
        fitted = fit(F_train, y_train)
        return tuple(
            np.clip(fitted[name].predict(F_test), 0, 1) for name in ("fraction", "lower", "upper")
        )

    return fit(F, y), calibrate_interval(F, y, row_patients, fit_predict, level=INTERVAL)


def _check_pure(pooled: dict[int, np.ndarray], target: int, names: dict[int, str]) -> None:
    if target not in pooled:
        raise TrainingDataError(
            f"no valid annotated pixel of the tumor class {names[target]!r}",
            field="label_maps",
            fix="annotate a pure tumor region",
        )
    if len(pooled) < 2:
        raise TrainingDataError(
            "only the tumor class has valid annotated pixels",
            field="label_maps",
            fix="annotate pure non-tumor tissue too",
        )
