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


def test_bit_depth_field_round_trips_and_is_checked(tmp_path, rng):
    """``bit depth`` (a field acquisition programs write; ENVI keeps unknown fields)."""
    cube = ht.Cube(rng.integers(0, 4096, (2, 3, 5), dtype=np.uint16), WL, {"bit_depth": 12})
    ht.write_cube(cube, tmp_path / "raw.hdr")
    assert "bit depth = 12" in (tmp_path / "raw.hdr").read_text()
    assert ht.read_cube(tmp_path / "raw.hdr").metadata["bit_depth"] == 12
    ht.write_cube(ht.Cube(cube.data, WL), tmp_path / "plain.hdr")
    assert "bit_depth" not in ht.read_cube(tmp_path / "plain.hdr").metadata
    data = np.zeros((2, 2, 2), np.uint16)
    for value in ("twelve", "0", "65"):
        extra = ["wavelength = {1000, 1100}", f"bit depth = {value}"]
        hdr = write_raw(tmp_path, data, base_header(2, 2, 2, extra=extra), name=f"b{value}")
        with pytest.raises(ht.CubeFormatError) as err:
            ht.read_cube(hdr)
        assert err.value.field == "bit depth" and str(hdr) in str(err.value)


# -- the header + data pair, written atomically (issue 18) ------------------------------------


def _pair_cube(seed, wavelengths, **metadata):
    data = np.random.default_rng(seed).random((5, 4, 3)).astype(np.float32)
    return ht.Cube(data, np.asarray(wavelengths, float), metadata)


OLD_WL, NEW_WL = [900.0, 1000.0, 1100.0], [1500.0, 1600.0, 1700.0]


def test_the_data_file_begins_with_its_header(tmp_path):
    """ENVI's embedded-header layout: the data file starts with the header text (NUL-padded to
    ``header offset``, a multiple of 512) and spectral, an independent reader, skips it."""
    cube = _pair_cube(0, OLD_WL, band_names=["a", "b", "c"], description="two\nlines")
    ht.write_cube(cube, tmp_path / "c.hdr", interleave="bil")
    text = (tmp_path / "c.hdr").read_bytes()
    hdr = spectral.io.envi.read_envi_header(str(tmp_path / "c.hdr"))
    offset = int(hdr["header offset"])
    assert offset % 512 == 0 and len(text) < offset
    assert len(hdr["hsi_tumor write id"]) == 32
    data = (tmp_path / "c.img").read_bytes()
    assert data[:offset] == text.ljust(offset, b"\0")
    assert len(data) == offset + cube.nbytes
    other = spectral.io.envi.open(str(tmp_path / "c.hdr"), str(tmp_path / "c.img"))
    np.testing.assert_array_equal(np.asarray(other.load()), cube.data)


@pytest.mark.parametrize("n_bands", [1, 3, 400])
def test_the_embedded_header_parses_as_spectral_parses_the_header(tmp_path, n_bands):
    from hsi_tumor.io._envi import _embedded_header, _parse_header_text

    wl = 900.0 + 1.7 * np.arange(n_bands)
    meta = {
        "description": "first line\nsecond, with a comma",
        "fwhm": np.full(n_bands, 3.25),
        "bbl": np.arange(n_bands) % 5 != 0,
        "band_names": [f"band {i}, {{x}}" for i in range(n_bands)],
        "default_bands": [0],
        "reflectance_scale_factor": 10000.0,
    }
    cube = ht.Cube(np.zeros((2, 2, n_bands), np.uint16), wl, meta)
    ht.write_cube(cube, tmp_path / "c.hdr")
    embedded = _embedded_header(tmp_path / "c.img")
    assert embedded.offset == int(
        spectral.io.envi.read_envi_header(str(tmp_path / "c.hdr"))["header offset"]
    )
    assert _parse_header_text(embedded.text, tmp_path / "c.img") == (
        spectral.io.envi.read_envi_header(str(tmp_path / "c.hdr"))
    )
    features = ht.Cube(np.zeros((2, 2, 2), np.float32), None)
    ht.write_cube(features, tmp_path / "f.hdr")
    assert _parse_header_text(_embedded_header(tmp_path / "f.img").text, tmp_path) == (
        spectral.io.envi.read_envi_header(str(tmp_path / "f.hdr"))
    )


def _new_data_beside_old_header(tmp_path, old_header_edit=None):
    """The state a write killed between its two renames leaves: the new data file in place,
    the old header (or, with ``old_header_edit``, an edited one) beside it."""
    ht.write_cube(_pair_cube(1, OLD_WL), tmp_path / "c.hdr")
    if old_header_edit is not None:
        old_header_edit(tmp_path / "c.hdr")
    (tmp_path / "new").mkdir()
    ht.write_cube(_pair_cube(2, NEW_WL), tmp_path / "new" / "c.hdr")
    (tmp_path / "new" / "c.img").replace(tmp_path / "c.img")
    return (tmp_path / "new" / "c.hdr").read_bytes()


