"""Every rank applies the same LR: a composed schedule in a 2-process run under Composer's launcher (gloo, CPU)."""
from __future__ import annotations

import numpy as np

from composer_sched import SGDR, Cooldown, Warmup
from composer_sched.previewing import preview


def test_two_ranks_apply_the_same_lr(two_rank_runs):
    ranks = two_rank_runs('composed_schedule')  # dist_schedule_run.py under Composer's launcher (tests/launch.py)
    assert [r['world_size'] for r in ranks] == [2, 2]
    assert ranks[0]['lrs'] == ranks[1]['lrs'] and len(ranks[0]['lrs']) == 20
    algos = [Cooldown(t_start='0.6dur', shape='sqrt'), SGDR(t_0='5ba', t_mult=2.0),
             Warmup(t_warmup='4ba')]
    np.testing.assert_allclose(ranks[0]['lrs'], 0.1 * preview(None, '2ep', dataloader_len=10, algorithms=algos),
                               rtol=1e-12)
