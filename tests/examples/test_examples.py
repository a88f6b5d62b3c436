"""Every example runs headless and writes what it promises."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import matplotlib.image

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def load(name):
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_read_and_view(tmp_path, capsys):
    path = load("read_and_view").main(str(tmp_path))
    image = matplotlib.image.imread(path)
    assert image.ndim == 3 and image.shape[0] > 10
    assert "NIR part: Cube(" in capsys.readouterr().out


def test_preprocessing_before_after(tmp_path):
    path = load("preprocessing_before_after").main(str(tmp_path))
    assert matplotlib.image.imread(path).shape[0] > 300


def test_preprocessing_before_after_without_the_real_data_says_so(tmp_path, capsys):
    # issue 17: the bottom half was left empty, silently
    module = load("preprocessing_before_after")
    module.GASOLINE = tmp_path / "absent.csv"
    path = module.main(str(tmp_path))
    assert "real gasoline spectra not found" in capsys.readouterr().out
    height, width = matplotlib.image.imread(path).shape[:2]
    assert 300 < height < width / 2  # one row of two panels


def test_read_and_view_falls_back_to_a_simulated_capture(tmp_path, capsys):
    module = load("read_and_view")
    module.INDIAN_PINES = tmp_path / "absent"
    path = module.main(str(tmp_path))
    assert min(matplotlib.image.imread(path).shape[:2]) >= 400  # a figure, titled SIMULATED
    assert "SIMULATED data" in capsys.readouterr().out
