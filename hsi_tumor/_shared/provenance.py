"""Where data comes from: one test of whether data is SIMULATED, for every figure and report.

Decision: data is simulated when its metadata says so. The simulator
(:func:`hsi_tumor.datasets.simulate_specimen`) marks every cube it makes with
``metadata["simulated"] = True`` and a ``description`` that begins "SIMULATED specimen"; the
description is what survives a round trip through a file (ENVI ``description``), so a cube read
back from a simulated capture folder, and the reflectance calibrated from it, are still known to
be simulated. A :class:`~hsi_tumor.datasets.SimulatedSpecimen` (class attribute
``simulated = True``) is simulated whatever its cube says.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

__all__ = ["SIMULATED", "is_simulated"]

#: The word every figure and report made from simulated data shows in its title.
SIMULATED = "SIMULATED"

_WORD = re.compile(r"\bsimulated\b", re.IGNORECASE)
_TRUE = {"1", "true", "yes", "y", "t"}


def _metadata_says(metadata: Mapping) -> bool:
    flag = metadata.get("simulated")
    if isinstance(flag, str):
        if flag.strip().lower() in _TRUE:
            return True
    elif flag is not None and bool(flag):
        return True
    description = metadata.get("description")
    return isinstance(description, str) and _WORD.search(description) is not None


def is_simulated(*sources) -> bool:
    """Whether any of ``sources`` is simulated data (see the module's decision).

    Parameters
    ----------
    *sources
        Cubes (their ``metadata``), specimens (their ``simulated`` attribute, else their
        ``cube``), metadata mappings, or lists of these. None and anything else count as not
        simulated.

    Returns
    -------
    bool

    Examples
    --------
    >>> from hsi_tumor._shared.provenance import is_simulated
    >>> is_simulated({"description": "SIMULATED specimen (hsi_tumor.datasets)"}, None)
    True
    >>> is_simulated({"simulated": "false", "description": "gastric GIST, patient 7"})
    False
    """
    for source in sources:
        if source is None or isinstance(source, (str, bytes)):
            continue
        if getattr(source, "simulated", None) is True:
            return True
        if isinstance(source, Mapping):
            if _metadata_says(source):
                return True
            continue
        metadata = getattr(source, "metadata", None)
        if isinstance(metadata, Mapping) and _metadata_says(metadata):
            return True
        cube = getattr(source, "cube", None)
        if cube is not None and cube is not source and is_simulated(cube):
            return True
        if isinstance(source, (list, tuple)) and is_simulated(*source):
            return True
    return False
