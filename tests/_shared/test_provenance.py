"""is_simulated: the simulator's cubes, and what is read back from their files, are simulated."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import hsi_tumor as ht
from hsi_tumor._shared.provenance import is_simulated
from hsi_tumor.datasets import Specimen


@pytest.fixture(scope="module")
def specimen():
    return ht.simulate_specimen(seed=0, shape=(20, 24), n_bands=12)


def test_simulated_cubes_and_specimens(specimen):
    assert is_simulated(specimen)  # the class says so
    assert is_simulated(specimen.cube) and is_simulated(specimen.raw)
    plain = Specimen(specimen.cube, specimen.labels, specimen.patient)
    assert is_simulated(plain)  # through its cube's metadata
    assert is_simulated([ht.Cube(np.zeros((2, 2, 2)), [1000, 1100]), specimen.cube])


def test_cube_read_back_from_a_simulated_capture_is_simulated(specimen, tmp_path):
    folder = specimen.write_capture(tmp_path / "P01-1")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ht.CalibrationWarning)
        cube = ht.calibrate_capture(folder)
    assert "simulated" not in cube.metadata  # the flag is not in the file ...
    assert is_simulated(cube)  # ... its description is


@pytest.mark.parametrize(
    ("metadata", "expected"),
    [
        ({}, False),
        ({"simulated": True}, True),
        ({"simulated": "true"}, True),
        ({"simulated": "False"}, False),
        ({"simulated": 0}, False),
        ({"description": "gastric GIST, patient 7, Specim FX17"}, False),
        ({"description": "true reflectance (simulated)"}, True),
        ({"description": "dissimulated"}, False),
    ],
)
def test_metadata(metadata, expected):
    assert is_simulated(metadata) is expected
    assert is_simulated(ht.Cube(np.zeros((2, 2, 2)), [1000, 1100], metadata)) is expected


def test_nothing_is_not_simulated():
    assert not is_simulated()
    assert not is_simulated(None, "SIMULATED", np.zeros(3))
