"""The `make demo` job: simulate a specimen, write its capture folder, read it back lazily,
calibrate it, find the tissue and save pictures.

The data is SIMULATED by :func:`hsi_tumor.datasets.simulate_specimen` (a physical model, not a
measurement). Everything the demo writes goes under ``out_dir``.
"""

from __future__ import annotations

import logging
from pathlib import Path

from hsi_tumor.calibration import calibrate_capture, tissue_mask
from hsi_tumor.datasets import simulate_specimen
from hsi_tumor.io import read_capture
from hsi_tumor.viz import pseudo_rgb, save_rgb_png

logger = logging.getLogger("hsi_tumor.demo")

__all__ = ["run_demo"]


def run_demo(out_dir: str | Path = "out", *, seed: int = 0) -> dict:
    """Run the demo; returns what it wrote and read.

    Parameters
    ----------
    out_dir : path-like, default='out'
    seed : int, default=0
        Seed of the simulated specimen.

    Returns
    -------
    dict
        ``capture`` (the Specim-style folder), ``rgb`` (pseudo-RGB PNG of the reflectance),
        ``summary`` (the :class:`~hsi_tumor.io.Capture` read back), ``reflectance`` (the lazily
        calibrated cube), ``tissue`` (the tissue mask) and ``specimen`` (the simulation, with
        its ground truth).
    """
    out = Path(out_dir)
    specimen = simulate_specimen(seed=seed, shape=(128, 160), n_bands=100)
    folder = specimen.write_capture(out / "demo_specimen", overwrite=True)
    logger.info("wrote a simulated capture folder: %s", folder)
    capture = read_capture(folder)
    reflectance = calibrate_capture(
        capture, saturation=specimen.saturation, white_reflectance=specimen.camera.white_reflectance
    )
    tissue = tissue_mask(reflectance)
    png = save_rgb_png(pseudo_rgb(reflectance), out / "demo_specimen_rgb.png")
    logger.info("wrote %s", png)
    return {
        "capture": folder,
        "rgb": png,
        "summary": capture,
        "reflectance": reflectance,
        "tissue": tissue,
        "specimen": specimen,
    }
