"""client=: one meaning everywhere (None = here, "local", an address, a Client)."""

from __future__ import annotations

import sys

import pytest

import hsi_tumor as ht
from hsi_tumor._shared.dask import check_client, dask_client, local_workers


def test_none_is_no_dask_and_imports_nothing(monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)
    with dask_client(None) as client:
        assert client is None


def test_a_client_needs_dask(monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)
    for client in ("local", "tcp://host:8786"):
        with pytest.raises(ht.MissingDependencyError, match="evaluate on Dask needs"):
            with dask_client(client, what="evaluate on Dask"):
                pass


def test_bad_values_are_refused():
    with pytest.raises(ht.InvalidOptionError, match="client is a int") as info:
        check_client(3)
    assert info.value.field == "client" and "'local'" in info.value.fix
    with pytest.raises(ht.InvalidOptionError, match="n_workers"):
        check_client(None, n_workers=2)
    with pytest.raises(ht.InvalidOptionError, match="n_workers"):
        check_client("tcp://host:8786", n_workers=2)
    check_client("local", n_workers=2)


def test_a_given_client_is_used_as_it_is():
    class Fake:  # anything with submit and gather, e.g. a distributed.Client subclass
        def submit(self, *a):
            pass

        def gather(self, *a):
            pass

    pytest.importorskip("distributed")
    fake = Fake()
    with dask_client(fake) as client:
        assert client is fake


def test_a_bad_scheduler_address_is_an_option_error():
    """Issue 17: `hsi-tumor evaluate --scheduler foo` ended in distributed's ValueError."""
    pytest.importorskip("distributed")
    with pytest.raises(ht.InvalidOptionError, match="missing port number") as info:
        with dask_client("foo"):
            raise AssertionError("never reached")
    assert info.value.field == "client" and "tcp://" in info.value.fix


def test_local_cluster_size():
    assert local_workers(1) == 1
    assert local_workers(10_000, 3) == 3
    with pytest.raises(ht.InvalidOptionError):
        local_workers(4, 0)


def test_local_starts_and_closes_a_cluster():
    pytest.importorskip("distributed")
    import dask
    import distributed

    before = dask.config.get("scheduler", None)
    with dask_client("local", n_tasks=1) as client:
        assert client.submit(sum, [1, 2]).result(timeout=60) == 3
        cluster = client.cluster
        # not made the default client: the caller's dask collections compute as before
        assert dask.config.get("scheduler", None) == before
        with pytest.raises(ValueError):
            distributed.default_client()
    assert client.status == "closed" and cluster.status.name == "closed"
    assert dask.config.get("scheduler", None) == before


def test_a_local_cluster_whose_event_loop_is_late_is_started_again(monkeypatch, caplog):
    distributed = pytest.importorskip("distributed")
    real, calls = distributed.LocalCluster, []

    def late_once(*args, **kwargs):  # distributed's LoopRunner when its thread is late
        calls.append(1)
        if len(calls) == 1:
            raise AssertionError
        return real(*args, **kwargs)

    monkeypatch.setattr(distributed, "LocalCluster", late_once)
    with dask_client("local", n_tasks=1) as client:
        assert client.submit(sum, [1, 2]).result() == 3
    assert len(calls) == 2 and "did not start (attempt 1: AssertionError)" in caplog.text

    def always_late(*args, **kwargs):
        raise AssertionError

    monkeypatch.setattr(distributed, "LocalCluster", always_late)
    with pytest.raises(ht.InvalidOptionError, match=r"did not start \(2 attempts") as info:
        with dask_client("local", n_tasks=1):
            raise AssertionError("never reached")
    assert info.value.field == "client"


def test_a_worker_that_does_not_start_in_time_is_not_waited_for_forever(monkeypatch, caplog):
    """The real LocalCluster, its workers given 0.2 s (they take seconds): two attempts, then
    an error, instead of distributed waiting for a worker that never reports."""
    pytest.importorskip("distributed")
    from hsi_tumor._shared import dask as shared_dask

    monkeypatch.setattr(shared_dask, "LOCAL_WORKER_START_S", 0.2)
    with pytest.raises(ht.InvalidOptionError, match=r"each worker process 0\.2 s") as info:
        with dask_client("local", n_tasks=1):
            raise AssertionError("never reached")
    assert info.value.field == "client" and "did not start (attempt 1" in caplog.text
