"""classify_to_folder and smooth_tumor_map: the routine of hsi-tumor classify and classify_many."""

from __future__ import annotations

import json

import numpy as np
import pytest

import hsi_tumor as ht
from hsi_tumor.inference import (
    _to_folder,
    check_smoothing,
    classify_to_folder,
    smooth_tumor_map,
)
from hsi_tumor.io import read_labels
from hsi_tumor.spatial import knn_filter, majority_filter, principal_component_guide

pytestmark = pytest.mark.filterwarnings("ignore::hsi_tumor.CalibrationWarning")


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    spec = ht.simulate_specimen(seed=2, shape=(30, 36), n_bands=30)
    cube = spec.calibrate().load()
    model = ht.train(
        cube, spec.labels, classifier="lda", random_state=0, class_names={1: "n", 2: "tumor"}
    )
    path = ht.save_model(model, tmp_path_factory.mktemp("m") / "m.htmodel")
    return cube, model, path


def test_writes_what_classify_cube_gives_and_records_settings(data, tmp_path):
    cube, model, path = data
    result = classify_to_folder(cube, path, tmp_path / "out", mask="tissue")
    expected = ht.classify_cube(cube, model, mask=ht.tissue_mask(cube))
    np.testing.assert_array_equal(result.labels, expected.labels)
    np.testing.assert_array_equal(read_labels(tmp_path / "out" / "labels.hdr"), expected.labels)
    settings = json.loads((tmp_path / "out" / "summary.json").read_text())["settings"]
    assert settings == {
        "cube": None,  # made in memory
        "wavelengths": None,
        "model_file": str(path),
        "mask": "tissue",
        "spatial_filter": None,
        "resample": False,
        "device": "cpu",
        "hsi_tumor_version": ht.__version__,
    }
    with pytest.raises(ht.OutputExistsError):
        classify_to_folder(cube, model, tmp_path / "out")
    classify_to_folder(cube, model, tmp_path / "out", overwrite=True, mask=expected.valid)
    settings = json.loads((tmp_path / "out" / "summary.json").read_text())["settings"]
    assert settings["model_file"] is None and settings["mask"] == "array"


def test_records_the_cube_file_and_further_settings(data, tmp_path):
    """summary.json names what was classified (the file, or the capture's raw cube), the
    wavelength override, the version and the caller's own settings (the command line)."""
    cube, _, path = data
    ht.write_cube(cube, tmp_path / "c.hdr")
    np.savetxt(tmp_path / "bands.csv", cube.wavelengths, header="wavelength_nm", comments="")
    classify_to_folder(
        tmp_path / "c.hdr",
        path,
        tmp_path / "out",
        spatial_filter={"method": "knn", "n_neighbors": 8},
        wavelengths=tmp_path / "bands.csv",
        settings={"command": ["hsi-tumor", "classify"]},
    )
    settings = json.loads((tmp_path / "out" / "summary.json").read_text())["settings"]
    assert settings["cube"] == str(tmp_path / "c.hdr")
    assert settings["wavelengths"] == str(tmp_path / "bands.csv")
    assert settings["spatial_filter"] == {"method": "knn", "n_neighbors": 8, "spatial_weight": 1.0}
    assert settings["command"] == ["hsi-tumor", "classify"]
    assert settings["hsi_tumor_version"] == ht.__version__


def test_knn_filter_is_the_helicoid_chain(data, tmp_path):
    cube, model, _ = data
    raw = ht.classify_cube(cube, model)
    smooth = smooth_tumor_map(raw, cube, n_neighbors=8, spatial_weight=0.5)
    guide = principal_component_guide(cube, mask=raw.valid)
    region = raw.valid & np.isfinite(guide)
    expected = knn_filter(raw.probabilities, guide, n_neighbors=8, spatial_weight=0.5, mask=region)
    np.testing.assert_array_equal(smooth.probabilities, expected)
    ok = smooth.valid
    np.testing.assert_array_equal(smooth.labels[ok], raw.classes[np.argmax(expected[ok], axis=1)])
    written = classify_to_folder(
        cube,
        model,
        tmp_path / "knn",
        spatial_filter={"method": "knn", "n_neighbors": 8, "spatial_weight": 0.5},
    )
    np.testing.assert_array_equal(written.labels, smooth.labels)
    settings = json.loads((tmp_path / "knn" / "summary.json").read_text())["settings"]
    assert settings["spatial_filter"] == {"method": "knn", "n_neighbors": 8, "spatial_weight": 0.5}


def test_majority_filter(data):
    cube, model, _ = data
    raw = ht.classify_cube(cube, model)
    smooth = smooth_tumor_map(raw, cube, method="majority", size=5)
    np.testing.assert_array_equal(
        smooth.labels, majority_filter(raw.labels, size=5, mask=raw.valid)
    )
    assert smooth.probabilities is raw.probabilities


@pytest.mark.parametrize(
    ("spatial_filter", "match"),
    [
        ({"method": "knn", "n_neighbors": 0}, "n_neighbors=0"),
        ({"method": "majority", "size": 4}, "size=4"),
        ({"method": "knn", "size": 3}, "no option size"),
        ("median", "unknown spatial filter 'median'"),
        (3, "spatial_filter is a int"),
    ],
)
def test_options_are_checked_before_any_work(data, tmp_path, monkeypatch, spatial_filter, match):
    cube, model, _ = data
    monkeypatch.setattr(_to_folder, "classify_cube", lambda *a, **k: pytest.fail("classified"))
    with pytest.raises(ht.InvalidOptionError, match=match):
        classify_to_folder(cube, model, tmp_path / "out", spatial_filter=spatial_filter)
    with pytest.raises(ht.InvalidOptionError, match="mask='skin'"):
        classify_to_folder(cube, model, tmp_path / "out", mask="skin")
    assert not (tmp_path / "out").exists()


def test_check_smoothing_fills_the_defaults():
    assert check_smoothing(None) is None
    assert check_smoothing("knn") == {"method": "knn", "n_neighbors": 40, "spatial_weight": 1.0}
    assert check_smoothing({"method": "majority"}) == {"method": "majority", "size": 3}
