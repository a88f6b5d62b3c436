"""Specim capture folders: write with the library, read back raw cube and references."""

from __future__ import annotations

import numpy as np
import pytest

import hsi_tumor as ht

WL = np.linspace(935.61, 1720.2, 12)


@pytest.fixture
def parts(rng):
    raw = ht.Cube(rng.integers(0, 4095, (20, 16, 12), dtype=np.uint16), WL)
    white = ht.Cube(rng.integers(3000, 4095, (5, 16, 12), dtype=np.uint16), WL)
    dark = ht.Cube(rng.integers(0, 200, (5, 16, 12), dtype=np.uint16), WL)
    return raw, white, dark


def test_round_trip(tmp_path, parts):
    raw, white, dark = parts
    folder = ht.write_capture(raw, tmp_path / "specimen_07", white, dark)
    names = sorted(p.name for p in (folder / "capture").iterdir())
    assert names == [
        "DARKREF_specimen_07.hdr",
        "DARKREF_specimen_07.raw",
        "WHITEREF_specimen_07.hdr",
        "WHITEREF_specimen_07.raw",
        "specimen_07.hdr",
        "specimen_07.raw",
    ]
    cap = ht.read_capture(folder)
    assert cap.name == "specimen_07"
    assert cap.white_dark is None
    for got, want in [(cap.raw, raw), (cap.white, white), (cap.dark, dark)]:
        assert got.storage == "memory-mapped" and got.metadata["interleave"] == "bil"
        np.testing.assert_array_equal(got.load().data, want.data)
        np.testing.assert_array_equal(got.wavelengths, WL)
    # read_cube on the folder (or its capture/ sub-folder) gives the raw cube
    np.testing.assert_array_equal(ht.read_cube(folder).load().data, raw.data)
    np.testing.assert_array_equal(ht.read_cube(folder / "capture").load().data, raw.data)
    assert "Capture('specimen_07', raw=(20, 16, 12)" in repr(cap)


def test_a_capture_named_capture(tmp_path, parts):
    """``capture/capture/capture.hdr``: the folder and its sub-folder share the name."""
    raw, white, dark = parts
    folder = ht.write_capture(raw, tmp_path / "capture", white, dark)
    for given in (folder, folder / "capture"):
        cap = ht.read_capture(given)
        assert cap.name == "capture" and cap.folder == folder
        np.testing.assert_array_equal(cap.white.load().data, white.data)
        np.testing.assert_array_equal(ht.read_cube(given).load().data, raw.data)


def test_missing_reference_is_none_with_a_warning(tmp_path, parts, caplog):
    folder = ht.write_capture(parts[0], tmp_path / "s", *parts[1:])
    for p in (folder / "capture").glob("WHITEREF_*"):
        p.unlink()
    cap = ht.read_capture(folder)
    assert cap.white is None and cap.dark is not None
    assert "no white reference" in caplog.text


def test_mismatched_reference_is_refused(tmp_path, parts):
    raw, white, dark = parts
    with pytest.raises(ht.CubeFormatError, match="white reference is 8 x 12"):
        ht.write_capture(raw, tmp_path / "s", white[:, :8], dark)
    assert not (tmp_path / "s").exists()


def test_existing_folder_is_kept(tmp_path, parts):
    folder = ht.write_capture(parts[0], tmp_path / "s", *parts[1:])
    with pytest.raises(ht.OutputExistsError, match="overwrite=True"):
        ht.write_capture(parts[0], folder, *parts[1:])
    ht.write_capture(parts[0], folder, *parts[1:], overwrite=True)
    assert len(list(tmp_path.iterdir())) == 1


def test_not_a_capture_folder(tmp_path):
    with pytest.raises(ht.MissingFileError, match="capture"):
        ht.read_capture(tmp_path)
    with pytest.raises(ht.MissingFileError, match="no such capture folder"):
        ht.read_capture(tmp_path / "nope")


def test_data_first_and_the_old_order_deprecated(tmp_path, rng):
    """Every writer takes the data first (issue 13): a Capture or the raw cube, then the folder."""
    wl = np.linspace(1000, 1600, 5)
    raw, white, dark = (
        ht.Cube(rng.integers(0, 4000, (n, 6, 5)).astype(np.uint16), wl) for n in (8, 3, 3)
    )
    first = ht.write_capture(raw, tmp_path / "a", white, dark)
    capture = ht.read_capture(first)
    again = ht.write_capture(capture, tmp_path / "b")
    np.testing.assert_array_equal(ht.read_capture(again).white.load().data, white.data)
    with pytest.warns(DeprecationWarning, match="data first"):
        old = ht.write_capture(tmp_path / "c", raw, white, dark)
    np.testing.assert_array_equal(ht.read_capture(old).raw.load().data, raw.data)
    with pytest.raises(ht.InvalidOptionError, match="come from the Capture"):
        ht.write_capture(capture, tmp_path / "d", white, dark)
    with pytest.raises(ht.InvalidOptionError, match="needs a Capture"):
        ht.write_capture(raw, tmp_path / "e")


def test_html_display(tmp_path, parts):
    from hsi_tumor.io import Capture
    from tests._shared.test_display import check_html

    cap = ht.read_capture(ht.write_capture(parts[0], tmp_path / "specimen_07", *parts[1:]))
    page = cap._repr_html_()
    check_html(page)
    for fact in (
        "hsi_tumor.Capture",
        "specimen_07",
        "20 lines x 16 samples x 12 bands, uint16",
        "12 bands, 935.61–1720.2 nm",
        "5 frames, uint16",
    ):
        assert fact in page, fact
    assert "dark of the white" not in page  # none recorded
    evil = Capture(cap.raw, None, None, name="<script>x</script>")
    page = evil._repr_html_()
    check_html(page)
    assert "&lt;script&gt;" in page and ">none<" in page
