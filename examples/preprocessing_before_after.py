"""Spectra before and after calibration and preprocessing (the figure of docs/preprocessing.md).

Top row: a SIMULATED specimen (hsi_tumor.datasets, not a measurement) — raw counts of tissue
and background, then reflectance after white/dark calibration. Bottom row: the real gasoline
NIR spectra (Kalivas 1997, 900–1700 nm, from ../shared/data when present) as measured
(log 1/R), then after SNV and a Savitzky–Golay first derivative.

Run: ``python examples/preprocessing_before_after.py [OUT]``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure
from sklearn.pipeline import make_pipeline

import hsi_tumor as ht
from hsi_tumor.datasets import simulate_specimen
from hsi_tumor.preprocessing import SavitzkyGolay, StandardNormalVariate
from hsi_tumor.viz import mark_simulated, save_figure

GASOLINE = Path(__file__).resolve().parents[2] / "shared" / "data" / "nir-pls-r" / "gasoline.csv"


def main(out_dir: str = "out/examples") -> Path:
    specimen = simulate_specimen(seed=0, shape=(128, 160), n_bands=100)
    raw, white = specimen.raw, specimen.white
    reflectance = specimen.cube  # calibrated at simulation (specimen.calibrate())
    tissue = ht.tissue_mask(reflectance)
    wl = raw.wavelengths
    real = GASOLINE.exists()
    if not real:
        print(f"real gasoline spectra not found ({GASOLINE}): the figure shows the top row only")
    fig = Figure(figsize=(10, 7 if real else 3.9), layout="constrained")
    axes = fig.subplots(2 if real else 1, 2, squeeze=False)
    pixels_raw = raw.pixels().astype(float)
    pixels_refl = reflectance.pixels()
    for mask, label in ((tissue.ravel(), "tissue"), (~tissue.ravel(), "background")):
        axes[0, 0].plot(wl, pixels_raw[mask].mean(0), label=label)
        axes[0, 1].plot(wl, np.nanmean(pixels_refl[mask], 0), label=label)
    axes[0, 0].plot(wl, white.pixels().mean(0), "k--", label="white reference")
    axes[0, 0].set(title="SIMULATED capture: raw counts", ylabel="counts")
    axes[0, 1].set(title="after calibration: reflectance", ylabel="R")
    if real:
        table = np.genfromtxt(GASOLINE, delimiter=",", skip_header=1)
        spectra, gwl = table[:, 1:], np.arange(900.0, 1701.0, 2.0)
        chain = make_pipeline(
            StandardNormalVariate(), SavitzkyGolay(window_length=15, polyorder=2, deriv=1)
        )
        axes[1, 0].plot(gwl, spectra.T, lw=0.5)
        axes[1, 1].plot(gwl, chain.fit_transform(spectra).T, lw=0.5)
        axes[1, 0].set(title="real gasoline NIR spectra (60)", ylabel="log(1/R)")
        axes[1, 1].set(title="after SNV + Savitzky–Golay 1st derivative", ylabel="a.u.")
    for ax in axes.ravel():
        ax.set_xlabel("wavelength (nm)")
    axes[0, 0].legend()
    axes[0, 1].legend()
    fig.suptitle(
        "SIMULATED specimen (top, hsi_tumor.datasets)"
        + (" and real gasoline spectra (bottom, Kalivas 1997)" if real else "")
    )
    mark_simulated(fig, specimen)  # (the title says it already)
    path = save_figure(
        fig, Path(out_dir) / "preprocessing_before_after.png", dpi=90, overwrite=True
    )
    print("figure:", path)
    return path


if __name__ == "__main__":
    main(*sys.argv[1:])
