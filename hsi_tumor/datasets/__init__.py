"""Datasets: the NIR tissue simulator (SIMULATED data, with exact ground truth), and cohorts of
real data listed in a manifest CSV (:func:`read_manifest`).

No public NIR hyperspectral cube of tumors with ground truth exists, so hsi_tumor brings a
physical stand-in::

    from hsi_tumor.datasets import simulate_specimen, simulate_cohort
    spec = simulate_specimen(seed=0)             # 256 x 320 x 128, 900–1700 nm, a few seconds
    spec.raw, spec.white, spec.dark              # uint16 Cubes (12-bit pushbroom camera)
    spec.cube, spec.labels                      # a Specimen: reflectance and annotation
    spec.tumor_fraction, spec.true_labels, spec.mucosa_thickness   # the exact truth
    reflectance = spec.cube                      # calibrated (spec.calibrate(): lazily again)
    spec.write_capture("out/sim_000")            # Specim-style folder via hsi_tumor.write_capture
    cohort = simulate_cohort(n_patients=10, seed=0)

Everything it returns is simulated, not measured; docs/simulator.md states the model and a
table, generated from the code, of every constant with its source or marked as an assumption.

Building blocks (closed forms, usable on their own): :func:`chromophore_absorption`,
:func:`absorption`, :func:`reduced_scattering`, :func:`diffuse_reflectance`,
:func:`penetration_depth`, :func:`layered_reflectance`.
"""

from hsi_tumor.datasets._anatomy import Anatomy
from hsi_tumor.datasets._camera import Camera
from hsi_tumor.datasets._chromophores import (
    BANDS,
    CHROMOPHORES,
    absorption,
    band_averaged_absorption,
    chromophore_absorption,
)
from hsi_tumor.datasets._geometry import Tumor
from hsi_tumor.datasets._manifest import MANIFEST_COLUMNS, read_manifest
from hsi_tumor.datasets._optics import (
    diffuse_reflectance,
    internal_reflection_parameter,
    layered_reflectance,
    penetration_depth,
    reduced_scattering,
)
from hsi_tumor.datasets._simulate import (
    CLASS_NAMES,
    SimulatedCohort,
    SimulatedSpecimen,
    TissueComposition,
    draw_patient,
    simulate_cohort,
    simulate_specimen,
)
from hsi_tumor.datasets._specimen import Specimen, as_specimens
from hsi_tumor.datasets._tissue import TISSUES

__all__ = [
    "BANDS",
    "CHROMOPHORES",
    "CLASS_NAMES",
    "MANIFEST_COLUMNS",
    "TISSUES",
    "Anatomy",
    "Camera",
    "SimulatedCohort",
    "SimulatedSpecimen",
    "Specimen",
    "TissueComposition",
    "Tumor",
    "absorption",
    "as_specimens",
    "band_averaged_absorption",
    "chromophore_absorption",
    "diffuse_reflectance",
    "draw_patient",
    "internal_reflection_parameter",
    "layered_reflectance",
    "penetration_depth",
    "read_manifest",
    "reduced_scattering",
    "simulate_cohort",
    "simulate_specimen",
]
