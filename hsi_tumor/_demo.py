"""The `make demo` job: the main job of the library, end to end, on SIMULATED data.

Simulate a small cohort, write each specimen's raw capture folder, calibrate the captures read
back from disk into reflectance cubes beside them, list the cohort in a manifest
(``cohort.csv``, what ``hsi-tumor train`` and ``hsi-tumor evaluate`` take), evaluate
SNV→PCA→SVM leave-one-patient-out on the specimens the manifest names, train the final model
on every patient, save it, and classify a held-out specimen of a new patient. Everything goes
under ``out_dir``: ``captures/`` (raw captures, ``results/REFLECTANCE_NAME.hdr`` and the
ground truth), ``cohort.csv``, ``model.htmodel``, ``held_out/`` (tumor map, probability map,
overlays) and ``report/`` (``report.md`` with figures and the metrics table).

The data is SIMULATED by :func:`hsi_tumor.datasets.simulate_cohort` (a physical model, not a
measurement).
"""

from __future__ import annotations

import csv
import logging
import os
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from hsi_tumor._shared.atomic import atomic_path
from hsi_tumor._shared.errors import CalibrationWarning
from hsi_tumor.calibration import calibrate_capture, tissue_mask
from hsi_tumor.cube import Cube
from hsi_tumor.datasets import (
    CLASS_NAMES,
    MANIFEST_COLUMNS,
    SimulatedSpecimen,
    read_manifest,
    simulate_cohort,
)
from hsi_tumor.evaluation import LEAVE_ONE_PATIENT_OUT, evaluate, write_report
from hsi_tumor.inference import classify_cube, write_tumor_map
from hsi_tumor.models import save_model, train
from hsi_tumor.viz import plot_patient_report, save_figure

logger = logging.getLogger("hsi_tumor.demo")

__all__ = ["run_demo", "write_cohort"]

#: The demo's pipeline: SNV, PCA, RBF SVM, a classical design of our choosing. Sato et al.
#: (2020) used an SVM; their abstract states neither the preprocessing nor the kernel.
PREPROCESSING = ("snv", "pca")
CLASSIFIER = "svm"

NOTES = """\
**The data is SIMULATED** by `hsi_tumor.datasets.simulate_cohort` (a physical model of NIR
reflectance of gastrointestinal tissue and of a pushbroom camera), not measured. The raw
captures were written as Specim-style folders and calibrated from disk with their white and
dark references, as a lab's would be; the evaluation read the calibrated cubes through the
cohort manifest `cohort.csv`, which `hsi-tumor train` and `hsi-tumor evaluate` take as it is.
The metrics show what the pipeline does on this model, not how it performs on patients.
"""


def _write_specimen(sim: SimulatedSpecimen, out: Path) -> tuple[dict[str, str], Cube]:
    """Write one specimen's raw capture folder and its calibrated reflectance beside it; return
    its manifest row (paths relative to ``out``) and the reflectance (memory-mapped)."""
    folder = sim.write_capture(out / "captures" / sim.name, overwrite=True)
    results = folder / "results"
    reflectance = results / f"REFLECTANCE_{sim.name}.hdr"
    # calibrated from disk by the library: the header's bit depth sets the saturation, the
    # simulated panel reflects 0.99 (a lab gives its panel's certificate)
    cube = calibrate_capture(
        folder, white_reflectance=sim.camera.white_reflectance, out=reflectance
    )
    truth = Path(os.path.relpath(results / f"{sim.name}_ground_truth.npz", out)).as_posix()
    row = {
        "cube": Path(os.path.relpath(reflectance, out)).as_posix(),
        "labels": f"{truth}:annotation",
        "patient": sim.patient,
        "name": sim.name,
        "tumor_fraction": f"{truth}:tumor_fraction",
        "tissue": f"{truth}:true_labels",  # nonzero: the specimen
    }
    return row, cube


