"""Every Python block of the docs runs as written, on simulated data made here (issue 17).

The pages are README.md, bench/README.md, docs/*.md and docs/examples/*.md; docs/api.md is left
out, being generated from the docstrings, whose examples tests/test_docstrings.py runs as
doctests. The blocks of one page run in order, in one namespace, in a fresh folder that holds
the files the docs name (``specimen.hdr``, the capture folder ``specimen_07/``, ``cohort.csv``,
``gist_svm.htmodel``, ...), all made from the simulator; a file a page writes itself (a model it
saves) is not put there beforehand. The namespace holds only the data a reader is assumed to
have (``specimens``, ``paths``, ``cubes``, ``label_maps``, ...): anything else a block uses it
must import or define. An expression on a line of its own is shown, as in a notebook: its repr
must work and must not be Python's default ``<... object at 0x...>``.

A block that cannot run here (a GPU, a Dask scheduler) is preceded in the markdown by
``<!-- not-run: the reason -->`` on the line before its fence; there are few of them.
"""

from __future__ import annotations

import ast
import csv
import os
import re
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

import hsi_tumor as ht
from hsi_tumor.datasets import as_specimens, simulate_cohort, simulate_specimen

ROOT = Path(__file__).resolve().parents[1]
PAGES = sorted(
    [ROOT / "README.md", ROOT / "bench" / "README.md", *ROOT.glob("docs/**/*.md")],
)
PAGES = [p for p in PAGES if p != ROOT / "docs" / "api.md"]
#: Pages over ~5 s on 2 cores: they train and evaluate SVMs, start a local Dask cluster, or run
#: the simulator at its default size.
SLOW = {
    "README.md",
    "docs/evaluation.md",
    "docs/scaling.md",
    "docs/simulator.md",
    "docs/user_guide.md",
}
MAX_NOT_RUN = 4

# Small simulated specimens, so that every block runs in seconds; the held-out one (the cube
# files and the capture folder) large enough for the docs' row and column ranges.
SHAPE, HELD_SHAPE, N_BANDS = (48, 64), (128, 160), 40


@dataclass(frozen=True)
class Block:
    page: Path
    line: int  # of the first code line, 1-based
    source: str
    not_run: str | None  # the reason, for a block marked not-run


def code_blocks(page: Path) -> list[Block]:
    """The ```python blocks of a page, with their not-run marks."""
    lines = page.read_text(encoding="utf-8").splitlines()
    blocks, i = [], 0
    while i < len(lines):
        if lines[i].strip() != "```python":
            i += 1
            continue
        previous = next((s.strip() for s in reversed(lines[:i]) if s.strip()), "")
        mark = re.fullmatch(r"<!--\s*not-run:\s*(.*?)\s*-->", previous)
        end = lines.index("```", i + 1)
        source = "\n".join(lines[i + 1 : end]) + "\n"
        blocks.append(Block(page, i + 2, source, mark.group(1) if mark else None))
        i = end + 1
    return blocks


def _name(page: Path) -> str:
    return page.relative_to(ROOT).as_posix() if page.is_relative_to(ROOT) else page.name


RUNNABLE = [p for p in PAGES if any(b.not_run is None for b in code_blocks(p))]


# -- the reader's data, simulated ------------------------------------------------------------------
@dataclass
class Data:
    folder: Path
    namespace: dict


def _write_cohort(folder: Path, cohort) -> None:
    """Calibrated cubes and label maps of the cohort under ``study/``, listed in cohort.csv."""
    rows = []
    for spec in cohort:
        where = folder / "study" / spec.patient
        where.mkdir(parents=True)
        ht.write_cube(spec.cube, where / "reflectance.hdr")
        np.save(where / "labels.npy", spec.labels)
        rows.append([f"study/{spec.patient}/{name}" for name in ("reflectance.hdr", "labels.npy")])
        rows[-1].append(spec.patient)
    with open(folder / "cohort.csv", "w", newline="") as f:
        csv.writer(f).writerows([["cube", "labels", "patient"], *rows])


