"""The Slurm backend of a sweep: one Slurm job per run, submitted with ``submitit``, results as files.

Layout, all inside the sweep folder (which must be on a filesystem the cluster's nodes share)::

    DIR/slurm/submitit/          submitit's pickles and the jobs' stdout/stderr (%A_%a)
    DIR/slurm/runs/<run_id>/     job.json (the run's Slurm job ids, newest last), row.json (its result, written
                                 by the job, write-then-rename), batches.log (one line per trained batch, every
                                 attempt: the batch and the seconds it took), ckpt/ (Composer autoresume
                                 checkpoints while the run is unfinished) and ckpt.json (the finished run they
                                 continue, ``sweep --extend``, or none; and where in batches.log that way of
                                 training the run began)
    DIR/slurm/submitting-*.json  a submission under way (run ids and the array's job name), so a driver killed
                                 during ``sbatch`` finds the jobs it created

How a sweep goes: the driver submits one job array of trunks (and independent runs), then per trunk one array of
its branches with ``--dependency=afterany:<trunk job>`` (a branch starts from its trunk's checkpoint, or from
scratch if the trunk failed, as locally). Each job trains with Composer checkpoints every ``checkpoint_every``
batches and ``autoresume``: a job that is requeued (preemption; ``scontrol requeue``; submitit's time-limit signal,
USR2, on which it requeues itself) resumes from its last checkpoint, so it trains at most one checkpoint interval
twice. A resumed run's row counts what all its attempts cost: ``trained_batches`` every batch they trained (one
trained twice counts twice) and ``wall_s`` their training time. The job writes its row to ``row.json``; the
driver polls those files and ``squeue``, and only the driver writes ``results.sqlite`` (SQLite on a network
filesystem with many writers loses data).

A driver that is killed (or interrupted and told to leave the jobs) can be rerun at any time: runs whose row
arrived meanwhile are recorded, runs whose job is still queued or running are adopted, and only the rest are
submitted, so no finished or in-flight run is submitted twice.
"""
from __future__ import annotations

import glob
import json
import os
import re
import shutil
import subprocess
import sys
import time
import uuid
from typing import Any, Callable, Optional

from composer_sched.sweep.plan import RunSpec

__all__ = ['SLURM_KEYS', 'parse_slurm_options', 'check_slurm', 'SlurmBackend', 'SlurmRun', 'slurm_minutes']

#: ``--slurm key=value`` keys: Slurm's own options, and the backend's checkpoint interval (batches, ``>= 1``).
SLURM_KEYS = ('partition', 'account', 'time', 'qos', 'constraint', 'checkpoint_every')

_TIME = re.compile(r'^(?:(\d+)-)?(\d+)(?::(\d+))?(?::(\d+))?$')


