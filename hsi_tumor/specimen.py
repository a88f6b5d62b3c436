"""Specimen: one annotated cube of one patient, the unit of training and evaluation."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np

from hsi_tumor._shared.classes import class_name_map
from hsi_tumor._shared.display import facts_table
from hsi_tumor._shared.errors import TrainingDataError
from hsi_tumor._shared.wavelengths import describe_grid
from hsi_tumor.cube import Cube

__all__ = ["Specimen", "class_names_of"]


@dataclass(eq=False)
class Specimen:
    """One calibrated cube of one patient with its annotation.

    Attributes
    ----------
    cube : Cube
        Calibrated cube (reflectance or absorbance), possibly lazy.
    labels : ndarray of int, shape (rows, cols)
        Annotation: 0 = unlabelled, other values are class ids (e.g. 1 = normal, 2 = tumor).
    patient : str
        Patient id. Evaluation never puts one patient's specimens on both sides of a split.
    name : str
        Specimen name, for reports (default: the patient id).
    tumor_fraction : ndarray of float, shape (rows, cols), optional
        Ground-truth fraction of each pixel that is tumor (0..1), where known (simulated data,
        or a pathology map registered to the image). Enables the fuzzy Dice and area error.
    tissue : ndarray of bool, shape (rows, cols), optional
        The specimen's pixels, over which tumor fraction and area are compared. Default: every
        pixel.
    class_names : mapping of int to str, optional
        What the label ids mean, e.g. ``{1: "normal", 2: "tumor"}`` (simulated specimens carry
        the simulator's). :func:`hsi_tumor.train` and :func:`hsi_tumor.evaluate` use them when
        no ``class_names`` is passed; the class named "tumor" is the positive class.
    """

    cube: Cube
    labels: np.ndarray
    patient: str
    name: str = ""
    tumor_fraction: np.ndarray | None = None
    tissue: np.ndarray | None = None
    class_names: Mapping[int, str] | None = None

    def __post_init__(self) -> None:
        self.patient = str(self.patient)
        self.name = str(self.name or self.patient)
        self.labels = np.asarray(self.labels)
        rows_cols = self.cube.shape[:2]
        for field, value in (
            ("labels", self.labels),
            ("tumor_fraction", self.tumor_fraction),
            ("tissue", self.tissue),
        ):
            if value is not None and np.shape(value) != rows_cols:
                raise TrainingDataError(
                    f"specimen {self.name!r}: {field} has shape {np.shape(value)}, the cube has "
                    f"{rows_cols} pixels",
                    field=field,
                    fix="give a (rows, cols) map of the cube's size",
                )
        if self.tumor_fraction is not None:
            self.tumor_fraction = np.asarray(self.tumor_fraction, dtype=np.float64)
        if self.tissue is not None:
            self.tissue = np.asarray(self.tissue, dtype=bool)
        if self.class_names is not None:
            self.class_names = class_name_map(self.class_names)

    def __repr__(self) -> str:
        rows, cols, bands = self.cube.shape
        labelled = int(np.count_nonzero(self.labels))
        return (
            f"Specimen({self.name!r}, patient {self.patient!r}, {rows}x{cols}x{bands}, "
            f"{labelled} labelled pixels"
            + (", tumor fraction known" if self.tumor_fraction is not None else "")
            + ")"
        )

    def _repr_html_(self) -> str:
        """Name, patient, the cube's size and wavelengths, the labelled pixels per class id."""
        rows, cols = self.cube.shape[:2]
        ids, n = np.unique(self.labels[self.labels != 0], return_counts=True)
        labelled = ", ".join(
            f"class {i}: {k}" for i, k in zip(ids.tolist(), n.tolist(), strict=True)
        )
        facts = [("data", "SIMULATED, not a measurement")] if self._simulated() else []
        facts += [
            ("name", self.name),
            ("patient", self.patient),
            ("cube", f"{rows} rows x {cols} cols, {describe_grid(self.cube.wavelengths)}"),
            ("labelled pixels", f"{int(n.sum())} ({labelled})" if n.size else "none"),
            ("tumor fraction", "known" if self.tumor_fraction is not None else "not known"),
        ]
        if self.tissue is not None:
            facts.append(("tissue", f"{int(self.tissue.sum())} pixels"))
        return facts_table(f"hsi_tumor.{type(self).__name__}", facts)

    def _simulated(self) -> bool:
        """A simulated specimen (``SimulatedSpecimen``), or a cube its header calls simulated."""
        flag = self.cube.metadata.get("simulated") if hasattr(self.cube, "metadata") else None
        return bool(getattr(self, "simulated", False)) or flag in (True, "true", "True", "1")


def class_names_of(specimens: Iterable[Specimen]) -> dict[int, str] | None:
    """The class names the specimens carry, merged; None when none carries any.

    Raises
    ------
    TrainingDataError
        If two specimens give one class id different names.
    """
    names: dict[int, str] = {}
    named_by: dict[int, str] = {}
    for specimen in specimens:
        for class_id, name in (specimen.class_names or {}).items():
            if names.setdefault(class_id, name) != name:
                raise TrainingDataError(
                    f"specimens {named_by[class_id]!r} and {specimen.name!r} name class "
                    f"{class_id} {names[class_id]!r} and {name!r}",
                    field="class_names",
                    fix="give class_names= explicitly, or make the specimens' class_names agree",
                )
            named_by.setdefault(class_id, specimen.name)
    return names or None
