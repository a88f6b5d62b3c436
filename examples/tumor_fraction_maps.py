"""Tumor probability maps against the true tumor fraction (partial volume), SIMULATED data.

All data here is SIMULATED by hsi_tumor.datasets (a physical model of NIR tissue optics and a
pushbroom camera), not measured. The simulator knows, for every pixel, the fraction of its
area that is tumor (0..1, partial volume at the borders). This script evaluates the SVM
leave-one-patient-out (every specimen classified by a model that never saw its patient) and
compares each held-out specimen's predicted tumor probability with that fraction:

* fuzzy Dice ``2 Σ min(p, f) / (Σ p + Σ f)`` and the tumor-area error ``(Σ p − Σ f) / Σ f``
  per patient, over the specimen's pixels (unclassified pixels count as probability 0);
* the joint distribution of (true fraction, predicted probability) over all specimen pixels,
  with the mean probability per fraction bin;
* the mean probability of the tumor pixels by the thickness of the mucosa over them.

Writes (``OUT`` default ``out/examples/tumor_fraction_maps``):

* ``fraction_maps.png`` — per specimen, the true fraction and the predicted tumor
  probability side by side (outside the specimen and invalid pixels in the colours of
  ``hsi_tumor.viz.PALETTE``);
* ``fraction_vs_probability.png`` — 2-D histogram with binned means, per-patient fuzzy Dice and
  area error, and probability by mucosa thickness;
* ``fraction_metrics.md`` — the per-patient table and the thickness table;
* ``fraction_maps.npz`` — fraction, probability and specimen mask per specimen.

Run: ``python examples/tumor_fraction_maps.py [OUT]``.
"""

from __future__ import annotations

import sys
import time
import warnings
from pathlib import Path

import matplotlib.colors as mcolors
import numpy as np
from matplotlib.cm import ScalarMappable
from matplotlib.figure import Figure
from matplotlib.patches import Patch

import hsi_tumor as ht
from hsi_tumor.datasets import CLASS_NAMES, Specimen, as_specimens, simulate_cohort
from hsi_tumor.evaluation import area_error, fuzzy_dice
from hsi_tumor.viz import PALETTE, probability_overlay, save_figure

SIMULATED = "SIMULATED data"
#: Fraction bins of the binned mean, and mucosa-thickness bins (mm) of the tumor pixels.
FRACTION_BINS = np.linspace(0.0, 1.0, 11)
THICKNESS_BINS = ((0.0, 0.0), (0.0, 1.0), (1.0, 1.75), (1.75, 2.75))
CMAP = "magma"


def calibrated_specimens(cohort) -> list[Specimen]:
    """Each simulated capture calibrated once, in memory, with its sparse annotation."""
    with warnings.catch_warnings():  # dead camera columns: flagged invalid, not classified
        warnings.simplefilter("ignore", ht.CalibrationWarning)
        return as_specimens(cohort)


def thickness_label(lo: float, hi: float) -> str:
    if hi == 0:
        return "exposed (0 mm)"
    return f"covered, ≤ {hi:g} mm" if lo == 0 else f"{lo:g}–{hi:g} mm"


