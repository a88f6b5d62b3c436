"""train: sampling, grouping, tuning, calibration and the errors on bad training data."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.calibration import CalibratedClassifierCV
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedGroupKFold
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

import hsi_tumor as ht
from hsi_tumor._shared.progress import progress_bar
from hsi_tumor.models._train import _CountingScorer, _quota, _splitter
from hsi_tumor.preprocessing import StandardNormalVariate
from tests.models.conftest import valid_labelled


def test_quota_is_as_even_as_possible():
    assert _quota(np.array([10, 100, 1000]), 300).tolist() == [10, 100, 190]
    assert _quota(np.array([10, 200, 1000]), 300).tolist() == [10, 145, 145]
    assert _quota(np.array([5, 5, 5]), 10).sum() == 10
    assert _quota(np.array([0, 7, 100]), 50).tolist() == [0, 7, 43]


def test_pixels_are_balanced_over_patients_and_bounded(cohort, class_names):
    cubes, maps, ids, _ = cohort
    model = ht.train(
        cubes,
        maps,
        classifier="lda",
        class_names=class_names,
        groups=ids,
        max_pixels_per_class=300,
        random_state=0,
    )
    used = model.training["pixels"]
    available = model.training["labelled"]
    for name in ("normal", "tumor"):
        assert sum(used[name].values()) == min(300, sum(available[name].values()))
    # normal: every patient has > 100 valid labelled pixels, so each gives 100
    assert sorted(used["normal"].values()) == [100, 100, 100]
    # tumor: fewer labelled pixels than the bound, so all of them are used
    assert sum(available["tumor"].values()) < 300
    assert model.patients == tuple(ids)


def test_model_predicts_the_label_ids_and_names_them(cohort, class_names):
    cubes, maps, _, _ = cohort
    model = ht.train(cubes, maps, classifier="lda", class_names=class_names, random_state=0)
    assert model.classes.tolist() == [1, 2]
    assert model.tumor_class == 2
    x, y = valid_labelled(cubes[0], maps[0])
    assert set(np.unique(model.pipeline.predict(x))) <= {1, 2}
    assert (model.pipeline.predict(x) == y).mean() > 0.8
    assert np.array_equal(model.wavelengths, cubes[0].wavelengths)
    assert model.preprocessing == ("snv", "pca")
    assert "lda" in repr(model)


def test_svm_is_tuned_and_calibrated_by_patient(cohort, class_names):
    cubes, maps, ids, _ = cohort
    model = ht.train(cubes, maps, class_names=class_names, groups=ids, random_state=0)
    steps = [name for name, _ in model.pipeline.steps]
    assert steps == ["snv", "pca", "scale", "classifier"]
    final = model.pipeline[-1]
    assert isinstance(final, CalibratedClassifierCV) and not final.ensemble
    assert isinstance(final.cv, StratifiedGroupKFold)
    tuning = model.training["tuning"]
    assert set(tuning["best_params"]) == {"C", "gamma"}
    assert "by patient" in tuning["cv"]
    assert final.calibrated_classifiers_[0].estimator.C == tuning["best_params"]["C"]
    proba = model.pipeline.predict_proba(valid_labelled(cubes[1], maps[1])[0])
    np.testing.assert_allclose(proba.sum(axis=1), 1, atol=1e-12)


def test_fixed_parameters_are_not_tuned(cohort):
    cubes, maps, _, _ = cohort
    model = ht.train(cubes, maps, classifier_params={"C": 7.0, "gamma": 0.05}, random_state=0)
    assert "tuning" not in model.training
    svc = model.pipeline[-1].calibrated_classifiers_[0].estimator
    assert (svc.C, svc.gamma) == (7.0, 0.05)
    partly = ht.train(cubes, maps, classifier_params={"C": 7.0}, random_state=0)
    assert set(partly.training["tuning"]["best_params"]) == {"gamma"}


def test_group_splits_never_share_a_patient():
    rng = np.random.default_rng(0)
    y = rng.integers(1, 3, 600)
    groups = np.repeat(np.array([f"P{i}" for i in range(6)], dtype=object), 100)
    splitter, text = _splitter(y, groups, seed=0)
    assert "by patient" in text
    for train, test in splitter.split(np.zeros((600, 1)), y, groups):
        assert not set(groups[train]) & set(groups[test])


def test_same_seed_same_model_and_seed_recorded(cohort):
    cubes, maps, _, _ = cohort
    a = ht.train(cubes, maps, classifier="random-forest", random_state=3)
    b = ht.train(cubes, maps, classifier="random-forest", random_state=3)
    x, _ = valid_labelled(cubes[2], maps[2])
    np.testing.assert_array_equal(a.pipeline.predict_proba(x), b.pipeline.predict_proba(x))
    drawn = ht.train(cubes, maps, classifier="lda")
    assert isinstance(drawn.training["random_state"], int)


def test_any_sklearn_estimator_is_accepted(cohort):
    cubes, maps, _, _ = cohort
    svc = ht.train(cubes, maps, classifier=SVC(C=10), random_state=0)
    assert isinstance(svc.pipeline[-1], CalibratedClassifierCV)  # probabilities added
    assert svc.classifier == "SVC"
    forest = ht.train(cubes, maps, classifier=RandomForestClassifier(n_estimators=5))
    assert isinstance(forest.pipeline[-1], RandomForestClassifier)
    given = Pipeline(
        [("snv", StandardNormalVariate()), ("scale", StandardScaler()), ("svc", SVC())]
    )
    model = ht.train(cubes, maps, classifier=given, random_state=0)
    assert [n for n, _ in model.pipeline.steps] == ["snv", "scale", "classifier"]


def test_preprocessing_names_params_and_transformers(cohort):
    cubes, maps, _, _ = cohort
    model = ht.train(
        cubes,
        maps,
        classifier="lda",
        preprocessing=("snv", ("savgol", {"window_length": 7}), ("pca", {"n_components": 5})),
    )
    assert model.pipeline.named_steps["pca"].n_components_ == 5
    assert model.preprocessing[1] == "savgol(window_length=7)"
    bare = ht.train(cubes, maps, classifier="lda", preprocessing=[StandardNormalVariate()])
    assert bare.pipeline.steps[0][0] == "standardnormalvariate"


def test_invalid_pixels_flagged_by_calibration_are_left_out(class_names):
    spec = ht.simulate_specimen(seed=1, shape=(40, 48), n_bands=40)
    with pytest.warns(ht.CalibrationWarning):
        cube = spec.calibrate()  # lazy: NaN marks what calibration could not compute
    model = ht.train(cube, spec.labels, classifier="lda", max_pixels_per_class=None)
    assert model.training["invalid_left_out"] > 0


# --- errors ---------------------------------------------------------------------------------


def test_single_class_is_an_error(cohort):
    cubes, maps, _, _ = cohort
    one = np.where(maps[0] == 2, 0, maps[0])
    with pytest.raises(ht.TrainingDataError, match="single class"):
        ht.train(cubes[0], one)


def _tiny(pixels_per_class: int, patients: int, bands: int = 30) -> list:
    """Specimens with ``pixels_per_class`` random spectra of class 1 and of class 2 each."""
    rng = np.random.default_rng(7)
    wavelengths = np.linspace(1000, 1600, bands)
    labels = np.repeat([[1, 2]], pixels_per_class, axis=0).T.reshape(1, -1)
    return [
        ht.Specimen(
            ht.Cube(rng.random((1, labels.size, bands), np.float32), wavelengths=wavelengths),
            labels,
            patient=f"P{p}",
        )
        for p in range(patients)
    ]


@pytest.mark.parametrize("classifier", sorted(ht.models.CLASSIFIERS))
def test_one_pixel_per_class_is_a_training_data_error(classifier):
    # Before: scikit-learn's ValueError ("n_components=20 must be between 0 and
    # min(n_samples, n_features)=4", LDA's "number of samples must be more than the number
    # of classes") escaped for every classifier.
    for preprocessing in (None, ()):
        with pytest.raises(ht.TrainingDataError, match="single valid labelled pixel") as info:
            ht.train(_tiny(1, 1), classifier=classifier, preprocessing=preprocessing)
        assert "label at least 2" in str(info.value)


@pytest.mark.parametrize("pixels_per_class", [1, 3, 6])
def test_more_components_than_training_pixels_names_the_step_and_the_fix(pixels_per_class):
    # 2 patients x 2 classes x n pixels: PCA(20) has too few pixels in the whole set (n=1, 3)
    # or in an inner fold (n=6: 24 pixels, a fold trains on 12-16).
    specimens = _tiny(pixels_per_class, 2)
    with pytest.raises(ht.TrainingDataError, match=r"'pca' asks for n_components=20") as info:
        ht.train(specimens, classifier="svm")
    suggested = int(str(info.value).split("'n_components': ")[1].split("}")[0])
    assert suggested == {1: 2, 3: 5, 6: 5}[pixels_per_class]
    # the fix the message gives works
    model = ht.train(
        specimens, classifier="svm", preprocessing=("snv", ("pca", {"n_components": suggested}))
    )
    assert model.pipeline.named_steps["pca"].n_components_ == suggested


def test_no_labels_is_an_error(cohort):
    cubes, maps, _, _ = cohort
    with pytest.raises(ht.TrainingDataError, match="no labelled pixel"):
        ht.train(cubes[0], np.zeros_like(maps[0]))


def test_label_map_shape_must_match(cohort):
    cubes, maps, _, _ = cohort
    with pytest.raises(ht.TrainingDataError, match=r"label_maps\[0\].*has shape"):
        ht.train(cubes[0], maps[0][:-1])
    with pytest.raises(ht.TrainingDataError, match="2 label maps for 3 cubes"):
        ht.train(cubes, maps[:2])
    with pytest.raises(ht.TrainingDataError, match="negative"):
        ht.train(cubes[0], maps[0].astype(int) - 1)
    with pytest.raises(ht.TrainingDataError, match="not integer"):
        ht.train(cubes[0], maps[0] + 0.5)


def test_groups_must_match_cubes(cohort):
    cubes, maps, _, _ = cohort
    with pytest.raises(ht.TrainingDataError, match="2 patient ids"):
        ht.train(cubes, maps, groups=["a", "b"])


def test_different_wavelengths_need_resample(cohort):
    cubes, maps, _, _ = cohort
    shifted = ht.Cube(cubes[1].data, cubes[1].wavelengths + 3.0, valid=cubes[1].valid)
    with pytest.raises(ht.WavelengthError, match=r"cubes\[1\].*903.*cubes\[0\]"):
        ht.train([cubes[0], shifted], maps[:2], classifier="lda")
    narrower = ht.Cube(
        cubes[1].data, np.linspace(850, 1750, cubes[1].n_bands), valid=cubes[1].valid
    )
    model = ht.train([cubes[0], narrower], maps[:2], classifier="lda", resample=True)
    assert model.training["resampled_cubes"] == [1]
    with pytest.raises(ht.WavelengthError, match="extrapolate"):
        ht.train([cubes[0], shifted], maps[:2], classifier="lda", resample=True)


def test_unflagged_nan_pixels_are_an_error(cohort):
    cubes, maps, _, _ = cohort
    data = cubes[0].data.copy()
    data[~np.isfinite(data)] = 0.5  # a cube without NaN, then one NaN in a labelled pixel
    r, c = np.argwhere(maps[0] == 1)[0]
    data[r, c, 3] = np.nan
    with pytest.raises(ht.TrainingDataError, match=f"row {r}, column {c}"):
        ht.train(ht.Cube(data, cubes[0].wavelengths), maps[0], max_pixels_per_class=None)
    flagged = np.ones(maps[0].shape, bool)
    flagged[r, c] = False
    model = ht.train(
        ht.Cube(data, cubes[0].wavelengths, valid=flagged),
        maps[0],
        classifier="lda",
        max_pixels_per_class=None,
    )
    assert model.training["invalid_left_out"] >= 1


def test_unknown_names_list_the_choices(cohort):
    cubes, maps, _, _ = cohort
    with pytest.raises(ht.InvalidOptionError, match="random-forest"):
        ht.train(cubes[0], maps[0], classifier="svn")
    with pytest.raises(ht.InvalidOptionError, match="snv"):
        ht.train(cubes[0], maps[0], classifier="lda", preprocessing=("snvv",))
    with pytest.raises(ht.InvalidOptionError, match="classifier_params"):
        ht.train(cubes[0], maps[0], classifier="lda", classifier_params={"C": 1})
    with pytest.raises(ht.InvalidOptionError, match="class names"):
        ht.train(cubes[0], maps[0], classifier="lda", class_names=["only one"])


# -- Specimens (issue 13: callers no longer unpack them by hand) ---------------------------------
def test_specimens_equal_their_unpacked_cubes(cohort, class_names):
    cubes, maps, ids, _ = cohort
    specimens = [ht.Specimen(c, m, p) for c, m, p in zip(cubes, maps, ids, strict=True)]
    options = {"classifier": "lda", "class_names": class_names, "random_state": 0}
    from_specimens = ht.train(specimens, **options)
    unpacked = ht.train(cubes, maps, groups=ids, **options)
    assert from_specimens.patients == unpacked.patients == tuple(sorted(ids))
    assert from_specimens.training == unpacked.training
    x = cubes[0].pixels()
    x = x[np.isfinite(x).all(axis=1)]
    np.testing.assert_array_equal(
        from_specimens.pipeline.predict_proba(x), unpacked.pipeline.predict_proba(x)
    )
    one = ht.train(specimens[0], **options)  # a single Specimen
    assert one.patients == (ids[0],)


@pytest.mark.parametrize(("given", "why"), [("label_maps", "labels"), ("groups", "patient")])
def test_specimens_refuse_label_maps_and_groups(cohort, given, why):
    cubes, maps, ids, _ = cohort
    specimens = [ht.Specimen(c, m, p) for c, m, p in zip(cubes, maps, ids, strict=True)]
    extra = {"label_maps": maps} if given == "label_maps" else {"groups": ids}
    with pytest.raises(ht.InvalidOptionError, match=f"Specimens, which carry their own {why}"):
        ht.train(specimens, **extra)


def test_specimens_and_cubes_do_not_mix_and_cubes_need_label_maps(cohort):
    cubes, maps, _, _ = cohort
    with pytest.raises(ht.InvalidOptionError, match="mixes Specimens"):
        ht.train([ht.Specimen(cubes[0], maps[0], "P0"), cubes[1]])
    with pytest.raises(ht.TrainingDataError, match="no label_maps"):
        ht.train(cubes)


# --- progress: one bar over every fit (search, calibration, final fit) ------------------------


def _n_folds(cv_text: str) -> int:
    return int(cv_text.split()[0])  # "3 folds by patient", "2 stratified pixel folds"


@pytest.fixture
def bars(monkeypatch):
    """The bars train opens, each with the steps it was advanced by (``bar.steps``)."""
    monkeypatch.setattr("hsi_tumor._shared.progress.DELAY", 0.0)  # show at once
    made = []

    def spy(total, **kwargs):
        bar = progress_bar(total, **kwargs)
        bar.steps, update = [], bar.update

        def counted(n=1):
            bar.steps.append(n)
            return update(n)

        bar.update = counted
        made.append(bar)
        return bar

    monkeypatch.setattr("hsi_tumor.models._train.progress_bar", spy)
    return made


def test_progress_bar_counts_every_fit_by_default(cohort, class_names, capsys, bars):
    cubes, maps, ids, _ = cohort
    options = dict(
        classifier="svm",
        classifier_params={"gamma": 0.05},  # the search runs over C alone: 4 candidates
        class_names=class_names,
        groups=ids,
        max_pixels_per_class=300,
        random_state=0,
    )
    model = ht.train(cubes, maps, **options)
    out, err = capsys.readouterr()
    tuning, calibration = model.training["tuning"], model.training["calibration"]
    assert len(tuning["grid"]["C"]) == 4
    n_search = 4 * _n_folds(tuning["cv"])
    n_fits = n_search + _n_folds(calibration["cv"]) + 1
    (bar,) = bars
    assert (bar.total, bar.n, bar.unit, bar.desc) == (n_fits, n_fits, "fit", "train")
    assert bar.steps[:n_search] == [1] * n_search  # the search's fits, one by one
    assert out == ""
    assert "train" in err and f"{n_fits}/{n_fits}" in err
    # progress=False: nothing written, and the same model
    quiet = ht.train(cubes, maps, **options, progress=False)
    assert capsys.readouterr() == ("", "")
    assert quiet.training == model.training
    x, _ = valid_labelled(cubes[0], maps[0])
    np.testing.assert_array_equal(quiet.pipeline.predict_proba(x), model.pipeline.predict_proba(x))


def test_progress_without_a_search_counts_the_final_fit(cohort, class_names, bars):
    cubes, maps, _, _ = cohort
    ht.train(cubes, maps, classifier="lda", class_names=class_names, random_state=0)
    (bar,) = bars
    assert (bar.total, bar.n, bar.steps) == (1, 1, [1])


def test_the_scorer_sent_to_a_worker_process_counts_nothing():
    scorer = _CountingScorer(progress_bar(3, desc="t", unit="fit", enabled=False))
    copy = pickle.loads(pickle.dumps(scorer))
    assert copy.bar is None and scorer.bar is not None
    x = np.array([[0.0], [1.0], [0.0], [1.0]])
    y = np.array([1, 2, 1, 2])
    model = LogisticRegression().fit(x, y)
    assert copy(model, x, y) == scorer(model, x, y) == 1.0  # balanced accuracy


def test_specimens_class_names_are_used_when_none_are_passed(cohort, class_names):
    """Issue 17: Specimens know what their label ids mean; train uses that unless told."""
    cubes, maps, ids, _ = cohort
    named = [
        ht.Specimen(c, m, p, class_names=class_names)
        for c, m, p in zip(cubes, maps, ids, strict=True)
    ]
    model = ht.train(named, classifier="lda", random_state=0)
    assert model.class_names == {1: "normal", 2: "tumor"} and model.tumor_class == 2
    given = ht.train(named, classifier="lda", random_state=0, class_names={1: "a", 2: "b"})
    assert given.class_names == {1: "a", 2: "b"}  # what is passed wins
    partly = [ht.Specimen(cubes[0], maps[0], "P0", class_names={2: "tumor"}), *named[1:2]]
    partly[1] = ht.Specimen(cubes[1], maps[1], "P1")  # no names at all
    assert ht.train(partly, classifier="lda", random_state=0).class_names == {1: "1", 2: "tumor"}
    unnamed = [ht.Specimen(c, m, p) for c, m, p in zip(cubes, maps, ids, strict=True)]
    assert ht.train(unnamed, classifier="lda", random_state=0).class_names == {1: "1", 2: "2"}
    clash = [named[0], ht.Specimen(cubes[1], maps[1], "P1", class_names={2: "normal"})]
    with pytest.raises(ht.TrainingDataError, match="name class 2 'tumor' and 'normal'"):
        ht.train(clash, classifier="lda")
    with pytest.raises(ht.InvalidTypeError, match="class_names"):
        ht.Specimen(cubes[0], maps[0], "P0", class_names=["normal", "tumor"])


class _RecordsBlasThreads(TransformerMixin, BaseEstimator):
    """An identity step that records how many threads BLAS may use while it is fitted."""

    seen: list[int] = []

    def fit(self, X, y=None):
        from threadpoolctl import threadpool_info

        blas = [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"]
        type(self).seen.extend(blas)
        return self

    def transform(self, X):
        return X


def test_fits_run_with_one_blas_thread(cohort, class_names):
    """Idle BLAS threads spinning between the search's small fits took 2-5x the CPU time."""
    from threadpoolctl import threadpool_info

    if not any(i["user_api"] == "blas" for i in threadpool_info()):
        pytest.skip("no BLAS library reported by threadpoolctl")
    cubes, maps, ids, _ = cohort
    _RecordsBlasThreads.seen = []
    ht.train(
        cubes,
        maps,
        groups=ids,
        classifier="logistic",  # tuned: a grid search, then the final fit
        preprocessing=[_RecordsBlasThreads()],
        class_names=class_names,
        random_state=0,
    )
    assert len(_RecordsBlasThreads.seen) > 3 and set(_RecordsBlasThreads.seen) == {1}


