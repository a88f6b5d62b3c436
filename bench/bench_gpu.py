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
the agreement of the GPU's labels and probabilities with the CPU path's (the promise: labels
identical, |Δp| ≤ 1e-4). Beside them, the bounds: the host-to-device copy of the cube alone
(pinned float32 and uint16; pageable float32), and the model alone on a cube already on the
device (SNV in one fused kernel on CuPy, and with the array-operation emulation). Every backend
found is measured (CuPy, then PyTorch; ``--backend`` picks one). ``--profile`` adds the
host-side profile of the pinned path. Without a CUDA GPU (or without CuPy / PyTorch) it says so
and exits cleanly.
Run: ``python bench/bench_gpu.py [--size ROWS COLS BANDS] [--repeat N] [--backend NAME]``.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import platform
import pstats
import time
import warnings

import numpy as np

import hsi_tumor as ht
from hsi_tumor.datasets import CLASS_NAMES
from hsi_tumor.inference import _device
from hsi_tumor.inference._device_model import emulated_snv32

PROMISE = 1e-4  # |Δp| of the GPU path against the CPU path


def cubes_per_second(fn, repeat: int, rounds: int = 3) -> float:
    """Best of ``rounds`` runs of ``repeat`` calls."""
    best = np.inf
    for _ in range(rounds):
        t0 = time.perf_counter()
        for _ in range(repeat):
            fn()
        best = min(best, time.perf_counter() - t0)
    return repeat / best


def backends(choice: str) -> list:
    """The CUDA backends to measure: CuPy and PyTorch where each can run."""
    found = []
    for cls in (_device.CupyBackend, _device.TorchBackend):
        if choice not in ("all", cls.name):
            continue
        try:
            found.append(cls(0))
        except (ht.HsiTumorError, ImportError) as exc:
            print(f"  ({cls.name}: not measured: {exc})")
    return found


def versions(backend) -> str:
    parts = [f"Python {platform.python_version()}", f"NumPy {np.__version__}"]
    if backend.name == "cupy":
        rt = backend.cp.cuda.runtime
        parts.append(f"CUDA runtime {rt.runtimeGetVersion()}, driver {rt.driverGetVersion()}")
    elif backend.name == "torch":
        parts.append(f"CUDA {backend.torch.version.cuda}")
    return ", ".join(parts)


def synced(backend, fn) -> float:
    """Seconds of ``fn(stream)`` on one stream, until the device is done."""
    stream = backend.stream()
    t0 = time.perf_counter()
    with backend.on(stream):
        fn(stream)
    backend.wait(backend.record(stream))
    return time.perf_counter() - t0


def best(fn, rounds: int = 5) -> float:
    return min(fn() for _ in range(rounds))


def copy_ms(backend, host: np.ndarray) -> float:
    """The host-to-device copy of ``host`` alone (best of 5), ms."""
    flat = host.reshape(-1, host.shape[-1])
    return 1e3 * best(lambda: synced(backend, lambda s: backend.upload(flat, s)))


