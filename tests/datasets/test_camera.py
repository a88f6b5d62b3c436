"""The pushbroom camera model: counts, references, stripes, dead and hot elements."""

from __future__ import annotations

import numpy as np

from hsi_tumor.datasets import Camera
from hsi_tumor.datasets._camera import halogen_spectrum


def test_halogen_peaks_near_wien():
    wl = np.arange(900.0, 2500.0)
    assert abs(wl[np.argmax(halogen_spectrum(wl, 3000.0))] - 2.898e6 / 3000.0) < 2


def test_exposure_statistics():
    cam = Camera(n_dead=0, n_hot=0, line_flicker=0.0)
    rng = np.random.default_rng(0)
    wl = np.linspace(900, 1700, 20)
    sensor = cam.sensor(rng, 30, wl)
    flat = np.full((400, 30, 20), 0.5, dtype=np.float32)
    counts = cam.expose(rng, flat, sensor).astype(float)
    expected = sensor["dark"] + 0.5 * sensor["gain"]
    assert np.allclose(counts.mean(0), expected, rtol=0.01, atol=0.5)
    # shot noise: variance = signal / (e-/DN) + read noise² (+ quantisation 1/12)
    var = 0.5 * sensor["gain"] / cam.electrons_per_dn + cam.read_noise**2 + 1 / 12
    assert np.allclose(counts.var(0).mean(), var.mean(), rtol=0.1)


def test_references_and_defects():
    cam = Camera(n_dead=4, n_hot=3)
    rng = np.random.default_rng(2)
    wl = np.linspace(900, 1700, 32)
    sensor = cam.sensor(rng, 50, wl)
    white, dark = cam.references(rng, sensor, 50, 32)
    assert white.shape == dark.shape == (cam.n_reference_frames, 50, 32)
    assert white.dtype == np.uint16 and white.max() <= cam.saturation
    span = white.mean(0) - dark.mean(0)
    assert np.all(np.abs(span[sensor["dead"]]) < 5)  # dead: no response
    assert np.all(white[:, sensor["hot"]] == cam.saturation)
    good = ~(sensor["dead"] | sensor["hot"])
    peak = white.mean(0)[good].max()
    assert 0.7 * cam.saturation < peak < cam.saturation  # exposure set like an operator would
    assert sensor["dead"].sum() == 4 and sensor["hot"].sum() == 3


def test_camera_table_has_every_field_with_its_default_and_description():
    """docs/simulator.md's camera rows come from the dataclass: no field can go undocumented."""
    from dataclasses import fields

    from hsi_tumor.datasets._camera import camera_table

    rows = [r for r in camera_table().splitlines() if r.startswith("| `") and "field" not in r]
    assert len(rows) == len(fields(Camera))
    assert "| `bit_depth` | 12 | 12 or 16;" in camera_table()
