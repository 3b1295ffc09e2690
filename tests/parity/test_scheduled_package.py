"""The tests of the ``scheduled`` package (fabian-sp/lr-scheduling, version 0.1.0, commit 8ace3a327a39), run
against :mod:`composer_sched.theory`, values and tolerances as the package wrote them.

Name map: ``scheduled.X`` is ``composer_sched.theory.X``; the package's private attributes are our public ones
(``S._cooldown_start_iter`` is ``S.cooldown_start``, ``S._warmup_kwargs`` is ``S.warmup_kwargs``,
``S._warmup_steps`` is the same); ``scheduled.utils.harmonic_number`` is written out below as the package defines it
(the sum of 1/i for i = 1..t, 0 for t = 0).
"""
import numpy as np
import pytest

from composer_sched.theory import ConstantSchedule, CosineSchedule, SqrtSchedule, WSDSchedule, compute_optimal_base

ASSERT_TOL = 1e-10


_H = np.concatenate(([0.0], np.cumsum(1.0 / np.arange(1, 20_001))))  # prefix sums: one lookup per call


def harmonic_number(t):
    return float(_H[int(t)])


# -- tests/test_rates.py ---------------------------------------------------------------------------------------

@pytest.mark.parametrize('D', [1, 5, 10])
@pytest.mark.parametrize('G', [1, 5, 10])
@pytest.mark.parametrize('T', [10, 100, 1000])
def test_rate_constant_schedule(D, G, T):
    gamma = 0.5
    S = ConstantSchedule(steps=T, base_lr=gamma)
    # The package checks every t; at T = 1000 every 10th t (and the last) keeps this file's run time modest.
    for t in np.arange(1, T + 1) if T < 1000 else np.r_[np.arange(1, T + 1, 10), T]:
        terms = S.compute_rate(grad_norms=G, D=D, T=t, return_split=True)
        expected1 = (D ** 2) / (2 * gamma * t)
        expected2 = gamma * (G ** 2) / 2
        expected3 = (gamma / 2) * G ** 2 * harmonic_number(t - 1)
        np.testing.assert_array_almost_equal(np.array(terms), np.array([expected1, expected2, expected3]))
        _, best_rate = compute_optimal_base(S, G, D, t)
        exp_rate = 2 * np.sqrt(terms[0] * (terms[1] + terms[2]))
        assert np.abs(best_rate - exp_rate) <= ASSERT_TOL


# -- tests/test_schedules.py -----------------------------------------------------------------------------------

def test_wsd_basic():
    T = 100
    S = WSDSchedule(final_lr=0.0, steps=T, cooldown_len=0.2, base_lr=1.0)
    assert len(S.schedule) == T
    assert S.schedule[-1] == 0.0
    assert S.schedule[S.cooldown_start - 1] == S.get_base_lr()  # at t=T_0
    assert S.schedule[S.cooldown_start] < S.get_base_lr()  # at t=T_0+1


def test_linear_basic():
    T = 100
    S = WSDSchedule(final_lr=0.0, steps=T, cooldown_len=1.0, base_lr=1.0, warmup_kwargs={'steps': 0})
    assert S.schedule[0] == S.get_base_lr()
    assert S.schedule[-1] == 0.0
    assert S.cooldown_start == 1
    S.set_base_lr(2.1)
    assert np.abs(S.schedule[int(T / 2)] / S.get_base_lr() - 0.5) <= 1e-2


def test_cosine_basic():
    T = 100
    S = CosineSchedule(final_lr=0.0, steps=T, base_lr=1.0)
    assert len(S.schedule) == T
    assert S.schedule[-1] == 0.0


def test_final_absolute_lr_wsd():
    T = 115
    S = WSDSchedule(final_lr=3e-3, steps=T, cooldown_len=0.2, base_lr=1.0, final_lr_absolute=True)
    assert np.abs(S.schedule[-1] - 3e-3) <= ASSERT_TOL
    S.set_base_lr(2.1)
    assert np.abs(S.schedule[-1] - 3e-3) <= ASSERT_TOL


def test_final_absolute_lr_cosine():
    T = 115
    S = CosineSchedule(final_lr=3e-3, steps=T, base_lr=1.0, final_lr_absolute=True)
    assert np.abs(S.schedule[-1] - 3e-3) <= ASSERT_TOL
    S.set_base_lr(2.1)
    assert np.abs(S.schedule[-1] - 3e-3) <= ASSERT_TOL


