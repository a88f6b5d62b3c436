"""Whole-cube classification: the obvious scikit-learn way vs ``hsi_tumor.classify_cube``.

The cube is a simulated 512 x 512 x 224 float32 reflectance specimen (``simulate_specimen``).
Three models, trained with ``hsi_tumor.train`` on its annotation (hyperparameters fixed so that
the bench measures classification, not the search):

* SNV → PCA(20) → standardise → RBF SVM, probabilities by ``CalibratedClassifierCV``;
* SNV → standardise → the same SVM on all 224 bands;
* random forest (200 trees, ``n_jobs`` = cores).

The obvious way is ``pipeline.predict_proba(cube.reshape(-1, bands))`` (labels as its argmax,
which is what ``predict`` returns for these models); ``classify_cube`` is run with its defaults
(threads = cores). Prints throughput (pixels/s) of both (``classify_cube``: best of 3), their
ratio, peak extra memory (tracemalloc, in a separate run: numpy buffers, not the input) and the
agreement of labels and probabilities.
With numba installed (``pip install hsi_tumor[fast]``) the SVMs are classified twice, with the
compiled kernel and with the numpy one (``_svm.USE_NUMBA`` off), both against the same
obvious-way run; the load average is printed before and after (timings need a quiet machine).
Run: ``python bench/bench_classify.py [--size ROWS COLS BANDS]``.
"""

from __future__ import annotations

import argparse
import os
import time
import tracemalloc
import warnings

import numpy as np

import hsi_tumor as ht
from hsi_tumor.datasets import CLASS_NAMES
from hsi_tumor.inference import _svm
from hsi_tumor.inference._fast import fast_predictor


def measure(fn, repeat: int = 1):
    """``(result, best time, peak extra memory)``: timed ``repeat`` times, then run once more
    under tracemalloc for the peak (tracing slows allocation-heavy code by a quarter)."""
    seconds = np.inf
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        seconds = min(seconds, time.perf_counter() - t0)
    tracemalloc.start()
    result = fn()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return result, seconds, peak


def kernel_used(model: ht.TumorModel, cube: ht.Cube) -> str:
    """Which evaluation ``classify_cube`` runs: numba or numpy RBF kernel, or another path."""
    fast = fast_predictor(model.pipeline)
    if fast is None:
        return "scikit-learn"
    scorer = fast.analysis.first_member.scorer
    if not isinstance(scorer, _svm.KernelScorer) or scorer.kernel != "rbf":
        return "fast path"
    pixels = np.ascontiguousarray(cube.data[:1].reshape(-1, cube.n_bands))
    return "numba" if scorer._compiled_for(pixels) is not None else "numpy"


def load() -> str:
    return "load average " + ", ".join(f"{v:.2f}" for v in os.getloadavg())


def obvious(cube: ht.Cube, model: ht.TumorModel):
    pixels = cube.data.reshape(-1, cube.n_bands)
    proba = model.pipeline.predict_proba(pixels)
    return model.classes[np.argmax(proba, axis=1)], proba


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", nargs=3, type=int, default=(512, 512, 224))
    args = parser.parse_args()
    rows, cols, bands = args.size
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ht.CalibrationWarning)
        spec = ht.simulate_specimen(seed=0, shape=(rows, cols), n_bands=bands)
    cube = spec.cube  # calibrated at simulation
    data = np.nan_to_num(cube.data, nan=0.5).astype(np.float32)  # every pixel classified
    cube = ht.Cube(data, cube.wavelengths)
    labels = spec.labels
    n = rows * cols
    size = f"{cube.nbytes / 2**20:.0f} MiB"
    print(f"cube {rows}x{cols}x{bands} float32 ({size}), {os.cpu_count()} cores, {load()}")
    numba = _svm._compiled_kernels() is not None
    print(f"numba kernels {'available' if numba else 'not installed'}")

    configs = [
        ("SNV→PCA(20)→RBF-SVM", dict(preprocessing=("snv", "pca"))),
        ("SNV→RBF-SVM (all bands)", dict(preprocessing=("snv",))),
        ("random forest", dict(classifier="random-forest", preprocessing=())),
    ]
    for name, options in configs:
        options.setdefault("classifier", "svm")
        if options["classifier"] == "svm":
            options["classifier_params"] = {"C": 10.0, "gamma": "scale"}
        options.setdefault("classifier_params", None)
        model = ht.train(
            cube,
            labels,
            class_names=CLASS_NAMES,
            max_pixels_per_class=2000,
            random_state=0,
            **options,
        )
        final = model.pipeline[-1]
        detail = ""
        if hasattr(final, "calibrated_classifiers_"):
            detail = f", {final.calibrated_classifiers_[0].estimator.support_.size} support vectors"
        kernels = ("numba", "numpy") if numba and kernel_used(model, cube) == "numba" else (None,)
        (ref_labels, ref_proba), t_obvious, m_obvious = measure(lambda m=model: obvious(cube, m))
        print(f"\n{name}{detail}")
        print(
            f"  obvious way          {n / t_obvious:12,.0f} px/s  ({t_obvious:6.2f} s)  peak "
            f"{m_obvious / 2**20:7.1f} MiB"
        )
        for kernel in kernels:
            _svm.USE_NUMBA = kernel != "numpy"
            ht.classify_cube(cube[:8], model)  # warm-up (imports, compiled kernels)
            result, t_lib, m_lib = measure(lambda m=model: ht.classify_cube(cube, m), repeat=3)
            used = kernel_used(model, cube)
            lib_labels = result.labels.reshape(-1)
            lib_proba = result.probabilities.reshape(n, -1)
            differ = int((lib_labels != ref_labels).sum())
            print(
                f"  classify_cube {f'({used})':7s}{n / t_lib:12,.0f} px/s  ({t_lib:6.2f} s)  peak "
                f"{m_lib / 2**20:7.1f} MiB  ratio {t_obvious / t_lib:.1f}x; labels differing: "
                f"{differ} of {n}; max |Δp| {np.abs(lib_proba - ref_proba).max():.1e}"
            )
        _svm.USE_NUMBA = True
    print(f"\n{load()}")


if __name__ == "__main__":
    main()
