"""Generate docs/api.md, the API reference, from the package's docstrings.

Run ``make docs`` (or ``python docs/make_api.py``) after changing a public docstring;
``tests/test_docs.py`` fails while docs/api.md differs from what this script writes.
"""

from __future__ import annotations

import importlib
import inspect
import re
import sys
from pathlib import Path

#: (module, title) in the order of the reference; each module's ``__all__`` is documented.
SECTIONS = (
    ("hsi_tumor", "Top level (`import hsi_tumor as ht`)"),
    ("hsi_tumor.io", "Reading and writing: `hsi_tumor.io`"),
    ("hsi_tumor.calibration", "Calibration: `hsi_tumor.calibration`"),
    ("hsi_tumor.preprocessing", "Preprocessing: `hsi_tumor.preprocessing`"),
    ("hsi_tumor.datasets", "Data sets and the simulator: `hsi_tumor.datasets`"),
    ("hsi_tumor.models", "Training and model files: `hsi_tumor.models`"),
    ("hsi_tumor.inference", "Classification: `hsi_tumor.inference`"),
    ("hsi_tumor.evaluation", "Evaluation: `hsi_tumor.evaluation`"),
    ("hsi_tumor.distributed", "Batch work on Dask: `hsi_tumor.distributed`"),
    ("hsi_tumor.spatial", "Spatial post-processing: `hsi_tumor.spatial`"),
    ("hsi_tumor.viz", "Figures: `hsi_tumor.viz`"),
)
FIELD_SECTIONS = {
    "Parameters",
    "Returns",
    "Yields",
    "Raises",
    "Warns",
    "Attributes",
    "Other Parameters",
}
OUT = Path(__file__).with_name("api.md")


def _signature(obj) -> str:
    try:
        return str(inspect.signature(obj))
    except (TypeError, ValueError):
        return "(...)"


def _docstring_markdown(doc: str, level: int) -> list[str]:
    """Numpydoc text → Markdown: section titles bold, fields as bullets, examples as code."""
    lines = inspect.cleandoc(doc).splitlines()
    out: list[str] = []
    section = None
    i = 0
    while i < len(lines):
        line = lines[i]
        underline = i + 1 < len(lines) and re.fullmatch(r"-{3,}", lines[i + 1].strip() or "x")
        if underline and line.strip():
            if section == "Examples":
                out.append("```")
            section = line.strip()
            out += ["", f"**{section}**", ""]
            if section == "Examples":
                out.append("```python")
            i += 2
            continue
        if section in FIELD_SECTIONS:
            if line and not line.startswith(" "):
                name, _, kind = line.partition(" : ")
                out.append(f"- `{name.strip()}`" + (f" : {kind.strip()}" if kind else ""))
            elif line.strip():
                out.append(f"  {line.strip()}")
        else:
            out.append(line)
        i += 1
    if section == "Examples":
        out.append("```")
    return out


def _entry(name: str, obj, level: int) -> list[str]:
    heading = "#" * level
    if inspect.isclass(obj):
        out = [f"{heading} `{name}`", "", f"```python\nclass {name}{_signature(obj)}\n```", ""]
        out += _docstring_markdown(obj.__doc__ or "", level)
        members = []
        for attr, value in sorted(vars(obj).items()):
            if attr.startswith("_") or not getattr(value, "__doc__", None):
                continue
            if isinstance(value, property):
                members.append(f"- `{attr}` (property): {_first_paragraph(value.__doc__)}")
            elif inspect.isfunction(value) or isinstance(value, (classmethod, staticmethod)):
                func = value.__func__ if isinstance(value, (classmethod, staticmethod)) else value
                members.append(
                    f"- `{attr}{_signature(func)}`: {_first_paragraph(func.__doc__ or '')}"
                )
        if members:
            out += ["", "**Methods and properties**", "", *members]
        return [*out, ""]
    if callable(obj):
        out = [f"{heading} `{name}`", "", f"```python\n{name}{_signature(obj)}\n```", ""]
        return [*out, *_docstring_markdown(obj.__doc__ or "", level), ""]
    return [f"{heading} `{name}`", "", f"A constant: `{type(obj).__name__}`.", ""]


def _first_paragraph(doc: str) -> str:
    return " ".join(inspect.cleandoc(doc).split("\n\n")[0].split())


def render() -> str:
    """The whole reference as Markdown text."""
    out = [
        "# API reference",
        "",
        "Generated from the docstrings by `docs/make_api.py` (run `make docs`); do not edit.",
        "",
    ]
    for module_name, _ in SECTIONS:
        anchor = module_name.replace(".", "")
        out.append(f"- [{module_name}](#{anchor})")
    out.append("")
    for module_name, title in SECTIONS:
        module = importlib.import_module(module_name)
        out += [f'<a id="{module_name.replace(".", "")}"></a>', "", f"## {title}", ""]
        out += [_first_paragraph(module.__doc__ or ""), ""]
        for name in module.__all__:
            obj = getattr(module, name)
            if module_name != "hsi_tumor" and _defined_at_top(name, obj):
                out.append(f"`{name}`: see the top level.")
                out.append("")
                continue
            if module_name == "hsi_tumor" and (name.startswith("__") or _is_error(obj)):
                continue
            out += _entry(name, obj, 3)
        if module_name == "hsi_tumor":
            out += _errors()
    return "\n".join(out).rstrip() + "\n"


def _is_error(obj) -> bool:
    return inspect.isclass(obj) and issubclass(obj, Warning | Exception)


def _defined_at_top(name: str, obj) -> bool:
    import hsi_tumor

    return name in hsi_tumor.__all__ and getattr(hsi_tumor, name) is obj


def _base_name(cls: type) -> str:
    """``ValueError``, ``HsiTumorError``; a third-party base with its module."""
    if cls.__module__ == "builtins" or cls.__module__.startswith("hsi_tumor"):
        return cls.__name__
    return f"{cls.__module__}.{cls.__qualname__}"


def _errors() -> list[str]:
    import hsi_tumor

    out = ["### Errors and warnings", ""]
    for name in hsi_tumor.__all__:
        obj = getattr(hsi_tumor, name)
        if _is_error(obj):
            bases = ", ".join(_base_name(b) for b in obj.__bases__)
            out.append(f"- `{name}({bases})`: {_first_paragraph(obj.__doc__ or '')}")
    return [*out, ""]


SIMULATOR = Path(__file__).with_name("simulator.md")
TABLE_START, TABLE_END = (
    "<!-- parameters: generated by docs/make_api.py -->",
    "<!-- /parameters -->",
)


def simulator_page() -> str:
    """docs/simulator.md with its parameter table regenerated from the simulator's code."""
    from hsi_tumor.datasets._camera import camera_table
    from hsi_tumor.datasets._chromophores import chromophore_table
    from hsi_tumor.datasets._parameters import parameter_table

    text = SIMULATOR.read_text(encoding="utf-8")
    head, rest = text.split(TABLE_START, 1)
    _, tail = rest.split(TABLE_END, 1)
    tables = f"{parameter_table()}\n{chromophore_table()}\n{camera_table()}"
    return f"{head}{TABLE_START}\n{tables}{TABLE_END}{tail}"


def main() -> int:
    OUT.write_text(render(), encoding="utf-8")
    print(f"wrote {OUT}")
    SIMULATOR.write_text(simulator_page(), encoding="utf-8")
    print(f"wrote the parameter table of {SIMULATOR}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
