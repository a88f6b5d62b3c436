r"""classify_cube on a GPU: tiles streamed from the host, everything else on the device.

``classify_cube(cube, model, device="cuda")`` runs here. Per tile of rows, the host copies the
tile into a page-locked (pinned) staging buffer, unless the cube already lives in pinned
memory (:func:`empty_pinned`), and queues on one of two CUDA streams: the copy to the device,
the calibration of raw counts (when the cube is :func:`~hsi_tumor.calibrate`'s lazy
reflectance, only the raw counts cross the bus: half the bytes of uint16), the validity test,
the model (:mod:`~hsi_tumor.inference._device_model`), and the copy of class indices and
probabilities back into pinned buffers. While the device works on one tile, the host fills the
other stream's buffer; results are written into the output maps once their stream is done.

Backends
    CuPy when it is installed, else PyTorch (``hsi_tumor[gpu]`` installs CuPy); both through
    ``array_api_compat``. :class:`HostBackend` runs the same code with a host array namespace
    (NumPy, ``array_api_strict``): the tests check the GPU path's arithmetic and streaming logic
    with it on machines without a GPU.

Copies from pageable memory run at a fraction of the bus's speed and cost a host copy into the
staging buffer; for video-rate use, acquire frames into :func:`empty_pinned` arrays.

On CuPy, SNV is one generated CUDA kernel (:mod:`._device_snv`, checked bit for bit against
numpy's SNV at first use); elsewhere it is ~150 small array operations per tile, and those
launches, not the arithmetic, dominated the device's time. Measured on one H200 (2026-12-04,
``bench/bench_gpu.py``): 512 × 512 × 224 float32 cubes through SNV → PCA(20) → calibrated RBF
SVM at 122 cubes/s from pinned memory with CuPy (4.6 ms of it the copy), 77 with PyTorch.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import threading
import warnings
import weakref

import numpy as np

from hsi_tumor._shared.arrays import materialize
from hsi_tumor._shared.errors import DeviceError, InvalidOptionError, MissingDependencyError
from hsi_tumor._shared.progress import progress_bar
from hsi_tumor.calibration._reflectance import CalibratedArray
from hsi_tumor.cube import _select
from hsi_tumor.inference._device_model import DeviceModel, device_model, emulated_snv32
from hsi_tumor.preprocessing._standard_normal_variate import matches_snv

__all__ = ["DEVICE_TILE_PIXELS", "HostBackend", "backend_for", "classify_on_device", "empty_pinned"]

logger = logging.getLogger("hsi_tumor.inference")

#: Pixels per tile on the device: 64 Ki pixels (58 MB of 224-band float32 input, a 176 MB
#: float64 kernel matrix for 350 support vectors), so a 512 × 512 cube is four tiles.
DEVICE_TILE_PIXELS = 2**16

#: Cap on the float64 kernel matrix of a tile (pixels × support vectors × 8 bytes).
DEVICE_KERNEL_BYTES = 2**29


class HostBackend:
    """The GPU path's code with a host array namespace (NumPy, ``array_api_strict``).

    No streams, no pinned memory: copies are plain. For tests, and as the reference for the
    GPU backends' arithmetic.

    Parameters
    ----------
    xp : array namespace
        E.g. ``array_api_strict`` or ``array_api_compat.numpy``.
    """

    name = "host"

    def __init__(self, xp) -> None:
        self.xp = xp
        self.key = ("host", xp.__name__)

    def describe(self) -> str:
        return f"host ({self.xp.__name__})"

    def count(self) -> int:
        return 1

    def put(self, array: np.ndarray):
        return self.xp.asarray(np.array(array, copy=True))

    def snv32(self, x):
        return emulated_snv32(self.xp, x)

    def staging(self, shape, dtype) -> np.ndarray:
        return np.empty(shape, dtype)

    def is_pinned(self, array: np.ndarray) -> bool:
        return False

    def stream(self):
        return None

    def on(self, stream):
        return contextlib.nullcontext()

    def upload(self, host: np.ndarray, stream):
        return self.put(host)

    def download(self, array, out: np.ndarray, stream) -> None:
        out[...] = np.from_dlpack(array)

    def record(self, stream):
        return None

    def wait(self, event) -> None:
        pass


class CupyBackend:
    """CUDA through CuPy: pinned staging buffers, asynchronous copies on streams."""

    name = "cupy"

    def __init__(self, index: int) -> None:
        import array_api_compat
        import cupy
        import cupyx

        self.cp, self.cupyx = cupy, cupyx
        try:
            count = cupy.cuda.runtime.getDeviceCount()
        except cupy.cuda.runtime.CUDARuntimeError as exc:
            raise _no_gpu(f"CuPy sees no CUDA device ({exc})") from exc
        if index >= count:
            raise _no_gpu(f"CuPy sees {count} CUDA device(s); cuda:{index} does not exist")
        self.device = cupy.cuda.Device(index)
        with self.device:
            self.xp = array_api_compat.array_namespace(cupy.empty(0))
        self.key = ("cupy", index)

    def count(self) -> int:
        """CUDA devices visible to this process."""
        return int(self.cp.cuda.runtime.getDeviceCount())

    def describe(self) -> str:
        name = self.cp.cuda.runtime.getDeviceProperties(self.device.id)["name"]
        name = name.decode() if isinstance(name, bytes) else name
        return f"{name} (cuda:{self.device.id}, CuPy {self.cp.__version__})"

    def put(self, array: np.ndarray):
        with self.device:
            return self.cp.asarray(array)

    def snv32(self, x):
        """numpy's float32 SNV of device rows in one kernel (:mod:`._device_snv`), checked
        against this numpy build at first use; the array-operation emulation where the
        kernel does not match (or fails to compile)."""
        kernel = self._snv_kernel(int(x.shape[1]))
        if kernel is None:
            return emulated_snv32(self.xp, x)
        x = self.cp.ascontiguousarray(x)
        out = self.cp.empty_like(x)
        n = int(x.shape[0])
        if n:
            kernel(((n + 127) // 128,), (128,), (x, out, self.cp.int64(n)))
        return out

    @functools.cache  # noqa: B019 (one backend per device, kept for the process)
    def _snv_kernel(self, n_bands: int):
        from hsi_tumor.inference._device_snv import cuda_source

        try:
            with self.device:
                kernel = self.cp.RawKernel(cuda_source(n_bands), "snv32_rows")
                kernel.compile()
        except Exception as exc:  # no compiler, a driver too old: emulate
            logger.info("fused SNV kernel unavailable (%s): array operations instead", exc)
            return None

        def run(rows: np.ndarray) -> np.ndarray:
            with self.device:
                x = self.cp.asarray(rows)
                out = self.cp.empty_like(x)
                kernel(((x.shape[0] + 127) // 128,), (128,), (x, out, self.cp.int64(x.shape[0])))
                return self.cp.asnumpy(out)

        if not matches_snv(run, n_bands):
            logger.info("fused SNV kernel differs from numpy's SNV here: array operations instead")
            return None
        return kernel

    def staging(self, shape, dtype) -> np.ndarray:
        return self.cupyx.empty_pinned(shape, dtype)

    def is_pinned(self, array: np.ndarray) -> bool:
        runtime = self.cp.cuda.runtime
        try:
            attributes = runtime.pointerGetAttributes(array.ctypes.data)
        except runtime.CUDARuntimeError:
            return False
        return attributes.type == getattr(runtime, "memoryTypeHost", 1)

    def stream(self):
        with self.device:
            return self.cp.cuda.Stream(non_blocking=True)

    def on(self, stream):
        stack = contextlib.ExitStack()
        stack.enter_context(self.device)
        stack.enter_context(stream)
        return stack

    def upload(self, host: np.ndarray, stream):
        array = self.cp.empty(host.shape, host.dtype)
        array.set(host, stream=stream)  # asynchronous from pinned memory
        return array

    def download(self, array, out: np.ndarray, stream) -> None:
        self.cp.asnumpy(array, stream=stream, out=out, blocking=False)

    def record(self, stream):
        return stream.record()

    def wait(self, event) -> None:
        event.synchronize()


class TorchBackend:
    """CUDA through PyTorch: pinned staging buffers, asynchronous copies on streams."""

    name = "torch"

    def __init__(self, index: int) -> None:
        import array_api_compat
        import torch

        self.torch = torch
        if not torch.cuda.is_available():
            raise _no_gpu("PyTorch sees no CUDA device (torch.cuda.is_available() is False)")
        if index >= torch.cuda.device_count():
            raise _no_gpu(
                f"PyTorch sees {torch.cuda.device_count()} CUDA device(s); cuda:{index} does "
                "not exist"
            )
        self.device = torch.device("cuda", index)
        self.xp = array_api_compat.array_namespace(torch.empty(0))
        self.key = ("torch", index)

    def count(self) -> int:
        """CUDA devices visible to this process."""
        return int(self.torch.cuda.device_count())

    def describe(self) -> str:
        name = self.torch.cuda.get_device_name(self.device)
        return f"{name} ({self.device}, PyTorch {self.torch.__version__})"

    def put(self, array: np.ndarray):
        return self.torch.from_numpy(np.array(array, copy=True)).to(self.device)

    def snv32(self, x):
        return emulated_snv32(self.xp, x)

    def staging(self, shape, dtype) -> np.ndarray:
        tensor = self.torch.from_numpy(np.empty(0, dtype)).new_empty(shape).pin_memory()
        return tensor.numpy()  # keeps the tensor (its memory) alive as its base

    def is_pinned(self, array: np.ndarray) -> bool:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # read-only arrays: "non-writable tensors"
                return bool(self.torch.from_numpy(array).is_pinned())
        except (TypeError, ValueError, RuntimeError):
            return False

    def stream(self):
        return self.torch.cuda.Stream(self.device)

    def on(self, stream):
        return self.torch.cuda.stream(stream)

    def upload(self, host: np.ndarray, stream):
        return self.torch.from_numpy(host).to(self.device, non_blocking=True)

    def download(self, array, out: np.ndarray, stream) -> None:
        self.torch.from_numpy(out).copy_(array, non_blocking=True)

    def record(self, stream):
        return stream.record_event()

    def wait(self, event) -> None:
        event.synchronize()


def _no_gpu(problem: str) -> DeviceError:
    return DeviceError(
        problem, field="device", fix="run on a machine with an NVIDIA GPU, or use device='cpu'"
    )


def _parse_device(device: str) -> int:
    name, _, index = str(device).partition(":")
    if name != "cuda" or (index and not index.isdigit()):
        raise InvalidOptionError(
            f"device {device!r} is not 'cpu', 'cuda' or 'cuda:N'",
            field="device",
            fix="give device='cpu' (default), 'cuda' or 'cuda:1'",
        )
    return int(index or 0)


@functools.cache
def backend_for(device: str):
    """The backend of ``device`` ('cuda' or 'cuda:N'): CuPy if installed, else PyTorch.

    Raises
    ------
    MissingDependencyError
        If neither CuPy nor PyTorch (with ``array_api_compat``) is installed.
    DeviceError
        If no such CUDA device is visible.
    """
    index = _parse_device(device)
    errors = []
    for backend in (CupyBackend, TorchBackend):
        try:
            return backend(index)
        except ImportError as exc:
            errors.append(f"{backend.name}: {exc}")
    raise MissingDependencyError(
        f"device={device!r} needs CuPy or PyTorch with array_api_compat ({'; '.join(errors)})",
        field="device",
        fix="pip install 'hsi_tumor[gpu]' (CuPy for CUDA 12), or use device='cpu'",
    )


def empty_pinned(shape, dtype="float32", *, device: str = "cuda") -> np.ndarray:
    """A NumPy array in page-locked (pinned) host memory, for cubes sent to a GPU.

    ``classify_cube(..., device="cuda")`` copies a cube in pinned memory to the device at the
    bus's full speed with no host-side copy; acquire frames into such arrays for video-rate
    maps (wrap one as ``hsi_tumor.Cube(array, wavelengths)``).

    Parameters
    ----------
    shape : tuple of int
    dtype : dtype, default="float32"
    device : str, default='cuda'
        The device whose backend allocates the memory.

    Returns
    -------
    ndarray
        Uninitialised; valid while it is referenced.
    """
    return backend_for(device).staging(tuple(shape), np.dtype(dtype))


_MODELS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _model_on(pipeline, backend) -> DeviceModel:
    """The pipeline on the backend's device, built once per pipeline and device."""
    per_device = _MODELS.setdefault(pipeline, {})
    if backend.key not in per_device:
        per_device[backend.key] = device_model(pipeline, backend)
    return per_device[backend.key]


