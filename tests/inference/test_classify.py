"""classify_cube: the map is the pipeline's prediction; masks, invalid data, wavelengths, memory."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import hsi_tumor as ht
from hsi_tumor.inference import _classify
from tests.models.conftest import small_cohort

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def data():
    cubes, maps, ids, truth = small_cohort()
    return cubes, maps, ids, truth


@pytest.fixture(scope="module")
def model(data):
    cubes, maps, ids, _ = data
    return ht.train(
        cubes[:2],
        maps[:2],
        classifier="logistic",
        class_names={1: "normal", 2: "tumor"},
        groups=ids[:2],
        random_state=0,
    )


def _finite_cube(cube: ht.Cube) -> ht.Cube:
    data = np.where(np.isfinite(cube.data), cube.data, 0.5).astype(np.float32)
    return ht.Cube(data, cube.wavelengths)


@pytest.mark.parametrize("path", ["fast", "scikit-learn"])
def test_map_is_the_pipeline_prediction(path, data, model, monkeypatch):
    if path == "scikit-learn":
        monkeypatch.setattr(_classify, "fast_predictor", lambda pipeline: None)
    cube = _finite_cube(data[0][2])
    result = ht.classify_cube(cube, model, tile_rows=7)  # tiles that do not divide the rows
    x = cube.pixels()
    np.testing.assert_array_equal(result.labels.reshape(-1), model.pipeline.predict(x))
    np.testing.assert_allclose(
        result.probabilities.reshape(len(x), -1), model.pipeline.predict_proba(x), atol=1e-5
    )
    assert result.valid.all() and result.n_invalid == 0 and result.n_masked == 0
    assert result.labels.dtype == np.uint8
    np.testing.assert_array_equal(result.tumor_probability, result.probability("tumor"))
    np.testing.assert_array_equal(result.tumor_probability, result.probability(2))


def test_mask_and_invalid_pixels_are_reported_not_guessed(data, model):
    cube, truth = data[0][2], data[3][2]
    mask = truth > 0
    result = ht.classify_cube(cube, model, mask=mask)  # the calibrated cube has NaN pixels
    bad = ~np.isfinite(cube.data).all(axis=2)
    assert bad.any()
    assert result.n_masked == int((~mask).sum())
    assert result.n_invalid == int((bad & mask).sum())
    np.testing.assert_array_equal(result.valid, mask & ~bad)
    assert (result.labels[~result.valid] == 0).all()
    assert np.isnan(result.probabilities[~result.valid]).all()
    assert not np.isnan(result.probabilities[result.valid]).any()
    assert "masked" in repr(result)
    assert sum(result.counts().values()) == int(result.valid.sum())


def test_valid_mask_of_the_cube_is_respected(data, model):
    cube = _finite_cube(data[0][2])
    flags = np.ones(cube.shape[:2], bool)
    flags[5:9, 10:20] = False
    flagged = ht.Cube(cube.data, cube.wavelengths, valid=flags)
    result = ht.classify_cube(flagged, model)
    np.testing.assert_array_equal(result.valid, flags)
    assert result.n_invalid == 40


def test_probabilities_and_uncertainty(data, model):
    result = ht.classify_cube(_finite_cube(data[0][2]), model)
    p = result.probabilities
    np.testing.assert_allclose(p.sum(axis=2), 1, atol=1e-6)
    u = result.uncertainty
    assert u.min() >= 0 and u.max() <= 1 + 1e-6
    # two classes: normalised entropy in closed form
    from scipy.special import xlogy

    q = p[..., 0].astype(np.float64)
    expected = -(xlogy(q, q) + xlogy(1 - q, 1 - q)) / np.log(2)
    np.testing.assert_allclose(u, expected, atol=1e-5)


def test_no_tumor_class_means_no_tumor_probability(data):
    cubes, maps, _, _ = data
    plain = ht.train(cubes[0], maps[0], classifier="lda", random_state=0)
    result = ht.classify_cube(_finite_cube(cubes[1]), plain)
    assert result.tumor_probability is None
    with pytest.raises(ht.UnknownClassError, match="no class named 'tumor'"):
        result.probability("tumor")


def test_probability_errors():
    labels = np.ones((2, 3), np.uint8)
    kept = {"classes": np.array([1, 2]), "class_names": {1: "normal", 2: "tumor"}}
    tumor_map = ht.TumorMap(labels, None, valid=labels > 0, **kept)
    with pytest.raises(ht.InvalidOptionError, match="no probabilistic output"):
        tumor_map.probability("tumor")
    tumor_map.probabilities = np.full((2, 3, 2), 0.5, np.float32)
    with pytest.raises(ht.UnknownClassError, match=r"no class id 3; classes") as info:
        tumor_map.probability(3)
    assert isinstance(info.value, KeyError) and info.value.field == "name_or_id"


def test_wavelength_guard_names_both_ranges(data, model):
    cube = _finite_cube(data[0][2])
    shifted = ht.Cube(cube.data, cube.wavelengths + 5.0)
    with pytest.raises(ht.WavelengthError, match=r"905–1705 nm.*900–1700 nm.*resample=True"):
        ht.classify_cube(shifted, model)
    fewer = cube.sel(wavelengths=(1000, 1600))
    with pytest.raises(ht.WavelengthError, match="bands"):
        ht.classify_cube(fewer, model)


def test_resample_interpolates_onto_the_model_grid(data, model):
    cube = _finite_cube(data[0][2])
    wl = cube.wavelengths
    finer = np.linspace(wl[0] - 10, wl[-1] + 10, 97)
    x = cube.pixels().astype(np.float64)
    on_finer = np.stack([np.interp(finer, wl, row) for row in x]).astype(np.float32)
    other = ht.Cube(on_finer.reshape(*cube.shape[:2], -1), finer)
    result = ht.classify_cube(other, model, resample=True)
    back = np.stack([np.interp(wl, finer, row) for row in on_finer.astype(np.float64)])
    np.testing.assert_array_equal(
        result.labels.reshape(-1), model.pipeline.predict(back.astype(np.float32))
    )


def test_bad_masks_and_models(data, model):
    cube = data[0][2]
    with pytest.raises(ht.NoValidPixelsError, match="mask is empty"):
        ht.classify_cube(cube, model, mask=np.zeros(cube.shape[:2], bool))
    with pytest.raises(ht.InvalidOptionError, match="mask has shape"):
        ht.classify_cube(cube, model, mask=np.ones((3, 3), bool))
    with pytest.raises(ht.InvalidTypeError, match="TumorModel"):
        ht.classify_cube(cube, object())


def test_bare_fitted_estimator_checks_band_count(data, model):
    cube = _finite_cube(data[0][2])
    result = ht.classify_cube(cube, model.pipeline)
    np.testing.assert_array_equal(result.labels.reshape(-1), model.pipeline.predict(cube.pixels()))
    with pytest.raises(ht.WavelengthError, match="takes 40 bands"):
        ht.classify_cube(cube.sel(wavelengths=(1000, 1600)), model.pipeline)


def test_progress_bar_by_default_and_silenced(data, model, capsys, monkeypatch):
    monkeypatch.setattr("hsi_tumor._shared.progress.DELAY", 0.0)  # show at once
    cube = _finite_cube(data[0][2])
    n_tiles = -(-cube.n_rows // 4)
    ht.classify_cube(cube, model, tile_rows=4)
    out, err = capsys.readouterr()
    assert "classify" in err and f"{n_tiles}/{n_tiles}" in err and "tile" in err
    assert out == ""
    ht.classify_cube(cube, model, tile_rows=4, progress=False)
    assert capsys.readouterr() == ("", "")


# --- memory: a memory-mapped cube far larger than the tile budget --------------------------
# The peak is that of the buffers the library allocates (tracemalloc sees numpy's), in a fresh
# process. Pages of the memory map itself are file-backed page cache, reclaimable by the
# kernel, and not counted: that is what reading a memory map lazily means.

CHILD = r"""
import json, sys, tracemalloc
import numpy as np
import hsi_tumor as ht

