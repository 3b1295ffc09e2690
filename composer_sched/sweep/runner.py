"""Running a planned sweep: skip finished runs, run the rest on a backend, record each as it finishes, report.

Backends run :func:`~composer_sched.sweep.execute.execute_run` and hand back result rows; only this driver
process writes the database, one transaction per run, so the record is the same whichever backend trained it.

* ``local`` with ``workers=1`` runs in this process; with ``workers=N`` in ``N`` spawned processes, each of which
  dies with the sweep (a killed sweep leaves no orphan training).
* ``ray`` runs one Ray task per run (a trunk is the longest run, and writes its branches' checkpoints), with the
  recipe's CPUs and GPUs as the task's resources.
* Whatever the backend, a recipe with ``processes > 1`` per run (``--procs-per-run``) has each run launched as
  ``composer -n N -m composer_sched.sweep._rank`` (:func:`~composer_sched.sweep.execute.launch_run`); the
  backend's worker waits for it and hands back rank 0's row.

A branch waits for its trunk. If the trunk's checkpoint is missing when the branch starts (the trunk failed, or
ran on another node without a shared folder), the branch trains from scratch, which gives the same result.
"""
from __future__ import annotations

import dataclasses
import os
import shutil
import sys
import time
from typing import Any, Callable, Optional, Sequence, Union

from composer_sched.sweep.execute import composer_launcher, device_count, die_with_parent, run_one
from composer_sched.sweep.plan import RunSpec, SweepPlan, plan_sweep
from composer_sched.sweep.store import ResultsStore
from composer_sched.sweep.target import SweepTarget

__all__ = ['run_sweep', 'SweepOutcome', 'BACKENDS']

BACKENDS = ('local', 'ray')


@dataclasses.dataclass
class SweepOutcome:
    """What :func:`run_sweep` did.

    Attributes:
        plan: the plan (runs, budgets, trunk sharing).
        rows: the database rows of this sweep's runs.
        skipped: runs already finished before this call.
        ran: runs trained by this call.
        failed: ``run_id`` of runs whose latest attempt failed.
        out_dir, store: where the results are.
        report: the :class:`~composer_sched.sweep.report.SweepReport`, when any run succeeded.
    """
    plan: SweepPlan
    rows: list[dict[str, Any]]
    skipped: int
    ran: int
    failed: list[str]
    out_dir: str
    store: ResultsStore
    report: Any = None

    @property
    def exit_code(self) -> int:
        """0 when every run finished, 1 when some failed."""
        return 1 if self.failed else 0


# Every backend calls run_one(target, spec, config_hash, cpus, **run_kw); run_kw says how many processes a run
# takes and where launched runs keep their per-attempt files.


class _InlineBackend:
    def __init__(self, run_kw: dict):
        self._queue: list = []
        self._kw = run_kw

    def submit(self, target, spec, config_hash, cpus):
        self._queue.append((spec, (target, spec, config_hash, cpus)))

    def running(self) -> int:
        return 0

    def next_result(self):
        spec, args = self._queue.pop(0)
        return spec, run_one(*args, **self._kw)

    def close(self):
        pass


class _ProcessBackend:
    def __init__(self, workers: int, run_kw: dict):
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        # spawn: a forked copy of a process that already ran torch can hang in its thread pools.
        self._pool = ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context('spawn'),
                                         initializer=die_with_parent)
        self._futures: dict = {}
        self._kw = run_kw

    def submit(self, target, spec, config_hash, cpus):
        self._futures[self._pool.submit(run_one, target, spec, config_hash, cpus, **self._kw)] = spec

    def running(self) -> int:
        return sum(1 for f in self._futures if f.running())

    def next_result(self):
        from concurrent.futures import FIRST_COMPLETED, wait

        done, _ = wait(list(self._futures), return_when=FIRST_COMPLETED)
        fut = next(iter(done))
        spec = self._futures.pop(fut)
        try:
            return spec, fut.result()
        except Exception as e:  # the worker process itself died (e.g. out of memory)
            return spec, _crashed(spec, e)

    def close(self):
        self._pool.shutdown(wait=True, cancel_futures=True)


