"""Every rank applies the same LR: a composed schedule in a 2-process run under Composer's launcher (gloo, CPU)."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np

from composer_sched import SGDR, Cooldown, Warmup
from composer_sched.previewing import preview


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def test_two_ranks_apply_the_same_lr(tmp_path):
    launcher = Path(sys.executable).with_name('composer')
    script = Path(__file__).with_name('dist_schedule_run.py')
    env = {**os.environ, 'CUDA_VISIBLE_DEVICES': '', 'OMP_NUM_THREADS': '1'}
    proc = subprocess.run([str(launcher), '-n', '2', '--master_port', str(_free_port()), str(script), str(tmp_path)],
                          env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    ranks = [json.loads((tmp_path / f'rank{r}.json').read_text()) for r in (0, 1)]
    assert [r['world_size'] for r in ranks] == [2, 2]
    assert ranks[0]['lrs'] == ranks[1]['lrs'] and len(ranks[0]['lrs']) == 20
    algos = [Cooldown(t_start='0.6dur', shape='sqrt'), SGDR(t_0='5ba', t_mult=2.0),
             Warmup(t_warmup='4ba')]
    np.testing.assert_allclose(ranks[0]['lrs'], 0.1 * preview(None, '2ep', dataloader_len=10, algorithms=algos),
                               rtol=1e-12)