# -- options checked before any data is read (issue 17: tracebacks from PCA and SVC) ----------
@pytest.mark.parametrize(
    ("options", "field", "match"),
    [
        ({"preprocessing": ["snv", ("pca", {"n_comps": 10})]}, "preprocessing", "n_comps"),
        ({"preprocessing": [("pca", {"n_components": "abc"})]}, "preprocessing", "n_components"),
        ({"classifier_params": {"C": "abc"}}, "classifier_params", "'C' parameter of SVC"),
        ({"classifier": "lda", "classifier_params": {"C": 1.0}}, "classifier_params", "'C'"),
        ({"classifier": "svn"}, "classifier", "svn"),
    ],
)
def test_bad_options_fail_before_any_pixel_is_read(cohort, monkeypatch, options, field, match):
    from hsi_tumor.models import _train

    def never(*args, **kwargs):
        raise AssertionError("training pixels were read before the options were checked")

    monkeypatch.setattr(_train, "_training_set", never)
    cubes, maps, _, _ = cohort
    with pytest.raises(ht.InvalidOptionError, match=match) as info:
        ht.train(cubes[:1], maps[:1], **options)
    assert info.value.field == field and info.value.fix
    with pytest.raises(ht.InvalidOptionError, match=match):
        _train.build_pipeline(
            options.get("classifier", "svm"),
            options.get("classifier_params"),
            options.get("preprocessing"),
        )


