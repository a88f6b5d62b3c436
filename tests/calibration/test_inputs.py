"""as_cube, the one input policy: a capture folder means reflectance everywhere."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import hsi_tumor as ht
from hsi_tumor.calibration import as_cube, calibrate_capture, is_capture

CLASS_NAMES = {1: "normal", 2: "tumor"}


@pytest.fixture(scope="module")
def specimen():
    return ht.simulate_specimen(seed=3, shape=(32, 40), n_bands=20)


@pytest.fixture(scope="module")
def folder(specimen, tmp_path_factory):
    return specimen.write_capture(tmp_path_factory.mktemp("capture") / "spec", ground_truth=False)


def _quiet(function, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ht.CalibrationWarning)
        return function(*args, **kwargs)


def test_a_cube_is_used_as_it_is():
    cube = ht.Cube(np.ones((2, 3, 4), np.float32), [900, 1000, 1100, 1200])
    assert as_cube(cube) is cube
    with pytest.raises(ht.InvalidOptionError, match="files only"):
        as_cube(cube, wavelengths=[1, 2, 3, 4])


def test_a_capture_folder_is_calibrated(folder):
    assert is_capture(folder) and is_capture(str(folder))
    got = _quiet(lambda: as_cube(folder).load())
    expected = _quiet(lambda: calibrate_capture(folder).load())
    assert got.dtype == np.float32  # reflectance, not the uint16 counts read_cube gives
    np.testing.assert_array_equal(got.data, expected.data)
    np.testing.assert_array_equal(got.wavelengths, expected.wavelengths)
    assert ht.read_cube(folder).dtype != np.float32  # what the folder meant before


def test_a_capture_object_and_calibration_options(folder):
    capture = ht.read_capture(folder)
    assert is_capture(capture)
    got = _quiet(lambda: as_cube(capture, white_reflectance=0.5).load())
    expected = _quiet(lambda: calibrate_capture(folder, white_reflectance=0.5).load())
    np.testing.assert_array_equal(got.data, expected.data)


def test_another_path_is_read(tmp_path):
    cube = ht.Cube(np.arange(24, dtype=np.float32).reshape(2, 3, 4), [900, 1000, 1100, 1200])
    path = tmp_path / "tiny.hdr"
    ht.write_cube(cube, path)
    assert not is_capture(path)
    np.testing.assert_array_equal(as_cube(path).load().data, cube.data)
    with pytest.raises(ht.InvalidOptionError, match="not a Specim capture folder"):
        as_cube(path, saturation=4095)


def test_other_things_are_refused():
    with pytest.raises(ht.InvalidOptionError, match="cubes\\[2\\] is a ndarray") as info:
        as_cube(np.ones((2, 3, 4)), field="cubes[2]")
    assert info.value.field == "cubes[2]"
    with pytest.raises(ht.MissingFileError):
        as_cube("no/such/cube.hdr")


def test_classify_cube_calibrates_a_capture_folder(specimen, folder):
    reflectance = _quiet(lambda: calibrate_capture(folder).load())
    model = ht.train(
        reflectance, specimen.labels, classifier="lda", class_names=CLASS_NAMES, random_state=0
    )
    from_folder = _quiet(ht.classify_cube, folder, model)
    from_cube = _quiet(ht.classify_cube, calibrate_capture(folder), model)
    np.testing.assert_array_equal(from_folder.labels, from_cube.labels)
    np.testing.assert_array_equal(from_folder.probabilities, from_cube.probabilities)


def test_train_calibrates_a_capture_folder(specimen, folder):
    options = {"classifier": "lda", "class_names": CLASS_NAMES, "random_state": 0}
    from_folder = _quiet(ht.train, folder, specimen.labels, **options)
    from_cube = _quiet(ht.train, calibrate_capture(folder), specimen.labels, **options)
    reflectance = _quiet(lambda: calibrate_capture(folder).load())
    x = reflectance.pixels()
    x = x[np.isfinite(x).all(axis=1)]
    np.testing.assert_array_equal(from_folder.pipeline.predict(x), from_cube.pipeline.predict(x))
    np.testing.assert_array_equal(
        from_folder.pipeline.predict_proba(x), from_cube.pipeline.predict_proba(x)
    )
    assert from_folder.training == from_cube.training
