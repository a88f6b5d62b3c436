"""Shared fixtures: where the real data lives, and deterministic random generators."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"


def shared_data_path(*parts: str) -> Path:
    """Return a path under ``../shared/data``, skipping the test when it is absent."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(
            f"real data not available: {path} is absent (the team's shared data folder sits "
            "beside the repository as ../shared/data; it is never copied into the repo)"
        )
    return path


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(20261123)
