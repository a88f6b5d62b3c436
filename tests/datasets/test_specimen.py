"""Specimen and as_specimens: the forms a dataset can take."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import hsi_tumor as ht
from hsi_tumor._shared.errors import InvalidOptionError, TrainingDataError
from hsi_tumor.datasets import Specimen, as_specimens


@pytest.fixture(scope="module")
def cohort():
    return ht.simulate_cohort(2, seed=0, shape=(24, 30), n_bands=16)


def test_simulated_specimens_are_calibrated_and_annotated(cohort):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ht.CalibrationWarning)
        specimens = as_specimens(cohort)
        expected = cohort[1].calibrate().load().data
    assert [s.patient for s in specimens] == cohort.patient_ids
    np.testing.assert_array_equal(specimens[1].labels, cohort[1].labels)
    np.testing.assert_array_equal(specimens[1].cube.load().data, expected)
    np.testing.assert_array_equal(specimens[1].tissue, cohort[1].true_labels > 0)
    assert specimens[0].tumor_fraction is not None and "tumor fraction known" in repr(specimens[0])


def test_cubes_with_label_maps_and_groups(tmp_path):
    cube = ht.Cube(np.ones((3, 4, 2)), [1000, 1100])
    ht.write_cube(cube, tmp_path / "a.h5")
    labels = np.ones((3, 4), int)
    out = as_specimens([cube, tmp_path / "a.h5"], [labels, labels], groups=["p", "p"])
    assert [s.patient for s in out] == ["p", "p"] and out[1].name == "a.h5"
    assert [s.patient for s in as_specimens([cube], [labels])] == ["0"]


def test_bad_forms():
    cube = ht.Cube(np.ones((3, 4, 2)), [1000, 1100])
    with pytest.raises(TrainingDataError, match="labels has shape"):
        Specimen(cube, np.ones((4, 3)), "p")
    with pytest.raises(InvalidOptionError, match="label_maps"):
        as_specimens([cube])
    with pytest.raises(TrainingDataError, match="2 label maps for 1 cubes"):
        as_specimens([cube], [np.ones((3, 4))] * 2)
    with pytest.raises(TrainingDataError, match="patient ids"):
        as_specimens([cube], [np.ones((3, 4))], groups=["a", "b"])
    with pytest.raises(InvalidOptionError, match="groups"):
        as_specimens([Specimen(cube, np.ones((3, 4)), "p")], groups=["p"])
    with pytest.raises(TrainingDataError, match="no specimens"):
        as_specimens([])


def test_html_display_escapes_the_names():
    from tests._shared.test_display import check_html

    cube = ht.Cube(np.ones((3, 4, 5), np.float32), np.linspace(1000, 1400, 5))
    labels = np.array([[0, 1, 1, 2], [0, 0, 2, 2], [1, 0, 0, 0]])
    spec = Specimen(cube, labels, "<script>x</script>", name="S<1>")
    page = spec._repr_html_()
    check_html(page)
    assert "&lt;script&gt;x&lt;/script&gt;" in page and "S&lt;1&gt;" in page
    assert "3 rows x 4 cols, 5 bands, 1000–1400 nm" in page
    assert "6 (class 1: 3, class 2: 3)" in page
    assert "not known" in page


def test_html_display_of_a_simulated_specimen_says_so(cohort):
    page = cohort[0]._repr_html_()
    assert "hsi_tumor.SimulatedSpecimen" in page and "SIMULATED" in page
    plain = Specimen(cohort[0].cube, cohort[0].labels, "P01")
    assert "SIMULATED" in plain._repr_html_()  # its cube's header says simulated


def test_simulated_specimens_carry_their_class_names(cohort):
    """Issue 17: the simulator's class names travel with its specimens."""
    assert cohort[0].class_names == {1: "normal", 2: "tumor"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ht.CalibrationWarning)
        specimens = as_specimens(cohort)
    assert all(s.class_names == {1: "normal", 2: "tumor"} for s in specimens)
    # each specimen has its own dict: changing one changes neither the others nor CLASS_NAMES
    assert cohort[0].class_names is not cohort[1].class_names
    assert cohort[0].class_names is not ht.datasets.CLASS_NAMES
