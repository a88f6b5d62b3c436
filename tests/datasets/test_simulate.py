"""simulate_specimen / simulate_cohort: determinism, contents, round trip through the library."""

from __future__ import annotations

import time
import warnings

import numpy as np
import pytest

import hsi_tumor as ht
from hsi_tumor import CalibrationWarning, HsiTumorError, WavelengthError
from hsi_tumor.datasets import (
    CLASS_NAMES,
    SimulatedSpecimen,
    TissueComposition,
    simulate_cohort,
    simulate_specimen,
)

SMALL = {"shape": (64, 80), "n_bands": 48}


@pytest.fixture(scope="module")
def specimen() -> SimulatedSpecimen:
    return simulate_specimen(seed=7, **SMALL)


def quiet_calibrate(spec, **options):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CalibrationWarning)
        return spec.calibrate(**options).load()


def test_deterministic_for_a_seed(specimen):
    again = simulate_specimen(seed=7, **SMALL)
    for name in ("tumor_fraction", "labels", "true_labels", "tissue", "mucosa_thickness", "glare"):
        np.testing.assert_array_equal(getattr(again, name), getattr(specimen, name))
    for name in ("raw", "white", "dark", "reflectance"):
        np.testing.assert_array_equal(getattr(again, name).data, getattr(specimen, name).data)
    other = simulate_specimen(seed=8, **SMALL)
    assert not np.array_equal(other.raw.data, specimen.raw.data)
    assert not np.array_equal(other.tumor_fraction, specimen.tumor_fraction)


def test_shapes_dtypes_ranges(specimen):
    rows, cols, bands = specimen.shape
    assert (rows, cols, bands) == (64, 80, 48)
    assert specimen.raw.dtype == np.uint16 and specimen.raw.data.max() <= 4095
    assert specimen.white.shape == specimen.dark.shape == (16, cols, bands)
    assert specimen.wavelengths[0] == 900 and specimen.wavelengths[-1] == 1700
    assert specimen.tumor_fraction.dtype == np.float32
    assert 0 <= specimen.tumor_fraction.min() and specimen.tumor_fraction.max() <= 1
    partial = (specimen.tumor_fraction > 0) & (specimen.tumor_fraction < 1)
    assert partial.any()  # partial-volume border pixels
    assert set(np.unique(specimen.true_labels)) <= {0, 1, 2} and CLASS_NAMES == {
        1: "normal",
        2: "tumor",
    }
    assert np.all(specimen.true_labels[specimen.labels > 0] == specimen.labels[specimen.labels > 0])
    unlabelled_tissue = (specimen.true_labels > 0) & (specimen.labels == 0)
    assert unlabelled_tissue.sum() > 0.1 * (specimen.true_labels > 0).sum()  # sparse
    depth = specimen.mucosa_thickness
    assert np.all(np.isnan(depth[specimen.tumor_fraction == 0]))
    assert np.all(depth[specimen.tumor_fraction > 0] >= 0)
    assert specimen.patient == "sim-7" and "SIMULATED" in repr(specimen)
    assert "SIMULATED" in specimen.raw.metadata["description"]


def test_camera_artefacts_present():
    spec = simulate_specimen(seed=3, **SMALL)
    raw = spec.raw.data
    assert (raw == 4095).any()  # glare and hot elements saturate
    assert spec.glare.any()
    span = spec.white.data.astype(float).mean(0) - spec.dark.data.astype(float).mean(0)
    hot = (spec.white.data == 4095).all(axis=0)
    assert hot.sum() == spec.camera.n_hot
    assert ((np.abs(span) < 5) & ~hot).sum() == spec.camera.n_dead  # dead: no response
    column_means = span.mean(axis=1)
    assert column_means.std() / column_means.mean() > 0.01  # column stripes


def test_mucosa_thickness_option():
    spec = simulate_specimen(seed=1, mucosa_thickness=[0.0, 2.0], **SMALL)
    assert [t.mucosa_thickness for t in spec.tumors] == [0.0, 2.0][: len(spec.tumors)]
    same = simulate_specimen(seed=1, mucosa_thickness=[1.0, 1.0], **SMALL)
    np.testing.assert_array_equal(same.tumor_fraction, spec.tumor_fraction)  # only depth differs
    assert simulate_specimen(seed=1, n_tumors=0, **SMALL).tumor_fraction.max() == 0


def test_round_trip_through_capture_folder(tmp_path, specimen):
    folder = specimen.write_capture(tmp_path / "sim_007")
    assert (folder / "capture" / "sim_007.hdr").is_file()
    assert (folder / "capture" / "WHITEREF_sim_007.hdr").is_file()
    assert (folder / "results" / "sim_007_ground_truth.npz").is_file()
    capture = ht.read_capture(folder)
    np.testing.assert_array_equal(capture.raw.load().data, specimen.raw.data)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CalibrationWarning)
        refl = ht.calibrate_capture(folder, white_reflectance=0.99).load()  # bit depth: 4095
    truth = specimen.reflectance.data
    ok = refl.valid & (truth < 0.9)
    assert ok.mean() > 0.97
    error = np.abs(refl.data - truth)[ok]
    assert np.median(error) < 0.004 and np.percentile(error, 99) < 0.03
    assert (~refl.valid).any()  # saturated glare, dead and hot elements are flagged
    truth_file = np.load(folder / "results" / "sim_007_ground_truth.npz")
    np.testing.assert_array_equal(truth_file["true_labels"], specimen.true_labels)


