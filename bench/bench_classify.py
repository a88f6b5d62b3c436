"""Whole-cube classification: the obvious scikit-learn way vs ``hsi_tumor.classify_cube``.

The cube is a simulated 512 x 512 x 224 float32 reflectance specimen (``simulate_specimen``).
Three models, trained with ``hsi_tumor.train`` on its annotation (hyperparameters fixed so that
the bench measures classification, not the search):

* SNV → PCA(20) → standardise → RBF SVM, probabilities by ``CalibratedClassifierCV``;
* SNV → standardise → the same SVM on all 224 bands;
* random forest (200 trees, ``n_jobs`` = cores).

The obvious way is ``pipeline.predict_proba(cube.reshape(-1, bands))`` (labels as its argmax,
which is what ``predict`` returns for these models); ``classify_cube`` is run with its defaults
(threads = cores). Prints throughput (pixels/s) of both, their ratio, peak extra memory
(tracemalloc: numpy buffers, not the input) and the agreement of labels and probabilities.
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


def measure(fn):
    tracemalloc.start()
    t0 = time.perf_counter()
    result = fn()
    seconds = time.perf_counter() - t0
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return result, seconds, peak


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
        cube = spec.calibrate().load()
    data = np.nan_to_num(cube.data, nan=0.5).astype(np.float32)  # every pixel classified
    cube = ht.Cube(data, cube.wavelengths)
    labels = spec.annotation
    n = rows * cols
    size = f"{cube.nbytes / 2**20:.0f} MiB"
    print(f"cube {rows}x{cols}x{bands} float32 ({size}), {os.cpu_count()} cores")

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
        ht.classify_cube(cube[:8], model)  # warm-up (imports, caches)
        (ref_labels, ref_proba), t_obvious, m_obvious = measure(lambda m=model: obvious(cube, m))
        result, t_lib, m_lib = measure(lambda m=model: ht.classify_cube(cube, m))
        lib_labels = result.labels.reshape(-1)
        lib_proba = result.probabilities.reshape(n, -1)
        differ = int((lib_labels != ref_labels).sum())
        print(f"\n{name}{detail}")
        for label, t, mem in (
            ("obvious way  ", t_obvious, m_obvious),
            ("classify_cube", t_lib, m_lib),
        ):
            print(f"  {label} {n / t:12,.0f} px/s  ({t:6.2f} s)  peak {mem / 2**20:7.1f} MiB")
        print(
            f"  ratio {t_obvious / t_lib:.1f}x; labels differing: {differ} of {n}; max |Δp| "
            f"{np.abs(lib_proba - ref_proba).max():.1e}"
        )


if __name__ == "__main__":
    main()
