"""evaluate(): patient-wise folds, metrics equal to scikit-learn's, bootstrap over patients."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
from sklearn import metrics as skm

import hsi_tumor as ht
from hsi_tumor._shared.errors import InvalidOptionError, TrainingDataError
from hsi_tumor.evaluation import _run as module
from hsi_tumor.evaluation import compare, evaluate


@pytest.fixture(scope="module")
def cohort():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ht.CalibrationWarning)
        return ht.simulate_cohort(4, seed=0, shape=(40, 48), n_bands=40)


@pytest.fixture(scope="module")
def lopo(cohort):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ht.CalibrationWarning)
        return evaluate(cohort, classifier="lda", n_bootstrap=300, keep_maps=True)


def _spy(monkeypatch):
    """Record the patients each train() call saw and each classify_cube() call classified."""
    calls = []
    real_train, real_classify = module.train, module.classify_cube

    def train(specimens, **kw):  # evaluate trains on Specimens (patients in Specimen.patient)
        calls.append(
            {
                "train": {s.patient for s in specimens},
                "cubes": {id(s.cube) for s in specimens},
                "test": [],
            }
        )
        return real_train(specimens, **kw)

    def classify_cube(cube, model, **kw):
        calls[-1]["test"].append(id(cube))
        return real_classify(cube, model, **kw)

    monkeypatch.setattr(module, "train", train)
    monkeypatch.setattr(module, "classify_cube", classify_cube)
    return calls


@pytest.mark.parametrize("cv", ["leave-one-patient-out", 2])
def test_no_patient_is_ever_in_train_and_test_of_one_fold(cohort, monkeypatch, cv):
    calls = _spy(monkeypatch)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ht.CalibrationWarning)
        result = evaluate(cohort, classifier="lda", cv=cv, n_bootstrap=0)
    patient_of = {id(p.specimen.cube): p.specimen.patient for p in result.predictions}
    tested = []
    for call in calls:
        test_patients = {patient_of[c] for c in call["test"]}
        assert test_patients and call["train"] and not (test_patients & call["train"])
        assert not (set(call["test"]) & call["cubes"])  # no test cube in the training cubes
        tested += sorted(test_patients)
    assert sorted(tested) == sorted(cohort.patient_ids)  # every patient tested exactly once
    for fold in result.folds:
        assert not set(fold.train_patients) & set(fold.test_patients)
    assert len(result.folds) == (4 if cv == "leave-one-patient-out" else 2)
    assert not result.optimistic


def test_metrics_equal_sklearn_on_the_pooled_and_per_patient_predictions(lopo):
    y = np.concatenate([p.y_true for p in lopo.predictions])
    yp = np.concatenate([p.y_pred for p in lopo.predictions])
    s = np.concatenate([p.tumor_score for p in lopo.predictions])
    ok = yp > 0
    assert (~ok).sum() == sum(r["n_unclassified"] for r in lopo.per_patient)
    assert lopo.pooled["accuracy"] == pytest.approx(skm.accuracy_score(y[ok], yp[ok]))
    assert lopo.pooled["sensitivity"] == pytest.approx(skm.recall_score(y[ok] == 2, yp[ok] == 2))
    assert lopo.pooled["specificity"] == pytest.approx(skm.recall_score(y[ok] == 1, yp[ok] == 1))
    assert lopo.pooled["dice"] == pytest.approx(skm.f1_score(y[ok] == 2, yp[ok] == 2))
    fin = np.isfinite(s)
    assert np.array_equal(fin, ok)  # a probability exactly where a label was given
    assert lopo.pooled["roc_auc"] == pytest.approx(skm.roc_auc_score(y[fin] == 2, s[fin]))
    np.testing.assert_array_equal(lopo.confusion, skm.confusion_matrix(y[ok], yp[ok]))
    for row, pred in zip(lopo.per_patient, lopo.predictions, strict=True):
        assert row["patient"] == pred.specimen.patient
        keep = pred.y_pred > 0
        expected = skm.balanced_accuracy_score(pred.y_true[keep], pred.y_pred[keep])
        assert row["balanced_accuracy"] == pytest.approx(expected)
    means = [r["accuracy"] for r in lopo.per_patient]
    assert lopo.patient_mean["accuracy"] == pytest.approx(np.mean(means))


def test_bootstrap_resamples_patients(lopo):
    """The vectorised interval equals a brute-force bootstrap that concatenates patients."""
    rng = np.random.default_rng(lopo.random_state)
    n = len(lopo.per_patient)
    weights = rng.multinomial(n, np.full(n, 1 / n), size=lopo.n_bootstrap)
    accuracies, dice = [], []
    for w in weights:
        picked = [p for p, k in zip(lopo.predictions, w, strict=True) for _ in range(k)]
        y = np.concatenate([p.y_true for p in picked])
        yp = np.concatenate([p.y_pred for p in picked])
        ok = yp > 0
        accuracies.append(skm.accuracy_score(y[ok], yp[ok]))
        sums = np.sum([p.fraction_sums for p in picked], axis=0)
        dice.append(2 * sums[0] / (sums[1] + sums[2]))
    assert lopo.ci["accuracy"] == pytest.approx(tuple(np.percentile(accuracies, [2.5, 97.5])))
    assert lopo.ci["fuzzy_dice"] == pytest.approx(tuple(np.percentile(dice, [2.5, 97.5])))
    lo, hi = lopo.ci["accuracy"]
    assert lo <= lopo.pooled["accuracy"] <= hi


def test_fraction_metrics_compare_the_probability_map_with_the_true_fraction(lopo, cohort):
    inter = sp = sf = 0.0
    for pred, spec in zip(lopo.predictions, cohort, strict=True):
        tissue = spec.true_labels > 0
        p = np.nan_to_num(pred.tumor_map.tumor_probability[tissue].astype(np.float64))
        f = spec.tumor_fraction[tissue].astype(np.float64)
        inter, sp, sf = inter + np.minimum(p, f).sum(), sp + p.sum(), sf + f.sum()
        assert pred.tumor_map.shape == spec.true_labels.shape
    assert lopo.pooled["fuzzy_dice"] == pytest.approx(2 * inter / (sp + sf), rel=1e-6)
    assert lopo.pooled["area_error"] == pytest.approx((sp - sf) / sf, rel=1e-6)
    assert lopo.reliability is not None and 0 <= lopo.reliability.ece <= 1


def test_random_pixel_split_is_explicit_and_labelled_optimistic(cohort):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ht.CalibrationWarning)
        result = evaluate(cohort, classifier="lda", cv="random", n_bootstrap=50)
    assert result.optimistic and "OPTIMISTIC" in repr(result)
    assert "Optimistic" in result.to_markdown() and result.to_dict()["optimistic"] is True
    for pred, spec in zip(result.predictions, cohort, strict=True):  # each pixel tested once
        assert np.array_equal(np.sort(pred.flat), np.flatnonzero(spec.labels))
    assert "fuzzy_dice" not in result.pooled  # the maps saw training pixels: not reported


def test_reproducible_and_serialisable(cohort, lopo):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ht.CalibrationWarning)
        again = evaluate(cohort, classifier="lda", n_bootstrap=300)
    assert again.pooled == lopo.pooled and again.ci == lopo.ci
    text = json.dumps(lopo.to_dict(), allow_nan=False)
    assert json.loads(text)["scheme"].startswith("leave-one-patient-out")
    table = lopo.to_markdown()
    assert "| P01 |" in table and "fuzzy Dice" in table


def test_cubes_with_groups_keep_patients_together(cohort):
    cubes, maps, groups = [], [], []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ht.CalibrationWarning)
        for spec in cohort:
            cube = spec.calibrate().load()
            half = spec.labels.copy()
            cubes += [cube, cube]
            maps += [np.where(np.arange(48) < 24, half, 0), np.where(np.arange(48) >= 24, half, 0)]
            groups += [spec.patient] * 2
        result = evaluate(
            cubes,
            maps,
            groups=groups,
            classifier="lda",
            class_names=ht.datasets.CLASS_NAMES,
            n_bootstrap=0,
        )
    assert len(result.folds) == 4 and len(result.per_patient) == 4
    assert all(len(r["specimens"]) == 2 for r in result.per_patient)
    assert result.ci == {}


def test_bad_input(cohort):
    with pytest.raises(InvalidOptionError, match="cv"):
        evaluate(cohort, cv="bogus")
    with pytest.raises(InvalidOptionError, match="cv"):
        evaluate(cohort, cv=True)
    one = ht.datasets.Specimen(
        ht.Cube(np.ones((4, 4, 3)), [1000, 1100, 1200]), np.tile([1, 2], 8).reshape(4, 4), "P1"
    )
    with pytest.raises(TrainingDataError, match="patient"):
        evaluate([one], classifier="lda")
    with pytest.raises(TrainingDataError, match=r"1 class"):
        evaluate([one.cube, one.cube], label_maps=[np.ones((4, 4), int)] * 2, groups=["a", "b"])


def test_bad_configurations_fail_before_any_fold(cohort, monkeypatch):
    """A bad step or parameter value fails at once, not in the first fold (or on a worker)."""
    monkeypatch.setattr(module, "_run_fold", None)  # calling it would be a TypeError
    with pytest.raises(ht.InvalidParameterError, match="'C' parameter of LogisticRegression"):
        evaluate(cohort, classifier="logistic", classifier_params={"C": "abc"})
    with pytest.raises(InvalidOptionError, match="n_comps") as info:
        compare(cohort, [{"classifier": "lda"}, {"preprocessing": [("pca", {"n_comps": 3})]}])
    assert info.value.field == "preprocessing"


CONFIGURATIONS = [
    {"classifier": "lda"},
    {"classifier": "logistic", "preprocessing": ["snv", ("pca", {"n_components": 5})]},
]


@pytest.fixture(scope="module")
def local_comparison(cohort):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ht.CalibrationWarning)
        return evaluate_many(cohort)


def evaluate_many(cohort, **options):
    return compare(cohort, CONFIGURATIONS, n_bootstrap=100, **options)


@pytest.mark.slow  # with the next test: their fixture local_comparison takes seconds
def test_compare_runs_every_configuration_on_the_same_folds(local_comparison, lopo):
    lda, logistic = local_comparison
    assert lda.classifier == "lda" and logistic.classifier == "logistic"
    assert "pca(n_components=5)" in logistic.preprocessing
    assert [f.test_patients for f in lda.folds] == [f.test_patients for f in logistic.folds]
    assert lda.pooled["accuracy"] == lopo.pooled["accuracy"]  # evaluate() is compare() of one
    with pytest.raises(InvalidOptionError, match="unknown keys"):
        compare([], [{"clasifier": "lda"}])


@pytest.mark.slow
def test_folds_on_a_dask_cluster_equal_the_local_run(
    cohort, local_comparison, dask_cluster, dask_client
):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ht.CalibrationWarning)
        on_cluster = evaluate_many(cohort, client=dask_client)
        by_address = evaluate(
            cohort, classifier="lda", n_bootstrap=100, client=dask_cluster.scheduler_address
        )
        import distributed

        with distributed.Client(dask_cluster, set_as_default=False) as own:  # its own loop
            not_default = evaluate(cohort, classifier="lda", n_bootstrap=100, client=own)
    assert not_default.pooled == local_comparison[0].pooled
    for here, there in zip(local_comparison, on_cluster, strict=True):
        assert there.pooled == here.pooled and there.ci == here.ci
        assert there.folds == here.folds
        for a, b in zip(here.predictions, there.predictions, strict=True):
            np.testing.assert_array_equal(a.y_pred, b.y_pred)
            np.testing.assert_array_equal(a.tumor_score, b.tumor_score)
            assert b.specimen.name == a.specimen.name
    assert by_address.pooled == local_comparison[0].pooled
