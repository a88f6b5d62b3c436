"""Indian Pines (real AVIRIS data): SVM vs random forest vs LDA, random and spatially disjoint.

The Indian Pines cube (AVIRIS, 1992, 145 x 145 pixels, 200 bands, 16 ground-truth classes) is
the classic per-pixel benchmark of hyperspectral classification. Papers usually train on a
random 10 % of the labelled pixels and test on the rest; since neighbouring pixels are nearly
identical, that split lets a classifier recognise *places* it has seen, and its accuracy
overstates what it does on new ground. The same holds for tissue: a random pixel split puts
every patient on both sides. This script runs both splits:

* **random 10 %**: a stratified 10 % sample of the labelled pixels (seed 0) for training, the
  other 90 % for testing — comparable to the published 78–87 % for an RBF SVM;
* **spatially disjoint**: the image cut into 5 x 5 blocks of 29 x 29 pixels, training on the
  blocks of one checkerboard colour and testing on the others (each class's pixels in a block
  stay together).

For each split and classifier (SNV, then the registry's tuned "svm", "random-forest" and
"lda"), it prints overall accuracy (OA), average accuracy (AA, the mean per-class recall) and
Cohen's kappa on the test pixels, writes the table as Markdown and saves the maps.

The data is real (``../shared/data/indian-pines``, see its README for provenance) and is read
from there; the script says so and stops cleanly when the folder is absent.

Run: ``python examples/indian_pines_benchmark.py [OUT]`` (default ``out/examples/indian_pines``).
"""

from __future__ import annotations

import sys
import time
import warnings
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure
from sklearn.model_selection import train_test_split
from tqdm.auto import tqdm

import hsi_tumor as ht
from hsi_tumor.evaluation import pixel_metrics
from hsi_tumor.viz import plot_class_map, save_figure

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "indian-pines"

#: The 16 ground-truth classes, in the order of their ids 1–16.
CLASS_NAMES = dict(
    enumerate(
        [
            "Alfalfa",
            "Corn-notill",
            "Corn-mintill",
            "Corn",
            "Grass-pasture",
            "Grass-trees",
            "Grass-pasture-mowed",
            "Hay-windrowed",
            "Oats",
            "Soybean-notill",
            "Soybean-mintill",
            "Soybean-clean",
            "Wheat",
            "Woods",
            "Buildings-Grass-Trees-Drives",
            "Stone-Steel-Towers",
        ],
        start=1,
    )
)
CLASSIFIERS = ("svm", "random-forest", "lda")
BLOCK = 29  # 145 = 5 x 29


def load(folder: Path = DATA) -> tuple[ht.Cube, np.ndarray]:
    """The corrected 200-band cube (with AVIRIS band centres in nm) and its ground truth."""
    cube = ht.read_cube(
        folder / "Indian_pines_corrected.npy",
        wavelengths=folder / "Indian_pines_corrected_bands.csv",
    )
    truth = np.load(folder / "Indian_pines_gt.npy")
    return cube.load(), np.ascontiguousarray(truth)


def random_split(truth: np.ndarray, fraction: float = 0.10, seed: int = 0):
    """(train map, test map): a stratified random ``fraction`` of the labelled pixels."""
    labelled = np.flatnonzero(truth.reshape(-1))
    train, _ = train_test_split(
        labelled, train_size=fraction, stratify=truth.reshape(-1)[labelled], random_state=seed
    )
    train_map = np.zeros_like(truth)
    train_map.reshape(-1)[train] = truth.reshape(-1)[train]
    return train_map, np.where(train_map > 0, 0, truth)


