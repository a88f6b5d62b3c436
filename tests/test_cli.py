"""The hsi-tumor command: info, calibrate, train, classify, evaluate, demo; one-line errors."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

import hsi_tumor as ht
from hsi_tumor.cli import main
from hsi_tumor.io import read_labels, write_labels

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_demo_runs_the_main_job(tmp_path, capsys, monkeypatch):
    """The demo's whole chain at a small size (``make demo`` runs the default size)."""
    import functools

    from hsi_tumor import _demo

    small = functools.partial(_demo.run_demo, n_patients=3, shape=(40, 48), n_bands=40)
    monkeypatch.setattr(_demo, "run_demo", small)
    assert main(["--quiet", "demo", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "SIMULATED data" in out and "Scheme: leave-one-patient-out (3 folds)." in out
    assert "P01 " in out and "held-out specimen (new patient): accuracy" in out
    assert "**" not in out and "|" not in out  # plain text on the terminal (issue 17, item 14)
    assert (
        f"cohort manifest (calibrated cubes, for train/evaluate): {tmp_path / 'cohort.csv'}" in out
    )
    report = (tmp_path / "report" / "report.md").read_text()
    assert "SIMULATED" in report and "![ROC curves](roc.png)" in report
    for name in ("roc.png", "confusion.png", "reliability.png", "patient_P01-1.png"):
        assert (tmp_path / "report" / name).stat().st_size > 1000
    labels = ht.io.read_labels(tmp_path / "held_out" / "labels.hdr")
    assert labels.shape == (40, 48) and set(np.unique(labels)) <= {0, 1, 2}
    model = ht.load_model(tmp_path / "model.htmodel")
    assert model.patients == ("P01", "P02", "P03")
    # the captures are real Specim folders, calibrated from disk: the water band shows
    reflectance = ht.calibrate_capture(tmp_path / "captures" / "P01-1")
    mean = np.nanmean(reflectance.load().pixels()[(ht.tissue_mask(reflectance)).ravel()], axis=0)
    assert mean[reflectance.band_index(1450)] < 0.8 * mean[reflectance.band_index(1300)]
    assert main(["--quiet", "demo", "--out", str(tmp_path)]) == 0  # reruns replace cleanly


def test_demo_manifest_feeds_train_and_evaluate_as_it_is(tmp_path, capsys):
    """Issue 17, item 10: the demo writes calibrated cubes and a cohort manifest that
    ``hsi-tumor train`` and ``hsi-tumor evaluate`` take as they are."""
    from hsi_tumor import _demo
    from hsi_tumor.datasets import read_manifest

    cohort = ht.simulate_cohort(3, seed=0, shape=(32, 40), n_bands=24)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ht.CalibrationWarning)  # dead columns, glare
        manifest = _demo.write_cohort(cohort, tmp_path / "out")
    assert manifest == tmp_path / "out" / "cohort.csv"
    header, first = manifest.read_text().splitlines()[:2]
    assert header == "cube,labels,patient,name,tumor_fraction,tissue"
    npz = "captures/P01-1/results/P01-1_ground_truth.npz"
    assert first == (
        f"captures/P01-1/results/REFLECTANCE_P01-1.hdr,{npz}:annotation,P01,P01-1,"
        f"{npz}:tumor_fraction,{npz}:true_labels"
    )
    for spec, sim in zip(read_manifest(manifest), cohort, strict=True):
        # the library's calibration from disk is the simulator's (bit depth, 0.99 panel)
        np.testing.assert_array_equal(spec.cube.load().data, sim.cube.data)
        np.testing.assert_array_equal(spec.labels, sim.labels)  # the annotation
        np.testing.assert_array_equal(spec.tumor_fraction, sim.tumor_fraction)
        np.testing.assert_array_equal(spec.tissue, sim.true_labels > 0)
        assert (spec.patient, spec.name) == (sim.patient, sim.name)

    model = tmp_path / "model.htmodel"
    options = ["--classifier", "lda", "--class-names", "1=normal", "2=tumor"]
    argv = ["--quiet", "train", str(manifest), "-o", str(model), *options, "--random-state", "0"]
    assert main(argv) == 0
    trained = ht.load_model(model)
    assert trained.patients == ("P01", "P02", "P03") and trained.training["invalid_left_out"] > 0
    report = tmp_path / "report"
    argv = ["--quiet", "evaluate", str(manifest), "-o", str(report), *options, "--bootstrap", "20"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "Scheme: leave-one-patient-out (3 folds)." in out and "fuzzy Dice" in out
    assert (report / "report.md").is_file()


def test_info(tmp_path, capsys, rng):
    ht.write_cube(ht.Cube(rng.random((3, 4, 2)), [1000, 1100], {"bbl": [1, 0]}), tmp_path / "c.h5")
    assert main(["info", str(tmp_path / "c.h5")]) == 0
    out = capsys.readouterr().out
    assert "3 rows x 4 cols x 2 bands" in out and "bad bands (bbl = 0): 1" in out


def test_bad_input_is_one_line(tmp_path, capsys):
    assert main(["info", str(tmp_path / "missing.hdr")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        f"hsi-tumor info: error: argument PATH: {tmp_path / 'missing.hdr'}: no such file or "
        "folder. Fix: check the path (and the working folder)."
    ]
    with pytest.raises(ht.MissingFileError):
        main(["--debug", "info", str(tmp_path / "missing.hdr")])


def test_info_of_a_capture(tmp_path, capsys):
    wl = np.array([1000.0, 1100.0])
    parts = [ht.Cube(np.ones((n, 3, 2), np.uint16), wl) for n in (4, 2, 2)]
    ht.write_capture(parts[0], tmp_path / "cap", *parts[1:])
    assert main(["info", str(tmp_path / "cap")]) == 0
    out = capsys.readouterr().out
    assert "Specim capture 'cap'" in out and "white: Cube(2 rows" in out


# -- calibrate, train, classify, evaluate on a tiny simulated cohort ----------------------------


@pytest.fixture(scope="module")
def cohort(tmp_path_factory):
    """Three simulated patients on disk: reflectance cubes, annotations, a manifest."""
    folder = tmp_path_factory.mktemp("cohort")
    simulated = ht.simulate_cohort(n_patients=3, seed=0, shape=(40, 48), n_bands=40)
    rows = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ht.CalibrationWarning)
        for s in simulated:
            ht.write_cube(s.calibrate(), folder / f"{s.name}.hdr")
            write_labels(s.labels, folder / f"{s.name}_labels.hdr")
            rows.append([f"{s.name}.hdr", f"{s.name}_labels.hdr", s.patient])
    with open(folder / "cohort.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["cube", "labels", "patient"])
        writer.writerows(rows)
    simulated[0].write_capture(folder / "specimen")
    return folder, simulated


@pytest.fixture(scope="module")
def model_file(cohort):
    folder, _ = cohort
    path = folder / "lda.htmodel"
    code = main(
        ["--quiet", "train", str(folder / "cohort.csv"), "-o", str(path), "--classifier", "lda"]
        + ["--class-names", "1=normal", "2=tumor", "--seed", "0"]
    )
    assert code == 0
    return path


def error_line(capsys) -> str:
    """The one line a failing command writes on stderr: ``hsi-tumor COMMAND: error: ...``."""
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert err[0].startswith("hsi-tumor ") and ": error: " in err[0] and "Fix: " in err[0]
    return err[0]


def test_train_writes_a_model_and_summary(cohort, model_file, capsys, tmp_path):
    model = ht.load_model(model_file)
    assert model.classifier == "lda" and model.class_names == {1: "normal", 2: "tumor"}
    assert model.patients == ("P01", "P02", "P03")
    assert model.training["random_state"] == 0
    assert model.training["invalid_left_out"] > 0  # NaN of saturated pixels: left out
    folder, _ = cohort
    out = tmp_path / "m.htmodel"
    argv = ["--quiet", "train", str(folder / "cohort.csv"), "-o", str(out)]
    argv += ["--classifier", "logistic", "--preprocessing", "snv", "pca:n_components=5"]
    argv += ["--param", "C=10", "--class-names", "normal", "tumor", "--random-state", "1"]
    assert main(argv) == 0
    text = capsys.readouterr().out
    assert "snv → pca(n_components=5) → logistic" in text
    assert "patients: 3 (P01, P02, P03)" in text and f"wrote {out}" in text
    assert ht.load_model(out).pipeline[-1].C == 10
    assert main(argv) == 2  # exists
    assert "--overwrite" in error_line(capsys)
    assert main([*argv, "--overwrite"]) == 0


def test_train_tuned_svm(cohort, tmp_path, capsys):
    folder, _ = cohort
    argv = ["--quiet", "train", str(folder / "cohort.csv"), "-o", str(tmp_path / "svm")]
    argv += ["--param", "C=10", "--param", "gamma=0.1", "--max-pixels-per-class", "200"]
    assert main(argv) == 0
    model = ht.load_model(tmp_path / "svm")
    assert model.classifier == "svm"
    assert "no class is named 'tumor'" in capsys.readouterr().out


def test_classify_matches_the_library(cohort, model_file, tmp_path, capsys):
    folder, _ = cohort
    cube_path = folder / "P02-1.hdr"
    argv = ["--quiet", "classify", str(cube_path), "--model", str(model_file)]
    assert main([*argv, "-o", str(tmp_path / "out")]) == 0
    expected = ht.classify_cube(ht.read_cube(cube_path), ht.load_model(model_file))
    labels, names = read_labels(tmp_path / "out" / "labels.hdr", return_class_names=True)
    np.testing.assert_array_equal(labels, expected.labels)
    assert names == {1: "normal", 2: "tumor"}
    probabilities = ht.read_cube(tmp_path / "out" / "probabilities.hdr").load().data
    np.testing.assert_array_equal(probabilities, expected.probabilities)
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["counts"] == expected.counts() and summary["n_invalid"] == expected.n_invalid
    out = capsys.readouterr().out
    assert f"tumor {expected.counts()['tumor']}" in out and "classes.png" in out
    # never silently replaced; --overwrite replaces
    assert main([*argv, "-o", str(tmp_path / "out")]) == 2
    line = error_line(capsys)
    assert "exists" in line and str(tmp_path / "out") in line
    assert main([*argv, "-o", str(tmp_path / "out"), "--overwrite", "--format", "hdf5"]) == 0
    np.testing.assert_array_equal(read_labels(tmp_path / "out" / "labels.h5"), expected.labels)


def test_classify_on_a_device(cohort, model_file, tmp_path, capsys, monkeypatch):
    import array_api_strict

    from hsi_tumor.inference import _device

    folder, _ = cohort
    cube_path = folder / "P02-1.hdr"
    argv = ["--quiet", "classify", str(cube_path), "--model", str(model_file)]
    monkeypatch.setattr(_device, "backend_for", _device.backend_for.__wrapped__)
    monkeypatch.setattr(_device.CupyBackend, "__init__", _no_module)
    monkeypatch.setattr(_device.TorchBackend, "__init__", _no_module)
    assert main([*argv, "-o", str(tmp_path / "gpu"), "--device", "cuda"]) == 2
    assert "hsi_tumor[gpu]" in error_line(capsys)
    # the GPU code, run on the host: the same maps as the CPU path
    host = _device.HostBackend(array_api_strict)
    monkeypatch.setattr(_device, "backend_for", lambda device: host)
    assert main([*argv, "-o", str(tmp_path / "host"), "--device", "cuda"]) == 0
    expected = ht.classify_cube(ht.read_cube(cube_path), ht.load_model(model_file))
    np.testing.assert_array_equal(read_labels(tmp_path / "host" / "labels.hdr"), expected.labels)


def _no_module(self, index):
    raise ImportError(f"No module named {self.name!r}")


def test_classify_with_masks_and_spatial_filter(cohort, model_file, tmp_path):
    folder, _ = cohort
    cube_path = folder / "P01-1.hdr"
    roi = np.zeros((40, 48), np.uint8)
    roi[5:30, 10:40] = 1
    np.save(tmp_path / "roi.npy", roi)
    argv = ["--quiet", "classify", str(cube_path), "--model", str(model_file), "--tissue-mask"]
    # --tissue-mask with --mask FILE: the tissue within the file's mask
    argv += ["--mask", str(tmp_path / "roi.npy"), "--spatial-filter", "--neighbors", "8"]
    assert main([*argv, "-o", str(tmp_path / "out"), "--format", "hdf5"]) == 0
    labels = read_labels(tmp_path / "out" / "labels.h5")
    tissue = ht.tissue_mask(ht.read_cube(cube_path))
    classified = labels > 0
    assert classified.any() and not (classified & ~(tissue & (roi > 0))).any()
    # the KNN-filtered probabilities are what the labels are the argmax of
    probabilities = ht.read_cube(tmp_path / "out" / "probabilities.h5").load().data
    np.testing.assert_array_equal(
        labels[classified], np.argmax(probabilities[classified], axis=1) + 1
    )
    tumor = ht.read_cube(tmp_path / "out" / "tumor_probability.h5").load().data[..., 0]
    np.testing.assert_array_equal(tumor, probabilities[..., 1])
    # issue 17: summary.json records every option that changes the output, and the version
    settings = json.loads((tmp_path / "out" / "summary.json").read_text())["settings"]
    assert settings["cube"] == str(cube_path) and settings["model_file"] == str(model_file)
    assert settings["spatial_filter"] == {"method": "knn", "n_neighbors": 8, "spatial_weight": 1.0}
    assert settings["mask_file"] == str(tmp_path / "roi.npy") and settings["tissue_mask"] is True
    assert settings["resample"] is False and settings["hsi_tumor_version"] == ht.__version__
    out = ["-o", str(tmp_path / "out"), "--format", "hdf5"]
    assert settings["command"] == ["hsi-tumor", *argv, *out]


def test_calibrate_keeps_invalid_pixels_as_nan(cohort, tmp_path, capsys):
    folder, simulated = cohort
    argv = ["calibrate", str(folder / "specimen"), "--saturation", "4095"]
    argv += ["--white-reflectance", str(simulated[0].camera.white_reflectance)]
    assert main([*argv, "-o", str(tmp_path / "refl.hdr")]) == 0
    captured = capsys.readouterr()
    assert "40 x 48 x 40 float32 reflectance" in captured.out and "note:" not in captured.out
    assert "hsi-tumor: note: calibrate:" in captured.err  # notes go to stderr
    assert main(["--quiet", *argv, "-o", str(tmp_path / "quiet.hdr")]) == 0
    captured = capsys.readouterr()  # issue 17: --quiet did not silence the notes
    assert "reflectance" in captured.out and "note" not in captured.out + captured.err
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ht.CalibrationWarning)
        expected = simulated[0].calibrate().load()
    written = ht.read_cube(tmp_path / "refl.hdr").load()
    assert written.dtype == np.float32
    np.testing.assert_array_equal(written.data, expected.data)  # NaN where invalid, too
    assert np.array_equal(np.isnan(written.data), ~np.asarray(expected.valid))
    assert np.isnan(written.data).any()
    assert main([*argv, "-o", str(tmp_path / "refl"), "--format", "hdf5"]) == 0
    np.testing.assert_array_equal(ht.read_cube(tmp_path / "refl.h5").load().data, expected.data)
    capsys.readouterr()
    assert main([*argv, "-o", str(tmp_path / "refl.hdr")]) == 2
    assert "refl.hdr" in error_line(capsys)


def test_evaluate_writes_a_report(cohort, tmp_path, capsys, request):
    folder, _ = cohort
    argv = ["--quiet", "evaluate", str(folder / "cohort.csv"), "-o", str(tmp_path / "report")]
    argv += ["--classifier", "lda", "--class-names", "1=normal", "2=tumor", "--cv", "loo"]
    assert main([*argv, "--bootstrap", "20"]) == 0
    out = capsys.readouterr().out
    assert "leave-one-patient-out" in out and "\nP03 " in out
    assert "|" not in out and "**" not in out  # plain text on a terminal; report.md: Markdown
    assert (tmp_path / "report" / "report.md").is_file()
    assert main([*argv, "--bootstrap", "20"]) == 2
    assert "exists" in error_line(capsys)
    cluster = request.getfixturevalue("dask_cluster")  # skips here when dask is absent
    argv[argv.index("-o") + 1] = str(tmp_path / "on_cluster")
    assert main([*argv, "--bootstrap", "20", "--scheduler", cluster.scheduler_address]) == 0
    assert capsys.readouterr().out == out.replace("report/report.md", "on_cluster/report.md")


@pytest.fixture(scope="module")
def mistakes(cohort, tmp_path_factory):
    """Files for the table of user mistakes: each wrong in one way."""
    folder, _ = cohort
    tmp = tmp_path_factory.mktemp("mistakes")
    (tmp / "bad.csv").write_text("cube,patient\nP01-1.hdr,P01\n")
    (tmp / "gone.csv").write_text("cube,labels\nnope.hdr,nope_labels.hdr\n")
    np.save(tmp / "small.npy", np.ones((3, 3), np.uint8))
    cube = ht.read_cube(folder / "P01-1.hdr")
    ht.write_cube(cube.sel(wavelengths=(950, 1600)), tmp / "short.h5")
    ht.write_cube(ht.Cube(cube.load().data * 100, cube.wavelengths), tmp / "percent.h5")
    (tmp / "notes.hdr").write_text("my notes, not a header\n")
    (tmp / "weird.xyz").write_text("?")
    (tmp / "empty").mkdir()
    (tmp / "a_file").write_text("")
    (tmp / "taken").mkdir()
    (tmp / "taken" / "x").write_text("")
    (tmp / "bands.csv").write_text("name\nA\n")
    return tmp


#: (argv, the flag or argument the line must name, a further text it must hold). {folder}: the
#: cohort; {m}: the mistakes' files; {model}: a model file; {out}: a fresh folder per row.
TRAIN = ["train", "{folder}/cohort.csv", "-o", "{out}/m"]
CLASSIFY = ["classify", "{folder}/P01-1.hdr", "--model", "{model}", "-o", "{out}/o"]
EVALUATE = ["evaluate", "{folder}/cohort.csv", "-o", "{out}/r"]
CALIBRATE = ["calibrate", "{folder}/specimen"]
MISTAKES = [
    # info
    (["info", "{m}/missing.hdr"], "PATH", "no such file"),
    (["info", "{m}/notes.hdr"], "PATH", "not an ENVI header"),
    (["info", "{m}/weird.xyz"], "PATH", "Pass --format to choose one"),
    (["info", "{m}/empty"], "PATH", "nothing hsi_tumor reads"),
    (["info", "{folder}/P01-1.hdr", "--format", "xyz"], "--format", "unknown format"),
    (["info", "{folder}/P01-1.hdr", "--wavelengths", "{m}/bands.csv"], "--wavelengths", ""),
    # calibrate
    (["calibrate", "{folder}/P01-1.hdr", "-o", "{out}/r.hdr"], "CAPTURE_FOLDER", "capture"),
    ([*CALIBRATE, "-o", "{out}/r.xyz"], "--out", "'.xyz'"),
    ([*CALIBRATE, "-o", "{m}/taken"], "--out", "--overwrite"),
    ([*CALIBRATE, "-o", "{out}/r.hdr", "--saturation", "-5"], "--saturation", ""),
    ([*CALIBRATE, "-o", "{out}/r.hdr", "--wavelengths", "{m}/no.csv"], "--wavelengths", ""),
    # train
    (["train", "{m}/missing.csv", "-o", "{out}/m"], "MANIFEST", "no such file"),
    (["train", "{m}/bad.csv", "-o", "{out}/m"], "MANIFEST", "no 'labels' column"),
    (["train", "{m}/gone.csv", "-o", "{out}/m"], "MANIFEST", "nope.hdr"),
    ([*TRAIN, "--classifier", "svn"], "--classifier", "'svn'"),
    ([*TRAIN, "--param", "C"], "--param", "KEY=VALUE"),
    ([*TRAIN, "--param", "C=abc"], "--param", "SVC"),
    ([*TRAIN, "--classifier", "lda", "--param", "C=1"], "--param", "'C'"),
    ([*TRAIN, "--classifier", "logistic", "--param", "C=-1"], "--param", "LogisticRegression"),
    ([*TRAIN, "--preprocessing", "snd"], "--preprocessing", "'snd'"),
    ([*TRAIN, "--preprocessing", "snv", "pca:n_comps=10"], "--preprocessing", "n_components"),
    (
        [*TRAIN, "--preprocessing", "pca:n_components=abc"],
        "--preprocessing",
        "'n_components' parameter of PCA",
    ),
    ([*TRAIN, "--class-names", "1:normal", "2:tumor"], "--class-names", "1=normal 2=tumor"),
    ([*TRAIN, "--class-names", "1=a", "b"], "--class-names", "ID=NAME"),
    ([*TRAIN, "--class-names", "one=a", "2=b"], "--class-names", "'one=a'"),
    ([*TRAIN, "--seed", "-1"], "--random-state", ""),
    ([*TRAIN, "--max-pixels-per-class", "1"], "--max-pixels-per-class", ""),
    # options are checked before the data: a missing manifest is not reached
    (["train", "{m}/missing.csv", "-o", "{out}/m", "--param", "C=abc"], "--param", "SVC"),
    # classify
    (
        ["classify", "{m}/short.h5", "--model", "{model}", "-o", "{out}/o"],
        "CUBE",
        "pass --resample",
    ),
    (
        [
            "classify",
            "{folder}/specimen/capture/specimen.hdr",
            "--model",
            "{model}",
            "-o",
            "{out}/o",
        ],
        "CUBE",
        "raw camera counts",
    ),
    (["classify", "{m}/percent.h5", "--model", "{model}", "-o", "{out}/o"], "CUBE", "percent"),
    (
        ["classify", "{folder}/P01-1_labels.hdr", "--model", "{model}", "-o", "{out}/o"],
        "CUBE",
        "--wavelengths",
    ),
    (
        ["classify", "{folder}/P01-1.hdr", "--model", "{folder}/cohort.csv", "-o", "{out}/o"],
        "--model",
        "hsi-tumor train",
    ),
    (
        ["classify", "{folder}/P01-1.hdr", "--model", "{m}/none.htmodel", "-o", "{out}/o"],
        "--model",
        "no such model file",
    ),
    (["classify", "{folder}/P01-1.hdr", "-o", "{out}/o"], "--model", "required"),
    ([*CLASSIFY, "--mask", "{m}/small.npy"], "--mask", "small.npy"),
    ([*CLASSIFY, "--spatial-filter", "--neighbors", "0"], "--neighbors", ""),
    ([*CLASSIFY, "--spatial-filter", "--neighbors", "x"], "--neighbors", ""),
    ([*CLASSIFY, "--device", "gpu"], "--device", "'cuda'"),
    ([*CLASSIFY, "--format", "tiff"], "--format", "invalid choice"),
    (
        ["classify", "{folder}/P01-1.hdr", "--model", "{model}", "-o", "{m}/taken"],
        "--out",
        "--overwrite",
    ),
    (
        [
            "classify",
            "{m}/missing.hdr",
            "--model",
            "{model}",
            "-o",
            "{out}/o",
            "--spatial-filter",
            "--spatial-weight",
            "-1",
        ],
        "--spatial-weight",
        "",
    ),
    # evaluate
    (["evaluate", "{m}/missing.csv", "-o", "{out}/r"], "MANIFEST", "no such file"),
    ([*EVALUATE, "--cv", "1"], "--cv", "folds"),
    ([*EVALUATE, "--bootstrap", "-1"], "--bootstrap", ""),
    ([*EVALUATE, "--classifier", "lda", "--scheduler", "foo"], "--scheduler", "tcp://"),
    (
        ["evaluate", "{m}/missing.csv", "-o", "{out}/r", "--preprocessing", "pca:n_comps=3"],
        "--preprocessing",
        "",
    ),
    # demo
    (["demo", "--random-state", "x"], "--random-state", ""),
    (["demo", "--out", "{m}/a_file"], "--out", "a_file"),
]


def run(argv) -> int:
    """``main(argv)``'s exit code, also for argparse's usage errors (SystemExit)."""
    try:
        return main(argv)
    except SystemExit as exc:
        return exc.code


@pytest.mark.parametrize(("args", "flag", "expected"), MISTAKES)
def test_every_mistake_is_one_line_naming_the_flag_and_exit_2(
    cohort, model_file, mistakes, tmp_path, capsys, args, flag, expected
):
    """Issue 17: every user mistake ends with ONE line naming the flag and the fix, exit 2."""
    if "--scheduler" in args:
        pytest.importorskip("distributed")
    folder, _ = cohort
    argv = [a.format(folder=folder, m=mistakes, model=model_file, out=tmp_path) for a in args]
    assert run(["--quiet", *argv]) == 2
    line = error_line(capsys)
    assert "Traceback" not in line and flag in line and expected in line, line
    assert not any(tmp_path.iterdir()), "a failed command left output behind"
    try:  # --debug: the error itself (argparse's usage errors stay usage errors)
        code = run(["--quiet", "--debug", *argv])
    except (ht.HsiTumorError, OSError):
        return
    assert code == 2


def test_the_table_covers_every_command():
    commands = {args[0] for args, _, _ in MISTAKES}
    assert commands == {"info", "calibrate", "train", "classify", "evaluate", "demo"}
    assert len(MISTAKES) >= 25


@pytest.mark.slow
def test_mistakes_through_the_installed_command(cohort, model_file, mistakes, tmp_path):
    """The real entry point (the console script, else ``python -m hsi_tumor.cli``) in fresh
    processes: the same one line and exit code 2 (run at once: each start imports numpy, ...)."""
    folder, _ = cohort
    script = Path(sys.executable).with_name("hsi-tumor")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "hsi_tumor.cli"]
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    picked = ("not an ENVI header", "'.xyz'", "KEY=VALUE", "raw camera counts", "folds")
    rows = [row for row in MISTAKES if row[2] in picked]  # one per command, and a usage error
    processes = [
        subprocess.Popen(
            [
                *command,
                *(
                    a.format(folder=folder, m=mistakes, model=model_file, out=tmp_path)
                    for a in args
                ),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for args, _, _ in rows
    ]
    for process, (_, flag, expected) in zip(processes, rows, strict=True):
        out, err = process.communicate(timeout=300)
        lines = err.strip().splitlines()
        assert process.returncode == 2 and out == "" and len(lines) == 1, err
        assert flag in lines[0] and expected in lines[0] and "Fix: " in lines[0]


def test_usage_errors_keep_argparse_behaviour(capsys):
    with pytest.raises(SystemExit) as info:
        main(["evaluate", "m.csv", "-o", "r", "--cv", "1"])
    assert info.value.code == 2
    assert "--cv" in capsys.readouterr().err


def test_classify_a_capture_folder_with_mask_tissue(model_file, tmp_path, capsys):
    """A capture folder is calibrated to reflectance first (the one input policy), and
    --mask tissue is the cube's tissue mask; summary.json records how."""
    spec = ht.simulate_specimen(seed=5, shape=(40, 48), n_bands=40)
    capture = spec.write_capture(tmp_path / "spec_05", ground_truth=False)
    argv = ["--quiet", "classify", str(capture), "--model", str(model_file), "--mask", "tissue"]
    assert main([*argv, "-o", str(tmp_path / "out")]) == 0
    reflectance = ht.calibrate_capture(capture)
    expected = ht.classify_cube(reflectance, model_file, mask=ht.tissue_mask(reflectance))
    np.testing.assert_array_equal(read_labels(tmp_path / "out" / "labels.hdr"), expected.labels)
    settings = json.loads((tmp_path / "out" / "summary.json").read_text())["settings"]
    assert settings["mask"] == "tissue" and settings["model_file"] == str(model_file)
    assert "summary: " in capsys.readouterr().out
