"""AutoWU's robustness additions: the winsorised GP (one spike cannot blind the test), the finite blow-up rule
(a loss that climbs back to its starting level and stays there is divergence), exact resume across it, and the
public ``estimate_minimum`` for LR range tests. Synthetic sequences from fixed numpy generators; every assertion has
a margin."""
from __future__ import annotations

import math

import numpy as np
import pytest

from benchmarks import autowu_replay as rp
from composer_sched.algorithms.autowu import gp
from composer_sched.algorithms.autowu.engine import AutoWUConfig, AutoWUEngine

CHEAP = dict(fit_points=40, predict_points=120, grid_points=120)


def test_winsorise_leaves_gaussian_noise_alone_and_clips_a_spike():
    rng = np.random.default_rng(0)
    h = 2.0 + 0.1 * rng.standard_normal(2000)
    idx = np.arange(2000)
    y, s = gp.winsorise(h, idx)
    assert 0.07 < s < 0.13  # ~ the noise sd (residuals from a 11-point median)
    assert np.mean(y != h) < 0.005 and np.max(np.abs(y - h)) < 0.1
    h[700] = 40.0
    y, _ = gp.winsorise(h, idx)
    assert y[700] < 2.0 + 0.8 and np.array_equal(np.delete(y, 700) != np.delete(h, 700), np.delete(y != h, 700))
    assert np.array_equal(gp.winsorise(h, idx, clip=math.inf)[0], h)  # off: the raw losses


def test_one_spike_no_longer_blinds_the_test():
    # The recorded run up to batch 160: a dip to ~1 near batch 120, a spike to 20.3 at 136, chance level after.
    # The winsorised fit finds the minimum in the past with p ~ 1 on every posterior.
    hist = rp.recorded_run().losses[:160]
    res = gp.minimum_test(hist, key=(0, 15))
    assert min(res.probs) > 0.99
    assert all(0.6 < x < 0.85 for x in res.x_star)  # batches ~95-135, the dip
    # Fitting the raw losses (the old behaviour), the spike is explained as noise: the probability collapses.
    raw = gp.minimum_test(hist, key=(0, 15), outlier_clip=math.inf)
    assert max(raw.probs) < 0.9


def _engine(**kw):
    cfg = dict(min_lr=1e-2, max_lr=10.0, max_warmup_fraction=0.75, immediate_cooldown=True, test_interval=10,
               **CHEAP)
    cfg.update(kw)
    return AutoWUEngine(AutoWUConfig(**cfg), total_steps=240, steps_per_epoch=20)


def _drive(eng, losses):
    for v in losses:
        eng.observe(float(v))
        if eng.switch_step is not None:
            break
    return eng


def _fall_then_blowup(seed, onset=104, level=2.3):
    rng = np.random.default_rng(seed)
    t = np.arange(180, dtype=float)
    y = np.where(t < 40, 2.3, np.maximum(2.3 - 0.03 * (t - 40), 0.8)) + 0.03 * rng.standard_normal(180)
    y[onset:] = level + 0.03 * rng.standard_normal(180 - onset)
    return y


@pytest.mark.parametrize('seed', [0, 1, 2])
def test_a_finite_blowup_to_the_starting_level_is_divergence(seed):
    y = _fall_then_blowup(seed)
    eng = _drive(_engine(), y)
    # The first test after most of the last 10 losses are back at the start (steps 105-110): switch at once ...
    assert eng.switch_reason == 'diverged' and eng.switch_step == 110
    # ... to the LR of the minimum before the blow-up, at most half the LR where it blew up.
    assert eng.switch_lr <= eng.warmup_lr(104) / 2 + 1e-12
    assert eng.switch_lr >= eng.warmup_lr(90) / 2  # not absurdly low: the loss was lowest at steps 90-103
    # Without the rule, the GP test still switches, later, by test.
    eng = _drive(_engine(blowup_fraction=None), y)
    assert eng.switch_reason == 'test' and 110 < eng.switch_step < 180