class _RayBackend:
    def __init__(self, address: Optional[str], resources: dict[str, float], run_kw: dict):
        try:
            import ray
        except ImportError:
            raise ValueError("--backend ray needs Ray: pip install 'composer-sched[ray]'.") from None
        self._ray = ray
        if not ray.is_initialized():
            ray.init(address=address, include_dashboard=False, log_to_driver=False,
                     runtime_env={'env_vars': {'PYTHONWARNINGS': 'ignore'}})
        procs = resources['processes']  # cpus and gpus are per process
        self._remote = ray.remote(run_one).options(num_cpus=resources['cpus'] * procs,
                                                   num_gpus=resources['gpus'] * procs, max_retries=0)
        self._refs: dict = {}
        self._kw = run_kw

    def submit(self, target, spec, config_hash, cpus):
        self._refs[self._remote.remote(target, spec, config_hash, cpus, **self._kw)] = spec

    def running(self) -> int:
        return len(self._refs)

    def next_result(self):
        ready, _ = self._ray.wait(list(self._refs), num_returns=1)
        spec = self._refs.pop(ready[0])
        try:
            return spec, self._ray.get(ready[0])
        except Exception as e:  # the task's worker died
            return spec, _crashed(spec, e)

    def close(self):
        pass


def _crashed(spec: RunSpec, e: BaseException) -> dict:
    return {'run_id': spec.run_id, 'ratio': spec.ratio, 'seed': spec.seed, 'status': 'failed',
            'error': f'worker died: {type(e).__name__}: {e}', 'finished_at': time.time()}


def _metric_names(loaded) -> list[str]:
    import logging
    import warnings

    warnings.filterwarnings('ignore')
    logging.getLogger('composer').setLevel(logging.ERROR)
    trainer = loaded.build_trainer(1.0)
    evals = trainer.state.eval_metrics or {}
    names = [n if len(evals) == 1 else f'{label}/{n}' for label, ms in evals.items() for n in ms]
    trainer.close()
    return names


def _fmt_time(s: float) -> str:
    s = max(0, int(round(s)))
    return f'{s // 3600}h{s % 3600 // 60:02d}m' if s >= 3600 else f'{s // 60}m{s % 60:02d}s'


