"""save_figure: atomic, format from the suffix, Figure or Axes."""

from __future__ import annotations

import matplotlib.image
import numpy as np
import pytest
from matplotlib.figure import Figure

import hsi_tumor as ht
from hsi_tumor._shared.errors import InvalidOptionError
from hsi_tumor.viz import plot_probability, save_figure, save_rgb_png


def _leftovers(folder):
    return [p.name for p in folder.iterdir() if p.name.startswith(".")]


def test_png_from_axes_is_readable(tmp_path):
    ax = plot_probability(np.linspace(0, 1, 12).reshape(3, 4))
    path = save_figure(ax, tmp_path / "sub" / "p.PNG", dpi=50)
    assert path == tmp_path / "sub" / "p.PNG"
    image = matplotlib.image.imread(path)
    w, h = ax.figure.get_size_inches()
    assert image.shape[:2] == (round(h * 50), round(w * 50))
    assert image[..., :3].std() > 0  # something was drawn
    assert _leftovers(path.parent) == []


@pytest.mark.parametrize(("suffix", "magic"), [(".pdf", b"%PDF"), (".svg", b"<?xml")])
def test_vector_formats(tmp_path, suffix, magic):
    fig = Figure()
    fig.add_subplot().plot([0, 1], [1, 0])
    path = save_figure(fig, tmp_path / f"f{suffix}")
    assert path.read_bytes().startswith(magic)


def test_an_existing_file_is_replaced_only_when_asked(tmp_path):
    """Every writer refuses to overwrite silently (issue 13); overwrite=True replaces."""
    path = tmp_path / "f.png"
    path.write_bytes(b"old")
    with pytest.raises(ht.OutputExistsError, match="exists") as info:
        save_figure(Figure(), path)
    assert info.value.file == str(path) and "overwrite=True" in info.value.fix
    assert path.read_bytes() == b"old"
    save_figure(Figure(), path, overwrite=True)
    assert path.read_bytes().startswith(b"\x89PNG")
    with pytest.raises(ht.OutputExistsError):
        save_rgb_png(np.zeros((2, 2, 3)), path)
    save_rgb_png(np.zeros((2, 2, 3)), path, overwrite=True)


def test_no_partial_file_on_error(tmp_path, monkeypatch):
    fig = Figure()
    path = tmp_path / "f.png"
    path.write_bytes(b"old")

    def fail(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(fig, "savefig", fail)
    with pytest.raises(RuntimeError):
        save_figure(fig, path, overwrite=True)
    assert path.read_bytes() == b"old"  # untouched
    assert _leftovers(tmp_path) == []  # no temporary file left


@pytest.mark.parametrize(
    ("args", "field"),
    [
        ((Figure(), "f.jpg"), "path"),
        ((Figure(), "f"), "path"),
        (("not a figure", "f.png"), "fig"),
    ],
)
def test_bad_inputs(tmp_path, args, field):
    fig, name = args
    with pytest.raises(InvalidOptionError) as info:
        save_figure(fig, tmp_path / name)
    assert info.value.field == field
    assert list(tmp_path.iterdir()) == []


def test_bad_dpi(tmp_path):
    with pytest.raises(InvalidOptionError) as info:
        save_figure(Figure(), tmp_path / "f.png", dpi=0)
    assert info.value.field == "dpi"
