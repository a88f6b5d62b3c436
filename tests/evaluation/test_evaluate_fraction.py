"""evaluate(fraction=...): a fraction model per fold, its metrics equal to a direct computation."""

import json
import warnings

import numpy as np
import pytest

import hsi_tumor as ht
from hsi_tumor._shared.errors import InvalidOptionError
from hsi_tumor.evaluation import _run as module
from hsi_tumor.evaluation import evaluate
from hsi_tumor.metrics import fraction_calibration, fraction_estimate_metrics

FRACTION_METRICS = (
    "fraction_fuzzy_dice",
    "fraction_area_error",
    "fraction_mae_partial",
    "fraction_coverage",
    "fraction_coverage_partial",
)


def _compared(spec):
    return spec.tissue | (spec.labels > 0)


def test_each_fold_estimates_with_a_model_of_its_training_patients(fraction_evaluation):
    ev = fraction_evaluation
    assert ev.fraction.startswith("unmixing, trained on ")
    by_patient = {p.specimen.patient: p for p in ev.predictions}
    for k, fold in enumerate(ev.folds):
        (test,) = fold.test_patients
        train = [by_patient[p].specimen for p in fold.train_patients]
        model = ht.train_fraction(train, method="unmixing", random_state=3 + k, progress=False)
        assert model.patients == tuple(sorted(fold.train_patients))
        spec = by_patient[test].specimen
        expected = ht.estimate_fraction(spec.cube, model, mask=_compared(spec), progress=False)
        got = by_patient[test].fraction_map
        np.testing.assert_array_equal(got.fraction, expected.fraction)
        np.testing.assert_array_equal(got.outlier, expected.outlier)


def test_metrics_equal_a_direct_computation_per_patient_and_pooled(fraction_evaluation):
    ev = fraction_evaluation
    rows = {r["patient"]: r for r in ev.per_patient}
    maps = []
    for pred in ev.predictions:
        spec, fm = pred.specimen, pred.fraction_map
        mask = _compared(spec)
        direct = fraction_estimate_metrics(
            fm.fraction, spec.tumor_fraction, mask, lower=fm.lower, upper=fm.upper
        )
        for key in FRACTION_METRICS:
            assert rows[spec.patient][key] == pytest.approx(direct[key], nan_ok=True), key
        maps.append([a[mask] for a in (fm.fraction, spec.tumor_fraction, fm.lower, fm.upper)])
    e, f, lo, hi = (np.concatenate(parts) for parts in zip(*maps, strict=True))
    pooled = fraction_estimate_metrics(e, f, lower=lo, upper=hi)
    for key in FRACTION_METRICS:
        assert ev.pooled[key] == pytest.approx(pooled[key]), key
        lo_ci, hi_ci = ev.ci[key]
        assert lo_ci <= ev.pooled[key] <= hi_ci or np.isclose(lo_ci, hi_ci), key
    curve = fraction_calibration(e, f, lower=lo, upper=hi)
    np.testing.assert_allclose(ev.fraction_calibration.mean_true, curve.mean_true)
    np.testing.assert_array_equal(ev.fraction_calibration.coverage_counts, curve.coverage_counts)


def test_tables_and_dict_show_the_fraction_estimate(fraction_evaluation):
    ev = fraction_evaluation
    text, markdown = ev.to_text(), ev.to_markdown()
    heading = f"Tumor fraction estimate ({ev.fraction})"
    assert heading in text and heading in markdown
    assert "fraction MAE" in text or "MAE" in text
    d = json.loads(json.dumps(ev.to_dict(), allow_nan=False))
    assert d["fraction"] == ev.fraction
    assert sum(d["fraction_calibration"]["counts"]) == sum(
        int(_compared(p.specimen).sum()) for p in ev.predictions
    )
    assert set(FRACTION_METRICS) <= set(d["pooled"])


def test_without_keep_maps_only_the_sums_are_kept(fraction_cohort):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ht.CalibrationWarning)
        ev = evaluate(fraction_cohort, classifier="lda", fraction="unmixing", n_bootstrap=0)
    assert all(p.fraction_map is None for p in ev.predictions)
    assert all(p.fraction_estimate_sums is not None for p in ev.predictions)
    assert np.isfinite(ev.pooled["fraction_fuzzy_dice"])


def test_without_fraction_nothing_is_estimated(fraction_cohort, monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("train_fraction called without fraction=")

    monkeypatch.setattr(module, "train_fraction", refuse)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ht.CalibrationWarning)
        ev = evaluate(fraction_cohort, classifier="lda", n_bootstrap=0)
    assert ev.fraction is None and ev.fraction_calibration is None
    assert not any(k.startswith("fraction_") for k in ev.pooled)
    assert "Tumor fraction estimate" not in ev.to_text()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"fraction": "unmixing", "cv": "random"}, "random pixel split"),
        ({"fraction": {"method": "unmixing", "C": 1}}, "unknown keys"),
        ({"fraction": "pls"}, "fraction method 'pls'"),
        ({"fraction": 3}, "fraction=3"),
    ],
)
def test_bad_fraction_options_fail_before_any_fold(fraction_cohort, monkeypatch, kwargs, message):
    def refuse(*args, **kw):
        raise AssertionError("a fold ran")

    monkeypatch.setattr(module, "_run_fold", refuse)
    with pytest.raises(InvalidOptionError, match=message):
        evaluate(fraction_cohort, classifier="lda", n_bootstrap=0, **kwargs)
