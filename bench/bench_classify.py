"""Whole-cube classification: the obvious scikit-learn way vs ``hsi_tumor.classify_cube``.

Simulated section: a 512 x 512 x 224 float32 reflectance specimen (``simulate_specimen``) and
three models trained with ``hsi_tumor.train`` on its annotation (hyperparameters fixed so that
the bench measures classification, not the search):

* SNV → PCA(20) → standardise → RBF SVM, probabilities by ``CalibratedClassifierCV``;
* SNV → standardise → the same SVM on all 224 bands;
* random forest (200 trees, ``n_jobs`` = cores).

Real section (``--real``, or ``--real-only``; skipped with a message when ``../shared/data`` is
absent): Indian Pines (AVIRIS, 200 bands, reflectance x 10,000 scaled to [0, 1], tiled 2 x 2 to
290 x 290 pixels) with RBF SVMs for classes 2 vs 11, 4 classes (2, 10, 11, 14) and all 16, each
with SNV and SNV+PCA, a random forest on all 16 classes, and LDA (2 and 16 classes, SNV and
SNV+PCA: a linear model, far cheaper than a kernel); the mayonnaise NIR spectra (R package
``pls``, 351 bands 1100–2500 nm; soybean vs sunflower oil) tiled to a 256 x 256 cube, SVM with
SNV+PCA and a random forest with SNV. These models train on real spectra, so their support
vectors, error bounds and decision margins are those real data give, not the simulator's.

The obvious way is ``pipeline.predict_proba(cube.reshape(-1, bands))`` (labels as its argmax,
which is what ``predict`` returns for these models); ``classify_cube`` is run with its defaults
(threads = cores). Both are warmed up on 8 rows first (the first call of ``predict_proba`` in
a process costs about 0.6 s more). Prints throughput (pixels/s) of both (``classify_cube``:
best of 3; the obvious way too when it takes under 3 s), their ratio, peak extra memory
(tracemalloc, in a separate run: numpy buffers, not the input), the agreement of labels and
probabilities, and how many pixels the fast path handed back to scikit-learn; the load
average is printed before and after (timings need a quiet machine). For a model with a
training domain (every model ``ht.train`` makes), ``classify_cube`` also computes the outlier
flag (``TumorMap.outlier``), which the obvious way does not: a second line times it without
(``model.domain`` set to None) and gives the flag's share.
Run: ``python bench/bench_classify.py [--size ROWS COLS BANDS] [--real | --real-only]``.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import time
import tracemalloc
import warnings
from pathlib import Path

import numpy as np

import hsi_tumor as ht
from hsi_tumor.datasets import CLASS_NAMES
from hsi_tumor.inference._fast import fast_predictor


def best_time(fn, repeat: int) -> float:
    """The shortest of ``repeat`` timed calls of ``fn``, in seconds."""
    seconds = np.inf
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        seconds = min(seconds, time.perf_counter() - t0)
    return seconds


def measure(fn, repeat: int = 1):
    """``(result, best time, peak extra memory)``: timed ``repeat`` times, then run once more
    under tracemalloc for the peak (tracing slows allocation-heavy code by a quarter)."""
    seconds = best_time(fn, repeat)
    tracemalloc.start()
    result = fn()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return result, seconds, peak


def load() -> str:
    return "load average " + ", ".join(f"{v:.2f}" for v in os.getloadavg())


def obvious(cube: ht.Cube, model: ht.TumorModel):
    pixels = cube.data.reshape(-1, cube.n_bands)
    proba = model.pipeline.predict_proba(pixels)
    return model.classes[np.argmax(proba, axis=1)], proba


def compare(name: str, cube: ht.Cube, model: ht.TumorModel) -> float:
    """Print the obvious way and ``classify_cube`` on ``cube``; return their ratio."""
    n = cube.n_rows * cube.n_cols
    final = model.pipeline[-1]
    detail = ""
    if hasattr(final, "calibrated_classifiers_"):
        svc = final.calibrated_classifiers_[0].estimator
        detail = f", {svc.support_.size} support vectors"
    fast = fast_predictor(model.pipeline)
    obvious(cube[:8], model)  # warm-up, as for classify_cube (a first call costs ~0.6 s more)
    (ref_labels, ref_proba), t_obvious, m_obvious = measure(lambda: obvious(cube, model))
    if t_obvious < 3:  # quick (forests on threads vary by ±40 %): best of 3, as classify_cube
        t_obvious = min(t_obvious, measure(lambda: obvious(cube, model), repeat=2)[1])
    print(f"\n{name}{detail}")
    print(
        f"  obvious way          {n / t_obvious:12,.0f} px/s  ({t_obvious:6.2f} s)  peak "
        f"{m_obvious / 2**20:7.1f} MiB"
    )
    ht.classify_cube(cube[:8], model, progress=False)  # warm-up (imports, compiled kernels)
    result, t_lib, m_lib = measure(lambda: ht.classify_cube(cube, model, progress=False), repeat=3)
    lib_labels = result.labels.reshape(-1)
    lib_proba = result.probabilities.reshape(n, -1)
    differ = int((lib_labels != ref_labels).sum())
    handed = ""
    if fast is not None:  # a fresh predictor on the whole cube: pixels it hands to scikit-learn
        fast(np.ascontiguousarray(cube.data.reshape(n, -1)))
        handed = f"; {fast.n_reevaluated} px to scikit-learn"
    path = "fast" if fast is not None else type(final).__name__
    print(
        f"  classify_cube        {n / t_lib:12,.0f} px/s  ({t_lib:6.2f} s)  peak "
        f"{m_lib / 2**20:7.1f} MiB  ratio {t_obvious / t_lib:.1f}x ({path} path); labels "
        f"differing: {differ} of {n}; max |Δp| {np.abs(lib_proba - ref_proba).max():.1e}{handed}"
    )
    if model.domain is not None:  # what the outlier flag (TumorMap.outlier) costs
        bare = dataclasses.replace(model, domain=None)
        ht.classify_cube(cube[:8], bare, progress=False)
        t_bare = best_time(lambda: ht.classify_cube(cube, bare, progress=False), 3)
        print(
            f"  without the flag     {n / t_bare:12,.0f} px/s  ({t_bare:6.2f} s)  ratio "
            f"{t_obvious / t_bare:.1f}x; the flag adds {100 * (t_lib / t_bare - 1):.0f} %"
        )
    return t_obvious / t_lib


SVM = {"classifier": "svm", "classifier_params": {"C": 10.0, "gamma": "scale"}}


def forest() -> dict:
    return {
        "classifier": "random-forest",
        "classifier_params": {"n_estimators": 200, "n_jobs": os.cpu_count()},
    }


def simulated(size: tuple[int, int, int]) -> None:
    rows, cols, bands = size
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ht.CalibrationWarning)
        spec = ht.simulate_specimen(seed=0, shape=(rows, cols), n_bands=bands)
    cube = spec.cube  # calibrated at simulation
    data = np.nan_to_num(cube.data, nan=0.5).astype(np.float32)  # every pixel classified
    cube = ht.Cube(data, cube.wavelengths)
    print(f"\n## simulated cube {rows}x{cols}x{bands} float32 ({cube.nbytes / 2**20:.0f} MiB)")
    configs = [
        ("SNV→PCA(20)→RBF-SVM", dict(SVM, preprocessing=("snv", "pca"))),
        ("SNV→RBF-SVM (all bands)", dict(SVM, preprocessing=("snv",))),
        ("random forest (200 trees)", dict(forest(), preprocessing=())),
    ]
    for name, options in configs:
        model = ht.train(
            cube,
            spec.labels,
            class_names=CLASS_NAMES,
            max_pixels_per_class=2000,
            random_state=0,
            progress=False,
            **options,
        )
        compare(name, cube, model)


SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"


def indian_pines() -> tuple[ht.Cube, np.ndarray]:
    folder = SHARED / "indian-pines"
    cube = ht.read_cube(
        folder / "Indian_pines_corrected.npy",
        wavelengths=folder / "Indian_pines_corrected_bands.csv",
    ).load()
    data = np.ascontiguousarray(cube.data, dtype=np.float32) / 10_000
    return ht.Cube(data, cube.wavelengths), np.load(folder / "Indian_pines_gt.npy").astype(int)


def mayonnaise() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(spectra, oil type, wavelengths)`` of the 162 mayonnaise spectra."""
    table = np.genfromtxt(SHARED / "nir-pls-r" / "mayonnaise.csv", delimiter=",", names=True)
    names = table.dtype.names
    bands = [c for c in names if c.endswith("nm")]
    spectra = np.stack([table[c] for c in bands], axis=1).astype(np.float32)
    return spectra, table["oil_type"].astype(int), np.array([float(c[:-2]) for c in bands])


