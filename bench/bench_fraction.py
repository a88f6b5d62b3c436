"""Where the learned tumor-fraction estimator's error comes from, on simulated cohorts.

SIMULATED data (``hsi_tumor.datasets.simulate_cohort``, issue 16's simulator), not
measurements. The learned estimator with partial-volume truth (``train_fraction``'s default
on simulated specimens) reaches a pooled fuzzy Dice of about 0.5 leave-one-patient-out where
issue 15 asks 0.85. This script measures why, and what does not help:

1. **Same patients, unseen pixels** against **unseen patients.** The 8 specimens of the
   default cohort are cut into 12 x 12-pixel blocks in a checkerboard; a model trained on the
   white blocks of all 8 is scored on their black blocks. Leave-one-patient-out is scored on
   the same 8 specimens (whole).
2. **More training patients.** A cohort of 32 (its first 8 are the default cohort); each of
   the first 8 is estimated by a model trained on the other 7, 15 or 31.
3. **Feature levers**, leave-one-patient-out on 4 cohorts of 8 (seeds 0–3): the features of
   ``train_fraction`` (20 principal components, Gaussian context σ = 1) against 5, 10 or 40
   components, context at σ = 1, 2 and 4, each specimen's scores standardised over the
   specimen (median, 1.4826 × MAD), both, and a more regularised regressor.
4. **An oracle bound for partial pixels**: each partial pixel of the default cohort unmixed
   (sum-to-one least squares of the reflectance, clipped to [0, 1]) with two endmembers known
   from the truth: the mean spectrum of the pure tumor (f = 1) and of the normal (f = 0)
   tissue pixels within 3 pixels of it. Not an estimator (it reads the truth): it says how
   well a spectrum at the border can tell its area fraction at all.
5. **Per-specimen standardisation on a small cohort**: 3 training patients of 48 x 60 pixels
   (``simulate_cohort(4, seed=3, ...)``, one of them 23 % tumor), the held-out patient's mean
   estimate on pure tumor and on normal tissue.

Every model here is the learned estimator's fraction regressor as ``train_fraction`` builds it
(SNV spectra minus the specimen's median SNV spectrum over its ``tissue`` mask, PCA fitted on
the training pixels, ``HistGradientBoostingRegressor(max_iter=300)`` on the partial-volume
truth of at most 60,000 training pixels spread evenly over the training specimens), through
the package's own feature functions, without the interval's quantile regressors and their
conformal calibration (the point estimate does not depend on them). Scores over each held-out
specimen's ``tissue`` pixels, pooled: fuzzy Dice ``2 Σ min(e, f) / (Σ e + Σ f)``, area error
``(Σ e − Σ f) / Σ f``, the range of the per-patient area errors, the estimate summed over
pixels without tumor (f = 0) as a share of the true tumor area, and the mean absolute error on
partial pixels (0 < f < 1), also split into the borders of exposed tumors and of tumors under
mucosa (the simulator blurs a covered tumor's signal sideways, σ = 0.5 × the cover per mm)
and set beside that of a constant 0.5 on the same pixels.

Run: ``python bench/bench_fraction.py [--quick]`` (``--quick``: without part 3, the slow one).
About 11 minutes on 2 cores (``--quick`` 2).
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
from sklearn.decomposition import PCA
from sklearn.ensemble import HistGradientBoostingRegressor

import hsi_tumor as ht
from hsi_tumor.datasets import as_specimens, simulate_cohort
from hsi_tumor.fraction._estimate import reference_and_valid, score_image
from hsi_tumor.fraction._features import context_features, snv
from hsi_tumor.metrics import area_error, fuzzy_dice

#: Training pixels in all (``train_fraction``'s ``max_pixels`` default).
MAX_PIXELS = 60_000
#: The features of ``train_fraction`` (``n_components``, ``context_sigma``).
DEFAULT = {"k": 20, "sigmas": (1.0,), "scale": False, "regressor": {}}
#: The options that make the features (the others are the regressor's).
FEATURES = ("k", "sigmas", "scale")
LEVERS = (
    ("train_fraction's features (20 components, σ 1)", {}),
    ("5 components", {"k": 5}),
    ("10 components", {"k": 10}),
    ("40 components", {"k": 40}),
    ("context σ 1, 2 and 4", {"sigmas": (1.0, 2.0, 4.0)}),
    ("scores standardised per specimen", {"scale": True}),
    ("standardised, σ 1, 2 and 4", {"scale": True, "sigmas": (1.0, 2.0, 4.0)}),
    (
        "regularised regressor",
        {"regressor": {"min_samples_leaf": 200, "l2_regularization": 1.0, "max_leaf_nodes": 15}},
    ),
)


def specimens_of(n: int, seed: int, shape=(96, 120), n_bands: int = 100) -> list:
    """Calibrated simulated specimens with their valid pixels, specimen references and
    covered-tumor pixels (mucosa over the tumor)."""
    cohort = simulate_cohort(n, seed=seed, shape=shape, n_bands=n_bands)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ht.CalibrationWarning)
        specimens = as_specimens(cohort)
    return [
        (s, *reference_and_valid(s.cube, s.tissue, None), np.nan_to_num(c.mucosa_thickness) > 0)
        for s, c in zip(specimens, cohort, strict=True)
    ]


def pixels(specimen) -> np.ndarray:
    return np.asarray(specimen.cube.data, dtype=np.float64).reshape(-1, specimen.cube.shape[2])


def standardised(scores: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Each score centred on its median over the specimen and divided by 1.4826 × its MAD."""
    values = scores[valid]
    centre = np.median(values, axis=0)
    spread = 1.482602218505602 * np.median(np.abs(values - centre), axis=0)
    out = (scores - centre) / np.where(spread > 0, spread, 1.0)
    return np.where(valid[..., None], out, 0.0).astype(np.float32)


