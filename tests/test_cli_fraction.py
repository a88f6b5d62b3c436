"""hsi-tumor train-fraction and fraction: the model file, the maps (equal to estimate_fraction's),
the summary, info, and one-line errors. (Beside tests/test_cli.py, which holds the rest.)"""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest

import hsi_tumor as ht
from hsi_tumor import _demo
from hsi_tumor.cli import main
from hsi_tumor.fraction import FractionModel
from hsi_tumor.io import write_labels

NAMES = ["--class-names", "1=normal", "2=tumor"]


@pytest.fixture(scope="module")
def cohort(tmp_path_factory):
    """A manifest of 3 simulated specimens (with tumor_fraction and tissue columns), an
    unmixing and a classifier model file trained from it."""
    folder = tmp_path_factory.mktemp("cohort")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ht.CalibrationWarning)
        sims = ht.simulate_cohort(3, seed=0, shape=(40, 48), n_bands=40)
        manifest = _demo.write_cohort(sims, folder / "out")
    fraction_model = folder / "unmixing.htmodel"
    argv = ["--quiet", "train-fraction", str(manifest), "-o", str(fraction_model), *NAMES]
    assert main([*argv, "--method", "unmixing", "--seed", "0"]) == 0
    classifier = folder / "lda.htmodel"
    argv = ["--quiet", "train", str(manifest), "-o", str(classifier), *NAMES]
    assert main([*argv, "--classifier", "lda", "--seed", "0"]) == 0
    cube = folder / "out" / "captures" / "P03-1" / "results" / "REFLECTANCE_P03-1.hdr"
    return {"manifest": manifest, "model": fraction_model, "classifier": classifier, "cube": cube}


def test_train_fraction_writes_a_fraction_model(cohort, tmp_path, capsys):
    out = tmp_path / "m.htmodel"
    argv = ["train-fraction", str(cohort["manifest"]), "-o", str(out), *NAMES]
    assert main([*argv, "--method", "unmixing", "--seed", "0"]) == 0
    text = capsys.readouterr().out
    assert "trained a tumor-fraction estimator: unmixing" in text and f"wrote {out}" in text
    model = ht.load_model(out)
    assert isinstance(model, FractionModel) and model.method == "unmixing"
    assert model.patients == ("P01", "P02", "P03") and model.training["random_state"] == 0
    assert model.class_names == {1: "normal", 2: "tumor"} and model.tumor_class == 2
    assert main(["info", str(out)]) == 0
    info = capsys.readouterr().out.splitlines()
    assert info[0] == f"hsi_tumor tumor-fraction model {out.name}: unmixing (trained with " + (
        f"hsi_tumor {model.version})"
    )
    assert "  classes: 1=normal, 2=tumor (fraction of class 2)" in info
    assert "  wavelengths: 40 bands, 900–1700 nm" in info
    assert "  trained on: annotated pure pixels (endmembers)" in info


