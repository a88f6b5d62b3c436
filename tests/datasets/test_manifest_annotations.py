"""A manifest's labels column naming annotation files (QuPath GeoJSON here), and the CLI's
train command on such a manifest, end to end on small simulated cubes."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest

import hsi_tumor as ht
from hsi_tumor._shared.errors import CubeFormatError
from hsi_tumor.cli import main
from hsi_tumor.datasets import read_manifest
from hsi_tumor.io import read_labels

ROWS, COLS = 16, 16


def rectangle(name, x0, y0, x1, y1):
    ring = [[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]
    return {
        "type": "Feature",
        "properties": {"classification": {"name": name}},
        "geometry": {"type": "Polygon", "coordinates": [ring]},
    }


@pytest.fixture(scope="module")
def cohort(tmp_path_factory):
    """Two simulated patients: cubes, GeoJSON annotations (one only 'tumor'), a manifest."""
    folder = tmp_path_factory.mktemp("annotated")
    simulated = ht.simulate_cohort(n_patients=2, seed=0, shape=(ROWS, COLS), n_bands=12)
    lines = ["cube,labels,patient"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ht.CalibrationWarning)
        for i, s in enumerate(simulated):
            ht.write_cube(s.calibrate(), folder / f"{s.name}.hdr")
            features = [rectangle("tumor", 8, 0, 16, 16)]
            if i == 0:
                features.append(rectangle("normal", 0, 0, 8, 16))
            (folder / f"{s.name}.geojson").write_text(
                json.dumps({"type": "FeatureCollection", "features": features})
            )
            lines.append(f"{s.name}.hdr,{s.name}.geojson,{s.patient}")
    (folder / "cohort.csv").write_text("\n".join(lines) + "\n")
    return folder


def test_manifest_rasterises_annotations_with_one_id_per_name(cohort):
    first, second = read_manifest(cohort / "cohort.csv")
    expected = np.zeros((ROWS, COLS), np.uint8)
    expected[:, :8], expected[:, 8:] = 1, 2  # normal < tumor alphabetically, in every row
    np.testing.assert_array_equal(first.labels, expected)
    expected[:, :8] = 0
    np.testing.assert_array_equal(second.labels, expected)  # 'tumor' is 2 here too
    named = read_manifest(cohort / "cohort.csv", class_names={5: "tumor", 7: "normal"})
    assert set(np.unique(named[0].labels)) == {5, 7}
    assert set(
        np.unique(read_manifest(cohort / "cohort.csv", class_names=["tumor", "normal"])[1].labels)
    ) == {0, 1}


def test_manifest_wraps_annotation_errors(cohort, tmp_path):
    bad = tmp_path / "bad.geojson"
    bad.write_text("{")
    first_cube = next(cohort.glob("*.hdr"))
    (tmp_path / "bad.csv").write_text(f"cube,labels\n{first_cube},bad.geojson\n")
    with pytest.raises(CubeFormatError, match="not valid JSON") as info:
        read_manifest(tmp_path / "bad.csv")
    assert info.value.field == "labels"


def test_cli_trains_on_geojson_annotations(cohort, tmp_path, capsys):
    out = tmp_path / "model.htmodel"
    argv = ["--quiet", "train", str(cohort / "cohort.csv"), "-o", str(out), "--classifier", "lda"]
    assert main([*argv, "--class-names", "1=normal", "2=tumor"]) == 0
    model = ht.load_model(out)
    assert model.class_names == {1: "normal", 2: "tumor"}
    assert len(model.patients) == 2
    # without --class-names the ids still follow the names' alphabetical order
    assert main([*argv, "--overwrite"]) == 0
    assert ht.load_model(out).pipeline.classes_.tolist() == [1, 2]


def test_cli_classify_masks_with_annotations(cohort, tmp_path):
    model = tmp_path / "model.htmodel"
    argv = ["--quiet", "train", str(cohort / "cohort.csv"), "-o", str(model), "--classifier", "lda"]
    assert main(argv) == 0
    region = tmp_path / "region.geojson"
    region.write_text(json.dumps(rectangle("roi", 2, 3, 6, 8)))
    cube = sorted(cohort.glob("*.hdr"))[0]
    out = tmp_path / "out"
    argv = ["--quiet", "classify", str(cube), "--model", str(model), "--mask", str(region)]
    assert main([*argv, "-o", str(out), "--format", "hdf5"]) == 0
    classified = read_labels(out / "labels.h5") > 0
    expected = np.zeros((ROWS, COLS), bool)
    expected[3:8, 2:6] = True
    assert classified.any() and not (classified & ~expected).any()
