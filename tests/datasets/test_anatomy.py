"""The anatomy of a simulated stomach wall (issue 16): fields, ranges and the layered cover."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from scipy import ndimage

from hsi_tumor import CalibrationWarning
from hsi_tumor.datasets import draw_patient, simulate_specimen
from hsi_tumor.datasets._anatomy import draw_anatomy
from hsi_tumor.datasets._geometry import draw_specimen
from hsi_tumor.datasets._parameters import parameter

PIXEL = 0.25  # mm


@pytest.fixture(scope="module")
def anatomy():
    rng = np.random.default_rng(0)
    fraction, _ = draw_specimen(rng, (160, 200))
    return fraction >= 0.5, draw_anatomy(rng, fraction, PIXEL, mucosa_thickness=1.3)


def test_fields_have_physical_ranges(anatomy):
    specimen, a = anatomy
    assert a.mucosa[specimen].min() > 0
    assert np.median(a.mucosa[specimen]) == pytest.approx(1.3, rel=0.3)
    for share in (a.lobules, a.surface_fat):
        assert share.min() >= 0 and share.max() <= 1
    assert a.blood.min() >= 0 and (a.bruise <= a.blood + 1e-12).all()
    assert (a.height >= 0).all() and a.height.max() <= parameter("folds.height").value[1]
    assert 0.6 < a.shading[specimen].min() and a.shading[specimen].max() < 1.1


def test_serosal_fat_lies_on_the_margin_only(anatomy):
    specimen, a = anatomy
    inside = ndimage.distance_transform_edt(specimen) * PIXEL
    margin = parameter("serosal_fat.margin").value
    assert (a.surface_fat[specimen & (inside >= margin)] == 0).all()


def test_folds_shade_where_they_tilt(anatomy):
    specimen, a = anatomy
    gy, gx = np.gradient(a.height, PIXEL)
    tilt = np.hypot(gx, gy)
    deep = specimen & (ndimage.distance_transform_edt(specimen) * PIXEL > 6)
    steep, flat = deep & (tilt > np.quantile(tilt[deep], 0.9)), deep & (tilt < 0.05)
    assert a.shading[steep].mean() < a.shading[flat].mean()


def test_glare_sits_on_fold_crests(anatomy):
    specimen, a = anatomy
    peaks = a.glare > 0.5 * a.glare.max()
    assert peaks.any()
    assert a.height[peaks].mean() > np.quantile(a.height[specimen], 0.6)


def _reflectance(**options):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CalibrationWarning)
        return simulate_specimen(
            seed=21, shape=(64, 80), n_bands=24, n_tumors=1, lateral_spread=0.0, **options
        )


def test_a_tumor_under_deep_cover_is_the_normal_wall_and_an_exposed_one_is_itself():
    tissues = draw_patient(np.random.default_rng(5))
    as_wall = {**tissues, "tumor": tissues["wall"]}
    deep = _reflectance(composition=tissues, mucosa_thickness=60.0)
    none = _reflectance(composition=as_wall, mucosa_thickness=60.0)
    core = ndimage.binary_erosion(deep.tumor_fraction > 0.99, iterations=2)
    assert core.sum() > 10
    np.testing.assert_allclose(
        deep.reflectance.data[core], none.reflectance.data[core], rtol=1e-3, atol=1e-4
    )
    exposed = _reflectance(composition=tissues, mucosa_thickness=0.0)
    thin = _reflectance(composition=tissues, mucosa_thickness=0.5)
    contrast = {
        name: np.abs(spec.reflectance.data[core] - none.reflectance.data[core]).mean()
        for name, spec in (("exposed", exposed), ("thin", thin), ("deep", deep))
    }
    assert contrast["exposed"] > contrast["thin"] > contrast["deep"]
