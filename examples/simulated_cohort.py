"""A SIMULATED cohort: mean spectra, a pseudo-colour image and the ground-truth maps.

All data here is SIMULATED by hsi_tumor.datasets (a physical model of NIR tissue optics and a
pushbroom camera), not measured. The script simulates a cohort of patients, writes one
specimen as a Specim-style capture folder, calibrates every specimen through the library's own
calibration, and saves the figures of docs/simulator.md:

* ``simulator_spectra.png`` — mean calibrated reflectance of annotated tumor and normal tissue
  (± 1 SD over pixels, all patients pooled), and the chromophore absorption spectra;
* ``simulator_rgb.png`` — a pseudo-colour image (1550, 1300, 1070 nm) of one specimen (invalid
  pixels, glare and dead camera columns, in magenta);
* ``simulator_truth.png`` — that specimen's ground truth: tumor fraction, hard labels, the
  sparse annotation and the normal wall over the tumors;
* ``simulator_anatomy.png`` — what makes its normal tissue vary: mucosa thickness (with the
  folds), fat (lobules in the wall, serosal fat on the margin), blood (vessels, bruises) and
  shading.

Run: ``python examples/simulated_cohort.py [OUT]`` (default ``out/examples``).
"""

from __future__ import annotations

import sys
from pathlib import Path

import matplotlib
import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from hsi_tumor.datasets import CLASS_NAMES, absorption, chromophore_absorption, simulate_cohort
from hsi_tumor.viz import (
    PALETTE,
    mark_simulated,
    plot_class_map,
    plot_probability,
    plot_rgb,
    save_figure,
)


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
    fig = Figure(figsize=(10, 4.2), layout="constrained")
    axes = fig.subplots(1, 2)
    for c in (1, 2):
        rows = np.concatenate(spectra[c])
        mean, sd = rows.mean(axis=0), rows.std(axis=0)
        colour = PALETTE[CLASS_NAMES[c]]
        label = f"{CLASS_NAMES[c]} (annotated, n={len(rows)})"
        axes[0].plot(wl, mean, color=colour, label=label)
        axes[0].fill_between(wl, mean - sd, mean + sd, color=colour, alpha=0.25, lw=0)
    for nm in (970, 1200, 1450):
        axes[0].axvline(nm, color="0.6", lw=0.8, ls=":")
    axes[0].set(
        title=f"mean reflectance ± SD, {n_patients} patients",
        xlabel="wavelength (nm)",
        ylabel="reflectance",
    )
    axes[0].legend(fontsize=8)
    fine = np.arange(900.0, 2501.0, 2.0)
    for name, colour, style, label in (
        ("water", "#1f77b4", "-", "water (Segelstein 1981)"),
        ("lipid", "#ff7f0e", "-", "lipid (measured < 1100, 1210, 1730 nm)"),
        ("collagen", "#8c564b", "--", "collagen (assumed shape)"),
    ):
        mua = chromophore_absorption(name, fine)
        axes[1].semilogy(fine, mua, color=colour, ls=style, label=label)
    blood = absorption(fine, water=0, lipid=0, collagen=0, blood=1, saturation=0.5, baseline=0)
    axes[1].semilogy(fine, blood, color="#d62728", label="whole blood, SO2 50 %")
    axes[1].axvspan(wl[0], wl[-1], color="0.9", zorder=0, label="camera range")
    axes[1].set(
        title="chromophore absorption (pure, model)",
        xlabel="wavelength (nm)",
        ylabel="μa (mm⁻¹)",
    )
    axes[1].legend(fontsize=8)
    fig.suptitle("SIMULATED cohort: spectra of the model")
    mark_simulated(fig, cohort[0])
    paths = {"spectra": save_figure(fig, out / "simulator_spectra.png", dpi=80, overwrite=True)}

    # figure 2: pseudo-colour of the first specimen (calibrated); glare and dead columns magenta
    spec = cohort[0]
    title = f"patient {spec.patient}, 1550 / 1300 / 1070 nm"
    ax = plot_rgb(spec.cube, (1550.0, 1300.0, 1070.0), title=title)
    paths["rgb"] = save_figure(ax, out / "simulator_rgb.png", dpi=90, overwrite=True)

    # figure 3: ground truth, in the palette of every map of the package
    fig = Figure(figsize=(9.5, 7.2), layout="constrained")
    axes = fig.subplots(2, 2).ravel()
    plot_probability(
        spec.tumor_fraction, ax=axes[0], title="tumor fraction", label="", cmap="magma"
    )
    plot_class_map(
        spec.true_labels, class_names=CLASS_NAMES, ax=axes[1], title="labels (0: not tissue)"
    )
    plot_class_map(spec.labels, class_names=CLASS_NAMES, ax=axes[2], title="annotation")
    thickness = np.ma.masked_invalid(spec.mucosa_thickness)  # NaN: no tumor there
    cmap = matplotlib.colormaps["viridis"].with_extremes(bad="0.9")
    shown = axes[3].imshow(thickness, cmap=cmap, vmin=0.0, vmax=2.5, interpolation="nearest")
    fig.colorbar(shown, cax=axes[3].inset_axes([1.03, 0.0, 0.045, 1.0]), label="mm")
    axes[3].legend(
        handles=[Patch(facecolor="0.9", edgecolor="0.4", label="no tumor")],
        loc="upper center",
        bbox_to_anchor=(0.5, -0.02),
        frameon=False,
        fontsize="small",
    )
    axes[3].set(xticks=[], yticks=[], title="normal wall over the tumors")
    fig.suptitle(f"ground truth, patient {spec.patient}")
    mark_simulated(fig, spec)
    paths["truth"] = save_figure(fig, out / "simulator_truth.png", dpi=70, overwrite=True)

    # figure 4: the anatomy behind the normal tissue
    fig = Figure(figsize=(9.5, 7.2), layout="constrained")
    axes = fig.subplots(2, 2).ravel()
    anatomy = spec.anatomy
    outside = ~spec.tissue
    fat = np.maximum(anatomy.lobules, anatomy.surface_fat)
    for ax, values, title, unit, cmap in (
        (axes[0], anatomy.mucosa, "mucosa thickness (folds thicker)", "mm", "viridis"),
        (axes[1], fat, "fat: lobules in the wall, serosal fat at the margin", "share", "YlOrBr"),
        (axes[2], anatomy.blood, "added blood: vessels and bruises", "volume fraction", "Reds"),
        (axes[3], anatomy.shading, "shading: rounded edge, tilt of the folds", "", "gray"),
    ):
        shown = ax.imshow(
            np.ma.masked_array(values, outside),
            cmap=matplotlib.colormaps[cmap].with_extremes(bad="0.85"),
            interpolation="nearest",
        )
        fig.colorbar(shown, cax=ax.inset_axes([1.03, 0.0, 0.045, 1.0]), label=unit)
        ax.set(xticks=[], yticks=[], title=title)
    fig.suptitle(f"anatomy of the normal tissue, patient {spec.patient}")
    mark_simulated(fig, spec)
    paths["anatomy"] = save_figure(fig, out / "simulator_anatomy.png", dpi=70, overwrite=True)
    paths["capture"] = folder
    for key in ("spectra", "rgb", "truth", "anatomy"):
        print("figure (simulated data):", paths[key])
    return paths


if __name__ == "__main__":
    main(*sys.argv[1:])
