"""Real reference data for the preprocessing tests (read-only, from ../shared/data).

Each fixture skips the tests that use it when its file is absent (``shared_data_path``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.conftest import shared_data_path


@pytest.fixture(scope="session")
def coffee_dir() -> Path:
    """chemotools' test spectrum, its SNV / Savitzky–Golay / MSC outputs, and 60 coffee spectra."""
    return shared_data_path("chemotools-coffee-and-references")


@pytest.fixture(scope="session")
def coffee_spectrum(coffee_dir: Path) -> np.ndarray:
    """chemotools' single test spectrum, shape (339,)."""
    return np.loadtxt(coffee_dir / "spectrum.csv")


@pytest.fixture(scope="session")
def coffee_spectra(coffee_dir: Path) -> np.ndarray:
    """60 real ATR-FTIR coffee spectra, shape (60, 1841)."""
    return np.loadtxt(coffee_dir / "coffee_spectra.csv", delimiter=",", skiprows=1)


@pytest.fixture(scope="session")
def gasoline() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Kalivas' gasoline NIR set: spectra (60, 401), octane (60,), wavelengths in nm (401,)."""
    path = shared_data_path("nir-pls-r", "gasoline.csv")
    with path.open() as f:
        header = f.readline().strip().split(",")
    table = np.loadtxt(path, delimiter=",", skiprows=1)
    assert header[0] == "octane"
    wavelengths = np.array([float(name.removesuffix("nm")) for name in header[1:]])
    return table[:, 1:], table[:, 0], wavelengths


@pytest.fixture(scope="session")
def indian_pines_bands() -> np.ndarray:
    """Band table of the 200-band Indian Pines cube (structured array; column center_nm)."""
    path = shared_data_path("indian-pines", "Indian_pines_corrected_bands.csv")
    return np.genfromtxt(path, delimiter=",", names=True)


@pytest.fixture(params=["numba", "numpy"])
def kernel_path(request, monkeypatch) -> str:
    """Run the test on both paths of ``_compiled``: the numba kernels and the numpy fallback.

    The numba path is skipped (with the reason) where the kernels cannot be used.
    """
    from hsi_tumor.preprocessing import _compiled

    if request.param == "numpy":
        monkeypatch.setattr(_compiled, "USE_NUMBA", False)
        assert not _compiled.compiled()
    elif not _compiled.compiled():
        pytest.skip("numba kernels unavailable (numba not importable or no cache location)")
    return request.param
