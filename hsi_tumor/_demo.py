"""The `make demo` job: write a capture folder, read it back lazily, summarise it, save a picture.

The data is generated here (a stand-in specimen: tissue with water and lipid absorption on a
dark background, recorded by a pushbroom camera with white and dark references) until the
physical tissue simulator replaces it. Everything the demo writes goes under ``out_dir``.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from hsi_tumor.cube import Cube
from hsi_tumor.io import read_capture, write_capture
from hsi_tumor.viz import pseudo_rgb, save_rgb_png

logger = logging.getLogger("hsi_tumor.demo")

__all__ = ["run_demo"]


def _gaussian(wl: np.ndarray, centre: float, width: float) -> np.ndarray:
    return np.exp(-0.5 * ((wl - centre) / width) ** 2)


def _generated_capture(seed: int, shape=(96, 128), n_bands: int = 100):
    """Raw counts, white and dark frames of a generated specimen (uint16, 12-bit)."""
    rng = np.random.default_rng(seed)
    rows, cols = shape
    wl = np.linspace(900.0, 1700.0, n_bands)
    water = _gaussian(wl, 970, 20) * 0.2 + _gaussian(wl, 1190, 35) * 0.4 + _gaussian(wl, 1450, 60)
    lipid = _gaussian(wl, 1210, 15) + _gaussian(wl, 1390, 20) * 0.6
    y, x = np.mgrid[0:rows, 0:cols]
    tissue = ((y - rows / 2) / (rows * 0.4)) ** 2 + ((x - cols / 2) / (cols * 0.42)) ** 2 < 1
    lump = ((y - rows * 0.45) / (rows * 0.15)) ** 2 + ((x - cols * 0.6) / (cols * 0.12)) ** 2 < 1
    water_fraction = np.where(lump, 0.8, 0.65) + rng.normal(0, 0.02, shape)
    lipid_fraction = np.where(lump, 0.05, 0.2) + rng.normal(0, 0.02, shape)
    absorbance = water_fraction[..., None] * water + lipid_fraction[..., None] * lipid * 0.5
    reflectance = np.where(tissue[..., None], 0.6 * 10 ** (-absorbance), 0.05)
    illumination = 0.6 + 0.4 * _gaussian(wl, 1250, 400)
    gain = rng.normal(1.0, 0.01, (cols, 1)) * 3200 * illumination
    dark_level = 100 + rng.normal(0, 2, (cols, n_bands))
    counts = dark_level + gain * reflectance
    raw = rng.poisson(np.clip(counts, 0, None)).clip(0, 4095).astype(np.uint16)
    white = rng.poisson(np.broadcast_to(dark_level + gain, (8, cols, n_bands))).astype(np.uint16)
    dark = rng.poisson(np.broadcast_to(dark_level, (8, cols, n_bands))).astype(np.uint16)
    meta = {"description": "generated demo specimen (not real data)"}
    return (Cube(raw, wl, meta), Cube(white.clip(0, 4095), wl), Cube(dark, wl))


def run_demo(out_dir: str | Path = "out", *, seed: int = 0) -> dict[str, Path]:
    """Run the demo; returns the paths it wrote.

    Parameters
    ----------
    out_dir : path-like, default='out'
    seed : int, default=0

    Returns
    -------
    dict
        ``capture`` (the Specim-style folder) and ``rgb`` (the pseudo-RGB PNG).
    """
    out = Path(out_dir)
    raw, white, dark = _generated_capture(seed)
    folder = write_capture(out / "demo_specimen", raw, white, dark, overwrite=True)
    logger.info("wrote a generated capture folder: %s", folder)
    capture = read_capture(folder)
    png = save_rgb_png(pseudo_rgb(capture.raw), out / "demo_specimen_rgb.png")
    logger.info("wrote %s", png)
    return {"capture": folder, "rgb": png, "summary": capture}
