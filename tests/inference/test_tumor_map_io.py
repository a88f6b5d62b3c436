"""write_tumor_map: a classification result as files (maps, overlays, summary), atomically."""

from __future__ import annotations

import json

import matplotlib.colors as mcolors
import matplotlib.image
import numpy as np
import pytest

import hsi_tumor as ht
from hsi_tumor.inference import TumorMap, write_tumor_map
from hsi_tumor.io import read_labels
from hsi_tumor.viz import PALETTE, save_figure
from tests.viz._helpers import legend_texts


@pytest.fixture
def tumor_map(rng) -> TumorMap:
    shape = (6, 7)
    tumor = rng.random(shape).astype(np.float32)
    probabilities = np.stack([1 - tumor, tumor], axis=2)
    valid = np.ones(shape, bool)
    valid[0, :3] = False  # masked
    valid[5, 6] = False  # invalid
    probabilities[~valid] = np.nan
    labels = np.where(valid, np.where(tumor > 0.5, 2, 1), 0).astype(np.uint8)
    return TumorMap(labels, probabilities, np.array([1, 2]), {1: "normal", 2: "tumor"}, valid, 3, 1)


@pytest.mark.parametrize(("format", "ext"), [("envi", ".hdr"), ("hdf5", ".h5")])
def test_files_read_back_exactly(tmp_path, tumor_map, format, ext):
    background = np.full((6, 7, 3), 0.5, np.float32)
    files = write_tumor_map(tumor_map, tmp_path / "out", format=format, background=background)
    assert set(files) == {
        "labels",
        "probabilities",
        "tumor_probability",
        "classes_png",
        "tumor_probability_png",
        "background_png",
        "summary",
    }
    assert all(p.parent == tmp_path / "out" and p.is_file() for p in files.values())
    assert files["labels"].name == f"labels{ext}"
    labels, names = read_labels(files["labels"], return_class_names=True)
    np.testing.assert_array_equal(labels, tumor_map.labels)
    assert names == {1: "normal", 2: "tumor"}
    probabilities = ht.read_cube(files["probabilities"])
    assert probabilities.wavelengths is None and probabilities.dtype == np.float32
    assert probabilities.metadata["band_names"].tolist() == ["normal", "tumor"]
    np.testing.assert_array_equal(probabilities.load().data, tumor_map.probabilities)
    tumor = ht.read_cube(files["tumor_probability"]).load().data[..., 0]
    np.testing.assert_array_equal(tumor, tumor_map.tumor_probability)
    for key in ("classes_png", "tumor_probability_png", "background_png"):  # figures
        assert min(matplotlib.image.imread(files[key]).shape[:2]) >= 400
    summary = json.loads(files["summary"].read_text())
    tumor_area = int(np.sum(tumor_map.labels == 2))
    assert summary["shape"] == [6, 7] and summary["classes"] == [1, 2]
    assert summary["class_names"] == {"1": "normal", "2": "tumor"}
    assert summary["counts"] == {"normal": 38 - tumor_area, "tumor": tumor_area}
    assert (summary["n_masked"], summary["n_invalid"], summary["n_classified"]) == (3, 1, 38)
    assert summary["tumor_class"] == 2 and summary["tumor_area_pixels"] == tumor_area
    assert summary["files"]["labels"] == f"labels{ext}"


def test_map_figures_have_legend_colorbar_and_palette_colours(tmp_path, tumor_map, monkeypatch):
    from hsi_tumor.inference import _tumor_map_io

    drawn = []

    def keep(fig, path, **options):
        drawn.append(fig)
        return save_figure(fig, path, **options)

    monkeypatch.setattr(_tumor_map_io, "save_figure", keep)
    files = write_tumor_map(tumor_map, tmp_path / "out")  # no background: flat colours
    classes, probability = drawn
    assert legend_texts(classes) == ["normal", "tumor", "not classified"]
    image = classes.images[0].get_array()
    tumor = tuple(np.argwhere(tumor_map.labels == 2)[0])
    np.testing.assert_allclose(image[tumor], mcolors.to_rgb(PALETTE["tumor"]), atol=1e-6)
    np.testing.assert_allclose(image[0, 0], mcolors.to_rgb(PALETTE["not classified"]), atol=1e-6)
    assert probability.images[-1].colorbar is not None
    assert legend_texts(probability) == ["not classified"]
    assert min(matplotlib.image.imread(files["classes_png"]).shape[:2]) >= 400


