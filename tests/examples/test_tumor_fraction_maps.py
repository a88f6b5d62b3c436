"""examples/tumor_fraction_maps.py: probability vs true fraction, fuzzy Dice and area error."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import matplotlib.image
import numpy as np

from hsi_tumor.datasets import simulate_cohort

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "tumor_fraction_maps.py"


def test_tumor_fraction_maps(tmp_path, capsys):
    spec = importlib.util.spec_from_file_location("tumor_fraction_maps", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    paths = module.main(
        str(tmp_path),
        n_patients=3,
        shape=(40, 48),
        n_bands=40,
        classifier_params={"C": 100, "gamma": 0.05},  # fixed: no tuning, fast
        n_bootstrap=50,
    )
    printed = capsys.readouterr().out
    assert "SIMULATED data" in printed
    assert "warning" not in printed  # the script's sums agree with evaluate's
    for key in ("maps", "histogram"):
        image = matplotlib.image.imread(paths[key])
        assert image.ndim == 3 and image.shape[1] > 200

    arrays = np.load(paths["arrays"])
    cohort = simulate_cohort(3, seed=0, shape=(40, 48), n_bands=40)
    assert list(arrays["patients"]) == [s.patient for s in cohort]
    text = paths["table"].read_text(encoding="utf-8")
    assert "SIMULATED data" in text
    rows = {
        line.split("|")[1].strip(): [c.strip() for c in line.split("|")[2:-1]]
        for line in text.splitlines()
        if line.startswith("| P") or line.startswith("| pooled")
    }
    inter = total_p = total_f = 0.0
    for k, sim in enumerate(cohort):
        np.testing.assert_array_equal(arrays["fraction"][k], sim.tumor_fraction)
        np.testing.assert_array_equal(arrays["specimen"][k], sim.true_labels > 0)
        prob = arrays["probability"][k].astype(np.float64)
        assert np.nanmin(prob) >= 0 and np.nanmax(prob) <= 1
        m = sim.true_labels > 0
        p = np.nan_to_num(prob[m], nan=0.0)
        f = sim.tumor_fraction[m].astype(np.float64)
        dice = 2 * np.minimum(p, f).sum() / (p.sum() + f.sum())
        error = (p.sum() - f.sum()) / f.sum()
        cells = rows[sim.patient]
        assert cells[0] == ", ".join(f"{t.mucosa_thickness:.2f}" for t in sim.tumors)
        assert cells[1] == f"{f.sum():.1f}"
        assert cells[2] == f"{p.sum():.1f}"
        assert cells[3] == f"{dice:.3f}"
        assert cells[4] == f"{100 * error:+.1f} %"
        inter, total_p, total_f = (
            inter + np.minimum(p, f).sum(),
            total_p + p.sum(),
            total_f + f.sum(),
        )
    assert rows["pooled"][3] == f"{2 * inter / (total_p + total_f):.3f}"
    assert "exposed (0 mm)" in text and "mean probability" in text
