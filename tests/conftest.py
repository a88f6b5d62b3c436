"""Shared fixtures: where the real data lives, and deterministic random generators."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"


def shared_data_path(*parts: str) -> Path:
    """Return a path under ``../shared/data``, skipping the test when it is absent."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(
            f"real data not available: {path} is absent (the team's shared data folder sits "
            "beside the repository as ../shared/data; it is never copied into the repo)"
        )
    return path


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(20261123)


@pytest.fixture(scope="session")
def dask_cluster():
    """One local Dask cluster for the whole run: 2 worker processes of 1 thread each.

    Started on first use and shared by every test that only needs *a* cluster (starting one
    costs seconds). Tests that start, size or kill a cluster of their own keep doing so.
    """
    distributed = pytest.importorskip(
        "distributed",
        reason="dask.distributed is not installed (pip install 'hsi_tumor[distributed]')",
    )
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
    ) as cluster:
        yield cluster


@pytest.fixture(scope="session")
def _dask_session_client(dask_cluster):
    import distributed

    # not the default client: dask collections of other tests keep computing in-process
    with distributed.Client(dask_cluster, set_as_default=False) as client:
        yield client


@pytest.fixture
def dask_client(_dask_session_client):
    """A client of :func:`dask_cluster`, the current (default) client during the test only."""
    with _dask_session_client.as_current():
        yield _dask_session_client
