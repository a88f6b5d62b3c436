"""Tree ensembles and neighbours: ``classify_cube`` against ``pipeline.predict_proba``.

Two cases, the same threads on both sides (the estimators' ``n_jobs`` = cores; gradient
boosting's OpenMP uses every core; ``classify_cube`` runs with its defaults, threads = cores):

* the simulated 512 x 512 x 224 float32 specimen of ``bench_classify.py`` (its annotation,
  2,000 pixels per class), raw reflectance in;
* Indian Pines (145 x 145 x 200, all 16 classes, 200 labelled pixels per class, fewer where a
  class has fewer; the whole image classified), SNV first.

Models: random forest (200 trees, ``class_weight="balanced"``, as ``train`` makes it), extra
trees (200 trees), histogram gradient boosting (``train``'s recipe) and k nearest neighbours
(9, distance-weighted, standardised; on the simulated cube over its first 128 rows, brute force
being slow). The obvious way is ``pipeline.predict_proba`` of all pixels at once. Prints best
of 3 of each (wall clock, and the process's CPU time over all its threads), their ratios, the
agreement (forests: bitwise probabilities against ``predict_proba`` at ``n_jobs=1``) and the
load average before and after each case. ``compare`` times one fitted pipeline on one cube.
Run: ``python bench/bench_forest.py [--repeat N] [--case simulated|indian-pines]``.
"""

from __future__ import annotations

import argparse
import os
import time
import warnings
from pathlib import Path

import numpy as np
from sklearn.ensemble import (
    ExtraTreesClassifier,
    HistGradientBoostingClassifier,
    RandomForestClassifier,
)
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import hsi_tumor as ht
from hsi_tumor.preprocessing import StandardNormalVariate

INDIAN_PINES = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "indian-pines"


def load() -> str:
    return "load average " + ", ".join(f"{v:.2f}" for v in os.getloadavg())


def best_of(fn, repeat: int):
    """``(result, best wall-clock seconds, best CPU seconds of the process)`` of ``repeat``
    calls; CPU time (all threads) is less disturbed than wall-clock time by other processes."""
    seconds, cpu, result = np.inf, np.inf, None
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        result = fn()
        seconds = min(seconds, time.perf_counter() - t0)
        cpu = min(cpu, time.process_time() - c0)
    return result, seconds, cpu


def models(prefix: list, cores: int) -> dict:
    """The four unfitted pipelines, ``prefix`` (preprocessing steps) first."""
    return {
        "random forest (200 trees)": make_pipeline(
            *prefix,
            RandomForestClassifier(
                n_estimators=200, class_weight="balanced", n_jobs=cores, random_state=0
            ),
        ),
        "extra trees (200 trees)": make_pipeline(
            *prefix, ExtraTreesClassifier(n_estimators=200, n_jobs=cores, random_state=0)
        ),
        "hist gradient boosting": make_pipeline(
            *prefix, HistGradientBoostingClassifier(class_weight="balanced", random_state=0)
        ),
        "kNN (k=9, distance)": make_pipeline(
            *prefix,
            StandardScaler(),
            KNeighborsClassifier(n_neighbors=9, weights="distance", n_jobs=cores),
        ),
    }


def compare(name: str, pipeline, cube: ht.Cube, repeat: int) -> None:
    """Time ``classify_cube`` and ``pipeline.predict_proba`` on every pixel; print one line."""
    pixels = cube.data.reshape(-1, cube.n_bands)
    ht.classify_cube(cube[:2], pipeline, progress=False)  # warm-up: imports, compiled kernels
    result, t_lib, c_lib = best_of(lambda: ht.classify_cube(cube, pipeline, progress=False), repeat)
    proba, t_obvious, c_obvious = best_of(lambda: pipeline.predict_proba(pixels), repeat)
    ours = result.probabilities.reshape(pixels.shape[0], -1)
    final = pipeline[-1]
    if isinstance(final, (RandomForestClassifier, ExtraTreesClassifier)):
        n_jobs = final.n_jobs
        final.set_params(n_jobs=1)  # n_jobs > 1 adds the trees in the order threads finish
        exact = np.array_equal(ours, pipeline.predict_proba(pixels).astype(np.float32))
        final.set_params(n_jobs=n_jobs)
        agreement = f"bitwise = predict_proba(n_jobs=1): {exact}"
    else:
        agreement = f"max |Δp| {np.abs(ours - proba).max():.1e}"
    labels = pipeline.classes_[np.argmax(proba, axis=1)]
    differ = int((result.labels.reshape(-1) != labels).sum())
    print(
        f"  {name:27s} classify_cube {t_lib:6.2f} s   predict_proba {t_obvious:6.2f} s   "
        f"ratio {t_obvious / t_lib:5.1f}x   (CPU {c_lib:5.2f} s vs {c_obvious:5.2f} s: "
        f"{c_obvious / c_lib:4.1f}x)   labels differing {differ}; {agreement}"
    )


def simulated_case(repeat: int, cores: int) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ht.CalibrationWarning)
        spec = ht.simulate_specimen(seed=0, shape=(512, 512), n_bands=224)
    data = np.nan_to_num(spec.cube.data, nan=0.5).astype(np.float32)  # every pixel classified
    cube = ht.Cube(data, spec.cube.wavelengths)
    x, y = _sample(data.reshape(-1, cube.n_bands), spec.labels.reshape(-1), 2000)
    print(f"\nsimulated cube 512x512x224 float32, {np.unique(y).size} classes, {len(y)} "
          f"training pixels, {cores} cores, {load()}")  # fmt: skip
    for name, pipeline in models([], cores).items():
        subset = cube[:128] if name.startswith("kNN") else cube
        compare(name, pipeline.fit(x, y), subset, repeat)
    print(f"  {load()}")


def indian_pines_case(repeat: int, cores: int) -> None:
    if not (INDIAN_PINES / "Indian_pines_corrected.npy").exists():
        print(f"\nIndian Pines: {INDIAN_PINES} is absent, skipped")
        return
    data = np.load(INDIAN_PINES / "Indian_pines_corrected.npy").astype(np.float32)
    gt = np.load(INDIAN_PINES / "Indian_pines_gt.npy")
    cube = ht.Cube(data, np.linspace(400.0, 2500.0, data.shape[2]))
    x, y = _sample(data.reshape(-1, data.shape[2]), gt.reshape(-1), 200)
    print(f"\nIndian Pines 145x145x200 float32 (SNV first), {np.unique(y).size} classes, "
          f"{len(y)} training pixels, {cores} cores, {load()}")  # fmt: skip
    for name, pipeline in models([StandardNormalVariate()], cores).items():
        compare(name, pipeline.fit(x, y), cube, repeat)
    print(f"  {load()}")


def _sample(pixels: np.ndarray, labels: np.ndarray, per_class: int):
    """Up to ``per_class`` labelled pixels of each class (label > 0), seeded."""
    rng = np.random.default_rng(0)
    keep = []
    for c in np.unique(labels[labels > 0]):
        where = np.flatnonzero(labels == c)
        keep.append(rng.choice(where, min(per_class, where.size), replace=False))
    keep = np.concatenate(keep)
    return pixels[keep], labels[keep]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--case", choices=("simulated", "indian-pines"), default=None)
    args = parser.parse_args()
    cores = os.cpu_count() or 1
    if args.case in (None, "simulated"):
        simulated_case(args.repeat, cores)
    if args.case in (None, "indian-pines"):
        indian_pines_case(args.repeat, cores)


if __name__ == "__main__":
    main()
