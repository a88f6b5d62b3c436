"""The `make demo` job: the main job of the library, end to end, on SIMULATED data.

Simulate a small cohort, write each specimen's raw capture folder, calibrate the captures read
back from disk, evaluate SNV→PCA→SVM leave-one-patient-out, train the final model on every
patient, save it, and classify a held-out specimen of a new patient. Everything goes under
``out_dir``: ``captures/``, ``model.htmodel``, ``held_out/`` (tumor map, probability map,
overlays) and ``report/`` (``report.md`` with figures and the metrics table).

The data is SIMULATED by :func:`hsi_tumor.datasets.simulate_cohort` (a physical model, not a
measurement).
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

import numpy as np

from hsi_tumor._shared.errors import CalibrationWarning
from hsi_tumor.calibration import calibrate_capture, tissue_mask
from hsi_tumor.datasets import CLASS_NAMES, Specimen, simulate_cohort
from hsi_tumor.evaluation import LEAVE_ONE_PATIENT_OUT, evaluate, write_report
from hsi_tumor.inference import classify_cube, write_tumor_map
from hsi_tumor.models import save_model, train
from hsi_tumor.viz import plot_patient_report, save_figure

logger = logging.getLogger("hsi_tumor.demo")

__all__ = ["run_demo"]

#: The demo's pipeline (the design of Sato et al. 2020 and of HELICoiD: SNV, PCA, RBF-SVM).
PREPROCESSING = ("snv", "pca")
CLASSIFIER = "svm"

NOTES = """\
**The data is SIMULATED** by `hsi_tumor.datasets.simulate_cohort` (a physical model of NIR
reflectance of gastrointestinal tissue and of a pushbroom camera), not measured. The raw
captures were written as Specim-style folders and calibrated from disk with their white and
dark references, as a lab's would be. The metrics show what the pipeline does on this model,
not how it performs on patients.
"""


def run_demo(
    out_dir: str | Path = "out",
    *,
    random_state: int = 0,
    n_patients: int = 6,
    shape: tuple[int, int] = (96, 120),
    n_bands: int = 100,
    progress: bool = False,
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
    progress : bool, default=False
        Progress bars on the evaluation and the classification.
    seed : int, optional
        Deprecated name of ``random_state`` (DeprecationWarning).

    Returns
    -------
    dict
        ``captures`` (folders), ``model`` (path), ``report`` (``report.md``), ``held_out``
        (the files of the held-out tumor map), ``evaluation`` (:class:`~hsi_tumor.evaluation.
        Evaluation`), ``tumor_map`` (the held-out :class:`~hsi_tumor.TumorMap`) and
        ``held_out_metrics`` (its accuracy, sensitivity and specificity on the specimen's
        true labels).
    """
    if seed is not None:
        warnings.warn(
            "run_demo(seed=) is deprecated: use random_state=", DeprecationWarning, stacklevel=2
        )
        random_state = seed
    seed = int(random_state)
    out = Path(out_dir)
    cohort = simulate_cohort(n_patients + 1, seed=seed, shape=shape, n_bands=n_bands)
    specimens, folders = [], []
    with warnings.catch_warnings():
        # dead camera columns: reported in cube.valid and by the CLI, expected here
        warnings.simplefilter("ignore", CalibrationWarning)
        for sim in cohort:
            folder = sim.write_capture(out / "captures" / sim.name, overwrite=True)
            folders.append(folder)
            # calibrated from disk once and kept: every fold, the final training, the
            # classification and the report figures read these cubes again
            cube = calibrate_capture(
                folder, saturation=sim.saturation, white_reflectance=sim.camera.white_reflectance
            ).load()
            specimens.append(
                Specimen(
                    cube,
                    sim.labels,
                    sim.patient,
                    name=sim.name,
                    tumor_fraction=sim.tumor_fraction,
                    tissue=sim.true_labels > 0,
                )
            )
    logger.info("wrote and calibrated %d simulated captures under %s", len(folders), out)
    cohort_specimens, held = specimens[:-1], specimens[-1]

    evaluation = evaluate(
        cohort_specimens,
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
        cohort_specimens,
        classifier=CLASSIFIER,
        preprocessing=PREPROCESSING,
        class_names=CLASS_NAMES,
        random_state=seed,
    )
    model_path = save_model(model, out / "model.htmodel", overwrite=True)

    mask = tissue_mask(held.cube)
    tumor_map = classify_cube(held.cube, model, mask=mask, progress=progress)
    # the cube, not its pseudo-RGB: the maps then mark its invalid pixels and say SIMULATED
    held_files = write_tumor_map(tumor_map, out / "held_out", background=held.cube, overwrite=True)
    truth = cohort[-1].true_labels
    scored = (truth > 0) & tumor_map.valid
    y, p = truth[scored], tumor_map.labels[scored]
    held_metrics = {
        "accuracy": float(np.mean(y == p)),
        "sensitivity": float(np.mean(p[y == 2] == 2)) if np.any(y == 2) else float("nan"),
        "specificity": float(np.mean(p[y == 1] == 1)) if np.any(y == 1) else float("nan"),
    }
    fig = plot_patient_report(
        held.cube,
        tumor_map,
        labels=truth,
        metrics=held_metrics,
        tumor_fraction=held.tumor_fraction,
        class_names=CLASS_NAMES,
        title=f"Held-out specimen {held.name} (patient {held.patient}, not in training)",
    )
    held_files["report"] = save_figure(fig, out / "held_out" / "report.png", overwrite=True)

    notes = NOTES + (
        f"\n## Held-out specimen\n\nThe final model (trained on all {n_patients} patients, "
        f"saved as `{model_path.name}`) classified the specimen of a new patient "
        f"({held.name}) inside its automatic tissue mask. On every specimen pixel of its "
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
        "captures": folders,
        "model": model_path,
        "report": report,
        "held_out": held_files,
        "evaluation": evaluation,
        "tumor_map": tumor_map,
        "held_out_metrics": held_metrics,
    }
