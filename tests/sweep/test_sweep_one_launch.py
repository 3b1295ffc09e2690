"""A sweep of 2-process runs on one local worker trains every run in one launch under Composer's launcher (the
ranks import torch and Composer once, not once per run): the trunk first, then its branch from the trunk's
checkpoint, each row recorded as its run ends. The numbers of that branch against the same run trained from scratch
are tests/sweep/test_sweep_launcher.py's."""
import pytest

from composer_sched.sweep.plan import RunSpec
from composer_sched.sweep.runner import _trunks_first


@pytest.mark.slow
def test_the_trunk_and_its_branch_train_in_one_launch_in_turn(two_process_sweep):
    res, lines, _ = two_process_sweep  # ratios 0.5 and 1, 2 processes per run, one worker (tests/conftest.py)
    assert any('2 runs of 2 processes in one launch' in line for line in lines), lines
    half, full = sorted(res.rows, key=lambda r: r['ratio'])
    assert half['branched_from'] == full['run_id'] and half['status'] == full['status'] == 'done'
    assert full['finished_at'] <= half['started_at']  # the branch started after its trunk ended, in the same ranks


def test_trunks_come_before_their_branches_and_the_rest_keeps_its_order():
    seed0 = [RunSpec('a0', 0.5, 0, trunk_id='c0'), RunSpec('b0', 0.75, 0, trunk_id='c0'), RunSpec('c0', 1.0, 0)]
    seed1 = [RunSpec('c1', 1.0, 1), RunSpec('a1', 0.5, 1, trunk_id='c1')]
    assert [s.run_id for s in _trunks_first(seed0 + seed1)] == ['c0', 'a0', 'b0', 'c1', 'a1']
    extension = RunSpec('x', 2.0, 0, trunk_id='an earlier sweep run')  # a trunk not among the runs: ready now
    assert [s.run_id for s in _trunks_first([extension, *seed1])] == ['x', 'c1', 'a1']