class _Source:
    """How a tile's pixels reach the device: the cube's own array, or raw counts calibrated
    on the device (then ``x = (raw − offset) · gain``, NaN where saturated, as on the CPU)."""

    def __init__(self, cube, backend) -> None:
        data = cube.data
        self.calibrated = isinstance(data, CalibratedArray)
        if self.calibrated:
            self.stored = data.raw
            self.offset = backend.put(np.asarray(data.offset, np.float32))
            self.gain = backend.put(np.asarray(data.gain, np.float32))
            self.saturation = data.saturation
        else:
            self.stored = data
        # native byte order: a big-endian ENVI file is swapped on the host, while it is read
        self.dtype = np.dtype(getattr(self.stored, "dtype", np.float32)).newbyteorder("=")
        valid = cube.valid
        self.valid = None if getattr(valid, "finite_means_valid", False) else valid

    def read(self, rows: slice, out: np.ndarray, backend) -> np.ndarray:
        """The tile's stored values (raw counts, or the cube's values) as (pixels, bands): the
        cube's own memory when it is pinned, else read once, straight into ``out`` (the
        lane's staging buffer, at least as large)."""
        tile = _select(self.stored, (rows, slice(None), slice(None)))  # lazy: nothing read
        n = tile.shape[0] * tile.shape[1]
        if isinstance(tile, np.ndarray) and tile.flags.c_contiguous and backend.is_pinned(tile):
            return tile.reshape(n, -1)
        staged = out[:n]
        materialize(tile, out=staged.reshape(tile.shape))
        return staged

    def to_float(self, xp, x):
        """Device values to reflectance (float32) when the cube calibrates on read."""
        if not self.calibrated:
            return x
        n_cols, n_bands = self.offset.shape
        counts = xp.reshape(xp.astype(x, xp.float32), (-1, n_cols, n_bands))
        out = (counts - self.offset) * self.gain
        if self.saturation is not None:
            out = xp.where(counts >= self.saturation, xp.full_like(out, float("nan")), out)
        return xp.reshape(out, (-1, n_bands))

    def host_valid(self, rows: slice) -> np.ndarray | None:
        if self.valid is None:
            return None
        valid = np.asarray(self.valid[rows], dtype=bool)
        return valid.all(axis=2) if valid.ndim == 3 else valid


