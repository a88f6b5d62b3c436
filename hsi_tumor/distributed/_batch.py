"""classify_many: many cubes through one model as Dask tasks, each into its own output folder."""

from __future__ import annotations

import json
import logging
import os
import re
import time
import uuid
import warnings
import zlib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from hsi_tumor._shared.atomic import remove_stale
from hsi_tumor._shared.dask import LOCAL, check_client, dask_client, require_distributed
from hsi_tumor._shared.errors import BatchError, HsiTumorError, InvalidOptionError, InvalidTypeError
from hsi_tumor._shared.progress import progress_bar
from hsi_tumor.cube import Cube
from hsi_tumor.inference import TUMOR_MAP_FORMATS, check_smoothing
from hsi_tumor.models._model import TumorModel
from hsi_tumor.models._persistence import as_model

logger = logging.getLogger("hsi_tumor.distributed")

__all__ = ["CUBE_ERRORS", "BatchItem", "BatchResult", "classify_many", "worker_device"]

#: Errors that belong to one cube (unreadable, corrupt or truncated file, wrong wavelengths, an
#: output name taken by a file): that cube is reported failed and the batch goes on. Other
#: exceptions are retried by Dask (``retries``) before being reported.
CUBE_ERRORS = (HsiTumorError, OSError, ValueError)

WRITTEN, SKIPPED, FAILED = "written", "skipped", "failed"

# the staging folders of hsi_tumor._shared.atomic: ".NAME." + 8 tempfile characters + ".partial"
_PARTIAL = re.compile(r"\.(?P<name>.+)\.[a-z0-9_]{8}\.partial")


@dataclass(frozen=True)
class BatchItem:
    """What became of one input of :func:`classify_many`.

    Attributes
    ----------
    name : str
        The input's name, also the name of its output folder.
    status : {'written', 'skipped', 'failed'}
        ``written``: classified and written in this batch; ``skipped``: the output folder was
        complete already (and ``overwrite`` was False); ``failed``: see ``error``.
    path : pathlib.Path
        The output folder (``out_dir / name``); it exists unless the item failed.
    source : str
        The input file, or a description of the in-memory cube.
    error : str or None
        For a failed item, the error's type and message (the message names the file, the
        field and the fix).
    counts : dict of str to int
        Classified pixels per class name (read back from ``summary.json`` for skipped items).
    n_pixels, n_classified, n_masked, n_invalid : int
        Pixels in the map, classified, left out by the mask, and not classifiable (NaN/inf or
        flagged invalid).
    seconds : float or None
        Time the task took on its worker (None for skipped items).
    """

    name: str
    status: str
    path: Path
    source: str
    error: str | None = None
    counts: dict[str, int] = field(default_factory=dict)
    n_pixels: int = 0
    n_classified: int = 0
    n_masked: int = 0
    n_invalid: int = 0
    seconds: float | None = None


