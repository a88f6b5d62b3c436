"""A SIMULATED cohort: mean spectra, a pseudo-colour image and the ground-truth maps.

All data here is SIMULATED by hsi_tumor.datasets (a physical model of NIR tissue optics and a
pushbroom camera), not measured. The script simulates a cohort of patients, writes one
specimen as a Specim-style capture folder, calibrates every specimen through the library's own
calibration, and saves the figures of docs/simulator.md:

* ``simulator_spectra.png`` — mean calibrated reflectance of annotated tumor and normal tissue
  (± 1 SD over pixels, all patients pooled), and the chromophore absorption spectra;
* ``simulator_rgb.png`` — a pseudo-colour image (1550, 1300, 1070 nm) of one specimen;
* ``simulator_truth.png`` — that specimen's ground truth: tumor fraction, hard labels, the
  sparse annotation and the mucosa thickness over the tumors.

Run: ``python examples/simulated_cohort.py [OUT]`` (default ``out/examples``).
"""

from __future__ import annotations

import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.colors import ListedColormap

import hsi_tumor as ht
from hsi_tumor.datasets import chromophore_absorption, simulate_cohort
from hsi_tumor.viz import save_rgb_png

LABEL_COLOURS = ListedColormap(["#1b1b1b", "#4c9be8", "#e8584c"])


def main(
    out_dir: str = "out/examples",
    *,
    n_patients: int = 6,
    shape: tuple[int, int] = (256, 320),
    n_bands: int = 128,
    seed: int = 0,
) -> dict[str, Path]:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    print(f"SIMULATED data: a cohort of {n_patients} simulated patients (not measurements)")
    cohort = simulate_cohort(n_patients, seed=seed, shape=shape, n_bands=n_bands)
    folder = cohort[0].write_capture(out / f"simulated_{cohort[0].patient}", overwrite=True)
    print("simulated capture folder:", folder)

    spectra = {1: [], 2: []}
    for spec in cohort:
        pixels = spec.cube.pixels()  # calibrated at simulation
        ann = spec.labels.ravel()
        for c in spectra:
            rows = pixels[ann == c]
            spectra[c].append(rows[np.isfinite(rows).all(axis=1)])
        print(f"  {spec}")
    wl = cohort[0].wavelengths

    # figure 1: mean spectra and chromophores
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8), constrained_layout=True)
    for c, name, colour in ((1, "normal", "#4c9be8"), (2, "tumor", "#e8584c")):
        rows = np.concatenate(spectra[c])
        mean, sd = rows.mean(axis=0), rows.std(axis=0)
        axes[0].plot(wl, mean, color=colour, label=f"{name} (annotated, n={len(rows)})")
        axes[0].fill_between(wl, mean - sd, mean + sd, color=colour, alpha=0.25, lw=0)
    for nm in (970, 1190, 1450):
        axes[0].axvline(nm, color="0.6", lw=0.8, ls=":")
    axes[0].set(
        title=f"SIMULATED: mean reflectance ± SD, {n_patients} patients",
        xlabel="wavelength (nm)",
        ylabel="reflectance",
    )
    axes[0].legend(fontsize=8)
    fine = np.arange(900.0, 2501.0, 2.0)
    for name, colour in (("water", "#1f77b4"), ("lipid", "#ff7f0e"), ("collagen", "#2ca02c")):
        axes[1].semilogy(fine, chromophore_absorption(name, fine), color=colour, label=name)
    axes[1].axvspan(wl[0], wl[-1], color="0.9", zorder=0, label="camera range")
    axes[1].set(
        title="chromophore absorption (pure, model)",
        xlabel="wavelength (nm)",
        ylabel="μa (mm⁻¹)",
    )
    axes[1].legend(fontsize=8)
    paths = {"spectra": out / "simulator_spectra.png"}
    fig.savefig(paths["spectra"], dpi=80)
    plt.close(fig)

    # figure 2: pseudo-colour of the first specimen (calibrated)
    spec = cohort[0]
    rgb = ht.pseudo_rgb(spec.cube, wavelengths=(1550.0, 1300.0, 1070.0))
    paths["rgb"] = save_rgb_png(rgb, out / "simulator_rgb.png", overwrite=True)

    # figure 3: ground truth
    fig, axes = plt.subplots(1, 4, figsize=(13, 3.0), constrained_layout=True)
    panels = (
        (spec.tumor_fraction, "tumor fraction", "magma", (0, 1)),
        (spec.true_labels, "labels (0 bg, 1 normal, 2 tumor)", LABEL_COLOURS, (0, 2)),
        (spec.labels, "annotation (0 = unlabelled)", LABEL_COLOURS, (0, 2)),
        (spec.mucosa_thickness, "mucosa over tumor (mm)", "viridis", (0, 2.5)),
    )
    for ax, (image, title, cmap, (lo, hi)) in zip(axes, panels, strict=True):
        shown = ax.imshow(image, cmap=cmap, vmin=lo, vmax=hi, interpolation="nearest")
        ax.set_title(title, fontsize=9)
        ax.set_axis_off()
        if cmap in ("magma", "viridis"):
            fig.colorbar(shown, ax=ax, shrink=0.8)
    fig.suptitle(f"SIMULATED ground truth, patient {spec.patient}", fontsize=10)
    paths["truth"] = out / "simulator_truth.png"
    fig.savefig(paths["truth"], dpi=70)
    plt.close(fig)
    paths["capture"] = folder
    for key in ("spectra", "rgb", "truth"):
        print("figure (simulated data):", paths[key])
    return paths


if __name__ == "__main__":
    main(*sys.argv[1:])
