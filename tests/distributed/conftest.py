"""Fixtures of the batch tests: one small model and a few calibrated cubes written as ENVI,
shared by the Dask and the in-process batch tests (made once per session)."""

from __future__ import annotations

import warnings

import pytest

import hsi_tumor as ht

N_CUBES = 4


@pytest.fixture(scope="session")
def model():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ht.CalibrationWarning)
        spec = ht.simulate_specimen(seed=0, shape=(40, 48), n_bands=40)
        cube = spec.calibrate().load()
    return ht.train(
        cube,
        spec.labels,
        classifier="lda",
        random_state=0,
        class_names={1: "normal", 2: "tumor"},
    )


@pytest.fixture(scope="session")
def cubes(tmp_path_factory):
    """{name: ENVI path} of small calibrated specimens."""
    folder = tmp_path_factory.mktemp("cubes")
    paths = {}
    for i in range(N_CUBES):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ht.CalibrationWarning)
            cube = ht.simulate_specimen(seed=i + 1, shape=(40, 48), n_bands=40).calibrate().load()
        paths[f"specimen_{i}"] = folder / f"specimen_{i}.hdr"
        ht.write_cube(cube, paths[f"specimen_{i}"])
    return paths
