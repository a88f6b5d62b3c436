"""Tumor-fraction estimates against the true tumor fraction (partial volume), SIMULATED data.

All data here is SIMULATED by hsi_tumor.datasets (a physical model of NIR tissue optics and a
pushbroom camera), not measured. The simulator knows, for every pixel, the fraction of its
area that is tumor (0..1, partial volume at the borders). This script evaluates, leave one
patient out (every specimen estimated by models that never saw its patient):

* the SVM's tumor probability, read as a fraction (the baseline);
* the learned fraction estimator trained on the partial-volume truth of the training patients
  (``ht.train_fraction(method="learned")``, the default where the truth exists);
* the learned estimator trained on annotated pure pixels and synthetic mixtures only
  (``fractions=None``: what a lab without a partial-volume truth can do);
* fully constrained linear unmixing with endmembers from the annotated pure pixels
  (``method="unmixing"``).

All four come from one ``ht.compare`` run on the same folds. Per patient and pooled, over each
specimen's pixels: fuzzy Dice ``2 Σ min(e, f) / (Σ e + Σ f)``, the tumor-area error
``(Σ e − Σ f) / Σ f``, the mean absolute error on partial pixels (0 < f < 1), the share of
pixels whose 90 % interval covers the true fraction, and the share flagged as outside the
training domain.

Writes (``OUT`` default ``out/examples/tumor_fraction_maps``):

* ``fraction_maps.png`` — per specimen: true fraction, SVM probability, learned estimate (its
  pixels outside the training domain in cyan) and its uncertainty;
* ``fraction_vs_estimate.png`` — true fraction against the probability and against each
  estimate (2-D histograms with binned means);
* ``fraction_calibration.png`` — calibration curve of the learned estimate and the coverage of
  its 90 % interval by true fraction;
* ``fraction_metrics.md`` — the per-patient tables;
* ``fraction_maps.npz`` — per specimen: true fraction, probability, estimate, its interval,
  uncertainty and outlier flags, and the specimen mask.

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
from hsi_tumor.evaluation import compare, fraction_estimate_metrics
from hsi_tumor.fraction._model import UNCERTAINTY_VMAX
from hsi_tumor.viz import PALETTE, plot_fraction_calibration, probability_overlay, save_figure

SIMULATED = "SIMULATED data"
#: Bins of the true fraction for the binned means.
FRACTION_BINS = np.linspace(0.0, 1.0, 11)
CMAP = "magma"
#: The estimators compared: key, label, ``fraction=`` option of evaluate (max_pixels added).
ESTIMATORS = (
    ("learned", "learned (truth)", {"method": "learned"}),
    ("pure", "learned (pure)", {"method": "learned", "fractions": None}),
    ("unmixing", "unmixing", {"method": "unmixing"}),
)


#: Titles of the histograms.
LONG = {
    "probability": "SVM probability (the baseline)",
    "learned": "learned, trained on partial-volume truth",
    "pure": "learned, pure pixels + synthetic mixtures",
    "unmixing": "unmixing, 3 endmembers per class",
}


def calibrated_specimens(cohort) -> list[Specimen]:
    """Each simulated capture calibrated once, in memory, with its sparse annotation."""
    with warnings.catch_warnings():  # dead camera columns: flagged invalid, not classified
        warnings.simplefilter("ignore", ht.CalibrationWarning)
        return as_specimens(cohort)


def on_specimen(tissue: np.ndarray, values: np.ndarray) -> np.ndarray:
    """The values over the specimen, NaN (drawn "outside the specimen") around it."""
    return np.where(tissue, values, np.nan)


def percent(value: float) -> str:
    return "–" if not np.isfinite(value) else f"{100 * value:+.1f} %"


def share(value: float) -> str:
    return "–" if not np.isfinite(value) else f"{100 * value:.1f} %"


def main(
    out_dir: str = "out/examples/tumor_fraction_maps",
    *,
    n_patients: int = 8,
    shape: tuple[int, int] = (96, 120),
    n_bands: int = 100,
    seed: int = 0,
    classifier_params: dict | None = None,
    fraction_max_pixels: int = 60_000,
    n_bootstrap: int = 1000,
) -> dict[str, Path]:
    """Evaluate leave-one-patient-out and compare each estimate with the true fraction.

    ``classifier_params`` fixes SVM parameters (e.g. ``{"C": 100, "gamma": 0.05}``) instead of
    tuning them and ``fraction_max_pixels`` bounds the learned estimators' training pixels;
    the tests use both to stay fast.
    """
    start = time.perf_counter()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    print("=" * 78)
    print(f"{SIMULATED}: {n_patients} simulated patients, not measurements.")
    print("Tumor-fraction estimates vs the simulator's true tumor fraction (partial volume)")
    print("=" * 78)
    cohort = simulate_cohort(n_patients, seed=seed, shape=shape, n_bands=n_bands)
    specimens = calibrated_specimens(cohort)
    # the SVM and its probability come with the first configuration; the others carry only
    # their fraction estimator (compare trains a classifier in each: a fast LDA there, which
    # the fraction models do not depend on)
    svm = {"classifier": "svm", "classifier_params": classifier_params}
    configurations = [
        {
            **(svm if k == 0 else {"classifier": "lda"}),
            "preprocessing": ("snv", "pca"),
            "fraction": {**option, "max_pixels": fraction_max_pixels},
        }
        for k, (_, _, option) in enumerate(ESTIMATORS)
    ]
    evaluations = compare(
        specimens,
        configurations,
        class_names=CLASS_NAMES,
        random_state=seed,
        n_bootstrap=n_bootstrap,
        keep_maps=True,
    )
    learned = evaluations[0]
    print(learned)
    by_name = {
        key: {p.specimen.name: p for p in ev.predictions}
        for (key, _, _), ev in zip(ESTIMATORS, evaluations, strict=True)
    }
    simulated = {s.name: s for s in cohort}

    rows = []
    pooled_parts: dict[str, list] = {"f": [], "probability": []}
    for spec in specimens:
        mask = spec.tissue | (spec.labels > 0)  # what evaluate compares
        f = spec.tumor_fraction
        tumor_map = by_name["learned"][spec.name].tumor_map
        prob = tumor_map.tumor_probability.astype(np.float64)
        row = {
            "patient": spec.patient,
            "name": spec.name,
            "mucosa": ", ".join(f"{t.mucosa_thickness:.2f}" for t in simulated[spec.name].tumors),
            "true_area": float(f[mask].sum()),
            "probability": fraction_estimate_metrics(prob, f, mask),
        }
        pooled_parts["f"].append(f[mask])
        pooled_parts["probability"].append(np.nan_to_num(prob, nan=0.0)[mask])
        for key, _, _ in ESTIMATORS:
            fm = by_name[key][spec.name].fraction_map
            row[key] = fraction_estimate_metrics(
                fm.fraction, f, mask, lower=fm.lower, upper=fm.upper
            )
            row[key]["outlier"] = float(fm.outlier[mask].mean()) if fm.outlier is not None else 0
            row[key]["estimated_area"] = float(np.nan_to_num(fm.fraction, nan=0.0)[mask].sum())
            pooled_parts.setdefault(key, []).append(np.nan_to_num(fm.fraction, nan=0.0)[mask])
        rows.append(row)

    # the library's per-patient numbers come from the same sums: say so if they ever differ
    for (key, _, _), ev in zip(ESTIMATORS, evaluations, strict=True):
        for row, lib in zip(rows, ev.per_patient, strict=True):
            for metric in ("fraction_fuzzy_dice", "fraction_area_error", "fraction_coverage"):
                if not np.isclose(row[key][metric], lib[metric], equal_nan=True):
                    print(f"warning: {row['patient']} {key} {metric} differs from evaluate's")
        for row, lib in zip(rows, learned.per_patient, strict=True):
            if not np.isclose(row["probability"]["fraction_fuzzy_dice"], lib["fuzzy_dice"]):
                print(f"warning: {row['patient']} probability fuzzy Dice differs from evaluate's")

    # figure 1: per specimen, true fraction, probability, learned estimate, uncertainty
    n = len(specimens)
    fig = Figure(figsize=(10.0, 2.3 * n + 1.2), layout="constrained")
    axes = fig.subplots(n, 4, squeeze=False)
    for j, spec in enumerate(specimens):
        tumor_map = by_name["learned"][spec.name].tumor_map
        fm = by_name["learned"][spec.name].fraction_map
        unusable = spec.tissue & ~fm.valid & ~np.isfinite(tumor_map.tumor_probability)
        r = rows[j]
        panels = (
            (
                probability_overlay(on_specimen(spec.tissue, spec.tumor_fraction), cmap=CMAP),
                "true fraction",
            ),
            (
                probability_overlay(
                    on_specimen(spec.tissue, tumor_map.tumor_probability),
                    cmap=CMAP,
                    invalid=unusable,
                    outlier=None if tumor_map.outlier is None else tumor_map.outlier & spec.tissue,
                ),
                f"SVM probability, fuzzy Dice {r['probability']['fraction_fuzzy_dice']:.2f}",
            ),
            (
                probability_overlay(
                    on_specimen(spec.tissue, fm.fraction),
                    cmap=CMAP,
                    invalid=unusable,
                    outlier=None if fm.outlier is None else fm.outlier & spec.tissue,
                ),
                f"learned estimate, fuzzy Dice {r['learned']['fraction_fuzzy_dice']:.2f}",
            ),
            (
                probability_overlay(
                    on_specimen(spec.tissue, fm.uncertainty),
                    cmap="viridis",
                    vmax=UNCERTAINTY_VMAX,
                    invalid=unusable,
                ),
                f"its uncertainty, 90 % coverage {share(r['learned']['fraction_coverage'])}",
            ),
        )
        for i, (image, label) in enumerate(panels):
            ax = axes[j, i]
            ax.imshow(image, interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_title(f"{spec.patient}: {label}", fontsize=7)
    fig.colorbar(
        ScalarMappable(mcolors.Normalize(0.0, 1.0), CMAP),
        ax=axes[:, :3],
        shrink=0.4,
        location="bottom",
        label="tumor fraction / probability",
    )
    fig.colorbar(
        ScalarMappable(mcolors.Normalize(0.0, UNCERTAINTY_VMAX), "viridis"),
        ax=axes[:, 3],
        shrink=0.9,
        location="bottom",
        label="standard deviation",
    )
    fig.legend(
        handles=[
            Patch(facecolor=PALETTE["not classified"], label="outside the specimen"),
            Patch(facecolor=PALETTE["invalid"], label="invalid (glare, dead column)"),
            Patch(facecolor=PALETTE["outside training domain"], label="outside training domain"),
        ],
        loc="outside lower center",
        ncol=3,
        fontsize=8,
        frameon=False,
    )
    fig.suptitle(
        f"{SIMULATED}: true tumor fraction, SVM probability and the learned fraction estimate, "
        "leave-one-patient-out",
        fontsize=9,
    )
    paths = {"maps": save_figure(fig, out / "fraction_maps.png", dpi=70, overwrite=True)}

    # figure 2: true fraction against the probability and each estimate
    f_all = np.concatenate(pooled_parts["f"])
    index = np.clip(np.digitize(f_all, FRACTION_BINS) - 1, 0, len(FRACTION_BINS) - 2)
    centres = 0.5 * (FRACTION_BINS[:-1] + FRACTION_BINS[1:])
    shown = [("probability", "SVM probability")] + [(k, label) for k, label, _ in ESTIMATORS]
    fig = Figure(figsize=(16.0, 4.4), layout="constrained")
    axes = fig.subplots(1, len(shown))
    binned_means = {}
    for ax, (key, _) in zip(axes, shown, strict=True):
        e_all = np.concatenate(pooled_parts[key])
        hist = ax.hist2d(
            f_all,
            e_all,
            bins=[20, 20],
            range=[[0, 1], [0, 1]],
            norm=mcolors.LogNorm(),
            cmap="Blues",
        )
        binned = np.array(
            [e_all[index == k].mean() if np.any(index == k) else np.nan for k in range(10)]
        )
        binned_means[key] = binned
        ax.plot(centres, binned, "o-", color="#d62728", label="mean per bin of true fraction")
        ax.plot([0, 1], [0, 1], ls=":", color="0.3", label="estimate = fraction")
        ax.set(xlabel="true tumor fraction", ylabel="estimate")
        ax.set_title(LONG[key], fontsize=9)
        ax.legend(fontsize=7, loc="upper left")
    fig.colorbar(hist[3], ax=axes, label="pixels", shrink=0.8)
    fig.suptitle(f"{SIMULATED}: all specimen pixels, leave-one-patient-out", fontsize=10)
    paths["histogram"] = save_figure(fig, out / "fraction_vs_estimate.png", dpi=70, overwrite=True)

    # figure 3: calibration and interval coverage of the learned estimate
    fig = plot_fraction_calibration(
        learned.fraction_calibration,
        title=f"{SIMULATED}: learned fraction estimate (partial-volume truth), pooled test pixels",
    )
    paths["calibration"] = save_figure(
        fig, out / "fraction_calibration.png", dpi=80, overwrite=True
    )

    elapsed = time.perf_counter() - start
    pooled = {"probability": learned.pooled}
    pooled.update({key: ev.pooled for (key, _, _), ev in zip(ESTIMATORS, evaluations, strict=True)})
    heads = " | ".join(f"{label}: fuzzy Dice | {label}: area error" for _, label in shown)
    table = "\n".join(
        [
            f"| patient | mucosa over tumors (mm) | true area (px) | {heads} |",
            "|---|---|---:|" + "---:|---:|" * len(shown),
            *(
                f"| {r['patient']} | {r['mucosa']} | {r['true_area']:.1f} | "
                + " | ".join(
                    f"{r[key]['fraction_fuzzy_dice']:.3f} | "
                    f"{percent(r[key]['fraction_area_error'])}"
                    for key, _ in shown
                )
                + " |"
                for r in rows
            ),
            f"| pooled | | {f_all.sum():.1f} | "
            + " | ".join(
                f"{pooled[key][m]:.3f} | {percent(pooled[key][a])}"
                for key, (m, a) in (
                    (
                        k,
                        ("fuzzy_dice", "area_error")
                        if k == "probability"
                        else ("fraction_fuzzy_dice", "fraction_area_error"),
                    )
                    for k, _ in shown
                )
            )
            + " |",
        ]
    )
    heads = " | ".join(
        f"{label}: MAE partial | coverage all / partial | outliers" for _, label, _ in ESTIMATORS
    )
    detail = "\n".join(
        [
            f"| patient | {heads} |",
            "|---|" + "---:|---:|---:|" * len(ESTIMATORS),
            *(
                f"| {r['patient']} | "
                + " | ".join(
                    f"{r[key]['fraction_mae_partial']:.3f} | "
                    f"{share(r[key]['fraction_coverage'])} / "
                    f"{share(r[key]['fraction_coverage_partial'])} | {share(r[key]['outlier'])}"
                    for key, _, _ in ESTIMATORS
                )
                + " |"
                for r in rows
            ),
            "| pooled | "
            + " | ".join(
                f"{pooled[key]['fraction_mae_partial']:.3f} | "
                f"{share(pooled[key]['fraction_coverage'])} / "
                f"{share(pooled[key]['fraction_coverage_partial'])} | "
                f"{share(np.mean([r[key]['outlier'] for r in rows]))} (mean)"
                for key, _, _ in ESTIMATORS
            )
            + " |",
        ]
    )
    binned_table = "\n".join(
        [
            "| true fraction | pixels | " + " | ".join(label for _, label in shown) + " |",
            "|---|---:|" + "---:|" * len(shown),
            *(
                f"| {FRACTION_BINS[k]:.1f}–{FRACTION_BINS[k + 1]:.1f} | "
                f"{int(np.sum(index == k))} | "
                + " | ".join(f"{binned_means[key][k]:.3f}" for key, _ in shown)
                + " |"
                for k in range(len(centres))
            ),
        ]
    )
    curves = {
        key: ev.fraction_calibration
        for (key, _, _), ev in zip(ESTIMATORS, evaluations, strict=True)
    }
    edges = curves["learned"].bin_edges
    coverage_table = "\n".join(
        [
            "| estimate | "
            + " | ".join(f"{label}: pixels | {label}: coverage" for _, label, _ in ESTIMATORS)
            + " |",
            "|---|" + "---:|---:|" * len(ESTIMATORS),
            *(
                f"| {edges[k]:.1f}–{edges[k + 1]:.1f} | "
                + " | ".join(
                    f"{curves[key].counts[k]} | {share(curves[key].coverage_by_estimate[k])}"
                    for key, _, _ in ESTIMATORS
                )
                + " |"
                for k in range(len(edges) - 1)
            ),
        ]
    )
    settings = (
        f"{n_patients} simulated patients (seed {seed}), {shape[0]} x {shape[1]} pixels, "
        f"{n_bands} bands; SVM "
        f"({'fixed ' + str(classifier_params) if classifier_params else 'C and gamma tuned'}) "
        f"after {', '.join(learned.preprocessing)}; learned estimators on at most "
        f"{fraction_max_pixels} pixels per fold; {learned.scheme}"
    )
    text = "\n".join(
        [
            f"# Tumor-fraction estimates vs true tumor fraction on {SIMULATED}",
            "",
            f"**{SIMULATED}**, not measurements. Over each specimen's pixels; pixels not "
            "estimated count as 0.",
            "",
            "## Fuzzy Dice and tumor-area error per patient",
            "",
            table,
            "",
            "## Error on partial pixels, 90 % interval coverage, outside the training domain",
            "",
            detail,
            "",
            "## 90 % interval coverage by bin of the estimate",
            "",
            coverage_table,
            "",
            "## Mean estimate by true fraction",
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
    maps = [by_name["learned"][s.name].fraction_map for s in specimens]
    np.savez_compressed(
        paths["arrays"],
        patients=np.array([s.patient for s in specimens]),
        fraction=np.stack([s.tumor_fraction for s in specimens]),
        probability=np.stack(
            [by_name["learned"][s.name].tumor_map.tumor_probability for s in specimens]
        ),
        estimate=np.stack([m.fraction for m in maps]),
        lower=np.stack([m.lower for m in maps]),
        upper=np.stack([m.upper for m in maps]),
        uncertainty=np.stack([m.uncertainty for m in maps]),
        outlier=np.stack([m.outlier for m in maps]),
        specimen=np.stack([s.tissue for s in specimens]),
        compared=np.stack([s.tissue | (s.labels > 0) for s in specimens]),
    )
    print()
    print(f"{SIMULATED} — estimates vs true tumor fraction, per patient:")
    print(table)
    print()
    print(detail)
    print()
    print(coverage_table)
    print()
    print(binned_table)
    print(f"Settings: {settings}.")
    print(f"run time {elapsed:.0f} s")
    for key in ("maps", "histogram", "calibration", "table"):
        print(f"wrote ({SIMULATED}): {paths[key]}")
    return paths


if __name__ == "__main__":
    main(*sys.argv[1:])
