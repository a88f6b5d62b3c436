"""Reflectance calibration: closed forms, reference shapes, flags, laziness, Specim folders."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import hsi_tumor as ht
from hsi_tumor.calibration import calibrate, calibrate_capture

WL = np.array([1000.0, 1100.0, 1200.0])


def test_closed_form_known_triple():
    # raw 600, white 1100, dark 100 -> (600 - 100) / (1100 - 100) = 0.5, times a 0.98 panel
    raw = ht.Cube(np.full((4, 5, 3), 600, np.uint16), WL)
    r = calibrate(raw, white=np.full(3, 1100), dark=np.full(3, 100), white_reflectance=0.98)
    loaded = r.load()
    assert loaded.dtype == np.float32
    np.testing.assert_allclose(loaded.data, 0.49, rtol=1e-6)
    assert np.asarray(loaded.valid).all()


def test_matches_float64_formula_for_every_reference_shape(rng):
    raw = rng.integers(200, 3000, (9, 6, 3)).astype(np.uint16)
    white = rng.integers(3200, 4000, (5, 6, 3)).astype(np.uint16)  # frames x cols x bands
    dark = rng.integers(50, 150, (5, 6, 3)).astype(np.uint16)
    panel = np.array([0.95, 0.97, 0.99])
    expected = (raw - dark.mean(0)) / (white.mean(0) - dark.mean(0)) * panel
    cube = ht.Cube(raw, WL)
    for w, d in [
        (white, dark),
        (white.mean(0), dark.mean(0)),
        (ht.Cube(white, WL), ht.Cube(dark, WL)),
    ]:
        got = calibrate(cube, w, d, white_reflectance=panel).load().data
        np.testing.assert_allclose(got, expected, rtol=2e-6)
    median = calibrate(cube, white, dark, average="median").load().data
    exp_median = (raw - np.median(dark, 0)) / (np.median(white, 0) - np.median(dark, 0))
    np.testing.assert_allclose(median, exp_median, rtol=2e-6)
    spectrum = calibrate(cube, white.mean((0, 1)), dark.mean((0, 1))).load().data
    exp_spec = (raw - dark.mean((0, 1))) / (white.mean((0, 1)) - dark.mean((0, 1)))
    np.testing.assert_allclose(spectrum, exp_spec, rtol=2e-6)


def test_white_dark_reference(rng):
    raw = ht.Cube(np.full((2, 2, 3), 500, np.uint16), WL)
    r = calibrate(raw, white=np.full(3, 2100), dark=np.full(3, 100), white_dark=np.full(3, 300))
    np.testing.assert_allclose(r.load().data, (500 - 100) / (2100 - 300), rtol=1e-6)


def test_bad_references_and_saturation_are_flagged_not_silent():
    raw = np.full((4, 3, 3), 1000, np.uint16)
    raw[1, 2, 0] = 4095  # saturated 12-bit pixel-band
    white = np.full((3, 3), 3000.0)
    dark = np.full((3, 3), 100.0)
    white[0, 1] = 100.0  # white == dark: division by zero
    white[2, 2] = 50.0  # white < dark
    with pytest.warns(ht.CalibrationWarning) as record:
        r = calibrate(ht.Cube(raw, WL), white, dark, saturation=4095)
    message = str(record[0].message)
    assert "2 of 9 column-bands" in message and "8 pixel-bands" in message
    assert "1 raw pixel-bands saturated" in message
    data, valid = r.load().data, np.asarray(r.valid)
    assert not np.isinf(data).any()
    expected_invalid = np.zeros(raw.shape, bool)
    expected_invalid[:, 0, 1] = expected_invalid[:, 2, 2] = True
    expected_invalid[1, 2, 0] = True
    np.testing.assert_array_equal(~valid, expected_invalid)
    np.testing.assert_array_equal(np.isnan(data), expected_invalid)
    assert r.metadata["calibration"]["saturated_raw_pixel_bands"] == 1


def test_saturation_defaults_to_dtype_maximum():
    raw = np.full((1, 2, 3), 65535, np.uint16)
    with pytest.warns(ht.CalibrationWarning, match="6 raw pixel-bands saturated"):
        calibrate(ht.Cube(raw, WL), np.full(3, 60000), np.zeros(3))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # float raw: no saturation unless given
        calibrate(ht.Cube(raw.astype(np.float32), WL), np.full(3, 60000), np.zeros(3)).load()


def test_errors():
    raw = ht.Cube(np.ones((2, 4, 3), np.uint16), WL)
    with pytest.raises(ht.CalibrationError, match=r"white reference has shape \(5, 3\)"):
        calibrate(raw, np.ones((5, 3)), np.zeros(3))
    with pytest.raises(ht.CalibrationError, match="swapped"):
        calibrate(raw, np.zeros(3), np.ones(3))
    with pytest.raises(ht.WavelengthError, match="dark reference's wavelengths"):
        calibrate(raw, np.ones(3) * 5, ht.Cube(np.zeros((1, 4, 3)), WL + 1))
    with pytest.raises(ht.CalibrationError, match="white_reflectance"):
        calibrate(raw, np.ones(3) * 5, np.zeros(3), white_reflectance=-1)
    with pytest.raises(ht.InvalidTypeError, match="Cube"):
        calibrate(np.ones((2, 4, 3)), np.ones(3), np.zeros(3))


@pytest.mark.parametrize("field", ["dark", "white"])
def test_an_all_nan_reference_is_blamed_on_itself(field):
    # Before: an all-NaN dark reference was reported as field 'white', without saying NaN.
    raw = ht.Cube(np.ones((2, 4, 3), np.uint16), WL)
    refs = {"white": np.full(3, 5.0), "dark": np.zeros(3)}
    refs[field] = np.full(3, np.nan)
    with pytest.raises(ht.CalibrationError, match=f"the {field} reference is NaN") as info:
        calibrate(raw, refs["white"], refs["dark"])
    assert info.value.field == field


def test_lazy_selection_and_reads(rng):
    raw = rng.integers(200, 3000, (30, 8, 3)).astype(np.uint16)
    white, dark = rng.uniform(3500, 3900, (8, 3)), rng.uniform(50, 150, (8, 3))
    r = calibrate(ht.Cube(raw, WL), white, dark)
    full = (raw - dark) / (white - dark)
    assert r.storage == "lazy (calibrated on read)"
    np.testing.assert_allclose(r[3:7, 2:5].load().data, full[3:7, 2:5], rtol=2e-6)
    np.testing.assert_allclose(r.data[4, 6], full[4, 6], rtol=2e-6)
    np.testing.assert_allclose(r.data[:, 1, [0, 2]], full[:, 1, [0, 2]], rtol=2e-6)
    np.testing.assert_allclose(
        r.sel(wavelengths=(1050, 1250)).load().data, full[:, :, 1:], rtol=2e-6
    )


def test_out_file_and_memmapped_raw(tmp_path, rng):
    raw = ht.Cube(rng.integers(200, 3000, (40, 8, 3)).astype(np.uint16), WL)
    ht.write_cube(raw, tmp_path / "raw.hdr", interleave="bil")
    mm = ht.read_cube(tmp_path / "raw.hdr")
    white, dark = np.full(3, 4000.0), np.full(3, 100.0)
    r = calibrate(mm, white, dark, out=tmp_path / "refl.hdr")
    assert r.storage == "memory-mapped" and r.dtype == np.float32
    np.testing.assert_allclose(r.load().data, (raw.data - 100.0) / 3900.0, rtol=2e-6)
    assert np.asarray(r.valid).all()


def test_specim_folder_written_by_the_io_layer(tmp_path, rng):
    wl = np.linspace(950, 1650, 6)
    raw = rng.integers(300, 3000, (12, 10, 6)).astype(np.uint16)
    white = rng.integers(3500, 3900, (4, 10, 6)).astype(np.uint16)
    dark = rng.integers(80, 120, (4, 10, 6)).astype(np.uint16)
    raw_cube, white_cube, dark_cube = (ht.Cube(a, wl) for a in (raw, white, dark))
    folder = ht.write_capture(raw_cube, tmp_path / "spec", white_cube, dark_cube)
    r = calibrate_capture(folder, saturation=4095)
    expected = (raw - dark.mean(0)) / (white.mean(0) - dark.mean(0))
    np.testing.assert_allclose(r.load().data, expected, rtol=2e-6)
    np.testing.assert_array_equal(r.wavelengths, wl)
    for p in (folder / "capture").glob("DARKREF_*"):
        p.unlink()
    with pytest.raises(ht.CalibrationError, match="no dark reference"):
        calibrate_capture(folder)


def test_large_memmapped_cube_calibrates_to_file_in_bounded_memory(tmp_path):
    """A sparse 128 MiB raw cube calibrates to a 256 MiB file with a few tiles of heap memory.

    Peak heap is measured with tracemalloc (numpy reports its buffers to it); pages of the
    memory-mapped input are file cache, not allocations, and are left out.
    """
    import tracemalloc

    rows, cols, bands = 512, 512, 256
    header = [
        f"samples = {cols}",
        f"lines = {rows}",
        f"bands = {bands}",
        "header offset = 0",
        "data type = 12",
        "interleave = bil",
        "byte order = 0",
        "wavelength = {" + ", ".join(str(900 + 2 * i) for i in range(bands)) + "}",
    ]
    (tmp_path / "raw.hdr").write_text("ENVI\n" + "\n".join(header) + "\n")
    with open(tmp_path / "raw", "wb") as f:
        f.truncate(rows * cols * bands * 2)
    raw = ht.read_cube(tmp_path / "raw.hdr")
    tracemalloc.start()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ht.CalibrationWarning)
            r = calibrate(raw, np.full(bands, 1000.0), np.zeros(bands), out=tmp_path / "refl.h5")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert r.shape == (rows, cols, bands) and r.dtype == np.float32
    assert peak < 96 * 2**20, f"peak heap {peak / 2**20:.0f} MiB for a 256 MiB output"
    assert peak > 2**20  # the measurement sees the tiles (it can fail)


def test_bit_depth_in_the_metadata_sets_the_default_saturation():
    # a 12-bit camera in 16-bit words: 4095 is saturated though the dtype holds 65535
    raw = np.full((2, 3, 3), 1000, np.uint16)
    raw[0, 1, 2] = 4095
    cube = ht.Cube(raw, WL, {"bit_depth": 12})
    with pytest.warns(ht.CalibrationWarning, match=r"1 raw pixel-bands saturated \(≥ 4095\)"):
        r = calibrate(cube, np.full(3, 3000), np.full(3, 100))
    expected = np.ones(raw.shape, bool)
    expected[0, 1, 2] = False
    np.testing.assert_array_equal(np.asarray(r.valid), expected)
    assert r.metadata["calibration"]["saturation"] == 4095
    assert "bit_depth" not in r.metadata  # reflectance is no longer 12-bit counts
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # an explicit saturation still wins
        explicit = calibrate(cube, np.full(3, 3000), np.full(3, 100), saturation=5000)
    assert np.asarray(explicit.valid).all()


def test_capture_header_records_bit_depth_and_defaults_flag_saturated_glare(tmp_path):
    """A simulated 12-bit camera's capture: calibrate_capture(folder) needs no saturation=."""
    spec = ht.simulate_specimen(seed=3, shape=(32, 40), n_bands=30)
    assert (spec.raw.data[spec.glare] == 4095).any()  # the glare saturates the sensor
    folder = spec.write_capture(tmp_path / "P01-1")
    header = (folder / "capture" / "P01-1.hdr").read_text()
    assert "bit depth = 12" in header
    assert ht.read_capture(folder).raw.metadata["bit_depth"] == 12
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ht.CalibrationWarning)
        default = calibrate_capture(folder)
        explicit = calibrate_capture(folder, saturation=4095)
        dtype_max = calibrate_capture(folder, saturation=65535)
    assert default.metadata["calibration"]["saturation"] == 4095
    saturated = (np.asarray(spec.raw.data) >= 4095).any(axis=2)
    valid = np.asarray(default.valid)
    assert saturated.any() and not valid[saturated].all(axis=-1).any()
    np.testing.assert_array_equal(valid, np.asarray(explicit.valid))
    np.testing.assert_array_equal(default.load().data, explicit.load().data)
    assert np.asarray(dtype_max.valid).sum() > valid.sum()  # 65535: glare passes as tissue


