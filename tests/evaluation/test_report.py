"""write_report: SIMULATED in every title for simulated cubes; both calibration errors in text."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import hsi_tumor as ht
from hsi_tumor.datasets import CLASS_NAMES, Specimen
from hsi_tumor.evaluation import _report, evaluate, write_report


def _evaluation(simulated: bool):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ht.CalibrationWarning)
        cohort = ht.simulate_cohort(3, seed=0, shape=(40, 48), n_bands=40)
    specimens = [
        s
        if simulated
        else Specimen(
            ht.Cube(s.cube.data, s.cube.wavelengths, {"patient": s.patient}, valid=s.cube.valid),
            s.labels,
            s.patient,
            name=s.name,
        )
        for s in cohort
    ]
    return evaluate(
        specimens,
        classifier="lda",
        class_names=CLASS_NAMES,
        n_bootstrap=50,
        keep_maps=False,  # the patient pages say SIMULATED too: tests/viz/test_evaluation.py
        progress=False,
    )


@pytest.fixture(scope="module")
def simulated_evaluation():
    return _evaluation(True)


def _written(evaluation, out, monkeypatch) -> tuple[str, dict]:
    import hsi_tumor.viz as viz

    titles = {}
    real_save = viz.save_figure

    def spy(fig, path, **options):
        written = real_save(fig, path, **options)
        figure = fig if hasattr(fig, "get_suptitle") else fig.figure
        titles[written.name] = figure.get_suptitle() or fig.get_title()
        return written

    monkeypatch.setattr(viz, "save_figure", spy)
    report = write_report(evaluation, out, title="My evaluation")
    return report.read_text(encoding="utf-8"), titles


def test_simulated_cubes_make_every_title_say_simulated(
    simulated_evaluation, tmp_path, monkeypatch
):
    text, titles = _written(simulated_evaluation, tmp_path / "report", monkeypatch)
    assert text.startswith("# SIMULATED data: My evaluation\n")
    assert "**SIMULATED data**" in text
    assert set(titles) == {"roc.png", "confusion.png", "reliability.png"}
    for name, title in titles.items():
        assert title.startswith("SIMULATED data: "), name


def test_measured_cubes_are_not_called_simulated(tmp_path, monkeypatch):
    text, titles = _written(_evaluation(False), tmp_path / "report", monkeypatch)
    assert "SIMULATED" not in text
    assert titles and not any("SIMULATED" in t for t in titles.values())


def test_report_gives_the_class_balanced_ece_and_says_why(simulated_evaluation):
    curve = simulated_evaluation.reliability
    text = _report._markdown(simulated_evaluation, "t", None, [], [], "0")
    assert f"Expected calibration error (ECE): {curve.ece:.3f}" in text
    assert f"class-balanced ECE: {curve.ece_balanced:.3f}" in text
    assert "mostly measures the lowest bin" in text
    assert simulated_evaluation.to_dict()["calibration"]["ece_balanced"] == pytest.approx(
        curve.ece_balanced
    )
    assert np.isfinite(curve.ece_balanced)


def test_fraction_estimates_add_the_calibration_figure_and_maps(
    fraction_evaluation, tmp_path, monkeypatch
):
    ev = fraction_evaluation
    text, titles = _written(ev, tmp_path / "report", monkeypatch)
    names = {f"fraction_{_report._safe(p.specimen.name)}.png" for p in ev.predictions}
    assert {"fraction_calibration.png", *names} <= set(titles)
    for name in ("fraction_calibration.png", *names):
        assert titles[name].startswith("SIMULATED data: "), name
        assert f"]({name})" in text
    assert f"Tumor fraction estimated by **{ev.fraction}**" in text
    gap = ev.fraction_calibration.mean_absolute_error
    assert f"mean gap between the curve and the diagonal {gap:.3f}" in text
    assert f"**Tumor fraction estimate ({ev.fraction})**" in text  # the metrics table
