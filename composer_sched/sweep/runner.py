"""Running a planned sweep: skip finished runs, run the rest on a backend, record each as it finishes, report.

Backends run :func:`~composer_sched.sweep.execute.execute_run` and hand back result rows; only this driver
process writes the database, one transaction per run, so the record is the same whichever backend trained it.

* ``local`` with ``workers=1`` runs in this process; with ``workers=N`` in ``N`` spawned processes, each of which
  dies with the sweep (a killed sweep leaves no orphan training).
* ``ray`` runs one Ray task per run (a trunk is the longest run, and writes its branches' checkpoints), with the
  recipe's CPUs and GPUs as the task's resources; a task whose worker or node dies is retried by Ray.
* ``slurm`` submits one Slurm job per run (:mod:`composer_sched.sweep.slurm`): job arrays, branches held back by a
  dependency on their trunk's job, rows coming back as files in the sweep folder.
* Whatever the backend, a recipe with ``processes > 1`` per run (``--procs-per-run``) has its runs launched as
  ``composer -n N -m composer_sched.sweep._rank`` (:func:`~composer_sched.sweep.execute.launch_run`); the
  backend's worker waits for it and hands back rank 0's row. ``local`` with one worker trains every run in one
  such launch, trunks before their branches (:func:`~composer_sched.sweep.execute.launch_runs`).

A branch waits for its trunk. If the trunk's checkpoint is missing when the branch starts (the trunk failed, or
ran on another node without a shared folder), the branch trains from scratch, which gives the same result.
"""
from __future__ import annotations

import dataclasses
import os
import re
import shutil
import time
from typing import Any, Callable, Optional, Sequence, Union

from composer_sched.adapters.durations import check_ratio
from composer_sched.sweep.execute import composer_launcher, device_count, die_with_parent, run_one
from composer_sched.sweep.plan import RunSpec, SweepPlan, plan_sweep
from composer_sched.sweep.store import ResultsStore
from composer_sched.sweep.target import SweepTarget

__all__ = ['run_sweep', 'SweepOutcome', 'SweepFolder', 'write_outputs', 'config_folder', 'BACKENDS']

