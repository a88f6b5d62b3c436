"""Fully constrained unmixing against closed forms and scipy's NNLS."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import nnls

from hsi_tumor.fraction import mesma_models, unmix


def test_exact_mixtures_recover_their_abundances(rng):
    E = rng.uniform(0.1, 0.9, (4, 60))
    a = rng.dirichlet(np.ones(4), 300)
    result = unmix(a @ E, E)
    np.testing.assert_allclose(result.abundances, a, atol=1e-12)
    np.testing.assert_allclose(result.residual, 0.0, atol=1e-12)  # xᵀx − 2aᵀc + aᵀGa: rounding


def test_two_endmember_fraction_by_hand():
    # x = 0.25 e1 + 0.75 e2 with e1, e2 orthogonal unit vectors: fraction 0.75, residual 0
    E = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    result = unmix(np.array([[0.25, 0.75, 0.0], [0.25, 0.75, 0.5]]), E)
    np.testing.assert_allclose(result.abundances, [[0.25, 0.75], [0.25, 0.75]], atol=1e-15)
    # the out-of-plane part is the residual: 0.5² (hand computation)
    np.testing.assert_allclose(result.residual, [0.0, 0.25], atol=1e-15)


def test_outside_the_simplex_clips_to_the_nearest_vertex():
    # beyond e2 on the line through e1 and e2: all of e2 (the constrained optimum)
    E = np.array([[0.0, 0.0], [1.0, 0.0]])
    result = unmix(np.array([[2.0, 0.0]]), E)
    np.testing.assert_allclose(result.abundances, [[0.0, 1.0]])
    np.testing.assert_allclose(result.residual, [1.0])


def test_matches_augmented_nnls_on_noisy_data(rng):
    """FCLS by the augmented NNLS of Heinz & Chang (a large weight on the sum-to-one row)."""
    E = rng.uniform(0.1, 0.9, (5, 40))
    X = rng.dirichlet(np.ones(5), 100) @ E + rng.normal(0, 0.05, (100, 40))
    delta = 1e4
    augmented = np.vstack([E.T, delta * np.ones(5)])
    expected = np.array([nnls(augmented, np.append(x, delta))[0] for x in X])
    np.testing.assert_allclose(unmix(X, E).abundances, expected, atol=1e-6)


def test_mesma_takes_at_most_one_endmember_per_class():
    models = mesma_models(np.array([1, 1, 2, 2, 3]))
    assert (0,) in models and (0, 2, 4) in models
    assert all(len({[1, 1, 2, 2, 3][i] for i in m}) == len(m) for m in models)
    assert len(models) == 3 * 3 * 2 - 1  # (2 + 1)(2 + 1)(1 + 1) − the empty model


def test_fraction_sd_closed_form():
    """Two endmembers: var(f) = σ² / ‖e2 − e1‖² with σ² = residual / (bands − 1)."""
    E = np.array([[1.0, 0.0, 0.0, 0.0], [0.0, 1.0, 0.0, 0.0]])
    x = np.array([[0.4, 0.6, 0.3, -0.1]])
    result = unmix(x, E)
    sigma2 = (0.3**2 + 0.1**2) / (4 - 2 + 1)
    np.testing.assert_allclose(result.fraction_sd([1], 4), np.sqrt(sigma2 / 2.0))


def test_bad_endmembers_are_refused():
    from hsi_tumor import TrainingDataError

    with pytest.raises(TrainingDataError, match="endmembers"):
        unmix(np.ones((2, 3)), np.array([[np.nan, 1.0, 2.0]]))