def run_sweep(target: SweepTarget, ratios: Sequence[float], seeds: Union[int, Sequence[int]] = 1,
              out_dir: Union[str, os.PathLike] = 'sweep', *, workers: int = 1, backend: str = 'local',
              address: Optional[str] = None, share_trunks: bool = True, tolerance: float = 0.01,
              metric: Optional[str] = None, echo: Callable[[str], None] = print) -> SweepOutcome:
    """Run (or resume) a ratio sweep and write its database, CSV, plot and recommendation into ``out_dir``.

    Args:
        target: the recipe to sweep; with ``processes > 1`` per run (``SweepTarget.processes`` or the recipe's
            ``resources.processes``), each run is launched with Composer's launcher.
        ratios: scale-schedule ratios, each a finite number ``> 0``.
        seeds: how many seeds (``>= 1``; seeds ``0..N-1``), or the seeds themselves (each ``>= 0``).
        out_dir: results folder: ``results.sqlite``, ``results.csv``, ``tradeoff.png``, ``checkpoints/``.
        workers: runs in parallel on this machine, ``>= 1`` (``local`` backend).
        backend: ``'local'`` or ``'ray'``.
        address: Ray cluster address (``None``: an already initialized Ray, or a new local one).
        share_trunks: let shorter runs branch from the longest run's trunk when the schedule allows.
        tolerance: recommendation slack in metric units, ``>= 0``.
        metric: eval metric to judge quality by (default: the recipe's first).
        echo: where progress lines go.

    Returns:
        A :class:`SweepOutcome`; its ``exit_code`` is 1 when some run failed.

    Raises:
        ValueError: a bad argument, recipe or override (or a missing ``composer`` launcher when a run needs
            several processes), before any training.

    Example:
        >>> out = run_sweep(SweepTarget(None, ('max_duration=1ep',)), [0.5, 1.0], out_dir='/tmp/s')  # doctest: +SKIP
        >>> out.exit_code  # doctest: +SKIP
        0
    """
    from composer_sched.sweep.report import build_report

    if backend not in BACKENDS:
        raise ValueError(f'--backend={backend!r} is not allowed: use one of {", ".join(BACKENDS)}.')
    if not isinstance(workers, int) or isinstance(workers, bool) or workers < 1:
        raise ValueError(f'--workers={workers!r} is not allowed: --workers must be an int >= 1.')
    if isinstance(seeds, int):
        if seeds < 1:
            raise ValueError(f'--seeds={seeds!r} is not allowed: --seeds must be an int >= 1.')
        seeds = list(range(seeds))
    seeds = list(seeds)
    if not seeds or any(not isinstance(s, int) or s < 0 for s in seeds) or len(set(seeds)) != len(seeds):
        raise ValueError(f'seeds={seeds!r} is not allowed: give distinct ints >= 0.')
    if not (isinstance(tolerance, (int, float)) and tolerance >= 0 and tolerance != float('inf')):
        raise ValueError(f'--tolerance={tolerance!r} is not allowed: --tolerance must be a finite number >= 0.')
    ratios = sorted(float(r) for r in ratios)
    if not ratios or any(not (r > 0 and r != float('inf')) for r in ratios):
        raise ValueError(f'--ratios={ratios!r} is not allowed: give finite numbers > 0.')

    out_dir = os.fspath(out_dir)
    loaded = target.load()
    if metric is not None:  # check the name now rather than after hours of training
        names = _metric_names(loaded)
        if metric not in names:
            raise ValueError(f'--metric={metric!r} is not allowed: the recipe evaluates {", ".join(names) or "nothing"}.')
    config_hash = loaded.fingerprint
    ckpt_dir = os.path.join(out_dir, 'checkpoints')
    plan = plan_sweep(loaded, ratios, seeds, ckpt_dir, share_trunks=share_trunks)
    resources = loaded.resources
    procs = int(resources['processes'])
    if procs > 1:
        composer_launcher()  # missing launcher: say so now, not once per run
    launch_dir = os.path.join(out_dir, 'launch')
    os.makedirs(out_dir, exist_ok=True)
    store = ResultsStore(os.path.join(out_dir, 'results.sqlite'))
    store.register_sweep(config_hash, loaded.to_yaml())

    echo(f'sweep of {loaded.name!r} ({config_hash}): ratios {", ".join(f"{r:g}" for r in ratios)} x '
         f'{len(seeds)} seed(s); budgets {", ".join(f"{r:g}: {b} batches" for r, b in plan.budgets.items())}')
    for reason in plan.reasons:
        echo(f'  {reason}')
    echo(f'  {plan.cost_summary()}')

    done = store.done_ids(config_hash)
    pending = [r for r in plan.runs if r.run_id not in done]
    skipped = len(plan.runs) - len(pending)
    if skipped:
        echo(f'  {skipped} run(s) already finished in {store.path}: skipped.')
    echo(f'  {len(pending)} run(s) to train on {backend}'
         f'{f" with {workers} workers" if backend == "local" and workers > 1 else ""}'
         f'{f", {procs} processes per run (Composer launcher, world size {procs})" if procs > 1 else ""}'
         f'; results in {out_dir}/')

    cpus = int(resources['cpus'])
    be: Any
    run_kw = {'processes': procs, 'work_dir': launch_dir}
    if backend == 'ray':
        be = _RayBackend(address, resources, run_kw)
    elif workers == 1 or len(pending) <= 1:
        be = _InlineBackend(run_kw)
    else:
        be = _ProcessBackend(min(workers, len(pending)), run_kw)

    waiting = {r.run_id: r for r in pending}
    in_flight: set[str] = set()
    finished: set[str] = set(done)
    failed: list[str] = []
    per_batch: list[tuple[float, int]] = []
    trunk_rows: dict[str, dict] = {}
    t_start = time.perf_counter()
    parallel = workers if backend == 'local' else max(1, len(pending))

    def ready(spec: RunSpec) -> bool:
        return spec.trunk_id is None or spec.trunk_id in finished or spec.trunk_id not in waiting and \
            spec.trunk_id not in in_flight

    def submit_ready():
        limit = workers if backend == 'local' else len(waiting)
        for rid in list(waiting):
            if len(in_flight) >= limit:
                break
            if ready(waiting[rid]):
                spec = waiting.pop(rid)
                in_flight.add(rid)
                be.submit(target, spec, config_hash, cpus)

    def remaining_batches() -> int:
        todo = list(waiting.values()) + [s for s in pending if s.run_id in in_flight]
        return sum(plan.budgets[s.ratio] - (s.branch_batch or 0) for s in todo)

    try:
        submit_ready()
        n_done = 0
        while in_flight:
            spec, row = be.next_result()
            in_flight.discard(spec.run_id)
            row['config_hash'] = config_hash
            if row.get('branched_from') and row['status'] == 'done':
                # A branch's own cost is the trunk's prefix it reused plus its cool-down.
                trunk = trunk_rows.get(row['branched_from']) or next(
                    (r for r in store.rows(config_hash, 'done') if r['run_id'] == row['branched_from']), None)
                if trunk and trunk.get('batches'):
                    row['equiv_wall_s'] = row['wall_s'] + trunk['wall_s'] * row['branch_batch'] / trunk['batches']
                    row['device_s'] = row['equiv_wall_s'] * device_count(resources)
            if row['status'] == 'done' and any(s.trunk_id == spec.run_id for s in plan.runs):
                trunk_rows[spec.run_id] = row
            store.record(row)
            n_done += 1
            if row['status'] == 'done':
                finished.add(spec.run_id)
                per_batch.append((row['wall_s'], row['trained_batches']))
                how = (f'branched at batch {row["branch_batch"]}' if row.get('branched_from')
                       else f'{row["trained_batches"]} batches')
                quality = ', '.join(f'{k}={v:.4f}' for k, v in sorted(row['metrics'].items()))
                line = f'ratio {spec.ratio:g} seed {spec.seed}: {quality} ({how}, {row["wall_s"]:.1f}s)'
            else:
                failed.append(spec.run_id)
                line = f'ratio {spec.ratio:g} seed {spec.seed}: FAILED: {row["error"].splitlines()[0]}'
            submit_ready()
            rate = sum(w for w, _ in per_batch) / max(1, sum(b for _, b in per_batch))
            left = rate * remaining_batches() / max(1, min(parallel, len(in_flight) or 1))
            echo(f'[{skipped + n_done}/{len(plan.runs)} done, {len(in_flight)} running, {len(waiting)} waiting, '
                 f'~{_fmt_time(left)} left, {_fmt_time(time.perf_counter() - t_start)} elapsed] {line}')
    finally:
        be.close()

    ids = {r.run_id for r in plan.runs}
    rows = [r for r in store.rows(config_hash) if r['run_id'] in ids]
    failed = [r['run_id'] for r in rows if r['status'] == 'failed']
    if len(rows) == len(ids) and not failed:
        # Every run is done: trunk checkpoints are no longer needed, nor the attempt folders a killed sweep's
        # launched runs left (a finished attempt removes its own).
        for folder in (ckpt_dir, launch_dir):
            shutil.rmtree(folder, ignore_errors=True)
    store.write_csv(os.path.join(out_dir, 'results.csv'), rows)
    outcome = SweepOutcome(plan, rows, skipped, len(pending), failed, out_dir, store)
    if any(r['status'] == 'done' for r in rows):
        outcome.report = build_report(rows, tolerance=tolerance, metric=metric, out_dir=out_dir)
    return outcome
