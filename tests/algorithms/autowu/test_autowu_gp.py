"""AutoWU's Gaussian process: the posterior against the textbook formulas, the closed-form "minimum in the past"
probability against the reference's full-covariance projection and a Monte-Carlo estimate, the fit, the
subsampling (bounded, deterministic, stratified) and the test on known curves."""
from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from composer_sched.algorithms.autowu import gp


def _naive_posterior(x, y, grid, h, ls):
    """Textbook GP posterior with an explicit inverse and the full grid covariance."""
    s2, n2 = math.exp(h.log_scale), math.exp(h.log_noise)
    k = s2 * gp.rbf(x, x, ls) + n2 * np.eye(len(x))
    kinv = np.linalg.inv(k)
    ks = s2 * gp.rbf(grid, x, ls)
    mu = h.mean + ks @ kinv @ (y - h.mean)
    cov = s2 * gp.rbf(grid, grid, ls) - ks @ kinv @ ks.T
    return mu, cov


def _reference_prob(mu, cov):
    """The reference's projection: d = [I, -1] f, covariance P Sigma P^T + 1e-4 (every entry), p = max Phi."""
    k = len(mu)
    proj = np.hstack([np.eye(k - 1), -np.ones((k - 1, 1))])
    dcov = proj @ cov @ proj.T + 1e-4
    dmu = proj @ mu
    return float(np.max(stats.norm.cdf(-dmu / np.sqrt(np.diag(dcov)))))


@pytest.fixture
def curve():
    rng = np.random.default_rng(0)
    x = np.sort(rng.random(60))
    y = np.sin(6 * x) + 0.1 * rng.standard_normal(60)
    return x, y


def test_posterior_matches_the_textbook_formulas(curve):
    x, y = curve
    h = gp.GPHyper(mean=0.1, log_scale=math.log(0.8), log_noise=math.log(0.02))
    grid = np.linspace(0, 1, 50)
    mu, var, cov_last = gp.posterior(x, y, grid, h, 0.2)
    mu_ref, cov_ref = _naive_posterior(x, y, grid, h, 0.2)
    np.testing.assert_allclose(mu, mu_ref, atol=1e-8)
    np.testing.assert_allclose(var, np.diag(cov_ref), atol=1e-8)
    np.testing.assert_allclose(cov_last, cov_ref[:, -1], atol=1e-8)
    # and the probability from the diagonal + last column equals the reference's full projection
    assert gp.past_minimum_prob(mu, var, cov_last) == pytest.approx(_reference_prob(mu_ref, cov_ref), abs=1e-9)


def test_past_minimum_prob_agrees_with_monte_carlo():
    # A 4-point latent: the probability that some past point is below the last, estimated by sampling the max.
    mu = np.array([1.0, 0.6, 0.8, 0.9])
    a = np.array([[1.0, 0.5, 0.2, 0.1], [0.0, 1.0, 0.4, 0.2], [0.0, 0.0, 1.0, 0.5], [0.0, 0.0, 0.0, 1.0]])
    cov = 0.05 * a.T @ a
    var, cov_last = np.diag(cov), cov[:, -1]
    p = gp.past_minimum_prob(mu, var, cov_last)
    samples = np.random.default_rng(1).multivariate_normal(mu, cov, size=200_000)
    d = samples[:, :-1] - samples[:, -1:]
    per_point = (d < 0).mean(axis=0)
    assert p == pytest.approx(per_point.max(), abs=0.01)  # p is the max over points of P(d_i < 0)


def test_fit_recovers_the_noise_level(curve):
    rng = np.random.default_rng(5)
    x = np.linspace(0, 1, 100)
    y = np.cos(4 * x) + 0.2 * rng.standard_normal(100)
    ys = (y - y.mean()) / y.std()
    h = gp.fit_hyper(x, ys, 0.2)
    noise_sd = math.sqrt(math.exp(h.log_noise)) * y.std()
    assert 0.12 < noise_sd < 0.3  # true 0.2
    assert gp.NOISE_FLOOR <= math.exp(h.log_noise)


def test_stratified_indices_are_bounded_sorted_distinct_and_cover_the_history():
    rng = np.random.default_rng(0)
    idx = gp.stratified_indices(100_000, 500, rng)
    assert len(idx) == 500 and np.all(np.diff(idx) > 0) and idx[0] < 200 and idx[-1] >= 100_000 - 200
    assert np.array_equal(gp.stratified_indices(300, 500, rng), np.arange(300))


def test_same_key_same_result_different_key_different_points():
    rng = np.random.default_rng(3)
    t = np.arange(3000) / 3000
    y = (t - 0.4) ** 2 + 0.05 * rng.standard_normal(3000)
    kw = dict(fit_points=40, predict_points=150, grid_points=150)
    a = gp.minimum_test(y, key=(0, 7), **kw)
    b = gp.minimum_test(y.copy(), key=(0, 7), **kw)
    c = gp.minimum_test(y, key=(0, 8), **kw)
    assert a == b
    assert a.x_star != c.x_star or a.probs != c.probs


@pytest.mark.parametrize('t_min, passes', [(0.4, True), (1.6, False)])
def test_the_test_on_known_curves(t_min, passes):
    # A curve with its minimum at 40 % of the history passes (p ~ 1) and locates it; a still-decreasing one
    # (minimum in the future) does not.
    rng = np.random.default_rng(4)
    t = np.arange(2000) / 1999
    y = 1 + 3 * (t - t_min) ** 2 + 0.05 * rng.standard_normal(2000)
    res = gp.minimum_test(y, key=(0, 0), fit_points=60, predict_points=200, grid_points=200)
    votes = sum(p > 0.95 for p in res.probs)
    assert (votes > len(res.probs) / 2) == passes
    if passes:
        assert all(abs(x - t_min) < 0.05 for x in res.x_star)
    else:
        assert all(x == 1.0 for x in res.x_star)


def test_non_finite_losses_are_dropped_and_short_histories_give_no_test():
    t = np.arange(400) / 399
    y = 1 + (t - 0.5) ** 2
    y[::3] = np.nan
    y[1::7] = np.inf
    res = gp.minimum_test(y, key=(0, 0), fit_points=40, predict_points=100, grid_points=100)
    assert res is not None and all(math.isfinite(p) for p in res.probs)
    assert res.n_finite <= 100
    assert gp.minimum_test(np.ones(gp.MIN_POINTS - 1), key=(0, 0)) is None
    assert gp.minimum_test(np.full(50, np.nan), key=(0, 0)) is None
