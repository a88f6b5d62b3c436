"""How often ``TumorMap.outlier`` flags pixels of trained and of never-seen materials.

``hsi_tumor.train`` fits a :class:`~hsi_tumor.models.TrainingDomain` (Hotelling's T² and the Q
residual of a PCA model of the features its classifier sees, limits at a stated confidence)
and ``classify_cube`` flags the pixels outside it. Two measurements, each printed as a table:

**Indian Pines** (real AVIRIS, 200 bands, ``../shared/data``; skipped with a message when
absent): three classes, 6 Grass-trees, 11 Soybean-mintill and 14 Woods, are trained on their
pixels in the top half of the scene (rows 0–71) and held out in the bottom half (rows 73–144),
so that no held-out pixel neighbours a training pixel. Reported: the share of training pixels
flagged, of held-out pixels of the trained classes, and of each of the 13 classes never seen
in training (all their pixels). Models: RBF SVM (C = 10, gamma 'scale', fixed) and LDA, with
SNV and with SNV → PCA(20).

**Simulated cohort** (``simulate_cohort(8, seed=0, shape=(96, 120), n_bands=100)``,
calibrated with ``as_specimens``), leave one patient out: an SVM (SNV → PCA(20), C = 10, gamma
'scale') trained on the annotations of 7 patients classifies the 8th; reported per held-out
patient: the share of its annotated normal and tumor pixels flagged, of its glare pixels that
were classified (the others are saturated: invalid, not classified), and of its background
(never annotated, so never trained on).

**Fraction models** (``--fractions``; ``FractionMap.outlier`` of ``train_fraction``'s
domain, fitted on the spectra its estimator sees): on Indian Pines the same split, Woods named
"tumor" and the two other trained classes its background, a learned estimator (pure pixels +
synthetic mixtures) and unmixing (3 endmembers per class); on the simulated cohort, leave one
patient out, the learned estimator trained on the partial-volume truth of 7 patients (as in
``examples/tumor_fraction_maps.py``), estimated over the held-out specimen (``mask=tissue``,
as the model was trained), so the background is not estimated. (Over the whole image,
``mask=None``, the specimen reference becomes the median of tissue and background, and every
pixel is flagged: the flag then says, rightly, that the spectra do not look like training.)

**Empirical limits** (``--empirical-limits``; measured, not adopted): on the same Indian
Pines split, the parametric limits against limits set from out-of-fold statistics of the
training features (5 folds: each fold's T² and Q from a domain fitted on the other four, same
number of components), either moment-matched (``g χ²_h`` with the out-of-fold mean and
variance: Box 1954, as Nomikos & MacGregor 1995 set Q limits from reference data) or their
empirical quantile, each at the confidence √0.999 as in ``TrainingDomain``.

Each setting of the domain is given as ``n_components`` / ``confidence``: the default of
``train`` (0.99 / 0.999) and, for comparison, 0.99 / 0.99 (refitted on the same training
features). Run: ``python bench/bench_outlier.py [--quick] [--fractions] [--empirical-limits]``
(``--quick``: the default setting only, 3 held-out patients; ``--fractions``: the fraction
models only; ``--empirical-limits``: that comparison only).
"""

from __future__ import annotations

import argparse
import warnings
from pathlib import Path

import numpy as np

import hsi_tumor as ht
from hsi_tumor.datasets import as_specimens, simulate_cohort
from hsi_tumor.models import TrainingDomain

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "indian-pines"
TRAINED = (6, 11, 14)
PINES_NAMES = {
    1: "Alfalfa",
    2: "Corn-notill",
    3: "Corn-mintill",
    4: "Corn",
    5: "Grass-pasture",
    6: "Grass-trees",
    7: "Grass-pasture-mowed",
    8: "Hay-windrowed",
    9: "Oats",
    10: "Soybean-notill",
    11: "Soybean-mintill",
    12: "Soybean-clean",
    13: "Wheat",
    14: "Woods",
    15: "Buildings-Grass-Trees-Drives",
    16: "Stone-Steel-Towers",
}
SETTINGS = ((0.99, 0.999), (0.99, 0.99))
SVM = {"classifier": "svm", "classifier_params": {"C": 10.0, "gamma": "scale"}}