def _preprocessing_data() -> dict:
    """Spectra of the camera of docs/preprocessing.md (900–1700 nm every 2 nm, 401 bands)."""
    spec = simulate_specimen(seed=1, shape=(24, 32), wavelengths=np.arange(900.0, 1702.0, 2.0))
    x = spec.cube.load().pixels()
    y = spec.tumor_fraction.ravel()
    ok = np.flatnonzero(np.isfinite(x).all(axis=1) & spec.tissue.ravel())
    return {"X_train": x[ok[::2]], "y_train": y[ok[::2]], "X_test": x[ok[1::2]]}


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Data:
    folder = tmp_path_factory.mktemp("reader")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ht.CalibrationWarning)
        cohort = simulate_cohort(3, seed=0, shape=SHAPE, n_bands=N_BANDS)
        specimens = as_specimens(cohort)
        held = simulate_specimen(seed=7, shape=HELD_SHAPE, n_bands=N_BANDS, patient_id="P07")
        held.write_capture(folder / "specimen_07")
        for name in ("specimen.hdr", "scan.hdr", "big.hdr"):
            ht.write_cube(held.raw, folder / name)
        np.save(folder / "Indian_pines_corrected.npy", held.raw.data)
        (folder / "Indian_pines_corrected_bands.csv").write_text(
            "center_nm\n" + "\n".join(f"{w:.3f}" for w in held.wavelengths) + "\n"
        )
        _write_cohort(folder, cohort)
        paths = [spec.write_capture(folder / "captures" / spec.patient) for spec in cohort]
        model = ht.train(
            specimens,
            classifier="svm",
            classifier_params={"C": 10.0, "gamma": "scale"},  # fixed: no search, fast
            random_state=0,
        )
        ht.save_model(model, folder / "gist_svm.htmodel")
        pixels = [s.cube.load().pixels() for s in specimens]
        finite = [x[np.isfinite(x).all(axis=1)] for x in pixels]
    namespace = {
        "specimens": specimens,
        "paths": paths,
        "cubes": [s.cube for s in specimens],
        "label_maps": [s.labels for s in specimens],
        "patient_ids": [s.patient for s in specimens],
        "cube": specimens[0].cube,
        "raw": held.raw,
        "white": held.white,
        "dark": held.dark,
        "tiles": [x[:500] for x in finite],
        "training_pixels": np.concatenate([x[::4] for x in finite]),
        **_preprocessing_data(),
    }
    return Data(folder, namespace)


def _link_inputs(data: Data, workdir: Path, page_source: str) -> None:
    """The reader's files in ``workdir``, but for the model files the page saves itself."""
    saved = set(re.findall(r"save_model\([^,]+,\s*\"([^\"]+)\"", page_source))
    for item in data.folder.iterdir():
        if item.name not in saved:
            (workdir / item.name).symlink_to(item, target_is_directory=item.is_dir())


def run_block(block: Block, namespace: dict) -> None:
    """Run a block statement by statement; show each bare expression as a notebook would."""
    filename = f"{_name(block.page)}"
    tree = ast.parse(block.source, filename=filename)
    ast.increment_lineno(tree, block.line - 1)
    for node in tree.body:
        if isinstance(node, ast.Expr):
            value = eval(compile(ast.Expression(node.value), filename, "eval"), namespace)
            shown = repr(value)
            assert not re.search(r"<[\w.]+ object at 0x", shown), (
                f"{filename}:{node.lineno} shows Python's default repr: {shown[:300]}"
            )
        else:
            exec(compile(ast.Module([node], type_ignores=[]), filename, "exec"), namespace)


def _page_param(page: Path):
    marks = [pytest.mark.slow] if _name(page) in SLOW else []
    return pytest.param(page, id=_name(page), marks=marks)


@pytest.mark.parametrize("page", [_page_param(p) for p in RUNNABLE])
def test_code_blocks_run_as_written(page, data, tmp_path, monkeypatch):
    blocks = [b for b in code_blocks(page) if b.not_run is None]
    _link_inputs(data, tmp_path, "".join(b.source for b in blocks))
    monkeypatch.chdir(tmp_path)
    namespace = {"__name__": "__docs__", **data.namespace}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ht.CalibrationWarning)  # the simulated dead columns
        for block in blocks:
            run_block(block, namespace)


def test_few_blocks_are_not_run_and_each_says_why():
    skipped = [b for p in PAGES for b in code_blocks(p) if b.not_run is not None]
    for b in skipped:
        assert len(b.not_run) > 10, f"{_name(b.page)}:{b.line}: say why the block is not run"
    assert len(skipped) <= MAX_NOT_RUN, [f"{_name(b.page)}:{b.line}" for b in skipped]


def test_python_blocks_are_marked_python():
    """Blocks fenced ```py, ```python3, ```pycon, ... would not be run: the docs use ```python."""
    for page in PAGES:
        for n, line in enumerate(page.read_text(encoding="utf-8").splitlines(), 1):
            fence = re.fullmatch(r"\s*```\s*(\S+)\s*", line)
            if fence and fence.group(1).lower().startswith(("py", "ipy")):
                assert fence.group(1) == "python", f"{_name(page)}:{n}: fence it as ```python"


def test_blocks_are_found_and_marks_are_read(tmp_path):
    page = tmp_path / "page.md"
    page.write_text(
        "text\n```python\nx = 1\n```\n\n<!-- not-run: needs a GPU here -->\n\n"
        "```python\nimport cupy\n```\n```bash\nls\n```\n"
    )
    blocks = code_blocks(page)
    assert [(b.line, b.source, b.not_run) for b in blocks] == [
        (3, "x = 1\n", None),
        (9, "import cupy\n", "needs a GPU here"),
    ]
    namespace: dict = {}
    run_block(blocks[0], namespace)
    assert namespace["x"] == 1
    with pytest.raises(AssertionError, match="default repr"):
        run_block(Block(page, 1, "object()\n", None), {})
    assert os.fspath(ROOT / "docs" / "api.md") not in map(os.fspath, PAGES)
