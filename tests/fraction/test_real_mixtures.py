"""Exact linear mixtures of real spectra (Indian Pines, AVIRIS, NIR bands ≥ 900 nm).

A cube is made from two classes of the real image: the left part pure class ``a``, the right
part pure class ``b``, both from pixels of the image's top half (rows < 72), and
between them a border whose columns are exact linear mixtures, fraction 0.025 … 0.975, of
pixels of the bottom half (never seen in training). Trained on the pure annotated parts only.
"""

from __future__ import annotations

import csv

import numpy as np
import pytest

import hsi_tumor as ht
from tests.conftest import shared_data_path

NAMES = {1: "normal", 2: "tumor"}


def mixture_cube(a: int, b: int, *, shape=(40, 60), border=20, seed=0):
    folder = shared_data_path("indian-pines")
    data = np.load(folder / "Indian_pines_corrected.npy").astype(np.float64) / 10_000
    truth = np.load(folder / "Indian_pines_gt.npy")
    with open(folder / "Indian_pines_corrected_bands.csv") as fh:
        wl = np.array([float(row["center_nm"]) for row in csv.DictReader(fh)])
    order = np.argsort(wl, kind="stable")
    keep = order[wl[order] >= 900]
    keep = keep[np.r_[True, np.diff(wl[keep]) > 0]]  # the spectrometers overlap: one per nm
    wl, data = wl[keep], data[..., keep]
    rows = np.broadcast_to(np.arange(truth.shape[0])[:, None], truth.shape)
    rng = np.random.default_rng(seed)

    def pick(cls, side, n):
        pool = data[(truth == cls) & side(rows)]
        return pool[rng.integers(len(pool), size=n)]

    width = shape[1]
    left = (width - border) // 2
    f = np.zeros(shape)
    f[:, left + border :] = 1.0
    f[:, left : left + border] = (np.arange(border) + 0.5) / border
    labels = np.zeros(shape, np.uint8)
    labels[:, :left] = 1
    labels[:, left + border :] = 2
    cube = np.empty((*shape, wl.size))
    seen, unseen = (lambda r: r < 72), (lambda r: r >= 72)
    cube[labels == 1] = pick(a, seen, int((labels == 1).sum()))
    cube[labels == 2] = pick(b, seen, int((labels == 2).sum()))
    mixed = labels == 0
    fm = f[mixed][:, None]
    n = int(mixed.sum())
    cube[mixed] = (1 - fm) * pick(a, unseen, n) + fm * pick(b, unseen, n)
    return ht.Cube(cube.astype(np.float32), wl), labels, f


# Mean border error measured with these settings (docs/fraction.md has all five pairs tried):
# soybean-mintill (11) | woods (14): unmixing 0.049, learned 0.038; corn-mintill (3) | woods:
# 0.038 / 0.041; corn-notill (2) | woods: 0.061 / 0.055.
@pytest.mark.parametrize(
    ("a", "b", "bound"),
    [(11, 14, 0.05), (3, 14, 0.05), (2, 14, 0.07)],
    ids=["11-14", "3-14", "2-14"],
)
@pytest.mark.parametrize(
    ("method", "params"), [("unmixing", {"n_endmembers": 3}), ("learned", {"max_pixels": 6000})]
)
def test_border_fraction_of_exact_mixtures(a, b, bound, method, params):
    cube, labels, f = mixture_cube(a, b)
    model = ht.train_fraction(
        [cube],
        [labels],
        class_names=NAMES,
        method=method,
        fractions=None,
        random_state=0,
        progress=False,
        **params,
    )
    result = ht.estimate_fraction(cube, model, progress=False)
    border = (f > 0) & (f < 1)
    error = np.abs(result.fraction - f)[border]
    assert error.mean() <= bound, f"{method}: mean error {error.mean():.3f} on the border"
