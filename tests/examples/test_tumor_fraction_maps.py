"""examples/tumor_fraction_maps.py: the estimates' fuzzy Dice, area error and coverage."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import matplotlib.image
import numpy as np
from threadpoolctl import threadpool_limits

from hsi_tumor.datasets import simulate_cohort

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "tumor_fraction_maps.py"


def _table(text: str, heading: str) -> dict[str, list[str]]:
    """The rows of the Markdown table under ``## heading``, by their first cell."""
    block = text.split(f"## {heading}\n", 1)[1].split("\n## ", 1)[0]
    return {
        line.split("|")[1].strip(): [c.strip() for c in line.split("|")[2:-1]]
        for line in block.splitlines()
        if line.startswith("| P") or line.startswith("| pooled")
    }


def test_tumor_fraction_maps(tmp_path, capsys):
    spec = importlib.util.spec_from_file_location("tumor_fraction_maps", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    with threadpool_limits(1):  # the regressors' OpenMP threads crawl on a busy 2-core runner
        paths = module.main(
            str(tmp_path),
            n_patients=3,
            shape=(40, 48),
            n_bands=40,
            classifier_params={"C": 100, "gamma": 0.05},  # fixed: no tuning, fast
            fraction_max_pixels=1000,
            n_bootstrap=50,
        )
    printed = capsys.readouterr().out
    assert "SIMULATED data" in printed
    assert "warning" not in printed  # the script's numbers agree with evaluate's
    for key in ("maps", "histogram", "calibration"):
        image = matplotlib.image.imread(paths[key])
        assert image.ndim == 3 and image.shape[1] > 400

    arrays = np.load(paths["arrays"])
    cohort = simulate_cohort(3, seed=0, shape=(40, 48), n_bands=40)
    assert list(arrays["patients"]) == [s.patient for s in cohort]
    text = paths["table"].read_text(encoding="utf-8")
    assert "SIMULATED data" in text
    dice_rows = _table(text, "Fuzzy Dice and tumor-area error per patient")
    detail_rows = _table(
        text, "Error on partial pixels, 90 % interval coverage, outside the training domain"
    )
    sums = np.zeros(5)
    for k, sim in enumerate(cohort):
        np.testing.assert_array_equal(arrays["fraction"][k], sim.tumor_fraction)
        np.testing.assert_array_equal(arrays["specimen"][k], sim.true_labels > 0)
        m = arrays["compared"][k]
        f = sim.tumor_fraction[m].astype(np.float64)
        p = np.nan_to_num(arrays["probability"][k][m].astype(np.float64), nan=0.0)
        e = np.nan_to_num(arrays["estimate"][k][m].astype(np.float64), nan=0.0)
        lo, hi = arrays["lower"][k][m], arrays["upper"][k][m]
        assert np.all((e >= 0) & (e <= 1))
        cells = dice_rows[sim.patient]
        assert cells[0] == ", ".join(f"{t.mucosa_thickness:.2f}" for t in sim.tumors)
        assert cells[1] == f"{f.sum():.1f}"
        assert cells[2] == f"{2 * np.minimum(p, f).sum() / (p.sum() + f.sum()):.3f}"
        assert cells[3] == f"{100 * (p.sum() - f.sum()) / f.sum():+.1f} %"
        assert cells[4] == f"{2 * np.minimum(e, f).sum() / (e.sum() + f.sum()):.3f}"
        assert cells[5] == f"{100 * (e.sum() - f.sum()) / f.sum():+.1f} %"
        partial = (f > 0) & (f < 1)
        has = np.isfinite(lo) & np.isfinite(hi)  # estimated: coverage counts these only
        covered = (lo <= f) & (f <= hi)
        detail = detail_rows[sim.patient]
        assert detail[0] == f"{np.abs(e - f)[partial].mean():.3f}"
        assert detail[1] == (
            f"{100 * covered[has].mean():.1f} % / {100 * covered[has & partial].mean():.1f} %"
        )
        assert detail[2] == f"{100 * arrays['outlier'][k][m].mean():.1f} %"
        sums += [np.minimum(e, f).sum(), e.sum(), f.sum(), covered[has].sum(), has.sum()]
    assert dice_rows["pooled"][4] == f"{2 * sums[0] / (sums[1] + sums[2]):.3f}"
    assert detail_rows["pooled"][1].startswith(f"{100 * sums[3] / sums[4]:.1f} % / ")
    assert "Mean estimate by true fraction" in text
