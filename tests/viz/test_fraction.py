"""plot_fraction_calibration: the curve and the coverage bars are the numbers of the metrics."""

import numpy as np
import pytest

from hsi_tumor import HsiTumorError
from hsi_tumor.metrics import fraction_calibration
from hsi_tumor.viz import plot_fraction_calibration
from tests.viz._helpers import legend_texts


@pytest.fixture
def calibration():
    rng = np.random.default_rng(0)
    f = np.concatenate([np.zeros(300), rng.uniform(0, 1, 400), np.ones(300)])
    e = np.clip(f + rng.normal(0, 0.1, f.size), 0, 1)
    return fraction_calibration(e, f, lower=e - 0.15, upper=e + 0.15)


def test_curve_and_coverage_are_the_calibration(calibration):
    fig = plot_fraction_calibration(calibration, title="held-out pixels")
    curve_ax, coverage_ax = fig.axes[:2]
    filled = calibration.counts > 0
    np.testing.assert_allclose(curve_ax.lines[0].get_xydata(), [[0, 0], [1, 1]])
    np.testing.assert_allclose(curve_ax.lines[1].get_xdata(), calibration.mean_estimated[filled])
    np.testing.assert_allclose(curve_ax.lines[1].get_ydata(), calibration.mean_true[filled])
    assert f"{calibration.mean_absolute_error:.3f}" in curve_ax.lines[1].get_label()
    heights = [p.get_height() for p in coverage_ax.patches if p.get_width() < 1]
    np.testing.assert_allclose(heights, np.nan_to_num(calibration.coverage))
    labels = [t.get_text() for t in coverage_ax.get_xticklabels()]
    assert labels == [
        f"{t}\nn={n}"
        for t, n in zip(calibration.coverage_labels, calibration.coverage_counts, strict=True)
    ]
    assert "nominal 90 %" in legend_texts(coverage_ax)
    assert "target 80–95 %" in legend_texts(coverage_ax)
    by_estimate = fig.axes[2]
    heights = [p.get_height() for p in by_estimate.patches if p.get_width() < 0.5]
    np.testing.assert_allclose(heights, np.nan_to_num(calibration.coverage_by_estimate))
    assert fig.get_suptitle() == "held-out pixels"


def test_without_interval_the_coverage_panel_says_so():
    f = np.linspace(0, 1, 50)
    fig = plot_fraction_calibration(fraction_calibration(f, f))
    for ax in fig.axes[1:3]:
        assert ax.texts[0].get_text() == "the estimate has no interval"
        assert not ax.patches


def test_wrong_input_is_named():
    with pytest.raises(HsiTumorError, match="FractionCalibration"):
        plot_fraction_calibration({"counts": [1]})
