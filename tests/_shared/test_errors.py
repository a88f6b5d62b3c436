"""Errors by kind: every ``raise`` in the package raises a specific HsiTumorError subclass that
also derives from the matching built-in exception (never the base class or a bare built-in),
and names the fix."""

from __future__ import annotations

import ast
import builtins
import pickle
from pathlib import Path

import pytest
from sklearn.utils._param_validation import InvalidParameterError as SklearnParameterError

import hsi_tumor
from hsi_tumor._shared import errors

PACKAGE = Path(hsi_tumor.__file__).resolve().parent
ERRORS_MODULES = {"hsi_tumor._shared.errors", "hsi_tumor"}

NORMALIZATION = "hsi_tumor/preprocessing/_normalization.py"
SELECTION = "hsi_tumor/preprocessing/_wavelength_selection.py"
ABSTRACT = "an abstract method of a private base class: every subclass overrides it"

#: (module, enclosing function, what is raised): why that raise is right as it is.
ALLOWED = {
    ("hsi_tumor/io/__init__.py", "__getattr__", "AttributeError"): (
        "the module __getattr__ of the deprecated alias hsi_tumor.io.write_tumor_map: a module's "
        "__getattr__ must raise AttributeError for any other name (hasattr(), getattr(..., "
        "default) and `from hsi_tumor.io import name` rely on exactly that)"
    ),
    ("hsi_tumor/napari/__init__.py", "__getattr__", "AttributeError"): (
        "the module __getattr__ that imports the Qt widgets of the napari plugin on first use: "
        "it must raise AttributeError for any other name, like hsi_tumor.io's"
    ),
    ("hsi_tumor/_shared/classes.py", "check_label_map", "error"): (
        "the caller's kind of error, a parameter typed type[HsiTumorError] (CubeFormatError for "
        "a file's content, TrainingDataError for training data, InvalidOptionError by default); "
        "tests/_shared/test_classes.py checks the default and a passed class"
    ),
    ("hsi_tumor/cli.py", "_cv", "argparse.ArgumentTypeError"): (
        "argparse's protocol for a type= function: argparse catches it and prints a usage error "
        "naming the option (exit code 2); it never leaves the parser"
    ),
    ("hsi_tumor/cli.py", "_at_least.parse", "argparse.ArgumentTypeError"): (
        "argparse's protocol for a type= function (a number with a lower bound: --neighbors, "
        "--jobs, --bootstrap, ...): argparse prints it as a one-line usage error naming the "
        "option (exit code 2); it never leaves the parser"
    ),
    ("hsi_tumor/datasets/_manifest.py", "_row_specimen", "wrapped"): (
        "a re-raise: rebuilds the caught error's own class, type(exc), with the manifest row "
        "added to the message; that error comes from a raise this test checks"
    ),
    (NORMALIZATION, "_RowNormalization._shift_and_scale", "NotImplementedError"): ABSTRACT,
    (SELECTION, "_BandSelector._keep", "NotImplementedError"): ABSTRACT,
    (SELECTION, "_BandSelector._describe_selection", "NotImplementedError"): ABSTRACT,
}

BUILTIN_EXCEPTIONS = {
    value
    for value in vars(builtins).values()
    if isinstance(value, type)
    and issubclass(value, BaseException)
    and value not in (BaseException, Exception)
}


def error_kind_problem(cls) -> str | None:
    """Why ``cls`` may not be raised (None when it may): it must be a strict subclass of
    HsiTumorError that also derives from a built-in exception more specific than Exception."""
    if not (isinstance(cls, type) and issubclass(cls, errors.HsiTumorError)):
        return f"{cls!r} is not an HsiTumorError"
    if cls is errors.HsiTumorError:
        return "raises the base class HsiTumorError; raise the subclass that names the problem"
    if not BUILTIN_EXCEPTIONS.intersection(cls.__mro__):
        return f"{cls.__name__} derives from no built-in exception (ValueError, TypeError, ...)"
    return None


class _RaiseChecker(ast.NodeVisitor):
    """Collects the problems of every ``raise`` of one module."""

    def __init__(self, tree: ast.Module, module: str) -> None:
        self.module = module
        self.imported: dict[str, str] = {}  # local name -> module it was imported from
        self.returns: dict[str, list[ast.expr | None]] = {}  # factory name -> return annotations
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module:
                for alias in node.names:
                    self.imported[alias.asname or alias.name] = node.module
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                self.returns.setdefault(node.name, []).append(node.returns)
        self.scope: list[str] = []
        self.problems: list[str] = []
        self.allowed: set[tuple[str, str, str]] = set()

    def _scoped(self, node) -> None:
        self.scope.append(node.name)
        self.generic_visit(node)
        self.scope.pop()

    visit_ClassDef = visit_FunctionDef = visit_AsyncFunctionDef = _scoped

    def _resolve(self, expr: ast.expr):
        """The class raised by ``raise expr(...)``, or a string saying why it is not known."""
        if not isinstance(expr, ast.Name):
            return f"raises {ast.unparse(expr)}: import hsi_tumor's error classes by name"
        name = expr.id
        if name in self.returns:  # a factory function: trust its return annotation
            annotations = self.returns[name]
            if len(annotations) != 1 or annotations[0] is None:
                return f"the factory {name}() needs one definition with a return annotation"
            return self._resolve(annotations[0])
        if self.imported.get(name) in ERRORS_MODULES:
            return getattr(errors, name, f"{name} is not in hsi_tumor._shared.errors")
        if name in self.imported:
            return f"raises {name} from {self.imported[name]}, not an hsi_tumor error class"
        if isinstance(getattr(builtins, name, None), type):
            return f"raises the bare built-in {name}; raise an hsi_tumor error of that kind"
        return f"raises {name}: re-raise a caught error with a bare `raise`"

    def visit_Raise(self, node: ast.Raise) -> None:
        self.generic_visit(node)
        if node.exc is None:  # a bare re-raise
            return
        target = node.exc.func if isinstance(node.exc, ast.Call) else node.exc
        key = (self.module, ".".join(self.scope), ast.unparse(target))
        if key in ALLOWED:
            self.allowed.add(key)
            return
        resolved = self._resolve(target)
        problem = resolved if isinstance(resolved, str) else error_kind_problem(resolved)
        if not problem and not isinstance(node.exc, ast.Call):
            problem = f"raises the class {target.id}: give the problem, the field and the fix"
        elif not problem and target.id not in self.returns:
            keywords = {k.arg for k in node.exc.keywords}
            if "fix" not in keywords and None not in keywords:  # None: **options
                problem = f"{target.id}(...) names no fix=: say what the user can do"
        if problem:
            self.problems.append(f"{self.module}:{node.lineno}: {problem}")


