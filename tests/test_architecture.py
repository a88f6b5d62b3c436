"""The package's layers: every module is in a layer of the import contract, nothing imports the
root package from inside, and the contract itself holds (``make lint`` runs ``lint-imports``)."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

import hsi_tumor as ht

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "hsi_tumor"


def _layers() -> list[str]:
    tomllib = pytest.importorskip("tomllib", reason="tomllib needs Python 3.11")
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    (contract,) = config["tool"]["importlinter"]["contracts"]
    return [m.strip() for layer in contract["layers"] for m in re.split(r"[|:]", layer)]


def test_every_module_is_in_a_layer():
    top = {p.stem for p in PACKAGE.glob("*.py") if p.name != "__init__.py"}
    top |= {p.parent.name for p in PACKAGE.glob("*/__init__.py")}
    assert sorted(top - set(_layers())) == []  # a new module needs its place in the layers


def _imports_of_the_root(source: str) -> list[int]:
    """Lines that import the root package ``hsi_tumor`` itself (not one of its modules)."""
    lines = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import) and any(a.name == "hsi_tumor" for a in node.names):
            lines.append(node.lineno)
        if isinstance(node, ast.ImportFrom) and node.module == "hsi_tumor" and node.level == 0:
            lines.append(node.lineno)
    return lines


def test_no_module_imports_the_root_package():
    """The root ``__init__`` imports every layer: importing it from below is a cycle. Only the
    command line and the demo, which the root never imports, may use the plain API."""
    assert _imports_of_the_root("from hsi_tumor import __version__\nimport hsi_tumor as ht") == [
        1,
        2,
    ]
    offenders = {
        str(path.relative_to(ROOT)): lines
        for path in PACKAGE.rglob("*.py")
        if path.relative_to(PACKAGE).as_posix() not in {"__init__.py", "cli.py", "_demo.py"}
        and (lines := _imports_of_the_root(path.read_text(encoding="utf-8")))
    }
    assert offenders == {}


def test_the_import_contract_holds(tmp_path):
    lint = Path(sys.executable).with_name("lint-imports")
    if not lint.exists():
        pytest.skip("import-linter is not installed (pip install -e '.[test]')")
    done = subprocess.run([str(lint)], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout[-3000:]
    assert "1 kept, 0 broken" in done.stdout


def test_moved_names_are_deprecated_not_broken():
    with pytest.warns(DeprecationWarning, match="hsi_tumor.inference.write_tumor_map"):
        old = ht.io.write_tumor_map
    assert old is ht.inference.write_tumor_map is ht.write_tumor_map
    with pytest.warns(DeprecationWarning, match="hsi_tumor.datasets.read_manifest"):
        from hsi_tumor.io import read_manifest
    assert read_manifest is ht.datasets.read_manifest
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        ht.io.nothing  # noqa: B018


MAX_LINES = 120  # of code: a function's lines without its docstring


def _long_functions(source: str) -> list[tuple[str, int]]:
    """(name, lines of code) of the functions over MAX_LINES without a stated reason (a
    docstring saying why it "is long because ...")."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        doc = ast.get_docstring(node) or ""
        body = node.body[1:] if doc and len(node.body) > 1 else node.body
        lines = node.end_lineno - body[0].lineno + 1
        if lines > MAX_LINES and "is long because" not in " ".join(doc.split()):
            found.append((node.name, lines))
    return found


def test_functions_hold_one_idea():
    """No function over ~120 lines of code without a reason in its docstring (issue 13)."""
    long_body = "def f():\n    '''Doc.'''\n" + "    x = 1\n" * (MAX_LINES + 1)
    assert _long_functions(long_body) == [("f", MAX_LINES + 1)]
    reasoned = long_body.replace("Doc.", "Doc. It is long because it declares a table.")
    assert _long_functions(reasoned) == []
    offenders = {
        str(path.relative_to(ROOT)): found
        for path in PACKAGE.rglob("*.py")
        if (found := _long_functions(path.read_text(encoding="utf-8")))
    }
    assert offenders == {}
