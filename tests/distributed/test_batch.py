"""classify_many on a real LocalCluster: the serial result, resumable, failures reported, and a
worker killed mid-batch still gives every output exactly once."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

import hsi_tumor as ht
from hsi_tumor._shared.dask import local_workers
from hsi_tumor.distributed import BatchResult, classify_many
from hsi_tumor.distributed._batch import worker_device
from hsi_tumor.inference import write_tumor_map
from hsi_tumor.io import read_labels

distributed = pytest.importorskip(
    "distributed", reason="dask.distributed is not installed (pip install 'hsi_tumor[distributed]')"
)

pytestmark = pytest.mark.filterwarnings("ignore::hsi_tumor.CalibrationWarning")


@pytest.fixture
def cluster(dask_cluster):
    return dask_cluster


@pytest.fixture
def client(dask_client):
    return dask_client


@pytest.fixture
def own_client():
    """A cluster of this test's own, for a test that kills a worker: the shared one
    (``dask_client``) stays untouched even if that test fails half-way."""
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
        ) as cluster,
        distributed.Client(cluster) as client,  # the default client: the batch runs in a thread
    ):
        yield client


@pytest.fixture(scope="module")
def serial(cubes, model, tmp_path_factory):
    """The serial path's output folders: classify_cube + write_tumor_map, one by one."""
    out = tmp_path_factory.mktemp("serial")
    for name, path in cubes.items():
        cube = ht.read_cube(path)
        result = ht.classify_cube(cube, model, n_jobs=1)
        write_tumor_map(result, out / name, background=cube)  # as classify_to_folder does
    return out


def _files(folder: Path) -> dict[str, Path]:
    return {p.name: p for p in sorted(folder.iterdir())}


def _assert_same_output(folder: Path, expected: Path) -> None:
    """Same files, same maps: labels identical, probabilities equal, PNGs and summary equal."""
    assert sorted(_files(folder)) == sorted(_files(expected))
    np.testing.assert_array_equal(
        read_labels(folder / "labels.hdr"), read_labels(expected / "labels.hdr")
    )
    for kind in ("probabilities", "tumor_probability"):
        np.testing.assert_array_equal(
            ht.read_cube(folder / f"{kind}.hdr").load().data,
            ht.read_cube(expected / f"{kind}.hdr").load().data,
        )
    for name in ("classes.png", "tumor_probability.png", "background.png"):
        assert (folder / name).read_bytes() == (expected / name).read_bytes(), name
    # classify_many writes through classify_to_folder, which records how (settings)
    summary = json.loads((folder / "summary.json").read_text())
    assert summary.pop("settings")["mask"] is None
    assert summary == json.loads((expected / "summary.json").read_text())


def _mtimes(folder: Path) -> dict[str, int]:
    return {os.fspath(p): p.stat().st_mtime_ns for p in folder.rglob("*")}


