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


def test_the_moved_tumor_map_writer_is_deprecated_not_broken():
    with pytest.warns(DeprecationWarning, match="hsi_tumor.inference.write_tumor_map"):
        old = ht.io.write_tumor_map
    assert old is ht.inference.write_tumor_map is ht.write_tumor_map
