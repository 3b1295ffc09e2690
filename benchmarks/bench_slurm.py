"""The Slurm backend's overhead: the bundled default sweep (the digits CNN, ratios 0.25, 0.5, 0.75, 1.0 where they
fit, 2 seeds) under ``--backend slurm`` on a one-node Slurm of this machine, against local workers (as many as the
machine has cores) in the same process, same machine. Both must report the same table; the figure is the ratio of
wall times (one sweep each: a sweep is long, and job start-up, not noise, dominates the difference).

Slurm: the one a ``SLURM_CONF``/``sbatch`` here answers to, else a one-node cluster started like the tests' one
(``tests/cluster/harness.py``: needs root and Debian's slurm-wlm + munge); without either it says so and stops.
"""
from __future__ import annotations

import os
import subprocess
import tempfile
import time

RATIOS = (0.25, 0.5, 0.75, 1.0)
SEEDS = 2


def one_sweep(backend: str, workers: int) -> tuple[float, list]:
    from composer_sched.sweep import SweepTarget, run_sweep

    with tempfile.TemporaryDirectory() as d:
        t0 = time.perf_counter()
        out = run_sweep(SweepTarget(None, ()), RATIOS, SEEDS, d, backend=backend, workers=workers,
                        echo=lambda s: None, drop_unfit=True, plot=False)
        wall = time.perf_counter() - t0
    assert out.exit_code == 0, out.failed
    return wall, sorted((r['run_id'], r['batches'], r['metrics']) for r in out.rows)


def _slurm_here() -> bool:
    try:
        out = subprocess.run(['scontrol', 'ping'], capture_output=True, text=True, timeout=20)
        return out.returncode == 0 and 'UP' in out.stdout
    except (OSError, subprocess.TimeoutExpired):
        return False


def main() -> None:
    cluster = None
    if not _slurm_here():
        from tests.cluster.harness import missing, start_slurm

        why = missing()
        if why:
            print(f'skipped: no Slurm here and none can be started ({why}).')
            return
        cluster = start_slurm(tempfile.mkdtemp(prefix='cs-bench-slurm-'))
        os.environ['SLURM_CONF'] = cluster.conf
    try:
        workers = os.cpu_count() or 1
        one_sweep('local', workers)  # warm-up: imports, dataset cache
        wl, local = one_sweep('local', workers)
        ws, slurm = one_sweep('slurm', 1)
    finally:
        if cluster is not None:
            cluster.stop()
            os.environ.pop('SLURM_CONF', None)
    print(f'bundled default sweep, ratios {",".join(map(str, RATIOS))} x {SEEDS} seeds ({len(local)} runs), one each:')
    print(f'  local, {workers} workers: {wl:8.1f} s')
    print(f'  slurm (one job per run, {os.cpu_count()} CPUs on the node): {ws:8.1f} s')
    print(f'  slurm / local wall time: {ws / wl:.2f}x; same table: {local == slurm}')


if __name__ == '__main__':
    main()