def main(
    out_dir: str = "out/examples/tumor_fraction_maps",
    *,
    n_patients: int = 8,
    shape: tuple[int, int] = (96, 120),
    n_bands: int = 100,
    seed: int = 0,
    classifier_params: dict | None = None,
    n_bootstrap: int = 1000,
) -> dict[str, Path]:
    """Evaluate leave-one-patient-out and compare probability maps with the true fraction.

    ``classifier_params`` fixes SVM parameters (e.g. ``{"C": 100, "gamma": 0.05}``) instead of
    tuning them; the tests use it to stay fast.
    """
    start = time.perf_counter()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    print("=" * 78)
    print(f"{SIMULATED}: {n_patients} simulated patients, not measurements.")
    print("Predicted tumor probability vs the simulator's true tumor fraction (partial volume)")
    print("=" * 78)
    cohort = simulate_cohort(n_patients, seed=seed, shape=shape, n_bands=n_bands)
    specimens = calibrated_specimens(cohort)
    evaluation = ht.evaluate(
        specimens,
        classifier="svm",
        classifier_params=classifier_params,
        preprocessing=("snv", "pca"),
        class_names=CLASS_NAMES,
        random_state=seed,
        n_bootstrap=n_bootstrap,
        keep_maps=True,
    )
    print(evaluation)
    by_name = {p.specimen.name: p for p in evaluation.predictions}
    simulated = {s.name: s for s in cohort}

    rows, all_f, all_p, thick, thick_p = [], [], [], [], []
    for spec in specimens:
        prob = by_name[spec.name].tumor_map.tumor_probability.astype(np.float64)
        mask = spec.tissue
        f = spec.tumor_fraction
        p0 = np.where(np.isfinite(prob), prob, 0.0)  # unclassified = probability 0
        sim = simulated[spec.name]
        tumor_px = mask & (f >= 0.5)
        rows.append(
            {
                "patient": spec.patient,
                "fuzzy_dice": fuzzy_dice(prob, f, mask),
                "area_error": area_error(prob, f, mask),
                "true_area": float(f[mask].sum()),
                "predicted_area": float(p0[mask].sum()),
                "mucosa": ", ".join(f"{t.mucosa_thickness:.2f}" for t in sim.tumors),
            }
        )
        all_f.append(f[mask])
        all_p.append(p0[mask])
        thick.append(sim.mucosa_thickness[tumor_px])
        thick_p.append(p0[tumor_px])
    all_f, all_p = np.concatenate(all_f), np.concatenate(all_p)
    thick, thick_p = np.concatenate(thick), np.concatenate(thick_p)

    # the library's per-patient numbers come from the same sums: say so if they ever differ
    for row, lib in zip(rows, evaluation.per_patient, strict=True):
        for key in ("fuzzy_dice", "area_error"):
            if not np.isclose(row[key], lib[key], equal_nan=True):
                print(f"warning: {row['patient']} {key} {row[key]:.4f} vs evaluate {lib[key]:.4f}")

    # figure 1: fraction and probability maps side by side, two specimens per row
    n = len(specimens)
    n_rows = -(-n // 2)
    fig = Figure(figsize=(10.5, 2.15 * n_rows + 1.3), layout="constrained")
    axes = fig.subplots(n_rows, 4, squeeze=False)
    norm = mcolors.Normalize(0.0, 1.0)
    for j, spec in enumerate(specimens):
        prob = by_name[spec.name].tumor_map.tumor_probability
        # the map covers the specimen: NaN inside it is an invalid spectrum (glare, dead column)
        unusable = spec.tissue & ~np.isfinite(prob)
        for i, (image, label, invalid) in enumerate(
            (
                (spec.tumor_fraction, "true fraction", np.zeros_like(unusable)),
                (prob, f"probability, fuzzy Dice {rows[j]['fuzzy_dice']:.2f}", unusable),
            )
        ):
            ax = axes[j // 2, 2 * (j % 2) + i]
            shown = np.where(spec.tissue, image, np.nan)  # outside the specimen: not classified
            image = probability_overlay(shown, cmap=CMAP, invalid=invalid)
            ax.imshow(image, interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_title(f"{spec.patient}: {label}", fontsize=8)
    for ax in axes.ravel()[2 * n :]:
        ax.set_axis_off()
    fig.colorbar(
        ScalarMappable(norm, CMAP), ax=axes, shrink=0.6, label="tumor fraction / probability"
    )
    fig.legend(
        handles=[
            Patch(facecolor=PALETTE["not classified"], label="outside the specimen"),
            Patch(facecolor=PALETTE["invalid"], label="invalid (glare, dead column)"),
        ],
        loc="outside lower center",
        ncol=2,
        fontsize=8,
        frameon=False,
    )
    fig.suptitle(
        f"{SIMULATED}: true tumor fraction vs predicted tumor probability, leave-one-patient-out",
        fontsize=10,
    )
    paths = {"maps": save_figure(fig, out / "fraction_maps.png", dpi=75, overwrite=True)}

    # figure 2: joint histogram, per-patient metrics, thickness
    fig = Figure(figsize=(14.0, 5.4), layout="constrained")
    ax = fig.subplots(1, 3, width_ratios=[1.1, 1.3, 1.0])
    hist = ax[0].hist2d(
        all_f, all_p, bins=[20, 20], range=[[0, 1], [0, 1]], norm=mcolors.LogNorm(), cmap="Blues"
    )
    fig.colorbar(hist[3], ax=ax[0], label="pixels")
    index = np.clip(np.digitize(all_f, FRACTION_BINS) - 1, 0, len(FRACTION_BINS) - 2)
    centres = 0.5 * (FRACTION_BINS[:-1] + FRACTION_BINS[1:])
    binned = np.array(
        [all_p[index == k].mean() if np.any(index == k) else np.nan for k in range(len(centres))]
    )
    ax[0].plot(centres, binned, "o-", color="#d62728", label="mean probability per bin")
    ax[0].plot([0, 1], [0, 1], ls=":", color="0.3", label="probability = fraction")
    ax[0].set(xlabel="true tumor fraction", ylabel="predicted tumor probability")
    ax[0].set_title(f"{SIMULATED}: all specimen pixels", fontsize=9)
    ax[0].legend(fontsize=7, loc="upper left")
    x = np.arange(n)
    ax[1].bar(x - 0.2, [r["fuzzy_dice"] for r in rows], 0.4, label="fuzzy Dice", color="#1f77b4")
    ax[1].bar(x + 0.2, [r["area_error"] for r in rows], 0.4, label="area error", color="#ff7f0e")
    ax[1].axhline(0, color="0.4", lw=0.8)
    ax[1].set_xticks(x, [r["patient"] for r in rows], fontsize=8)
    ax[1].set_title("per patient (area error: (Σp − Σf) / Σf)", fontsize=9)
    ax[1].set_ylabel("fuzzy Dice; relative area error")
    ax[1].legend(fontsize=7)
    thickness_rows = []
    for lo, hi in THICKNESS_BINS:
        sel = (thick == 0) if hi == 0 else (thick > lo) & (thick <= hi)
        thickness_rows.append(
            (
                thickness_label(lo, hi),
                int(sel.sum()),
                float(thick_p[sel].mean()) if sel.any() else np.nan,
            )
        )
    ax[2].bar(
        [r[0] for r in thickness_rows],
        [0 if not np.isfinite(r[2]) else r[2] for r in thickness_rows],
        color="#2ca02c",
    )
    for k, (_, count, _) in enumerate(thickness_rows):
        ax[2].annotate(f"n={count}", (k, 0.02), ha="center", fontsize=7)
    ax[2].set_ylim(0, 1)
    ax[2].set(xlabel="mucosa over the tumor", ylabel="mean tumor probability")
    ax[2].set_title("tumor pixels (fraction ≥ 0.5) by mucosa thickness", fontsize=9)
    ax[2].tick_params(axis="x", labelsize=7)
    paths["histogram"] = save_figure(
        fig, out / "fraction_vs_probability.png", dpi=75, overwrite=True
    )

    elapsed = time.perf_counter() - start
    table = "\n".join(
        [
            "| patient | mucosa over tumors (mm) | true area (px) | predicted area (px) | "
            "fuzzy Dice | area error |",
            "|---|---|---:|---:|---:|---:|",
            *(
                f"| {r['patient']} | {r['mucosa']} | {r['true_area']:.1f} | "
                f"{r['predicted_area']:.1f} | {r['fuzzy_dice']:.3f} | "
                f"{100 * r['area_error']:+.1f} % |"
                for r in rows
            ),
            f"| pooled | | {all_f.sum():.1f} | {all_p.sum():.1f} | "
            f"{evaluation.pooled['fuzzy_dice']:.3f} | "
            f"{100 * evaluation.pooled['area_error']:+.1f} % |",
        ]
    )
    thickness_table = "\n".join(
        [
            "| mucosa over the tumor | tumor pixels | mean tumor probability |",
            "|---|---:|---:|",
            *(f"| {label} | {count} | {mean:.3f} |" for label, count, mean in thickness_rows),
        ]
    )
    binned_table = "\n".join(
        [
            "| true fraction | pixels | mean probability |",
            "|---|---:|---:|",
            *(
                f"| {FRACTION_BINS[k]:.1f}–{FRACTION_BINS[k + 1]:.1f} | "
                f"{int(np.sum(index == k))} | {binned[k]:.3f} |"
                for k in range(len(centres))
            ),
        ]
    )
    settings = (
        f"{n_patients} simulated patients (seed {seed}), {shape[0]} x {shape[1]} pixels, "
        f"{n_bands} bands; SVM "
        f"({'fixed ' + str(classifier_params) if classifier_params else 'C and gamma tuned'}) "
        f"after {', '.join(evaluation.preprocessing)}; {evaluation.scheme}"
    )
    text = "\n".join(
        [
            f"# Tumor probability vs true tumor fraction on {SIMULATED}",
            "",
            f"**{SIMULATED}**, not measurements. Over each specimen's pixels; unclassified "
            "pixels count as probability 0.",
            "",
            "## Per patient",
            "",
            table,
            "",
            "## By mucosa thickness (tumor pixels, fraction ≥ 0.5)",
            "",
            thickness_table,
            "",
            "## Mean probability by true fraction",
            "",
            binned_table,
            "",
            f"Settings: {settings}. Run time {elapsed:.0f} s.",
            "",
        ]
    )
    paths["table"] = out / "fraction_metrics.md"
    paths["table"].write_text(text, encoding="utf-8")
    paths["arrays"] = out / "fraction_maps.npz"
    np.savez_compressed(
        paths["arrays"],
        patients=np.array([s.patient for s in specimens]),
        fraction=np.stack([s.tumor_fraction for s in specimens]),
        probability=np.stack([by_name[s.name].tumor_map.tumor_probability for s in specimens]),
        specimen=np.stack([s.tissue for s in specimens]),
    )
    print()
    print(f"{SIMULATED} — tumor probability vs true tumor fraction, per patient:")
    print(table)
    print()
    print(thickness_table)
    print()
    print(binned_table)
    print(f"Settings: {settings}.")
    print(f"run time {elapsed:.0f} s")
    for key in ("maps", "histogram", "table"):
        print(f"wrote ({SIMULATED}): {paths[key]}")
    return paths


if __name__ == "__main__":
    main(*sys.argv[1:])
