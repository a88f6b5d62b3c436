"""``hsi-tumor info`` (hsi_tumor._info.describe) reads every kind of file the library writes.

Issue 17: ``info`` could not read what ``classify`` writes (labels.hdr: "no wavelengths for its
1 bands"; probabilities.hdr: a ValueError traceback). Each kind is written here by the library
and described through the command.
"""

from __future__ import annotations

import csv
import warnings

import numpy as np
import pytest

import hsi_tumor as ht
from hsi_tumor.cli import main
from hsi_tumor.io import write_labels

pytestmark = pytest.mark.filterwarnings("ignore::hsi_tumor.CalibrationWarning")


def info(path, capsys, *options) -> str:
    """What ``hsi-tumor info PATH`` prints (it must succeed, and say nothing on stderr)."""
    assert main(["--quiet", "info", str(path), *options]) == 0
    captured = capsys.readouterr()
    assert captured.err == ""
    return captured.out


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    """One of each kind of output: cubes, labels, a capture, a model, tumor maps, a report."""
    folder = tmp_path_factory.mktemp("written")
    specs = ht.simulate_cohort(n_patients=3, seed=1, shape=(30, 36), n_bands=30)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ht.CalibrationWarning)
        cubes = [s.calibrate().load() for s in specs]
    names = {1: "normal", 2: "tumor"}
    rows = []
    for s, cube in zip(specs, cubes, strict=True):
        ht.write_cube(cube, folder / f"{s.name}.hdr")
        write_labels(s.labels, folder / f"{s.name}_labels.hdr", class_names=names)
        rows.append([f"{s.name}.hdr", f"{s.name}_labels.hdr", s.patient])
    with open(folder / "cohort.csv", "w", newline="") as f:
        csv.writer(f).writerows([["cube", "labels", "patient"], *rows])
    ht.write_cube(cubes[0], folder / "cube.h5")
    write_labels(specs[0].labels, folder / "labels.h5", class_names=names)
    specs[0].write_capture(folder / "P01-1_capture")
    model = ht.train(list(specs), classifier="lda", class_names=names, random_state=0)
    ht.save_model(model, folder / "model.htmodel")
    for fmt in ("envi", "hdf5"):
        ht.inference.classify_to_folder(cubes[1], model, folder / f"map_{fmt}", format=fmt)
    evaluation = ht.evaluate(specs, classifier="lda", class_names=names, n_bootstrap=0)
    ht.evaluation.write_report(evaluation, folder / "report")
    return folder, specs, model


def test_cubes_in_each_format_write_cube_writes(written, capsys):
    folder, _, _ = written
    for name in ("P01-1.hdr", "P01-1.img", "cube.h5"):
        out = info(folder / name, capsys)
        assert "30 rows x 36 cols x 30 bands, float32" in out and "900.00–1700.00 nm" in out


def test_label_maps(written, capsys):
    folder, specs, _ = written
    ids, counts = np.unique(specs[0].labels, return_counts=True)
    expected = ", ".join(
        f"{i} {['unlabelled', 'normal', 'tumor'][i]}: {n}" for i, n in zip(ids, counts, strict=True)
    )
    for name in ("P01-1_labels.hdr", "P01-1_labels.img", "labels.h5"):
        out = info(folder / name, capsys)
        assert out.startswith("label map") and "30 rows x 36 cols" in out
        assert f"pixels per class: {expected}" in out
    np.save(folder / "plain.npy", specs[0].labels)  # read_labels' formats, without names
    assert "pixels per class: 0 unlabelled: " in info(folder / "plain.npy", capsys)