class BatchResult(Mapping):
    """The outcome of :func:`classify_many`: a read-only mapping of input name to
    :class:`BatchItem`, in input order.

    Attributes
    ----------
    out_dir : pathlib.Path
        The folder holding one output folder per input.
    seconds : float
        Wall-clock time of the whole batch, cluster start included.
    """

    def __init__(self, items: Iterable[BatchItem], out_dir: Path, seconds: float) -> None:
        self._items = {item.name: item for item in items}
        self.out_dir = Path(out_dir)
        self.seconds = float(seconds)

    def __getitem__(self, name: str) -> BatchItem:
        return self._items[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def _with(self, status: str) -> list[BatchItem]:
        return [item for item in self._items.values() if item.status == status]

    @property
    def written(self) -> list[BatchItem]:
        """Items classified and written by this batch."""
        return self._with(WRITTEN)

    @property
    def skipped(self) -> list[BatchItem]:
        """Items whose output folder was complete already."""
        return self._with(SKIPPED)

    @property
    def failed(self) -> list[BatchItem]:
        """Items that could not be classified, each with its ``error``."""
        return self._with(FAILED)

    def raise_on_failure(self) -> BatchResult:
        """Raise if any item failed; otherwise return this result.

        Raises
        ------
        BatchError
            Naming every failed input and its error.
        """
        failed = self.failed
        if failed:
            details = "; ".join(f"{item.name} ({item.error})" for item in failed)
            raise BatchError(
                f"{len(failed)} of {len(self)} cubes failed: {details}",
                field="inputs",
                fix="correct or remove those inputs and run the batch again (completed outputs "
                "are skipped)",
            )
        return self

    def __repr__(self) -> str:
        parts = [f"{len(self._with(s))} {s}" for s in (WRITTEN, SKIPPED, FAILED)]
        text = (
            f"BatchResult({len(self)} cubes into {self.out_dir}: {', '.join(parts)}; "
            f"{self.seconds:.1f} s)"
        )
        for item in self.failed:
            text += f"\n  {item.name}: {item.error}"
        return text


@dataclass(frozen=True)
class _Options:
    """What every task needs besides its input (sent with each task)."""

    format: str
    mask: str | None
    resample: bool
    overwrite: bool
    n_jobs: int | None
    device: str = "cpu"
    spatial_filter: dict | None = None


def _message(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


def _describe(source) -> str:
    if isinstance(source, Cube):
        rows, cols, bands = source.shape
        return f"<Cube {rows}x{cols}x{bands} {source.dtype}>"
    return os.fspath(source)


def _is_complete(folder: Path) -> bool:
    """An output folder appears by one rename when complete: one that exists is whole (an empty
    folder, e.g. made by hand for the output, does not count)."""
    return folder.is_dir() and any(folder.iterdir())


def _from_summary(name: str, folder: Path, source: str, status: str) -> BatchItem:
    """A completed output folder's item, with the counts from its ``summary.json``."""
    try:
        summary = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        summary = {}
    return BatchItem(
        name,
        status,
        folder,
        source,
        counts={str(k): int(v) for k, v in summary.get("counts", {}).items()},
        n_pixels=int(summary.get("n_pixels", 0)),
        n_classified=int(summary.get("n_classified", 0)),
        n_masked=int(summary.get("n_masked", 0)),
        n_invalid=int(summary.get("n_invalid", 0)),
    )


def worker_device(device: str, worker_name=None, n_devices: int | None = None) -> str:
    """The GPU a task on this worker classifies on: one GPU per worker.

    ``device="cuda"`` (no index) is the worker's own GPU: ``cuda:(i mod n)`` for the worker
    named ``i`` (a local cluster names its workers 0, 1, ...; other names are hashed) among
    the ``n`` GPUs it sees; a worker that sees one GPU (e.g. one of ``dask_cuda``'s, which
    gives each worker its own ``CUDA_VISIBLE_DEVICES``) uses it. ``"cpu"`` and ``"cuda:N"``
    are kept as they are.
    """
    if device != "cuda":
        return device
    if n_devices is None:
        from hsi_tumor.inference._device import backend_for

        n_devices = backend_for("cuda").count()
    if worker_name is None:
        try:
            from distributed import get_worker

            worker_name = get_worker().name
        except (ImportError, ValueError):  # not on a worker
            return "cuda"
    if n_devices <= 1:
        return "cuda"
    try:
        index = int(worker_name)
    except (TypeError, ValueError):
        index = zlib.crc32(str(worker_name).encode())
    return f"cuda:{index % n_devices}"


def _identity(value):
    return value


def _classify_one(
    name: str, source, model: TumorModel, target: str, options: _Options, progress: bool = False
):
    """One Dask task: read, classify and write one cube. Returns its :class:`BatchItem`.

    Errors of the cube (:data:`CUBE_ERRORS`) come back as a failed item; anything else is
    raised, for Dask to retry. ``progress`` shows the cube's tile bar (an inner bar, under
    the cubes'); never in a Dask task.
    """
    from hsi_tumor.inference import classify_to_folder

    start = time.perf_counter()
    folder = Path(target)
    described = _describe(source)
    if not options.overwrite and _is_complete(folder):
        # an earlier attempt of this task completed it, then its worker died before reporting
        logger.info("%s: completed by an earlier attempt", folder)
        return _from_summary(name, folder, described, WRITTEN)
    try:
        result = classify_to_folder(
            source,
            model,
            folder,
            mask=options.mask,
            spatial_filter=options.spatial_filter,
            resample=options.resample,
            format=options.format,
            overwrite=options.overwrite,
            n_jobs=options.n_jobs,
            device=worker_device(options.device),
            progress=progress,
        )
    except CUBE_ERRORS as exc:
        logger.warning("%s failed: %s", described, _message(exc))
        return BatchItem(
            name,
            FAILED,
            folder,
            described,
            error=_message(exc),
            seconds=time.perf_counter() - start,
        )
    return BatchItem(
        name,
        WRITTEN,
        folder,
        described,
        counts=result.counts(),
        n_pixels=int(result.labels.size),
        n_classified=int(result.valid.sum()),
        n_masked=int(result.n_masked),
        n_invalid=int(result.n_invalid),
        seconds=time.perf_counter() - start,
    )


def _check_name(name) -> str:
    if (
        not isinstance(name, str)
        or name in ("", ".", "..")
        or name.startswith(".")
        or "/" in name
        or os.sep in name
        or (os.altsep is not None and os.altsep in name)
    ):
        raise InvalidOptionError(
            f"{name!r} cannot name an output folder",
            field="inputs",
            fix="use names without path separators that do not start with '.'",
        )
    return name


def _named_sources(inputs) -> dict[str, str | Cube]:
    """``{name: source}``: absolute path strings (workers may run in another folder) or Cubes."""
    if isinstance(inputs, (str, os.PathLike, Cube)):
        inputs = [inputs]
    if isinstance(inputs, Mapping):
        pairs = [(_check_name(name), source) for name, source in inputs.items()]
    else:
        pairs = []
        for i, source in enumerate(inputs):
            if isinstance(source, Cube):
                pairs.append((f"cube_{i}", source))
            elif isinstance(source, (str, os.PathLike)):
                path = Path(source)
                pairs.append((_check_name(path.name if path.is_dir() else path.stem), source))
            else:
                pairs.append((None, source))
    named: dict[str, str | Cube] = {}
    seen: dict[str, str] = {}
    for name, source in pairs:
        if isinstance(source, (str, os.PathLike)):
            source = os.fspath(Path(source).absolute())
        elif not isinstance(source, Cube):
            raise InvalidTypeError(
                f"an input is a {type(source).__name__}",
                field="inputs",
                fix="give cube file paths, Specim capture folders or hsi_tumor.Cube objects",
            )
        if name in named:
            raise InvalidOptionError(
                f"two inputs would write the same output folder {name!r}: {seen[name]} and "
                f"{_describe(source)}",
                field="inputs",
                fix="name the inputs yourself: pass a dict {name: path or cube}",
            )
        named[name] = source
        seen[name] = _describe(source)
    return named


def _remove_leftovers(out_dir: Path, names: Iterable[str]) -> list[Path]:
    """Delete what killed tasks left of these outputs: staging folders whose writer is gone
    (:func:`hsi_tumor._shared.atomic.remove_stale`; a live writer's are locked and kept)."""
    names = set(names)
    found = set()
    for entry in out_dir.iterdir():
        match = _PARTIAL.fullmatch(entry.name)
        if match is not None and match.group("name") in names:
            found.add(match.group("name"))
    return [path for name in sorted(found) for path in remove_stale(out_dir / name)]


def _task_error(exc: BaseException) -> str:
    """The message of a task that raised after its retries, or whose workers kept dying."""
    if type(exc).__name__ == "KilledWorker":
        return (
            f"KilledWorker: {exc} (the workers running it died each time: out of memory? see "
            "the worker logs)"
        )
    return _message(exc)


def _run_here(pending: dict, model: TumorModel, out_dir: Path, options, retries, progress):
    """``client=None``: the same tasks, one after another in this process (no Dask)."""
    items: dict[str, BatchItem] = {}
    bar = progress_bar(len(pending), desc="classify_many", unit="cube", enabled=progress)
    try:
        for name, source in pending.items():
            for attempt in range(retries + 1):  # as Dask does: retried, then reported
                try:
                    target = os.fspath(out_dir / name)
                    item = _classify_one(name, source, model, target, options, progress)
                    break
                except Exception as exc:
                    item = BatchItem(
                        name, FAILED, out_dir / name, _describe(source), error=_message(exc)
                    )
                    if attempt < retries:
                        logger.info("%s raised %s; trying again", name, _message(exc))
                    else:
                        logger.warning("%s failed: %s", name, item.error)
            if item.status != FAILED:
                logger.info("%s: %s in %.1f s", name, item.status, item.seconds or 0.0)
            items[name] = item
            bar.update()
    finally:
        bar.close()
    return items


def _run(client, pending: dict, model: TumorModel, out_dir: Path, options, retries, progress):
    """Submit one task per pending input; collect their items as they complete."""
    distributed = require_distributed()
    token = uuid.uuid4().hex[:8]
    # the model travels once, inside a task: a worker that needs it fetches it from the worker
    # holding it, and if every holder dies the scheduler recomputes it (scattered data is lost)
    model_future = client.submit(_identity, model, key=f"hsi-tumor-model-{token}", pure=False)
    futures = {}
    for name, source in pending.items():
        future = client.submit(
            _classify_one,
            name,
            source,
            model_future,
            os.fspath(out_dir / name),
            options,
            key=f"hsi-tumor-classify-{token}-{name}",
            retries=retries,
            pure=False,
        )
        futures[future] = name
    items: dict[str, BatchItem] = {}
    bar = progress_bar(len(futures), desc="classify_many", unit="cube", enabled=progress)
    try:
        # the client's own loop: a Client made with set_as_default=False is not the default one
        for future in distributed.as_completed(futures, loop=client.loop):
            name = futures[future]
            try:
                item = future.result()
            except Exception as exc:  # raised after its retries, or its workers kept dying
                item = BatchItem(
                    name,
                    FAILED,
                    out_dir / name,
                    _describe(pending[name]),
                    error=_task_error(exc),
                )
                logger.warning("%s failed: %s", name, item.error)
            else:
                logger.info("%s: %s in %.1f s", name, item.status, item.seconds or 0.0)
            items[name] = item
            bar.update()
    finally:
        bar.close()
        unfinished = [future for future in futures if not future.done()]
        if unfinished:  # interrupted: stop what has not started
            client.cancel(unfinished)
        client.cancel([model_future])
    return items


def classify_many(
    inputs,
    model,
    out_dir: str | os.PathLike,
    *,
    client=None,
    format: str = "envi",
    mask: str | None = None,
    spatial_filter=None,
    resample: bool = False,
    overwrite: bool = False,
    retries: int = 2,
    n_jobs: int | None = None,
    n_workers: int | None = None,
    progress: bool = True,
    device: str = "cpu",
    tissue_mask: bool | None = None,
) -> BatchResult:
    """Classify many cubes, each into its own output folder: here, or on a Dask cluster.

    Every input becomes one task that reads the cube, classifies it with
    :func:`hsi_tumor.classify_cube` and writes the result with
    :func:`hsi_tumor.inference.write_tumor_map` into ``out_dir / name``. With ``client=None``
    the tasks run one after another in this process (Dask is not needed); otherwise each is a
    Dask task on a worker. Outputs that are complete already are skipped, so running the same
    batch again after a crash resumes it.

    Parameters
    ----------
    inputs : iterable of path or Cube, or dict of str to path or Cube
        Cube files (any format :func:`hsi_tumor.read_cube` reads, e.g. calibrated reflectance
        as ENVI or HDF5), Specim capture folders (calibrated on the worker with
        :func:`hsi_tumor.calibrate_capture`, as everywhere in hsi_tumor: see
        :func:`hsi_tumor.calibration.as_cube`), or :class:`~hsi_tumor.Cube` objects. Each output
        is named after its file (``specimen_07.hdr`` → ``specimen_07``), a capture folder's
        name, ``cube_<i>`` for the i-th input when it is a Cube, or the dict key.
    model : TumorModel, path or fitted scikit-learn classifier
        The trained model, or its model file (loaded here once, with
        :func:`hsi_tumor.load_model`'s checks, before any task starts); see
        :func:`hsi_tumor.models.as_model`.
    out_dir : str or os.PathLike
        Folder of the output folders; created if needed.
    client : None, "local", str or distributed.Client, default=None
        Where the tasks run (the meaning ``client`` has everywhere in hsi_tumor). None: in
        this process, one cube after another, with the same outputs, atomic folders and
        resumption (dask is not needed). ``"local"``: a local Dask cluster started for the
        batch (one worker process per core, one thread each, no more workers than cubes to
        classify) and closed at the end. Any other string: the address of a running scheduler
        (``"tcp://host:8786"``). A ``Client`` is used as it is and left open.
    format : {'envi', 'hdf5'}, default='envi'
        Format of the label and probability files.
    mask : {None, 'tissue'}, default=None
        The pixels to classify: all, or the tissue of each cube (:func:`hsi_tumor.tissue_mask`);
        the ``mask`` of :func:`hsi_tumor.classify_cube` and ``hsi-tumor classify --mask``.
    spatial_filter : None, str or dict, optional
        Smooth each map (:func:`hsi_tumor.inference.smooth_tumor_map`), as in
        :func:`hsi_tumor.inference.classify_to_folder`; checked before any task starts.
    resample : bool, default=False
        Interpolate cubes whose wavelengths differ from the model's onto its grid.
    overwrite : bool, default=False
        Classify and replace outputs that exist already, instead of skipping them.
    retries : int, default=2
        How many times a task runs again after it raised an unexpected error (errors of
        the cube itself, :data:`CUBE_ERRORS`, are reported at once). Tasks on a worker that
        dies are rerun elsewhere regardless, up to the scheduler's
        ``distributed.scheduler.allowed-failures`` (3) deaths per task.
    n_jobs : int or None, optional
        Threads per cube within a task (``classify_cube``'s ``n_jobs``). Default: every core
        with ``client=None``; 1 on Dask, which already runs one task per worker thread (raise
        it for a few large cubes on a cluster with fewer threads than cores).
    n_workers : int, optional
        Worker processes of the local cluster (only with ``client="local"``); default one per
        core, or with ``device="cuda"`` one per GPU.
    progress : bool, default=True
        A progress bar over the cubes as they complete (tqdm: on stderr, or a widget in a
        notebook), and with ``client=None`` each cube's tile bar under it, cleared when done.
        Shown once the call has run a second; False writes nothing.
    device : {'cpu', 'cuda', 'cuda:N'}, default='cpu'
        Where each task classifies (``classify_cube``'s ``device``). ``'cuda'`` gives each
        worker a GPU of its own (:func:`worker_device`: worker ``i`` of a local cluster uses
        ``cuda:i`` modulo the GPUs it sees), and ``client="local"`` then starts one worker per
        GPU; in this process (``client=None``) every cube goes to the first GPU; ``'cuda:N'``
        sends every task to GPU N. Checked here, before any task starts.
    tissue_mask : bool, optional
        Deprecated (DeprecationWarning): ``tissue_mask=True`` is ``mask="tissue"``.

    Returns
    -------
    BatchResult
        For each input, by name and in input order, a :class:`BatchItem`: ``status``
        (``'written'``, ``'skipped'`` or ``'failed'``), output ``path``, ``error`` and pixel
        counts; ``.written``, ``.skipped``, ``.failed`` list them by status and
        ``raise_on_failure()`` turns failures into an exception.

    Raises
    ------
    MissingDependencyError
        If ``client`` is not None and dask.distributed is not installed
        (``pip install 'hsi_tumor[distributed]'``).
    InvalidOptionError
        If an input is neither a path nor a Cube, two inputs have the same name, ``format`` is
        unknown, ``client`` is none of the above, ``n_workers`` is given without
        ``client="local"``, or ``model`` is not a model (:func:`hsi_tumor.models.as_model`).
    ModelFileError, MissingFileError
        If the model file cannot be loaded.
    DeviceError
        If ``device`` names a GPU this machine does not have (``MissingDependencyError`` when
        neither CuPy nor PyTorch is installed).

    Notes
    -----
    **Exactly once, atomically.** Each output folder is written in a staging folder
    (``.NAME.xxxxxxxx.partial``) and renamed into place when complete (with ``overwrite=True``,
    swapped with the old one in one atomic exchange), so a folder ``NAME`` is always whole and
    is written once: a task whose worker dies is rerun by Dask on another worker, and a rerun
    that finds the folder complete (the dead worker had renamed it) reports it written without
    redoing it. Staging folders that killed workers left behind are deleted when the batch
    starts and when it ends (only those of this batch's names whose writer is gone: a live
    writer holds a lock on its own; see :mod:`hsi_tumor._shared.atomic`). Do not run two
    batches into one folder at the same time.

    **Failures.** A cube that cannot be read or classified (missing or truncated file,
    corrupt header, wrong wavelengths, an output name taken by a file) is reported as failed
    with its error message, and the other cubes still finish. Nothing is raised for them:
    check ``result.failed`` or call ``result.raise_on_failure()``. Each task reads its cube
    with the readers' checks (``docs/io.md``, "Damaged and hostile files"): a file whose
    decoder could kill the process — a corrupt MATLAB v5 file, which once took down a worker
    per attempt and with it the other cubes queued there — is validated in the task before it
    is decoded and fails alone, as does a file declaring more data than the memory budget.

    **Data movement.** Paths are sent to the workers, which read the files themselves: the
    files and ``out_dir`` must be reachable under the same absolute paths on every worker
    (on one machine they are). A Cube input is pickled into its task and held by the
    scheduler until the batch ends: an in-memory or memory-mapped cube travels whole (its
    bytes, not the file name), so give paths for large cubes. The model travels once, as the
    result of a task that the scheduler can recompute if its workers die.

    **In this process** (``client=None``) the cubes are classified one after another, each with
    every core (``n_jobs``); a cube's errors are reported the same way and other exceptions are
    retried ``retries`` times before being reported.

    **The local cluster** (``client="local"``) uses processes (classification is NumPy and
    BLAS work, but writing PNGs and ENVI files holds the GIL) with one thread each, and Dask's
    workers limit BLAS and OpenMP to one thread. On macOS and Windows, and wherever processes
    are spawned, call ``classify_many`` from under ``if __name__ == "__main__":`` in a script.
    Starting it takes a few seconds; for repeated batches keep one ``Client`` and pass it.

    Examples
    --------
    >>> import hsi_tumor as ht
    >>> result = ht.classify_many(["a.hdr", "b.hdr"], "model.htmodel", "maps/")  # doctest: +SKIP
    >>> result  # doctest: +SKIP
    BatchResult(2 cubes into /data/maps: 2 written, 0 skipped, 0 failed; 6.1 s)
    >>> ht.classify_many(paths, "model.htmodel", "maps/", client="local")  # doctest: +SKIP
    """
    start = time.perf_counter()
    if tissue_mask is not None:
        warnings.warn(
            "classify_many(tissue_mask=...) is deprecated: use mask='tissue' (or mask=None), "
            "the name classify_cube and hsi-tumor classify --mask use",
            DeprecationWarning,
            stacklevel=2,
        )
        if tissue_mask:
            mask = "tissue"
    if mask is not None and not (isinstance(mask, str) and mask == "tissue"):
        raise InvalidOptionError(
            f"mask={mask!r}" if isinstance(mask, str) else f"mask is a {type(mask).__name__}",
            field="mask",
            fix="give None or 'tissue' (one mask array cannot fit many cubes: classify them "
            "with hsi_tumor.inference.classify_to_folder)",
        )
    spatial_filter = check_smoothing(spatial_filter)
    check_client(client, n_workers)
    if client is not None:
        require_distributed("classify_many with a Dask client")
    if format not in TUMOR_MAP_FORMATS:
        raise InvalidOptionError(
            f"unknown format {format!r}",
            field="format",
            fix=f"use one of: {', '.join(TUMOR_MAP_FORMATS)}",
        )
    sources = _named_sources(inputs)
    if device != "cpu":
        from hsi_tumor.inference._device import backend_for

        n_devices = backend_for(device).count()  # no GPU, no library: raised here, once
        if client == LOCAL and n_workers is None:
            n_workers = max(1, min(n_devices if device == "cuda" else 1, len(sources)))
    model = as_model(model)
    out_dir = Path(out_dir).absolute()
    out_dir.mkdir(parents=True, exist_ok=True)
    if n_jobs is None and client is not None:
        n_jobs = 1  # Dask runs one task per worker thread
    options = _Options(
        format, mask, bool(resample), bool(overwrite), n_jobs, str(device), spatial_filter
    )

    _remove_leftovers(out_dir, sources)  # first: it may complete a folder a kill left unswapped
    items: dict[str, BatchItem] = {}
    pending: dict[str, str | Cube] = {}
    for name, source in sources.items():
        folder = out_dir / name
        if not overwrite and _is_complete(folder):
            items[name] = _from_summary(name, folder, _describe(source), SKIPPED)
        else:
            pending[name] = source
    logger.info(
        "classify_many: %d cubes, %d to classify, %d complete already",
        len(sources),
        len(pending),
        len(sources) - len(pending),
    )
    if pending:
        with dask_client(
            client, n_tasks=len(pending), n_workers=n_workers, what="classify_many on Dask"
        ) as dask:
            if dask is None:
                items.update(_run_here(pending, model, out_dir, options, retries, progress))
            else:
                items.update(_run(dask, pending, model, out_dir, options, retries, progress))
    _remove_leftovers(out_dir, sources)
    result = BatchResult([items[name] for name in sources], out_dir, time.perf_counter() - start)
    logger.info("classify_many: %r", result)
    return result
