"""HTML for the rich displays (``_repr_html_``) of the containers and results.

Jupyter shows an object's ``_repr_html_()`` in place of its ``repr``. The library's are small
tables made here, in one style (:class:`~hsi_tumor.Cube`'s): a caption naming the class, then
one row per fact, or a grid with a header row. Every text is escaped (class names, patient ids
and file names are user data): only :class:`Html` values, made by the functions here, pass
unescaped.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence

__all__ = ["Html", "facts_table", "grid_table", "swatch"]

_TH = "<th style='text-align:left'>"


class Html(str):
    """Text that is HTML already (its user data escaped): the tables do not escape it again."""


def _cell(value) -> str:
    return value if isinstance(value, Html) else html.escape(str(value))


def facts_table(caption: str, rows: Iterable[tuple[str, object]]) -> Html:
    """A two-column table: a header cell (the fact's name) and its value on each row.

    Parameters
    ----------
    caption : str
        Shown in bold above the table, e.g. ``"hsi_tumor.TumorMap"``.
    rows : iterable of (str, object)
        Name and value of each fact; values are escaped unless they are :class:`Html`.

    Returns
    -------
    Html

    Examples
    --------
    >>> table = facts_table("hsi_tumor.Demo", [("class", "<b>tumor</b>")])
    >>> "&lt;b&gt;tumor&lt;/b&gt;" in table, "<b>tumor</b>" in table
    (True, False)
    """
    body = "".join(f"<tr>{_TH}{_cell(k)}</th><td>{_cell(v)}</td></tr>" for k, v in rows)
    return Html(f"<table><caption><b>{_cell(caption)}</b></caption>{body}</table>")


def grid_table(header: Sequence[object], rows: Iterable[Sequence[object]]) -> Html:
    """A table with a header row: the first column (names) left-aligned, the others (numbers)
    right-aligned.

    Parameters
    ----------
    header : sequence
        The column names.
    rows : iterable of sequences
        One sequence of cell values per row, as long as ``header``; escaped unless
        :class:`Html`.

    Returns
    -------
    Html
    """

    def row(cells, tag: str) -> str:
        return (
            "<tr>"
            + "".join(
                f"<{tag} style='text-align:{'left' if i == 0 else 'right'}'>{_cell(v)}</{tag}>"
                for i, v in enumerate(cells)
            )
            + "</tr>"
        )

    return Html("<table>" + row(header, "th") + "".join(row(r, "td") for r in rows) + "</table>")


def swatch(rgb: Sequence[float], text: object) -> Html:
    """A small square of colour ``rgb`` (floats in [0, 1]) before ``text`` (escaped)."""
    r, g, b = (round(255 * float(c)) for c in rgb[:3])
    square = (
        f"<span style='display:inline-block;width:0.8em;height:0.8em;"
        f"background:#{r:02x}{g:02x}{b:02x};border:1px solid #888;margin-right:0.3em'></span>"
    )
    return Html(square + _cell(text))
