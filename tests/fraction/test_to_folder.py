"""write_fraction_map: the maps read back, the outlier map, the summary; plot_fraction."""

from __future__ import annotations

import json

import numpy as np
import pytest

import hsi_tumor as ht
from hsi_tumor.fraction import write_fraction_map
from hsi_tumor.fraction._model import FractionMap
from hsi_tumor.io import read_labels
from hsi_tumor.viz import plot_fraction


def test_outlier_file_reads_back(tmp_path):
    """The outlier map of a model with a training domain: 0 not estimated, 1 within, 2 outside."""
    rng = np.random.default_rng(0)
    fraction = rng.random((6, 7)).astype(np.float32)
    valid = np.ones((6, 7), bool)
    valid[0] = False
    fraction[~valid] = np.nan
    outlier = (rng.random((6, 7)) < 0.2) & valid
    result = FractionMap(fraction, fraction / 10, fraction / 2, fraction, outlier, valid, "learned")
    files = write_fraction_map(result, tmp_path / "f", background=np.full((6, 7, 3), 0.5))
    labels = read_labels(files["outlier"])
    np.testing.assert_array_equal(labels, np.where(valid, np.where(outlier, 2, 1), 0))
    summary = json.loads(files["summary"].read_text())
    assert summary["n_outliers"] == int(outlier.sum()) and summary["tumor_area_mm2"] is None
    assert (tmp_path / "f" / "background.png").is_file()


def test_plot_fraction_draws_the_outliers_over_the_map():
    fraction = np.array([[0.1, np.nan], [0.7, 0.9]])
    outlier = np.array([[False, False], [True, False]])
    ax = plot_fraction(fraction, outlier=outlier, background=np.full((2, 2, 3), 0.5))
    layer = ax.images[-1].get_array()
    assert layer.shape == (2, 2, 4) and layer[..., 3].tolist() == [[0, 0], [1, 0]]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == [
        "not estimated",
        "outside the training domain",
    ]
    with pytest.raises(ht.InvalidOptionError, match="outlier"):
        plot_fraction(fraction, outlier=np.zeros((3, 3), bool))
