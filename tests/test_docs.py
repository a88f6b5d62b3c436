"""The docs stay true to the code: the API reference is current and every link resolves."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = sorted([ROOT / "README.md", ROOT / "bench" / "README.md", *ROOT.glob("docs/**/*.md")])


def _make_api():
    spec = importlib.util.spec_from_file_location("make_api", ROOT / "docs" / "make_api.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_api_reference_is_generated_from_the_current_docstrings():
    current = (ROOT / "docs" / "api.md").read_text(encoding="utf-8")
    assert current == _make_api().render(), "docs/api.md is stale: run `make docs`"


def test_simulator_parameter_table_is_generated_from_the_code():
    """issue 16: the page's table of constants is the simulator's own (no second copy)."""
    current = (ROOT / "docs" / "simulator.md").read_text(encoding="utf-8")
    assert current == _make_api().simulator_page(), "docs/simulator.md is stale: run `make docs`"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_resolve(page):
    text = page.read_text(encoding="utf-8")
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if re.match(r"[a-z]+:", target) or target.startswith("#"):
            continue
        path = (page.parent / target.split("#")[0]).resolve()
        assert path.exists(), f"{page.relative_to(ROOT)} links to missing {target}"


def test_every_example_has_a_docs_page():
    pages = {p.stem for p in (ROOT / "docs" / "examples").glob("*.md")}
    scripts = {p.stem for p in (ROOT / "examples").glob("*.py")}
    assert scripts <= pages, f"examples without a docs/examples page: {sorted(scripts - pages)}"
