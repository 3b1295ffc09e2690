"""What ``--log mlflow`` costs: the bundled default sweep (digits CNN, WSD, ratios 0.25..1, 2 seeds: 8 runs) with
logging to the local MLflow store (``sqlite:///DIR/mlflow.db``: a parent, 8 children with Composer's curves and
their ``frac/`` copies, artifacts) against the same sweep without ``--log``, each in a fresh folder, in the same
process, alternating order; medians of the whole sweep's wall time. The goal is < 5% overhead. Both sweeps must
report the same numbers (logging must not change training).

Every MLflow call is made by a writer process (``composer_sched.sweep.tracking._Process``), started when the
first sweep's tracking opens and kept for the next sweep of the process (the warm-up pays its mlflow import, as it
paid the in-process import before): the store's work (~0.1 ms of CPU per metric point, ~4,800 points) and the trunk
plot run on another core while the runs train, and the sweep waits only for what is left at its end. So the CPU
seconds are printed twice: of this process (every thread: what logging takes from the training) and of the writer
process (what logging costs the machine). On a machine shared with other work the writer competes for the cores:
the load average is printed with the figures, and the writer's bytes written to disk (its SQLite commits, a
machine-independent view of its work). A one-sweep CLI run pays the writer's mlflow import too, on the other core
while the first runs train. ``BENCH_TRACKING_REPEATS`` (default 5): repeats of each configuration.
"""
from __future__ import annotations

import os
import statistics
import tempfile
import time

RATIOS = (0.25, 0.5, 0.75, 1.0)
SEEDS = 2


def _writer_cpu() -> tuple[float, int]:
    """CPU seconds and bytes written to disk so far of the MLflow writer process (it stays for the next sweep: not
    a waited-for child)."""
    import psutil

    from composer_sched.sweep.tracking import _Process

    p = _Process.current
    if p is None or p.proc.poll() is not None:
        return 0.0, 0
    proc = psutil.Process(p.proc.pid)
    t = proc.cpu_times()
    return t.user + t.system, proc.io_counters().write_bytes


def one_sweep(log: bool) -> tuple[float, float, tuple[float, int], dict, int]:
    """Wall seconds, CPU seconds of this process, CPU seconds and bytes written of the writer process, metrics per
    (ratio, seed), and MLflow runs logged, of one fresh sweep."""
    from composer_sched.sweep import SweepTarget, run_sweep

    with tempfile.TemporaryDirectory() as d:
        t0, c0, k0 = time.perf_counter(), time.process_time(), _writer_cpu()
        out = run_sweep(SweepTarget(), RATIOS, SEEDS, d, log='mlflow' if log else (), echo=lambda s: None)
        k1 = _writer_cpu()
        wall, cpu, child = time.perf_counter() - t0, time.process_time() - c0, (k1[0] - k0[0], k1[1] - k0[1])
        runs = 0
        if log:
            from mlflow import MlflowClient
            client = MlflowClient(f'sqlite:///{d}/mlflow.db')
            runs = len(client.search_runs([e.experiment_id for e in client.search_experiments()]))
    assert out.exit_code == 0, out.failed
    return wall, cpu, child, {(r['ratio'], r['seed']): r['metrics'] for r in out.rows}, runs


def main(repeats: int = 0) -> None:
    repeats = repeats or int(os.environ.get('BENCH_TRACKING_REPEATS') or 5)
    for k in ('MLFLOW_TRACKING_URI', 'MLFLOW_EXPERIMENT_NAME'):
        os.environ.pop(k, None)
    one_sweep(True)  # warm-up: imports (torch, Composer, mlflow), dataset cache, MLflow's schema code
    walls: dict[bool, list[float]] = {True: [], False: []}
    cpus: dict[bool, list[float]] = {True: [], False: []}
    writer: list[tuple[float, int]] = []
    metrics, runs = {}, 0
    for i in range(repeats):
        for log in ((True, False) if i % 2 == 0 else (False, True)):
            wall, cpu, child, m, n = one_sweep(log)
            walls[log].append(wall)
            cpus[log].append(cpu)
            if log:
                writer.append(child)
            metrics[log] = m
            runs = max(runs, n)
    w_log, w_plain = statistics.median(walls[True]), statistics.median(walls[False])
    c_log, c_plain = statistics.median(cpus[True]), statistics.median(cpus[False])
    print(f'bundled default sweep, {len(RATIOS)} ratios x {SEEDS} seeds, {repeats} repeats, medians:')
    print(f'  {"without --log":<26}{w_plain:>8.2f} s')
    print(f'  {"--log mlflow (local store)":<26}{w_log:>8.2f} s   ({runs} MLflow runs: 1 parent + children)')
    print(f'  overhead: {w_log / w_plain - 1:+.1%} of the sweep\'s wall time (goal < 5%); '
          f'every repeat: {", ".join(f"{w:.1f}" for w in walls[True])} s with, '
          f'{", ".join(f"{w:.1f}" for w in walls[False])} s without')
    print(f'  CPU seconds of the sweep\'s process (all threads): {c_plain:.2f} without, {c_log:.2f} with '
          f'({c_log / c_plain - 1:+.1%}); the writer process: {statistics.median(w[0] for w in writer):.2f} more, '
          f'writing {statistics.median(w[1] for w in writer) / 1e6:.1f} MB')
    print(f'  load average at the end: {", ".join(f"{x:.2f}" for x in os.getloadavg())}')
    print(f'  same final metrics with and without logging: {metrics[True] == metrics[False]}')


if __name__ == '__main__':
    main()