def checkerboard_split(truth: np.ndarray, block: int = BLOCK):
    """(train map, test map): blocks of one checkerboard colour train, the others test."""
    rows, cols = np.indices(truth.shape)
    train_blocks = ((rows // block + cols // block) % 2) == 0
    return np.where(train_blocks, truth, 0), np.where(train_blocks, 0, truth)


def main(
    out_dir: str = "out/examples/indian_pines",
    *,
    classifiers: tuple[str, ...] = CLASSIFIERS,
    classifier_params: dict[str, dict] | None = None,
    data: Path = DATA,
) -> dict[str, Path]:
    """Run both splits with every classifier; returns the files written (empty without data).

    ``classifier_params`` maps a classifier name to fixed parameters (skipping its tuning),
    e.g. for a quick run.
    """
    if not data.exists():
        print(f"Indian Pines is not available: {data} is absent (see ../shared/data/README.md)")
        return {}
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    print("REAL data: Indian Pines, AVIRIS 1992 (145 x 145 pixels, 200 bands, 16 classes)")
    cube, truth = load(data)
    classes = list(CLASS_NAMES)
    splits = {"random 10 %": random_split(truth), "spatially disjoint": checkerboard_split(truth)}
    rows, maps = [], {}
    runs = [(split, name) for split in splits for name in classifiers]
    # one bar over the runs; each ht.train's bar (over its fits) shows under it while it runs
    for split, name in tqdm(runs, desc="Indian Pines", unit="run"):
        train_map, test_map = splits[split]
        missing = sorted(set(np.unique(test_map)) - set(np.unique(train_map)) - {0})
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # tiny classes in the inner CV
            model = ht.train(
                cube,
                train_map,
                classifier=name,
                classifier_params=(classifier_params or {}).get(name),
                preprocessing=("snv",),
                class_names=CLASS_NAMES,
                random_state=0,
            )
        result = ht.classify_cube(cube, model)
        seconds = time.perf_counter() - start
        test = test_map > 0
        scores = pixel_metrics(test_map[test], result.labels[test], classes=classes)
        rows.append(
            {
                "split": split,
                "classifier": name,
                "train": int(np.count_nonzero(train_map)),
                "test": int(test.sum()),
                "OA": scores["accuracy"],
                "AA": scores["balanced_accuracy"],
                "kappa": scores["kappa"],
                "seconds": seconds,
                "missing": missing,
            }
        )
        maps[(split, name)] = result.labels
        tqdm.write(  # printed above the bars, not through them
            f"{split:>18} | {name:>13} | OA {scores['accuracy']:.3f} | "
            f"AA {scores['balanced_accuracy']:.3f} | kappa {scores['kappa']:.3f} | "
            f"{seconds:.1f} s"
        )
    files = {"table": out / "indian_pines_metrics.md"}
    files["table"].write_text(_table(rows), encoding="utf-8")
    files["maps"] = save_figure(
        _maps_figure(truth, splits, maps, classifiers), out / "maps.png", overwrite=True
    )
    print(f"wrote {files['table']} and {files['maps']}")
    return files


def _table(rows: list[dict]) -> str:
    lines = [
        "| split | classifier | training pixels | test pixels | OA | AA | kappa | time (s) |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['split']} | {r['classifier']} | {r['train']} | {r['test']} | "
            f"{r['OA']:.3f} | {r['AA']:.3f} | {r['kappa']:.3f} | {r['seconds']:.1f} |"
        )
    missing = {r["split"]: r["missing"] for r in rows if r["missing"]}
    for split, ids in missing.items():
        names = ", ".join(CLASS_NAMES[i] for i in ids)
        lines.append(f"\n{split}: test classes with no training pixel: {names}.")
    return "\n".join(lines) + "\n"


def _maps_figure(truth, splits, maps, classifiers) -> Figure:
    n = len(classifiers) + 2
    fig = Figure(figsize=(2.6 * n, 6.4), layout="constrained")
    axes = fig.subplots(2, n, squeeze=False)
    for r, (split, (train_map, _)) in enumerate(splits.items()):
        plot_class_map(truth, class_names=CLASS_NAMES, ax=axes[r, 0], title="ground truth")
        plot_class_map(train_map, class_names=CLASS_NAMES, ax=axes[r, 1], title=f"{split}: train")
        for c, name in enumerate(classifiers, start=2):
            shown = np.where(truth > 0, maps[(split, name)], 0)
            plot_class_map(shown, class_names=CLASS_NAMES, ax=axes[r, c], title=name)
    shared = {}  # one legend for the figure: every colour shown, once
    for ax in axes.flat:
        legend = ax.get_legend()
        if legend is not None:
            for handle, text in zip(legend.legend_handles, legend.get_texts(), strict=True):
                shared.setdefault(text.get_text(), handle)
            legend.remove()
    names = [CLASS_NAMES[c] for c in sorted(CLASS_NAMES) if CLASS_NAMES[c] in shared]
    order = names + [t for t in shared if t not in names]  # the classes, then "unlabelled"
    fig.legend(
        [shared[t] for t in order],
        order,
        loc="outside lower center",
        ncol=6,
        fontsize="small",
        frameon=False,
    )
    return fig


if __name__ == "__main__":
    main(*sys.argv[1:2])