def test_valid_is_a_lazy_mask_with_numpy_manners():
    """Issue 17: ``reflectance.valid`` showed ``<...CalibratedArray object at 0x...>`` and
    ``~reflectance.valid`` raised TypeError."""
    raw = np.full((6, 3, 3), 1000, np.uint16)
    raw[1, 2, 0] = 4095  # saturated
    white = np.full((3, 3), 3000.0)
    white[0, 1] = 100.0  # white == dark: column 0, band 1 unusable
    with pytest.warns(ht.CalibrationWarning):
        r = calibrate(ht.Cube(raw, WL), white, np.full((3, 3), 100.0), saturation=4095)
    invalid = np.isnan(r.load().data)  # the independent reference: NaN reflectance
    assert invalid.sum() == 6 + 1
    valid = r.valid
    assert repr(valid) == (
        "CalibratedValidity(6 rows x 3 cols x 3 bands, bool, lazy (calibrated on read): "
        "False where a reference failed or the sensor saturated)"
    )
    np.testing.assert_array_equal(np.asarray(~valid), invalid)
    np.testing.assert_array_equal(np.asarray(valid & ~invalid), ~invalid)
    np.testing.assert_array_equal(np.asarray(valid | invalid), np.ones(raw.shape, bool))
    assert valid.sum() == raw.size - 7 and (~valid).sum() == 7
    np.testing.assert_array_equal(valid.all(axis=2), ~invalid.any(axis=2))
    np.testing.assert_array_equal(valid[1, 2], ~invalid[1, 2])
    np.testing.assert_array_equal(r[2:5, 1:].valid.all(axis=2), ~invalid[2:5, 1:].any(axis=2))
    assert valid.shape == raw.shape and valid.dtype == bool


@pytest.mark.parametrize(
    ("raw", "white", "dark", "field", "what"),
    [
        (np.full((2, 3, 2), 600 + 1j), [1100, 1100], [100, 100], "raw", "complex numbers"),
        (np.ones((2, 3, 2), bool), [1, 1], [0, 0], "raw", "booleans"),
        (np.full((2, 3, 2), 600, np.uint16), ["a", "b"], [100, 100], "white", "<U1 values"),
        (
            np.full((2, 3, 2), 600, np.uint16),
            [1100, 1100],
            np.array([100, 100], dtype=object),
            "dark",
            "object values",
        ),
        (np.full((2, 3, 2), 600, np.uint16), [1100, 1100], [100 + 0j, 100], "dark", "complex"),
    ],
)
def test_values_that_are_not_counts_fail_at_once_not_at_load(raw, white, dark, field, what):
    """Issue 18: complex raw cubes and string/object references raised UFuncTypeError or
    TypeError only at .load(), and a boolean raw cube calibrated to negative 'valid'
    reflectance."""
    with pytest.raises(ht.CalibrationError, match=what) as info:
        ht.calibrate(ht.Cube(raw, [1000.0, 1100.0]), white, dark)
    assert info.value.field == field and "Fix:" in str(info.value)
