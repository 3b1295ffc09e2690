"""Running one planned run: build the recipe's Trainer for its ratio and seed, branch from a trunk checkpoint
when there is one, write branch checkpoints when it is a trunk, and return its result row.

:func:`execute_run` never raises: a failing run comes back as a ``failed`` row with its error, so one bad ratio
does not stop a sweep. It is a plain top-level function so that worker processes and Ray tasks can run it.

:func:`run_one` is what backends call: a run of one process is :func:`execute_run` here; a run of ``N > 1``
processes is :func:`launch_run`, ``composer -n N -m composer_sched.sweep._rank`` whose every rank calls
:func:`execute_run`, and whose rank-0 row comes back only if every rank finished.
"""
from __future__ import annotations

import json
import os
import pickle
import re
import shutil
import socket
import subprocess
import sys
import time
import traceback
import uuid
from typing import Any, Iterator, Optional

from composer_sched.sweep.plan import RunSpec
from composer_sched.sweep.target import SweepTarget

__all__ = ['execute_run', 'launch_run', 'launch_runs', 'run_one', 'composer_launcher', 'die_with_parent',
           'branch_saver']


def die_with_parent() -> None:
    """Make this process receive SIGKILL when its parent dies (Linux), so a killed sweep leaves no workers."""
    import signal
    import sys
    if not sys.platform.startswith('linux'):
        return
    try:
        import ctypes
        libc = ctypes.CDLL('libc.so.6', use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except OSError:
        pass


def _drop_partial(paths) -> None:
    """Remove what a save killed half-way left beside each of ``paths`` (``<path>.<pid>.tmp``, ``<path>.tmp``).

    Only this run writes these paths, and it is about to write them again, so a temporary file found now belongs to
    an attempt that died: on a real model it is gigabytes nobody reads (plans take checkpoints by their ``.pt`` name).

    Example:
        >>> import os, tempfile
        >>> d = tempfile.mkdtemp()
        >>> for name in ('a.pt.41.tmp', 'a.pt.tmp', 'b.pt.41.tmp'):
        ...     open(os.path.join(d, name), 'w').close()
        >>> _drop_partial([os.path.join(d, 'a.pt')])
        >>> sorted(os.listdir(d))
        ['b.pt.41.tmp']
    """
    import glob

    for path in paths:
        for left in glob.glob(glob.escape(path) + '.*tmp'):
            if re.fullmatch(r'\.(\d+\.)?tmp', left[len(path):]):
                try:
                    os.remove(left)
                except FileNotFoundError:  # another rank of the same run took it first
                    pass


def branch_saver(save_at):
    """A Composer callback that saves the full training state after given batches.

    Args:
        save_at: ``(batch, path)`` pairs, batch ``>= 1``; a path that already exists is not written again.

    Returns:
        The callback; every rank must build it with the same ``save_at`` (saving is collective under the launcher).
    """
    from composer.core import Callback, Event
    from composer.utils import dist
    from composer.utils.checkpoint import save_checkpoint

    # Decided once, before training: under the launcher every rank must make the same choice (save_checkpoint
    # is collective), and rank 0 creates the files while the others look.
    wanted: dict[int, list[str]] = {}
    for b, p in save_at:
        if not os.path.exists(p):
            wanted.setdefault(int(b), []).append(p)
    if dist.get_global_rank() == 0:
        _drop_partial([p for ps in wanted.values() for p in ps])

    class _BranchSaver(Callback):
        # Saves the full training state after the batches where shorter runs branch off; write-then-rename, so a
        # checkpoint file that exists is complete even if the process was killed while saving.
        def run_event(self, event, state, logger):
            if event != Event.BATCH_CHECKPOINT:
                return
            paths = wanted.get(int(state.timestamp.batch))
            if not paths:
                return
            for path in paths:  # e.g. a branch point and the kept end of the stable phase at the same batch
                os.makedirs(os.path.dirname(path) or '.', exist_ok=True)
            tmp = f'{paths[0]}.{os.getpid()}.tmp'
            save_checkpoint(state, tmp.replace('{', '{{').replace('}', '}}'))
            if dist.get_global_rank() == 0:  # only rank 0 writes a (non-sharded) checkpoint
                for path in paths[1:]:
                    shutil.copyfile(tmp, f'{path}.tmp')
                    os.replace(f'{path}.tmp', path)
                os.replace(tmp, paths[0])

    return _BranchSaver()


def _eval_history(every: int):
    """A callback that measures the eval loss (the model's own ``loss``) and eval metrics after every ``every``
    batches and after the last one, on the Trainer's first evaluator (the laws of ``composer_sched.predict`` are
    fitted on this history). The RNG state is saved and restored around each evaluation, and the model is put
    back in training mode, so training is the same as without it."""
    import copy

    import torch
    from composer.core import Callback, Event

    class _EvalHistory(Callback):
        def __init__(self):
            self.steps: list[int] = []
            self.loss: list[float] = []
            self.metrics: dict[str, list[float]] = {}

        def _evaluate(self, state):
            step = int(state.timestamp.batch)
            if not state.evaluators or (self.steps and self.steps[-1] == step):
                return
            ev = state.evaluators[0]
            label = ev.label
            metrics = copy.deepcopy((state.eval_metrics or {}).get(label) or {})
            for m in metrics.values():
                m.reset()
            model = state.model
            was_training = model.training
            rng = torch.get_rng_state()
            model.eval()
            total, n = 0.0, 0
            limit = ev.subset_num_batches if ev.subset_num_batches and ev.subset_num_batches > 0 else None
            with torch.no_grad():
                for i, batch in enumerate(ev.dataloader.dataloader):
                    if limit is not None and i >= limit:
                        break
                    batch = state.device.batch_to_device(batch)
                    out = model.eval_forward(batch)
                    size = ev.dataloader.get_num_samples_in_batch(batch)
                    total += float(model.loss(out, batch)) * size
                    n += size
                    for m in metrics.values():
                        model.update_metric(batch, out, m)
            torch.set_rng_state(rng)
            model.train(was_training)
            if n == 0:
                return
            self.steps.append(step)
            self.loss.append(total / n)
            for name, m in metrics.items():
                self.metrics.setdefault(name, []).append(float(m.compute()))

        def run_event(self, event, state, logger):
            if event == Event.BATCH_END and int(state.timestamp.batch) % every == 0:
                self._evaluate(state)
            elif event == Event.FIT_END:
                self._evaluate(state)

        def history(self) -> dict:
            return {'every': every, 'steps': self.steps, 'eval_loss': self.loss, 'metrics': self.metrics}

    return _EvalHistory()


def device_count(resources: dict) -> float:
    """Devices a run holds: ``processes`` times (GPUs per process, or one CPU slot)."""
    return max(1.0, float(resources['gpus'])) * int(resources.get('processes', 1))


def _final_metrics(trainer) -> dict[str, float]:
    out = {}
    evals = trainer.state.eval_metrics or {}
    for label, metrics in evals.items():
        for name, metric in metrics.items():
            key = name if len(evals) == 1 else f'{label}/{name}'
            out[key] = float(metric.compute())
    return out


def execute_run(target: SweepTarget, spec: RunSpec, config_hash: str, cpus: Optional[int] = None,
                save_weights: Optional[str] = None, trainer_kwargs: Optional[dict] = None,
                track: Optional[dict] = None) -> dict[str, Any]:
    """Train one run of a sweep and return its result row (``status`` ``'done'`` or ``'failed'``).

    Args:
        target: the recipe to train.
        spec: the run (ratio, seed, trunk checkpoints to write or to start from).
        config_hash: the recipe fingerprint the plan was made for; a different one fails the run.
        cpus: torch threads for this run (``>= 1``), fixed so numbers do not depend on ``--workers``.
        save_weights: if given, the final model ``state_dict`` is saved there (``torch.save``).
        trainer_kwargs: more ``Trainer`` arguments from the backend (e.g. the Slurm backend's periodic
            checkpoints and ``autoresume``); its ``callbacks`` are added to the run's own.
        track: trackers to log the run into (:meth:`~composer_sched.sweep.tracking.SweepTracking.worker`);
            ``None``: none.

    Returns:
        A row for :meth:`~composer_sched.sweep.store.ResultsStore.record`.

    Example:
        >>> from composer_sched.sweep.plan import RunSpec
        >>> t = SweepTarget(None, ('max_duration=8ba', 'eval.subset_num_batches=1'))
        >>> row = execute_run(t, RunSpec('x', 0.5, 0), t.load().fingerprint, cpus=1)
        >>> row['status'], row['batches']
        ('done', 4)
    """
    import logging
    import warnings

    row: dict[str, Any] = {'run_id': spec.run_id, 'config_hash': config_hash, 'ratio': spec.ratio, 'seed': spec.seed,
                           'host': socket.gethostname(), 'started_at': time.time()}
    try:
        import torch
        from composer.utils import dist

        warnings.filterwarnings('ignore')
        logging.getLogger('composer').setLevel(logging.ERROR)
        loaded = target.load(seed=spec.seed)
        if loaded.fingerprint != config_hash:
            raise RuntimeError(f'the recipe changed since the sweep was planned ({loaded.fingerprint} != '
                               f'{config_hash}).')
        res = loaded.resources
        torch.set_num_threads(int(cpus or res['cpus']))
        kwargs: dict[str, Any] = {'run_name': spec.run_id, **(trainer_kwargs or {})}
        callbacks = list(kwargs.pop('callbacks', []))
        if spec.save_at or spec.keep_at:
            callbacks.append(branch_saver(tuple(spec.save_at) + tuple(spec.keep_at)))
        history = _eval_history(int(spec.eval_every)) if spec.eval_every else None
        if history is not None:
            callbacks.append(history)
        if callbacks:
            kwargs['callbacks'] = callbacks
        branched = spec.load_from is not None and os.path.exists(spec.load_from)
        if branched:
            kwargs['load_path'] = spec.load_from
        with _tracked(track, spec, row) as tracker_loggers:
            if tracker_loggers:
                kwargs['loggers'] = tracker_loggers
            if spec.continue_from:
                trainer = _continuation(loaded, spec, row, kwargs)
                branched = True
            else:
                trainer = loaded.build_trainer(spec.ratio, **kwargs)
            start = int(trainer.state.timestamp.batch)
            t0 = time.perf_counter()
            trainer.fit()
            wall = time.perf_counter() - t0
            batches = int(trainer.state.timestamp.batch)
            trained = batches - start
            equiv = wall * batches / max(trained, 1)  # what this ratio costs run on its own
            world = dist.get_world_size()
            row.update(status='done', batches=batches, samples=int(trainer.state.timestamp.sample),
                       trained_batches=trained, branched_from=spec.trunk_id if branched else None,
                       branch_batch=start if branched else None, wall_s=wall, equiv_wall_s=equiv,
                       device_s=equiv * device_count(res), world_size=world, metrics=_final_metrics(trainer))
            if history is not None:
                row['history'] = history.history()
            if save_weights:
                torch.save(trainer.state.model.state_dict(), save_weights)
            trainer.close()
    except Exception as e:  # recorded, not raised: the other runs go on
        tb = traceback.format_exception(type(e), e, e.__traceback__)
        row.update(status='failed', error=f'{type(e).__name__}: {e}\n' + ''.join(tb[-6:]))
    row['finished_at'] = time.time()
    return row


def _continuation(loaded, spec: RunSpec, row: dict, kwargs: dict):
    """The Trainer of a run that continues a finished shorter run from its final checkpoint (``sweep --extend``):
    the re-warm the convex bound chooses, then the recipe's decay family (:mod:`composer_sched.sweep.continuation`);
    its origin, and the choice, go into ``row``.

    Raises:
        RuntimeError: the checkpoint is gone since the sweep was planned.
        ValueError: it no longer is the end of that run (checked again: another process may have replaced it).
    """
    from composer_sched.recipes.checkpoints import read_checkpoint
    from composer_sched.sweep.continuation import continuation_trainer, plan_continuation

    path = str(spec.continue_from)
    if not os.path.isfile(path):
        raise RuntimeError(f'the final checkpoint {path} this run continues is gone since the sweep was planned; '
                           'rerun the sweep (without --extend, the run trains from scratch).')
    info = read_checkpoint(path, what='the kept final checkpoint')
    plan = plan_continuation(loaded, info, spec.ratio, path, base=float(spec.continue_ratio or 1.0))
    lr = float(loaded.recipe.lr)
    row['origin'] = (f'continued from ratio {spec.continue_ratio:g} seed {spec.seed} (re-warm {plan.chosen.rewarm} '
                     f'batches to lr {plan.chosen.peak * lr:.4g})')
    extra = {k: v for k, v in kwargs.items() if k != 'load_path'}
    return continuation_trainer(loaded, plan, path, progress_bar=False, log_to_console=False, **extra)


def _tracked(track: Optional[dict], spec: RunSpec, row: dict):
    if not track:
        import contextlib
        return contextlib.nullcontext([])
    from composer_sched.sweep.tracking import run_loggers
    return run_loggers(track, spec, row)


def composer_launcher() -> str:
    """Path of Composer's ``composer`` launcher (next to this Python, else on ``PATH``).

    Raises:
        ValueError: it is not installed.
    """
    here = os.path.join(os.path.dirname(sys.executable), 'composer')
    found = here if os.access(here, os.X_OK) else shutil.which('composer')
    if not found:
        raise ValueError("processes per run > 1 needs Composer's launcher 'composer', which is not next to "
                         f'{sys.executable} nor on PATH: install mosaicml, or use 1 process per run.')
    return found


#: The launcher's own variables: a sweep started inside a distributed job must not hand them to its runs.
_DIST_ENV = ('WORLD_SIZE', 'RANK', 'LOCAL_WORLD_SIZE', 'LOCAL_RANK', 'NODE_RANK', 'BASE_RANK', 'MASTER_ADDR',
             'MASTER_PORT')


def launch_run(target: SweepTarget, spec: RunSpec, config_hash: str, cpus: Optional[int] = None,
               processes: int = 2, work_dir: str = '.', track: Optional[dict] = None) -> dict[str, Any]:
    """Train one run as ``processes`` processes under Composer's launcher and return its row (rank 0's).

    The row is ``done`` only if every rank wrote a ``done`` row, so a run of which some rank died is never recorded
    as finished. Like :func:`execute_run` it never raises.

    Args:
        target, spec, config_hash, cpus: as for :func:`execute_run` (``cpus``: torch threads per process).
        processes: ranks on this node, ``>= 2`` (gloo on CPU, NCCL on GPU, as Composer picks).
        work_dir: where each attempt gets a fresh folder (job, per-rank rows and stderr), removed afterwards.
        track: as for :func:`execute_run` (Composer's loggers log from rank 0 only).

    Returns:
        The run's row, with ``world_size``.

    Example:
        >>> from composer_sched.sweep.plan import RunSpec
        >>> t = SweepTarget(None, ('max_duration=1ep',), processes=2)
        >>> row = launch_run(t, RunSpec('x', 0.5, 0), t.load().fingerprint, processes=2)  # doctest: +SKIP
        >>> row['status'], row['world_size']  # doctest: +SKIP
        ('done', 2)
    """
    ((_, row),) = launch_runs(target, [spec], config_hash, cpus, processes=processes, work_dir=work_dir, track=track)
    assert row is not None  # the first run of a launch always has a row (done, or failed with why)
    return row


def launch_runs(target: SweepTarget, specs: list[RunSpec], config_hash: str, cpus: Optional[int] = None,
                processes: int = 2, work_dir: str = '.', track: Optional[dict] = None
                ) -> Iterator[tuple[RunSpec, Optional[dict[str, Any]]]]:
    """Train ``specs`` one after the other in ONE launch of ``processes`` ranks (each rank imports torch and
    Composer once, not once per run), yielding ``(spec, row)`` as each run finishes in every rank, in order.

    A trunk must come before its branches (they read its checkpoints). A run that fails in a rank ends the launch
    (the rank exits 1 and the launcher stops the others, which may be waiting in a collective): that run's row is
    ``failed`` with why, and each later run is yielded with ``None`` (it never started; the caller runs it on its
    own). The first run always gets a row. Rows are ``done`` only when every rank wrote ``done`` for that run,
    and each is yielded while the launch goes on, so the caller records it at once (a sweep killed during a later
    run keeps it).

    Example:
        >>> from composer_sched.sweep.plan import RunSpec
        >>> t = SweepTarget(None, ('max_duration=1ep',), processes=2)
        >>> runs = [RunSpec('a', 1.0, 0), RunSpec('b', 0.5, 0)]
        >>> [row['status'] for _, row in launch_runs(t, runs, t.load().fingerprint)]  # doctest: +SKIP
        ['done', 'done']
    """
    specs = list(specs)
    # A fresh folder per attempt: ranks of an earlier, killed attempt cannot leave rows in this one.
    attempt = os.path.abspath(os.path.join(work_dir, f'{specs[0].run_id}-{uuid.uuid4().hex[:8]}'))
    proc: Optional[subprocess.Popen] = None
    started = time.time()
    i = 0
    try:
        try:
            os.makedirs(attempt)
            with open(os.path.join(attempt, 'job.pkl'), 'wb') as f:
                pickle.dump((target, specs, config_hash, cpus, track), f)
            cmd = [composer_launcher(), '-n', str(processes), '--stderr',
                   os.path.join(attempt, 'stderr-rank{rank}.txt'), '-m', 'composer_sched.sweep._rank', attempt]
            env = {k: v for k, v in os.environ.items() if k not in _DIST_ENV}
            # The launcher's own output goes to a file (read for the error of a failed launch): a pipe nobody
            # reads while the runs train could fill and stall it. die_with_parent: a killed sweep takes the
            # launcher with it (and the ranks follow the launcher).
            with open(os.path.join(attempt, 'launcher.txt'), 'w') as log:
                proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT,
                                        preexec_fn=die_with_parent)
        except Exception as e:  # e.g. the launcher is missing on this node
            i = 1
            yield specs[0], _launch_failed(specs[0], config_hash, processes, started, f'{type(e).__name__}: {e}')
        while proc is not None and i < len(specs):
            code = proc.poll()  # before reading: rows written before the exit are all there now
            ranks = [_read_row(attempt, r, i) for r in range(processes)]
            done = all(r is not None and r['status'] == 'done' for r in ranks)
            if done and i == len(specs) - 1:  # the last run is done once the launch also ended well
                code = proc.wait()
            if done and (i < len(specs) - 1 or code == 0):
                yield specs[i], ranks[0]
                i, started = i + 1, time.time()
                continue
            if code is None and not any(r is not None and r['status'] == 'failed' for r in ranks):
                time.sleep(0.2)
                continue
            if code is None:  # a rank failed and exits 1: the launcher stops the others
                code = proc.wait()
                ranks = [_read_row(attempt, r, i) for r in range(processes)]
            failed = [(r['finished_at'], k, r) for k, r in enumerate(ranks) if r is not None
                      and r['status'] == 'failed']
            if failed:  # the first rank to fail; the others typically fail because it left
                _, k, first = min(failed, key=lambda t: t[:2])
                error = f'rank {k} of {processes}: {first["error"]}'
            else:
                tail = '\n'.join(_tail(os.path.join(attempt, 'launcher.txt')).strip().splitlines()[-12:])
                error = f'launcher exited with code {code} before every rank finished:\n{tail}'
            yield specs[i], _launch_failed(specs[i], config_hash, processes, started, error)
            i += 1
            break
        for spec in specs[i:]:  # never started in this launch
            i += 1
            yield spec, None
    finally:
        if proc is not None and proc.poll() is None and i < len(specs):  # closed early: the launch goes too
            proc.kill()
        if proc is not None:
            proc.wait()
        shutil.rmtree(attempt, ignore_errors=True)