def check_source(source: str, module: str) -> tuple[list[str], set]:
    """Problems of the ``raise`` statements of ``source``, and the ALLOWED entries it uses."""
    tree = ast.parse(source)
    checker = _RaiseChecker(tree, module)
    checker.visit(tree)
    return checker.problems, checker.allowed


def test_every_raise_is_an_error_by_kind():
    problems, used = [], set()
    modules = sorted(PACKAGE.rglob("*.py"))
    assert len(modules) > 50
    for path in modules:
        module = path.relative_to(PACKAGE.parent).as_posix()
        found, allowed = check_source(path.read_text(encoding="utf-8"), module)
        problems += found
        used |= allowed
    assert not problems, "\n".join(problems)
    assert used == set(ALLOWED), f"stale ALLOWED entries: {set(ALLOWED) - used}"


HEADER = "from hsi_tumor._shared.errors import HsiTumorError, InvalidOptionError\n"


@pytest.mark.parametrize(
    ("source", "flagged"),
    [
        ('raise ValueError("x")', "bare built-in ValueError"),
        ("raise TypeError", "bare built-in TypeError"),
        ('raise HsiTumorError("x")', "base class"),
        ('raise InvalidOptionError("x", field="f")', "no fix"),
        ("raise InvalidOptionError", "give the problem"),
        ('raise errors.WavelengthError("x")', "by name"),
        ("raise exc", "re-raise"),
        ('from sklearn.exceptions import NotFittedError\nraise NotFittedError("x")', "sklearn"),
        ('def fail(w):\n    return InvalidOptionError(w)\nraise fail("x")', "annotation"),
        ('def fail(w) -> HsiTumorError:\n    return HsiTumorError(w)\nraise fail("x")', "base"),
    ],
)
def test_the_check_flags_wrong_raises(source, flagged):
    problems, _ = check_source(HEADER + source, "synthetic.py")
    assert len(problems) == 1 and flagged in problems[0], problems


@pytest.mark.parametrize(
    "source",
    [
        'raise InvalidOptionError("x", field="f", fix="y")',
        "try:\n    pass\nexcept ValueError:\n    raise",
        'def fail(w) -> InvalidOptionError:\n    return InvalidOptionError(w)\nraise fail("x")',
    ],
)
def test_the_check_passes_errors_by_kind(source):
    assert check_source(HEADER + source, "synthetic.py") == ([], set())


ERROR_CLASSES = [
    getattr(errors, name)
    for name in errors.__all__
    if issubclass(getattr(errors, name), errors.HsiTumorError)
]


@pytest.mark.parametrize("cls", ERROR_CLASSES, ids=lambda cls: cls.__name__)
def test_error_classes(cls):
    assert getattr(hsi_tumor, cls.__name__) is cls  # exported: ht.WavelengthError
    assert cls.__name__ in hsi_tumor.__all__
    if cls is not errors.HsiTumorError:
        assert error_kind_problem(cls) is None
    error = cls("two bands", file="a.hdr", field="bands", fix="give three")
    assert str(error) == "a.hdr: field 'bands': two bands. Fix: give three."
    copy = pickle.loads(pickle.dumps(error))  # crosses process boundaries (Dask, multiprocessing)
    assert type(copy) is cls and str(copy) == str(error) and copy.field == "bands"


def test_kinds_that_callers_catch():
    assert issubclass(errors.InvalidOptionError, ValueError)
    assert not issubclass(errors.InvalidOptionError, TypeError)
    assert issubclass(errors.InvalidTypeError, errors.InvalidOptionError)
    assert issubclass(errors.InvalidTypeError, TypeError)
    # scikit-learn's convention for rejected estimator parameters keeps working
    assert issubclass(errors.InvalidParameterError, SklearnParameterError)
    assert issubclass(errors.InvalidParameterError, errors.InvalidOptionError)
    assert issubclass(errors.UnknownClassError, KeyError)
    assert issubclass(errors.DeviceError, RuntimeError)
    assert issubclass(errors.CubeIndexError, IndexError)