def test_warmup_wsd():
    T = 100
    S = WSDSchedule(final_lr=0.0, steps=T, cooldown_len=0.2, base_lr=1.0,
                    warmup_kwargs={'steps': 5, 'warmup_lr': 1e-7})
    assert S.schedule[S._warmup_steps] == S.get_base_lr()  # 1-indexed: base LR at t = warmup_steps + 1
    assert S.schedule[S._warmup_steps - 1] < S.get_base_lr()


def test_warmup_absolute_lr_wsd():
    T = 100
    S = WSDSchedule(final_lr=0.0, steps=T, cooldown_len=0.2, base_lr=1.0,
                    warmup_kwargs={'steps': 5, 'warmup_lr': 3e-7, 'warmup_lr_absolute': True})
    assert np.abs(S.schedule[0] - S.warmup_kwargs['warmup_lr']) <= ASSERT_TOL
    S.set_base_lr(2.1)
    assert np.abs(S.schedule[0] - S.warmup_kwargs['warmup_lr']) <= ASSERT_TOL


def test_warmup_cosine():
    T = 100
    S = CosineSchedule(final_lr=0.0, steps=T, base_lr=1.0, warmup_kwargs={'steps': 5, 'warmup_lr': 1e-7})
    assert S.schedule[S._warmup_steps] == S.get_base_lr()
    assert S.schedule[S._warmup_steps - 1] < S.get_base_lr()


def test_warmup_absolute_lr_cosine():
    T = 100
    S = CosineSchedule(final_lr=0.0, steps=T, base_lr=1.0,
                       warmup_kwargs={'steps': 5, 'warmup_lr': 3e-7, 'warmup_lr_absolute': True})
    assert np.abs(S.schedule[0] - S.warmup_kwargs['warmup_lr']) <= ASSERT_TOL
    S.set_base_lr(2.1)
    assert np.abs(S.schedule[0] - S.warmup_kwargs['warmup_lr']) <= ASSERT_TOL


def test_sqrt_basic():
    T = 100
    S = SqrtSchedule(final_lr=0.0, steps=T, cooldown_len=0.2, base_lr=1.0)
    assert len(S.schedule) == T
    assert np.abs(S.schedule[-1]) <= ASSERT_TOL
    last_lr = 1 / np.sqrt(80)
    np.testing.assert_almost_equal(S.schedule[S.cooldown_start - 1], last_lr)  # at t=T_0


def test_redundant_warmup():
    """should have 0 warmup steps --> same as no warmup"""
    T = 100
    S = WSDSchedule(final_lr=0.0, steps=T, cooldown_len=0.2, base_lr=1.0, warmup_kwargs={'warmup_lr': 1e-1})
    S2 = WSDSchedule(final_lr=0.0, steps=T, cooldown_len=0.2, base_lr=1.0, warmup_kwargs=None)
    np.testing.assert_array_almost_equal(S.schedule, S2.schedule)


# -- tests/test_theory.py --------------------------------------------------------------------------------------

def theorem_bound(T, T0, D, G):
    assert T0 < T
    t1 = 2 / 3
    t2 = (T + 2 * T0) / (3 * (T + T0))
    t3 = harmonic_number(T + T0 - 2) - harmonic_number(T - T0 + 1)
    t4 = - ((T - T0) * (T0 - 1)) / (3 * (T - T0 + 2) * (T + T0))
    t5 = 1 / (T - T0) ** 2
    t6 = harmonic_number(T - T0 - 1) / (T - T0 + 1)
    a = 4 * (t1 + t2 + t3 + t4 + t5 + t6) / (T + T0)
    return D * G * np.sqrt(a)


@pytest.mark.parametrize('D', [1, 5, 10])
@pytest.mark.parametrize('G', [1, 5, 10])
def test_wsd_theorem(D, G, all_T=np.arange(100, 5000, 200)):
    """tests the bound derived for WSD schedule."""
    all_omega, all_thm_bound = [], []
    for T in all_T:
        S = WSDSchedule(final_lr=0, steps=T + 1, cooldown_len=0.2, decay_type='linear')
        best_base_lr, best_rate = compute_optimal_base(S, G=G, D=D, T=T)
        T0 = S.cooldown_start
        S.set_base_lr(best_base_lr)
        all_thm_bound.append(theorem_bound(T, T0, D, G))
        all_omega.append(best_rate)
    assert np.all(np.array(all_omega) <= np.array(all_thm_bound))
