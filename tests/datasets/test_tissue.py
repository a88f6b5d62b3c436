"""The tissues of a simulated patient and their optics (issue 16)."""

from __future__ import annotations

import numpy as np
import pytest

from hsi_tumor.datasets import TISSUES, TissueComposition, absorption, draw_patient
from hsi_tumor.datasets._chromophores import CHROMOPHORES, chromophore_absorption
from hsi_tumor.datasets._optics import reduced_scattering
from hsi_tumor.datasets._parameters import parameter
from hsi_tumor.datasets._tissue import complete, tissue_optics


def test_draw_patient_is_reproducible_and_has_the_four_tissues():
    a = draw_patient(np.random.default_rng(4))
    b = draw_patient(np.random.default_rng(4))
    assert a == b and tuple(a) == TISSUES


def test_population_means_and_spreads_are_the_parameter_table():
    """Over many patients the mean of every value is its table mean and the SD its patient SD
    (the water offset shared by a patient's tissues adds 0.015 in quadrature)."""
    rng = np.random.default_rng(0)
    draws = [draw_patient(rng) for _ in range(3000)]
    for tissue in ("mucosa", "wall", "tumor"):
        for name in ("lipid", "collagen", "scattering_a", "scattering_b"):
            values = np.array([getattr(d[tissue], name) for d in draws])
            p = parameter(f"{tissue}.{name}")
            assert values.mean() == pytest.approx(p.value, abs=3 * p.patient_sd / 50 + 1e-3)
            assert values.std() == pytest.approx(p.patient_sd, rel=0.15)
        water = np.array([d[tissue].water for d in draws])
        p = parameter(f"{tissue}.water")
        assert water.std() == pytest.approx(np.hypot(p.patient_sd, 0.015), rel=0.1)
    # the shared offset correlates a patient's tissues
    mucosa = np.array([d["mucosa"].water for d in draws])
    tumor = np.array([d["tumor"].water for d in draws])
    assert np.corrcoef(mucosa, tumor)[0, 1] > 0.2


def test_fractions_stay_physical():
    rng = np.random.default_rng(1)
    for _ in range(500):
        for c in draw_patient(rng).values():
            parts = (c.water, c.lipid, c.collagen, c.blood)
            assert min(parts) >= 0 and sum(parts) <= 0.97 + 1e-12
            assert 0 <= c.saturation <= 1


def test_one_normal_tissue_everywhere():
    normal = TissueComposition(0.7, 0.1, 0.1, 2.0, 1.3)
    tumor = TissueComposition(0.8, 0.0, 0.05, 1.5, 1.2)
    tissues = complete({"normal": normal, "tumor": tumor})
    assert tissues == {"mucosa": normal, "wall": normal, "fat": normal, "tumor": tumor}


def test_tissue_optics_without_texture_is_the_closed_form():
    wl = np.array([920.0, 1200.0, 1450.0])
    comp = TissueComposition(0.7, 0.05, 0.1, 1.9, 1.1, blood=0.03, saturation=0.6)
    zero = {k: np.zeros(4) for k in ("water", "collagen", "scattering", "blood")}
    mu = {n: chromophore_absorption(n, wl) for n in CHROMOPHORES}
    mua, musp = tissue_optics(comp, zero, wl, mu)
    # with no texture the log-normal blood field has mean 1: exp(-sd²/2) at the field's 0
    sd = parameter("texture.blood").value
    expected = absorption(
        wl,
        water=0.7,
        lipid=0.05,
        collagen=0.1,
        blood=0.03 * np.exp(-0.5 * sd**2),
        saturation=0.6,
    )
    np.testing.assert_allclose(mua, np.broadcast_to(expected, (4, 3)), rtol=1e-6)
    np.testing.assert_allclose(musp[0], reduced_scattering(wl, 1.9, 1.1), rtol=1e-6)


def test_added_blood_mixes_saturation_by_volume():
    wl = np.array([950.0])
    comp = TissueComposition(0.0, 0.0, 0.0, 1.0, 1.0, blood=0.0, saturation=0.9)
    zero = {k: np.zeros(1) for k in ("water", "collagen", "scattering", "blood")}
    mu = {n: chromophore_absorption(n, wl) for n in CHROMOPHORES}
    mua, _ = tissue_optics(comp, zero, wl, mu, extra_blood=0.1, extra_saturation=0.2)
    water = 0.02  # tissue_optics clips water at 0.02
    expected = absorption(wl, water=water, lipid=0, collagen=0, blood=0.1, saturation=0.2)
    np.testing.assert_allclose(mua[0], expected, rtol=1e-6)
