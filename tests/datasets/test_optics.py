"""Closed-form optics: power-law scattering, Farrell diffuse reflectance, penetration depth."""

from __future__ import annotations

import numpy as np
import pytest

from hsi_tumor.datasets import (
    diffuse_reflectance,
    internal_reflection_parameter,
    layered_reflectance,
    penetration_depth,
    reduced_scattering,
)


def farrell(albedo, big_a):
    """Farrell et al. (1992) total diffuse reflectance, written out independently."""
    s = np.sqrt(3 * (1 - albedo))
    return albedo / 2 * (1 + np.exp(-4 / 3 * big_a * s)) * np.exp(-s)


def test_reduced_scattering_power_law():
    musp = reduced_scattering([500, 1000, 2000], a=1.89, b=1.286)
    assert musp[0] == pytest.approx(1.89)
    assert musp[1] / musp[2] == pytest.approx(2**1.286)
    assert reduced_scattering([1000], a=np.ones((2, 3)), b=1.0).shape == (2, 3, 1)


def test_internal_reflection_parameter():
    # Groenhuis et al. 1983: r_id ≈ 0.529 for n = 1.4 → A ≈ 3.25; index-matched → A ≈ 1
    assert internal_reflection_parameter(1.4) == pytest.approx(3.25, abs=0.01)
    assert internal_reflection_parameter(1.0) == pytest.approx(1.0, abs=0.01)


@pytest.mark.parametrize("albedo", [0.0, 0.3, 0.8, 0.95, 0.99, 0.999, 1.0])
def test_diffuse_reflectance_matches_closed_form(albedo):
    musp = 1.0
    mua = musp * (1 - albedo) / albedo if albedo > 0 else np.inf
    if albedo == 0:
        r = diffuse_reflectance(1e12, 1e-12)
    else:
        r = diffuse_reflectance(mua, musp)
    assert r == pytest.approx(farrell(albedo, 3.2507), abs=1e-6)


def test_diffuse_reflectance_known_values():
    # a' = 1 → R = 1; a' → 0 → R → 0; a' = 0.99 (μa = 0.0101, μs' = 1) → 0.4316 for A = 3.25
    assert diffuse_reflectance(0.0, 1.0) == pytest.approx(1.0)
    assert diffuse_reflectance(100.0, 1e-3) < 1e-4
    assert diffuse_reflectance(1 / 99, 1.0) == pytest.approx(
        0.99 / 2 * (1 + np.exp(-4 / 3 * 3.2507 * np.sqrt(0.03))) * np.exp(-np.sqrt(0.03)),
        rel=1e-4,
    )


def test_diffuse_reflectance_monotonic():
    mua = np.logspace(-3, 1, 50)
    r = diffuse_reflectance(mua, 1.0)
    assert np.all(np.diff(r) < 0)  # more absorption, less reflectance
    r_s = diffuse_reflectance(0.05, np.logspace(-1, 1, 50))
    assert np.all(np.diff(r_s) > 0)  # more scattering, more reflectance
    assert np.all((r >= 0) & (r <= 1))


def test_float32_stays_float32():
    r = diffuse_reflectance(np.float32([0.1, 0.2]), np.float32(1.0))
    assert r.dtype == np.float32


def test_penetration_depth():
    assert penetration_depth(0.01, 1.0) == pytest.approx(1 / np.sqrt(3 * 0.01 * 1.01))
    # tissue (75 % water): millimetres at 1100 nm, a fraction of a mm in the 1450 nm band
    assert penetration_depth(0.015, 0.8) > 3.0
    assert penetration_depth(2.3, 0.5) < 0.3


def test_layered_reflectance_limits():
    assert layered_reflectance(0.5, 0.2, 0.0, 1.0) == pytest.approx(0.2)
    assert layered_reflectance(0.5, 0.2, 50.0, 1.0) == pytest.approx(0.5)
    d = np.linspace(0, 5, 20)
    mixed = layered_reflectance(0.5, 0.2, d, 2.0)
    assert np.all(np.diff(mixed) > 0)
    assert mixed[5] == pytest.approx(0.5 - 0.3 * np.exp(-2 * d[5] / 2.0))
