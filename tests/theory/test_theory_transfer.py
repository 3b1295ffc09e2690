"""Horizon transfer against the picks of the paper's horizon_transfer script (convex-bounds.md B.5, G = D = 1)."""
import warnings

import numpy as np
import pytest

from composer_sched.theory import WSDSchedule, compute_optimal_base, horizon_transfer

T1S = [6000, 8000, 10000, 12000, 14000, 16000]
PICKS = {
    'wsd': [0.4375, 0.6344, 0.775, 0.8875, 0.9719, 1.0],
    'wssd': [0.625, 0.525, 0.475, 0.425, 0.4, 0.375],
    'sqrt': [0.25, 0.2687, 0.3063, 0.325, 0.3438, 0.3812],
}
TUNED = {'wsd': 0.008118, 'wssd': 0.008118, 'sqrt': 0.233362}


@pytest.mark.parametrize('family', sorted(PICKS))
def test_paper_picks(family):
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')  # the script warns too where no grid value is within 1 %
        results = horizon_transfer(family, 4000, T1S)
    assert [round(r.param, 4) for r in results] == PICKS[family]
    for r in results:
        assert round(r.tuned_base_lr, 6) == TUNED[family]
        assert r.rel_diff == pytest.approx(abs(r.optimal_base_lr - r.tuned_base_lr) / r.tuned_base_lr)
        assert r.schedule.base_lr == r.tuned_base_lr and len(r.schedule) == r.T1 + 1
        assert r.bound == pytest.approx(r.schedule.compute_rate(1, 1, r.T1))


def test_pick_is_the_best_grid_value_and_warns_when_far():
    r = horizon_transfer('wsd', 400, 800, grid=[0.2, 0.5, 0.9], tol=1.0)
    gaps = [abs(compute_optimal_base(WSDSchedule(steps=801, cooldown_len=c), 1, 1, 800)[0] - r.tuned_base_lr)
            for c in (0.2, 0.5, 0.9)]
    assert r.param == [0.2, 0.5, 0.9][int(np.argmin(gaps))]
    with pytest.warns(UserWarning, match='within'):
        horizon_transfer('wsd', 400, 800, grid=[0.1])


def test_custom_family_on_arrays():
    def linear_tail(frac, T1, T0):  # a plain array: constant, then a linear tail of frac * T1 steps
        c = max(int(frac * T1), 1)
        return np.concatenate([np.ones(T1 + 1 - c), np.linspace(1, 0, c + 1)[1:]])
    gamma0 = compute_optimal_base(linear_tail(0.2, 400, 400), 1, 1, 400)[0]
    r = horizon_transfer(linear_tail, 400, 400, tuned_base_lr=gamma0, grid=[0.1, 0.2, 0.3])
    assert r.param == 0.2 and r.rel_diff == 0 and r.schedule[0] == gamma0


@pytest.mark.parametrize('kwargs, arg', [
    (dict(family='cosine', T0=10, T1=20), 'family'), (dict(family='wsd', T0=0, T1=20), 'T0'),
    (dict(family='wsd', T0=10, T1=[20, -1]), 'T1'), (dict(family='wsd', T0=10, T1=20, grid=[]), 'grid'),
    (dict(family='wsd', T0=10, T1=20, tuned_base_lr=0), 'tuned_base_lr'),
    (dict(family=lambda p, a, b: np.ones(a + 1), T0=10, T1=20, grid=[1]), 'tuned_base_lr'),
])
def test_bad_arguments(kwargs, arg):
    with pytest.raises(ValueError, match=arg):
        horizon_transfer(**kwargs)
