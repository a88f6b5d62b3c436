"""The hsi-tumor command: info, demo, and one-line errors."""

from __future__ import annotations

import numpy as np
import pytest

import hsi_tumor as ht
from hsi_tumor.cli import main


def test_demo_writes_capture_and_picture(tmp_path, capsys):
    assert main(["--quiet", "demo", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "SIMULATED data" in out and "128 rows x 160 cols x 100 bands" in out
    assert (tmp_path / "demo_specimen_rgb.png").stat().st_size > 1000
    reflectance = ht.calibrate_capture(tmp_path / "demo_specimen", saturation=4095)
    tissue = ht.tissue_mask(reflectance)
    spectra = reflectance.load().pixels()[tissue.ravel()]
    mean = np.nanmean(spectra, axis=0)
    # the simulated tissue shows the 1450 nm water band: darker there than at 1300 nm
    assert mean[reflectance.band_index(1450)] < 0.8 * mean[reflectance.band_index(1300)]
    assert main(["--quiet", "demo", "--out", str(tmp_path)]) == 0  # reruns replace cleanly


def test_info(tmp_path, capsys, rng):
    ht.write_cube(ht.Cube(rng.random((3, 4, 2)), [1000, 1100], {"bbl": [1, 0]}), tmp_path / "c.h5")
    assert main(["info", str(tmp_path / "c.h5")]) == 0
    out = capsys.readouterr().out
    assert "3 rows x 4 cols x 2 bands" in out and "bad bands (bbl = 0): 1" in out


def test_bad_input_is_one_line(tmp_path, capsys):
    assert main(["info", str(tmp_path / "missing.hdr")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("hsi-tumor: error: ") and "missing.hdr" in err[-1]
    with pytest.raises(ht.MissingFileError):
        main(["--debug", "info", str(tmp_path / "missing.hdr")])


def test_info_of_a_capture(tmp_path, capsys):
    wl = np.array([1000.0, 1100.0])
    parts = [ht.Cube(np.ones((n, 3, 2), np.uint16), wl) for n in (4, 2, 2)]
    ht.write_capture(tmp_path / "cap", *parts)
    assert main(["info", str(tmp_path / "cap")]) == 0
    out = capsys.readouterr().out
    assert "Specim capture 'cap'" in out and "white: Cube(2 rows" in out
