"""classify_many(client=None): the batch in this process, without Dask installed."""

from __future__ import annotations

import shutil
import sys

import numpy as np
import pytest

import hsi_tumor as ht
from hsi_tumor.distributed import classify_many
from hsi_tumor.io import read_labels

pytestmark = pytest.mark.filterwarnings("ignore::hsi_tumor.CalibrationWarning")


@pytest.fixture
def no_dask(monkeypatch):
    """Importing dask.distributed fails, as when it is not installed."""
    monkeypatch.setitem(sys.modules, "distributed", None)


def test_no_client_runs_here_without_dask(no_dask, cubes, model, tmp_path):
    out = tmp_path / "maps"
    broken = tmp_path / "broken.hdr"
    shutil.copy(cubes["specimen_0"], broken)  # a header without its data file
    inputs = [cubes["specimen_0"], broken, cubes["specimen_1"]]
    result = classify_many(inputs, model, out)
    assert [i.status for i in result.values()] == ["written", "failed", "written"]
    assert result["broken"].error.startswith("MissingFileError")
    assert sorted(p.name for p in out.iterdir()) == ["specimen_0", "specimen_1"]  # atomic
    for name in ("specimen_0", "specimen_1"):  # the outputs of classify_cube, as on Dask
        expected = ht.classify_cube(cubes[name], model)
        np.testing.assert_array_equal(read_labels(out / name / "labels.hdr"), expected.labels)
        np.testing.assert_array_equal(
            ht.read_cube(out / name / "probabilities.hdr").load().data, expected.probabilities
        )
        assert result[name].counts == expected.counts()

    again = classify_many(inputs, model, out)  # resumes: complete outputs are skipped
    assert [i.status for i in again.values()] == ["skipped", "failed", "skipped"]
    assert again["specimen_0"].counts == result["specimen_0"].counts


def test_unexpected_errors_are_retried_then_reported(no_dask, cubes, model, tmp_path, monkeypatch):
    from hsi_tumor.distributed import _batch

    calls = []
    real = _batch._classify_one

    def flaky(name, *args):
        calls.append(name)
        if len(calls) < 2:
            raise RuntimeError("a passing hiccup")
        return real(name, *args)

    monkeypatch.setattr(_batch, "_classify_one", flaky)
    result = classify_many([cubes["specimen_0"]], model, tmp_path / "a", retries=1)
    assert result["specimen_0"].status == "written" and calls == ["specimen_0"] * 2

    calls.clear()
    monkeypatch.setattr(_batch, "_classify_one", lambda *a: (calls.append(1), 1 / 0)[1])
    result = classify_many([cubes["specimen_0"]], model, tmp_path / "b", retries=2)
    assert result["specimen_0"].error.startswith("ZeroDivisionError") and len(calls) == 3


def test_client_options_are_checked(no_dask, cubes, model, tmp_path):
    with pytest.raises(ht.InvalidOptionError, match="n_workers"):
        classify_many([cubes["specimen_0"]], model, tmp_path / "o", n_workers=2)
    with pytest.raises(ht.InvalidOptionError, match="client is a int"):
        classify_many([cubes["specimen_0"]], model, tmp_path / "o", client=3)
    with pytest.raises(ht.MissingDependencyError, match="client=None"):
        classify_many([cubes["specimen_0"]], model, tmp_path / "o", client="local")
    assert not (tmp_path / "o").exists()


def test_tissue_mask_is_deprecated_for_mask(no_dask, cubes, model, tmp_path):
    with pytest.warns(DeprecationWarning, match="mask='tissue'"):
        old = classify_many([cubes["specimen_0"]], model, tmp_path / "old", tissue_mask=True)
    new = classify_many([cubes["specimen_0"]], model, tmp_path / "new", mask="tissue")
    assert old["specimen_0"].counts == new["specimen_0"].counts
    assert new["specimen_0"].n_masked > 0
    with pytest.raises(ht.InvalidOptionError, match="mask"):
        classify_many([cubes["specimen_0"]], model, tmp_path / "x", mask=np.ones((30, 36), bool))


def test_the_batch_begins_by_finishing_what_killed_writes_left(
    no_dask, cubes, model, tmp_path, monkeypatch
):
    """Issue 18: where folders cannot be exchanged in one step (NFS), a rewrite killed between
    moving the old folder out and the new one in leaves no folder under the name; the batch's
    start completes the move (the new folder was whole), so the cube counts as done."""
    from hsi_tumor._shared import atomic
    from hsi_tumor.inference import classify_to_folder
    from tests._shared.killing import Killed, dying_at

    out = tmp_path / "maps"
    classify_many([cubes["specimen_0"]], model, out)
    monkeypatch.setattr(atomic, "_exchange", lambda a, b: False)

    def rewrite():
        classify_to_folder(cubes["specimen_0"], model, out / "specimen_0", overwrite=True)

    with dying_at(10**6, deletions=False) as steps:
        rewrite()
    with dying_at(len(steps), deletions=False), pytest.raises(Killed):
        rewrite()  # killed before its last rename
    assert [p.name for p in out.iterdir()] != ["specimen_0"]
    assert not (out / "specimen_0").exists()
    result = classify_many([cubes["specimen_0"]], model, out)
    assert result["specimen_0"].status == "skipped"
    assert [p.name for p in out.iterdir()] == ["specimen_0"]
    expected = ht.classify_cube(cubes["specimen_0"], model)
    np.testing.assert_array_equal(read_labels(out / "specimen_0" / "labels.hdr"), expected.labels)


def test_progress_over_the_cubes_with_each_cubes_tiles_under_it(
    no_dask, cubes, model, tmp_path, monkeypatch, capsys
):
    from hsi_tumor._shared import tiles
    from hsi_tumor._shared.progress import progress_bar
    from hsi_tumor.distributed import _batch

    monkeypatch.setattr("hsi_tumor._shared.progress.DELAY", 0.0)  # show at once
    bars = []

    def spy(total, **kwargs):
        bars.append(progress_bar(total, **kwargs))
        return bars[-1]

    monkeypatch.setattr(_batch, "progress_bar", spy)
    monkeypatch.setattr(tiles, "progress_bar", spy)
    inputs = [cubes["specimen_0"], cubes["specimen_1"]]
    classify_many(inputs, model, tmp_path / "maps")
    out, err = capsys.readouterr()
    outer, *inner = bars
    assert (outer.desc, outer.unit, outer.n, outer.total, outer.leave) == (
        "classify_many",
        "cube",
        2,
        2,
        True,
    )
    assert [(b.desc, b.unit, b.leave) for b in inner] == [("classify", "tile", False)] * 2
    assert out == "" and "classify_many" in err and "2/2" in err

    bars.clear()
    classify_many(inputs, model, tmp_path / "quiet", progress=False)
    assert bars and all(b.disable for b in bars)
    assert capsys.readouterr() == ("", "")
