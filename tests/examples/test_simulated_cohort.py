"""examples/simulated_cohort.py runs headless, writes its figures and says the data is simulated."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import matplotlib.image

import hsi_tumor as ht

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "simulated_cohort.py"


def test_simulated_cohort(tmp_path, capsys):
    spec = importlib.util.spec_from_file_location("simulated_cohort", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    paths = module.main(str(tmp_path), n_patients=2, shape=(48, 60), n_bands=32)
    for key in ("spectra", "rgb", "truth", "anatomy"):
        assert matplotlib.image.imread(paths[key]).ndim == 3
    assert ht.read_capture(paths["capture"]).raw.shape == (48, 60, 32)
    assert "SIMULATED data" in capsys.readouterr().out
