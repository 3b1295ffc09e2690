"""Theorem 1: closed forms, a brute-force O(T^2) evaluation, the paper package's figures, numerics at large T."""
import math

import numpy as np
import pytest
from scipy.special import digamma

from composer_sched.theory import (
    CosineSchedule,
    SqrtSchedule,
    WSDSchedule,
    bound_curve,
    compute_optimal_base,
    compute_rate,
    optimal_bound_curve,
)


def harmonic(n):
    """H_n (H_0 = 0) from the digamma function, independent of any summation."""
    return np.where(np.asarray(n) == 0, 0.0, digamma(np.asarray(n, dtype=float) + 1) + np.euler_gamma)


def brute_force(eta, G, D, T):
    """Theorem 1 term by term, O(T^2), with math.fsum for every inner sum."""
    eta = [float(x) for x in eta[:T]]
    g = [e * e * (G if np.ndim(G) == 0 else float(G[i])) ** 2 for i, e in enumerate(eta)]
    S = math.fsum(eta)
    t3 = 0.5 * math.fsum(eta[k] / math.fsum(eta[k + 1:]) * math.fsum(g[k:]) / math.fsum(eta[k:])
                         for k in range(T - 1))
    return D * D / (2 * S), math.fsum(g) / (2 * S), t3


@pytest.mark.parametrize('gamma, G, D, T', [(0.1, 1.0, 1.0, 1), (0.1, 1.0, 1.0, 2), (0.03, 2.0, 3.0, 57),
                                            (1.0, 0.5, 2.0, 1000)])
def test_constant_schedule_closed_form(gamma, G, D, T):
    t1, t2, t3 = compute_rate(np.full(T, gamma), G, D, T, return_split=True)
    assert t1 == pytest.approx(D * D / (2 * gamma * T), rel=1e-13)
    assert t2 == pytest.approx(gamma * G * G / 2, rel=1e-13)
    assert t3 == pytest.approx(gamma / 2 * G * G * float(harmonic(T - 1)), rel=1e-12, abs=1e-300)


def test_constant_closed_form_curve():
    T, gamma = 5000, 0.02
    t1, t2, t3 = bound_curve(np.full(T, gamma), 1.5, 2.0, return_split=True, block=64)
    t = np.arange(1, T + 1)
    np.testing.assert_allclose(t1, 4.0 / (2 * gamma * t), rtol=1e-12)
    np.testing.assert_allclose(t2, gamma * 2.25 / 2, rtol=1e-12)
    np.testing.assert_allclose(t3, gamma / 2 * 2.25 * harmonic(t - 1), rtol=1e-11, atol=1e-300)