path = sys.argv[1]
rng = np.random.default_rng(0)
bands = 64
wl = np.linspace(900, 1700, bands)
x = rng.random((400, bands), dtype=np.float32)
y = (x[:, 10] > 0.5).astype(int) + 1
cube_small = ht.Cube(x.reshape(20, 20, bands), wl)
model = ht.train(cube_small, y.reshape(20, 20), classifier="logistic",
                 classifier_params={"C": 1.0}, random_state=0)
ht.classify_cube(cube_small, model)  # warm-up
cube = ht.read_cube(path, wavelengths=wl)
assert cube.storage.startswith("memory-mapped"), cube.storage
tracemalloc.start()
result = ht.classify_cube(cube, model, n_jobs=2)  # the bound below is for two tile threads
print(json.dumps({"rise": tracemalloc.get_traced_memory()[1], "nbytes": cube.nbytes,
                  "classified": int(result.valid.sum())}))
"""


@pytest.mark.slow
def test_memory_stays_bounded_on_a_cube_larger_than_the_budget(tmp_path):
    rows, cols, bands = 2048, 1024, 64  # float32: 512 MiB, 64 times the 8 MB tile budget
    path = tmp_path / "big.npy"
    big = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(rows, cols, bands))
    step = 256
    rng = np.random.default_rng(1)
    for r in range(0, rows, step):
        big[r : r + step] = rng.random((step, cols, bands), dtype=np.float32)
    big.flush()
    del big
    out = subprocess.run(
        [sys.executable, "-c", CHILD, str(path)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
        check=True,
    )
    report = json.loads(out.stdout.strip().splitlines()[-1])
    outputs = rows * cols * (2 * 4 + 1 + 1)  # probabilities (2 classes), labels, valid
    assert report["classified"] == rows * cols
    # bounded: the outputs plus a few tiles per thread (8 MB of input each, and their features)
    assert report["rise"] < outputs + 128 * 2**20, report
    assert report["rise"] < report["nbytes"] / 3, report


def test_which_estimators_get_tile_threads():
    """Tiles on threads unless the estimator runs its own: n_jobs > 1 (but brute-force
    neighbours search with OpenMP whatever n_jobs says), or gradient boosting's OpenMP."""
    from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
    from sklearn.neighbors import KNeighborsClassifier

    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(60, 5)), np.arange(60) % 2
    cases = [
        (KNeighborsClassifier(algorithm="brute", n_jobs=2), True),
        (KNeighborsClassifier(algorithm="kd_tree", n_jobs=2), False),
        (KNeighborsClassifier(algorithm="kd_tree"), True),
        (RandomForestClassifier(n_estimators=2, n_jobs=2), False),
        (RandomForestClassifier(n_estimators=2), True),
        (HistGradientBoostingClassifier(max_iter=2), False),
    ]
    for estimator, parallel in cases:
        assert _classify._SklearnPredictor(estimator.fit(x, y)).tile_parallel is parallel
