"""The Examples sections of hsi_tumor.preprocessing run as doctests."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "hsi_tumor.preprocessing._absorbance",
    "hsi_tumor.preprocessing._multiplicative_scatter_correction",
    "hsi_tumor.preprocessing._normalization",
    "hsi_tumor.preprocessing._savitzky_golay",
    "hsi_tumor.preprocessing._standard_normal_variate",
    "hsi_tumor.preprocessing._wavelength_selection",
]


@pytest.mark.parametrize("module_name", MODULES)
def test_examples(module_name):
    module = importlib.import_module(module_name)
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0, f"{module_name} has no examples"
    assert result.failed == 0
