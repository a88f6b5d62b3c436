"""ENVI reading and writing: every interleave x data type x byte order, header fields, errors."""

from __future__ import annotations

import numpy as np
import pytest
import spectral

import hsi_tumor as ht
from hsi_tumor.io._envi import ENVI_DTYPES

WL = np.array([901.25, 950.5, 1000.125, 1100.0, 1250.75])


def random_cube(rng, dtype, shape=(6, 7, 5)):
    dtype = np.dtype(dtype)
    if dtype.kind == "c":
        data = (rng.normal(size=shape) + 1j * rng.normal(size=shape)).astype(dtype)
    elif dtype.kind == "f":
        data = rng.normal(size=shape).astype(dtype)
    else:
        info = np.iinfo(dtype)
        data = rng.integers(info.min, info.max, size=shape, dtype=dtype, endpoint=True)
    return ht.Cube(data, WL[: shape[2]])


REAL_DTYPES = [dt for dt in ENVI_DTYPES.values() if dt.kind != "c"]


@pytest.mark.parametrize("interleave", ["bsq", "bil", "bip"])
@pytest.mark.parametrize("dtype", REAL_DTYPES, ids=str)
@pytest.mark.parametrize("byte_order", [0, 1])
def test_round_trip_every_layout_type_and_byte_order(tmp_path, rng, interleave, dtype, byte_order):
    cube = random_cube(rng, dtype)
    path = tmp_path / "c.hdr"
    ht.write_cube(cube, path, interleave=interleave, byte_order=byte_order)
    back = ht.read_cube(path)
    assert back.storage == "memory-mapped"
    assert back.shape == cube.shape
    assert back.dtype.newbyteorder("=") == cube.dtype
    assert back.dtype.byteorder in ("=", "|", "<" if byte_order == 0 else ">")
    np.testing.assert_array_equal(back.load().data, cube.data)
    assert back.load().data.dtype == cube.dtype
    np.testing.assert_array_equal(back.wavelengths, cube.wavelengths)  # exact, bit for bit


@pytest.mark.parametrize("dtype", [np.complex64, np.complex128])
def test_complex_cube_is_refused_not_read_without_its_imaginary_part(tmp_path, rng, dtype):
    """ENVI data types 6 and 9 (complex) read as complex cubes whose imaginary part every later
    step dropped silently (issue 18): now a CubeFormatError naming 'data type'."""
    path = tmp_path / "c.hdr"
    ht.write_cube(random_cube(rng, dtype), path)
    with pytest.raises(ht.CubeFormatError, match=r"complex numbers.*Fix:") as info:
        ht.read_cube(path)
    assert info.value.field == "data type"


@pytest.mark.parametrize("interleave", ["bsq", "bil", "bip"])
def test_spectral_reads_what_we_write(tmp_path, rng, interleave):
    """An independent reader (spectral) agrees with our file layout."""
    cube = random_cube(rng, np.int16)
    ht.write_cube(cube, tmp_path / "c.img", interleave=interleave)
    img = spectral.open_image(str(tmp_path / "c.hdr"))
    np.testing.assert_array_equal(
        np.array(img.load(), dtype=np.float32), cube.data.astype(np.float32)
    )
    np.testing.assert_allclose([float(w) for w in img.metadata["wavelength"]], WL)


@pytest.mark.parametrize("interleave", ["bsq", "bil", "bip"])
def test_we_read_what_spectral_writes(tmp_path, rng, interleave):
    data = rng.integers(0, 4000, size=(5, 4, 3), dtype=np.uint16)
    spectral.envi.save_image(
        str(tmp_path / "s.hdr"),
        data,
        interleave=interleave,
        metadata={"wavelength": [1.0, 1.5, 2.0], "wavelength units": "Micrometers"},
    )
    cube = ht.read_cube(tmp_path / "s.img")  # the data file may be given instead of the header
    np.testing.assert_array_equal(cube.load().data, data)
    np.testing.assert_allclose(cube.wavelengths, [1000.0, 1500.0, 2000.0])


def write_raw(tmp_path, data, header_lines, name="x", ext=".raw"):
    data.tofile(tmp_path / f"{name}{ext}")
    (tmp_path / f"{name}.hdr").write_text("ENVI\n" + "\n".join(header_lines) + "\n")
    return tmp_path / f"{name}.hdr"