def slurm_minutes(text: str) -> int:
    """Minutes of a Slurm time limit, rounded up: ``M``, ``M:S``, ``H:M:S``, ``D-H``, ``D-H:M``, ``D-H:M:S``.

    Raises:
        ValueError: not one of Slurm's time formats, or zero.

    Example:
        >>> [slurm_minutes(t) for t in ('30', '1:30', '2:00:00', '1-0', '1-02:30')]
        [30, 2, 120, 1440, 1590]
    """
    m = _TIME.match(str(text).strip())
    if not m:
        raise ValueError(f"--slurm time={text!r} is not allowed: give a Slurm time such as 90, 4:00:00 or 1-12 "
                         '(minutes, H:M:S, D-H).')
    days, a, b, c = m.groups()
    a, b, c = int(a), int(b or 0), int(c or 0)
    if days is not None:  # D-H, D-H:M, D-H:M:S
        seconds = int(days) * 86400 + a * 3600 + b * 60 + c
    elif m.group(4) is not None:  # H:M:S
        seconds = a * 3600 + b * 60 + c
    else:  # M or M:S
        seconds = a * 60 + b
    if seconds <= 0:
        raise ValueError(f'--slurm time={text!r} is not allowed: a time limit must be > 0.')
    return -(-seconds // 60)


def parse_slurm_options(items) -> dict[str, str]:
    """``['partition=gpu', 'time=4:00:00']`` -> ``{'partition': 'gpu', 'time': '4:00:00'}``, checked.

    Raises:
        ValueError: an item without ``=``, an unknown key (the allowed ones are named), a key given twice, or a
            bad ``time`` / ``checkpoint_every``.

    Example:
        >>> parse_slurm_options(['partition=debug', 'checkpoint_every=50'])
        {'partition': 'debug', 'checkpoint_every': '50'}
    """
    out: dict[str, str] = {}
    for item in items or ():
        key, sep, value = str(item).partition('=')
        key, value = key.strip(), value.strip()
        if not sep or not key or not value:
            raise ValueError(f'--slurm {item!r} is not allowed: give key=value with a key among '
                             f'{", ".join(SLURM_KEYS)}.')
        if key not in SLURM_KEYS:
            raise ValueError(f'--slurm {key}={value} is not allowed: {key!r} is not a known key; use one of '
                             f'{", ".join(SLURM_KEYS)}.')
        if key in out:
            raise ValueError(f'--slurm {key} is given twice ({out[key]!r} and {value!r}); give it once.')
        out[key] = value
    if 'time' in out:
        slurm_minutes(out['time'])
    if 'checkpoint_every' in out and not (out['checkpoint_every'].isdigit() and int(out['checkpoint_every']) >= 1):
        raise ValueError(f"--slurm checkpoint_every={out['checkpoint_every']!r} is not allowed: give a number of "
                         'batches >= 1.')
    return out


def _job_resources(resources: dict) -> dict[str, int]:
    procs = int(resources['processes'])
    return {'cpus_per_task': max(1, int(round(float(resources['cpus'])))) * procs,
            'gpus_per_node': int(round(float(resources['gpus']) * procs))}


def check_slurm(options: dict, resources: dict) -> dict:
    """Check, before any training, that Slurm is there and would accept the sweep's jobs.

    ``sbatch --test-only`` with the jobs' partition, account, QoS, time and resources asks the controller without
    submitting anything: a bad partition, account or QoS, a time over the partition's limit, or more CPUs or GPUs
    than a node has are refused here.

    Returns:
        ``options`` with ``time`` filled in from the partition's limit when not given (a partition without one:
        no ``time``, and the jobs ask for a year).

    Raises:
        ValueError: no ``sbatch`` on ``PATH``, no ``submitit``, or the controller refuses such a job (its message).
    """
    if shutil.which('sbatch') is None:
        raise ValueError("--backend slurm needs Slurm's sbatch on PATH, and there is none here: run the sweep on a "
                         'Slurm login node, or use --backend local or ray.')
    try:
        import submitit  # noqa: F401
    except ImportError:
        raise ValueError("--backend slurm needs submitit: pip install 'composer-sched[slurm]'.") from None
    res = _job_resources(resources)
    cmd = ['sbatch', '--test-only', f'--cpus-per-task={res["cpus_per_task"]}', '--ntasks=1']
    if res['gpus_per_node']:
        cmd.append(f'--gpus-per-node={res["gpus_per_node"]}')
    for key in ('partition', 'account', 'qos', 'time', 'constraint'):
        if key in options:
            cmd.append(f'--{key}={options[key]}')
    cmd += ['--wrap', 'true']
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise ValueError(f'--backend slurm: sbatch --test-only did not answer: {e}') from None
    if out.returncode != 0:
        msg = ' '.join(out.stderr.split()) or f'exit code {out.returncode}'
        msg = re.sub(r'^sbatch: error: ', '', msg)
        asked = ', '.join(f'{k}={v}' for k, v in options.items() if k != 'checkpoint_every')
        raise ValueError(f'--backend slurm: Slurm refuses the sweep\'s jobs ({asked or "no --slurm options"}, '
                         f'{res["cpus_per_task"]} CPUs, {res["gpus_per_node"]} GPUs per run): {msg}')
    options = dict(options)
    if 'time' not in options:  # the partition's own limit, so the jobs are not refused for asking more
        limit = _partition_limit(options.get('partition'))
        if limit:
            options['time'] = limit
    return options


def _partition_limit(partition: Optional[str]) -> Optional[str]:
    try:
        out = subprocess.run(['sinfo', '-h', '-o', '%P %l'], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return None
    for line in out.stdout.splitlines():
        name, _, limit = line.strip().partition(' ')
        if (partition is None and name.endswith('*')) or name.rstrip('*') == partition:
            try:
                slurm_minutes(limit)
            except ValueError:  # 'infinite', 'n/a'
                return None
            return limit
    return None


def _write_json(path: str, data: Any) -> None:
    tmp = f'{path}.{os.getpid()}.tmp'
    with open(tmp, 'w') as f:
        json.dump(data, f)
    os.replace(tmp, path)


def _read_json(path: str) -> Optional[Any]:
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


class SlurmRun:
    """What a Slurm job runs: one run of the sweep, checkpointed and resumable; writes ``row.json``.

    A plain callable submitit pickles; its ``checkpoint`` method makes it a submitit checkpointable: on the
    time-limit or preemption signal submitit requeues the same call, which resumes from the run's last Composer
    checkpoint (``autoresume``).
    """

    def __call__(self, target, spec: RunSpec, config_hash: str, cpus: int, processes: int, run_dir: str,
                 checkpoint_every: int, track: Optional[dict] = None) -> dict[str, Any]:
        from composer_sched.sweep.execute import execute_run, run_one

        os.makedirs(run_dir, exist_ok=True)
        done = _read_json(os.path.join(run_dir, 'row.json'))
        if done is not None and done.get('status') == 'done':  # requeued after it finished: nothing to redo
            return done
        restarts = int(os.environ.get('SLURM_RESTART_COUNT', '0') or 0)
        if processes > 1:  # Composer's launcher inside the job; no mid-run resume for multi-process runs yet
            row = run_one(target, spec, config_hash, cpus, processes=processes,
                          work_dir=os.path.join(run_dir, 'launch'), track=track)
        else:
            log = os.path.join(run_dir, 'batches.log')
            kw = {'save_folder': _resume_folder(run_dir, spec), 'save_interval': f'{int(checkpoint_every)}ba',
                  'save_num_checkpoints_to_keep': 1, 'autoresume': True, 'save_overwrite': True,
                  'callbacks': [_batch_log(log)]}
            earlier = _earlier_attempts(run_dir)  # read before this attempt adds to the log
            row = {'world_size': 1, **execute_run(target, spec, config_hash, cpus, trainer_kwargs=kw, track=track)}
            if row.get('branched_from') and spec.branch_batch is not None:
                row['branch_batch'] = spec.branch_batch  # a resumed branch starts past its branch point
            if row['status'] == 'done':  # what the run cost: this attempt's share plus the earlier attempts'
                row['trained_batches'] += earlier[0]
                row['wall_s'] += earlier[1]
        row['slurm_job'] = _job_id()
        row['slurm_restarts'] = restarts
        _write_json(os.path.join(run_dir, 'row.json'), row)
        if row['status'] == 'done':  # the run is recorded: its resume checkpoints are no longer needed
            shutil.rmtree(os.path.join(run_dir, 'ckpt'), ignore_errors=True)
        return row

    def checkpoint(self, *args, **kwargs):
        # Composer already checkpoints every checkpoint_every batches: requeue the same call, which autoresumes.
        import submitit

        return submitit.helpers.DelayedSubmission(self, *args, **kwargs)


def _resume_folder(run_dir: str, spec: RunSpec) -> str:
    """``run_dir/ckpt``, the run's autoresume checkpoints, emptied first when they were saved by another way of
    training the run, which ``run_dir/ckpt.json`` records.

    A run id names a ratio and a seed, not where the run starts: the continuation of a finished run (``sweep
    --extend``) and the run from scratch (or the continuation of another finished ratio) are different states at
    the same batch, and a rerun may ask for the other one. A job that autoresumed the other's checkpoint would
    record a mix of both as either. A branch or an exact stable-phase extension is the from-scratch run's own state,
    so they share its key. Checkpoints with no record (saved before it existed) are of unknown origin: emptied too.
    """
    ckpt = os.path.join(run_dir, 'ckpt')
    key = os.path.join(run_dir, 'ckpt.json')
    origin = {'continue_from': spec.continue_from, 'continue_ratio': spec.continue_ratio}
    kept = _read_json(key) or {}
    if {k: kept.get(k) for k in origin} != origin or 'continue_from' not in kept:
        shutil.rmtree(ckpt, ignore_errors=True)
        # The attempts before this line of batches.log trained another way of the run: not this run's cost.
        _write_json(key, {**origin, 'log_from': len(_log_lines(os.path.join(run_dir, 'batches.log')))})
    return ckpt


def _log_lines(path: str) -> list[list[str]]:
    try:
        with open(path) as f:
            return [line.split() for line in f if line.strip()]
    except OSError:
        return []


def _earlier_attempts(run_dir: str) -> tuple[int, float]:
    """``(batches, seconds)`` the run's earlier attempts trained (``batches.log``), since its checkpoints' way of
    training it began (``ckpt.json``)."""
    start = int((_read_json(os.path.join(run_dir, 'ckpt.json')) or {}).get('log_from') or 0)
    lines = _log_lines(os.path.join(run_dir, 'batches.log'))[start:]
    return len(lines), sum(float(parts[1]) for parts in lines if len(parts) > 1)


def _job_id() -> Optional[str]:
    array, task = os.environ.get('SLURM_ARRAY_JOB_ID'), os.environ.get('SLURM_ARRAY_TASK_ID')
    return f'{array}_{task}' if array and task else os.environ.get('SLURM_JOB_ID')


def _batch_log(path: str):
    """A callback appending one line per trained batch to ``path``, its number and the seconds since the previous
    one (the first: since ``fit`` began): every attempt's work is counted, a killed one's too."""
    from composer.core import Callback, Event

    class _BatchLog(Callback):
        last = 0.0

        def run_event(self, event, state, logger):
            if event == Event.FIT_START:
                self.last = time.perf_counter()
            elif event == Event.BATCH_END:
                now = time.perf_counter()
                with open(path, 'a') as f:
                    f.write(f'{int(state.timestamp.batch)} {now - self.last:.6f}\n')
                self.last = now

    return _BatchLog()


def squeue_states() -> Optional[dict[str, str]]:
    """``{job id: state}`` of this user's jobs (array tasks one by one: ``123_4``); ``None`` if Slurm does not
    answer (then nobody's job is taken for gone)."""
    try:
        out = subprocess.run(['squeue', '-h', '-r', '-u', str(os.getuid()), '-o', '%i %T'], capture_output=True,
                             text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if out.returncode:
        return None
    states = {}
    for line in out.stdout.splitlines():
        parts = line.split()
        if len(parts) == 2:
            states[parts[0]] = parts[1]
    return states


class SlurmBackend:
    """The sweep driver's view of Slurm: submit runs as job arrays, adopt jobs of an earlier driver, hand back rows.

    Args:
        out_dir: the sweep folder (shared with the nodes).
        options: checked ``--slurm`` options (:func:`parse_slurm_options`).
        resources: the recipe's per-run resources (``cpus``, ``gpus``, ``processes``).
        budgets: batches per ratio (the default checkpoint interval is a tenth of the longest run).
        echo: where job ids and adoption lines go.
        poll_s: seconds between looks at the rows (at ``squeue``: :attr:`squeue_every_s`).
    """

    #: The driver submits branches with their trunks: Slurm's dependencies hold them back.
    orders_runs = True
    #: Seconds between looks at ``squeue``; a job out of the queue without a row is taken for gone after this long.
    squeue_every_s = 2.0
    gone_after_s = 2.0

    def __init__(self, out_dir: str, options: dict, resources: dict, budgets: dict, echo: Callable[[str], None],
                 poll_s: float = 0.5, track: Optional[dict] = None):
        import submitit

        self.track = track  # the sweep's trackers (sweep.tracking), logged into from inside each job

        self.root = os.path.join(os.path.abspath(out_dir), 'slurm')
        os.makedirs(os.path.join(self.root, 'runs'), exist_ok=True)
        self.options = options
        self.resources = resources
        self.echo = echo
        self.poll_s = poll_s
        full = max(budgets.values()) if budgets else 10
        self.checkpoint_every = int(options.get('checkpoint_every') or max(1, -(-full // 10)))
        self._executor = submitit.AutoExecutor(folder=os.path.join(self.root, 'submitit', '%j'), cluster='slurm',
                                                 slurm_max_num_timeout=1000)
        self._buffer: list = []
        self._jobs: dict[str, str] = {}      # run_id -> job id, in flight
        self._specs: dict[str, RunSpec] = {}
        self._ready: list = []               # (spec, row) from rows that arrived before submission
        self._delivered: list[str] = []
        self._states: dict[str, str] = {}
        self._states_at = -1e9
        self._gone_since: dict[str, float] = {}
        self._recover_submissions()

    # -- files ------------------------------------------------------------------------------------------------
    def run_dir(self, run_id: str) -> str:
        return os.path.join(self.root, 'runs', run_id)

    def _job_ids(self, run_id: str) -> list[str]:
        data = _read_json(os.path.join(self.run_dir(run_id), 'job.json')) or {}
        return list(data.get('job_ids', []))

    def _add_job_id(self, run_id: str, job_id: str) -> None:
        os.makedirs(self.run_dir(run_id), exist_ok=True)
        ids = self._job_ids(run_id)
        if job_id not in ids:
            _write_json(os.path.join(self.run_dir(run_id), 'job.json'), {'job_ids': ids + [job_id]})

    def _recover_submissions(self) -> None:
        """A driver killed during ``sbatch``: find the array it created by its job name and record its job ids."""
        for path in glob.glob(os.path.join(self.root, 'submitting-*.json')):
            pending = _read_json(path)
            if pending:
                try:
                    out = subprocess.run(['squeue', '-h', '-r', '-n', pending['name'], '-o', '%i'],
                                         capture_output=True, text=True, timeout=60)
                except (OSError, subprocess.TimeoutExpired):
                    continue
                if out.returncode:
                    continue
                for job in out.stdout.split():
                    _, _, idx = job.partition('_')
                    if idx.isdigit() and int(idx) < len(pending['run_ids']):
                        self._add_job_id(pending['run_ids'][int(idx)], job)
            os.remove(path)

    # -- the backend seam -------------------------------------------------------------------------------------
    def submit(self, target, spec: RunSpec, config_hash: str, cpus: int) -> None:
        rid = spec.run_id
        self._specs[rid] = spec
        row_path = os.path.join(self.run_dir(rid), 'row.json')
        row = _read_json(row_path)
        if row is not None and row.get('status') == 'done':  # finished while no driver was watching
            self._ready.append((spec, row))
            return
        if row is not None:  # a failed attempt (recorded, or about to be again): keep it aside and retry
            os.replace(row_path, os.path.join(self.run_dir(rid), f'row-failed-{int(time.time())}.json'))
        ids = self._job_ids(rid)
        states = self._squeue(max_age=2.0) if ids else None
        if ids and states is not None and ids[-1] in states:
            self._jobs[rid] = ids[-1]
            self.echo(f'  adopted Slurm job {ids[-1]} ({states[ids[-1]]}) for ratio {spec.ratio:g} seed {spec.seed}')
            return
        self._buffer.append((target, spec, config_hash, cpus))

    def running(self) -> int:
        return sum(1 for j in self._jobs.values() if self._states.get(j) == 'RUNNING')

    def next_result(self):
        import signal
        import threading

        # Building a Trainer in this process (the planner does) leaves Composer's handler on SIGINT, which exits at
        # once; while the driver waits on Slurm, Ctrl-C must reach the question below.
        main = threading.current_thread() is threading.main_thread()
        previous = signal.signal(signal.SIGINT, signal.default_int_handler) if main else None
        try:
            self._flush()
            return self._wait()
        except KeyboardInterrupt:
            self._interrupted()
            raise
        finally:
            if main:
                signal.signal(signal.SIGINT, previous)

    def close(self) -> None:
        self._archive_delivered()

    # -- submission -------------------------------------------------------------------------------------------
    def _params(self, name: str, dependency: Optional[str]) -> dict:
        res = _job_resources(self.resources)
        time_text = self.options.get('time')
        extra: dict[str, Any] = {'requeue': True}
        if dependency:
            extra['dependency'] = dependency
        if 'account' in self.options:
            extra['account'] = self.options['account']
        if 'constraint' in self.options:
            extra['constraint'] = self.options['constraint']
        params: dict[str, Any] = {'name': name, 'slurm_additional_parameters': extra, 'tasks_per_node': 1,
                                  'nodes': 1, 'cpus_per_task': res['cpus_per_task'],
                                  'timeout_min': slurm_minutes(time_text) if time_text else 60 * 24 * 365,
                                  'slurm_signal_delay_s': 30}
        if res['gpus_per_node']:
            params['gpus_per_node'] = res['gpus_per_node']
        if 'partition' in self.options:
            params['slurm_partition'] = self.options['partition']
        if 'qos' in self.options:
            params['slurm_qos'] = self.options['qos']
        return params

    def _flush(self) -> None:
        if not self._buffer:
            return
        buffered, self._buffer = self._buffer, []
        in_buffer = {spec.run_id for _, spec, _, _ in buffered}
        first = [b for b in buffered if b[1].trunk_id is None or b[1].trunk_id not in in_buffer]
        groups: dict[str, list] = {}
        for b in buffered:
            if b not in first:
                groups.setdefault(b[1].trunk_id, []).append(b)
        self._submit_array(first)
        for trunk_id, items in groups.items():
            self._submit_array(items)

    def _submit_array(self, items: list) -> None:
        if not items:
            return
        # A run whose trunk is still queued or running waits for it; a trunk that is gone or done holds nothing.
        deps = sorted({self._jobs[spec.trunk_id] for _, spec, _, _ in items
                       if spec.trunk_id is not None and spec.trunk_id in self._jobs})
        token = uuid.uuid4().hex[:10]
        name = f'cs-{token}'
        run_ids = [spec.run_id for _, spec, _, _ in items]
        marker = os.path.join(self.root, f'submitting-{token}.json')
        _write_json(marker, {'name': name, 'run_ids': run_ids})
        self._executor.update_parameters(**self._params(name, f'afterany:{":".join(deps)}' if deps else None))
        fn = SlurmRun()
        try:
            with self._executor.batch():
                jobs = [self._executor.submit(fn, target, spec.with_absolute_paths(), config_hash, cpus,
                                              int(self.resources['processes']), self.run_dir(spec.run_id),
                                              self.checkpoint_every, self.track)
                        for target, spec, config_hash, cpus in items]
        except Exception as e:  # sbatch refused (the --test-only check passed, so rare): the user's to fix
            os.remove(marker)
            first = (str(e).strip().splitlines() or [type(e).__name__])[-1]
            raise ValueError(f'--backend slurm: sbatch refused the job array: {first}') from None
        for job, (_, spec, _, _) in zip(jobs, items):
            self._add_job_id(spec.run_id, job.job_id)
            self._jobs[spec.run_id] = job.job_id
        os.remove(marker)
        what = ', '.join(f'ratio {spec.ratio:g} seed {spec.seed} -> {job.job_id}'
                         for job, (_, spec, _, _) in zip(jobs, items))
        after = f', after job {", ".join(deps)}' if deps else ''
        self.echo(f'  submitted Slurm job array {jobs[0].job_id.split("_")[0]} ({len(jobs)} run(s){after}): {what}')

    # -- waiting ----------------------------------------------------------------------------------------------
    def _squeue(self, max_age: float = 0.0) -> Optional[dict[str, str]]:
        if max_age and time.monotonic() - self._states_at < max_age:
            return self._states  # e.g. one look for every run a rerun considers adopting
        states = squeue_states()
        if states is not None:
            self._states, self._states_at = states, time.monotonic()
        return states

    def _archive_delivered(self) -> None:
        # Rows the driver has recorded since: a failed one moves aside (a rerun retries the run).
        for rid in self._delivered:
            path = os.path.join(self.run_dir(rid), 'row.json')
            row = _read_json(path)
            if row is not None and row.get('status') != 'done':
                os.replace(path, os.path.join(self.run_dir(rid), f'row-failed-{int(time.time())}.json'))
        self._delivered = []

    def _deliver(self, spec: RunSpec, row: dict):
        self._delivered.append(spec.run_id)
        return spec, row

    def _wait(self):
        self._archive_delivered()
        if self._ready:
            return self._deliver(*self._ready.pop(0))
        last_squeue = 0.0
        while True:
            for rid, job in list(self._jobs.items()):
                row = _read_json(os.path.join(self.run_dir(rid), 'row.json'))
                if row is not None:
                    del self._jobs[rid]
                    return self._deliver(self._specs[rid], row)
            if time.monotonic() - last_squeue > self.squeue_every_s:
                last_squeue = time.monotonic()
                states = self._squeue()
                if states is not None:
                    gone = self._gone(states)
                    if gone is not None:
                        return self._deliver(*gone)
            time.sleep(self.poll_s)

    def _gone(self, states: dict[str, str]):
        """A run whose job left the queue without a row (cancelled, failed, its node died): a failed row."""
        now = time.monotonic()
        for rid, job in list(self._jobs.items()):
            if job in states:
                self._gone_since.pop(job, None)
                continue
            # Seen gone twice, gone_after_s apart, and still no row: the row is not on its way.
            since = self._gone_since.setdefault(job, now)
            if now - since < self.gone_after_s or os.path.exists(os.path.join(self.run_dir(rid), 'row.json')):
                continue
            del self._jobs[rid]
            spec = self._specs[rid]
            log = os.path.join(self.root, 'submitit', job, f'{job}_0_log.err')
            return spec, {'run_id': rid, 'ratio': spec.ratio, 'seed': spec.seed, 'status': 'failed',
                          'error': f'Slurm job {job} ended without a result (cancelled, failed, or its node died; '
                                   f'log: {log}); rerun the sweep to resume it from its last checkpoint.',
                          'finished_at': time.time()}
        return None

    def _interrupted(self) -> None:
        jobs = sorted(set(self._jobs.values()))
        if not jobs:
            return
        answer = ''
        if sys.stdin is not None and sys.stdin.isatty():
            try:
                answer = input(f'\ncancel this sweep\'s {len(jobs)} Slurm job(s) ({", ".join(jobs)})? [y/N] ')
            except (EOFError, KeyboardInterrupt):
                answer = ''
        if answer.strip().lower() in ('y', 'yes'):
            subprocess.run(['scancel', *jobs], capture_output=True, timeout=60)
            self.echo(f'cancelled Slurm job(s) {", ".join(jobs)}; rerun the same command to resume them from their '
                      'checkpoints.')
        else:
            self.echo(f'{len(jobs)} Slurm job(s) keep running ({", ".join(jobs)}): rerun the same command to collect '
                      f'them, or scancel {" ".join(jobs)}.')
