"""The HELICoiD spatial-spectral chain on a held-out SIMULATED patient: SVM, KNN filter, vote.

All data here is SIMULATED by hsi_tumor.datasets (a physical model of NIR tissue optics and a
pushbroom camera), not measured. The chain follows

    H. Fabelo et al., "Spatio-spectral classification of hyperspectral images for brain cancer
    detection during surgical operations", PLoS ONE 13(3):e0193721 (2018):

1. a pixel-wise SVM gives class probabilities (here the library's tuned, sigmoid-calibrated
   RBF SVM after SNV and PCA, trained on every patient but the held-out one);
2. the first principal component of the (SNV-normalised) cube guides a KNN filter that averages
   each pixel's probabilities over its K = 40 nearest pixels in (PC1, λ·row, λ·col), λ = 1;
3. a majority vote cleans the filtered class map. HELICoiD votes within the clusters of an
   unsupervised (hierarchical K-means) segmentation; this example uses the library's windowed
   mode filter, :func:`hsi_tumor.spatial.majority_filter`, instead.

Each stage's class map is scored against the held-out specimen's hard truth (``labels``, every
specimen pixel, not only the sparse annotation): accuracy, sensitivity, specificity and Dice of
the tumor class.

Writes (``OUT`` default ``out/examples/helicoid_spatial_spectral``):

* ``helicoid_maps.png`` — pseudo-RGB, truth, tumor probability before and after the KNN filter,
  and the class maps of the three stages with the final map's errors;
* ``helicoid_metrics.md`` — the metrics of each stage;
* ``helicoid_maps.npz`` — truth and the three class maps, to check the metrics.

Run: ``python examples/helicoid_spatial_spectral.py [OUT]``.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

import hsi_tumor as ht
from hsi_tumor.datasets import CLASS_NAMES, simulate_cohort
from hsi_tumor.evaluation import pixel_metrics
from hsi_tumor.preprocessing import StandardNormalVariate
from hsi_tumor.spatial import knn_filter, majority_filter, principal_component_guide
from hsi_tumor.viz import plot_class_map, plot_probability, plot_rgb, save_figure

SIMULATED = "SIMULATED data"
METRICS = ("accuracy", "sensitivity", "specificity", "dice")


def _calibrated(spec) -> ht.Cube:
    return spec.cube  # calibrated at simulation; dead columns flagged invalid, not classified


def stage_metrics(truth: np.ndarray, labels: np.ndarray, mask: np.ndarray) -> dict[str, float]:
    """Metrics of one class map against the hard truth over ``mask`` (unclassified left out)."""
    return pixel_metrics(truth[mask], labels[mask], classes=[1, 2], tumor_class=2)


def main(
    out_dir: str = "out/examples/helicoid_spatial_spectral",
    *,
    n_patients: int = 6,
    shape: tuple[int, int] = (96, 120),
    n_bands: int = 100,
    seed: int = 0,
    test_patient: int = 2,
    n_neighbors: int = 40,
    spatial_weight: float = 1.0,
    majority_size: int = 5,
    classifier_params: dict | None = None,
) -> dict[str, Path]:
    """Train on all patients but ``test_patient`` (an index), run the chain on that one.

    ``classifier_params`` fixes SVM parameters (e.g. ``{"C": 100, "gamma": 0.05}``) instead of
    tuning them; the tests use it to stay fast.
    """
    start = time.perf_counter()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    print("=" * 78)
    print(f"{SIMULATED}: {n_patients} simulated patients, not measurements.")
    print("HELICoiD chain (Fabelo et al. 2018): SVM -> PCA-guided KNN filter -> majority vote")
    print("=" * 78)
    cohort = simulate_cohort(n_patients, seed=seed, shape=shape, n_bands=n_bands)
    held_out = cohort[test_patient]
    training = [s for i, s in enumerate(cohort) if i != test_patient]
    model = ht.train(
        [_calibrated(s) for s in training],
        [s.labels for s in training],
        classifier="svm",
        classifier_params=classifier_params,
        preprocessing=("snv", "pca"),
        class_names=CLASS_NAMES,
        groups=[s.patient for s in training],
        random_state=seed,
    )
    print(
        f"trained on {len(training)} patients ({', '.join(s.patient for s in training)}); "
        f"held out {held_out.patient}"
    )

    cube = _calibrated(held_out)
    truth = held_out.true_labels.astype(np.int64)
    specimen = truth > 0
    # 1. pixel-wise SVM
    svm = ht.classify_cube(cube, model, mask=specimen)
    # 2. KNN filter guided by PC1 of the spectra the SVM saw (SNV), K nearest in (PC1, λr, λc)
    classified = svm.valid
    pixels = cube.pixels()
    snv_fitted = StandardNormalVariate().fit(pixels[np.isfinite(pixels).all(axis=1)])
    snv = ht.transform_cube(cube, snv_fitted)  # SNV keeps no state: fit only checks the bands
    guide = principal_component_guide(snv, mask=classified)
    filtered = knn_filter(
        svm.probabilities,
        guide,
        n_neighbors=n_neighbors,
        spatial_weight=spatial_weight,
        mask=classified,
    )
    knn_labels = np.zeros_like(truth)
    knn_labels[classified] = svm.classes[np.argmax(filtered[classified], axis=1)]
    # 3. majority vote in a window
    final = majority_filter(knn_labels, size=majority_size, mask=classified)

    stages = {
        "pixel-wise SVM": svm.labels.astype(np.int64),
        f"+ KNN filter (K={n_neighbors}, λ={spatial_weight:g})": knn_labels,
        f"+ majority vote ({majority_size}x{majority_size})": final,
    }
    scores = {name: stage_metrics(truth, labels, classified) for name, labels in stages.items()}

    # figure: 2 rows x 4
    fig = Figure(figsize=(14.0, 7.0), layout="constrained")
    ax = fig.subplots(2, 4)
    plot_rgb(cube, ax=ax[0, 0], title="pseudo-RGB")
    plot_class_map(
        truth, class_names=CLASS_NAMES, ax=ax[0, 1], title="truth (labels; 0: not tissue)"
    )
    plot_probability(svm, background=cube, ax=ax[0, 2], title="SVM tumor probability")
    tumor_column = list(svm.classes).index(2)
    plot_probability(
        filtered[..., tumor_column],
        background=cube,
        ax=ax[0, 3],
        title="KNN-filtered tumor probability",
    )
    for a, (name, labels) in zip(ax[1, :3], stages.items(), strict=True):
        s = scores[name]
        plot_class_map(
            labels,
            background=cube,
            class_names=CLASS_NAMES,
            alpha=0.6,
            zero_means="not classified",
            ax=a,
            title=f"{name}\nacc {100 * s['accuracy']:.1f} %, Dice {s['dice']:.3f}",
        )
    errors = np.zeros_like(truth)
    errors[classified] = 3  # right
    errors[classified & (final == 2) & (truth == 1)] = 1  # false tumor
    errors[classified & (final == 1) & (truth == 2)] = 2  # missed tumor
    plot_class_map(
        errors,
        background=cube,
        colors={1: "gold", 2: "deepskyblue", 3: "white"},
        class_names={1: "false tumor", 2: "missed tumor", 3: "right"},
        alpha=0.6,
        zero_means="not classified",
        ax=ax[1, 3],
        title="errors of the final map",
    )
    shared = {}  # one legend for the figure: the panels share their colours
    for a in ax.ravel():
        a.title.set_fontsize(9)
        legend = a.get_legend()
        if legend is not None:
            for handle, text in zip(legend.legend_handles, legend.get_texts(), strict=True):
                shared.setdefault(text.get_text(), handle)
            legend.remove()
    states = [t for t in shared if t.startswith(("unlabelled", "not classified", "invalid"))]
    order = [t for t in shared if t not in states] + states  # the classes, then the states
    fig.legend([shared[t] for t in order], order, loc="outside lower center", ncol=4, frameon=False)
    fig.suptitle(
        f"{SIMULATED}: HELICoiD chain on held-out patient {held_out.patient} "
        f"(trained on {len(training)} others)",
        fontsize=11,
    )
    paths = {"maps": save_figure(fig, out / "helicoid_maps.png", dpi=80, overwrite=True)}

    elapsed = time.perf_counter() - start
    head = "| stage | " + " | ".join(METRICS) + " | pixels changed |\n|---|" + "---:|" * 5
    lines, previous = [], None
    for name, labels in stages.items():
        s = scores[name]
        changed = "–" if previous is None else str(int(np.sum(labels != previous)))
        lines.append(
            f"| {name} | {100 * s['accuracy']:.1f} % | {100 * s['sensitivity']:.1f} % | "
            f"{100 * s['specificity']:.1f} % | {s['dice']:.3f} | {changed} |"
        )
        previous = labels
    table = head + "\n" + "\n".join(lines)
    settings = (
        f"{n_patients} simulated patients (seed {seed}), {shape[0]} x {shape[1]} pixels, "
        f"{n_bands} bands; held out {held_out.patient}; SVM "
        f"({'fixed ' + str(classifier_params) if classifier_params else 'C and gamma tuned'}) "
        f"after {', '.join(model.preprocessing)}; guide PC1 of the SNV cube (spread "
        f"{float(np.nanstd(guide)):.2f}); K = {n_neighbors}, λ = {spatial_weight:g}; "
        f"majority window {majority_size} x {majority_size}"
    )
    n_scored = int(classified.sum())
    n_missing = int((specimen & ~classified).sum())
    text = "\n".join(
        [
            f"# HELICoiD spatial-spectral chain on {SIMULATED}",
            "",
            f"**{SIMULATED}**, not measurements. Metrics of each stage against the held-out "
            f"specimen's hard truth (tumor = positive class) over its {n_scored} classified "
            f"pixels ({n_missing} specimen pixels not classified: invalid camera columns or "
            "saturation).",
            "",
            table,
            "",
            f"Settings: {settings}. Run time {elapsed:.0f} s.",
            "",
        ]
    )
    paths["table"] = out / "helicoid_metrics.md"
    paths["table"].write_text(text, encoding="utf-8")
    paths["label_maps"] = out / "helicoid_maps.npz"
    np.savez_compressed(
        paths["label_maps"],
        truth=truth,
        classified=classified,
        svm=stages["pixel-wise SVM"],
        knn=knn_labels,
        final=final,
    )
    print()
    print(f"{SIMULATED} — held-out patient {held_out.patient}, metrics against the truth:")
    print(table)
    print(f"Settings: {settings}.")
    print(f"run time {elapsed:.0f} s")
    for key in ("maps", "table"):
        print(f"wrote ({SIMULATED}): {paths[key]}")
    return paths


if __name__ == "__main__":
    main(*sys.argv[1:])