@pytest.mark.parametrize('seed', range(4))
def test_random_schedules_against_brute_force(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(2, 120))
    eta = rng.uniform(0, 1, n) ** 3  # spread over orders of magnitude
    eta[rng.random(n) < 0.1] = 0.0  # some zero steps in the middle
    eta[-1] = rng.uniform(0.01, 1)
    G = rng.uniform(0.1, 3, n)
    D = float(rng.uniform(0.1, 3))
    for T in sorted({1, 2, n // 2, n}):
        if eta[T - 1] == 0:
            continue
        np.testing.assert_allclose(compute_rate(eta, G, D, T, return_split=True), brute_force(eta, G, D, T),
                                   rtol=1e-12, atol=1e-300)


@pytest.mark.parametrize('block', [1, 5, 512])
def test_curve_matches_brute_force_at_every_horizon(block):
    rng = np.random.default_rng(7)
    n = 150
    eta = np.concatenate([rng.uniform(0.5, 1, n - 40), np.geomspace(0.5, 1e-6, 40)])  # a decay over 6 decades
    G = rng.uniform(0.5, 2, n)
    curve = np.array(bound_curve(eta, G, 1.3, return_split=True, block=block))
    ref = np.array([brute_force(eta, G, 1.3, T) for T in range(1, n + 1)]).T
    np.testing.assert_allclose(curve, ref, rtol=1e-11, atol=1e-300)


def test_curve_matches_single_horizon_on_paper_schedules():
    for s in (WSDSchedule(steps=3001, cooldown_len=0.2), CosineSchedule(steps=3001), SqrtSchedule(steps=3001)):
        curve = bound_curve(s.schedule, 1.0, 1.0, T=3000, block=256)
        for T in (1, 7, 1000, 2400, 2999, 3000):
            assert curve[T - 1] == pytest.approx(compute_rate(s.schedule, 1.0, 1.0, T), rel=1e-11)


# Figures printed by the paper package (scheduled), G = D = 1, steps = T + 1 (convex-bounds.md, issue 6).
@pytest.mark.parametrize('make, T, base, bound', [
    (lambda T: WSDSchedule(steps=T + 1, cooldown_len=0.2), 100, 0.049544, 0.223028),
    (lambda T: CosineSchedule(steps=T + 1), 100, 0.094695, 0.209114),
    (lambda T: WSDSchedule(steps=T + 1, cooldown_len=1.0), 100, None, 0.2036084),
    (lambda T: WSDSchedule(steps=T + 1, cooldown_len=0.2), 4000, 0.008118, 0.034212),
    (lambda T: SqrtSchedule(steps=T + 1, cooldown_len=0.2), 4000, 0.233362, 0.036081),
])
def test_paper_figures(make, T, base, bound):
    s = make(T)
    got_base, got_bound = compute_optimal_base(s, G=1, D=1, T=T)
    if base is not None:
        assert round(got_base, 6) == base
    assert round(got_bound, len(str(bound).split('.')[1])) == bound  # to every digit the paper prints
    assert s.base_lr == 1.0  # not mutated
    s.set_base_lr(got_base)  # the bound at gamma* is the optimum, and any other base LR is worse
    assert s.compute_rate(1, 1, T) == pytest.approx(got_bound, rel=1e-12)
    assert s.set_base_lr(got_base * 1.05).compute_rate(1, 1, T) > got_bound


def test_optimal_curve_agrees_with_optimal_base_at_each_horizon():
    s = CosineSchedule(steps=401)
    base, bound = optimal_bound_curve(s, 1.0, 1.0, T=400, block=32)
    for T in (1, 50, 399, 400):
        assert (base[T - 1], bound[T - 1]) == pytest.approx(compute_optimal_base(s.schedule[:T], 1.0, 1.0), rel=1e-11)


def test_standard_bound():
    eta, G, D = np.array([0.5, 0.2, 0.1]), np.array([1.0, 2.0, 3.0]), 2.0
    a = float(np.sum(eta ** 2 * G ** 2))
    assert compute_rate(eta, G, D, type='standard') == pytest.approx((D * D + a) / (2 * eta.sum()), rel=1e-15)
    base, bound = compute_optimal_base(eta, G, D, type='standard')
    assert base == pytest.approx(D / math.sqrt(a)) and bound == pytest.approx(D * math.sqrt(a) / eta.sum())
    np.testing.assert_allclose(bound_curve(eta, G, D, type='standard'),
                               [compute_rate(eta, G, D, T, type='standard') for T in (1, 2, 3)], rtol=1e-15)


def test_T_none_is_the_whole_schedule_and_a_final_zero_is_infinite():
    s = WSDSchedule(steps=101, cooldown_len=0.2)
    assert compute_rate(s.schedule[:100], 1, 1) == compute_rate(s.schedule, 1, 1, T=100)
    assert s.compute_rate(1, 1) == math.inf  # eta_{101} = 0: the reason for steps = T + 1
    assert compute_optimal_base(s, 1, 1) == (0.0, math.inf)
    assert bound_curve(s.schedule, 1, 1)[-1] == math.inf and np.isfinite(bound_curve(s.schedule, 1, 1)[:-1]).all()


def test_large_horizons_are_exact_and_never_negative():
    # 10^7 constant steps against the closed form; 10^6 steps of cosine (the reference warns and clips there).
    T = 10 ** 7
    t1, t2, t3 = compute_rate(np.full(T, 1e-3), 1.0, 1.0, return_split=True)
    assert t1 == pytest.approx(1 / (2e-3 * T), rel=1e-12)
    assert t3 == pytest.approx(1e-3 / 2 * float(harmonic(T - 1)), rel=1e-9)
    cos = CosineSchedule(steps=10 ** 6 + 1).schedule
    terms = compute_rate(cos, 1.0, 1.0, T=10 ** 6, return_split=True)
    assert all(np.isfinite(terms)) and min(terms) > 0
    # the same bound from two independent summation orders (suffix sums vs. the positive telescoped form)
    eta, T6 = cos[:10 ** 6], 10 ** 6
    suffix = np.cumsum(eta[::-1])[::-1]
    positive = 1 / (2 * eta.sum()) + 0.5 * (math.fsum(eta[:-1] ** 2 / suffix[1:]) + eta[-1])
    assert sum(terms) == pytest.approx(positive, rel=1e-10)
    # WSD at 10^6 against the positive form in extended precision (the plain `total - cumsum` is off by 6.5e-7)
    w = WSDSchedule(steps=T6 + 1, cooldown_len=0.2, base_lr=1e-3).schedule[:T6]
    e = w.astype(np.longdouble)
    suf_ld = np.cumsum(e[::-1])[::-1]
    exact = 1 / (2 * e.sum()) + 0.5 * (np.sum(e[:-1] ** 2 / suf_ld[1:]) + e[-1])
    assert compute_rate(w, 1.0, 1.0) == pytest.approx(float(exact), rel=1e-10)
    assert compute_rate([0.7], 2.0, 3.0, T=1) == pytest.approx(9 / 1.4 + 0.7 * 4 / 2)
    assert T6 == len(eta)


@pytest.mark.parametrize('kwargs, arg', [
    (dict(lrs=[1, -1], grad_norms=1, D=1), 'lrs'), (dict(lrs=[1, np.nan], grad_norms=1, D=1), 'lrs'),
    (dict(lrs=[], grad_norms=1, D=1), 'lrs'), (dict(lrs=[1, 1], grad_norms=1, D=1, T=3), 'T'),
    (dict(lrs=[1, 1], grad_norms=1, D=1, T=0), 'T'), (dict(lrs=[1, 1], grad_norms=1, D=1, T=1.5), 'T'),
    (dict(lrs=[1, 1], grad_norms=[1], D=1), 'grad_norms'), (dict(lrs=[1, 1], grad_norms=-1, D=1), 'grad_norms'),
    (dict(lrs=[1, 1], grad_norms=1, D=-1), 'D'), (dict(lrs=[1, 1], grad_norms=1, D=1, type='tight'), 'type'),
])
def test_bad_arguments(kwargs, arg):
    with pytest.raises(ValueError, match=arg):
        compute_rate(**kwargs)
    with pytest.raises(ValueError, match=arg):
        bound_curve(**kwargs)


SHAPE_DEPENDS_ON_BASE = [
    lambda b: CosineSchedule(steps=101, base_lr=b, warmup_kwargs={'steps': 10, 'warmup_lr': 0.05,
                                                                  'warmup_lr_absolute': True}),
    lambda b: WSDSchedule(steps=101, base_lr=b, final_lr=0.01, final_lr_absolute=True),
]


@pytest.mark.parametrize('make', SHAPE_DEPENDS_ON_BASE)
def test_optimal_base_uses_the_shape_at_base_lr_one(make):
    """With an absolute warm-up or final LR the shape depends on the base LR: optimise the one at base LR 1, as the
    docstrings say and the reference (scheduled.compute_optimal_base: copy, set_base_lr(1.0)) does."""
    at_one = make(1.0).schedule
    t1, t2, t3 = compute_rate(at_one, 1.0, 1.0, 100, return_split=True)
    s = make(0.3)
    assert not np.allclose(s.unscaled_schedule, at_one)  # the case where it matters
    base, bound = compute_optimal_base(s, 1.0, 1.0, 100)
    assert base == pytest.approx(np.sqrt(t1 / (t2 + t3)), rel=1e-12)
    assert bound == pytest.approx(2 * np.sqrt(t1 * (t2 + t3)), rel=1e-12)
    bases, bounds = optimal_bound_curve(s, 1.0, 1.0, 100)
    assert bases[-1] == pytest.approx(base, rel=1e-9) and bounds[-1] == pytest.approx(bound, rel=1e-9)
    assert s.base_lr == 0.3  # the schedule given is not changed