def feature_image(entry, pca, k, sigmas, scale) -> np.ndarray:
    specimen, valid, reference = entry[:3]
    scores = score_image(specimen.cube, valid, reference, pca, None)
    if scale:
        scores = standardised(scores, valid)
    parts = [scores, *(context_features(scores, valid, s) for s in sigmas)]
    return np.concatenate(parts, axis=2).reshape(-1, k * (1 + len(sigmas)))


def fit(data, train, picks, *, k, sigmas, scale, regressor, seed=0):
    """The fraction regressor and its PCA, trained on ``picks[i]`` (flat pixel indices) of
    the specimens ``train``."""
    X = np.vstack([snv(pixels(data[i][0])[picks[i]]) - data[i][2] for i in train])
    pca = PCA(k, random_state=seed).fit(X)
    F = np.vstack([feature_image(data[i], pca, k, sigmas, scale)[picks[i]] for i in train])
    y = np.concatenate([data[i][0].tumor_fraction.reshape(-1)[picks[i]] for i in train])
    params = {"max_iter": 300, "random_state": seed, **regressor}
    return pca, HistGradientBoostingRegressor(**params).fit(F, y)


def sample(where: np.ndarray, budget: int, rng) -> np.ndarray:
    index = np.flatnonzero(where.reshape(-1))
    return index if index.size <= budget else np.sort(rng.choice(index, budget, replace=False))


def estimate(entry, pca, regressor, *, k, sigmas, scale) -> np.ndarray:
    image = feature_image(entry, pca, k, sigmas, scale)
    out = np.zeros(entry[1].size)
    ok = entry[1].reshape(-1)
    out[ok] = np.clip(regressor.predict(image[ok]), 0, 1)
    return out.reshape(entry[1].shape)


def scores(pairs) -> dict:
    """Pooled metrics of ``(estimate, truth, covered)`` value triples, and the per-patient
    area range."""
    e, f, covered = (np.concatenate([p[j] for p in pairs]) for j in range(3))
    partial = (f > 0) & (f < 1)
    areas = [area_error(p[0], p[1]) for p in pairs]
    return {
        "dice": fuzzy_dice(e, f),
        "area": area_error(e, f),
        "mae": np.abs(e - f)[partial].mean(),
        "mae_exposed": np.abs(e - f)[partial & ~covered].mean(),
        "mae_covered": np.abs(e - f)[partial & covered].mean(),
        "mae_half": np.abs(0.5 - f)[partial].mean(),
        "false": e[f == 0].sum() / f.sum(),
        "areas": (min(areas), max(areas)),
    }


def row(label: str, m: dict) -> str:
    lo, hi = m["areas"]
    return (
        f"| {label} | {m['dice']:.3f} | {100 * m['area']:+.0f} % | {100 * lo:+.0f} … "
        f"{100 * hi:+.0f} % | {m['false']:.2f} | {m['mae']:.3f} | {m['mae_exposed']:.3f} / "
        f"{m['mae_covered']:.3f} | {m['mae_half']:.3f} |"
    )


HEADER = (
    "| {} | pooled fuzzy Dice | pooled area error | per-patient area error | on normal tissue "
    "| MAE, partial | exposed / covered | constant 0.5 |\n|---|---:|---:|---|---:|---:|---|---:|"
)


def leave_one_out(data, held, pool, options, seed=0) -> dict:
    """Each of ``held`` estimated by a model trained on the other specimens of ``pool``."""
    options = {**DEFAULT, **options}
    rng = np.random.default_rng(seed)
    pairs = []
    for h in held:
        train = [i for i in pool if i != h]
        budget = MAX_PIXELS // len(train)
        picks = {
            i: sample(data[i][1] & np.isfinite(data[i][0].tumor_fraction), budget, rng)
            for i in train
        }
        pca, regressor = fit(data, train, picks, seed=seed, **options)
        e = estimate(data[h], pca, regressor, **{key: options[key] for key in FEATURES})
        tissue = data[h][0].tissue
        pairs.append((e[tissue], data[h][0].tumor_fraction[tissue], data[h][3][tissue]))
    return scores(pairs)