def test_a_rejected_value_is_also_scikit_learns_error():
    from sklearn.utils._param_validation import InvalidParameterError

    from hsi_tumor.models._train import build_pipeline

    with pytest.raises(InvalidParameterError) as info:
        build_pipeline("logistic", {"C": -1.0})
    assert isinstance(info.value, ht.InvalidParameterError)
    pipeline, recipe, name, described = build_pipeline(
        "svm", {"C": 10.0}, ["snv", ("pca", {"n_components": 5})]
    )
    assert [s for s, _ in pipeline.steps] == ["snv", "pca", "scale", "classifier"]
    assert pipeline.named_steps["pca"].n_components == 5 and name == "svm"
    assert described == ["snv", "pca(n_components=5)"] and recipe.calibrate


def test_the_training_value_range_is_recorded(cohort):
    from hsi_tumor.models._train import input_range

    cubes, maps, _, _ = cohort
    model = ht.train(cubes, maps, classifier="lda", random_state=0)
    lo, hi = model.training["input_range"]
    x, _ = valid_labelled(cubes[0], maps[0])
    assert 0 < lo < np.median(x) < hi < 2  # calibrated reflectance
    values = np.random.default_rng(0).normal(size=(500, 7))
    values[0, 0] = np.nan
    expected = np.percentile(values[np.isfinite(values)], [0.1, 99.9])
    np.testing.assert_allclose(input_range(values), expected)
    assert input_range(np.full((3, 2), np.nan)) == []


def test_the_class_spectra_are_the_training_pixels_mean_and_sd(tmp_path):
    rng = np.random.default_rng(3)
    data = rng.random((6, 5, 4)) + 0.1
    labels = np.zeros((6, 5), dtype=np.uint8)
    labels[:3, :2] = 1
    labels[4:, 3:] = 2
    cube = ht.Cube(data, [900, 1000, 1100, 1200])
    model = ht.train(
        cube, labels, classifier="lda", class_names={1: "normal", 2: "tumor"}, random_state=0
    )
    spectra = model.training["class_spectra"]
    assert list(spectra) == ["normal", "tumor"]
    for cid, name in ((1, "normal"), (2, "tumor")):
        pixels = data[labels == cid]  # every labelled pixel: fewer than the default budget
        assert spectra[name]["n"] == len(pixels)
        np.testing.assert_allclose(spectra[name]["mean"], pixels.mean(axis=0), rtol=1e-12)
        np.testing.assert_allclose(spectra[name]["sd"], pixels.std(axis=0, ddof=1), rtol=1e-12)
    path = ht.save_model(model, tmp_path / "m.htmodel")
    assert ht.load_model(path).training["class_spectra"] == spectra
