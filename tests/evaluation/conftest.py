"""A small evaluation with tumor-fraction estimates, shared by the evaluate and report tests."""

import warnings

import pytest

import hsi_tumor as ht


@pytest.fixture(scope="module")
def fraction_cohort():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ht.CalibrationWarning)
        return ht.simulate_cohort(3, seed=1, shape=(36, 44), n_bands=40)


@pytest.fixture(scope="module")
def fraction_evaluation(fraction_cohort):
    """Leave-one-patient-out LDA with the unmixing fraction estimator, maps kept."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ht.CalibrationWarning)
        return ht.evaluate(
            fraction_cohort,
            classifier="lda",
            fraction="unmixing",
            keep_maps=True,
            n_bootstrap=200,
            random_state=3,
        )
