"""evaluate(): patient-wise folds, metrics equal to scikit-learn's, bootstrap over patients."""

from __future__ import annotations

import dataclasses
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


def test_invalid_labelled_pixels_are_reported_once_not_once_per_fold(cohort, caplog):
    """The simulated camera's dead columns and saturated glare make labelled pixels invalid:
    one CalibrationWarning for the evaluation (the folds' trainings stay quiet)."""
    labelled = [spec.labels > 0 for spec in cohort]
    invalid = [~np.asarray(spec.cube.valid).all(axis=2) for spec in cohort]
    expected = sum(int((lab & bad).sum()) for lab, bad in zip(labelled, invalid, strict=True))
    assert expected > 0
    with warnings.catch_warnings(record=True) as caught, caplog.at_level("INFO"):
        warnings.simplefilter("always")
        result = evaluate(cohort, classifier="lda", n_bootstrap=0)
    said = [str(w.message) for w in caught if issubclass(w.category, ht.CalibrationWarning)]
    assert len(said) == 1 and f"{expected} of " in said[0] and "labelled pixels" in said[0]
    assert not [r for r in caplog.records if "labelled pixels" in r.getMessage()]
    # left out of every training, and counted as not classified where tested
    assert sum(row["n_unclassified"] for row in result.per_patient) == expected


def test_train_says_once_that_it_left_invalid_labelled_pixels_out(cohort):
    spec = cohort[0]
    expected = int(((spec.labels > 0) & ~np.asarray(spec.cube.valid).all(axis=2)).sum())
    with pytest.warns(ht.CalibrationWarning, match=f"{expected} labelled pixels") as record:
        model = ht.train([spec], classifier="lda", random_state=0)
    assert len(record) == 1 and model.training["invalid_left_out"] == expected


def test_plain_text_summary_for_a_terminal(lopo):
    """to_text: the numbers of to_markdown, aligned for a terminal, without Markdown."""
    text = lopo.to_text()
    assert "**" not in text and "|" not in text and "---" not in text
    lines = text.splitlines()
    assert lines[0] == f"Scheme: {lopo.scheme}."
    markdown = lopo.to_markdown()
    for row in lopo.per_patient:  # every patient's row, with the cells of the Markdown table
        cells = next(
            line for line in markdown.splitlines() if line.startswith(f"| {row['patient']} |")
        )
        values = [c.strip() for c in cells.strip("|").split("|")]
        line = next(line for line in lines if line.startswith(row["patient"] + " "))
        assert line.split() == " ".join(values).split()
    pooled = next(line for line in lines if line.startswith("accuracy "))
    assert f"{100 * lopo.pooled['accuracy']:.1f} %" in pooled
    assert max(len(line) for line in lines) <= 110  # fits a terminal, unlike the Markdown rows
    headed = [line for line in lines if line.startswith("patient ")]
    assert len(headed) == 1 and len({len(line) for line in lines[lines.index(headed[0]) :]}) <= 2


# --- progress and display -------------------------------------------------------------------


def _spy_bars(monkeypatch):
    """The bars evaluate and its trainings open: (desc, total, n, leave) of each, once closed."""
    from hsi_tumor._shared.progress import progress_bar

    monkeypatch.setattr("hsi_tumor._shared.progress.DELAY", 0.0)  # show at once
    made = []

    def spy(total, **kwargs):
        bar = progress_bar(total, **kwargs)
        made.append(bar)
        return bar

    monkeypatch.setattr(module, "progress_bar", spy)
    monkeypatch.setattr("hsi_tumor.models._train.progress_bar", spy)
    return made


def test_progress_over_the_folds_with_each_training_under_it(cohort, monkeypatch, capsys):
    bars = _spy_bars(monkeypatch)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ht.CalibrationWarning)
        evaluate(cohort, classifier="lda", n_bootstrap=0)
    out, err = capsys.readouterr()
    outer, *inner = bars
    assert (outer.desc, outer.unit, outer.total, outer.n, outer.leave) == (
        "evaluate",
        "fold",
        4,
        4,
        True,
    )
    assert [(b.desc, b.n, b.leave) for b in inner] == [("train", 1, False)] * 4  # cleared
    assert out == "" and "evaluate" in err and "4/4" in err


def test_progress_false_writes_nothing(cohort, monkeypatch, capsys):
    bars = _spy_bars(monkeypatch)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ht.CalibrationWarning)
        evaluate(cohort, classifier="lda", n_bootstrap=0, progress=False)
    assert all(b.disable for b in bars)
    assert capsys.readouterr() == ("", "")


def test_html_display_shows_the_metrics_and_escapes_names(lopo):
    from tests._shared.test_display import check_html

    page = lopo._repr_html_()
    check_html(page)
    for fact in ("hsi_tumor.Evaluation", lopo.scheme, "balanced acc.", "pooled pixels", "lda"):
        assert fact in page
    assert all(row["patient"] in page for row in lopo.per_patient)
    evil = dataclasses.replace(lopo, class_names={1: "<script>x</script>", 2: "tumor"})
    page = evil._repr_html_()
    check_html(page)
    assert "&lt;script&gt;x&lt;/script&gt;" in page


def test_specimens_name_the_tumor_class_when_class_names_are_not_passed(cohort):
    """Issue 17: ``evaluate(specimens, ...)`` without class_names logged "no class is named
    tumor" and showed "tumor pixels 0" for patients full of class-2 pixels."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ht.CalibrationWarning)
        specimens = ht.datasets.as_specimens(cohort)  # plain Specimens, not simulated ones
    result = evaluate(specimens, classifier="lda", n_bootstrap=0)
    assert result.tumor_class == 2 and result.class_names == {1: "normal", 2: "tumor"}
    for row, spec in zip(result.per_patient, cohort, strict=True):
        assert row["n_tumor"] == int((spec.labels == 2).sum()) > 0
    assert "sensitivity" in result.metric_names and "| tumor pixels |" in result.to_markdown()


def test_without_a_tumor_class_the_report_says_so(cohort, caplog):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ht.CalibrationWarning)
        specimens = [
            ht.Specimen(s.cube, s.labels, s.patient, class_names={1: "mucosa", 2: "stroma"})
            for s in cohort
        ]
    with caplog.at_level("WARNING", logger="hsi_tumor.evaluation"):
        result = evaluate(specimens, classifier="lda", n_bootstrap=0)
    assert "no class is named 'tumor' (classes: 1 'mucosa', 2 'stroma')" in caplog.text
    table = result.to_markdown()
    assert "**No tumor class:** no class is named 'tumor'" in table and "class_names=" in table
    headers = [line for line in table.splitlines() if line.startswith(("| |", "| patient |"))]
    assert len(headers) == 2 and headers[1].startswith("| patient | pixels | accuracy |"), headers
    assert not any("tumor pixels" in h or "sensitivity" in h for h in headers)
    assert all(row["n_tumor"] is None for row in result.per_patient)
    assert "no tumor class" in repr(result)
    assert json.dumps(result.to_dict())  # still serialisable
