"""A ``distributed.Client`` for a batch: the caller's, one for an address, or a local cluster."""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator

from hsi_tumor._shared.errors import InvalidOptionError, InvalidTypeError, MissingDependencyError

logger = logging.getLogger("hsi_tumor.distributed")

__all__ = ["INSTALL_HINT", "connect", "require_distributed"]

#: How to install what this subpackage needs.
INSTALL_HINT = "pip install 'hsi_tumor[distributed]'"


def require_distributed(what: str = "batch work on Dask"):
    """Return the ``distributed`` module, or raise :class:`MissingDependencyError`."""
    try:
        import distributed
    except ImportError as exc:
        raise MissingDependencyError(
            f"{what} needs dask.distributed, which is not installed ({exc})",
            fix=INSTALL_HINT,
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


@contextlib.contextmanager
def connect(client, *, n_tasks: int, n_workers: int | None = None) -> Iterator:
    """Yield a ``distributed.Client`` for ``client`` and release what was made for it.

    Parameters
    ----------
    client : None, str or distributed.Client
        None starts a :class:`distributed.LocalCluster` of worker processes with one thread
        each (:func:`local_workers` of them; no dashboard on the usual port, a random one) and
        closes it afterwards; a string is a scheduler
        address to connect to (the connection is closed afterwards, the cluster is left
        running); a ``Client`` is used as it is and left open.
    n_tasks : int
        How many tasks will run (a local cluster starts no more workers than that).
    n_workers : int, optional
        Worker processes of the local cluster (only with ``client=None``).

    Yields
    ------
    distributed.Client
    """
    distributed = require_distributed()
    if n_workers is not None and client is not None:
        raise InvalidOptionError(
            "n_workers sizes the local cluster made when no client is given",
            field="n_workers",
            fix="size your own cluster, or pass client=None",
        )
    if client is None:
        n = local_workers(n_tasks, n_workers)
        logger.info("starting a local Dask cluster: %d worker processes, 1 thread each", n)
        import dask

        # Dask's workers get MALLOC_TRIM_THRESHOLD_=65536, which also pins glibc's mmap
        # threshold: every tile-sized array is then a fresh mmap, page-faulted and zeroed, and
        # classification ran 2x slower (measured). Our workers keep glibc's adaptive default.
        with (
            dask.config.set({"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None}),
            distributed.LocalCluster(
                n_workers=n, threads_per_worker=1, processes=True, dashboard_address=":0"
            ) as cluster,
            distributed.Client(cluster) as own,
        ):
            yield own
    elif isinstance(client, str):
        with distributed.Client(client) as own:
            yield own
    elif isinstance(client, distributed.Client):
        yield client
    else:
        raise InvalidTypeError(
            f"client is a {type(client).__name__}",
            field="client",
            fix="pass None (a local cluster), a scheduler address, or a distributed.Client",
        )