@pytest.mark.slow
def test_train_fraction_learned_uses_the_manifests_truth(cohort, tmp_path, capsys):
    from threadpoolctl import threadpool_limits

    out = tmp_path / "learned.htmodel"
    argv = ["--quiet", "train-fraction", str(cohort["manifest"]), "-o", str(out), *NAMES]
    with threadpool_limits(1):  # the regressors' OpenMP threads crawl on a busy 2-core runner
        assert main([*argv, "--max-pixels", "300", "--seed", "1"]) == 0
        model = ht.load_model(out)
        assert model.method == "learned" and "partial-volume truth" in model.training["targets"]
        assert model.interval_calibration is not None  # 3 patients: calibrated on held-out ones
        capsys.readouterr()
        assert main(["info", str(out)]) == 0
        assert (
            "  interval: 90 %, conformal per bin of the estimate (held-out training patients)"
            in capsys.readouterr().out.splitlines()
        )
        assert main([*argv, "--max-pixels", "300", "--pure-only", "--overwrite"]) == 0
    assert "synthetic linear mixtures" in ht.load_model(out).training["targets"]
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize("fmt", ["envi", "hdf5"])
def test_fraction_writes_the_maps_of_estimate_fraction(cohort, tmp_path, capsys, fmt):
    out = tmp_path / "frac"
    argv = ["fraction", str(cohort["cube"]), "--model", str(cohort["model"]), "-o", str(out)]
    assert main([*argv, "--pixel-size", "0.25", "--format", fmt]) == 0
    expected = ht.estimate_fraction(cohort["cube"], cohort["model"], mask="tissue", progress=False)
    ext = {"envi": ".hdr", "hdf5": ".h5"}[fmt]
    for name in ("fraction", "uncertainty", "lower", "upper"):
        cube = ht.read_cube(out / f"{name}{ext}")
        assert cube.wavelengths is None and cube.shape == (40, 48, 1)
        np.testing.assert_array_equal(cube.load().data[..., 0], getattr(expected, name))
    outlier = ht.io.read_labels(out / f"outlier{ext}")  # 0 not estimated, 1 inside, 2 outside
    np.testing.assert_array_equal(outlier == 2, expected.outlier)
    np.testing.assert_array_equal(outlier > 0, expected.valid)
    summary = json.loads((out / "summary.json").read_text())
    valid = expected.valid
    assert summary["n_estimated"] == int(valid.sum()) > 0
    assert summary["n_masked"] == expected.n_masked > 0
    assert summary["n_invalid"] == expected.n_invalid
    assert summary["n_estimated"] + summary["n_masked"] + summary["n_invalid"] == 40 * 48
    assert summary["tumor_area_pixels"] == pytest.approx(np.nansum(expected.fraction))
    assert summary["tumor_area_mm2"] == pytest.approx(summary["tumor_area_pixels"] * 0.0625)
    assert summary["mean_uncertainty"] == pytest.approx(np.mean(expected.uncertainty[valid]))
    assert summary["n_outliers"] == int(expected.outlier.sum())
    assert summary["method"] == "unmixing"
    settings = summary["settings"]
    assert settings["model_file"] == str(cohort["model"]) and settings["mask"] == "tissue"
    assert settings["model_method"] == "unmixing" and settings["fraction_of"] == "tumor"
    assert settings["training_targets"] == "annotated pure pixels (endmembers)"
    assert (
        settings["cube"] == str(cohort["cube"]) and settings["hsi_tumor_version"] == ht.__version__
    )
    for name in ("fraction.png", "uncertainty.png", "background.png"):
        assert (out / name).stat().st_size > 5000
    text = capsys.readouterr().out
    assert f"of {int(valid.sum())} of 1920 pixels" in text and " mm²" in text
    assert f"  fraction: {out / ('fraction' + ext)}" in text
    assert main(["info", str(out)]) == 0
    info = capsys.readouterr().out
    assert info.startswith(f"tumor-fraction folder {out}: 40 rows x 48 cols, unmixing")
    assert "  fraction: Cube(40 rows x 48 cols x 1" in info


def test_fraction_mask_none_and_file(cohort, tmp_path, capsys):
    model, cube = str(cohort["model"]), str(cohort["cube"])
    argv = ["--quiet", "fraction", cube, "--model", model, "--mask", "none", "-o"]
    assert main([*argv, str(tmp_path / "all")]) == 0
    summary = json.loads((tmp_path / "all" / "summary.json").read_text())
    assert summary["n_masked"] == 0 and summary["tumor_area_mm2"] is None
    mask = np.zeros((40, 48), np.uint8)
    mask[10:30, 12:36] = 1
    write_labels(mask, tmp_path / "mask.hdr")
    argv = ["--quiet", "fraction", cube, "--model", model, "--mask", str(tmp_path / "mask.hdr")]
    assert main([*argv, "-o", str(tmp_path / "box")]) == 0
    expected = ht.estimate_fraction(cube, model, mask=mask.astype(bool), progress=False)
    got = ht.read_cube(tmp_path / "box" / "fraction.hdr").load().data[..., 0]
    np.testing.assert_array_equal(got, expected.fraction)
    settings = json.loads((tmp_path / "box" / "summary.json").read_text())["settings"]
    assert settings["mask"] == "array" and settings["mask_file"] == str(tmp_path / "mask.hdr")
    assert capsys.readouterr().err == ""


def test_quiet_leaves_stderr_empty(cohort, tmp_path, capsys):
    argv = ["fraction", str(cohort["cube"]), "--model", str(cohort["model"])]
    assert main(["--quiet", *argv, "-o", str(tmp_path / "q")]) == 0
    out, err = capsys.readouterr()
    assert err == "" and "estimated the tumor fraction" in out