def real() -> None:
    if not (SHARED / "indian-pines").is_dir() or not (SHARED / "nir-pls-r").is_dir():
        print(f"\n## real data: skipped ({SHARED} with indian-pines/ and nir-pls-r/ is absent)")
        return
    cube, truth = indian_pines()
    big = ht.Cube(np.ascontiguousarray(np.tile(cube.data, (2, 2, 1))), cube.wavelengths)
    print(f"\n## Indian Pines (real AVIRIS), tiled to {big.n_rows}x{big.n_cols}x{big.n_bands}")
    cases = [
        ("classes 2 vs 11", (2, 11)),
        ("4 classes (2, 10, 11, 14)", (2, 10, 11, 14)),
        ("16 classes", tuple(range(1, 17))),
    ]

    def each_case(cases, kind: str, options: dict) -> None:
        for title, classes in cases:
            labels = np.where(np.isin(truth, classes), truth, 0)
            for steps in (("snv",), ("snv", "pca")):
                model = ht.train(
                    cube,
                    labels,
                    preprocessing=steps,
                    max_pixels_per_class=1000,
                    random_state=0,
                    progress=False,
                    **options,
                )
                compare(f"{title}, {'+'.join(steps).upper()}, {kind}", big, model)

    each_case(cases, "RBF SVM", SVM)
    model = ht.train(
        cube, truth, preprocessing=("snv",), random_state=0, progress=False, **forest()
    )
    compare("16 classes, SNV, random forest (200 trees)", big, model)
    each_case((cases[0], cases[2]), "LDA", {"classifier": "lda"})

    spectra, oil, wavelengths = mayonnaise()
    keep = np.isin(oil, (1, 2))  # soybean vs sunflower
    train_cube = ht.Cube(spectra[keep][None], wavelengths)
    train_labels = oil[keep][None]
    reps = -(-256 * 256 // len(spectra))
    tiled = np.tile(spectra, (reps, 1))[: 256 * 256].reshape(256, 256, -1)
    test_cube = ht.Cube(np.ascontiguousarray(tiled), wavelengths)
    print(f"\n## mayonnaise NIR spectra (real), tiled to 256x256x{len(wavelengths)}")
    for title, options in (
        ("soybean vs sunflower, SNV+PCA, RBF SVM", dict(SVM, preprocessing=("snv", "pca"))),
        ("soybean vs sunflower, SNV, random forest", dict(forest(), preprocessing=("snv",))),
    ):
        model = ht.train(train_cube, train_labels, random_state=0, progress=False, **options)
        compare(title, test_cube, model)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", nargs=3, type=int, default=(512, 512, 224))
    parser.add_argument("--real", action="store_true", help="also the real-data section")
    parser.add_argument("--real-only", action="store_true", help="only the real-data section")
    args = parser.parse_args()
    print(f"{os.cpu_count()} cores, {load()}")
    warnings.simplefilter("ignore", ht.CalibrationWarning)
    if not args.real_only:
        simulated(tuple(args.size))
    if args.real or args.real_only:
        real()
    print(f"\n{load()}")


if __name__ == "__main__":
    main()