def _hidden(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def test_equals_serial_and_a_rerun_skips_everything(client, cubes, model, serial, tmp_path):
    out = tmp_path / "maps"
    result = classify_many(list(cubes.values()), model, out, client=client)
    assert isinstance(result, BatchResult)
    assert list(result) == list(cubes)  # named after the files, in input order
    assert [item.name for item in result.written] == list(cubes)
    assert not result.failed and not result.skipped
    assert result.raise_on_failure() is result
    for name in cubes:
        _assert_same_output(out / name, serial / name)
        item = result[name]
        assert item.path == out / name and item.error is None
        assert sum(item.counts.values()) == item.n_classified
        assert item.n_pixels == 40 * 48 and item.n_classified + item.n_invalid == item.n_pixels
    assert sorted(p.name for p in out.iterdir()) == sorted(cubes)
    assert "4 written, 0 skipped, 0 failed" in repr(result)

    before = _mtimes(out)
    again = classify_many(list(cubes.values()), model, out, client=client)
    assert [item.name for item in again.skipped] == list(cubes)
    assert not again.written and not again.failed
    assert _mtimes(out) == before  # nothing rewritten
    for name in cubes:  # counts read back from summary.json
        assert again[name].counts == result[name].counts
        assert again[name].n_classified == result[name].n_classified


def test_a_corrupt_file_fails_alone(client, cubes, model, tmp_path):
    broken = tmp_path / "broken.hdr"
    shutil.copy(cubes["specimen_0"], broken)
    data = cubes["specimen_0"].with_suffix(".img").read_bytes()
    (tmp_path / "broken.img").write_bytes(data[: len(data) // 3])  # truncated copy
    out = tmp_path / "maps"
    inputs = [cubes["specimen_1"], broken, cubes["specimen_2"]]
    result = classify_many(inputs, model, out, client=client)
    assert [item.name for item in result.written] == ["specimen_1", "specimen_2"]
    (failed,) = result.failed
    assert failed.name == "broken" and failed.source == os.fspath(broken)
    assert failed.error.startswith("CubeFormatError") and "broken.img" in failed.error
    assert "truncated" in failed.error
    assert "broken: CubeFormatError" in repr(result)
    with pytest.raises(ht.BatchError, match="1 of 3 cubes failed: broken"):
        result.raise_on_failure()
    assert sorted(p.name for p in out.iterdir()) == ["specimen_1", "specimen_2"]

    retry = classify_many(inputs, model, out, client=client)  # failed ones are tried again
    assert [i.status for i in retry.values()] == ["skipped", "failed", "skipped"]


def test_model_file_cube_inputs_and_names(client, cubes, model, serial, tmp_path):
    model_file = ht.save_model(model, tmp_path / "model.htmodel")
    cube = ht.read_cube(cubes["specimen_3"]).load()
    result = classify_many([cube, cubes["specimen_0"]], model_file, tmp_path / "a", client=client)
    assert list(result) == ["cube_0", "specimen_0"] and len(result.written) == 2
    assert result["cube_0"].source.startswith("<Cube 40x48x40")
    _assert_same_output(tmp_path / "a" / "cube_0", serial / "specimen_3")

    named = classify_many({"left": cube}, model, tmp_path / "b", client=client, format="hdf5")
    assert named["left"].status == "written"
    assert (tmp_path / "b" / "left" / "labels.h5").is_file()


def test_inputs_are_checked_before_any_work(model, cubes, tmp_path):
    other = tmp_path / "other"
    other.mkdir()
    shutil.copy(cubes["specimen_0"], other / "specimen_0.hdr")
    with pytest.raises(ht.InvalidOptionError, match="same output folder 'specimen_0'"):
        classify_many([cubes["specimen_0"], other / "specimen_0.hdr"], model, tmp_path / "o")
    with pytest.raises(ht.InvalidOptionError, match="cannot name an output folder"):
        classify_many({"../up": cubes["specimen_0"]}, model, tmp_path / "o")
    with pytest.raises(ht.InvalidTypeError, match="an input is a int"):
        classify_many([3], model, tmp_path / "o")
    with pytest.raises(ht.InvalidOptionError, match="unknown format"):
        classify_many(list(cubes.values()), model, tmp_path / "o", format="png")
    with pytest.raises(ht.InvalidOptionError, match="n_workers"):
        classify_many(list(cubes.values()), model, tmp_path / "o", client="tcp://x", n_workers=2)
    with pytest.raises(ht.InvalidTypeError, match="model is a int"):
        classify_many(list(cubes.values()), 42, tmp_path / "o")
    with pytest.raises(ht.MissingFileError):
        classify_many(list(cubes.values()), tmp_path / "no.htmodel", tmp_path / "o")
    assert not (tmp_path / "o").exists()


def test_local_client_starts_and_closes_a_local_cluster(
    cubes, model, serial, tmp_path, monkeypatch
):
    """client="local" starts a cluster for the call (before issue 13 client=None did that; None
    now means no Dask everywhere, see tests/distributed/test_in_process.py)."""
    made = []

    class Recorded(distributed.LocalCluster):
        def __init__(self, *args, **kwargs):
            made.append(kwargs)
            super().__init__(*args, **kwargs)
            made.append(self)

    monkeypatch.setattr(distributed, "LocalCluster", Recorded)
    result = classify_many(
        [cubes["specimen_0"]], model, tmp_path / "maps", client="local", n_workers=1
    )
    assert [item.name for item in result.written] == ["specimen_0"]
    _assert_same_output(tmp_path / "maps" / "specimen_0", serial / "specimen_0")
    options, cluster = made
    assert options["n_workers"] == 1 and options["threads_per_worker"] == 1
    assert options["processes"] is True
    assert cluster.status.name == "closed"

    made.clear()  # all complete: no cluster is started at all
    again = classify_many([cubes["specimen_0"]], model, tmp_path / "maps", client="local")
    assert len(again.skipped) == 1
    assert made == []


def test_local_cluster_size():
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    assert local_workers(1) == 1
    assert local_workers(10_000) == cores
    assert local_workers(10_000, 3) == 3
    with pytest.raises(ht.InvalidOptionError):
        local_workers(4, 0)


def test_scheduler_address(cluster, client, cubes, model, serial, tmp_path):
    result = classify_many(
        [cubes["specimen_1"]], model, tmp_path / "maps", client=cluster.scheduler_address
    )
    assert [item.name for item in result.written] == ["specimen_1"]
    _assert_same_output(tmp_path / "maps" / "specimen_1", serial / "specimen_1")
    assert client.submit(sum, [1, 2]).result() == 3  # the cluster is still running
    assert len(client.scheduler_info()["workers"]) == 2


def test_stale_partials_of_the_batch_are_removed(client, cubes, model, tmp_path):
    import fcntl

    out = tmp_path / "maps"
    dead = out / ".specimen_0.abc_1234.partial"  # a killed worker's staging folder: unlocked
    (dead / "new" / "specimen_0").mkdir(parents=True)
    (dead / "new" / "specimen_0" / "labels.img").write_bytes(b"\0" * 10)
    (dead / "lock").touch()
    old = out / ".specimen_0.old_5678.partial"  # an earlier version's (no lock), 2 minutes old
    old.mkdir()
    os.utime(old, (time.time() - 120,) * 2)
    live = out / ".specimen_0.live_123.partial"  # a writer still at work holds its lock: kept
    live.mkdir()
    (out / ".specimen_9.abc_1234.partial").mkdir()  # not this batch's: kept
    (out / ".specimen_0.notes").write_text("kept")  # not a temporary name
    with open(live / "lock", "w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        result = classify_many([cubes["specimen_0"]], model, out, client=client)
        assert len(result.written) == 1
        assert _hidden(out) == [
            ".specimen_0.live_123.partial",
            ".specimen_0.notes",
            ".specimen_9.abc_1234.partial",
        ]


def test_unexpected_errors_are_retried_then_reported(client, tmp_path, model):
    class Unreadable:  # pickled by value into the task: raises a non-cube error on read
        shape, dtype, ndim = (40, 48, 40), np.dtype(np.float32), 3

        def select(self, key):
            return self

        def __getitem__(self, key):
            raise RuntimeError("the storage went away")

    cube = ht.Cube(Unreadable(), np.linspace(900, 1700, 40))
    result = classify_many({"gone": cube}, model, tmp_path / "maps", client=client, retries=1)
    (failed,) = result.failed
    assert failed.error == "RuntimeError: the storage went away"


@pytest.mark.slow
def test_a_worker_killed_mid_batch(own_client, cubes, model, serial, tmp_path):
    """The worker writing 'slow' is killed inside write_tumor_map (its temporary folder half
    written): Dask reruns the task elsewhere; every output exists once, equal to the serial
    one, and the dead worker's temporary folder is gone."""
    client = own_client
    marker = os.fspath(tmp_path / "slow.pid")

    def install():  # runs on each worker (a closure: pickled by value)
        import hsi_tumor.inference._tumor_map_io as viz  # the writer's own name for it

        original = viz.save_figure

        def slow_png(figure, path, **options):
            # path: maps/.slow.xxxxxxxx.partial/new/slow/NAME.png (the folder being staged)
            staged = any(p.name.startswith(".slow.") for p in Path(path).parents)
            if staged and not os.path.exists(marker):
                Path(marker + ".tmp").write_text(str(os.getpid()))
                os.replace(marker + ".tmp", marker)
                time.sleep(120)  # until killed
            return original(figure, path, **options)

        viz._original_save_figure = original
        viz.save_figure = slow_png

    def uninstall():
        import hsi_tumor.inference._tumor_map_io as viz

        if hasattr(viz, "_original_save_figure"):
            viz.save_figure = viz._original_save_figure
            del viz._original_save_figure

    inputs = {"slow": cubes["specimen_0"], **{k: v for k, v in cubes.items() if k != "specimen_0"}}
    expected = {"slow": serial / "specimen_0", **{k: serial / k for k in inputs if k != "slow"}}
    pids = set(client.run(os.getpid).values())
    client.run(install)
    outcome = {}
    batch = threading.Thread(
        target=lambda: outcome.update(
            result=classify_many(inputs, model, tmp_path / "maps", client=client)
        )
    )
    try:
        batch.start()
        deadline = time.monotonic() + 60
        while not os.path.exists(marker):
            assert time.monotonic() < deadline, "the slow task never started"
            time.sleep(0.05)
        pid = int(Path(marker).read_text())
        assert pid in pids
        assert any(p.name.startswith(".slow.") for p in (tmp_path / "maps").iterdir())
        os.kill(pid, signal.SIGKILL)
        batch.join(timeout=90)
        assert not batch.is_alive()
    finally:
        client.run(uninstall)
    result = outcome["result"]
    assert sorted(item.name for item in result.written) == sorted(inputs)
    assert not result.failed
    out = tmp_path / "maps"
    assert sorted(p.name for p in out.iterdir()) == sorted(inputs)  # once each, nothing hidden
    for name, folder in expected.items():
        _assert_same_output(out / name, folder)
    client.wait_for_workers(2, timeout=60)  # the nanny restarted the killed worker
    assert pid not in set(client.run(os.getpid).values())


def test_missing_dask_names_the_extra(monkeypatch):
    """Without dask, ht.classify_many imports (client=None needs no Dask); a client does."""
    monkeypatch.setitem(sys.modules, "distributed", None)
    assert ht.classify_many is classify_many
    for client in ("local", "tcp://x:8786"):
        with pytest.raises(ht.MissingDependencyError, match=r"needs dask\.distributed") as caught:
            classify_many([], None, "unused", client=client)
        assert r"hsi_tumor[distributed]" in str(caught.value)


def test_worker_device_gives_each_worker_its_gpu():
    assert worker_device("cpu", 3, 4) == "cpu"
    assert worker_device("cuda:1", 3, 4) == "cuda:1"  # an explicit GPU is kept
    assert [worker_device("cuda", i, 2) for i in range(4)] == ["cuda:0", "cuda:1"] * 2
    assert worker_device("cuda", "7", 4) == "cuda:3"
    assert worker_device("cuda", 5, 1) == "cuda"  # one visible GPU (dask_cuda): its own
    named = worker_device("cuda", "tcp://10.0.0.5:4001", 4)
    assert named in {f"cuda:{i}" for i in range(4)}
    assert named == worker_device("cuda", "tcp://10.0.0.5:4001", 4)  # stable
    assert worker_device("cuda", None, 2) == "cuda"  # not on a worker


def _has_gpu() -> bool:
    from hsi_tumor.inference import _device

    try:
        _device.backend_for("cuda")
    except (ht.HsiTumorError, ImportError):
        return False
    return True


@pytest.mark.skipif(_has_gpu(), reason="this machine has a GPU")
def test_a_missing_gpu_is_raised_before_any_work(cubes, model, tmp_path, monkeypatch):
    started = []
    monkeypatch.setattr(distributed, "LocalCluster", lambda *a, **k: started.append(1))
    with pytest.raises((ht.DeviceError, ht.MissingDependencyError), match="device"):
        classify_many(list(cubes.values()), model, tmp_path / "maps", device="cuda")
    assert started == [] and not (tmp_path / "maps").exists()


@pytest.mark.skipif(not _has_gpu(), reason="no CUDA GPU with CuPy or PyTorch on this machine")
def test_gpu_workers_write_the_cpu_maps(cubes, model, serial, tmp_path):
    out = tmp_path / "maps"
    result = classify_many(list(cubes.values()), model, out, device="cuda", client="local")
    assert [item.name for item in result.written] == list(cubes)
    for name in cubes:
        np.testing.assert_array_equal(
            read_labels(out / name / "labels.hdr"), read_labels(serial / name / "labels.hdr")
        )
        np.testing.assert_allclose(
            ht.read_cube(out / name / "probabilities.hdr").load().data,
            ht.read_cube(serial / name / "probabilities.hdr").load().data,
            rtol=0,
            atol=1e-4,
        )


def test_a_client_that_is_not_the_default_one(cluster, cubes, model, tmp_path):
    """A Client made with set_as_default=False is used as given (its own event loop)."""
    with distributed.Client(cluster, set_as_default=False) as own:
        result = classify_many([cubes["specimen_0"]], model, tmp_path / "maps", client=own)
    assert [item.name for item in result.written] == ["specimen_0"]
