"""read_annotations: QuPath GeoJSON, ImageJ ROIs and napari Shapes CSV rasterised to label maps,
checked against hand-computed maps (and matplotlib's point-in-polygon test off the edges)."""

from __future__ import annotations

import json
import zipfile

import numpy as np
import pytest
import roifile
from matplotlib.path import Path as MplPath

from hsi_tumor._shared.errors import CubeFormatError, HsiTumorError, InvalidOptionError
from hsi_tumor.io import read_annotations


def feature(rings, name="tumor", kind="Polygon"):
    return {
        "type": "Feature",
        "properties": {"classification": {"name": name, "colorRGB": -1}},
        "geometry": {"type": kind, "coordinates": rings},
    }


def square(x0, y0, x1, y1):
    return [[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]


def write_json(tmp_path, document, name="a.geojson"):
    path = tmp_path / name
    path.write_text(json.dumps(document))
    return path


def rasterise(tmp_path, features, shape, **kwargs):
    path = write_json(tmp_path, {"type": "FeatureCollection", "features": features})
    return read_annotations(path, shape=shape, **kwargs)


# -- rasterisation against hand-computed maps -------------------------------------------------
def test_aligned_square(tmp_path):
    labels = rasterise(tmp_path, [feature([square(1, 1, 3, 3)])], (4, 5))
    expected = np.zeros((4, 5), np.uint8)
    expected[1:3, 1:3] = 1
    np.testing.assert_array_equal(labels, expected)
    assert labels.dtype == np.uint8


def test_half_pixel_square_is_half_open(tmp_path):
    # centres 0.5 and 1.5 lie on the left/top edges (inside); 2.5 on the right/bottom (outside)
    labels = rasterise(tmp_path, [feature([square(0.5, 0.5, 2.5, 2.5)])], (4, 4))
    expected = np.zeros((4, 4), np.uint8)
    expected[0:2, 0:2] = 1
    np.testing.assert_array_equal(labels, expected)


def test_adjacent_squares_share_no_pixel(tmp_path):
    features = [
        feature([square(0.5, 0.5, 2.5, 3.5)], "a"),
        feature([square(2.5, 0.5, 4.5, 3.5)], "b"),
    ]
    labels = rasterise(tmp_path, features, (4, 5))
    expected = np.array(
        [[1, 1, 2, 2, 0], [1, 1, 2, 2, 0], [1, 1, 2, 2, 0], [0, 0, 0, 0, 0]], dtype=np.uint8
    )
    np.testing.assert_array_equal(labels, expected)


def test_triangle(tmp_path):
    # right triangle (0,0)-(4,0)-(0,4): centre (c+.5, r+.5) inside when c + r + 1 < 4
    labels = rasterise(tmp_path, [feature([[[0, 0], [4, 0], [0, 4], [0, 0]]])], (4, 4))
    expected = np.array([[1, 1, 1, 0], [1, 1, 0, 0], [1, 0, 0, 0], [0, 0, 0, 0]], dtype=np.uint8)
    np.testing.assert_array_equal(labels, expected)


def test_polygon_with_hole(tmp_path):
    labels = rasterise(tmp_path, [feature([square(0, 0, 5, 5), square(1, 1, 4, 4)[::-1]])], (5, 5))
    expected = np.ones((5, 5), np.uint8)
    expected[1:4, 1:4] = 0
    np.testing.assert_array_equal(labels, expected)


def test_polygon_crossing_the_border_is_clipped(tmp_path):
    labels = rasterise(tmp_path, [feature([square(-3, 2, 2, 9)])], (4, 4))
    expected = np.zeros((4, 4), np.uint8)
    expected[2:, :2] = 1
    np.testing.assert_array_equal(labels, expected)
    outside = rasterise(tmp_path, [feature([square(10, 10, 12, 12)])], (4, 4))
    assert not outside.any()


def test_multipolygon(tmp_path):
    parts = [[square(0, 0, 1, 1)], [square(2, 1, 4, 2)]]
    labels = rasterise(tmp_path, [feature(parts, kind="MultiPolygon")], (3, 4))
    expected = np.array([[1, 0, 0, 0], [0, 0, 1, 1], [0, 0, 0, 0]], dtype=np.uint8)
    np.testing.assert_array_equal(labels, expected)


def test_matches_matplotlib_off_the_edges(tmp_path, rng):
    # a random star polygon at irrational-ish offsets: no pixel centre on an edge
    angles = np.sort(rng.uniform(0, 2 * np.pi, 40))
    radii = rng.uniform(5, 30, 40)
    ring = np.c_[32.123 + radii * np.cos(angles), 31.987 + radii * np.sin(angles)]
    labels = rasterise(tmp_path, [feature([ring.tolist()])], (70, 64))
    rows, cols = np.mgrid[:70, :64]
    centres = np.c_[cols.ravel() + 0.5, rows.ravel() + 0.5]
    expected = MplPath(ring).contains_points(centres).reshape(70, 64)
    np.testing.assert_array_equal(labels == 1, expected)


# -- classes and overlap ----------------------------------------------------------------------
def test_names_sorted_alphabetically_or_class_names(tmp_path):
    features = [feature([square(0, 0, 1, 1)], "tumor"), feature([square(1, 0, 2, 1)], "normal")]
    np.testing.assert_array_equal(rasterise(tmp_path, features, (1, 2)), [[2, 1]])
    labels = rasterise(tmp_path, features, (1, 2), class_names={3: "tumor", 300: "normal"})
    np.testing.assert_array_equal(labels, [[3, 300]])
    assert labels.dtype == np.uint16
    with pytest.raises(CubeFormatError, match="'normal' is not in class_names"):
        rasterise(tmp_path, features, (1, 2), class_names={1: "tumor"})


def test_old_qupath_classification_and_bare_list(tmp_path):
    old = feature([square(0, 0, 1, 1)])
    old["properties"]["classification"] = "tumor"
    path = write_json(tmp_path, [old, feature([square(1, 0, 2, 1)])])
    np.testing.assert_array_equal(read_annotations(path, shape=(1, 2)), [[1, 1]])
    single = write_json(tmp_path, old, "one.json")
    np.testing.assert_array_equal(read_annotations(single, shape=(1, 2)), [[1, 0]])


def test_unclassified_feature(tmp_path):
    unclassified = feature([square(0, 0, 1, 1)])
    del unclassified["properties"]["classification"]
    with pytest.raises(CubeFormatError, match=r"features\[1\]") as info:
        rasterise(tmp_path, [feature([square(1, 0, 2, 1)]), unclassified], (1, 2))
    assert "set a class" in info.value.fix


def test_overlap(tmp_path):
    features = [feature([square(0, 0, 3, 1)], "a"), feature([square(1, 0, 4, 1)], "b")]
    with pytest.raises(CubeFormatError, match=r"class 'b'.*class 'a' on 2 pixels") as info:
        rasterise(tmp_path, features, (1, 4))
    assert "overlap='last'" in info.value.fix
    np.testing.assert_array_equal(
        rasterise(tmp_path, features, (1, 4), overlap="last"), [[1, 2, 2, 2]]
    )
    same = [feature([square(0, 0, 3, 1)]), feature([square(1, 0, 4, 1)])]
    np.testing.assert_array_equal(rasterise(tmp_path, same, (1, 4)), [[1, 1, 1, 1]])
    with pytest.raises(InvalidOptionError, match="overlap"):
        rasterise(tmp_path, features, (1, 4), overlap="first")


# -- transforms -------------------------------------------------------------------------------
def test_transform_sizes_and_affine(tmp_path):
    # a square drawn on a 2x image: (2, 2)-(6, 4) there is (1, 1)-(3, 2) on the cube
    features = [feature([square(2, 2, 6, 4)])]
    expected = np.zeros((3, 4), np.uint8)
    expected[1, 1:3] = 1
    np.testing.assert_array_equal(
        rasterise(tmp_path, features, (3, 4), transform=((6, 8), (3, 4))), expected
    )
    affine = [[0.5, 0, 0], [0, 0.5, 0]]
    np.testing.assert_array_equal(rasterise(tmp_path, features, (3, 4), transform=affine), expected)
    shifted = np.array([[0.5, 0, 1], [0, 0.5, 1], [0, 0, 1]])
    expected = np.zeros((3, 4), np.uint8)
    expected[2, 2:4] = 1
    np.testing.assert_array_equal(
        rasterise(tmp_path, features, (3, 4), transform=shifted), expected
    )
    with pytest.raises(InvalidOptionError, match="transform"):
        rasterise(tmp_path, features, (3, 4), transform=[1, 2, 3])


# -- ImageJ ----------------------------------------------------------------------------------
def test_imagej_roi_and_zip(tmp_path):
    # an ImageJ rectangle at x = 1, y = 1, 2 x 2 pixels: left/top/right/bottom are its corners
    rect = roifile.ImagejRoi(roitype=roifile.ROI_TYPE.RECT, left=1, top=1, right=3, bottom=3)
    rect.name = "tumor:1"
    path = tmp_path / "tumor.roi"
    rect.tofile(path)
    expected = np.zeros((4, 4), np.uint8)
    expected[1:3, 1:3] = 1
    np.testing.assert_array_equal(read_annotations(path, shape=(4, 4)), expected)
    triangle = roifile.ImagejRoi.frompoints([[0, 0], [4, 0], [0, 4]])
    triangle.name = "normal"
    zpath = tmp_path / "set.zip"
    with zipfile.ZipFile(zpath, "w") as archive:
        archive.writestr("a.roi", triangle.tobytes())
        archive.writestr("b.roi", rect.tobytes())
    labels = read_annotations(
        zpath, shape=(4, 4), overlap="last", class_names={1: "normal", 2: "tumor"}
    )
    expected = np.array([[1, 1, 1, 0], [1, 2, 2, 0], [1, 2, 2, 0], [0, 0, 0, 0]], dtype=np.uint8)
    np.testing.assert_array_equal(labels, expected)


def test_imagej_oval(tmp_path):
    oval = roifile.ImagejRoi(roitype=roifile.ROI_TYPE.OVAL, left=0, top=0, right=10, bottom=10)
    oval.name = "tumor"
    path = tmp_path / "oval.roi"
    oval.tofile(path)
    labels = read_annotations(path, shape=(10, 10))
    rows, cols = np.mgrid[:10, :10]
    inside = (cols + 0.5 - 5) ** 2 + (rows + 0.5 - 5) ** 2 < 5**2
    # the polygon approximates the circle: the pixels well inside and well outside agree
    far = np.abs(np.hypot(cols + 0.5 - 5, rows + 0.5 - 5) - 5) > 0.3
    np.testing.assert_array_equal((labels == 1)[far], inside[far])


def test_roi_zip_hostile(tmp_path):
    empty = tmp_path / "empty.zip"
    with zipfile.ZipFile(empty, "w") as archive:
        archive.writestr("readme.txt", "no rois")
    with pytest.raises(CubeFormatError, match=r"no \.roi"):
        read_annotations(empty, shape=(4, 4))
    bomb = tmp_path / "bomb.zip"
    with zipfile.ZipFile(bomb, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("a.roi", b"\0" * (64 * 2**20))
    with pytest.raises(CubeFormatError, match="bomb"):
        read_annotations(bomb, shape=(4, 4))
    garbage = tmp_path / "garbage.roi"
    garbage.write_bytes(b"not an roi at all")
    with pytest.raises(CubeFormatError, match="not an ImageJ ROI"):
        read_annotations(garbage, shape=(4, 4))
    notzip = tmp_path / "not.zip"
    notzip.write_bytes(b"PK nonsense")
    with pytest.raises(CubeFormatError, match="not a readable ROI set"):
        read_annotations(notzip, shape=(4, 4))


# -- napari -----------------------------------------------------------------------------------
def test_napari_shapes_csv(tmp_path):
    # napari's pixel centres are whole numbers: the rectangle (0.5..2.5) covers rows/cols 1, 2
    path = tmp_path / "shapes.csv"
    path.write_text(
        "index,shape-type,vertex-index,axis-0,axis-1\n"
        "0,rectangle,0,0.5,0.5\n0,rectangle,1,0.5,2.5\n0,rectangle,2,2.5,2.5\n0,rectangle,3,2.5,0.5\n"
    )
    expected = np.zeros((4, 4), np.uint8)
    expected[1:3, 1:3] = 1
    np.testing.assert_array_equal(read_annotations(path, shape=(4, 4)), expected)
    classed = tmp_path / "classed.csv"
    classed.write_text(
        "index,shape-type,vertex-index,axis-0,axis-1,class\n"
        "0,polygon,0,-0.5,-0.5,tumor\n0,polygon,1,-0.5,0.5,tumor\n0,polygon,2,0.5,0.5,tumor\n"
        "0,polygon,3,0.5,-0.5,tumor\n1,polygon,0,-0.5,2.5,normal\n1,polygon,1,-0.5,3.5,normal\n"
        "1,polygon,2,0.5,3.5,normal\n"
    )
    labels = read_annotations(classed, shape=(2, 4))
    # tumor: the square around pixel (0, 0); normal: in corner coordinates the triangle (x, y) =
    # (3, 0), (4, 0), (4, 1), whose left edge x = 3 + y holds pixel (0, 3)'s centre: inside
    np.testing.assert_array_equal(labels, [[2, 0, 0, 1], [0, 0, 0, 0]])
    line = tmp_path / "line.csv"
    line.write_text("index,shape-type,vertex-index,axis-0,axis-1\n0,line,0,0,0\n0,line,1,1,1\n")
    with pytest.raises(CubeFormatError, match="not a region"):
        read_annotations(line, shape=(2, 2))
    other = tmp_path / "other.csv"
    other.write_text("a,b\n1,2\n")
    with pytest.raises(CubeFormatError, match="not a napari Shapes CSV"):
        read_annotations(other, shape=(2, 2))


# -- bad GeoJSON ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("content", "match"),
    [
        ("{not json", "not valid JSON"),
        ("[" * 100_000 + "]" * 100_000, "not valid JSON"),
        ('{"type": "Topology"}', "not GeoJSON"),
        (json.dumps(feature([1, 2], kind="Point")), "'Point' is not a region"),
        (json.dumps(feature([[0, 0], [1, 1]], kind="LineString")), "is not a region"),
        (json.dumps(feature([])), "empty"),
        (json.dumps(feature([[[0, 0], [1, 1]]])), "empty or malformed"),
        ("[]", "no annotation"),
    ],
)
def test_bad_geojson(tmp_path, content, match):
    path = tmp_path / "bad.geojson"
    path.write_text(content)
    with pytest.raises(CubeFormatError, match=match) as info:
        read_annotations(path, shape=(4, 4))
    assert isinstance(info.value, HsiTumorError)
    assert info.value.file is not None and info.value.fix


def test_huge_file_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("HSI_TUMOR_MEMORY_BUDGET", "1MiB")
    path = write_json(tmp_path, [feature([square(0, 0, 1, 1)])] * 2000)
    with pytest.raises(CubeFormatError, match="memory budget"):
        read_annotations(path, shape=(4, 4))


def test_bad_arguments(tmp_path):
    path = write_json(tmp_path, feature([square(0, 0, 1, 1)]))
    with pytest.raises(InvalidOptionError, match="shape"):
        read_annotations(path, shape=(0, 4))
    (tmp_path / "x.txt").write_text("")
    with pytest.raises(CubeFormatError, match="extension"):
        read_annotations(tmp_path / "x.txt", shape=(1, 1))


def test_roi_member_read_in_bounded_chunks(tmp_path, monkeypatch):
    # past the per-member bound whatever the zip declares (the shared read_zip_member)
    from hsi_tumor.io import _annotations

    rect = roifile.ImagejRoi(roitype=roifile.ROI_TYPE.RECT, left=0, top=0, right=2, bottom=2)
    path = tmp_path / "set.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("a.roi", rect.tobytes())
    np.testing.assert_array_equal(read_annotations(path, shape=(2, 2)), np.ones((2, 2)))
    monkeypatch.setattr(_annotations, "_MAX_ROI_BYTES", 10)
    with pytest.raises(CubeFormatError, match="inflates to more than 10 bytes") as info:
        read_annotations(path, shape=(2, 2))
    assert info.value.field == "a.roi"


def test_napari_ellipse(tmp_path):
    # napari stores an ellipse as its bounding box's 4 corners (pixel-centre coordinates):
    # -0.5..9.5 is the corner-origin box 0..10, the circle of radius 5 about (5, 5)
    path = tmp_path / "ellipse.csv"
    corners = [(-0.5, -0.5), (-0.5, 9.5), (9.5, 9.5), (9.5, -0.5)]
    path.write_text(
        "index,shape-type,vertex-index,axis-0,axis-1\n"
        + "".join(f"0,ellipse,{i},{r},{c}\n" for i, (r, c) in enumerate(corners))
    )
    labels = read_annotations(path, shape=(10, 10))
    rows, cols = np.mgrid[:10, :10]
    distance = np.hypot(cols + 0.5 - 5, rows + 0.5 - 5)
    far = np.abs(distance - 5) > 0.1  # the 256-gon is within 0.002 px of the circle
    np.testing.assert_array_equal((labels == 1)[far], (distance < 5)[far])
    assert (labels == 1).sum() > 60
