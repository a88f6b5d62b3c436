"""morphological_cleanup: closed forms, the settling rules and invariants."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

import hsi_tumor as ht
from hsi_tumor.spatial import morphological_cleanup
from hsi_tumor.spatial._morphology import disk


def two_halves(rows=12, cols=12):
    labels = np.ones((rows, cols), dtype=int)
    labels[:, cols // 2 :] = 2
    return labels


def test_disk():
    np.testing.assert_array_equal(disk(1), ndimage.generate_binary_structure(2, 1))
    assert disk(2).sum() == 13 and disk(0).sum() == 1


def test_clean_map_is_unchanged():
    labels = np.repeat([[1] * 5 + [2] * 5 + [3] * 5], 12, axis=0)
    labels[9:, :] = 4  # a strip across the bottom: straight boundaries and T-junctions only
    for radius in (0, 1, 2):
        np.testing.assert_array_equal(morphological_cleanup(labels, radius=radius), labels)


def test_specks_holes_lines_and_corners():
    truth = two_halves(24, 24)
    labels = truth.copy()
    labels[5, 6] = 2  # speck of 2 in 1: opening of 2 removes it, closing of 1 fills it
    labels[20, 15] = 1  # speck of 1 in 2
    labels[4:15, 18] = 1  # a one-pixel line of 1 across class 2
    labels[1:3, 1:3] = 3  # a 2 x 2 block: the cross erodes it to nothing
    labels[14:17, 4:7] = 3  # a 3 x 3 block: opening with the cross keeps its centre cross
    out = morphological_cleanup(labels, radius=1)
    expected = truth.copy()
    expected[14:17, 5] = expected[15, 4:7] = 3  # corners sharper than the disk are rounded off
    np.testing.assert_array_equal(out, expected)
    # a larger disk removes the whole 3 x 3 block
    np.testing.assert_array_equal(morphological_cleanup(labels, radius=2), truth)


def test_background_never_changes_and_is_no_class():
    labels = two_halves()
    labels[0:4, 0:4] = 0
    labels[6, 6] = 0  # a background hole inside class 2: closing must not fill it
    out = morphological_cleanup(labels, radius=2)
    np.testing.assert_array_equal(out == 0, labels == 0)
    # one class next to background: nothing to settle against, nothing changes
    single = np.where(np.random.default_rng(0).random((15, 15)) > 0.3, 4, 0)
    np.testing.assert_array_equal(morphological_cleanup(single, radius=1), single)


def test_unclaimed_pixels_vote():
    # a one-pixel line of class 2 between classes 1 and 3: opening removes it, no closing
    # fills it (rule 4): the cross votes 2 x3 (line and itself), 1 x1, 3 x1 -> it stays
    labels = np.ones((7, 7), dtype=int)
    labels[:, 3] = 2
    labels[:, 4:] = 3
    out = morphological_cleanup(labels, radius=1)
    np.testing.assert_array_equal(out, labels)


def test_invariants_on_random_maps():
    rng = np.random.default_rng(4)
    blocks = np.repeat(np.repeat(rng.integers(0, 4, (6, 6)), 8, axis=0), 8, axis=1)
    noisy = np.where(rng.random(blocks.shape) < 0.08, rng.integers(1, 4, blocks.shape), blocks)
    noisy[blocks == 0] = 0
    out = morphological_cleanup(noisy, radius=1)
    np.testing.assert_array_equal(out == 0, noisy == 0)
    assert set(np.unique(out)) <= set(np.unique(noisy))
    assert (out == blocks).mean() > 0.99 > (noisy == blocks).mean()


def test_errors():
    with pytest.raises(ht.InvalidOptionError, match="radius"):
        morphological_cleanup(np.ones((3, 3), int), radius=-1)
    with pytest.raises(ht.InvalidOptionError, match="radius"):
        morphological_cleanup(np.ones((3, 3), int), radius=1.5)
    with pytest.raises(ht.InvalidOptionError, match="fractions"):  # whole-number floats are ids
        morphological_cleanup(np.full((3, 3), 0.5))
