"""ROC curves, confusion matrix, reliability diagram and the per-patient report."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.figure import Figure
from sklearn.metrics import confusion_matrix, roc_auc_score, roc_curve

import hsi_tumor as ht
from hsi_tumor._shared.errors import InvalidOptionError, WavelengthError
from hsi_tumor.evaluation import reliability_curve
from hsi_tumor.inference import TumorMap
from hsi_tumor.viz import (
    class_overlay,
    plot_confusion_matrix,
    plot_patient_report,
    plot_reliability,
    plot_roc,
    pseudo_rgb,
)
from hsi_tumor.viz._evaluation import _format_metric
from tests.viz._helpers import legend_texts


def _patient(rng, n, shift):
    y = rng.random(n) < 0.4
    score = np.clip(0.5 * y + shift + 0.35 * rng.standard_normal(n), 0, 1)
    return y, score


# -- ROC ---------------------------------------------------------------------------------------
def test_roc_per_patient_and_pooled_equal_sklearn(rng):
    curves = {"P1": _patient(rng, 200, 0.0), "P2": _patient(rng, 150, 0.2)}
    y2, s2 = curves["P2"]
    s2 = s2.copy()
    s2[:5] = np.nan  # unclassified pixels are left out
    curves["P2"] = (y2.astype(int), s2.reshape(10, 15))  # 0/1 and any shape
    curves["P3"] = (np.ones(30, dtype=bool), rng.random(30))  # one class: no curve
    ax = plot_roc(curves, title="ROC")
    texts = legend_texts(ax)
    keep = np.isfinite(s2)
    auc1 = roc_auc_score(*curves["P1"])
    auc2 = roc_auc_score(y2[keep], s2[keep])
    y_all = np.concatenate([curves["P1"][0], y2[keep], np.ones(30, bool)])
    s_all = np.concatenate([curves["P1"][1], s2[keep], curves["P3"][1]])
    assert texts == [
        f"P1 (AUC = {auc1:.3f})",
        f"P2 (AUC = {auc2:.3f})",
        "P3 (one class)",
        f"pooled (AUC = {roc_auc_score(y_all, s_all):.3f})",
        "chance",
    ]
    lines = {line.get_label(): line for line in ax.lines}
    fpr, tpr, _ = roc_curve(y_all, s_all)
    pooled = lines[texts[3]]
    np.testing.assert_allclose(pooled.get_xdata(), fpr)
    np.testing.assert_allclose(pooled.get_ydata(), tpr)
    assert pooled.get_linewidth() > lines[texts[0]].get_linewidth()
    fpr1, tpr1, _ = roc_curve(*curves["P1"])
    np.testing.assert_allclose(lines[texts[0]].get_xdata(), fpr1)
    np.testing.assert_allclose(lines[texts[0]].get_ydata(), tpr1)
    assert len(lines["P3 (one class)"].get_xdata()) == 0
    np.testing.assert_allclose(lines["chance"].get_xydata(), [[0, 0], [1, 1]])
    assert ax.get_title() == "ROC"


def test_roc_single_patient_and_unpooled(rng):
    y, s = _patient(rng, 100, 0.1)
    ax = plot_roc({"P1": (y, s)})  # one patient: only the pooled (= its own) curve
    assert legend_texts(ax) == [f"pooled (AUC = {roc_auc_score(y, s):.3f})", "chance"]
    ax = plot_roc({"P1": (y, s)}, pooled=False)
    assert legend_texts(ax) == [f"P1 (AUC = {roc_auc_score(y, s):.3f})", "chance"]


@pytest.mark.parametrize(
    "curves",
    [
        {},
        [([0, 1], [0.1, 0.9])],
        {"P1": ([0, 1, 1], [0.1, 0.9])},
        {"P1": ([1, 2, 2], [0.1, 0.9, 0.5])},  # class ids, not booleans
        {"P1": ([0, 1],)},
    ],
)
def test_roc_bad_input(curves):
    with pytest.raises(InvalidOptionError) as info:
        plot_roc(curves)
    assert info.value.fix


# -- confusion matrix --------------------------------------------------------------------------
def _annotations(ax, n):
    return np.array([t.get_text() for t in ax.texts]).reshape(n, n)


def test_confusion_matrix_counts_equal_sklearn(rng):
    y_true = rng.integers(1, 4, size=300)
    y_pred = np.where(rng.random(300) < 0.7, y_true, rng.integers(1, 4, size=300))
    names = {1: "normal", 2: "tumor"}
    ax = plot_confusion_matrix(y_true, y_pred, class_names=names, title="cm")
    expected = confusion_matrix(y_true, y_pred)
    shown = _annotations(ax, 3)
    np.testing.assert_array_equal(shown.astype(int), expected)
    assert [t.get_text() for t in ax.get_xticklabels()] == ["normal", "tumor", "3"]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["normal", "tumor", "3"]
    assert ax.get_xlabel() == "predicted" and ax.get_ylabel() == "true"
    np.testing.assert_array_equal(ax.images[0].get_array(), expected)


def test_confusion_matrix_normalized_and_label_order(rng):
    y_true = rng.integers(1, 3, size=(20, 10))  # maps are flattened
    y_pred = rng.integers(1, 3, size=(20, 10))
    ax = plot_confusion_matrix(y_true, y_pred, labels=[2, 1], normalize="true")
    counts = confusion_matrix(y_true.ravel(), y_pred.ravel(), labels=[2, 1])
    rows = confusion_matrix(y_true.ravel(), y_pred.ravel(), labels=[2, 1], normalize="true")
    for (i, j), text in np.ndenumerate(_annotations(ax, 2)):
        percent, count = text.split("\n")
        assert percent == f"{100 * rows[i, j]:.1f} %"
        assert count == f"({counts[i, j]:,})"
    np.testing.assert_allclose(ax.images[0].get_array(), rows)
    assert [t.get_text() for t in ax.get_xticklabels()] == ["2", "1"]


def test_confusion_matrix_errors():
    with pytest.raises(InvalidOptionError) as info:
        plot_confusion_matrix([1, 2], [1, 2], normalize="rows")
    assert info.value.field == "normalize"
    with pytest.raises(InvalidOptionError):
        plot_confusion_matrix([1, 2, 3], [1, 2])


# -- reliability -------------------------------------------------------------------------------
def test_reliability_draws_reliability_curve(rng):
    y, p = _patient(rng, 500, 0.0)
    p[:3] = np.nan
    ax = plot_reliability(y, p, n_bins=8)
    curve = reliability_curve(y, p, n_bins=8)
    filled = curve.counts > 0
    diagonal, model = ax.lines[:2]
    np.testing.assert_allclose(diagonal.get_xydata(), [[0, 0], [1, 1]])
    np.testing.assert_allclose(model.get_xdata(), curve.mean_predicted[filled])
    np.testing.assert_allclose(model.get_ydata(), curve.observed[filled])
    assert model.get_label() == (
        f"model (ECE = {curve.ece:.3f}, class-balanced {curve.ece_balanced:.3f})"
    )
    assert f"ECE = {curve.ece:.3f}" in legend_texts(ax)[1]
    assert legend_texts(ax)[2:] == ["other pixels per bin", "tumor pixels per bin"]
    twin = next(other for other in ax.figure.axes if other is not ax)
    n = len(curve.counts)
    other, tumor = twin.patches[:n], twin.patches[n:]  # side by side in each bin
    np.testing.assert_array_equal([b.get_height() for b in tumor], curve.positives)
    np.testing.assert_array_equal(
        [a.get_height() + b.get_height() for a, b in zip(other, tumor, strict=True)],
        curve.counts,
    )
    np.testing.assert_allclose([bar.get_x() for bar in other], curve.bin_edges[:-1])
    np.testing.assert_allclose([bar.get_x() for bar in tumor], curve.bin_edges[:-1] + 1 / 16)
    assert twin.get_yscale() == "log"
    assert ax.get_title() == "reliability diagram"


def test_reliability_shows_class_balanced_ece_of_overconfident_tumor_probabilities(rng):
    # issue 17: predicted 0.97 means 0.54, but 95 % of the pixels sit in the lowest bin
    p = np.concatenate([np.full(19_000, 0.01), np.full(1_000, 0.97)])
    y = np.concatenate([rng.random(19_000) < 0.01, rng.random(1_000) < 0.54])
    ax = plot_reliability(y, p)
    curve = reliability_curve(y, p)
    assert curve.ece < 0.05 < 0.15 < curve.ece_balanced
    assert f"class-balanced {curve.ece_balanced:.3f}" in legend_texts(ax)[1]


def test_reliability_errors():
    with pytest.raises(InvalidOptionError):
        plot_reliability([0, 1], [0.2, 1.5])
    with pytest.raises(InvalidOptionError):
        plot_reliability([0, 1, 1], [0.2, 0.5])


# -- report ------------------------------------------------------------------------------------
@pytest.fixture
def specimen(rng):
    wl = np.linspace(1000, 1600, 7)
    labels = np.zeros((10, 12), dtype=int)
    labels[2:8, 1:6] = 1
    labels[2:8, 6:11] = 2
    data = rng.random((10, 12, wl.size)) + 0.5 * (labels == 2)[..., None]
    cube = ht.Cube(data, wl, {"source": "/data/P07_specimen.hdr"})
    p_tumor = np.clip(0.8 * (labels == 2) + 0.2 * rng.random(labels.shape), 0, 1)
    predicted = np.where(p_tumor > 0.5, 2, 1)
    predicted[labels == 0] = 0
    probs = np.stack([1 - p_tumor, p_tumor], axis=-1).astype(np.float32)
    probs[labels == 0] = np.nan
    tm = TumorMap(predicted, probs, np.array([1, 2]), {1: "normal", 2: "tumor"}, predicted > 0)
    return cube, labels, tm


def test_patient_report_panels(specimen):
    cube, labels, tm = specimen
    fraction = (labels == 2).astype(float)
    metrics = {"accuracy": 0.912, "AUC": 0.9876, "sensitivity": 0.5, "pixels": 120}
    fig = plot_patient_report(
        cube, tm, labels=labels, metrics=metrics, tumor_fraction=fraction, rgb_wavelengths=None
    )
    assert isinstance(fig, Figure)
    assert fig.get_suptitle() == "Patient report: P07_specimen"
    w, h = fig.get_size_inches()
    assert w == pytest.approx(11.69) and h == pytest.approx(8.27)  # A4 landscape
    titles = [ax.get_title() for ax in fig.axes]
    assert titles[1:] == [
        "annotation",
        "predicted classes",
        "tumor probability",
        "true tumor fraction",
        "mean spectra ± SD by annotation",
        "metrics",
    ]
    assert titles[0].startswith("pseudo-RGB\n")
    rgb_ax, annotation_ax, prediction_ax, probability_ax, fraction_ax, spectra_ax, table_ax = (
        fig.axes
    )
    np.testing.assert_allclose(rgb_ax.images[0].get_array(), pseudo_rgb(cube))
    assert legend_texts(prediction_ax) == ["normal", "tumor", "not classified"]
    assert legend_texts(annotation_ax) == ["normal", "tumor", "unlabelled"]
    expected = class_overlay(labels, background=pseudo_rgb(cube), class_names=tm.class_names)
    np.testing.assert_allclose(annotation_ax.images[0].get_array(), expected)
    heat = probability_ax.images[-1].get_array()
    np.testing.assert_array_equal(heat.mask, ~tm.valid)
    np.testing.assert_allclose(fraction_ax.images[-1].get_array(), fraction)
    assert len(spectra_ax.lines) == 2
    mean_tumor = cube.data[labels == 2].mean(axis=0)
    np.testing.assert_allclose(spectra_ax.lines[1].get_ydata(), mean_tumor)
    cells = table_ax.tables[0].get_celld()
    table = {
        cells[r, 0].get_text().get_text(): cells[r, 1].get_text().get_text()
        for r in range(1, 1 + len(metrics) + 3)
    }
    assert table["accuracy"] == "91.2 %"
    assert table["AUC"] == "0.988"
    assert table["sensitivity"] == "50.0 %"
    assert table["pixels"] == "120"
    assert table["pixels classified"] == f"{np.count_nonzero(tm.labels):,}"
    share = np.count_nonzero(tm.labels == 2) / np.count_nonzero(tm.labels)
    assert table["predicted tumor"] == f"{100 * share:.1f} %"


def test_patient_report_minimal_uses_prediction(specimen):
    cube, _, tm = specimen
    fig = plot_patient_report(cube, tm, title="P07", rgb_wavelengths=(1600, 1300, 1000))
    assert fig.get_suptitle() == "P07"
    titles = [ax.get_title() for ax in fig.axes]
    assert "annotation" not in titles and "true tumor fraction" not in titles
    assert "mean spectra ± SD by prediction" in titles
    assert titles[0] == "pseudo-RGB\n1600 / 1300 / 1000 nm"


def test_patient_report_errors(specimen):
    cube, labels, tm = specimen
    with pytest.raises(InvalidOptionError) as info:
        plot_patient_report(cube, tm, labels=labels[:-1])
    assert info.value.field == "labels"
    with pytest.raises(InvalidOptionError) as info:
        plot_patient_report(cube, tm, tumor_fraction=np.zeros((2, 2)))
    assert info.value.field == "tumor_fraction"
    with pytest.raises(InvalidOptionError) as info:
        plot_patient_report(cube[:5], tm)
    assert info.value.field == "tumor_map"
    with pytest.raises(InvalidOptionError):
        plot_patient_report(cube, tm.labels)
    with pytest.raises(WavelengthError):
        plot_patient_report(cube, tm, rgb_wavelengths=(1000, 1200))


@pytest.mark.parametrize(
    ("name", "value", "text"),
    [
        ("balanced_accuracy", 0.8766, "87.7 %"),
        ("Dice", 1.0, "100.0 %"),
        ("roc_auc", 0.91234, "0.912"),
        ("ece", 0.0346, "0.035"),
        ("n_pixels", np.int64(12345), "12,345"),
        ("accuracy", float("nan"), "n/a"),
        ("kappa", -0.2, "-0.200"),
        ("model", "svm", "svm"),
    ],
)
def test_metric_formatting(name, value, text):
    assert _format_metric(name, value) == text
