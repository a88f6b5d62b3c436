"""Every Examples section in the package runs as a doctest."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import hsi_tumor

MODULES = sorted(m.name for m in pkgutil.walk_packages(hsi_tumor.__path__, prefix="hsi_tumor."))


@pytest.mark.parametrize("module_name", MODULES)
def test_examples(module_name):
    module = importlib.import_module(module_name)
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS)
    if result.attempted == 0:
        pytest.skip(f"{module_name} has no Examples section")
    assert result.failed == 0
