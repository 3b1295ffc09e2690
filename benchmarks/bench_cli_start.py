"""Start-up of the ``composer-sched`` commands that need no training, against a bare ``python -c pass`` on the same
machine (issue 24: goal <= 15x; they import neither torch nor Composer). For scale, the last row imports Composer,
which every command paid before.

Each row is the median wall time of fresh processes (the first, which fills the OS file cache, is not counted; the
Composer row, seconds long, runs twice).
"""
from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

GOAL = 15.0


def _cli() -> list[str]:
    script = os.path.join(os.path.dirname(sys.executable), 'composer-sched')
    return [script] if os.path.exists(script) else [sys.executable, '-m', 'composer_sched.cli']


def _median_seconds(argv: list[str], repeat: int, cwd: str) -> float:
    times = []
    for i in range(repeat + 1):
        start = time.perf_counter()
        subprocess.run(argv, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        if i:
            times.append(time.perf_counter() - start)
    return statistics.median(times)


def main(repeat: int = 5) -> list[tuple[str, float, float]]:
    cli = _cli()
    cases = [
        ('python -c pass', [sys.executable, '-c', 'pass']),
        ('composer-sched --help', cli + ['--help']),
        ('composer-sched plot --help', cli + ['plot', '--help']),
        ('composer-sched list', cli + ['list']),
        ('composer-sched plot wsd', cli + ['plot', 'wsd', '-o', 'wsd.png']),
        ('composer-sched bound wsd cosine_annealing', cli + ['bound', 'wsd', 't_cooldown=0.2dur', 'cosine_annealing',
                                                             '--horizons', '1000', '-o', 'bound.png']),
        ('(before: python -c "import composer")', [sys.executable, '-c', 'import composer']),
    ]
    folder = tempfile.mkdtemp(prefix='bench_cli_start_')
    rows = []
    try:
        base = None
        print(f'{"command":<44} {"median":>9} {"x python":>9}  (goal <= {GOAL:g}x; {repeat} runs, {os.cpu_count()} '
              'cores)')
        for label, argv in cases:
            seconds = _median_seconds(argv, repeat if not label.startswith('(') else 2, folder)
            base = base or seconds
            ratio = seconds / base
            mark = '' if label.startswith(('python', '(')) else ('  ok' if ratio <= GOAL else '  over the goal')
            print(f'{label:<44} {seconds * 1e3:>7.0f}ms {ratio:>8.1f}x{mark}', flush=True)
            rows.append((label, seconds, ratio))
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return rows


if __name__ == '__main__':
    main()
