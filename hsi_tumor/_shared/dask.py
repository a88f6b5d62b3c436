"""``client=``: one meaning everywhere (evaluate, compare, classify_many).

- ``None``: no Dask: the work runs in this process (dask need not be installed);
- ``"local"``: a :class:`distributed.LocalCluster` of worker processes is started for the call
  and closed after it;
- any other string: the address of a running scheduler (``"tcp://host:8786"``), connected to
  for the call (the cluster is left running);
- a ``distributed.Client``: used as it is and left open.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator

from hsi_tumor._shared.errors import InvalidOptionError, InvalidTypeError, MissingDependencyError

logger = logging.getLogger("hsi_tumor")

__all__ = ["INSTALL_HINT", "LOCAL", "dask_client", "local_workers", "require_distributed"]

#: How to install what Dask work needs.
INSTALL_HINT = "pip install 'hsi_tumor[distributed]'"
#: ``client="local"``: start a local cluster for the call.
LOCAL = "local"


def require_distributed(what: str = "batch work on Dask"):
    """Return the ``distributed`` module, or raise :class:`MissingDependencyError`."""
    try:
        import distributed
    except ImportError as exc:
        raise MissingDependencyError(
            f"{what} needs dask.distributed, which is not installed ({exc})",
            field="client",
            fix=f"{INSTALL_HINT}, or pass client=None to work in this process",
        ) from exc
    return distributed


def local_workers(n_tasks: int, n_workers: int | None = None) -> int:
    """Worker processes for a local cluster: one per core, no more than there are tasks."""
    if n_workers is not None:
        if int(n_workers) < 1:
            raise InvalidOptionError(
                f"n_workers is {n_workers}", field="n_workers", fix="give 1 or more"
            )
        return int(n_workers)
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return max(1, min(cores or 1, n_tasks))


def check_client(client, n_workers: int | None = None) -> None:
    """Raise :class:`InvalidOptionError` for a ``client`` value no helper takes, or
    ``n_workers`` without ``client="local"``; imports nothing."""
    if client is not None and not isinstance(client, str):
        if not (hasattr(client, "submit") and hasattr(client, "gather")):
            raise InvalidTypeError(
                f"client is a {type(client).__name__}",
                field="client",
                fix="pass None (work here), 'local' (a local Dask cluster for the call), a "
                "scheduler address, or a distributed.Client",
            )
    if n_workers is not None and client != LOCAL:
        raise InvalidOptionError(
            f"n_workers sizes the local cluster of client='local', and client is {client!r}",
            field="n_workers",
            fix="size your own cluster, or pass client='local'",
        )


#: Attempts at starting a local cluster. A start can fail for reasons outside our code, seen
#: in this project's tests on a 2-core machine: distributed waits a fixed 10 s for its
#: event-loop thread (a bare AssertionError when it is late, about one CI run in four), and a
#: first start once never finished (a worker process that never reported, cause not found).
LOCAL_CLUSTER_ATTEMPTS = 2
#: Seconds a worker process of the local cluster may take to start and reach the scheduler
#: (distributed's ``death_timeout``; without it a worker that never reports is waited for
#: forever). Starting one takes about 2.5 s on an idle 2-core machine, about 10 s under load.
LOCAL_WORKER_START_S = 60.0


def _local_cluster(distributed, n_workers: int):
    """A started ``LocalCluster`` of ``n_workers`` one-thread processes (see
    :data:`LOCAL_CLUSTER_ATTEMPTS` and :data:`LOCAL_WORKER_START_S`)."""

    def start():
        return distributed.LocalCluster(
            n_workers=n_workers,
            threads_per_worker=1,
            processes=True,
            dashboard_address=":0",
            death_timeout=LOCAL_WORKER_START_S,
        )

    # AssertionError: the event loop was late, or (distributed's own close path) a worker
    # timed out while starting; RuntimeError/TimeoutError: a worker failed or timed out.
    failures = (AssertionError, RuntimeError, TimeoutError)
    for attempt in range(1, LOCAL_CLUSTER_ATTEMPTS):
        try:
            return start()
        except failures as exc:
            logger.warning(
                "the local Dask cluster did not start (attempt %d: %s); again",
                attempt,
                type(exc).__name__,
            )
    try:
        return start()
    except failures as exc:
        raise InvalidOptionError(
            f"the local Dask cluster did not start ({LOCAL_CLUSTER_ATTEMPTS} attempts; last: "
            f"{type(exc).__name__} {exc}; its event loop gets 10 s, each worker process "
            f"{LOCAL_WORKER_START_S:g} s)",
            field="client",
            fix="retry when the machine is less busy, or leave client out to work in this process",
        ) from exc


@contextlib.contextmanager
def dask_client(
    client, *, n_tasks: int = 1, n_workers: int | None = None, what: str = "Dask work"
) -> Iterator:
    """Yield the ``distributed.Client`` that ``client`` means (or None), and release what was
    made for it.

    Parameters
    ----------
    client : None, "local", str or distributed.Client
        None yields None (work in this process; nothing is imported). ``"local"`` starts a
        :class:`distributed.LocalCluster` of worker processes with one thread each
        (:func:`local_workers` of them; the dashboard on a random port) and closes it
        afterwards. Any other string is a scheduler address to connect to (the connection is
        closed afterwards, the cluster is left running). A ``Client`` is used as it is and
        left open.
    n_tasks : int, default=1
        How many tasks will run (a local cluster starts no more workers than that).
    n_workers : int, optional
        Worker processes of the local cluster (only with ``client="local"``).
    what : str
        What needs Dask, for the message when it is not installed.

    Yields
    ------
    distributed.Client or None

    Raises
    ------
    InvalidOptionError
        For any other ``client``, ``n_workers`` without ``client="local"``, or a scheduler
        address that is malformed or where no scheduler answers.
    MissingDependencyError
        If ``client`` is not None and dask.distributed is not installed.
    """
    check_client(client, n_workers)
    if client is None:
        yield None
        return
    distributed = require_distributed(what)
    if client == LOCAL:
        n = local_workers(n_tasks, n_workers)
        logger.info("starting a local Dask cluster: %d worker processes, 1 thread each", n)
        import dask

        # Dask's workers get MALLOC_TRIM_THRESHOLD_=65536, which also pins glibc's mmap
        # threshold: every tile-sized array is then a fresh mmap, page-faulted and zeroed, and
        # classification ran 2x slower (measured). Our workers keep glibc's adaptive default.
        with dask.config.set({"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None}):
            cluster = _local_cluster(distributed, n)
        with (
            cluster,
            # not the default client: the global dask config (scheduler) stays the caller's
            distributed.Client(cluster, set_as_default=False) as own,
        ):
            yield own
    elif isinstance(client, str):
        try:
            own = distributed.Client(client, set_as_default=False)
        except (ValueError, OSError) as exc:  # a malformed address, no scheduler there
            raise InvalidOptionError(
                f"cannot connect to the Dask scheduler {client!r} ({exc})",
                field="client",
                fix="give the address of a running scheduler, e.g. tcp://10.0.0.5:8786, or "
                "leave it out to work in this process",
            ) from None
        with own:
            yield own
    else:
        yield client
