"""examples/helicoid_spatial_spectral.py: the three stages, their maps and their metrics."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import matplotlib.image
import numpy as np
import pytest

from hsi_tumor.datasets import simulate_cohort
from hsi_tumor.spatial import majority_filter

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "helicoid_spatial_spectral.py"
SIZE = {"n_patients": 3, "shape": (40, 48), "n_bands": 40, "seed": 0}


def test_helicoid_spatial_spectral(tmp_path, capsys):
    spec = importlib.util.spec_from_file_location("helicoid_spatial_spectral", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    paths = module.main(
        str(tmp_path),
        **SIZE,
        test_patient=1,
        classifier_params={"C": 100, "gamma": 0.05},  # fixed: no tuning, fast
    )
    printed = capsys.readouterr().out
    assert "SIMULATED data" in printed
    assert "held-out patient P02" in printed
    image = matplotlib.image.imread(paths["maps"])
    assert image.ndim == 3 and image.shape[1] > 300

    maps = np.load(paths["label_maps"])
    truth_sim = simulate_cohort(3, seed=0, shape=(40, 48), n_bands=40)[1].true_labels
    np.testing.assert_array_equal(maps["truth"], truth_sim)
    classified = maps["classified"]
    assert classified.any() and not (classified & (truth_sim == 0)).any()
    # the final map is the majority vote of the KNN map; nothing outside the specimen changes
    np.testing.assert_array_equal(
        maps["final"], majority_filter(maps["knn"], size=5, mask=classified)
    )
    for name in ("svm", "knn", "final"):
        assert set(np.unique(maps[name][classified])) <= {1, 2}
        assert (maps[name][~classified] == 0).all()

    text = paths["table"].read_text(encoding="utf-8")
    assert "SIMULATED data" in text
    rows = [line for line in text.splitlines() if line.startswith("| ") and "%" in line]
    assert len(rows) == 3
    assert rows[0].startswith("| pixel-wise SVM")
    assert rows[1].startswith("| + KNN filter (K=40, λ=1)")
    assert rows[2].startswith("| + majority vote (5x5)")
    for row, name in zip(rows, ("svm", "knn", "final"), strict=True):
        t, p = maps["truth"][classified], maps[name][classified]
        tp, tn = np.sum((t == 2) & (p == 2)), np.sum((t == 1) & (p == 1))
        fp, fn = np.sum((t == 1) & (p == 2)), np.sum((t == 2) & (p == 1))
        cells = [c.strip() for c in row.split("|")[2:7]]
        assert cells[0] == f"{100 * (tp + tn) / t.size:.1f} %"
        assert cells[1] == f"{100 * tp / (tp + fn):.1f} %"
        assert cells[2] == f"{100 * tn / (tn + fp):.1f} %"
        assert float(cells[3]) == pytest.approx(2 * tp / (2 * tp + fp + fn), abs=5e-4)
        assert row in printed
    changed_knn = int(np.sum(maps["knn"] != maps["svm"]))
    assert rows[1].rstrip(" |").endswith(f"| {changed_knn}")
