"""The HTML tables of the rich displays: user text escaped, markup of our own kept."""

from __future__ import annotations

from html.parser import HTMLParser

from hsi_tumor._shared.display import Html, facts_table, grid_table, swatch

EVIL = "<script>alert('x')</script>"


class _Balance(HTMLParser):
    """Tags opened and closed, and any <script> element."""

    VOID = {"br", "img", "hr", "input", "meta"}

    def __init__(self):
        super().__init__()
        self.stack: list[str] = []
        self.scripts = 0
        self.errors: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.scripts += tag == "script"
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag):
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.stack[-1:] or 'nothing'}")
        else:
            self.stack.pop()


def check_html(text: str) -> None:
    """Well-nested tags, no <script>: what a test of any ``_repr_html_`` needs."""
    parser = _Balance()
    parser.feed(text)
    parser.close()
    assert parser.errors == [] and parser.stack == [], (parser.errors, parser.stack)
    assert parser.scripts == 0


def test_facts_table_escapes_names_and_values():
    table = facts_table("hsi_tumor.X", [(EVIL, EVIL), ("plain", 3)])
    check_html(table)
    assert "&lt;script&gt;" in table and "<script>" not in table
    assert table.startswith("<table><caption><b>hsi_tumor.X</b></caption>")
    assert "<td>3</td>" in table


def test_html_values_pass_as_they_are():
    inner = grid_table(["name", "n"], [["a", 1]])
    table = facts_table("hsi_tumor.X", [("classes", inner)])
    check_html(table)
    assert inner in table and isinstance(table, Html)


def test_grid_table_escapes_cells_and_aligns_numbers_right():
    table = grid_table(["class", "pixels"], [[EVIL, 12]])
    check_html(table)
    assert "<script>" not in table
    assert "<td style='text-align:right'>12</td>" in table
    assert "<th style='text-align:left'>class</th>" in table


def test_swatch_colour_and_escaped_text():
    cell = swatch((1.0, 0.0, 0.5), EVIL)
    check_html(cell)
    assert "background:#ff0080" in cell and "&lt;script&gt;" in cell
