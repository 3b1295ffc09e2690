"""``composer -n 2 -m composer_sched.cli train ...``: a recipe under Composer's launcher, 2 CPU processes (gloo)."""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from composer_sched.recipes import load_recipe

OVERRIDES = ['max_duration=1ep', 'eval.subset_num_batches=1', 'schedulers[0].t_warmup=2ba']


def logged_lrs(path: Path) -> np.ndarray:
    return np.array([float(v) for v in re.findall(r'lr-SGD/group0: ([0-9.eE+-]+)', path.read_text())])


@pytest.mark.slow
def test_two_processes_under_composers_launcher(two_rank_runs, monkeypatch):
    ranks = two_rank_runs('cli_train')  # cli_train_two_ranks.py under Composer's launcher (tests/launch.py)
    assert [r['code'] for r in ranks] == [0, 0] and ranks[0]['overrides'] == OVERRIDES
    # 1438 training digits split over 2 ranks: 719 each, 11 full batches of 64 per rank and epoch
    assert 'world size 2' in ranks[0]['stdout'] and ': 11 batches, 1 epochs' in ranks[0]['stdout']
    monkeypatch.setenv('WORLD_SIZE', '2')  # the recipe as rank 0 of 2 sees it
    monkeypatch.setenv('RANK', '0')
    recipe = load_recipe(None, OVERRIDES)
    assert recipe.dataloader_len == 11
    expected = recipe.preview() * recipe.lr
    for rank in (0, 1):
        lrs = logged_lrs(two_rank_runs.folder('cli_train') / f'log-rank{rank}.txt')
        assert len(lrs) == 11  # every rank logged the LR after every batch
        # logged at BATCH_END, after the scheduler step: the next batch's LR (4 decimals in the file)
        np.testing.assert_allclose(lrs[:-1], expected[1:], atol=6e-5)
