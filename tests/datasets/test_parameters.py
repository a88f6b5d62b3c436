"""The simulator's parameter table: every entry sourced or marked, used, and rendered."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from hsi_tumor.datasets._parameters import PARAMETERS, SOURCES, parameter, parameter_table
from hsi_tumor.datasets._tissue import TISSUES

PACKAGE = Path(__file__).resolve().parents[2] / "hsi_tumor" / "datasets"


def test_every_parameter_names_a_known_source_and_says_how_far_it_is_known():
    for p in PARAMETERS:
        assert p.source in SOURCES, p.key
        assert p.what, p.key
        if p.source != "assumption":
            assert p.known, f"{p.key}: a sourced value says how far it is known"


def test_keys_are_unique_and_every_one_is_read_by_the_simulator():
    keys = [p.key for p in PARAMETERS]
    assert len(keys) == len(set(keys))
    code = "\n".join(
        f.read_text(encoding="utf-8") for f in PACKAGE.glob("*.py") if f.name != "_parameters.py"
    )
    literal = set(re.findall(r'"([a-z_]+(?:\.[a-z_]+)?)"', code))
    # _tissue.py reads f"{tissue}.{name}" and f"texture.{k}"
    composed = (
        {
            f"{tissue}.{name}"
            for tissue in TISSUES
            for name in ("water", "lipid", "collagen", "blood", "scattering_a", "scattering_b")
        }
        | {"tumor.saturation"}
        | {f"texture.{k}" for k in ("water", "collagen", "scattering", "blood")}
    )
    unused = [k for k in keys if k not in literal | composed]
    assert not unused, f"parameters nobody reads: {unused}"


def test_uniform_ranges_are_ordered():
    for p in PARAMETERS:
        if isinstance(p.value, tuple):
            assert len(p.value) == 2 and p.value[0] <= p.value[1], p.key


def test_table_has_one_row_per_parameter():
    rows = [r for r in parameter_table().splitlines() if r.startswith("| `")]
    assert len(rows) == len(PARAMETERS)
    assert "| `tumors.exposed` |" in parameter_table()
    assert "0.4167" in parameter_table()  # 5 of 12 exposed


def test_unknown_key_is_a_key_error():
    with pytest.raises(KeyError):
        parameter("mucosa.watr")