@pytest.mark.parametrize('seed', [0, 1, 2])
def test_noise_and_slow_progress_are_not_divergence(seed):
    rng = np.random.default_rng(seed)
    # Flat noisy loss (heavy-tailed noise), and a slow fall: never a blow-up, both ride to the cap.
    flat = 2.3 + 0.05 * rng.standard_t(3, 180)
    slow = np.linspace(2.3, 1.5, 180) + 0.05 * rng.standard_normal(180)
    for y in (flat, slow):
        eng = _drive(_engine(), y)
        assert eng.switch_reason != 'diverged', eng.tests[-1]


def test_a_gentle_rise_past_the_minimum_is_left_to_the_test():
    # Past the minimum the loss rises by a third of its progress (a curve AutoWU is built for): not a blow-up.
    rng = np.random.default_rng(4)
    t = np.arange(180, dtype=float)
    y = 1.0 + 1.3 * ((t - 100) / 100) ** 2 * np.where(t < 100, 1.0, 0.3) + 0.02 * rng.standard_normal(180)
    eng = _drive(_engine(), y)
    assert eng.switch_reason == 'test' and eng.switch_step < 180


def test_exact_resume_across_a_blowup():
    y = _fall_then_blowup(0)
    ref = _drive(_engine(), y)
    first = _engine()
    for v in y[:95]:
        first.observe(float(v))
    resumed = _engine()
    resumed.load_state_dict(first.state_dict())
    _drive(resumed, y[95:])
    assert (resumed.switch_step, resumed.switch_lr, resumed.switch_reason) == \
        (ref.switch_step, ref.switch_lr, ref.switch_reason)
    assert resumed.tests == ref.tests


@pytest.mark.parametrize('kwargs, name', [
    (dict(blowup_window=1), 'blowup_window'),
    (dict(blowup_fraction=0.0), 'blowup_fraction'),
    (dict(blowup_noise=-1.0), 'blowup_noise'),
    (dict(blowup_backoff=0.5), 'blowup_backoff'),
    (dict(outlier_window=0), 'outlier_window'),
    (dict(outlier_clip=0.0), 'outlier_clip'),
])
def test_bad_robustness_arguments_raise_at_construction(kwargs, name):
    with pytest.raises(ValueError, match=name):
        AutoWUConfig(**kwargs)


def test_estimate_minimum_on_an_lr_range_record_with_a_spike():
    rng = np.random.default_rng(1)
    lrs = np.logspace(-5, 0, 300)
    loss = 1 + 0.4 * (np.log10(lrs) + 2.5) ** 2 + 0.05 * rng.standard_normal(300)
    loss[180] = 50.0
    loss[40] = math.nan
    est = gp.estimate_minimum(lrs[::-1], loss[::-1])  # any order
    assert abs(math.log10(est.lr) + 2.5) < 0.15
    assert est.lr_low < est.lr < est.lr_high and est.lr_low > 1e-4 and est.lr_high < 1e-1
    assert est.p_past > 0.99
    # The posterior it was read from (what lr_find plots): the grid, its LRs, mean and sd in loss units; the
    # winsorised spike does not lift the curve (true curve: 1 + 0.4 (log10 lr + 2.5)^2, within 0.1 at the grid).
    assert est.x.shape == est.mean.shape == est.sd.shape == est.grid_lrs.shape == (500,)
    assert est.grid_lrs[est.k] == est.lr and int(np.argmin(est.mean)) == est.k and np.all(est.sd >= 0)
    truth = 1 + 0.4 * (np.log10(est.grid_lrs) + 2.5) ** 2
    assert np.max(np.abs(est.mean - truth)[50:-50]) < 0.1
    # along='index': the record in ramp order, positions i / (n - 1); on an exponential ramp, the same minimum
    idx = gp.estimate_minimum(lrs, loss, along='index')
    assert abs(math.log10(idx.lr / est.lr)) < 0.05
    with pytest.raises(ValueError, match='along'):
        gp.estimate_minimum(lrs, loss, along='lr')
    assert gp.estimate_minimum(lrs[:5], loss[:5]) is None
    with pytest.raises(ValueError, match='lrs'):
        gp.estimate_minimum(-lrs, loss)
    with pytest.raises(ValueError, match='same length'):
        gp.estimate_minimum(lrs, loss[:-1])
