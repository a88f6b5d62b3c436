"""scikit-learn's estimator checks on every transformer of hsi_tumor.preprocessing."""

from __future__ import annotations

import pytest
from sklearn.utils.estimator_checks import parametrize_with_checks

from hsi_tumor.preprocessing import (
    Absorbance,
    AreaNormalization,
    BadBandRemoval,
    MinMaxNormalization,
    MultiplicativeScatterCorrection,
    SavitzkyGolay,
    StandardNormalVariate,
    VectorNormalization,
    WavelengthRange,
)

ESTIMATORS = [
    StandardNormalVariate(),
    MultiplicativeScatterCorrection(),
    MultiplicativeScatterCorrection(reference="median"),
    # Several checks fit on 2-band data, where any Savitzky–Golay window longer than one band
    # is longer than the spectrum and fit raises (documented, tested in test_savitzky_golay.py).
    # The 1-band window (identity filter) passes every check; the 3-band windows run the real
    # filter through every check that has at least 3 bands (see _expected_failed_checks).
    SavitzkyGolay(window_length=1, polyorder=0),
    SavitzkyGolay(window_length=3, polyorder=1),
    SavitzkyGolay(window_length=3, polyorder=2, deriv=1, mode="nearest"),
    Absorbance(),
    WavelengthRange(),
    WavelengthRange(min_nm=1),
    BadBandRemoval(),
    BadBandRemoval(bad_ranges=[(0, 0.5)]),
    AreaNormalization(),
    VectorNormalization(),
    MinMaxNormalization(),
]

# These checks fit on make_blobs data with 2 features (bands). A 3-band window cannot be
# applied to a 2-band spectrum, so fit raises WavelengthError by design; the checks themselves
# pass for the 1-band window above.
_TWO_BAND_CHECKS = (
    "check_estimators_overwrite_params",
    "check_estimators_fit_returns_self",
    "check_readonly_memmap_input",
    "check_fit_idempotent",
    "check_fit_check_is_fitted",
    "check_n_features_in",
)


def _expected_failed_checks(estimator):
    if isinstance(estimator, SavitzkyGolay) and estimator.window_length > 2:
        reason = "the check's data has 2 bands, fewer than window_length (fit raises)"
        return dict.fromkeys(_TWO_BAND_CHECKS, reason)
    return {}


# The checks' data contain zeros and negative values, which Absorbance clips with a warning by
# design (the warning itself is tested in test_absorbance.py).
@pytest.mark.filterwarnings("ignore::hsi_tumor.preprocessing.DegenerateSpectrumWarning")
@parametrize_with_checks(ESTIMATORS, expected_failed_checks=_expected_failed_checks)
def test_sklearn_compatible(estimator, check):
    check(estimator)