def test_water_features_in_calibrated_spectra():
    spec = simulate_specimen(seed=11, wavelength_range=(900, 2400), n_bands=151, shape=(64, 80))
    refl = quiet_calibrate(spec)
    wl = spec.wavelengths
    tissue = (spec.true_labels > 0) & ~spec.glare
    mean = np.nanmean(refl.data[tissue], axis=0)
    # water absorption bands are reflectance minima at 970, 1190, 1450 and 1930 nm (±20 nm)
    for nm in (970, 1190, 1450, 1930):
        band = np.flatnonzero((wl >= nm - 20) & (wl <= nm + 20))
        i = band[np.argmin(mean[band])]
        assert mean[i] < mean[i - 1] and mean[i] < mean[i + 1], nm
    r = dict(zip(wl.round(), mean, strict=True))
    assert r[1450] < 0.3 * r[1300] and r[1930] < r[1450]


def test_lipid_features_in_calibrated_spectra():
    # Two tissues that differ only in fat: their absorbance difference is the lipid spectrum
    fatty = TissueComposition(
        water=0.65, lipid=0.25, collagen=0.05, scattering_a=2.0, scattering_b=1.3
    )
    lean = TissueComposition(
        water=0.65, lipid=0.0, collagen=0.05, scattering_a=2.0, scattering_b=1.3
    )
    spec = simulate_specimen(
        seed=2,
        composition={"normal": fatty, "tumor": lean},
        mucosa_thickness=0.0,
        n_tumors=1,
        wavelength_range=(1000, 1900),
        n_bands=181,
        shape=(96, 120),
    )
    refl = quiet_calibrate(spec)
    wl = spec.wavelengths
    normal = np.nanmean(refl.data[spec.labels == 1], axis=0)
    tumor = np.nanmean(refl.data[spec.labels == 2], axis=0)
    lipid = np.log(tumor / normal)  # absorbance of fatty minus lean tissue (+ a scale offset)
    for lo, hi, band in ((1150, 1300, 1210), (1650, 1850, 1730)):
        sel = (wl >= lo) & (wl <= hi)
        assert abs(wl[sel][np.argmax(lipid[sel])] - band) <= 15, band


def test_cohort():
    cohort = simulate_cohort(4, seed=5, shape=(32, 40), n_bands=16)
    assert len(cohort) == 4 and cohort.patient_ids == ["P01", "P02", "P03", "P04"]
    bigger = simulate_cohort(5, seed=5, shape=(32, 40), n_bands=16)
    np.testing.assert_array_equal(bigger[2].raw.data, cohort[2].raw.data)
    assert {s.composition["mucosa"].water for s in cohort}.__len__() == 4  # patients differ
    assert "SIMULATED" in repr(cohort)


def test_a_cohort_is_taken_where_a_list_of_specimens_is():
    """Before: ht.train(cohort) raised "cubes[0] is a SimulatedSpecimen" (not a Sequence)."""
    cohort = simulate_cohort(2, seed=5, shape=(32, 40), n_bands=16)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ht.CalibrationWarning)
        options = dict(classifier="lda", preprocessing=("snv",), random_state=0, progress=False)
        from_cohort = ht.train(cohort, **options)
        from_list = ht.train(list(cohort), **options)
    assert from_cohort.training == from_list.training
    assert from_cohort.class_names == {1: "normal", 2: "tumor"}


def test_default_specimen_is_fast():
    start = time.perf_counter()
    spec = simulate_specimen(seed=0)
    elapsed = time.perf_counter() - start
    assert spec.shape == (256, 320, 128)
    assert elapsed < 15  # ~3 s on two cores


@pytest.mark.parametrize(
    ("options", "error", "match"),
    [
        ({"wavelength_range": (800, 1700)}, WavelengthError, "900–2500"),
        ({"n_bands": 2}, HsiTumorError, "n_bands"),
        ({"mucosa_thickness": -1.0}, HsiTumorError, "mucosa_thickness"),
        ({"shape": (8, 8)}, HsiTumorError, "shape"),
        ({"seed": "abc"}, HsiTumorError, "seed"),
    ],
)
def test_bad_options(options, error, match):
    with pytest.raises(error, match=match):
        simulate_specimen(**options)


def test_a_simulated_specimen_is_a_specimen(specimen):
    """One container (issue 13): the simulated specimen is a Specimen whose names mean what
    they mean on every Specimen; the truth has names of its own; old names warn."""
    assert isinstance(specimen, ht.Specimen)
    np.testing.assert_array_equal(specimen.cube.data, quiet_calibrate(specimen).data)
    assert (
        specimen.labels.max() == 2
        and (specimen.labels == 0).sum() > (specimen.true_labels == 0).sum()
    )
    np.testing.assert_array_equal(specimen.tissue, specimen.true_labels > 0)
    assert set(specimen.composition) == {"mucosa", "wall", "fat", "tumor"}
    for old, new in (
        ("annotation", "labels"),
        ("patient_id", "patient"),
        ("specimen_id", "name"),
        ("tissue_mask", "tissue"),
    ):
        with pytest.warns(DeprecationWarning, match=f"{old} is now .{new}"):
            value = getattr(specimen, old)
        np.testing.assert_array_equal(value, getattr(specimen, new))
    model = ht.train([specimen], class_names=CLASS_NAMES, classifier="lda", random_state=0)
    assert model.patients == ("sim-7",)
