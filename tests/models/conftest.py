"""Small simulated cohorts, made once per module (deterministic seeds)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import hsi_tumor as ht
from hsi_tumor.datasets import CLASS_NAMES


def small_cohort(n: int = 3, shape=(40, 48), n_bands: int = 40, seed: int = 0):
    """(cubes, label maps, patient ids, truth maps) of ``n`` small simulated specimens."""
    cubes, maps, truth, ids = [], [], [], []
    for i in range(n):
        spec = ht.simulate_specimen(seed=seed + i, shape=shape, n_bands=n_bands)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ht.CalibrationWarning)
            cubes.append(spec.calibrate().load())
        maps.append(spec.labels)
        truth.append(spec.true_labels)
        ids.append(f"P{i:02d}")
    return cubes, maps, ids, truth


@pytest.fixture(scope="package")
def cohort():
    return small_cohort()


@pytest.fixture(scope="package")
def class_names():
    return dict(CLASS_NAMES)


def valid_labelled(cube: ht.Cube, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Spectra and labels of the finite, labelled pixels."""
    x = cube.pixels()
    y = labels.reshape(-1)
    keep = (y > 0) & np.isfinite(x).all(axis=1)
    return x[keep], y[keep]
