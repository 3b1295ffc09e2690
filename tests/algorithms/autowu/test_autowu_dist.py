"""AutoWU under Composer's launcher: 2 CPU processes (gloo) with different per-rank losses take the same decision
at the same step."""
from __future__ import annotations

import pytest


@pytest.mark.slow
def test_two_ranks_take_the_same_decision_at_the_same_step(two_rank_runs):
    r0, r1 = two_rank_runs('autowu')  # autowu_dist_worker.py under Composer's launcher (tests/launch.py)
    assert (r0['rank'], r1['rank'], r0['world_size']) == (0, 1, 2)
    # The ranks saw different data: their own losses differ at (nearly) every batch ...
    assert len(r0['local']) == len(r1['local']) == 80  # 4 epochs of 20 batches
    assert sum(a != b for a, b in zip(r0['local'], r1['local'])) > 75
    # ... and the loss AutoWU reads is their mean, the same on both.
    assert r0['reduced'] == r1['reduced']
    assert r0['reduced'][5] == pytest.approx((r0['local'][5] + r1['local'][5]) / 2, rel=1e-5)
    # Same tests, same votes, same switch, same LR at every batch.
    assert len(r0['tests']) >= 3 and r0['tests'] == r1['tests']
    assert r0['switch_step'] is not None and r0['switch_step'] < 60  # before the warm-up's cap (0.75 of 80)
    assert (r0['switch_step'], r0['switch_lr'], r0['switch_reason']) == \
        (r1['switch_step'], r1['switch_lr'], r1['switch_reason'])
    assert r0['lrs'] == r1['lrs']
    # The run was forced to blow up: both ranks rolled back to the same snapshot, and their weights (DDP keeps
    # them equal only if both restored) are bit-equal at the end.
    assert r0['switch_reason'] == 'diverged' and r0['restore_step'] is not None
    assert r0['restore_step'] == r1['restore_step'] and r0['weights'] == r1['weights']