def model_ms(backend, model, cube: np.ndarray, *, fused: bool = True) -> float:
    """The model alone on a float32 cube already on the device, in the path's tiles, ms."""
    device = _device._model_on(model.pipeline, backend)
    pixels = cube.reshape(-1, cube.shape[-1])
    x = backend.put(pixels)
    n = _device.DEVICE_TILE_PIXELS
    eps = float(np.finfo(np.float32).eps)
    stages = [getattr(part, "member", part).decision.stage for part in device.parts]
    saved = [s.snv32 for s in stages]
    if not fused:
        for s in stages:
            s.snv32 = lambda v: emulated_snv32(backend.xp, v)
    try:

        def run(stream):
            for i in range(0, pixels.shape[0], n):
                device(x[i : i + n], eps)

        return 1e3 * best(lambda: synced(backend, run))
    finally:
        for s, f in zip(stages, saved, strict=True):
            s.snv32 = f


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", nargs=3, type=int, default=(512, 512, 224))
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--backend", choices=("all", "cupy", "torch"), default="all")
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    found = backends(args.backend)
    if not found:
        print("no GPU: no CUDA device with CuPy or PyTorch")
        print("GPU figures not taken (run this on a machine with an NVIDIA GPU and CuPy).")
        return
    rows, cols, bands = args.size
    print(f"GPU: {found[0].describe()}; host: {os.cpu_count()} cores; {versions(found[0])}")

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ht.CalibrationWarning)
        spec = ht.simulate_specimen(seed=0, shape=(rows, cols), n_bands=bands)
    cube = spec.cube  # calibrated at simulation
    data = np.nan_to_num(cube.data, nan=0.5).astype(np.float32)
    cube = ht.Cube(data, cube.wavelengths)
    model = ht.train(
        cube,
        spec.labels,
        class_names=CLASS_NAMES,
        preprocessing=("snv", "pca"),
        classifier_params={"C": 10.0, "gamma": "scale"},
        max_pixels_per_class=2000,
        random_state=0,
    )
    n_sv = int(model.pipeline[-1].calibrated_classifiers_[0].estimator.support_vectors_.shape[0])
    print(
        f"cube {rows}x{cols}x{bands} float32 ({data.nbytes / 2**20:.0f} MiB), "
        f"SNV→PCA(20)→calibrated RBF-SVM ({n_sv} support vectors)"
    )

    ht.classify_cube(cube[:8], model)  # warm-up: imports, compiled kernels
    cpu = ht.classify_cube(cube, model)
    cpu_rate = cubes_per_second(lambda: ht.classify_cube(cube, model), 1)
    print(f"  CPU path                      {cpu_rate:8.2f} cubes/s")

    raw = np.asarray(spec.raw.data)
    for backend in found:
        _device.backend_for = lambda device, b=backend: b  # this backend for device="cuda"
        print(f"{backend.describe()}:")
        pinned = ht.inference.empty_pinned(data.shape, np.float32)
        pinned[...] = data
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
            ("pageable float32", cube),
            ("pinned float32", ht.Cube(pinned, cube.wavelengths)),
            (f"pinned raw {raw.dtype}", raw_cube),
        ]
        for name, source in sources:
            result = ht.classify_cube(source, model, device="cuda")  # warm-up, and agreement
            rate = cubes_per_second(
                lambda s=source: ht.classify_cube(s, model, device="cuda"), args.repeat
            )
            both = result.valid & cpu.valid
            differ = int((result.labels != cpu.labels)[both].sum())
            dp = float(np.abs(result.probabilities - cpu.probabilities)[both].max())
            verdict = "ok" if differ == 0 and dp <= PROMISE else "BROKEN PROMISE"
            print(
                f"  {name:28s} {rate:8.2f} cubes/s ({1e3 / rate:6.2f} ms/cube)  ratio "
                f"{rate / cpu_rate:6.1f}x; labels differing: {differ} of {int(both.sum())}; "
                f"max |Δp| {dp:.1e} ({verdict})"
            )
        print("  bounds:")
        for name, host in (
            ("copy alone, pinned float32", pinned),
            (f"copy alone, pinned {raw.dtype}", raw_pinned),
            ("copy alone, pageable float32", data),
        ):
            ms = copy_ms(backend, host)
            print(f"    {name:30s} {ms:7.2f} ms/cube ({host.nbytes / ms / 1e6:6.1f} GB/s)")
        print(
            f"    {'model alone, on the device':30s} {model_ms(backend, model, data):7.2f} ms/cube"
        )
        print(
            f"    {'  same, SNV emulated':30s} "
            f"{model_ms(backend, model, data, fused=False):7.2f} ms/cube"
        )
        if args.profile:
            source = ht.Cube(pinned, cube.wavelengths)
            profiler = cProfile.Profile()
            profiler.enable()
            for _ in range(args.repeat):
                ht.classify_cube(source, model, device="cuda")
            profiler.disable()
            out = io.StringIO()
            pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(25)
            print(out.getvalue())


if __name__ == "__main__":
    main()