def within_patients(data, seed=0) -> dict:
    """Trained on the white 12 x 12 blocks of every specimen, scored on the black ones."""
    rng = np.random.default_rng(seed)
    rows, cols = np.indices(data[0][1].shape)
    white = (rows // 12 + cols // 12) % 2 == 0
    train = list(range(len(data)))
    budget = MAX_PIXELS // len(train)
    picks = {i: sample(data[i][1] & white, budget, rng) for i in train}
    pca, regressor = fit(data, train, picks, **DEFAULT, seed=seed)
    pairs = []
    for entry in data:
        e = estimate(entry, pca, regressor, **{key: DEFAULT[key] for key in FEATURES})
        test = entry[0].tissue & entry[1] & ~white
        pairs.append((e[test], entry[0].tumor_fraction[test], entry[3][test]))
    return scores(pairs)


def oracle_border(data, radius: int = 3) -> None:
    """Part 4: local two-endmember unmixing of each partial pixel with endmembers from the
    truth (the mean pure tumor and pure normal spectrum within ``radius`` pixels)."""
    errors: dict[bool, list[float]] = {False: [], True: []}
    for specimen, valid, _, covered in data:
        X = np.asarray(specimen.cube.data, dtype=np.float64)
        f = specimen.tumor_fraction
        ok = specimen.tissue & valid
        for r, c in zip(*np.nonzero(ok & (f > 0) & (f < 1)), strict=True):
            window = (
                slice(max(0, r - radius), r + radius + 1),
                slice(max(0, c - radius), c + radius + 1),
            )
            near_f, near_ok, near_x = f[window], ok[window], X[window]
            tumor = near_x[near_ok & (near_f >= 0.999)]
            normal = near_x[near_ok & (near_f == 0)]
            if len(tumor) and len(normal):
                t, n = tumor.mean(axis=0), normal.mean(axis=0)
                estimate = np.clip(np.dot(X[r, c] - n, t - n) / np.dot(t - n, t - n), 0, 1)
                errors[bool(covered[r, c])].append(abs(estimate - f[r, c]))
    print(
        "\n4. Oracle: partial pixels unmixed with the pure spectra within 3 pixels (from the truth)"
    )
    for key, label in ((False, "exposed tumors"), (True, "tumors under mucosa")):
        e = np.asarray(errors[key])
        print(f"  {label:20s} mean absolute error {e.mean():.3f} ({e.size} pixels)")


def small_cohort() -> None:
    data = specimens_of(4, 3, shape=(48, 60), n_bands=40)
    share = [float(entry[0].tumor_fraction[entry[0].tissue].mean()) for entry in data]
    print(
        f"\n5. Small cohort (48 x 60, 40 bands), tumor share {', '.join(f'{x:.2f}' for x in share)}"
    )
    print("trained on the first 3 (6,000 pixels), mean estimate on the 4th:")
    rng = np.random.default_rng(0)
    picks = {i: sample(data[i][1], 2000, rng) for i in range(3)}
    s = data[3][0]
    for label, scale in (("train_fraction's features", False), ("standardised per specimen", True)):
        options = {**DEFAULT, "scale": scale}
        pca, regressor = fit(data, range(3), picks, **options)
        e = estimate(data[3], pca, regressor, **{key: options[key] for key in FEATURES})
        f = s.tumor_fraction
        tumor, normal = e[s.tissue & (f > 0.9)].mean(), e[s.tissue & (f == 0)].mean()
        print(f"  {label:28s} tumor {tumor:.3f}  normal {normal:.3f}  ratio {tumor / normal:.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="without part 3")
    args = parser.parse_args()
    start = time.perf_counter()
    print("SIMULATED data: issue 16's simulator, leave one patient out unless said otherwise")
    data = specimens_of(8, 0)
    print("\n1. Same patients or unseen patients (default cohort, seed 0, 8 patients)")
    print(HEADER.format("scored on"))
    print(row("unseen 12 x 12 blocks of the 8 training patients", within_patients(data)))
    print(
        row(
            "unseen patients (each trained on the 7 others)",
            leave_one_out(data, range(8), range(8), {}),
        )
    )
    big = specimens_of(32, 0)
    print("\n2. Training patients (cohort of 32, seed 0; the first 8 held out in turn)")
    print(HEADER.format("training patients"))
    for n in (8, 16, 32):
        print(row(str(n - 1), leave_one_out(big, range(8), range(n), {})))
    if not args.quick:
        print("\n3. Feature levers, leave one patient out, 4 cohorts of 8 (seeds 0-3)")
        print("| features | pooled fuzzy Dice, seeds 0 / 1 / 2 / 3 | mean ", end="")
        print("| per-patient area, widest |")
        print("|---|---|---:|---|")
        cohorts = [data] + [specimens_of(8, seed) for seed in (1, 2, 3)]
        for label, options in LEVERS:
            results = [leave_one_out(c, range(8), range(8), options) for c in cohorts]
            dice = [r["dice"] for r in results]
            lo = min(r["areas"][0] for r in results)
            hi = max(r["areas"][1] for r in results)
            print(
                f"| {label} | {' / '.join(f'{d:.3f}' for d in dice)} | {np.mean(dice):.3f} | "
                f"{100 * lo:+.0f} … {100 * hi:+.0f} % |"
            )
    oracle_border(data)
    small_cohort()
    print(f"\n({time.perf_counter() - start:.0f} s)")


if __name__ == "__main__":
    main()
