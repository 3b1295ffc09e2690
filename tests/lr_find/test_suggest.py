"""The suggestion rules on hand-made curves, each value worked out from the peer's rule.

Peers: fastai 2.7, ``fastai/callback/schedule.py`` (``valley``, ``slide``, ``minimum``, ``steep``; commit 0a049e8)
and Lightning 2.6.2, ``src/lightning/pytorch/tuner/lr_finder.py`` (``_LRFinder.suggestion``; commit 7f0c343).
"""
from __future__ import annotations

import numpy as np
import pytest

from composer_sched.lr_find import gp_minimum, minimum, slide, smooth, steep, steepest_descent, suggest_all, valley


def test_smooth_is_the_peers_debiased_ema():
    # fastai AvgSmoothLoss / Lightning _LRCallback: a = b a + (1-b) l, value a / (1 - b^(i+1))
    out = smooth([2.0, 4.0, 1.0], beta=0.5)
    np.testing.assert_allclose(out, [2.0, (0.5 * 1 + 2) / 0.75, (0.5 * 2.5 + 0.5) / 0.875])
    assert np.all(smooth([3.0] * 5, beta=0.98) == pytest.approx(3.0))


def test_valley_two_thirds_along_the_longest_decreasing_run():
    # decreasing for 9 points (indices 1..9), then up: L_9 = 9, e = 9, s = 0; (e-s)/3 = 3, 3/2 -> 1: idx 4
    losses = np.array([1.0, 9, 8, 7, 6, 5, 4, 3, 2, 1.5, 5, 6])
    assert valley(np.arange(12.0), losses) == 4
    # fastai counts points, not span: the bump 8 -> 8.2 is skipped by the subsequence 9, 8.5, 8.2, 7, ..., 1.5
    # (L_11 = 10, e = 11, s = 1): idx = 1 + int(10/3) + int(10/3/2) = 5
    noisy = np.array([1.0, 9, 8.5, 8, 8.2, 7, 6, 5, 4, 3, 2, 1.5, 5])
    assert valley(np.arange(13.0), noisy) == 5


def test_slide_walks_left_until_the_slopes_agree():
    lrs = np.logspace(-4, 0, 40)
    loss = np.r_[np.linspace(3, 1, 30), np.linspace(1.2, 3, 10)]
    # slopes agree once both window ends are on the first line (r = 28, l = 13); the last LR taken is lrs[14]
    assert slide(lrs, loss) == pytest.approx(lrs[14])
    assert slide(lrs[:15], loss[:15]) is None  # fewer than lr_diff + 1 records


def test_minimum_and_steep():
    lrs = np.array([1e-3, 1e-2, 1e-1, 1.0, 10.0])
    loss = np.array([2.0, 1.9, 1.0, 0.8, 3.0])
    assert minimum(lrs, loss) == 3
    assert steep(lrs, loss) == 1  # fall 0.9 between 1e-2 and 1e-1, per unit of ln LR the steepest


def test_lightning_gradient_is_against_the_lr_itself():
    # On an exponential ramp the first records are close together in LR, so a small early fall is steep per unit
    # LR: Lightning picks it where fastai's log-LR slope picks the big fall later.
    lrs = np.array([1e-4, 1e-3, 1e-2, 1e-1, 1.0])
    loss = np.array([2.0, 1.99, 1.9, 1.0, 0.9])
    assert steepest_descent(lrs, loss) == 0
    assert steep(lrs, loss) == 2
    # non-finite losses are dropped; the index is in the full record: central differences on [5, 4, 1, 0.5] are
    # [-1, -2, -1.75, -0.5], so the second finite record, index 2
    assert steepest_descent(np.arange(1.0, 6.0), np.array([np.nan, 5.0, 4.0, 1.0, 0.5])) == 2


def test_gp_minimum_finds_a_noisy_parabola_with_a_band():
    rng = np.random.default_rng(0)
    lrs = np.logspace(-4, 1, 100)
    x = np.log10(lrs)
    loss = 1 + 0.2 * (x + 1.0) ** 2 + 0.05 * rng.standard_normal(100)  # minimum at lr 0.1
    g = gp_minimum(lrs, loss)
    assert 0.05 < g.lr < 0.2
    assert g.low <= g.lr <= g.high and g.low < 0.1 < g.high
    assert g.p_past > 0.95  # the ramp went past it
    # a curve still falling at the end: the minimum is the end and the test says it was not passed
    g = gp_minimum(lrs, 3 - 0.2 * x + 0.01 * rng.standard_normal(100))
    assert g.lr > 3 and g.p_past < 0.5
    assert gp_minimum(lrs[:5], loss[:5]) is None


def test_gp_minimum_is_autowus_estimate_and_one_spike_does_not_move_it():
    from composer_sched.algorithms.autowu import gp

    rng = np.random.default_rng(2)
    lrs = np.logspace(-4, 1, 100)
    loss = 1 + 0.2 * (np.log10(lrs) + 1.0) ** 2 + 0.05 * rng.standard_normal(100)
    g = gp_minimum(lrs, loss)
    est = gp.estimate_minimum(lrs, loss, lengthscale=0.1, grid_points=200, along='index')
    assert (g.lr, g.low, g.high, g.p_past) == (est.lr, est.lr_low, est.lr_high, est.p_past)
    assert np.array_equal(g.mean, est.mean) and np.array_equal(g.std, est.sd)
    spiked = loss.copy()
    spiked[40] = 30.0  # one batch at 10x the starting loss, left of the minimum (index ~60)
    s = gp_minimum(lrs, spiked)
    for a, b in ((s.lr, g.lr), (s.low, g.low), (s.high, g.high)):
        assert abs(np.log10(a / b)) < 0.1, (a, b)
    assert np.max(np.abs(s.mean - g.mean)) < 0.1  # the curve is not bent toward the spike


def test_suggest_all_reads_each_peer_slice():
    lrs = np.logspace(-5, 0, 60)
    loss = np.r_[np.linspace(3, 1, 45), np.linspace(1.5, 9, 15)]
    sm = smooth(loss)
    out, g = suggest_all(lrs, loss, sm, num_batches=60)
    fl, fs = lrs[6:55], sm[6:55]  # fastai: skip num_batches // 10 and the last 5
    assert out['valley'].lr == fl[valley(fl, fs)]
    assert out['minimum'].lr == pytest.approx(fl[np.argmin(fs)] / 10)
    assert out['steep'].lr == fl[steep(fl, fs)]
    assert out['slide'].lr == slide(fl, fs)
    ll, ls = lrs[10:59], sm[10:59]  # Lightning: skip 10 and the last 1
    assert out['lightning'].lr == ll[steepest_descent(ll, ls)]
    assert out['peak'].lr == pytest.approx(min(out['gp_minimum'].lr / 2, g.flat_low))
    assert g is not None and out['gp_minimum'].lr == g.lr
    # too short a record: rules that need more points say None instead of guessing
    out, g = suggest_all(lrs[:5], loss[:5], sm[:5], num_batches=100)
    assert out['slide'].lr is None and out['lightning'].lr is None and out['gp_minimum'].lr is None and g is None
