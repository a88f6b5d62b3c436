"""The hsi-tumor command's progress bars: on stderr by default, none with --quiet; warnings
written above a bar, not through it. (Beside tests/test_cli.py, which holds the rest.)"""

from __future__ import annotations

import csv
import warnings

import pytest

import hsi_tumor as ht
from hsi_tumor.cli import main
from hsi_tumor.io import write_labels


@pytest.fixture(scope="module")
def manifest(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cohort")
    rows = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ht.CalibrationWarning)
        for s in ht.simulate_cohort(n_patients=3, seed=0, shape=(30, 36), n_bands=30):
            ht.write_cube(s.cube, folder / f"{s.name}.hdr")
            write_labels(s.labels, folder / f"{s.name}_labels.hdr")
            rows.append([f"{s.name}.hdr", f"{s.name}_labels.hdr", s.patient])
    with open(folder / "cohort.csv", "w", newline="") as f:
        csv.writer(f).writerows([["cube", "labels", "patient"], *rows])
    return folder / "cohort.csv"


@pytest.fixture
def no_delay(monkeypatch):
    monkeypatch.setattr("hsi_tumor._shared.progress.DELAY", 0.0)  # bars show at once


def test_train_shows_its_bar_unless_quiet(manifest, tmp_path, capsys, no_delay):
    argv = ["train", str(manifest), "-o", str(tmp_path / "m"), "--classifier", "svm"]
    argv += ["--param", "gamma=0.1", "--max-pixels-per-class", "100", "--random-state", "0"]
    assert main(argv) == 0
    out, err = capsys.readouterr()
    assert "fit" in err and "train:" in err  # the bar, on stderr
    assert "fit/s" not in out and "%|" not in out  # stdout: only the summary
    assert main(["--quiet", *argv, "--overwrite"]) == 0
    out, err = capsys.readouterr()
    assert "fit" not in err and "%|" not in err


def test_evaluate_shows_the_folds_unless_quiet(manifest, tmp_path, capsys, no_delay):
    argv = ["evaluate", str(manifest), "-o", str(tmp_path / "r"), "--classifier", "lda"]
    argv += ["--bootstrap", "20"]
    assert main(argv) == 0
    err = capsys.readouterr().err
    assert "evaluate:" in err and "3/3" in err and "fold" in err
    assert main(["--quiet", *argv, "--overwrite"]) == 0
    assert "fold" not in capsys.readouterr().err


def test_a_warning_is_written_above_an_open_bar(capsys, no_delay):
    from hsi_tumor._shared.progress import progress_bar
    from hsi_tumor.cli import _show_warning

    with progress_bar(2, desc="work", unit="step") as bar:
        bar.update()
        _show_warning("careful", UserWarning, "x.py", 1)
        bar.update()
    lines = capsys.readouterr().err.replace("\r", "\n").splitlines()
    assert "hsi-tumor: warning: careful" in lines  # a line of its own, not inside the bar
