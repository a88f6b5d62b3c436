"""Cohort manifests: CSV rows of cube, labels, patient read as Specimens."""

from __future__ import annotations

import numpy as np
import pytest

import hsi_tumor as ht
from hsi_tumor.datasets import read_manifest
from hsi_tumor.io import write_labels

WL = [1000.0, 1100.0, 1200.0]


@pytest.fixture
def cohort(tmp_path, rng):
    """Three specimens on disk (ENVI, HDF5, .npy labels) in sub-folders; returns arrays."""
    arrays = []
    for i, (cube_name, labels_name) in enumerate(
        [("a/cube.hdr", "a/labels.hdr"), ("b/cube.h5", "b/labels.npy"), ("c.hdr", "c.png")]
    ):
        data = rng.random((5, 6, 3)).astype(np.float32)
        labels = rng.integers(0, 3, (5, 6)).astype(np.uint8)
        (tmp_path / cube_name).parent.mkdir(exist_ok=True)
        ht.write_cube(ht.Cube(data, WL), tmp_path / cube_name)
        if labels_name.endswith(".npy"):
            np.save(tmp_path / labels_name, labels)
        elif labels_name.endswith(".png"):
            from PIL import Image

            Image.fromarray(labels).save(tmp_path / labels_name)
        else:
            write_labels(labels, tmp_path / labels_name)
        arrays.append((cube_name, labels_name, data, labels, f"P{i // 2}"))
    return tmp_path, arrays


def write_csv(path, text: str):
    path.write_text(text, encoding="utf-8")
    return path


def test_rows_become_lazy_specimens(cohort):
    folder, arrays = cohort
    lines = ["cube,labels,patient"] + [f"{c},{lab},{p}" for c, lab, _, _, p in arrays]
    specimens = read_manifest(write_csv(folder / "cohort.csv", "\n".join(lines) + "\n"))
    assert [s.patient for s in specimens] == ["P0", "P0", "P1"]
    assert [s.name for s in specimens] == ["a/cube", "b/cube", "c"]
    for specimen, (_, _, data, labels, _) in zip(specimens, arrays, strict=True):
        assert isinstance(specimen, ht.datasets.Specimen)
        assert not specimen.cube.in_memory  # memory-mapped or lazy: opened, not read
        np.testing.assert_array_equal(specimen.cube.load().data, data)
        np.testing.assert_array_equal(specimen.labels, labels)
        np.testing.assert_array_equal(specimen.cube.wavelengths, WL)
        assert specimen.tumor_fraction is None and specimen.tissue is None


def test_defaults_each_row_its_own_patient(cohort):
    folder, arrays = cohort
    text = "Labels ; Cube\n" + "".join(f"{lab};{c}\n\n" for c, lab, *_ in arrays)  # ';', blanks
    specimens = read_manifest(write_csv(folder / "m.csv", text))
    assert [s.patient for s in specimens] == ["a/cube", "b/cube", "c"]
    assert len({s.patient for s in specimens}) == 3


def test_optional_columns(cohort, rng):
    folder, arrays = cohort
    fraction = rng.random((5, 6))
    np.save(folder / "fraction.npy", fraction)
    np.save(folder / "tissue.npy", fraction > 0.5)
    cube, labels = arrays[0][:2]
    text = (
        "\ufeffcube,labels,name,patient,tumor_fraction,tissue,notes\n"  # BOM from a spreadsheet
        f"{cube},{labels},first,P7,fraction.npy,tissue.npy,ignored\n"
        f"{folder / arrays[1][0]},{arrays[1][1]},,,,,\n"  # an absolute path, empty cells
    )
    first, second = read_manifest(write_csv(folder / "m.csv", text))
    assert (first.name, first.patient) == ("first", "P7")
    np.testing.assert_array_equal(first.tumor_fraction, fraction)
    np.testing.assert_array_equal(first.tissue, fraction > 0.5)
    assert second.tumor_fraction is None and second.name.endswith("b/cube")


def test_nan_in_a_stored_cube_marks_invalid_pixels(tmp_path, rng):
    """A calibrated cube on disk keeps NaN, not its valid mask: training leaves them out."""
    specimens = []
    for i in range(2):
        data = rng.random((6, 8, 3)).astype(np.float32) + [[[0, 0, 0]], [[1, 1, 1]]][i % 2]
        data[0, 0, 1] = np.nan
        labels = np.zeros((6, 8), np.uint8)
        labels[:3], labels[3:] = 1, 2
        ht.write_cube(ht.Cube(data, WL), tmp_path / f"c{i}.hdr")
        np.save(tmp_path / f"l{i}.npy", labels)
        specimens.append(f"c{i}.hdr,l{i}.npy,P{i}")
    text = "cube,labels,patient\n" + "\n".join(specimens)
    cohort = read_manifest(write_csv(tmp_path / "m.csv", text))
    valid = np.asarray(cohort[0].cube.valid)
    assert valid.shape == (6, 8, 3) and not valid[0, 0, 1] and valid.sum() == 6 * 8 * 3 - 1
    model = ht.train(
        [s.cube for s in cohort],
        [s.labels for s in cohort],
        classifier="lda",
        preprocessing=(),
        groups=[s.patient for s in cohort],
        random_state=0,
    )
    assert model.training["invalid_left_out"] == 2


def test_missing_column_names_the_manifest_and_field(cohort):
    folder, arrays = cohort
    path = write_csv(folder / "m.csv", f"cube,patient\n{arrays[0][0]},P1\n")
    with pytest.raises(ht.CubeFormatError, match="no 'labels' column") as info:
        read_manifest(path)
    assert str(path) in str(info.value) and info.value.field == "labels"


