"""as_specimens: the forms a dataset can take, brought to a list of :class:`~hsi_tumor.Specimen`."""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np

from hsi_tumor._shared.errors import InvalidOptionError, InvalidTypeError, TrainingDataError
from hsi_tumor.calibration._inputs import as_cube
from hsi_tumor.cube import Cube
from hsi_tumor.specimen import Specimen

__all__ = ["Specimen", "as_specimens"]


def _from_simulated(specimen) -> Specimen:
    """A simulated specimen as the lab would have it (calibrated reflectance, annotation, true
    tumor fraction), without the raw capture and the rest of the truth: what evaluation sends
    to its workers stays small."""
    return Specimen(
        cube=specimen.cube,
        labels=specimen.labels,
        patient=specimen.patient,
        name=specimen.name,
        tumor_fraction=specimen.tumor_fraction,
        tissue=specimen.tissue,
        class_names=specimen.class_names,
    )


def as_specimens(
    data,
    label_maps: Sequence[np.ndarray] | None = None,
    groups: Sequence | None = None,
) -> list[Specimen]:
    """Bring the forms a dataset can take to a list of :class:`Specimen`.

    Parameters
    ----------
    data : sequence of Specimen, SimulatedCohort, sequence of SimulatedSpecimen, or cubes
        Specimens as they are; simulated specimens are calibrated from their raw capture
        (:meth:`~hsi_tumor.datasets.SimulatedSpecimen.calibrate`) and labelled with their
        sparse pathologist-style ``annotation``, with the true tumor fraction kept; cubes (or
        paths: a Specim capture folder is calibrated, see :func:`hsi_tumor.calibration.as_cube`)
        need ``label_maps`` and ``groups``.
    label_maps : sequence of ndarray, optional
        One (rows, cols) label map per cube, when ``data`` holds cubes.
    groups : sequence, optional
        Patient id per cube, when ``data`` holds cubes. Default: each cube its own patient.

    Returns
    -------
    list of Specimen
    """
    from hsi_tumor.datasets._simulate import SimulatedCohort, SimulatedSpecimen

    if isinstance(data, (SimulatedCohort, SimulatedSpecimen, Specimen, Cube)):
        data = list(data) if isinstance(data, SimulatedCohort) else [data]
    data = list(data)
    if not data:
        raise TrainingDataError("no specimens given", field="data", fix="give at least one")
    if label_maps is None:
        if groups is not None:
            raise InvalidOptionError(
                "groups are only used with cubes and label_maps",
                field="groups",
                fix="set Specimen.patient instead",
            )
        out = []
        for i, item in enumerate(data):
            if isinstance(item, SimulatedSpecimen):
                out.append(_from_simulated(item))
            elif isinstance(item, Specimen):
                out.append(item)
            else:
                raise InvalidTypeError(
                    f"data[{i}] is a {type(item).__name__}; without label_maps every item must "
                    "be a Specimen or a SimulatedSpecimen",
                    field="label_maps",
                    fix="give label_maps (and groups) with cubes, or wrap them as Specimen",
                )
        return out
    label_maps = [label_maps] if isinstance(label_maps, np.ndarray) else list(label_maps)
    if len(label_maps) != len(data):
        raise TrainingDataError(
            f"{len(label_maps)} label maps for {len(data)} cubes",
            field="label_maps",
            fix="give one (rows, cols) label map per cube, in the same order",
        )
    groups = list(range(len(data))) if groups is None else list(groups)
    if len(groups) != len(data):
        raise TrainingDataError(
            f"{len(groups)} patient ids for {len(data)} cubes",
            field="groups",
            fix="give one patient id per cube",
        )
    out = []
    for i, (cube, labels, patient) in enumerate(zip(data, label_maps, groups, strict=True)):
        if isinstance(cube, (str, os.PathLike)):
            name = os.path.basename(os.path.normpath(os.fspath(cube)))
        else:
            name = f"cube {i}"
        cube = as_cube(cube, field=f"data[{i}]")
        out.append(Specimen(cube, labels, str(patient), name=name))
    return out