def base_header(rows, cols, bands, code=12, interleave="bip", extra=()):
    return [
        f"samples = {cols}",
        f"lines = {rows}",
        f"bands = {bands}",
        "header offset = 0",
        f"data type = {code}",
        f"interleave = {interleave}",
        "byte order = 0",
        *extra,
    ]


@pytest.mark.parametrize("ext", ["", ".raw", ".img", ".dat", ".bin", ".BIN"])
def test_any_data_extension(tmp_path, ext):
    data = np.arange(2 * 3 * 4, dtype=np.uint16).reshape(2, 3, 4)
    hdr = write_raw(tmp_path, data, base_header(2, 3, 4, extra=["wavelength = {1,2,3,4}"]), ext=ext)
    np.testing.assert_array_equal(ht.read_cube(hdr).load().data, data)
    if ext:
        np.testing.assert_array_equal(ht.read_cube(tmp_path / f"x{ext}").load().data, data)


def test_header_offset_is_skipped(tmp_path):
    data = np.arange(24, dtype="<f4").reshape(2, 3, 4)
    with open(tmp_path / "o.raw", "wb") as f:
        f.write(b"\xff" * 128)
        f.write(data.tobytes())
    hdr = base_header(2, 3, 4, code=4, extra=["wavelength = {1000,1100,1200,1300}"])
    hdr[3] = "header offset = 128"
    (tmp_path / "o.hdr").write_text("ENVI\n" + "\n".join(hdr))
    np.testing.assert_array_equal(ht.read_cube(tmp_path / "o.hdr").load().data, data)


def test_wavenumbers_are_converted_and_reordered(tmp_path):
    data = np.arange(2 * 2 * 3, dtype=np.uint16).reshape(2, 2, 3)
    wn = [10000.0, 8000.0, 6250.0]  # cm-1 -> 1000, 1250, 1600 nm: already ascending in nm
    hdr = write_raw(
        tmp_path,
        data,
        base_header(
            2,
            2,
            3,
            extra=[
                f"wavelength = {{{', '.join(map(str, wn))}}}",
                "wavelength units = cm-1",
                "fwhm = {10, 8, 6.25}",
            ],
        ),
    )
    cube = ht.read_cube(hdr)
    np.testing.assert_allclose(cube.wavelengths, [1000.0, 1250.0, 1600.0])
    np.testing.assert_allclose(cube.metadata["fwhm"], [1.0, 1.25, 1.6])  # 1e7 dv / v^2
    np.testing.assert_array_equal(cube.load().data, data)


def test_ascending_wavenumbers_reverse_the_bands(tmp_path):
    data = np.arange(2 * 2 * 3, dtype=np.uint16).reshape(2, 2, 3)
    hdr = write_raw(
        tmp_path,
        data,
        base_header(
            2,
            2,
            3,
            extra=[
                "wavelength = {6250, 8000, 10000}",
                "wavelength units = cm-1",
                "bbl = {1, 0, 1}",
                "band names = {a, b, c}",
                "default bands = {1, 2, 3}",
            ],
        ),
    )
    cube = ht.read_cube(hdr)
    np.testing.assert_allclose(cube.wavelengths, [1000.0, 1250.0, 1600.0])
    np.testing.assert_array_equal(cube.load().data, data[:, :, ::-1])
    assert list(cube.metadata["band_names"]) == ["c", "b", "a"]
    assert cube.metadata["default_bands"] == [2, 1, 0]  # still pointing at bands a, b, c


@pytest.mark.parametrize(
    ("units", "values", "expected"),
    [
        ("Nanometers", "900, 1000", [900, 1000]),
        ("nm", "900, 1000", [900, 1000]),
        ("Micrometers", "0.9, 1.0", [900, 1000]),
        ("um", "0.9, 1.0", [900, 1000]),
        ("µm", "0.9, 1.0", [900, 1000]),
        (None, "0.9, 1.0", [900, 1000]),  # no unit, small values: micrometres
        (None, "900, 1000", [900, 1000]),
    ],
)
def test_wavelength_units(tmp_path, units, values, expected):
    extra = [f"wavelength = {{{values}}}"] + ([f"wavelength units = {units}"] if units else [])
    hdr = write_raw(tmp_path, np.zeros((1, 1, 2), np.uint16), base_header(1, 1, 2, extra=extra))
    np.testing.assert_allclose(ht.read_cube(hdr).wavelengths, expected)