def refit(model, spectra: np.ndarray, n_components, confidence):
    """``model`` with its domain refitted at another setting (same training features)."""
    if (n_components, confidence) == (0.99, 0.999):
        return model
    features = model.pipeline[:-1].transform(spectra)
    domain = TrainingDomain(n_components=n_components, confidence=confidence).fit(features)
    return ht.TumorModel(
        model.pipeline,
        model.wavelengths,
        model.class_names,
        preprocessing=model.preprocessing,
        classifier=model.classifier,
        training=model.training,
        domain=domain,
    )


def pct(flags: np.ndarray) -> str:
    return f"{100 * flags.mean():5.1f}" if flags.size else "    –"


def pines_split():
    """Indian Pines (reflectance 0..1), its truth, the training labels (the trained classes in
    the top half), the held-out pixels (their bottom half) and the classes never trained."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cube = ht.read_cube(
            DATA / "Indian_pines_corrected.npy",
            wavelengths=DATA / "Indian_pines_corrected_bands.csv",
        ).load()
    cube = ht.Cube(np.ascontiguousarray(cube.data, dtype=np.float32) / 10_000, cube.wavelengths)
    truth = np.load(DATA / "Indian_pines_gt.npy").astype(int)
    rows = np.broadcast_to(np.arange(truth.shape[0])[:, None], truth.shape)
    train_labels = np.where(np.isin(truth, TRAINED) & (rows < 72), truth, 0)
    held = np.isin(truth, TRAINED) & (rows > 72)
    unseen = [c for c in PINES_NAMES if c not in TRAINED]
    return cube, truth, train_labels, held, unseen


def simulated_cohort():
    """The default simulated cohort and its calibrated specimens."""
    cohort = simulate_cohort(8, seed=0, shape=(96, 120), n_bands=100)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ht.CalibrationWarning)
        specimens = as_specimens(cohort)
    return cohort, specimens


def pines_models(cube, train_labels):
    """``(name, model)`` of the four Indian Pines models: SVM and LDA, on SNV and SNV → PCA."""
    for preprocessing in (("snv",), ("snv", "pca")):
        for options in (SVM, {"classifier": "lda"}):
            model = ht.train(
                cube,
                train_labels,
                preprocessing=preprocessing,
                random_state=0,
                progress=False,
                **options,
            )
            yield f"{' → '.join(preprocessing)} → {options['classifier']}", model


def indian_pines(settings) -> None:
    if not DATA.exists():
        print(f"Indian Pines skipped: {DATA} is absent")
        return
    cube, truth, train_labels, held, unseen = pines_split()
    spectra = cube.pixels()[train_labels.reshape(-1) > 0].astype(np.float64)

    print(
        f"Indian Pines: trained on {', '.join(PINES_NAMES[c] for c in TRAINED)} "
        f"(top half, {int((train_labels > 0).sum())} pixels); % of pixels flagged outside "
        "the training domain"
    )
    header = f"{'model':24s} {'n_comp/conf':>12s} {'k':>3s} {'train':>6s} {'held':>6s}"
    header += "".join(f" {c:>5d}" for c in unseen)
    print(header)
    for name, model in pines_models(cube, train_labels):
        for n_components, confidence in settings:
            m = refit(model, spectra, n_components, confidence)
            flags = ht.classify_cube(cube, m, progress=False).outlier
            line = (
                f"{name:24s} {n_components:>5g}/{confidence:<6g} {m.domain.n_components_:3d}"
                f" {pct(flags[train_labels > 0])} {pct(flags[held])}"
            )
            line += "".join(f" {pct(flags[truth == c])}" for c in unseen)
            print(line, flush=True)
    print("unseen classes: " + "; ".join(f"{c} {PINES_NAMES[c]}" for c in unseen))


def simulated(settings, n_held: int) -> None:
    cohort, specimens = simulated_cohort()
    print(
        "\nSimulated cohort (8 patients, 96 x 120, 100 bands), leave one patient out, "
        "SNV → PCA(20) → SVM; % of the held-out patient's pixels flagged"
    )
    print(
        f"{'patient':8s} {'n_comp/conf':>12s} {'k':>3s} {'normal':>7s} {'tumor':>7s} "
        f"{'glare':>7s} {'glare classified':>17s} {'background':>11s}"
    )
    totals: dict = {}
    for i in range(n_held):
        train_set = [s for j, s in enumerate(specimens) if j != i]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ht.CalibrationWarning)
            model = ht.train(train_set, random_state=0, progress=False, **SVM)
        spectra = np.concatenate(
            [
                s.cube.pixels()[(s.labels.reshape(-1) > 0) & np.isfinite(s.cube.pixels()).all(1)]
                for s in train_set
            ]
        ).astype(np.float64)
        held, truth = specimens[i], cohort[i]
        for n_components, confidence in settings:
            m = refit(model, spectra, n_components, confidence)
            result = ht.classify_cube(held.cube, m, progress=False)
            flags, valid = result.outlier, result.valid
            parts = {
                "normal": flags[(held.labels == 1) & valid],
                "tumor": flags[(held.labels == 2) & valid],
                "glare": flags[truth.glare & valid],
                "background": flags[(truth.true_labels == 0) & valid],
            }
            glare_seen = f"{int((truth.glare & valid).sum())} of {int(truth.glare.sum())}"
            print(
                f"{held.patient:8s} {n_components:>5g}/{confidence:<6g} "
                f"{m.domain.n_components_:3d} {pct(parts['normal']):>7s} "
                f"{pct(parts['tumor']):>7s} {pct(parts['glare']):>7s} {glare_seen:>17s} "
                f"{pct(parts['background']):>11s}",
                flush=True,
            )
            for key, value in parts.items():
                totals.setdefault((n_components, confidence), {}).setdefault(key, []).append(value)
    for (n_components, confidence), parts in totals.items():
        pooled = {k: np.concatenate(v) for k, v in parts.items()}
        print(
            f"{'all':8s} {n_components:>5g}/{confidence:<6g} {'':3s} "
            f"{pct(pooled['normal']):>7s} {pct(pooled['tumor']):>7s} "
            f"{pct(pooled['glare']):>7s} {'':>17s} {pct(pooled['background']):>11s}"
        )


def fraction_pines() -> None:
    if not DATA.exists():
        print(f"Indian Pines (fraction models) skipped: {DATA} is absent")
        return
    cube, truth, train_labels, held, unseen = pines_split()
    names = {6: "grass-trees", 11: "soybean-mintill", 14: "tumor"}  # Woods as the "tumor"
    print(
        "\nIndian Pines, fraction models (Woods named tumor): % of pixels flagged outside the "
        "training domain"
    )
    header = f"{'model':34s} {'train':>6s} {'held':>6s}" + "".join(f" {c:>5d}" for c in unseen)
    print(header)
    for label, options in (
        ("learned (pure + mixtures)", {"method": "learned", "fractions": None}),
        ("unmixing (3 endmembers)", {"method": "unmixing"}),
    ):
        model = ht.train_fraction(
            [cube], [train_labels], class_names=names, random_state=0, progress=False, **options
        )
        flags = ht.estimate_fraction(cube, model, progress=False).outlier
        line = f"{label:34s} {pct(flags[train_labels > 0])} {pct(flags[held])}"
        line += "".join(f" {pct(flags[truth == c])}" for c in unseen)
        print(line, flush=True)


def fraction_simulated(n_held: int) -> None:
    cohort, specimens = simulated_cohort()
    print(
        "\nSimulated cohort, fraction model (learned, partial-volume truth of 7 patients), "
        "leave one patient out; % of the held-out patient's pixels flagged"
    )
    print(
        f"{'patient':8s} {'normal':>7s} {'tumor':>7s} {'tissue':>7s} {'glare':>7s} "
        f"{'glare estimated':>16s}"
    )
    totals: dict[str, list] = {}
    for i in range(n_held):
        train_set = [s for j, s in enumerate(specimens) if j != i]
        model = ht.train_fraction(train_set, random_state=0, progress=False)
        held, truth = specimens[i], cohort[i]
        result = ht.estimate_fraction(held.cube, model, mask=held.tissue, progress=False)
        flags, valid = result.outlier, result.valid
        parts = {
            "normal": flags[(held.labels == 1) & valid],
            "tumor": flags[(held.labels == 2) & valid],
            "tissue": flags[held.tissue & ~truth.glare & valid],
            "glare": flags[truth.glare & valid],
        }
        seen = f"{int((truth.glare & valid).sum())} of {int((truth.glare & held.tissue).sum())}"
        print(
            f"{held.patient:8s} {pct(parts['normal']):>7s} {pct(parts['tumor']):>7s} "
            f"{pct(parts['tissue']):>7s} {pct(parts['glare']):>7s} {seen:>16s}",
            flush=True,
        )
        for key, value in parts.items():
            totals.setdefault(key, []).append(value)
    pooled = {k: np.concatenate(v) for k, v in totals.items()}
    print(
        f"{'all':8s} {pct(pooled['normal']):>7s} {pct(pooled['tumor']):>7s} "
        f"{pct(pooled['tissue']):>7s} {pct(pooled['glare']):>7s}"
    )


def out_of_fold_statistics(features: np.ndarray, n_components: int, folds: int = 5):
    """T² and Q of each training spectrum from a domain fitted without its fold."""
    fold = np.random.default_rng(0).permutation(len(features)) % folds
    t2, q = np.empty(len(features)), np.empty(len(features))
    for f in range(folds):
        domain = TrainingDomain(n_components=n_components).fit(features[fold != f])
        t2[fold == f], q[fold == f] = domain.statistics(features[fold == f])
    return t2, q


def moment_matched_limit(values: np.ndarray, confidence: float) -> float:
    """``g χ²_h(confidence)`` with ``g h`` and ``2 g² h`` the values' mean and variance."""
    from scipy import stats

    mean, var = values.mean(), values.var()
    return float(var / (2 * mean) * stats.chi2.ppf(confidence, 2 * mean**2 / var))