@pytest.mark.parametrize("read", ["header", "data file"])
def test_new_data_is_never_read_with_an_old_header(tmp_path, caplog, read):
    """Issue 18: old header + new data read without error as a mix (old wavelengths); the data
    file's own header is used instead, and the next write puts it back."""
    new_header = _new_data_beside_old_header(tmp_path)
    back = ht.read_cube(tmp_path / ("c.hdr" if read == "header" else "c.img"))
    np.testing.assert_array_equal(back.wavelengths, NEW_WL)
    np.testing.assert_array_equal(back.load().data, _pair_cube(2, NEW_WL).data)
    assert "does not describe" in caplog.text and "embedded in the data file" in caplog.text
    with pytest.raises(ht.OutputExistsError):  # the killed write had committed its data
        ht.write_cube(_pair_cube(3, OLD_WL), tmp_path / "c.hdr")
    assert (tmp_path / "c.hdr").read_bytes() == new_header  # put back by that write


def test_a_header_without_write_id_older_than_the_data_is_stale(tmp_path):
    """An earlier version's header (no write id) beside data an overwrite killed between its
    renames put there: the data's own header is read."""

    def earlier_version(header):
        lines = header.read_text().splitlines(keepends=True)
        header.write_text("".join(line for line in lines if "write id" not in line))

    _new_data_beside_old_header(tmp_path, earlier_version)
    np.testing.assert_array_equal(ht.read_cube(tmp_path / "c.hdr").wavelengths, NEW_WL)


def test_a_header_edited_after_the_write_is_read_as_it_is(tmp_path):
    """An edit made after the data was written (even one that drops the write id, or the
    header offset) is the user's: read, and never replaced by a later refused write."""
    cube = _pair_cube(1, OLD_WL)
    ht.write_cube(cube, tmp_path / "c.hdr")
    header = tmp_path / "c.hdr"
    lines = header.read_text().splitlines(keepends=True)
    kept = [line for line in lines if not line.startswith(("hsi_tumor write id", "header offset"))]
    edited = "".join(kept).replace("1100.0", "1150.0")
    header.write_text(edited)
    back = ht.read_cube(header)
    np.testing.assert_array_equal(back.wavelengths, [900.0, 1000.0, 1150.0])
    np.testing.assert_array_equal(back.load().data, cube.data)  # the data after the embedded one
    with pytest.raises(ht.OutputExistsError):
        ht.write_cube(cube, header)
    assert header.read_text() == edited


def test_a_nul_in_a_description_does_not_cut_the_embedded_header(tmp_path):
    cube = _pair_cube(1, OLD_WL, description="before\0after")
    ht.write_cube(cube, tmp_path / "c.hdr")
    back = ht.read_cube(tmp_path / "c.img")
    assert back.metadata["description"] == "beforeafter"
    np.testing.assert_array_equal(back.wavelengths, OLD_WL)


def test_looking_for_an_embedded_header_never_opens_a_fifo(tmp_path):
    import os

    from hsi_tumor.io._envi import _embedded_header, _sidecar_write_id

    os.mkfifo(tmp_path / "pipe.img")
    assert _embedded_header(tmp_path / "pipe.img") is None  # returns at once, no reader waits
    assert _sidecar_write_id(tmp_path / "pipe.img") is None


def test_a_text_file_named_hdr_is_not_an_envi_header(tmp_path):
    """Issue 17: reported as 'the ENVI data file beside this header is missing' before."""
    (tmp_path / "notes.hdr").write_text("these are my notes\nsamples = 3\n")
    for beside in (False, True):
        if beside:
            (tmp_path / "notes.img").write_bytes(b"\0" * 64)
        with pytest.raises(ht.CubeFormatError, match="not an ENVI header") as info:
            ht.read_cube(tmp_path / "notes.hdr")
        assert info.value.file == str(tmp_path / "notes.hdr") and info.value.fix
    (tmp_path / "bom.hdr").write_bytes(b"\xef\xbb\xbfENVI\nsamples = 1\n")  # a BOM is fine
    with pytest.raises(ht.MissingFileError, match="data file"):
        ht.read_cube(tmp_path / "bom.hdr")


def test_png_and_json_beside_a_header_are_not_its_data_file(tmp_path, rng):
    """A tumor-map folder holds tumor_probability.hdr/.img beside tumor_probability.png."""
    ht.write_cube(random_cube(rng, np.float32), tmp_path / "map.hdr")
    (tmp_path / "map.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    with pytest.raises(ht.CubeFormatError, match="no reader recognises"):
        ht.read_cube(tmp_path / "map.png")
    assert ht.read_cube(tmp_path / "map.img").shape == ht.read_cube(tmp_path / "map.hdr").shape
