"""The one error hierarchy of hsi_tumor.

Every error the library raises on bad input is a subclass of :class:`HsiTumorError`, and its
message names the file (when there is one), the field and the fix.  The subclasses also derive
from the matching built-in exception (``ValueError``, ``FileNotFoundError``), so code that already
catches those keeps working.
"""

from __future__ import annotations

import os

__all__ = [
    "CalibrationError",
    "CalibrationWarning",
    "CubeFormatError",
    "HsiTumorError",
    "InvalidOptionError",
    "MissingDependencyError",
    "MissingFileError",
    "ModelFileError",
    "OutputExistsError",
    "TrainingDataError",
    "WavelengthError",
]


class HsiTumorError(Exception):
    """Base class of every error raised by hsi_tumor on bad input.

    Parameters
    ----------
    problem : str
        What is wrong, in one sentence.
    file : str or os.PathLike, optional
        The file the problem was found in.
    field : str, optional
        The header field, dataset, variable or argument that is wrong.
    fix : str, optional
        What the user can do about it.

    Attributes
    ----------
    problem, file, field, fix : str or None
        The parts of the message, kept for code that wants to react to them.
    """

    def __init__(
        self,
        problem: str,
        *,
        file: str | os.PathLike | None = None,
        field: str | None = None,
        fix: str | None = None,
    ) -> None:
        self.problem = problem
        self.file = None if file is None else os.fspath(file)
        self.field = field
        self.fix = fix
        parts = []
        if self.file is not None:
            parts.append(f"{self.file}:")
        if field is not None:
            parts.append(f"field '{field}':")
        parts.append(problem.rstrip("."))
        message = " ".join(parts) + "."
        if fix:
            message += f" Fix: {fix.rstrip('.')}."
        super().__init__(message)

    def __reduce__(self):  # keep the keyword-only constructor picklable (multiprocessing, Dask)
        return (_rebuild, (type(self), self.problem, self.file, self.field, self.fix))


def _rebuild(cls, problem, file, field, fix):
    return cls(problem, file=file, field=field, fix=fix)


class CubeFormatError(HsiTumorError, ValueError):
    """A cube file, header or array is malformed, truncated or of an unsupported kind."""


class MissingFileError(HsiTumorError, FileNotFoundError):
    """A file the library needs (a cube, its header, its data file, a reference) does not exist."""


class WavelengthError(HsiTumorError, ValueError):
    """Wavelengths are missing, do not match the band count, are not ascending, or do not match."""


class CalibrationError(HsiTumorError, ValueError):
    """Raw, white and dark references cannot be combined into reflectance."""


class OutputExistsError(HsiTumorError, FileExistsError):
    """An output file or folder exists already and overwriting it was not asked for."""


class InvalidOptionError(HsiTumorError, TypeError):
    """A function was given an option it does not know, or an option of the wrong kind."""


class TrainingDataError(HsiTumorError, ValueError):
    """Training cubes and label maps cannot train a classifier (one class, no labels, ...)."""


class ModelFileError(HsiTumorError, ValueError):
    """A model file is corrupt, tampered with, from an unknown format, or holds untrusted types."""


class MissingDependencyError(HsiTumorError, ImportError):
    """An optional dependency needed for what was asked is not installed (the fix names the
    extra to install)."""


class CalibrationWarning(UserWarning):
    """Calibration flagged pixel-bands it could not compute (bad references, saturation)."""