def test_descending_nanometres_are_reordered(tmp_path):
    data = np.arange(6, dtype=np.uint16).reshape(1, 2, 3)
    hdr = write_raw(tmp_path, data, base_header(1, 2, 3, extra=["wavelength = {1700, 1300, 900}"]))
    cube = ht.read_cube(hdr)
    np.testing.assert_array_equal(cube.wavelengths, [900, 1300, 1700])
    np.testing.assert_array_equal(cube.load().data, data[:, :, ::-1])


def test_out_of_order_bands_are_shown_sorted_lazily(tmp_path):
    """Overlapping spectrometers (AVIRIS) list some bands out of order: sorted, still lazy."""
    data = np.arange(2 * 3 * 4, dtype=np.uint16).reshape(2, 3, 4)
    hdr = write_raw(
        tmp_path,
        data,
        base_header(
            2,
            3,
            4,
            extra=[
                "wavelength = {690, 700, 695, 710}",
                "fwhm = {1, 2, 3, 4}",
                "default bands = {2, 3, 4}",
            ],
        ),
    )
    cube = ht.read_cube(hdr)
    np.testing.assert_array_equal(cube.wavelengths, [690, 695, 700, 710])
    assert "reordered" in cube.storage
    np.testing.assert_array_equal(cube.metadata["band_order"], [0, 2, 1, 3])
    np.testing.assert_array_equal(cube.metadata["fwhm"], [1, 3, 2, 4])
    assert cube.metadata["default_bands"] == [2, 1, 3]
    expected = data[:, :, [0, 2, 1, 3]]
    np.testing.assert_array_equal(cube.load().data, expected)
    np.testing.assert_array_equal(cube[1:2, 1:].load().data, expected[1:2, 1:])
    np.testing.assert_array_equal(cube.data[1, 2], expected[1, 2])
    np.testing.assert_array_equal(cube.sel(wavelengths=(694, 711)).load().data, expected[:, :, 1:])
    assert cube.sel(wavelengths=(705, 711)).storage == "memory-mapped"  # a plain run again


def test_header_fields_survive_round_trip(tmp_path, rng):
    meta = {
        "fwhm": np.array([5.0, 5.5, 6.0, 6.5, 7.0]),
        "bbl": np.array([True, True, False, True, True]),
        "band_names": np.array(["b1", "b2", "b3", "b4", "b5"]),
        "default_bands": [4, 2, 0],
        "reflectance_scale_factor": 10000.0,
        "description": "specimen 3, {tumour} margin",
    }
    cube = ht.Cube(rng.integers(0, 10000, (3, 4, 5), dtype=np.uint16), WL, meta)
    ht.write_cube(cube, tmp_path / "m.hdr")
    back = ht.read_cube(tmp_path / "m.hdr")
    np.testing.assert_array_equal(back.metadata["fwhm"], meta["fwhm"])
    np.testing.assert_array_equal(back.metadata["bbl"], meta["bbl"])
    assert list(back.metadata["band_names"]) == list(meta["band_names"])
    assert back.metadata["default_bands"] == [4, 2, 0]
    assert back.metadata["reflectance_scale_factor"] == 10000.0
    assert "specimen 3" in back.metadata["description"]


def test_band_selection_carries_per_band_metadata(tmp_path, rng):
    meta = {"fwhm": np.arange(5.0), "bbl": np.array([1, 1, 0, 1, 1], bool), "default_bands": [1, 3]}
    cube = ht.Cube(rng.random((2, 2, 5)), WL, meta)
    ht.write_cube(cube, tmp_path / "s.hdr")
    sub = ht.read_cube(tmp_path / "s.hdr").sel(wavelengths=(950, 1200))
    np.testing.assert_array_equal(sub.wavelengths, WL[1:4])
    np.testing.assert_array_equal(sub.metadata["fwhm"], [1.0, 2.0, 3.0])
    np.testing.assert_array_equal(sub.metadata["bbl"], [True, False, True])
    assert sub.metadata["default_bands"] == [0, 2]


def test_write_never_overwrites_without_being_asked(tmp_path, rng):
    cube = random_cube(rng, np.float32)
    ht.write_cube(cube, tmp_path / "a.hdr")
    before = (tmp_path / "a.img").read_bytes()
    other = random_cube(rng, np.float32)
    with pytest.raises(ht.OutputExistsError, match="overwrite=True"):
        ht.write_cube(other, tmp_path / "a.hdr")
    assert (tmp_path / "a.img").read_bytes() == before
    ht.write_cube(other, tmp_path / "a.hdr", overwrite=True)
    np.testing.assert_array_equal(ht.read_cube(tmp_path / "a.hdr").load().data, other.data)


