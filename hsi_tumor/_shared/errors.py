"""The one error hierarchy of hsi_tumor.

Every error the library raises is a subclass of :class:`HsiTumorError`, and its message names the
file (when there is one), the field and the fix.  The library never raises the base class
itself: each subclass names one kind of problem and also derives from the matching built-in
exception, so code that catches the built-in keeps working::

    HsiTumorError
    ├── CubeFormatError         ValueError         a malformed cube file, header or array
    ├── WavelengthError         ValueError         wavelengths or band counts that do not match
    ├── CalibrationError        ValueError         references that cannot make reflectance
    ├── TrainingDataError       ValueError         cubes and labels that cannot train a model
    ├── ModelFileError          ValueError         a corrupt or untrusted model file
    ├── NoValidPixelsError      ValueError         an empty mask, or no finite pixel to use
    ├── InvalidOptionError      ValueError         an unknown option, a bad value or shape
    │   ├── InvalidTypeError    TypeError          an argument of the wrong type
    │   └── InvalidParameterError  scikit-learn's  an estimator parameter rejected in fit
    ├── CubeIndexError          IndexError         too many indices for a cube
    ├── UnknownClassError       KeyError           a class name or id the model does not have
    ├── MissingFileError        FileNotFoundError  a file that does not exist
    ├── OutputExistsError       FileExistsError    output that would be overwritten
    ├── MissingDependencyError  ImportError        an optional dependency not installed
    ├── DeviceError             RuntimeError       no usable GPU for ``device="cuda"``
    └── BatchError              RuntimeError       inputs of a batch that failed

``tests/_shared/test_errors.py`` checks every ``raise`` statement of the package against this.
"""

from __future__ import annotations

import os

from sklearn.utils._param_validation import InvalidParameterError as _SklearnParameterError

__all__ = [
    "BatchError",
    "CalibrationError",
    "CalibrationWarning",
    "CubeFormatError",
    "CubeIndexError",
    "DeviceError",
    "HsiTumorError",
    "HsiTumorWarning",
    "InvalidOptionError",
    "InvalidParameterError",
    "InvalidTypeError",
    "MissingDependencyError",
    "MissingFileError",
    "ModelFileError",
    "NoValidPixelsError",
    "OutputExistsError",
    "ReferenceWarning",
    "TrainingDataError",
    "UnknownClassError",
    "WavelengthError",
]


class HsiTumorError(Exception):
    """Base class of every error raised by hsi_tumor; never raised itself (a subclass says what).

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
    """Wavelengths are missing, do not match the band count, are not ascending, or do not match
    (also a cube whose band count differs from the one a model or transformer was fitted on)."""


class CalibrationError(HsiTumorError, ValueError):
    """Raw, white and dark references cannot be combined into reflectance."""


class OutputExistsError(HsiTumorError, FileExistsError):
    """An output file or folder exists already and overwriting it was not asked for."""


class InvalidOptionError(HsiTumorError, ValueError):
    """A function was given an option it does not know, or an argument of a bad value or shape.

    Its subclasses :class:`InvalidTypeError` (an argument of the wrong type) and
    :class:`InvalidParameterError` (an estimator parameter) are caught by ``except
    InvalidOptionError`` too.
    """


class InvalidTypeError(InvalidOptionError, TypeError):
    """An argument is of the wrong type (a list where a Cube is needed, a float for a count)."""


class InvalidParameterError(InvalidOptionError, _SklearnParameterError):
    """An estimator's parameters, checked together in ``fit``, cannot work (an even
    Savitzky–Golay window, ``min_nm > max_nm``); also scikit-learn's ``InvalidParameterError``."""


class NoValidPixelsError(HsiTumorError, ValueError):
    """A mask selects no pixel, or no pixel is valid (all masked, NaN/inf or flagged invalid)."""


class CubeIndexError(HsiTumorError, IndexError):
    """A cube was indexed with more than its three axes (rows, cols, bands)."""


class UnknownClassError(HsiTumorError, KeyError):
    """A class name or id that the model does not have."""

    def __str__(self) -> str:  # the message as written, not KeyError's repr of it
        return str(self.args[0]) if self.args else ""


class TrainingDataError(HsiTumorError, ValueError):
    """Training cubes and label maps cannot train a classifier (one class, no labels, ...)."""


class ModelFileError(HsiTumorError, ValueError):
    """A model file is corrupt, tampered with, from an unknown format, or holds untrusted types."""


class MissingDependencyError(HsiTumorError, ImportError):
    """An optional dependency needed for what was asked is not installed (the fix names the
    extra to install)."""


class DeviceError(HsiTumorError, RuntimeError):
    """The device asked for (``device="cuda"``, ``"cuda:1"``) is not visible on this machine."""


class BatchError(HsiTumorError, RuntimeError):
    """Some inputs of a batch could not be processed (:meth:`BatchResult.raise_on_failure`)."""


class HsiTumorWarning(UserWarning):
    """Base class of the library's warnings: a result that may not be what was meant."""


class CalibrationWarning(HsiTumorWarning):
    """Pixel-bands flagged invalid (bad references, saturation): by calibration, and where
    training and evaluation leave labelled pixels out for them."""


class ReferenceWarning(HsiTumorWarning):
    """A learned tumor-fraction model, whose training specimens' references were taken over
    their masks, estimates a cube over every pixel (``estimate_fraction(mask=None)``): the
    cube's reference then includes its background."""
