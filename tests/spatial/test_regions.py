"""remove_small_regions: closed forms, and a per-region brute-force reference."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
from scipy import ndimage

import hsi_tumor as ht
from hsi_tumor.spatial import remove_small_regions


def brute_regions(labels, min_area, connectivity):
    """Loop over regions; the border is the region's dilation minus the region."""
    structure = ndimage.generate_binary_structure(2, connectivity)
    out = labels.copy()
    for label in np.unique(labels[labels != 0]):
        components, n = ndimage.label(labels == label, structure=structure)
        for i in range(1, n + 1):
            region = components == i
            if region.sum() >= min_area:
                continue
            border = ndimage.binary_dilation(region, structure=structure) & ~region
            votes = Counter(int(v) for v in labels[border] if v != 0)
            if votes:
                top = max(votes.values())
                out[region] = min(v for v, count in votes.items() if count == top)
            else:
                out[region] = 0
    return out


@pytest.mark.parametrize("connectivity", [1, 2])
@pytest.mark.parametrize("seed", range(3))
def test_against_brute_force(connectivity, seed):
    rng = np.random.default_rng(seed)
    labels = rng.choice([0, 1, 2, 5], size=(16, 19), p=[0.15, 0.45, 0.3, 0.1])
    for min_area in (2, 4, 9):
        np.testing.assert_array_equal(
            remove_small_regions(labels, min_area=min_area, connectivity=connectivity),
            brute_regions(labels, min_area, connectivity),
        )


def test_closed_forms():
    labels = np.full((7, 7), 1, dtype=np.int16)
    labels[:, 4:] = 2
    labels[3, 1] = 3  # a speck inside class 1
    labels[0, 6] = 0  # background is never relabelled
    out = remove_small_regions(labels, min_area=2)
    assert out.dtype == np.int16 and out[3, 1] == 1 and out[0, 6] == 0
    np.testing.assert_array_equal(out[:, 4:], labels[:, 4:])
    # a pair on the boundary: 3 bordering pixels of class 1, 3 of class 2 -> tie -> 1
    labels = np.array([[1, 1, 2, 2], [1, 4, 4, 2], [1, 1, 2, 2]])
    assert (remove_small_regions(labels, min_area=3)[1, 1:3] == 1).all()
    labels[0, 1] = 2  # now class 2 borders the pair on 4 pixels
    assert (remove_small_regions(labels, min_area=3)[1, 1:3] == 2).all()
    # only background around: the region disappears
    labels = np.zeros((3, 3), int)
    labels[1, 1] = 7
    assert not remove_small_regions(labels, min_area=2).any()
    # diagonal neighbours: two regions with 4-connectivity, one of 2 pixels with 8
    labels = np.ones((4, 4), int)
    labels[1, 1] = labels[2, 2] = 3
    assert (remove_small_regions(labels, min_area=2, connectivity=1) == 1).all()
    np.testing.assert_array_equal(remove_small_regions(labels, min_area=2, connectivity=2), labels)
    np.testing.assert_array_equal(remove_small_regions(labels, min_area=1), labels)


def test_errors():
    with pytest.raises(ht.InvalidOptionError, match="min_area"):
        remove_small_regions(np.ones((3, 3), int), min_area=0)
    with pytest.raises(ht.InvalidOptionError, match="connectivity"):
        remove_small_regions(np.ones((3, 3), int), min_area=2, connectivity=4)
    with pytest.raises(ht.InvalidOptionError, match="2-D"):
        remove_small_regions(np.ones(3, int), min_area=2)