def test_interrupted_write_leaves_no_file(tmp_path, rng, monkeypatch):
    cube = random_cube(rng, np.float32, shape=(40, 3, 5))

    def tiles_then_fail(self, tile_rows=None):
        yield slice(0, 10), self[0:10]
        raise KeyboardInterrupt

    monkeypatch.setattr(ht.Cube, "tiles", tiles_then_fail)
    with pytest.raises(KeyboardInterrupt):
        ht.write_cube(cube, tmp_path / "x.hdr")
    assert list(tmp_path.iterdir()) == []


def test_input_file_is_opened_read_only(tmp_path, rng):
    cube = random_cube(rng, np.float32)
    ht.write_cube(cube, tmp_path / "r.hdr")
    back = ht.read_cube(tmp_path / "r.hdr")
    with pytest.raises(ValueError, match="read-only"):
        back.data[0, 0, 0] = 1


def test_reads_existing_memmap_back_onto_itself(tmp_path, rng):
    """Writing a memory-mapped cube over its own file (overwrite=True) is safe (new inode)."""
    cube = random_cube(rng, np.float32)
    ht.write_cube(cube, tmp_path / "r.hdr")
    back = ht.read_cube(tmp_path / "r.hdr")
    ht.write_cube(back, tmp_path / "r.hdr", overwrite=True, interleave="bsq")
    np.testing.assert_array_equal(ht.read_cube(tmp_path / "r.hdr").load().data, cube.data)


def test_errors_name_file_field_and_fix(tmp_path):
    data = np.zeros((2, 2, 2), np.uint16)
    hdr = write_raw(tmp_path, data, base_header(2, 2, 2, code=99, extra=["wavelength = {1, 2}"]))
    with pytest.raises(ht.CubeFormatError) as err:
        ht.read_cube(hdr)
    msg = str(err.value)
    assert str(hdr) in msg and "data type" in msg and "Fix:" in msg

    hdr = write_raw(tmp_path, data[:, :, :1], base_header(2, 2, 2, extra=["wavelength = {1, 2}"]))
    with pytest.raises(ht.CubeFormatError, match=r"has 8 bytes but the header promises 16"):
        ht.read_cube(hdr)

    (tmp_path / "lonely.hdr").write_text("ENVI\n" + "\n".join(base_header(2, 2, 2)))
    with pytest.raises(ht.MissingFileError, match="data file"):
        ht.read_cube(tmp_path / "lonely.hdr")

    hdr = write_raw(tmp_path, data, base_header(2, 2, 2, extra=["wavelength = {1000, 1100, 1200}"]))
    with pytest.raises(ht.WavelengthError, match="3 wavelengths for 2 bands"):
        ht.read_cube(hdr)

    hdr = write_raw(
        tmp_path,
        np.zeros((1, 1, 3), np.uint16),
        base_header(1, 1, 3, extra=["wavelength = {1000, 1000, 1100}"]),
        name="nm",
    )
    with pytest.raises(ht.WavelengthError, match="not strictly ascending"):
        ht.read_cube(hdr)

    hdr = write_raw(tmp_path, data, base_header(2, 2, 2), name="nowl")
    with pytest.raises(ht.WavelengthError, match="wavelengths="):
        ht.read_cube(hdr)
    # ...which the override answers
    assert ht.read_cube(hdr, wavelengths=[1000, 1100]).wavelengths.tolist() == [1000, 1100]


def test_unknown_option_is_a_clear_error(tmp_path, rng):
    ht.write_cube(random_cube(rng, np.uint8), tmp_path / "u.hdr")
    with pytest.raises(ht.InvalidOptionError, match="dataset"):
        ht.read_cube(tmp_path / "u.hdr", dataset="cube")


def test_wavelength_override_from_csv(tmp_path, rng):
    ht.write_cube(random_cube(rng, np.uint8), tmp_path / "w.hdr")
    (tmp_path / "bands.csv").write_text(
        "center_nm,fwhm_nm\n" + "\n".join(f"{1000 + 10 * i},{3 + i}" for i in range(5))
    )
    cube = ht.read_cube(tmp_path / "w.hdr", wavelengths=tmp_path / "bands.csv")
    np.testing.assert_array_equal(cube.wavelengths, [1000, 1010, 1020, 1030, 1040])
    np.testing.assert_array_equal(cube.metadata["fwhm"], [3, 4, 5, 6, 7])
