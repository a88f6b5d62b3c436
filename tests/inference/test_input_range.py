"""check_input_range: a cube in other units than the training cubes (raw counts given to a
reflectance model) is refused before classification; legitimate inputs are not."""

from __future__ import annotations

import numpy as np
import pytest

import hsi_tumor as ht
from hsi_tumor.inference import check_input_range
from hsi_tumor.inference._classify import RANGE_TOLERANCE

pytestmark = pytest.mark.filterwarnings("ignore::hsi_tumor.CalibrationWarning")


@pytest.fixture(scope="module")
def spec():
    return ht.simulate_specimen(seed=3, shape=(30, 36), n_bands=30)


@pytest.fixture(scope="module")
def reflectance(spec):
    return spec.calibrate().load()


@pytest.fixture(scope="module")
def model(spec, reflectance):
    return ht.train(reflectance, spec.labels, classifier="lda", random_state=0)


def _like(cube, data):
    return ht.Cube(data, cube.wavelengths)


def test_raw_counts_given_to_a_reflectance_model_are_refused(spec, model):
    """The original failure: raw uint16 counts classified as 'normal' everywhere, exit 0."""
    assert spec.raw.dtype.kind == "u"
    with pytest.raises(ht.InvalidOptionError, match="raw camera counts") as info:
        ht.classify_cube(spec.raw, model)
    assert info.value.field == "cube"
    assert "calibrate" in info.value.fix and "capture folder" in info.value.fix


def test_the_capture_folder_is_calibrated_and_accepted(spec, model, tmp_path):
    folder = spec.write_capture(tmp_path / "cap", ground_truth=False)
    expected = ht.classify_cube(ht.calibrate_capture(folder), model)
    np.testing.assert_array_equal(ht.classify_cube(folder, model).labels, expected.labels)
    with pytest.raises(ht.InvalidOptionError, match="raw camera counts"):
        ht.classify_cube(folder / "capture" / "cap.hdr", model)  # the raw cube file itself


def test_reflectance_in_percent_is_refused(reflectance, model):
    percent = _like(reflectance, reflectance.data * 100)
    with pytest.raises(ht.InvalidOptionError, match="far outside") as info:
        ht.classify_cube(percent, model)
    assert "percent" in info.value.fix


def test_glare_and_background_do_not_trip_the_check(reflectance, model):
    """A minority of pixels far out (specular glare, here 8 % at reflectance 10) is normal."""
    data = reflectance.data.copy()
    data[:, : int(0.08 * data.shape[1])] = 10.0
    check_input_range(_like(reflectance, data), model)
    data[:] = 0.0  # a black frame is within range
    check_input_range(_like(reflectance, data), model)


def test_other_legitimate_inputs(spec, reflectance):
    """Absorbance models, PCA-score models and models trained on raw counts on purpose take
    their own kind of input."""
    valid = np.isfinite(reflectance.data)
    absorbance = ht.Cube(
        -np.log10(np.clip(reflectance.data, 1e-3, None)), reflectance.wavelengths, valid=valid
    )
    model = ht.train(absorbance, spec.labels, classifier="lda", random_state=0)
    ht.classify_cube(absorbance, model)
    with pytest.raises(ht.InvalidOptionError):
        ht.classify_cube(spec.raw, model)

    raw_model = ht.train(spec.raw, spec.labels, classifier="lda", random_state=0)
    ht.classify_cube(spec.raw, raw_model)

    pixels = np.nan_to_num(reflectance.data.reshape(-1, reflectance.n_bands), nan=0.5)
    centred = pixels - pixels.mean(axis=0)
    scores = (centred @ np.linalg.svd(centred, full_matrices=False)[2][:5].T) * 50
    score_cube = ht.Cube(scores.reshape(*reflectance.shape[:2], 5), None)
    score_model = ht.train(
        score_cube, spec.labels, classifier="lda", preprocessing=(), random_state=0
    )
    ht.classify_cube(score_cube, score_model)


def test_the_range_is_kept_in_model_files_and_old_models_are_not_checked(spec, model, tmp_path):
    lo, hi = model.training["input_range"]
    assert 0 <= lo < hi < 1.5  # reflectance
    loaded = ht.load_model(ht.save_model(model, tmp_path / "m.htmodel"))
    assert loaded.training["input_range"] == [lo, hi]
    with pytest.raises(ht.InvalidOptionError):
        ht.classify_cube(spec.raw, loaded)
    loaded.training.pop("input_range")  # as a model file written before the check
    ht.classify_cube(spec.raw, loaded)
    wrapped = ht.TumorModel.from_pipeline(model.pipeline, wavelengths=model.wavelengths)
    ht.classify_cube(spec.raw, wrapped)


def test_the_rule_at_its_edges(reflectance, model):
    """Refused when the 90th percentile of the sampled values is further than RANGE_TOLERANCE
    widths above the range (the 10th as far below)."""
    lo, hi = model.training["input_range"]
    width = hi - lo
    for k, refused in ((RANGE_TOLERANCE - 0.1, False), (RANGE_TOLERANCE + 0.1, True)):
        for value in (hi + k * width, lo - k * width):
            cube = _like(reflectance, np.full(reflectance.shape, value, np.float32))
            if refused:
                with pytest.raises(ht.InvalidOptionError, match="far outside"):
                    check_input_range(cube, model)
            else:
                check_input_range(cube, model)
    mixed = np.full(reflectance.shape, 0.5, np.float32)
    mixed[:, :2] = 1000.0  # 2 of 36 columns: 6 %
    check_input_range(_like(reflectance, mixed), model)
    mixed[:, :6] = 1000.0  # 17 %
    with pytest.raises(ht.InvalidOptionError):
        check_input_range(_like(reflectance, mixed), model)


def test_memory_mapped_cube_is_sampled(reflectance, model, tmp_path):
    ht.write_cube(_like(reflectance, reflectance.data * 100), tmp_path / "p.hdr")
    with pytest.raises(ht.InvalidOptionError, match="far outside") as info:
        ht.classify_cube(tmp_path / "p.hdr", model)
    assert info.value.file == str(tmp_path / "p.hdr")


def test_a_dask_cube_is_checked_on_its_first_tile(reflectance, model):
    """Sampled rows would compute a dask cube's chunks twice: its first tile is checked."""
    da = pytest.importorskip("dask.array")
    percent = da.from_array(reflectance.data * 100, chunks=(8, -1, -1))
    with pytest.raises(ht.InvalidOptionError, match="far outside"):
        ht.classify_cube(ht.Cube(percent, reflectance.wavelengths), model)
    fine = da.from_array(reflectance.data, chunks=(8, -1, -1))
    ht.classify_cube(ht.Cube(fine, reflectance.wavelengths), model)
