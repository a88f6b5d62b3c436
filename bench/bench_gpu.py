"""Real-time maps on a GPU: ``classify_cube(..., device="cuda")`` against the CPU path.

The cube is a simulated 512 x 512 x 224 float32 reflectance specimen (``simulate_specimen``, as
in ``bench_classify.py``) and the model SNV → PCA(20) → standardise → RBF SVM with probabilities
(``CalibratedClassifierCV``), trained with ``hsi_tumor.train`` (C and gamma fixed). Prints, in
one run, cubes/s end to end (host array in, labels and probabilities in host memory out, the
host-to-device copy included) for

* the CPU path (``classify_cube`` with its defaults, threads = cores), best of 3;
* the GPU from ordinary (pageable) host memory;
* the GPU from pinned host memory (``hsi_tumor.inference.empty_pinned``);
* the GPU from pinned uint16 raw counts calibrated on the device (``hsi_tumor.calibrate``'s
  lazy reflectance: half the bytes cross the bus);

each GPU figure the best of 3 runs of ``--repeat`` cubes, with its ratio to the CPU path, and
the agreement of the GPU's labels and probabilities with the CPU path's. Without a CUDA GPU
(or without CuPy / PyTorch) it says so and exits cleanly.
Run: ``python bench/bench_gpu.py [--size ROWS COLS BANDS] [--repeat N]``.
"""

from __future__ import annotations

import argparse
import os
import time
import warnings

import numpy as np

import hsi_tumor as ht
from hsi_tumor.datasets import CLASS_NAMES
from hsi_tumor.inference import _device


def cubes_per_second(fn, repeat: int, rounds: int = 3) -> float:
    """Best of ``rounds`` runs of ``repeat`` calls."""
    best = np.inf
    for _ in range(rounds):
        t0 = time.perf_counter()
        for _ in range(repeat):
            fn()
        best = min(best, time.perf_counter() - t0)
    return repeat / best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", nargs=3, type=int, default=(512, 512, 224))
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    try:
        backend = _device.backend_for("cuda")
    except (ht.HsiTumorError, ImportError) as exc:
        print(f"no GPU: {exc}")
        print("GPU figures not taken (run this on a machine with an NVIDIA GPU and CuPy).")
        return
    rows, cols, bands = args.size
    print(f"GPU: {backend.describe()}; host: {os.cpu_count()} cores")

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ht.CalibrationWarning)
        spec = ht.simulate_specimen(seed=0, shape=(rows, cols), n_bands=bands)
        cube = spec.calibrate().load()
    data = np.nan_to_num(cube.data, nan=0.5).astype(np.float32)
    cube = ht.Cube(data, cube.wavelengths)
    model = ht.train(
        cube,
        spec.annotation,
        class_names=CLASS_NAMES,
        preprocessing=("snv", "pca"),
        classifier_params={"C": 10.0, "gamma": "scale"},
        max_pixels_per_class=2000,
        random_state=0,
    )
    print(f"cube {rows}x{cols}x{bands} float32 ({data.nbytes / 2**20:.0f} MiB), SNV→PCA(20)→SVM")

    ht.classify_cube(cube[:8], model)  # warm-up: imports, compiled kernels
    cpu = ht.classify_cube(cube, model)
    cpu_rate = cubes_per_second(lambda: ht.classify_cube(cube, model), 1)
    print(f"  CPU path                  {cpu_rate:8.2f} cubes/s")

    pinned = ht.inference.empty_pinned(data.shape, np.float32)
    pinned[...] = data
    raw = np.asarray(spec.raw.data)
    raw_pinned = ht.inference.empty_pinned(raw.shape, raw.dtype)
    raw_pinned[...] = raw
    raw_cube = ht.calibrate(
        ht.Cube(raw_pinned, spec.raw.wavelengths),
        spec.white,
        spec.dark,
        saturation=spec.saturation,
        white_reflectance=spec.camera.white_reflectance,
    )
    sources = [
        ("GPU, pageable float32", cube),
        ("GPU, pinned float32", ht.Cube(pinned, cube.wavelengths)),
        (f"GPU, pinned raw {raw.dtype}", raw_cube),
    ]
    for name, source in sources:
        result = ht.classify_cube(source, model, device="cuda")  # warm-up, and the agreement
        rate = cubes_per_second(
            lambda s=source: ht.classify_cube(s, model, device="cuda"), args.repeat
        )
        both = result.valid & cpu.valid
        differ = int((result.labels != cpu.labels)[both].sum())
        dp = np.abs(result.probabilities - cpu.probabilities)[both].max()
        print(
            f"  {name:25s} {rate:8.2f} cubes/s  ratio {rate / cpu_rate:6.1f}x; labels "
            f"differing: {differ} of {int(both.sum())}; max |Δp| {dp:.1e}"
        )


if __name__ == "__main__":
    main()
