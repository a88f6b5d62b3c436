"""majority_filter against a brute-force Counter loop, closed-form ties, and input checks."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

import hsi_tumor as ht
from hsi_tumor.spatial import majority_filter


def brute_majority(labels, size, mask=None):
    rows, cols = labels.shape
    inside = labels != 0 if mask is None else (labels != 0) & mask
    half = size // 2
    out = labels.copy()
    for i in range(rows):
        for j in range(cols):
            if not inside[i, j]:
                continue
            votes = Counter()
            for a in range(max(0, i - half), min(rows, i + half + 1)):
                for b in range(max(0, j - half), min(cols, j + half + 1)):
                    if inside[a, b]:
                        votes[int(labels[a, b])] += 1
            top = max(votes.values())
            tied = sorted(label for label, n in votes.items() if n == top)
            out[i, j] = labels[i, j] if labels[i, j] in tied else tied[0]
    return out


@pytest.mark.parametrize("size", [3, 5])
@pytest.mark.parametrize("seed", range(4))
def test_against_brute_force(size, seed):
    rng = np.random.default_rng(seed)
    labels = rng.choice([0, 1, 2, 3, 7], size=(13, 17), p=[0.1, 0.4, 0.2, 0.2, 0.1])
    mask = rng.random(labels.shape) > 0.2
    np.testing.assert_array_equal(majority_filter(labels, size=size), brute_majority(labels, size))
    np.testing.assert_array_equal(
        majority_filter(labels, size=size, mask=mask), brute_majority(labels, size, mask)
    )


def test_ties_keep_own_label_else_smallest():
    # the centre pixel (label 5) sees 5 x1, 2 x4, 3 x4 with size 3: 2 and 3 tie, 5 not among them
    labels = np.array([[2, 2, 3], [2, 5, 3], [2, 3, 3]])
    assert majority_filter(labels)[1, 1] == 2
    # label 3 at the centre is among the tied (3 x4 incl. itself, 2 x4, 1 x1): it stays
    labels = np.array([[2, 2, 3], [2, 3, 3], [2, 1, 3]])
    assert majority_filter(labels)[1, 1] == 3


def test_mask_and_background():
    labels = np.array([[1, 1, 1], [1, 2, 1], [1, 1, 0]], dtype=np.uint8)
    out = majority_filter(labels)
    assert out.dtype == np.uint8 and out[1, 1] == 1 and out[2, 2] == 0
    mask = np.zeros((3, 3), bool)
    mask[1, 1] = mask[0, 0] = True
    out = majority_filter(labels, mask=mask)  # only (0,0) and (1,1) vote: 1 vs 2 tie, own kept
    np.testing.assert_array_equal(out, labels)
    np.testing.assert_array_equal(majority_filter(labels, size=1), labels)


def test_large_map_is_vectorised_and_exact():
    rng = np.random.default_rng(1)
    truth = np.repeat(np.repeat(rng.integers(1, 6, (8, 8)), 64, axis=0), 64, axis=1)
    noisy = np.where(rng.random(truth.shape) < 0.1, rng.integers(1, 6, truth.shape), truth)
    out = majority_filter(noisy, size=5)
    assert (out == truth).mean() > 0.99 > (noisy == truth).mean()


def test_errors():
    with pytest.raises(ht.InvalidOptionError, match="odd"):
        majority_filter(np.ones((3, 3), int), size=4)
    with pytest.raises(ht.InvalidOptionError, match="size"):
        majority_filter(np.ones((3, 3), int), size=0)
    with pytest.raises(ht.InvalidOptionError, match="2-D"):
        majority_filter(np.ones((3, 3, 2), int))
    with pytest.raises(ht.InvalidOptionError, match="fractions"):  # whole-number floats are ids
        majority_filter(np.full((3, 3), 0.5))
    with pytest.raises(ht.InvalidOptionError, match="shape") as info:
        majority_filter(np.ones((3, 3), int), mask=np.ones((3, 4), bool))
    assert info.value.field == "mask" and info.value.fix
    with pytest.raises(ht.NoValidPixelsError, match="no pixel"):
        majority_filter(np.ones((3, 3), int), mask=np.zeros((3, 3), bool))
