"""``composer -n 2 -m composer_sched.cli train ...``: a recipe under Composer's launcher, 2 CPU processes (gloo)."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from composer_sched.recipes import load_recipe
from tests.launch import free_port

OVERRIDES = ['max_duration=1ep', 'eval.subset_num_batches=1', 'schedulers[0].t_warmup=2ba']


def logged_lrs(path: Path) -> np.ndarray:
    return np.array([float(v) for v in re.findall(r'lr-SGD/group0: ([0-9.eE+-]+)', path.read_text())])


@pytest.mark.slow
def test_two_processes_under_composers_launcher(tmp_path, monkeypatch):
    composer = Path(sys.executable).with_name('composer')
    cmd = [str(composer), '-n', '2', '--master_port', str(free_port()), '-m', 'composer_sched.cli', 'train',
           *OVERRIDES, '--quiet', f'loggers.file.filename={tmp_path}/log-rank{{rank}}.txt']
    proc = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    # 1438 training digits split over 2 ranks: 719 each, 11 full batches of 64 per rank and epoch
    assert 'world size 2' in proc.stdout and ': 11 batches, 1 epochs' in proc.stdout
    monkeypatch.setenv('WORLD_SIZE', '2')  # the recipe as rank 0 of 2 sees it
    monkeypatch.setenv('RANK', '0')
    recipe = load_recipe(None, OVERRIDES)
    assert recipe.dataloader_len == 11
    expected = recipe.preview() * recipe.lr
    for rank in (0, 1):
        lrs = logged_lrs(tmp_path / f'log-rank{rank}.txt')
        assert len(lrs) == 11  # every rank logged the LR after every batch
        # logged at BATCH_END, after the scheduler step: the next batch's LR (4 decimals in the file)
        np.testing.assert_allclose(lrs[:-1], expected[1:], atol=6e-5)