def write_cohort(
    cohort: Sequence[SimulatedSpecimen], out_dir: str | os.PathLike, *, name: str = "cohort.csv"
) -> Path:
    """Write simulated specimens as a lab's data: captures, reflectance cubes and a manifest.

    Each specimen gets its Specim-style capture folder ``captures/NAME/`` (raw counts, white
    and dark references, ``results/NAME_ground_truth.npz``) and its reflectance
    ``captures/NAME/results/REFLECTANCE_NAME.hdr``, calibrated from the folder by
    :func:`~hsi_tumor.calibrate_capture`. The manifest ``out_dir/name`` lists them (paths
    relative to it): ``cube``, ``labels`` (the annotation), ``patient``, ``name``,
    ``tumor_fraction`` and ``tissue`` (arrays of the ``.npz``, as ``FILE:ARRAY``), which
    :func:`~hsi_tumor.datasets.read_manifest`, ``hsi-tumor train`` and ``hsi-tumor evaluate``
    read as they are. The capture folders are replaced; the manifest is written atomically.

    Returns
    -------
    pathlib.Path
        The manifest.
    """
    out = Path(out_dir)
    rows = [_write_specimen(sim, out)[0] for sim in cohort]
    manifest = out / name
    with atomic_path(manifest) as tmp, open(tmp, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=MANIFEST_COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    logger.info("wrote %s: %d simulated specimens, calibrated", manifest, len(rows))
    return manifest


def _say_invalid_once(specimens) -> None:
    """The annotated pixels the calibration flagged, said once for the whole demo (evaluate
    and train warn about them too: silenced in the demo)."""
    n_labelled = n_invalid = 0
    for spec in specimens:
        labelled = spec.labels > 0
        n_labelled += int(labelled.sum())
        n_invalid += int((labelled & ~np.asarray(spec.cube.valid).all(axis=2)).sum())
    if n_invalid:
        logger.info(
            "%d of %d annotated pixels are invalid (the simulated camera's dead columns and "
            "saturated glare, NaN in the reflectance): training leaves them out, the evaluation "
            "counts them as not classified",
            n_invalid,
            n_labelled,
        )


def _classify_held_out(sim: SimulatedSpecimen, cube: Cube, model, folder: Path, *, progress):
    """Classify the held-out specimen inside its tissue mask, write its maps and report page;
    score it on every pixel of its true label map."""
    tumor_map = classify_cube(cube, model, mask=tissue_mask(cube), progress=progress)
    # the cube, not its pseudo-RGB: the maps then mark its invalid pixels and say SIMULATED
    files = write_tumor_map(tumor_map, folder, background=cube, overwrite=True)
    truth = sim.true_labels
    scored = (truth > 0) & tumor_map.valid
    y, p = truth[scored], tumor_map.labels[scored]
    metrics = {
        "accuracy": float(np.mean(y == p)),
        "sensitivity": float(np.mean(p[y == 2] == 2)) if np.any(y == 2) else float("nan"),
        "specificity": float(np.mean(p[y == 1] == 1)) if np.any(y == 1) else float("nan"),
    }
    fig = plot_patient_report(
        cube,
        tumor_map,
        labels=sim.labels,  # the annotation a user has; the truth is the tumor-fraction panel
        metrics={f"{k} (true labels)": v for k, v in metrics.items()},
        tumor_fraction=sim.tumor_fraction,
        class_names=CLASS_NAMES,
        title=f"Held-out specimen {sim.name} (patient {sim.patient}, not in training)",
    )
    files["report"] = save_figure(fig, folder / "report.png", overwrite=True)
    return files, tumor_map, metrics


def run_demo(
    out_dir: str | Path = "out",
    *,
    random_state: int = 0,
    n_patients: int = 6,
    shape: tuple[int, int] = (96, 120),
    n_bands: int = 100,
    progress: bool = True,
    seed: int | None = None,
) -> dict:
    """Run the demo; returns what it wrote.

    Parameters
    ----------
    out_dir : path-like, default='out'
        Output folder; the demo's files in it are replaced.
    random_state : int, default=0
        Seed of the simulated cohort, the folds, the training and the bootstrap.
    n_patients : int, default=6
        Patients in the evaluated cohort; one more patient is the held-out specimen.
    shape : (rows, cols), default=(96, 120)
    n_bands : int, default=100
    progress : bool, default=True
        Progress bars on the evaluation, the training and the classification.
    seed : int, optional
        Deprecated name of ``random_state`` (DeprecationWarning).

    Returns
    -------
    dict
        ``captures`` (folders), ``manifest`` (``cohort.csv``: the evaluated patients'
        calibrated cubes, as :func:`write_cohort` writes them), ``held_out_cube`` (the
        held-out specimen's calibrated cube, not in the manifest), ``model`` (path),
        ``report`` (``report.md``), ``held_out`` (the files of the held-out tumor map),
        ``evaluation`` (:class:`~hsi_tumor.evaluation.Evaluation`), ``tumor_map`` (the
        held-out :class:`~hsi_tumor.TumorMap`) and ``held_out_metrics`` (its accuracy,
        sensitivity and specificity on the specimen's true labels).
    """
    if seed is not None:
        warnings.warn(
            "run_demo(seed=) is deprecated: use random_state=", DeprecationWarning, stacklevel=2
        )
        random_state = seed
    seed = int(random_state)
    out = Path(out_dir)
    cohort = simulate_cohort(n_patients + 1, seed=seed, shape=shape, n_bands=n_bands)
    held_sim = cohort[-1]
    with warnings.catch_warnings():
        # the simulated camera's dead columns and saturated glare: NaN in the reflectance,
        # False in cube.valid, said once by _say_invalid_once (calibrate, evaluate and train
        # would each warn about them)
        warnings.simplefilter("ignore", CalibrationWarning)
        manifest = write_cohort(list(cohort)[:-1], out)
        held_row, held_cube = _write_specimen(held_sim, out)  # a new patient: not listed
        specimens = read_manifest(manifest)  # as hsi-tumor train / evaluate read it
        _say_invalid_once(specimens)
        evaluation = evaluate(
            specimens,
            classifier=CLASSIFIER,
            preprocessing=PREPROCESSING,
            class_names=CLASS_NAMES,
            cv=LEAVE_ONE_PATIENT_OUT,
            random_state=seed,
            keep_maps=True,
            progress=progress,
        )
        logger.info("leave-one-patient-out: %r", evaluation)
        model = train(
            specimens,
            classifier=CLASSIFIER,
            preprocessing=PREPROCESSING,
            class_names=CLASS_NAMES,
            random_state=seed,
            progress=progress,
        )
    model_path = save_model(model, out / "model.htmodel", overwrite=True)
    held_files, tumor_map, held_metrics = _classify_held_out(
        held_sim, held_cube, model, out / "held_out", progress=progress
    )

    notes = NOTES + (
        f"\n## Held-out specimen\n\nThe final model (trained on all {n_patients} patients, "
        f"saved as `{model_path.name}`) classified the specimen of a new patient "
        f"({held_sim.name}) inside its automatic tissue mask. On every specimen pixel of its "
        "true label map: "
        + ", ".join(f"{k} {100 * v:.1f} %" for k, v in held_metrics.items())
        + ".\n\n![held-out specimen](../held_out/report.png)\n"
    )
    report = write_report(
        evaluation,
        out / "report",
        title="hsi_tumor demo: SNV → PCA → SVM, leave-one-patient-out (SIMULATED data)",
        notes=notes,
        overwrite=True,
    )
    return {
        "captures": [out / "captures" / sim.name for sim in cohort],
        "manifest": manifest,
        "held_out_cube": out / held_row["cube"],
        "model": model_path,
        "report": report,
        "held_out": held_files,
        "evaluation": evaluation,
        "tumor_map": tumor_map,
        "held_out_metrics": held_metrics,
    }