def test_simulated_cube_background_marks_invalid_pixels_and_says_simulated(tmp_path, monkeypatch):
    from hsi_tumor.inference import _tumor_map_io

    drawn = []
    monkeypatch.setattr(
        _tumor_map_io,
        "save_figure",
        lambda fig, path, **o: drawn.append(fig) or save_figure(fig, path, **o),
    )
    spec = ht.simulate_specimen(seed=0, shape=(40, 48), n_bands=40)
    cube = spec.cube
    model = ht.train(cube, spec.labels, classifier="lda", class_names={1: "normal", 2: "tumor"})
    result = ht.classify_cube(cube, model, progress=False)
    invalid = ~result.valid  # no mask: every unclassified pixel is invalid
    assert invalid.any()
    write_tumor_map(result, tmp_path / "out", background=cube)
    classes, probability, background = drawn
    for ax in drawn:
        assert ax.get_title().startswith("SIMULATED data: ")
        assert "invalid (glare, dead pixel)" in legend_texts(ax)
    for ax in (classes, probability):  # the model's training domain: flagged pixels cyan
        assert legend_texts(ax)[-1] == "outside training domain"
    flagged = result.outlier
    assert flagged.any()
    np.testing.assert_allclose(
        classes.images[0].get_array()[flagged], np.tile((0.0, 1.0, 1.0), (flagged.sum(), 1))
    )
    assert probability.images[-1].get_array().mask[flagged].all()
    outlier, names = read_labels(tmp_path / "out" / "outlier.hdr", return_class_names=True)
    np.testing.assert_array_equal(outlier == 2, flagged)
    np.testing.assert_array_equal(outlier == 0, ~result.valid)
    assert names == {1: "inside training domain", 2: "outside training domain"}
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["n_outlier"] == result.n_outlier and summary["files"]["outlier"]
    magenta = mcolors.to_rgb(PALETTE["invalid"])
    np.testing.assert_allclose(
        classes.images[0].get_array()[invalid], np.tile(magenta, (invalid.sum(), 1))
    )
    np.testing.assert_allclose(
        background.images[0].get_array()[invalid], np.tile(magenta, (invalid.sum(), 1))
    )
    heat = probability.images[-1].get_array()
    assert heat.mask[invalid].all()


def test_without_probabilities_or_tumor_class(tmp_path, tumor_map):
    tumor_map.class_names = {1: "grey matter", 2: "white matter"}
    files = write_tumor_map(tumor_map, tmp_path / "a")
    assert "tumor_probability" not in files and "tumor_probability_png" not in files
    assert json.loads(files["summary"].read_text())["tumor_area_pixels"] is None
    tumor_map.probabilities = None
    files = write_tumor_map(tumor_map, tmp_path / "b", format="hdf5")
    assert sorted(files) == ["classes_png", "labels", "summary"]


def test_existing_output_is_kept_unless_overwrite(tmp_path, tumor_map):
    out = tmp_path / "out"
    out.mkdir()
    write_tumor_map(tumor_map, out)  # an empty folder is used
    (out / "mine.txt").write_text("keep")
    with pytest.raises(ht.OutputExistsError, match="exists"):
        write_tumor_map(tumor_map, out)
    assert (out / "mine.txt").read_text() == "keep"
    write_tumor_map(tumor_map, out, format="hdf5", overwrite=True)
    assert (out / "labels.h5").exists() and not (out / "mine.txt").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["out"]  # no temporaries left
    (tmp_path / "file").write_text("x")
    with pytest.raises(ht.OutputExistsError, match="is a folder"):
        write_tumor_map(tumor_map, tmp_path / "file", overwrite=True)


def test_a_failure_leaves_nothing(tmp_path, tumor_map, monkeypatch):
    from hsi_tumor.inference import _tumor_map_io

    def broken(fig, path, **options):
        raise OSError("disk full")

    monkeypatch.setattr(_tumor_map_io, "save_figure", broken)
    with pytest.raises(OSError, match="disk full"):
        write_tumor_map(tumor_map, tmp_path / "out")
    assert list(tmp_path.iterdir()) == []


def test_bad_options(tmp_path, tumor_map):
    with pytest.raises(ht.InvalidOptionError, match="format"):
        write_tumor_map(tumor_map, tmp_path / "out", format="tiff")
    with pytest.raises(ht.InvalidOptionError, match="background"):
        write_tumor_map(tumor_map, tmp_path / "out", background=np.zeros((6, 7)))
    assert not (tmp_path / "out").exists()