def classify_on_device(
    cube,
    pipeline,
    backend,
    *,
    mask: np.ndarray | None,
    resampler: np.ndarray | None,
    tile_rows: int | None,
    progress: bool,
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
    """Class indices, probabilities and validity of every pixel, computed on ``backend``.

    Returns
    -------
    index : ndarray of shape (rows, cols), int64
        Index into ``pipeline.classes_``; meaningless where not valid.
    probabilities : ndarray of shape (rows, cols, n_classes), float32, or None
        NaN where not valid.
    valid : ndarray of shape (rows, cols), bool
        Classified: finite in every band, not flagged by the cube, inside ``mask``.
    """
    model = _model_on(pipeline, backend)
    xp = backend.xp
    n_rows, n_cols, n_bands = cube.shape
    n_classes = len(pipeline.classes_)
    if tile_rows is None:
        pixels = min(DEVICE_TILE_PIXELS, DEVICE_KERNEL_BYTES // (8 * max(model.width, n_bands)))
        tile_rows = max(1, pixels // max(1, n_cols))
    source = _Source(cube, backend)
    eps = float(np.finfo(np.float32 if cube.dtype != np.float64 else np.float64).eps)
    resample = None if resampler is None else backend.put(np.asarray(resampler, np.float64))

    # every row is written by one tile: no initial values
    index = np.empty((n_rows, n_cols), dtype=np.int64)
    proba = np.empty((n_rows, n_cols, n_classes), np.float32) if model.has_proba else None
    valid = np.empty((n_rows, n_cols), dtype=bool)
    n_tiles = -(-n_rows // tile_rows)
    layout = (tile_rows * n_cols, n_bands, source.dtype, n_classes if model.has_proba else 0)
    lanes = _take_lanes(backend, layout)  # two streams, each with its pinned buffers
    pending: list = [None, None]  # per lane: (rows, pixels, event) of the tile in flight

    def finish(slot: int) -> None:
        rows, n, event = pending[slot]
        backend.wait(event)
        buf = lanes[slot]
        valid[rows] = buf.ok[:n].reshape(-1, n_cols)
        index[rows] = buf.index[:n].reshape(-1, n_cols)
        if proba is not None:  # NaN where not valid: set on the device
            proba[rows] = buf.proba[:n].reshape(-1, n_cols, n_classes)
        pending[slot] = None
        bar.update()

    def _queue(t: int, r0: int) -> None:
        slot = t % 2
        if pending[slot] is not None:
            finish(slot)
        rows = slice(r0, min(r0 + tile_rows, n_rows))
        n = (rows.stop - rows.start) * n_cols
        buf = lanes[slot]
        host = source.read(rows, buf.input, backend)
        allowed = source.host_valid(rows)
        if mask is not None:
            allowed = mask[rows] if allowed is None else allowed & mask[rows]
        stream = buf.stream
        with backend.on(stream):
            x = source.to_float(xp, backend.upload(host, stream))
            if x.dtype not in (xp.float32, xp.float64):  # integer counts: float32, as on the CPU
                x = xp.astype(x, xp.float32)
            ok = xp.all(xp.isfinite(x), axis=1)
            if allowed is not None:
                np.copyto(buf.allowed[:n], allowed.reshape(-1))
                ok = ok & backend.upload(buf.allowed[:n], stream)
            x = xp.where(ok[:, None], x, xp.zeros_like(x))
            if resample is not None:  # before SNV: in float64 (CPU: the input's precision)
                x = xp.astype(x, xp.float64) @ resample
            idx, p = model(x, eps)
            backend.download(xp.astype(idx, xp.int64), buf.index[:n], stream)
            backend.download(ok, buf.ok[:n], stream)
            if p is not None:
                p = xp.where(ok[:, None], p, xp.full_like(p, float("nan")))
                backend.download(p, buf.proba[:n], stream)
            pending[slot] = (rows, n, backend.record(stream))

    bar = progress_bar(n_tiles, desc=f"classify ({backend.name})", unit="tile", enabled=progress)
    try:
        for t, r0 in enumerate(range(0, n_rows, tile_rows)):
            _queue(t, r0)
        for slot in (0, 1):
            if pending[slot] is not None:
                finish(slot)
    finally:
        bar.close()
        for slot in (0, 1):  # after an error: the device may still use the buffers
            if pending[slot] is not None:
                backend.wait(pending[slot][2])
        _give_back(backend, layout, lanes)
    return index, proba, valid


class _Lane:
    """A CUDA stream and its host buffers (pinned on a GPU): input tile, mask, results."""

    def __init__(self, backend, layout) -> None:
        n, n_bands, dtype, n_classes = layout
        self.stream = backend.stream()
        self.input = backend.staging((n, n_bands), dtype)
        self.allowed = backend.staging((n,), np.bool_)
        self.index = backend.staging((n,), np.int64)
        self.ok = backend.staging((n,), np.bool_)
        self.proba = backend.staging((n, n_classes), np.float32) if n_classes else None


#: Idle lanes by (backend, layout): allocating pinned memory costs milliseconds, so a stream of
#: same-shaped cubes reuses them (each call takes two; concurrent calls get their own).
_LANES: dict = {}
_LANES_LOCK = threading.Lock()


def _take_lanes(backend, layout) -> list[_Lane]:
    with _LANES_LOCK:
        idle = _LANES.setdefault((backend.key, layout), [])
        taken = [idle.pop() for _ in range(min(2, len(idle)))]
    return taken + [_Lane(backend, layout) for _ in range(2 - len(taken))]


def _give_back(backend, layout, lanes: list[_Lane]) -> None:
    with _LANES_LOCK:
        idle = _LANES.setdefault((backend.key, layout), [])
        if len(idle) < 4:
            idle.extend(lanes)