def empirical_limits() -> None:
    if not DATA.exists():
        print(f"Indian Pines skipped: {DATA} is absent")
        return
    cube, truth, train_labels, held, unseen = pines_split()
    pixels = cube.pixels().astype(np.float64)
    trained = train_labels.reshape(-1) > 0
    print(
        "Indian Pines, parametric against out-of-fold limits; % of pixels flagged "
        "(unseen classes as in the first table)"
    )
    header = f"{'model':24s} {'limits':>15s} {'k':>3s} {'train':>6s} {'held':>6s}"
    print(header + "".join(f" {c:>5d}" for c in unseen))
    for name, model in pines_models(cube, train_labels):
        domain = model.domain
        features = np.asarray(model.pipeline[:-1].transform(pixels), dtype=np.float64)
        t2, q = domain.statistics(features)
        oof_t2, oof_q = out_of_fold_statistics(features[trained], domain.n_components_)
        c = domain.statistic_confidence_
        limits = {
            "parametric": (domain.t2_limit_, domain.q_limit_),
            "moment-matched": (moment_matched_limit(oof_t2, c), moment_matched_limit(oof_q, c)),
            "quantile": (np.quantile(oof_t2, c), np.quantile(oof_q, c)),
        }
        for label, (t2_limit, q_limit) in limits.items():
            flags = ((t2 > t2_limit) | (q > q_limit)).reshape(truth.shape)
            line = (
                f"{name:24s} {label:>15s} {domain.n_components_:3d}"
                f" {pct(flags[train_labels > 0])} {pct(flags[held])}"
            )
            print(line + "".join(f" {pct(flags[truth == u])}" for u in unseen), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="default setting, 3 patients")
    parser.add_argument("--fractions", action="store_true", help="the fraction models' flag only")
    parser.add_argument(
        "--empirical-limits", action="store_true", help="parametric vs out-of-fold limits only"
    )
    args = parser.parse_args()
    n_held = 3 if args.quick else 8
    if args.empirical_limits:
        empirical_limits()
        return
    if args.fractions:
        fraction_pines()
        fraction_simulated(n_held)
        return
    settings = SETTINGS[:1] if args.quick else SETTINGS
    indian_pines(settings)
    simulated(settings, n_held)


if __name__ == "__main__":
    main()