@pytest.mark.parametrize("fmt", ["envi", "hdf5"])
def test_a_tumor_map_folder_and_each_file_in_it(written, capsys, fmt):
    folder, _, _ = written
    maps = folder / f"map_{fmt}"
    summary = (maps / "summary.json").read_text()
    whole = info(maps, capsys)
    assert whole.startswith(f"tumor map folder {maps}: 30 rows x 36 cols") and "normal" in whole
    assert info(maps / "summary.json", capsys) == whole
    ext = ".hdr" if fmt == "envi" else ".h5"
    labels = info(maps / f"labels{ext}", capsys)
    assert labels.startswith("label map") and "1 normal: " in labels
    probabilities = info(maps / f"probabilities{ext}", capsys)  # before: a ValueError traceback
    assert "x 2 features" in probabilities and "not wavelengths (normal, tumor)" in probabilities
    tumor = info(maps / f"tumor_probability{ext}", capsys)
    assert "x 1 features" in tumor and "not wavelengths (tumor)" in tumor
    for png in ("classes.png", "tumor_probability.png", "background.png"):
        from PIL import Image

        with Image.open(maps / png) as image:  # figures now, not pixel-exact images
            width, height = image.size
        assert f"{width} x {height} pixels" in info(maps / png, capsys)
    if fmt == "envi":
        assert "x 2 features" in info(maps / "probabilities.img", capsys)
    assert summary == (maps / "summary.json").read_text()  # nothing was modified


def test_a_model_file(written, capsys):
    folder, _, model = written
    out = info(folder / "model.htmodel", capsys)
    assert out.startswith("hsi_tumor model model.htmodel: snv → pca → lda")
    assert "classes: 1=normal, 2=tumor (tumor class 2)" in out
    assert "patients: 3 (P01, P02, P03)" in out and "30 bands, 900–1700 nm" in out
    lo, hi = model.training["input_range"]
    assert f"trained on values {lo:.3g} to {hi:.3g}" in out


def test_a_report_folder_and_its_files(written, capsys):
    folder, _, _ = written
    out = info(folder / "report", capsys)
    assert "leave-one-patient-out (3 folds)" in out and "patients: 3 (P01, P02, P03)" in out
    assert "report.md" in out and "roc.png" in out
    assert "leave-one-patient-out" in info(folder / "report" / "metrics.json", capsys)
    assert "leave-one-patient-out" in info(folder / "report" / "report.md", capsys)


def test_a_capture_manifest_and_band_table(written, capsys):
    folder, _, _ = written
    out = info(folder / "P01-1_capture", capsys)
    assert "Specim capture 'P01-1_capture'" in out and "raw counts" in out and "white: Cube(" in out
    truth = folder / "P01-1_capture" / "results" / "P01-1_capture_ground_truth.npz"
    out = info(truth, capsys)  # the simulation's truth beside the capture (before: 'not a model')
    assert out.startswith(f"NumPy archive {truth.name}: ") and "  tumor_fraction: 30 x 36" in out
    out = info(folder / "cohort.csv", capsys)
    assert out.startswith("cohort manifest cohort.csv: 3 specimens of 3 patients (P01, P02, P03)")
    (folder / "bands.csv").write_text("center_nm\n1000\n1010\n1030\n")
    assert "band table bands.csv: 3 bands, 1000.00–1030.00 nm" in info(folder / "bands.csv", capsys)


def test_a_folder_of_outputs_lists_each(written, capsys):
    folder, _, _ = written
    out = info(folder, capsys)
    assert out.startswith(f"folder {folder}:")
    for line in (
        "  P01-1.hdr: Cube(",
        "  P01-1_labels.hdr: label map",
        "  P01-1_capture/: Specim capture folder",
        "  map_envi/: tumor map folder",
        "  report/: evaluation report folder",
        "  model.htmodel: hsi_tumor model",
        "  cohort.csv: cohort manifest",
    ):
        assert line in out
    assert "P01-1.img" not in out  # a data file is listed with its header


def test_cli_calibrate_output(written, capsys, tmp_path):
    folder, _, _ = written
    argv = ["--quiet", "calibrate", str(folder / "P01-1_capture"), "-o", str(tmp_path / "r.hdr")]
    assert main(argv) == 0
    capsys.readouterr()
    assert "float32, 900–1700 nm" in info(tmp_path / "r.hdr", capsys)


def test_what_it_cannot_describe(tmp_path, capsys):
    (tmp_path / "other.json").write_text('{"a": 1}')
    assert main(["info", str(tmp_path / "other.json")]) == 2
    line = capsys.readouterr().err.strip()
    assert "argument PATH" in line and "neither a tumor map's summary.json" in line
