"""TrainingDomain: Hotelling's T² and Q against a hand computation, limits against SciPy and
worked numbers, the flag, and its errors."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats
from sklearn.utils._param_validation import InvalidParameterError as SklearnParameterError

from hsi_tumor._shared.errors import InvalidParameterError, TrainingDataError
from hsi_tumor.models import TrainingDomain
from hsi_tumor.models._domain import q_limit, t2_limit


@pytest.fixture
def toy():
    """300 points of a 3-D Gaussian with variances 9, 1 and 0.01 along rotated axes."""
    rng = np.random.default_rng(7)
    rotation, _ = np.linalg.qr(rng.normal(size=(3, 3)))
    X = (rng.normal(size=(300, 3)) * [3.0, 1.0, 0.1]) @ rotation.T + [5.0, -2.0, 1.0]
    return X


def test_t2_and_q_against_a_hand_computation(toy):
    X = toy
    domain = TrainingDomain(n_components=2, confidence=0.99).fit(X)
    # by hand: covariance (ddof=1), its eigendecomposition, the two largest axes
    mean = X.sum(axis=0) / len(X)
    cov = (X - mean).T @ (X - mean) / (len(X) - 1)
    values, vectors = np.linalg.eigh(cov)
    lam, axes = values[::-1][:2], vectors[:, ::-1][:, :2]
    new = np.array([[5.0, -2.0, 1.0], [8.0, 0.0, 0.0], [0.0, 3.0, -4.0]])
    t2_hand, q_hand = [], []
    for x in new:
        t = axes.T @ (x - mean)
        t2_hand.append(t[0] ** 2 / lam[0] + t[1] ** 2 / lam[1])
        residual = (x - mean) - axes @ t
        q_hand.append(residual @ residual)
    t2, q = domain.statistics(new)
    assert t2.dtype == q.dtype == np.float64
    np.testing.assert_allclose(t2, t2_hand, rtol=1e-10)
    np.testing.assert_allclose(q, q_hand, rtol=1e-9)
    np.testing.assert_allclose(domain.explained_variance_, lam, rtol=1e-12)
    np.testing.assert_allclose(domain.mean_, mean, rtol=1e-13)
    # Q is the squared distance along the discarded axis; it and T² add up to the
    # Mahalanobis distance when every axis is kept
    full = TrainingDomain(n_components=3).fit(X)
    mahalanobis = np.einsum("ij,jk,ik->i", new - mean, np.linalg.inv(cov), new - mean)
    np.testing.assert_allclose(full.statistics(new)[0], mahalanobis, rtol=1e-9)


def test_t2_limit_worked_number_and_scipy():
    # k = 2, n = 100, c = 0.99. F with 2 numerator degrees of freedom has a closed-form
    # quantile, F_{2,m}(c) = (m / 2) ((1 − c)^(−2/m) − 1): F_{2,98}(0.99) = 4.828516, and
    # T²_lim = 2 · 99 · 101 / (100 · 98) · F = 2.040612 · 4.828516 = 9.853129
    f = 98 / 2 * (0.01 ** (-2 / 98) - 1)
    assert f == pytest.approx(stats.f.ppf(0.99, 2, 98), rel=1e-12)
    assert f == pytest.approx(4.828516, abs=1e-6)
    assert t2_limit(2, 100, 0.99) == pytest.approx(2 * 99 * 101 / (100 * 98) * f, rel=1e-12)
    assert t2_limit(2, 100, 0.99) == pytest.approx(9.853129, abs=1e-6)
    assert t2_limit(5, 40, 0.95) == pytest.approx(
        5 * 39 * 41 / (40 * 35) * stats.f.ppf(0.95, 5, 35), rel=1e-14
    )


def test_q_limit_jackson_mudholkar_worked_number():
    # residual eigenvalues 0.5, 0.3, 0.2: θ1 = 1, θ2 = 0.38, θ3 = 0.16,
    # h0 = 1 − 2·1·0.16 / (3·0.38²) = 0.261311..., z(0.95) = 1.644854
    lam = np.array([0.5, 0.3, 0.2])
    theta1, theta2, theta3 = 1.0, 0.38, 0.16
    h0 = 1 - 2 * theta1 * theta3 / (3 * theta2**2)
    z = 1.6448536269514722
    by_hand = theta1 * (
        z * np.sqrt(2 * theta2 * h0**2) / theta1 + 1 + theta2 * h0 * (h0 - 1) / theta1**2
    ) ** (1 / h0)
    assert h0 == pytest.approx(0.261311, abs=1e-6)
    assert q_limit(lam, 0.95) == pytest.approx(by_hand, rel=1e-12)
    assert q_limit(lam, 0.95) == pytest.approx(2.740175, abs=1e-6)
    # it approximates the quantile of Σ λ_j χ²_1: check against a simulation
    rng = np.random.default_rng(0)
    samples = (rng.chisquare(1, size=(400_000, 3)) * lam).sum(axis=1)
    assert np.quantile(samples, 0.95) == pytest.approx(by_hand, rel=0.02)


def test_q_limit_falls_back_to_box_when_h0_is_not_positive():
    # one large residual eigenvalue and a long tail: θ1θ3/θ2² > 1.5, h0 < 0
    lam = np.r_[1.0, np.full(400, 0.02)]
    theta = [np.sum(lam**i) for i in (1, 2, 3)]
    assert 1 - 2 * theta[0] * theta[2] / (3 * theta[1] ** 2) < 0
    g, h = theta[1] / theta[0], theta[0] ** 2 / theta[1]
    assert q_limit(lam, 0.99) == pytest.approx(g * stats.chi2.ppf(0.99, h), rel=1e-12)
    assert q_limit(np.zeros(4), 0.99) == 0.0


def test_limits_use_the_sidak_confidence_per_statistic(toy):
    domain = TrainingDomain(n_components=2, confidence=0.99).fit(toy)
    each = np.sqrt(0.99)
    assert domain.statistic_confidence_ == pytest.approx(each)
    assert domain.t2_limit_ == pytest.approx(t2_limit(2, 300, each), rel=1e-14)
    residual = np.sort(np.linalg.eigvalsh(np.cov(toy.T)))[:1]
    assert domain.q_limit_ == pytest.approx(q_limit(residual, each), rel=1e-9)
    np.testing.assert_allclose(domain.residual_variance_, residual ** [1, 2, 3], rtol=1e-9)


def test_false_alarm_rate_on_gaussian_data():
    rng = np.random.default_rng(1)
    scale = np.geomspace(3.0, 0.01, 12)
    domain = TrainingDomain(n_components=4, confidence=0.99).fit(
        rng.normal(size=(5000, 12)) * scale
    )
    rate = domain.predict(rng.normal(size=(100_000, 12)) * scale).mean()
    assert 0.007 < rate < 0.014  # 1 − c = 1 %


def test_predict_inside_and_outside(toy):
    domain = TrainingDomain(n_components=2).fit(toy)
    mean, axes = domain.mean_, domain.components_
    inside = mean + 0.5 * np.sqrt(domain.explained_variance_) @ axes
    far_along = mean + 20 * np.sqrt(domain.explained_variance_[0]) * axes[0]
    off_plane = mean + 2.0 * np.cross(axes[0], axes[1])  # 20 deviations of the third axis
    assert domain.predict(np.vstack([inside, far_along, off_plane])).tolist() == [
        False,
        True,
        True,
    ]
    t2, q = domain.statistics(np.vstack([far_along, off_plane]))
    assert t2[0] > domain.t2_limit_ and q[0] <= domain.q_limit_
    assert t2[1] <= domain.t2_limit_ and q[1] > domain.q_limit_
    t2, q = domain.statistics(np.empty((0, toy.shape[1])))  # no pixel (a masked-out tile)
    assert t2.shape == q.shape == (0,)


def test_fraction_of_variance_picks_the_fewest_components(toy):
    # variances 9, 1, 0.01: 90 % needs the first axis, 99.5 % two, 99.99 % all three
    assert TrainingDomain(n_components=0.85).fit(toy).n_components_ == 1
    assert TrainingDomain(n_components=0.99).fit(toy).n_components_ == 2
    assert TrainingDomain(n_components=0.99999).fit(toy).n_components_ == 3


def test_no_residual_variance_gives_a_rounding_floor():
    rng = np.random.default_rng(2)
    plane = rng.normal(size=(200, 2)) @ rng.normal(size=(2, 5))  # rank 2 in 5-D
    domain = TrainingDomain(n_components=0.999).fit(plane)
    assert domain.n_components_ == 2
    assert np.isfinite(domain.q_limit_) and domain.q_limit_ > 0
    assert domain.q_limit_ == pytest.approx(np.sqrt(np.finfo(float).eps) * domain.total_variance_)
    in_plane = domain.mean_ + rng.normal(size=(50, 2)) @ domain.components_
    assert not domain.predict(in_plane).any()
    normal = np.linalg.svd(plane - plane.mean(0))[2][-1]  # a direction off the plane
    assert domain.predict((plane[0] + 0.1 * normal)[None]).all()


def test_more_samples_than_features_or_fewer_agree(toy):
    rng = np.random.default_rng(3)
    X = rng.normal(size=(8, 20))  # SVD path
    domain = TrainingDomain(n_components=3).fit(X)
    cov = np.cov(X.T)
    top = np.sort(np.linalg.eigvalsh(cov))[::-1][:3]
    np.testing.assert_allclose(domain.explained_variance_, top, rtol=1e-9)
    np.testing.assert_allclose(domain.total_variance_, np.trace(cov), rtol=1e-12)


@pytest.mark.parametrize(
    "params",
    [{"n_components": 0}, {"n_components": 1.5}, {"confidence": 1.0}, {"confidence": 0.3}],
)
def test_bad_parameters(toy, params):
    with pytest.raises(SklearnParameterError, match="parameter of TrainingDomain"):
        TrainingDomain(**params).fit(toy)


def test_too_many_components_and_too_few_samples(toy):
    with pytest.raises(InvalidParameterError, match="at most 3") as info:
        TrainingDomain(n_components=4).fit(toy)
    assert info.value.field == "n_components" and info.value.fix
    with pytest.raises(InvalidParameterError, match="at most 3"):
        TrainingDomain(n_components=4).fit(np.random.default_rng(0).normal(size=(5, 10)))
    with pytest.raises(TrainingDataError, match="at least 3") as info:
        TrainingDomain().fit(toy[:2])
    assert info.value.field == "X" and info.value.fix
    with pytest.raises(TrainingDataError, match="no variance"):
        TrainingDomain().fit(np.ones((10, 3)))


def test_statistics_checks_the_feature_count(toy):
    domain = TrainingDomain().fit(toy)
    with pytest.raises(ValueError, match="features"):
        domain.statistics(np.zeros((2, 4)))


@pytest.mark.parametrize("n_off_plane", [0, 3, 97])  # Q all rounding; a few; most large
def test_q_is_the_residual_norm_where_it_is_large_and_where_it_is_rounding(n_off_plane):
    rng = np.random.default_rng(5)
    plane = rng.normal(size=(300, 2)) @ rng.normal(size=(2, 6))  # rank 2 in 6-D
    domain = TrainingDomain(n_components=2).fit(plane)
    points = domain.mean_ + rng.normal(size=(100, 2)) @ domain.components_  # Q: rounding only
    normal = np.linalg.svd(plane - plane.mean(0))[2][-1]
    distances = np.logspace(-3, 3, n_off_plane)
    points[:n_off_plane] += distances[:, None] * normal
    _, q = domain.statistics(points)
    centred = points - domain.mean_
    residual = centred - (centred @ domain.components_.T) @ domain.components_
    expected = np.einsum("ij,ij->i", residual, residual)
    np.testing.assert_allclose(q[:n_off_plane], distances**2, rtol=1e-9)
    np.testing.assert_allclose(q, expected, rtol=1e-9, atol=1e-24)
    assert (q[n_off_plane:] < 1e-20).all()  # in the plane: rounding, not a difference of norms