def _error(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    return err[0]


def test_errors_are_one_line_naming_the_flag(cohort, tmp_path, capsys):
    cube, model, classifier = str(cohort["cube"]), str(cohort["model"]), str(cohort["classifier"])
    out = str(tmp_path / "o")
    missing = str(tmp_path / "missing.htmodel")
    assert main(["--quiet", "fraction", cube, "--model", missing, "-o", out]) == 2
    assert _error(capsys).startswith(f"hsi-tumor fraction: error: argument --model: {missing}:")
    assert main(["--quiet", "fraction", cube, "--model", classifier, "-o", out]) == 2
    assert _error(capsys) == (
        f"hsi-tumor fraction: error: argument --model: {classifier}: a classifier model file "
        "(hsi-tumor train), not a tumor-fraction model. Fix: give a model from hsi-tumor "
        "train-fraction, or classify with this one (hsi-tumor classify)."
    )
    assert main(["--quiet", "classify", cube, "--model", model, "-o", out]) == 2
    assert _error(capsys) == (
        f"hsi-tumor classify: error: argument --model: {model}: a tumor-fraction model file "
        "(hsi-tumor train-fraction), not a classifier. Fix: give a classifier model file "
        "(hsi-tumor train), or estimate the tumor fraction with this one (hsi-tumor fraction)."
    )
    assert not (tmp_path / "o").exists()
    assert main(["--quiet", "fraction", cube, "--model", model, "-o", out]) == 0
    capsys.readouterr()
    assert main(["--quiet", "fraction", cube, "--model", model, "-o", out]) == 2
    assert _error(capsys) == (
        f"hsi-tumor fraction: error: argument --out: {out}: the output exists already. Fix: "
        "choose another name, or pass --overwrite to replace it."
    )
    argv = ["--quiet", "fraction", cube, "--model", model, "-o", out, "--overwrite"]
    assert main([*argv, "--mask", "none"]) == 0
    assert json.loads((tmp_path / "o" / "summary.json").read_text())["settings"]["mask"] is None
    write_labels(np.ones((4, 5), np.uint8), tmp_path / "small.hdr")
    assert main([*argv, "--mask", str(tmp_path / "small.hdr")]) == 2
    assert "argument --mask:" in _error(capsys)
    with pytest.raises(SystemExit) as exit:  # a usage error: argparse's one line
        main(["--quiet", "fraction", cube, "--model", model, "-o", out, "--pixel-size", "0"])
    assert exit.value.code == 2
    assert "argument --pixel-size: '0' is not a number > 0" in _error(capsys)


def test_train_fraction_without_a_tumor_class(cohort, tmp_path, capsys):
    argv = ["--quiet", "train-fraction", str(cohort["manifest"]), "-o", str(tmp_path / "m")]
    assert main(argv) == 2
    assert _error(capsys) == (
        "hsi-tumor train-fraction: error: argument --class-names: no tumor class among the "
        "classes {1: '1', 2: '2'}. Fix: name the classes so that one is 'tumor', e.g. "
        "--class-names 1=normal 2=tumor."
    )
    assert not (tmp_path / "m").exists()


def test_evaluate_with_fraction_reports_the_estimate(cohort, tmp_path, capsys):
    out = tmp_path / "report"
    argv = ["--quiet", "evaluate", str(cohort["manifest"]), "-o", str(out), *NAMES]
    argv += ["--classifier", "lda", "--bootstrap", "20", "--fraction", "unmixing"]
    assert main(argv) == 0
    text = capsys.readouterr().out
    assert "Tumor fraction estimate (unmixing, trained on " in text
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["fraction"].startswith("unmixing")
    assert 0 <= metrics["pooled"]["fraction_fuzzy_dice"] <= 1
    assert sum(metrics["fraction_calibration"]["counts"]) > 0
    assert (out / "fraction_calibration.png").is_file()
    assert "![Tumor fraction: calibration and interval coverage]" in (out / "report.md").read_text(
        encoding="utf-8"
    )


def test_evaluate_fraction_max_pixels_needs_fraction(cohort, tmp_path, capsys):
    argv = ["--quiet", "evaluate", str(cohort["manifest"]), "-o", str(tmp_path / "r"), *NAMES]
    assert main([*argv, "--fraction-max-pixels", "500"]) == 2
    assert _error(capsys) == (
        "hsi-tumor evaluate: error: argument --fraction-max-pixels: --fraction-max-pixels "
        "without --fraction. Fix: add --fraction learned (or unmixing), or leave "
        "--fraction-max-pixels out."
    )
    assert not (tmp_path / "r").exists()