def test_missing_file_names_manifest_row_and_column(cohort):
    folder, arrays = cohort
    text = f"cube,labels\n{arrays[0][0]},{arrays[0][1]}\nmissing.hdr,{arrays[0][1]}\n"
    with pytest.raises(ht.MissingFileError) as info:
        read_manifest(write_csv(folder / "m.csv", text))
    message = str(info.value)
    assert message.startswith(str(folder / "m.csv"))
    assert "field 'cube'" in message and "row 2 (line 3)" in message and "missing.hdr" in message


def test_bad_label_file_and_wrong_shape(cohort, rng):
    folder, arrays = cohort
    np.save(folder / "frac.npy", rng.random((5, 6)))
    text = f"cube,labels\n{arrays[0][0]},frac.npy\n"
    with pytest.raises(ht.CubeFormatError, match="fractions") as info:
        read_manifest(write_csv(folder / "m.csv", text))
    assert "field 'labels'" in str(info.value) and "frac.npy" in str(info.value)
    np.save(folder / "small.npy", np.zeros((4, 6), np.uint8))
    text = f"cube,labels\n{arrays[0][0]},small.npy\n"
    with pytest.raises(ht.TrainingDataError, match=r"row 1 .*\(4, 6\)") as info:
        read_manifest(write_csv(folder / "m.csv", text))
    assert info.value.field == "labels"


def test_empty_cells_and_empty_manifests(cohort, rng):
    folder, arrays = cohort
    with pytest.raises(ht.CubeFormatError, match=r"row 1 .* has no labels"):
        read_manifest(write_csv(folder / "m.csv", f"cube,labels\n{arrays[0][0]},\n"))
    with pytest.raises(ht.CubeFormatError, match="no specimen rows"):
        read_manifest(write_csv(folder / "m.csv", "cube,labels\n"))
    with pytest.raises(ht.CubeFormatError, match="empty"):
        read_manifest(write_csv(folder / "m.csv", "\n"))
    np.save(folder / "f.npy", rng.random((5, 6)) * 2)
    text = f"cube,labels,tumor_fraction\n{arrays[0][0]},{arrays[0][1]},f.npy\n"
    with pytest.raises(ht.CubeFormatError, match="between 0 and 1"):
        read_manifest(write_csv(folder / "m.csv", text))


def test_a_capture_folder_is_calibrated_as_everywhere(tmp_path):
    """One input policy (issue 13): a manifest naming a Specim capture folder gets its
    reflectance, as classify_cube, train and the CLI do, never the raw counts."""
    spec = ht.simulate_specimen(seed=4, shape=(24, 30), n_bands=12)
    folder = spec.write_capture(tmp_path / "P01-1")
    write_labels(spec.labels, tmp_path / "P01-1.h5")
    text = "cube,labels,patient\nP01-1,P01-1.h5,P01\n"
    (specimen,) = read_manifest(write_csv(tmp_path / "m.csv", text))
    expected = ht.calibrate_capture(folder).load().data
    np.testing.assert_array_equal(specimen.cube.load().data, expected)
    assert specimen.cube.dtype == np.float32 and specimen.patient == "P01"


def test_a_cell_names_the_array_inside_a_container_file(cohort, rng):
    """``FILE:NAME`` picks one array of an ``.npz`` (HDF5 dataset, MATLAB variable): pointing
    tumor_fraction at a ground-truth ``.npz`` no longer reads its ``labels``."""
    import h5py

    folder, arrays = cohort
    cube, _, data, labels, _ = arrays[0]
    fraction = rng.random((5, 6))
    np.savez(
        folder / "truth.npz",
        labels=np.ones((5, 6), np.uint8),  # what a bare truth.npz reads: not these
        annotation=labels,
        tumor_fraction=fraction,
        true_labels=(fraction > 0.3).astype(np.uint8) * 2,
    )
    with h5py.File(folder / "maps.h5", "w") as f:
        f["P01/labels"] = labels
    text = (
        "cube,labels,tumor_fraction,tissue\n"
        f"{cube},truth.npz:annotation,truth.npz:tumor_fraction,truth.npz:true_labels\n"
        f"{cube},{folder / 'maps.h5'}:P01/labels,,\n"  # absolute, a dataset in a group
    )
    first, second = read_manifest(write_csv(folder / "m.csv", text))
    np.testing.assert_array_equal(first.labels, labels)
    np.testing.assert_array_equal(first.tumor_fraction, fraction)
    np.testing.assert_array_equal(first.tissue, fraction > 0.3)
    np.testing.assert_array_equal(second.labels, labels)
    # the cube column too: an HDF5 dataset or an .npz array of a file holding several
    ht.write_cube(ht.Cube(data, WL), folder / "cubes.h5", dataset="refl")
    text = "cube,labels\ncubes.h5:refl,truth.npz:annotation\n"
    (third,) = read_manifest(write_csv(folder / "m.csv", text))
    np.testing.assert_array_equal(third.cube.load().data, data)
    # a name that is not there: the manifest, row and column, and the names that are
    text = f"cube,labels\n{cube},truth.npz:annotations\n"
    with pytest.raises(ht.CubeFormatError) as info:
        read_manifest(write_csv(folder / "m.csv", text))
    message = str(info.value)
    assert str(folder / "m.csv") in message and "row 1" in message and "'annotations'" in message
    assert "tumor_fraction" in message and info.value.field == "labels"
