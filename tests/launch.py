"""What the multi-process tests share: a free loopback port, and a script run as 2 ranks under Composer's launcher
(gloo on CPU) whose ranks each write ``rank<r>.json`` into a folder."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now (the OS picks it, so parallel tests do not collide)."""
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def two_ranks(script: Path, out_dir: Path) -> list[dict]:
    """Run ``script out_dir`` as 2 ranks under ``composer -n 2`` and return what each rank wrote to ``rank<r>.json``
    (asserting the launch exited 0, with the processes' output tails as the message)."""
    launcher = Path(sys.executable).with_name('composer')
    env = {**os.environ, 'CUDA_VISIBLE_DEVICES': '', 'OMP_NUM_THREADS': '1'}
    proc = subprocess.run([str(launcher), '-n', '2', '--master_port', str(free_port()), str(script), str(out_dir)],
                          env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return [json.loads((out_dir / f'rank{r}.json').read_text()) for r in (0, 1)]
