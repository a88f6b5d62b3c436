"""examples/reproduce_gist_nir_svm.py: figures, the comparison table, and metrics that add up."""

from __future__ import annotations

import contextlib
import importlib.util
import io
import json
from pathlib import Path

import matplotlib.image
import numpy as np
import pytest

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "reproduce_gist_nir_svm.py"
N_PATIENTS = 3


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    spec = importlib.util.spec_from_file_location("reproduce_gist_nir_svm", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    out = tmp_path_factory.mktemp("gist")
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        paths = module.main(
            str(out),
            n_patients=N_PATIENTS,
            shape=(40, 48),
            n_bands=40,
            classifier_params={"C": 100, "gamma": 0.05},  # fixed: no tuning, fast
            n_bootstrap=50,
        )
    return module, paths, printed.getvalue()


def test_figures_are_images(run):
    _, paths, _ = run
    for key in ("spectra", "maps"):
        image = matplotlib.image.imread(paths[key])
        assert image.ndim == 3 and image.shape[0] > 100 and image.shape[1] > 100


def test_says_simulated_and_unknown_scheme(run):
    _, paths, printed = run
    text = paths["table"].read_text(encoding="utf-8")
    for where in (printed, text):
        assert "SIMULATED data" in where
        assert "unknown" in where
        assert "leave-one-patient-out" in where


def test_table_has_published_and_measured_rows(run):
    module, paths, printed = run
    text = paths["table"].read_text(encoding="utf-8")
    rows = [line for line in text.splitlines() if line.startswith("| ")]
    published = next(r for r in rows if r.startswith("| Sato et al. 2020"))
    assert [c.strip() for c in published.split("|")[2:5]] == ["86.1 %", "91.3 %", "73.0 %"]
    assert module.PUBLISHED == {"accuracy": 0.861, "sensitivity": 0.913, "specificity": 0.730}
    pooled = next(r for r in rows if r.startswith("| this run, pooled pixels"))
    mean = next(r for r in rows if r.startswith("| this run, mean of patients"))
    summary = json.loads(paths["metrics"].read_text(encoding="utf-8"))
    for row, values in ((pooled, summary["pooled"]), (mean, summary["patient_mean"])):
        cells = [c.strip() for c in row.split("|")[2:5]]
        for cell, metric in zip(cells, ("accuracy", "sensitivity", "specificity"), strict=True):
            assert cell.startswith(f"{100 * values[metric]:.1f} %")
    assert pooled in printed  # the printed table is the saved one


def test_metrics_recomputed_from_the_label_maps(run):
    _, paths, _ = run
    maps = np.load(paths["label_maps"])
    assert maps["predicted"].shape == (N_PATIENTS, 40, 48)
    truth, pred = maps["annotation"], maps["predicted"]
    scored = (truth > 0) & (pred > 0)  # annotated and classified
    tp = np.sum(scored & (truth == 2) & (pred == 2))
    tn = np.sum(scored & (truth == 1) & (pred == 1))
    fp = np.sum(scored & (truth == 1) & (pred == 2))
    fn = np.sum(scored & (truth == 2) & (pred == 1))
    summary = json.loads(paths["metrics"].read_text(encoding="utf-8"))
    assert summary["pooled"]["accuracy"] == pytest.approx((tp + tn) / (tp + tn + fp + fn))
    assert summary["pooled"]["sensitivity"] == pytest.approx(tp / (tp + fn))
    assert summary["pooled"]["specificity"] == pytest.approx(tn / (tn + fp))
    per_patient = [r["n_pixels"] for r in summary["per_patient"]]
    assert sum(per_patient) == int((truth > 0).sum())
    assert len(summary["folds"]) == N_PATIENTS  # leave-one-patient-out
    for fold in summary["folds"]:
        assert not set(fold["train_patients"]) & set(fold["test_patients"])