BACKENDS = ('local', 'ray', 'slurm')
#: Where the longest run of each seed keeps its final checkpoint (``DIR/final/<run_id>.pt``), for ``--extend``.
FINAL_DIR = 'final'


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
        outputs: the files written (``csv``, ``plot``: the folder's; ``config_csv``, ``config_plot``, ``recipe``:
            this configuration's); empty for a read-only folder.
    """
    plan: SweepPlan
    rows: list[dict[str, Any]]
    skipped: int
    ran: int
    failed: list[str]
    out_dir: str
    store: ResultsStore
    report: Any = None
    outputs: dict = dataclasses.field(default_factory=dict)
    prediction_errors: list = dataclasses.field(default_factory=list)
    predict: Any = None

    @property
    def exit_code(self) -> int:
        """0 when every run finished (and every asked prediction was made), 1 when some failed."""
        return 1 if self.failed or self.prediction_errors else 0


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


class _OneLaunchBackend(_InlineBackend):
    """``local`` with one worker and ``processes > 1`` per run: every run in ONE launch of ``processes`` ranks
    (:func:`~composer_sched.sweep.execute.launch_runs`), trunks before their branches, each rank training them in
    turn, so the ranks import torch and Composer once per sweep instead of once per run (~10 s of CPU each). A run
    that fails ends that launch; the runs it had not started then run one launch each, as they would have (a branch
    whose trunk failed trains from scratch)."""
    orders_runs = True  # every run is submitted at once: this backend orders them

    def __init__(self, run_kw: dict):
        super().__init__(run_kw)
        self._launch: Any = None

    def next_result(self):
        from composer_sched.sweep.execute import launch_runs

        if self._launch is None:
            order = _trunks_first([spec for spec, _ in self._queue])
            args = self._queue[0][1]
            self._queue.clear()
            self._alone = args
            self._launch = launch_runs(args[0], order, args[2], args[3], **self._kw)
        spec, row = next(self._launch)
        if row is None:  # not started: the run that failed before it ended the launch
            target, _, config_hash, cpus = self._alone
            row = run_one(target, spec, config_hash, cpus, **self._kw)
        return spec, row

    def close(self):
        if self._launch is not None:
            self._launch.close()  # stops a launch still training (an interrupted sweep)


def _trunks_first(specs: list[RunSpec]) -> list[RunSpec]:
    """``specs`` in the order one worker would train them: each time, the first whose trunk is not among the runs
    still to train.

    Example:
        >>> a, b = RunSpec('a', 0.5, 0, trunk_id='c'), RunSpec('b', 0.75, 0)
        >>> [s.run_id for s in _trunks_first([a, b, RunSpec('c', 1.0, 0)])]
        ['b', 'c', 'a']
    """
    left, order = list(specs), []
    while left:
        ids = {s.run_id for s in left}
        spec = next((s for s in left if s.trunk_id not in ids), left[0])
        left.remove(spec)
        order.append(spec)
    return order


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
            try:
                ray.init(address=address, include_dashboard=False, log_to_driver=False,
                         runtime_env={'env_vars': {'PYTHONWARNINGS': 'ignore'}})
            except Exception as e:  # no cluster there, a bad address, a version mismatch: the user's to fix
                where = f'--address={address!r}' if address else 'a new local Ray'
                first = (str(e).strip().splitlines() or [type(e).__name__])[0]
                raise ValueError(f'--backend ray cannot start: {where}: {first}') from None
        procs = resources['processes']  # cpus and gpus are per process
        # A task whose worker or node dies is run again elsewhere (system failures only: a run that fails is a
        # 'failed' row, which a rerun of the sweep retries). A retried trunk resumes nothing: it retrains, and its
        # branch checkpoints are written then renamed, so a half-written one is never read.
        self._remote = ray.remote(run_one).options(num_cpus=resources['cpus'] * procs,
                                                   num_gpus=resources['gpus'] * procs, max_retries=self.RETRIES)
        self._refs: dict = {}
        # Paths as the driver sees them: a worker's working folder may be another one, on another node.
        self._kw = {**run_kw, 'work_dir': os.path.abspath(run_kw['work_dir'])}

    #: Times Ray reruns a run whose worker process or node died.
    RETRIES = 3

    def submit(self, target, spec, config_hash, cpus):
        self._refs[self._remote.remote(target, spec.with_absolute_paths(), config_hash, cpus, **self._kw)] = spec

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


def _check_args(backend, workers, seeds, tolerance, ratios) -> tuple[list[int], list[float]]:
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
    ratios = sorted(check_ratio('--ratios', r) for r in ratios)
    if not ratios or len(set(ratios)) != len(ratios):
        raise ValueError(f'--ratios={ratios!r} is not allowed: give distinct finite numbers > 0.')
    return seeds, ratios


class SweepFolder:
    """A sweep's results folder, opened for one sweep: its database, and a lock while this sweep trains.

    The lock (``DIR/.sweep.lock``, an advisory ``flock`` the OS releases when the process dies, even by SIGKILL)
    makes a second sweep on the same folder refuse to train instead of training the same runs twice and deleting
    the other's trunk checkpoints. A folder this process cannot write is opened read-only: a finished sweep is
    still reported.

    Raises:
        ValueError: ``out_dir`` is a file, cannot be created, or holds a database that cannot be read.
    """

    LOCK = '.sweep.lock'

    def __init__(self, out_dir: str):
        self.path = out_dir
        if os.path.exists(out_dir) and not os.path.isdir(out_dir):
            raise ValueError(f'--out={out_dir!r} is not allowed: it is an existing file; give a folder.')
        self.writable, self._lock, self._why = True, None, ''
        try:
            os.makedirs(out_dir, exist_ok=True)
            self._lock = open(os.path.join(out_dir, self.LOCK), 'a+')
        except OSError as e:
            self.writable, self._why = False, e.strerror or str(e)
        db = os.path.join(out_dir, 'results.sqlite')
        if not self.writable and not os.path.isfile(db):
            raise ValueError(f'--out={out_dir!r} is not allowed: it cannot be written ({self._why}); give a folder '
                             'you can write.')
        self.store = ResultsStore(db, readonly=not self.writable)
        self.holder: Optional[str] = None

    def lock(self) -> bool:
        """Take the folder's lock without waiting; ``False`` (and :attr:`holder`) when another sweep holds it."""
        import fcntl

        if self._lock is None:
            return False
        try:
            fcntl.flock(self._lock.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._lock.seek(0)
            self.holder = self._lock.read().strip() or 'unknown'
            return False
        self._lock.seek(0)
        self._lock.truncate()
        self._lock.write(f'{os.getpid()}')
        self._lock.flush()
        return True

    def need_writable(self, pending: int) -> None:
        """Raise the user's error when ``pending`` runs must train here but cannot.

        Raises:
            ValueError: the folder is read-only, or another sweep holds its lock.
        """
        if not pending:
            return
        if not self.writable:
            raise ValueError(f'--out={self.path!r} is read-only ({self._why}): {pending} run(s) still to train need '
                             'a folder you can write.')
        if self.holder is not None or not self.lock():
            raise ValueError(f'--out={self.path!r} is in use by another sweep (process {self.holder}); wait for it to '
                             'finish, or give another --out.')

    def close(self) -> None:
        if self._lock is not None:
            self._lock.close()  # releases the flock
            self._lock = None


def run_sweep(target: SweepTarget, ratios: Sequence[float], seeds: Union[int, Sequence[int]] = 1,
              out_dir: Union[str, os.PathLike] = 'sweep', *, workers: int = 1, backend: str = 'local',
              address: Optional[str] = None, share_trunks: bool = True, tolerance: float = 0.01,
              metric: Optional[str] = None, echo: Callable[[str], None] = print,
              drop_unfit: bool = False, plot: bool = True, predict: Optional[str] = None,
              slurm: Any = None, log: Sequence[str] = (), extend: bool = False) -> SweepOutcome:
    """Run (or resume) a ratio sweep and write its database, CSV, plot and recommendation into ``out_dir``.

    Steps, one function each: check the arguments and the recipe and plan every run (:func:`_prepare`, with
    :func:`~composer_sched.sweep.plan.plan_sweep`), find what the folder's database does not hold yet and lock the
    folder (:func:`_pending_runs`), say what will happen (:func:`_announce`), train it (:func:`_train_pending`),
    then gather the rows and write the outputs (:func:`_finish`, :func:`write_outputs`). Everything that can be
    wrong with the input is a ``ValueError`` before any training.

    A run at ratio ``r`` trains with ``Trainer(scale_schedule_ratio=r * q)``, where ``q`` is the recipe's own
    ratio (its ``scale_schedule_ratio`` times its ``ScaleSchedule`` algorithms' ratios).

    Args:
        target: the recipe to sweep; with ``processes > 1`` per run (``SweepTarget.processes`` or the recipe's
            ``resources.processes``), each run is launched with Composer's launcher.
        ratios: scale-schedule ratios, distinct finite numbers ``> 0``.
        seeds: how many seeds (``>= 1``; seeds ``0..N-1``), or the seeds themselves (each ``>= 0``).
        out_dir: results folder: ``results.sqlite`` (every sweep run there), ``results.csv`` and
            ``tradeoff.png`` (all of them), and per recipe configuration ``<name>-<hash>/`` with its own
            ``results.csv``, ``tradeoff.png`` and ``recipe.yaml``; ``checkpoints/`` while trunks are needed.
        workers: runs in parallel on this machine, ``>= 1`` (``local`` backend).
        backend: ``'local'`` or ``'ray'``.
        address: Ray cluster address (``None``: an already initialized Ray, or a new local one).
        share_trunks: let shorter runs branch from the longest run's trunk when the schedule allows.
        tolerance: recommendation slack in metric units, ``>= 0``.
        metric: eval metric to judge quality by (default: the recipe's first).
        echo: where progress lines go.
        drop_unfit: leave out (with a printed reason) ratios whose schedule does not fit, instead of raising;
            for default ratios the user did not choose.
        plot: ``False`` writes no ``tradeoff.png`` (the CSVs and the report only).
        predict: ``None`` (train every ratio), or ``'only'``, ``'anchor'``, ``'shadow'``: train the longest ratio
            (``anchor``: and the shortest) with its eval loss every k batches, predict the other ratios with the
            momentum law and record them as rows marked ``predicted`` (``shadow``: then train them too, and report
            each prediction's error). See :mod:`composer_sched.sweep.predicted`.
        slurm: with ``backend='slurm'``, the ``--slurm`` options: ``key=value`` strings or a dict with keys among
            :data:`~composer_sched.sweep.slurm.SLURM_KEYS` (partition, account, time, qos, constraint,
            checkpoint_every). See :mod:`composer_sched.sweep.slurm`.
        log: trackers to log the sweep into, ``'mlflow'`` and/or ``'wandb'``
            (:mod:`~composer_sched.sweep.tracking`); a recipe with ``loggers.mlflow`` logs to MLflow as well.
        extend: continue finished runs: each run to train that no kept stable-phase checkpoint extends exactly
            continues the finished run of the longest shorter ratio (same recipe and seed) from its final
            checkpoint in ``DIR/final/`` (the longest run of every sweep keeps its own there), training only its
            extra batches; its row's ``origin`` says so. A run with nothing to continue is refused before any
            training. Not with ``predict``.

    Returns:
        A :class:`SweepOutcome`; its ``exit_code`` is 1 when some run failed.

    Raises:
        ValueError: a bad argument, recipe or override, a folder that is a file, cannot be written (with runs
            left to train) or is in use by another sweep, an unreachable Ray cluster or tracker, a missing
            ``composer`` launcher when a run needs several processes, or (``extend``) a run to train with no
            finished shorter run to continue; all before any training.

    Example:
        >>> import tempfile
        >>> target = SweepTarget(None, ('max_duration=8ba', 'eval.subset_num_batches=1'))
        >>> out = run_sweep(target, [0.5, 1.0], out_dir=tempfile.mkdtemp(), echo=lambda line: None, plot=False)
        >>> out.exit_code, [(row['ratio'], row['batches']) for row in out.rows]
        (0, [(0.5, 4), (1.0, 8)])
    """
    from composer_sched.sweep.tracking import start_writer
    start_writer(log)  # MLflow's import overlaps the recipe's loading and the first run
    job = _prepare(target, ratios, seeds, out_dir, workers=workers, backend=backend, address=address,
                   share_trunks=share_trunks, tolerance=tolerance, metric=metric, drop_unfit=drop_unfit,
                   predict=predict, echo=echo, extend=extend)
    start_writer(config=job.loaded.config)  # a recipe's loggers.mlflow, known once loaded (kept if running)
    job.slurm = _slurm_options(backend, slurm)
    folder = SweepFolder(job.out_dir)
    try:
        pending, done = _pending_runs(job, folder)
        if pending and job.slurm is not None:  # asks Slurm; a finished sweep reports without it
            from composer_sched.sweep.slurm import check_slurm
            job.slurm = check_slurm(job.slurm, job.resources)
        skipped = len(job.to_train) - len(pending)
        _announce(job, folder, pending, skipped)
        _open_tracking(job, folder, log, pending)
        prediction_errors = _train_pending(job, folder, pending, done)
        outcome = _finish(job, folder, len(pending), skipped, prediction_errors, tolerance=tolerance, metric=metric,
                          plot=plot)
        if job.tracking is not None:
            job.tracking.finish(outcome, job.loaded)
        return outcome
    finally:
        if job.tracking is not None:
            job.tracking.close()
        folder.close()


@dataclasses.dataclass
class _SweepJob:
    """A checked, planned sweep (:func:`_prepare`): everything the steps of :func:`run_sweep` share."""
    target: SweepTarget
    loaded: Any                  # the recipe as the planner sees it (sweep.target.LoadedTarget)
    seeds: list[int]
    config_hash: str
    plan: SweepPlan
    resources: dict
    setup: Any                   # the --predict setup (sweep.predicted.prepare_predict), or None
    out_dir: str
    workers: int
    backend: str
    address: Optional[str]
    echo: Callable[[str], None]
    slurm: Optional[dict] = None  # checked --slurm options (backend 'slurm')
    tracking: Any = None         # the trackers (sweep.tracking.SweepTracking), or None
    extend: bool = False         # --extend: continue finished runs from their final checkpoints

    @property
    def to_train(self) -> list[RunSpec]:
        """The runs this sweep trains: every planned run, or with ``--predict`` the fitted ones then the rest."""
        return self.plan.runs if self.setup is None else self.setup.first + self.setup.rest

    @property
    def ids(self) -> set[str]:
        """``run_id`` of every row this sweep reports (trained and predicted)."""
        return {r.run_id for r in self.plan.runs} if self.setup is None else self.setup.ids()

    @property
    def ckpt_dir(self) -> str:
        return os.path.join(self.out_dir, 'checkpoints')

    @property
    def config_dir(self) -> str:
        """``DIR/<name>-<hash>``: this recipe configuration's outputs (:func:`config_folder`)."""
        return config_folder(self.out_dir, self.loaded.name, self.config_hash)


def _prepare(target: SweepTarget, ratios: Sequence[float], seeds: Union[int, Sequence[int]],
             out_dir: Union[str, os.PathLike], *, workers: int, backend: str, address: Optional[str],
             share_trunks: bool, tolerance: float, metric: Optional[str], drop_unfit: bool, predict: Optional[str],
             echo: Callable[[str], None], extend: bool = False) -> _SweepJob:
    """Step 1: check the arguments and the recipe, and plan every run; touches no file.

    Raises:
        ValueError: a bad argument, recipe, override or metric, a missing ``composer`` launcher when runs need
            several processes, or a ``--predict`` mode the sweep cannot serve.
    """
    seeds, ratios = _check_args(backend, workers, seeds, tolerance, ratios)
    if extend and predict is not None:
        raise ValueError(f'--extend is not allowed with --predict {predict}: a continued run is not a run from '
                         'scratch, which the loss law is fitted on and predicts; give one of them.')
    out_dir = os.fspath(out_dir)
    loaded = target.load()
    if metric is not None:  # check the name now rather than after hours of training
        names = _metric_names(loaded)
        if metric not in names:
            raise ValueError(f'--metric={metric!r} is not allowed: the recipe evaluates '
                             f'{", ".join(names) or "nothing"}.')
    plan = plan_sweep(loaded, ratios, seeds, os.path.join(out_dir, 'checkpoints'), share_trunks=share_trunks,
                      drop_unfit=drop_unfit, stable_dir=os.path.join(out_dir, 'stable'),
                      final_dir=os.path.join(out_dir, FINAL_DIR), extend=extend)
    resources = loaded.resources
    if int(resources['processes']) > 1:
        composer_launcher()  # missing launcher: say so now, not once per run
    setup = None
    if predict is not None:
        from composer_sched.sweep.predicted import prepare_predict
        setup = prepare_predict(loaded, plan, predict)  # refusals: before any training
    return _SweepJob(target, loaded, seeds, loaded.fingerprint, plan, resources, setup, out_dir, workers, backend,
                     address, echo, extend=extend)


def _slurm_options(backend: str, slurm: Any) -> Optional[dict]:
    """The checked ``--slurm`` options (``None`` for other backends).

    Raises:
        ValueError: options given without ``backend='slurm'``, or a bad option.
    """
    if backend != 'slurm':
        if slurm:
            raise ValueError(f'--slurm {slurm!r} is not allowed with --backend {backend}: use --backend slurm.')
        return None
    from composer_sched.sweep.slurm import parse_slurm_options

    items = [f'{k}={v}' for k, v in slurm.items()] if isinstance(slurm, dict) else list(slurm or ())
    return parse_slurm_options(items)


def _pending_runs(job: _SweepJob, folder: 'SweepFolder') -> tuple[list[RunSpec], set]:
    """Step 2: the runs the folder's database does not hold yet, and the ids it does; takes the folder's lock when
    some remain (read again under the lock: a sweep that just finished may have added rows).

    Raises:
        ValueError: runs remain and the folder is read-only or in use by another sweep.
    """
    store = folder.store
    if folder.writable:
        _check_output_folders(job)
    done = store.done_ids(job.config_hash)
    pending = [r for r in job.to_train if r.run_id not in done]
    refused = [job.plan.unextended[r.run_id] for r in pending if r.run_id in job.plan.unextended]
    if refused:
        raise ValueError(f'--extend: {len(refused)} run(s) have nothing to continue and would train from scratch: '
                         f'{"; ".join(refused)}. Give only ratios longer than a finished one, or leave out --extend.')
    folder.need_writable(len(pending))
    if pending:
        _check_first_batch(job)
        done = store.done_ids(job.config_hash)
        pending = [r for r in job.to_train if r.run_id not in done]
    return pending, done


def _check_output_folders(job: _SweepJob) -> None:
    """Every folder the sweep writes in, probed before its first run (:mod:`composer_sched.paths`): a file where
    ``checkpoints/``, ``stable/`` or the configuration's folder go fails now, not after the runs it would report.

    Raises:
        ValueError: naming the folder that cannot be written.
    """
    from composer_sched.paths import check_writable_dir

    here = config_folder(job.out_dir, job.loaded.name, job.config_hash)
    for sub in (job.ckpt_dir, os.path.join(job.out_dir, 'stable'), os.path.join(job.out_dir, FINAL_DIR), here):
        check_writable_dir(sub, f'--out ({os.path.relpath(sub, job.out_dir)}/ in it)', create=False)


def _check_first_batch(job: _SweepJob) -> None:
    """Before a sweep trains: build the recipe's Trainer once and run its model on one batch (what ``train
    --dry-run`` checks), so a model that cannot read the data stops the sweep with one error instead of recording
    every run as failed.

    Raises:
        ValueError: (a ``RecipeError``) naming the recipe key.
    """
    recipe = getattr(job.loaded, 'recipe', None)
    if recipe is not None and hasattr(recipe, 'check_trainer'):
        recipe.check_trainer()
def _open_tracking(job: _SweepJob, folder: 'SweepFolder', log: Sequence[str], pending: list[RunSpec]) -> None:
    """Step 3b: reach the trackers and create the sweep's parent and the pending runs' children, before any
    training (:func:`~composer_sched.sweep.tracking.open_tracking`); the runs then train without the recipe's own
    MLflow logger, which the sweep's children replace."""
    from composer_sched.sweep.tracking import open_tracking, parse_log

    job.tracking = open_tracking(parse_log(log), job, folder.store, pending, writable=folder.writable, echo=job.echo)
    if job.tracking is not None:
        job.target = job.tracking.target(job.target)


def _announce(job: _SweepJob, folder: 'SweepFolder', pending: list[RunSpec], skipped: int) -> None:
    """Step 3: print what the sweep is (ratios, budgets, trunk sharing, cost), and what it skips and trains."""
    echo, plan = job.echo, job.plan
    ratio_list = ', '.join(f'{r:g}' for r in plan.budgets)
    echo(f'sweep of {job.loaded.name!r} ({job.config_hash}): ratios {ratio_list} x {len(job.seeds)} seed(s); budgets '
         f'{", ".join(f"{r:g}: {b} batches" for r, b in plan.budgets.items())}')
    for reason in plan.reasons:
        echo(f'  {reason}')
    echo(f'  {plan.cost_summary()}')
    if job.setup is not None:
        _echo_predict_plan(job.setup, plan, echo)
    if skipped:
        echo(f'  {skipped} run(s) already finished in {folder.store.path}: skipped.')
    if not job.extend:
        _hint_extend(job, pending)
    procs = int(job.resources['processes'])
    if pending:
        echo(f'  {len(pending)} run(s) to train on {job.backend}'
             f'{f" with {job.workers} workers" if job.backend == "local" and job.workers > 1 else ""}'
             f'{f", {procs} processes per run (Composer launcher, world size {procs})" if procs > 1 else ""}'
             f'; results in {job.out_dir}/')


def _hint_extend(job: _SweepJob, pending: list[RunSpec]) -> None:
    """Say when runs about to train from scratch could continue a finished shorter run instead (``--extend``),
    judged by the kept final checkpoints' names."""
    from composer_sched.sweep.plan import kept_finals

    final_dir = os.path.join(job.out_dir, FINAL_DIR)
    could = [r for r in pending if r.branch_batch is None and r.load_from is None
             and any(x < r.ratio for x, _ in kept_finals(final_dir, job.config_hash, r.seed))]
    if could:
        job.echo(f'  {len(could)} of these run(s) train from scratch; --extend would continue them from the final '
                 f'checkpoints of finished shorter runs in {final_dir}/ (only their extra batches: a re-warm, then '
                 "the recipe's decay).")


def _kept_finals_line(job: _SweepJob) -> Optional[str]:
    """What the sweep keeps for a later ``--extend``, and its disk cost."""
    from composer_sched.sweep.plan import kept_finals

    final_dir = os.path.join(job.out_dir, FINAL_DIR)
    paths = [p for seed in job.seeds for _, p in kept_finals(final_dir, job.config_hash, seed)]
    if not paths:
        return None
    size = sum(os.path.getsize(p) for p in paths if os.path.isfile(p))
    return (f'  kept: {len(paths)} final checkpoint(s) in {final_dir}/ ({size / 1e6:.1f} MB: weights and optimizer '
            'state of the longest run of each seed), which `sweep --extend` continues to longer ratios; delete them '
            'to free the space.')


def _train_pending(job: _SweepJob, folder: 'SweepFolder', pending: list[RunSpec], done: set) -> list[str]:
    """Step 4: train ``pending`` (with ``--predict``: the fitted runs, then the predictions, then the rest);
    returns the lines of predictions that failed."""
    store = folder.store

    def train(runs, done_ids, total=None):
        _train(job.target, job.plan, runs, done_ids, store, job.config_hash, job.loaded.to_yaml(), job.resources,
               job.out_dir, job.workers, job.backend, job.address, job.echo, total=total, slurm=job.slurm,
               tracking=job.tracking)

    setup = job.setup
    if setup is None:
        if pending:
            train(pending, done)
        return []
    prediction_errors: list[str] = []
    first = [r for r in pending if r in setup.first]
    if first:
        train(first, done, total=len(setup.first))
    have = {r['run_id'] for r in store.rows(job.config_hash) if r['predicted']}
    if folder.writable and (first or not setup.predicted_ids() <= have):  # else: the recorded ones stand
        prediction_errors = _predict(setup, job.plan, store, job.config_hash, job.loaded, job.echo)
    rest = [r for r in pending if r not in setup.first]
    if rest:
        train(rest, store.done_ids(job.config_hash), total=len(job.to_train))
    return prediction_errors


def _finish(job: _SweepJob, folder: 'SweepFolder', ran: int, skipped: int, prediction_errors: list[str], *,
            tolerance: float, metric: Optional[str], plot: bool) -> SweepOutcome:
    """Step 5: gather this sweep's rows, drop the trunk checkpoints once every run is done, and write the outputs
    (:func:`write_outputs`)."""
    store, out_dir = folder.store, job.out_dir
    ids = job.ids
    rows = [r for r in store.rows(job.config_hash) if r['run_id'] in ids]
    failed = [r['run_id'] for r in rows if r['status'] == 'failed']
    outcome = SweepOutcome(job.plan, rows, skipped, ran, failed, out_dir, store,
                           prediction_errors=prediction_errors, predict=job.setup)
    if folder.writable and len(rows) == len(ids) and not failed and not prediction_errors:
        # Every run is done: trunk checkpoints are no longer needed, nor the attempt folders a killed sweep's
        # launched runs left (a finished attempt removes its own).
        for sub in (job.ckpt_dir, os.path.join(out_dir, 'launch')):
            shutil.rmtree(sub, ignore_errors=True)
    # The configuration's outputs cover every row stored for it (an earlier sweep's ratios, an extension's, the
    # trained and predicted ones), not only this invocation's: the table, CSV, plot and recommendation are derived
    # from the whole database, so a rerun with other --ratios or --predict only never hides what was measured.
    outcome.report, outcome.outputs = write_outputs(store, job.config_hash, job.loaded, store.rows(job.config_hash),
                                                    out_dir,
                                                    tolerance=tolerance, metric=metric, write=folder.writable,
                                                    plot=plot)
    if not folder.writable:
        job.echo(f'  {out_dir} is read-only: reported from its database, no file rewritten.')
    elif ran:
        line = _kept_finals_line(job)
        if line:
            job.echo(line)
    return outcome


def _echo_predict_plan(setup, plan: SweepPlan, echo: Callable[[str], None]) -> None:
    full = max(plan.budgets.values())
    fitted = ', '.join(f'{r:g}' for r in setup.fitted)
    targets = ', '.join(f'{r:g}' for r in setup.targets) or 'none'
    cost = setup.batches_per_seed(plan) / full
    echo(f'  --predict {setup.mode}: train ratio(s) {fitted} ({cost:.2f}x the longest run per seed, eval loss every '
         f'~{max(1, full // 32)} batches), predict ratio(s) {targets} with the momentum law'
         + ('; then train every ratio and report the errors' if setup.mode == 'shadow' else '') + '.')
    for r, reason in setup.refused.items():
        echo(f'  ratio {r:g}: no prediction, trained instead: {reason}')


def _predict(setup, plan: SweepPlan, store: ResultsStore, config_hash: str, loaded,
             echo: Callable[[str], None]) -> list[str]:
    """Fit on the trained runs, record one predicted row per target ratio and seed; the lines of fits that failed."""
    from composer_sched.sweep.predicted import predict_rows

    if not setup.targets:
        return []
    trained = {r['run_id']: r for r in store.rows(config_hash) if not r['predicted']}
    rows, errors = predict_rows(setup, plan, trained, getattr(loaded, 'samples_per_batch', None), echo)
    for row in rows:
        row['config_hash'] = config_hash
        store.record(row)
        p = row['prediction']
        quality = ', '.join(f'{k}={v:.4f} [{p["metrics"][k]["low"]:.4f}, {p["metrics"][k]["high"]:.4f}]'
                            for k, v in sorted(row['metrics'].items()))
        echo(f'ratio {row["ratio"]:g} seed {row["seed"]}: PREDICTED eval loss {p["loss"]:.4f} '
             f'[{p["low"]:.4f}, {p["high"]:.4f}]' + (f', {quality}' if quality else ''))
    for line in errors:
        echo(f'  {line}')
    return errors


def _train(target, plan: SweepPlan, pending: list[RunSpec], done: set, store: ResultsStore, config_hash: str,
           target_yaml: str, resources: dict, out_dir: str, workers: int, backend: str, address: Optional[str],
           echo: Callable[[str], None], total: Optional[int] = None, slurm: Optional[dict] = None,
           tracking: Any = None) -> None:
    """Run ``pending`` on the backend, trunks before their branches, recording each row as it arrives;
    ``total``: runs this sweep trains (default: the plan's); ``tracking``: trackers told of each recorded row
    (after it is in the database)."""
    procs = int(resources['processes'])
    cpus = int(resources['cpus'])
    be: Any
    run_kw: dict[str, Any] = {'processes': procs, 'work_dir': os.path.join(out_dir, 'launch')}
    inline = backend == 'local' and (workers == 1 or len(pending) <= 1)
    if tracking is not None:  # runs in this process need not wait for the tracker's runs to be made
        run_kw['track'] = tracking.worker(live=inline)
    if backend == 'ray':
        be = _RayBackend(address, resources, run_kw)
    elif backend == 'slurm':
        from composer_sched.sweep.slurm import SlurmBackend
        be = SlurmBackend(out_dir, slurm or {}, resources, plan.budgets, echo, track=run_kw.get('track'))
    elif inline and procs > 1 and len(pending) > 1:
        be = _OneLaunchBackend(run_kw)
        echo(f'  {len(pending)} runs of {procs} processes in one launch, trunks before their branches: the ranks '
             'import torch and Composer once.')
    elif inline:
        be = _InlineBackend(run_kw)
    else:
        be = _ProcessBackend(min(workers, len(pending)), run_kw)
    store.register_sweep(config_hash, target_yaml)

    waiting = {r.run_id: r for r in pending}
    in_flight: set[str] = set()
    finished: set[str] = set(done)
    per_batch: list[tuple[float, int]] = []
    trunk_rows: dict[str, dict] = {}
    t_start = time.perf_counter()
    parallel = workers if backend == 'local' else max(1, len(pending))
    total = len(plan.runs) if total is None else total
    skipped = total - len(pending)

    def ready(spec: RunSpec) -> bool:
        if getattr(be, 'orders_runs', False):  # Slurm: a branch's job waits for its trunk's; one launch: in turn
            return True
        return spec.trunk_id is None or spec.trunk_id in finished or spec.trunk_id not in waiting and \
            spec.trunk_id not in in_flight

    def submit_ready():
        limit = workers if backend == 'local' and not getattr(be, 'orders_runs', False) else len(waiting)
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
            # with what the run logged that its trackers do not have yet, in the same transaction
            store.record(row, pending=tracking.pending(row) if tracking is not None else ())
            if tracking is not None:
                tracking.recorded(spec, row)
            n_done += 1
            if row['status'] == 'done':
                finished.add(spec.run_id)
                per_batch.append((row['wall_s'], row['trained_batches']))
                how = (f'{row["origin"]}: {row["trained_batches"]} new batches' if row.get('origin')
                       else f'branched at batch {row["branch_batch"]}' if row.get('branched_from')
                       else f'{row["trained_batches"]} batches')
                quality = ', '.join(f'{k}={v:.4f}' for k, v in sorted(row['metrics'].items()))
                line = f'ratio {spec.ratio:g} seed {spec.seed}: {quality} ({how}, {row["wall_s"]:.1f}s)'
            else:
                line = f'ratio {spec.ratio:g} seed {spec.seed}: FAILED: {row["error"].splitlines()[0]}'
            submit_ready()
            rate = sum(w for w, _ in per_batch) / max(1, sum(b for _, b in per_batch))
            left = rate * remaining_batches() / max(1, min(parallel, len(in_flight) or 1))
            echo(f'[{skipped + n_done}/{total} done, {len(in_flight)} running, {len(waiting)} waiting, '
                 f'~{_fmt_time(left)} left, {_fmt_time(time.perf_counter() - t_start)} elapsed] {line}')
    finally:
        be.close()


def config_folder(out_dir: str, name: str, config_hash: str) -> str:
    """``DIR/<name>-<hash>``: the outputs of one recipe configuration (name made safe for a folder).

    Example:
        >>> config_folder('runs', 'digits cnn/wsd', 'abc123')
        'runs/digits_cnn_wsd-abc123'
    """
    safe = re.sub(r'[^A-Za-z0-9._-]+', '_', name).strip('._') or 'recipe'
    return os.path.join(out_dir, f'{safe[:60]}-{config_hash}')


def _recipe_name(recipe_yaml: str, config_hash: str) -> str:
    import yaml

    try:
        cfg = yaml.safe_load(recipe_yaml)
    except yaml.YAMLError:
        cfg = None
    return str(cfg.get('name') or config_hash) if isinstance(cfg, dict) else config_hash


def write_outputs(store: ResultsStore, config_hash: str, loaded, rows: list[dict], out_dir: str, *,
                  tolerance: float = 0.01, metric: Optional[str] = None, write: bool = True, plot: bool = True
                  ) -> tuple[Any, dict[str, str]]:
    """The report of this sweep, and the folder's files covering everything its database holds.

    * ``DIR/results.csv``: every row of the database, with its recipe's name, whatever sweep wrote it;
    * ``DIR/tradeoff.png``: quality against cost for every recipe configuration in the database;
    * ``DIR/<name>-<hash>/``: this configuration's ``results.csv``, ``tradeoff.png`` (frontier, fitted curve,
      recommendation) and ``recipe.yaml``.

    Args:
        write: ``False`` (a read-only folder) reports without writing any file.
        plot: ``False`` writes no PNG.

    Returns:
        ``(report or None, {what: path})`` with the paths written.
    """
    from composer_sched.sweep.report import build_report, plot_overview

    here = config_folder(out_dir, loaded.name, config_hash)
    paths: dict[str, str] = {}
    report = None
    if any(r['status'] == 'done' for r in rows):
        report = build_report(rows, tolerance=tolerance, metric=metric, out_dir=here if write and plot else None)
    if not write:
        return report, paths
    os.makedirs(here, exist_ok=True)
    paths['config_csv'] = store.write_csv(os.path.join(here, 'results.csv'), rows)
    with open(os.path.join(here, 'recipe.yaml'), 'w') as f:
        f.write(loaded.to_yaml())
    paths['recipe'] = os.path.join(here, 'recipe.yaml')
    if report is not None and report.plot_path:
        paths['config_plot'] = report.plot_path
    names = {h: _recipe_name(y, h) for h, y in store.sweeps().items()}
    names[config_hash] = loaded.name
    every = store.rows()
    for r in every:
        r['recipe'] = names.get(r['config_hash'], r['config_hash'])
    every.sort(key=lambda r: (r['recipe'], r['config_hash'], r['ratio'], r['seed']))
    paths['csv'] = store.write_csv(os.path.join(out_dir, 'results.csv'), every)
    if not plot:
        return report, paths
    groups: dict = {}
    for r in every:
        if not r.get('predicted'):  # the overview compares measured sweeps; predictions are in each folder's plot
            groups.setdefault((r['recipe'], r['config_hash']), []).append(r)
    overview = plot_overview(groups, os.path.join(out_dir, 'tradeoff.png'), metric=metric)
    if overview:
        paths['plot'] = overview
    return report, paths