def _launch_failed(spec: RunSpec, config_hash: str, processes: int, started: float, error: str) -> dict[str, Any]:
    return {'run_id': spec.run_id, 'config_hash': config_hash, 'ratio': spec.ratio, 'seed': spec.seed,
            'host': socket.gethostname(), 'started_at': started, 'world_size': processes, 'status': 'failed',
            'error': error, 'finished_at': time.time()}


def _tail(path: str) -> str:
    try:
        with open(path, errors='replace') as f:
            return f.read()[-4000:]
    except OSError:
        return ''


def _read_row(attempt: str, rank: int, index: int = 0) -> Optional[dict[str, Any]]:
    try:
        with open(os.path.join(attempt, f'row{index}-rank{rank}.json')) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def write_rank_row(attempt: str, rank: int, row: dict[str, Any], index: int = 0) -> None:
    """Write one rank's row of the launch's ``index``-th run into its attempt folder (write-then-rename: a row file
    that exists is complete)."""
    path = os.path.join(attempt, f'row{index}-rank{rank}.json')
    with open(f'{path}.tmp', 'w') as f:
        json.dump(row, f)
    os.replace(f'{path}.tmp', path)


def run_one(target: SweepTarget, spec: RunSpec, config_hash: str, cpus: Optional[int] = None, processes: int = 1,
            work_dir: str = '.', track: Optional[dict] = None) -> dict[str, Any]:
    """One run on ``processes`` processes: :func:`execute_run` in this process when 1, else :func:`launch_run`.

    Args:
        target, spec, config_hash, cpus: as for :func:`execute_run`.
        processes: processes the run trains with, ``>= 1`` (the loaded recipe's ``resources['processes']``).
        work_dir: attempt folders of launched runs.
        track: trackers to log into (:func:`execute_run`).

    Returns:
        The run's row, with ``world_size``; never raises.

    Example:
        >>> from composer_sched.sweep.plan import RunSpec
        >>> t = SweepTarget(None, ('max_duration=8ba', 'eval.subset_num_batches=1'))
        >>> run_one(t, RunSpec('x', 0.5, 0), t.load().fingerprint, cpus=1)['world_size']
        1
    """
    if processes == 1:
        return {'world_size': 1, **execute_run(target, spec, config_hash, cpus, track=track)}
    return launch_run(target, spec, config_hash, cpus, processes=processes, work_dir=work_dir, track=track)
