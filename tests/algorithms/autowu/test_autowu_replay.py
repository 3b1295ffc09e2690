"""AutoWU on replayed loss sequences (``benchmarks/autowu_replay.py``): the recorded real run and spike-then-plateau
switch before the cap to an LR at or below the one where the loss first blew up; on clean curves our engine decides
as the reference's rule does (kakaobrain/autowu ``autowu.py`` @ 0760d21, re-stated in the harness).

A replay is deterministic (fixed loss sequences), and every assertion has a margin: the decisions below come from
probabilities near 0 or 1, and LRs are compared in decades."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from benchmarks import autowu_replay as rp

torch.set_num_threads(1)


def _below_blowup(sc: rp.Scenario, out: rp.Outcome) -> None:
    blown = rp.first_blowup_step(sc)
    assert blown is not None and out.step is not None
    assert out.reason in ('test', 'diverged') and out.step < sc.cap, out
    assert out.lr <= sc.lr(blown), (out, blown, sc.lr(blown))


def test_the_recorded_real_run_switches_before_the_cap_below_the_lr_where_it_blew_up():
    sc = rp.recorded_run()
    assert len(sc.losses) == 240 and sc.cap == 180
    blown = rp.first_blowup_step(sc)
    assert blown == 134 and sc.losses[blown - 1] > 4  # the spike to 4.9 at batch 134, LR 1.65
    out = rp.replay_ours(sc)
    _below_blowup(sc, out)
    # The blow-up rule fires at the first test after the loss sits at chance level (batch 140) ...
    assert out.reason == 'diverged' and out.step <= 150
    # ... and decays from well below the LR where it blew up (the loss was lowest near batch 120, LR ~1).
    assert 0.2 < out.lr < 0.6 * sc.lr(blown)


def test_the_recorded_run_does_not_blind_the_gp_test():
    # The GP test alone (blow-up rule off): the spike is winsorised, the minimum near batch 120 is found and the
    # test passes before the cap, as the reference's does (it switches at batch 160 by test).
    sc = rp.recorded_run()
    out = rp.replay_ours(sc, blowup_fraction=None)
    _below_blowup(sc, out)
    assert out.reason == 'test' and abs(math.log10(out.lr / 0.96)) < 0.3


@pytest.mark.parametrize('seed', [0, 1, 2])
def test_spike_then_plateau_switches_before_the_cap(seed):
    sc = rp.spike_then_plateau(seed)
    _below_blowup(sc, rp.replay_ours(sc))
    gp_only = rp.replay_ours(sc, blowup_fraction=None)
    _below_blowup(sc, gp_only)
    assert gp_only.reason == 'test'


def test_a_nan_blowup_switches_at_once_below_the_lr_where_it_blew_up():
    sc = rp.nan_blowup(0)
    out = rp.replay_ours(sc)
    _below_blowup(sc, out)
    assert out.reason == 'diverged' and out.step == 140  # the first test after 3 NaNs in a row (from 134)


def test_sporadic_nan_bursts_are_left_out():
    sc = rp.nan_bursts(0, total_steps=1200, interval=20)
    out = rp.replay_ours(sc)
    assert out.reason == 'test' and abs(math.log10(out.lr / 1e-3)) < 0.3


@pytest.mark.slow
@pytest.mark.parametrize('best, noise', [(1e-3, 0.02), (1e-2, 0.05)])
def test_clean_curves_decide_as_the_reference(best, noise):
    # Same reason (a test), switch LRs within 0.3 decades of each other and of the true best LR.
    sc = rp.clear_minimum(best, noise, seed=0, total_steps=1200, interval=20)
    ours, ref = rp.replay_ours(sc), rp.replay_reference(sc)
    assert ours.reason == ref.reason == 'test', (ours, ref)
    assert abs(math.log10(ours.lr / ref.lr)) < 0.3, (ours, ref)
    assert abs(math.log10(ours.lr / best)) < 0.3 and abs(math.log10(ref.lr / best)) < 0.3


@pytest.mark.slow
def test_slow_drift_runs_to_the_cap_like_the_reference():
    sc = rp.slow_drift(0)
    ours, ref = rp.replay_ours(sc), rp.replay_reference(sc)
    assert ours.reason == ref.reason == 'cap' and ours.step == ref.step == sc.cap


def test_the_harness_prints_both_columns_and_the_reference_is_not_blinded_by_the_recorded_spike(capsys):
    rows = rp.table([rp.recorded_run()])
    out = capsys.readouterr().out
    assert 'ours' in out and 'reference' in out and 'recorded digits run' in out
    (sc, ours, ref), = rows
    assert ours.reason == 'diverged'
    # The replay of the reference (its GP test unchanged, a test every 10 steps): a switch by test at
    # batch 160. Its barely-trained GP (100 Adam steps at lr 0.01 from noise 1e-3) nearly interpolates, so it is
    # not blinded -- our maximum-likelihood fit was, before winsorising.
    assert ref.reason == 'test' and 150 <= ref.step <= 170 and ref.lr < sc.lr(rp.first_blowup_step(sc))


def test_first_blowup_step_ignores_isolated_nans():
    sc = rp.nan_bursts(0, total_steps=1200, interval=20)
    assert rp.first_blowup_step(sc) is None or rp.first_blowup_step(sc) > sc.cap * 0.7
    y = np.r_[np.full(30, 2.3), np.full(30, 1.0), np.full(3, np.nan), np.full(10, 1.0)]
    sc = rp.Scenario('t', y, 1e-2, 1.0, 200, 10)
    assert rp.first_blowup_step(sc) == 61
