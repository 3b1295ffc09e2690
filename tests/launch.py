"""What the multi-process tests share: a free loopback port, and scripts run as 2 ranks under Composer's launcher
(gloo on CPU) whose ranks each write ``rank<r>.json`` into a folder."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

TESTS = Path(__file__).parent

#: The 2-rank scenarios the session's one launch runs (the ``two_rank_runs`` fixture in tests/conftest.py): a name
#: and a script whose ``main(out_dir)`` each rank calls, writing ``rank<r>.json`` into ``out_dir``.
SCENARIOS = {
    'autowu': TESTS / 'algorithms' / 'autowu' / 'autowu_dist_worker.py',
    'cli_train': TESTS / 'recipes' / 'cli_train_two_ranks.py',
    'composed_schedule': TESTS / 'algorithms' / 'methods' / 'dist_schedule_run.py',
    'lr_find': TESTS / 'lr_find' / 'two_ranks.py',
    'lr_noise': TESTS / 'schedules' / 'lr_noise_two_ranks.py',
    'sweep_rerun': TESTS / 'sweep' / 'two_process_rerun.py',
}


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now (the OS picks it, so parallel tests do not collide)."""
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def launch_two_ranks(args: list[str], out_dir: Path, timeout: float = 300) -> None:
    """Run ``args`` (a script and its arguments) as 2 ranks under ``composer -n 2`` in ``out_dir``, each rank's
    output in ``out_dir/out<r>.txt`` and ``err<r>.txt``; asserts the launch exited 0 (the output tails as the
    message)."""
    launcher = Path(sys.executable).with_name('composer')
    env = {**os.environ, 'CUDA_VISIBLE_DEVICES': '', 'OMP_NUM_THREADS': '1', 'MKL_NUM_THREADS': '1',
           'OPENBLAS_NUM_THREADS': '1'}
    proc = subprocess.run([str(launcher), '-n', '2', '--master_port', str(free_port()),
                           '--stdout', str(out_dir / 'out{rank}.txt'), '--stderr', str(out_dir / 'err{rank}.txt'),
                           *args], cwd=out_dir, env=env, capture_output=True, text=True, timeout=timeout)
    logs = ''.join(p.read_text()[-3000:] for p in sorted(out_dir.glob('err*.txt')))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:] + logs


def read_ranks(out_dir: Path) -> list[dict]:
    """What ranks 0 and 1 wrote to ``out_dir/rank<r>.json``; a rank's traceback (``rank<r>.error``) as the
    assertion's message when it raised instead."""
    errors = [p.read_text() for p in sorted(out_dir.glob('rank*.error'))]
    assert not errors, '\n'.join(errors)
    return [json.loads((out_dir / f'rank{r}.json').read_text()) for r in (0, 1)]


class TwoRankRuns:
    """Every scenario of :data:`SCENARIOS` run in one 2-rank launch (tests/two_rank_scenarios.py), each into
    ``out_dir/<name>``; ``runs(name)`` is what its ranks 0 and 1 wrote (:func:`read_ranks`). One launch costs three
    interpreters importing Composer (~30 s of CPU on the 2-core machine), the scenarios' training a few seconds."""

    def __init__(self, out_dir: Path):
        self.out_dir = out_dir
        launch_two_ranks([str(TESTS / 'two_rank_scenarios.py'), str(out_dir),
                          *(f'{name}={path}' for name, path in SCENARIOS.items())], out_dir, timeout=540)

    def folder(self, name: str) -> Path:
        """The scenario's folder (its ``main(out_dir)`` argument)."""
        return self.out_dir / name

    def __call__(self, name: str) -> list[dict]:
        return read_ranks(self.folder(name))
