"""The cross-validation schemes of an evaluation and the splitting of specimens into folds:
whole patients on one side (leave-one-patient-out, k folds by patient) or, only when asked for,
stratified random pixel folds."""

from __future__ import annotations

import numpy as np
from sklearn.model_selection import GroupKFold, LeaveOneGroupOut, StratifiedKFold

from hsi_tumor._shared.errors import InvalidOptionError, TrainingDataError
from hsi_tumor.datasets._specimen import Specimen

__all__ = ["LEAVE_ONE_PATIENT_OUT", "RANDOM", "RANDOM_FOLDS"]

LEAVE_ONE_PATIENT_OUT = "leave-one-patient-out"
#: Pixel-wise random folds: pixels of one patient on both sides, so optimistic.
RANDOM = "random"
#: Folds of ``cv="random"``.
RANDOM_FOLDS = 5


def _splits(specimens: list[Specimen], cv, seed: int):
    """Yield ``(train, test)``: per specimen, the flat pixels on each side (None = not used)."""
    patients = np.array([s.patient for s in specimens])
    labelled = [np.flatnonzero(s.labels.reshape(-1)) for s in specimens]
    if cv == RANDOM:
        units = np.concatenate([np.full(f.size, i) for i, f in enumerate(labelled)])
        flat = np.concatenate(labelled)
        y = np.concatenate(
            [s.labels.reshape(-1)[f] for s, f in zip(specimens, labelled, strict=True)]
        )
        folds = StratifiedKFold(RANDOM_FOLDS, shuffle=True, random_state=seed)
        for tr, te in folds.split(flat, y):
            yield (
                [flat[tr][units[tr] == i] for i in range(len(specimens))],
                [flat[te][units[te] == i] for i in range(len(specimens))],
            )
        return
    n_patients = np.unique(patients).size
    if cv == LEAVE_ONE_PATIENT_OUT:
        splitter = LeaveOneGroupOut()
    else:
        splitter = GroupKFold(int(cv), shuffle=True, random_state=seed)
    if n_patients < 2 or (cv != LEAVE_ONE_PATIENT_OUT and int(cv) > n_patients):
        raise TrainingDataError(
            f"{n_patients} patient(s) cannot make {cv} patient-wise folds",
            field="cv",
            fix="give specimens of more patients, fewer folds, or cv='random' (optimistic)",
        )
    index = np.arange(len(specimens))
    for tr, te in splitter.split(index, groups=patients):
        train_set, test_set = set(tr.tolist()), set(te.tolist())
        yield (
            [labelled[i] if i in train_set else None for i in index],
            [labelled[i] if i in test_set else None for i in index],
        )


def _check_cv(cv) -> str | int:
    if cv in (LEAVE_ONE_PATIENT_OUT, RANDOM):
        return cv
    if isinstance(cv, (int, np.integer)) and not isinstance(cv, bool) and cv >= 2:
        return int(cv)
    raise InvalidOptionError(
        f"cv={cv!r}",
        field="cv",
        fix=f"use '{LEAVE_ONE_PATIENT_OUT}', an int k ≥ 2 (k folds by patient) or "
        f"'{RANDOM}' (pixel folds, optimistic)",
    )
