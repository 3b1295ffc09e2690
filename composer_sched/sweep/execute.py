"""Running one planned run: build the recipe's Trainer for its ratio and seed, branch from a trunk checkpoint
when there is one, write branch checkpoints when it is a trunk, and return its result row.

:func:`execute_run` never raises: a failing run comes back as a ``failed`` row with its error, so one bad ratio
does not stop a sweep. It is a plain top-level function so that worker processes and Ray tasks can run it.
"""
from __future__ import annotations

import os
import socket
import time
import traceback
from typing import Any, Optional

from composer_sched.sweep.plan import RunSpec
from composer_sched.sweep.target import SweepTarget

__all__ = ['execute_run', 'die_with_parent']


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


def _branch_saver(save_at: dict[int, str]):
    from composer.core import Callback, Event
    from composer.utils.checkpoint import save_checkpoint

    class _BranchSaver(Callback):
        # Saves the full training state after the batches where shorter runs branch off; write-then-rename, so a
        # checkpoint file that exists is complete even if the process was killed while saving.
        def run_event(self, event, state, logger):
            if event != Event.BATCH_CHECKPOINT:
                return
            path = save_at.get(int(state.timestamp.batch))
            if path is None or os.path.exists(path):
                return
            os.makedirs(os.path.dirname(path) or '.', exist_ok=True)
            tmp = f'{path}.{os.getpid()}.tmp'
            save_checkpoint(state, tmp.replace('{', '{{').replace('}', '}}'))
            os.replace(tmp, path)

    return _BranchSaver()


def _final_metrics(trainer) -> dict[str, float]:
    out = {}
    evals = trainer.state.eval_metrics or {}
    for label, metrics in evals.items():
        for name, metric in metrics.items():
            key = name if len(evals) == 1 else f'{label}/{name}'
            out[key] = float(metric.compute())
    return out


def execute_run(target: SweepTarget, spec: RunSpec, config_hash: str, cpus: Optional[int] = None,
                save_weights: Optional[str] = None) -> dict[str, Any]:
    """Train one run of a sweep and return its result row (``status`` ``'done'`` or ``'failed'``).

    Args:
        target: the recipe to train.
        spec: the run (ratio, seed, trunk checkpoints to write or to start from).
        config_hash: the recipe fingerprint the plan was made for; a different one fails the run.
        cpus: torch threads for this run (``>= 1``), fixed so numbers do not depend on ``--workers``.
        save_weights: if given, the final model ``state_dict`` is saved there (``torch.save``).

    Returns:
        A row for :meth:`~composer_sched.sweep.store.ResultsStore.record`.

    Example:
        >>> from composer_sched.sweep.plan import RunSpec
        >>> t = SweepTarget(None, ('max_duration=20ba',))
        >>> row = execute_run(t, RunSpec('x', 0.5, 0), t.load().fingerprint)  # doctest: +SKIP
        >>> row['status'], row['batches']  # doctest: +SKIP
        ('done', 10)
    """
    import logging
    import warnings

    row: dict[str, Any] = {'run_id': spec.run_id, 'config_hash': config_hash, 'ratio': spec.ratio, 'seed': spec.seed,
                           'host': socket.gethostname(), 'started_at': time.time()}
    try:
        import torch

        warnings.filterwarnings('ignore')
        logging.getLogger('composer').setLevel(logging.ERROR)
        loaded = target.load(seed=spec.seed)
        if loaded.fingerprint != config_hash:
            raise RuntimeError(f'the recipe changed since the sweep was planned ({loaded.fingerprint} != '
                               f'{config_hash}).')
        res = loaded.resources
        torch.set_num_threads(int(cpus or res['cpus']))
        kwargs: dict[str, Any] = {'run_name': spec.run_id}
        if spec.save_at:
            kwargs['callbacks'] = [_branch_saver(dict(spec.save_at))]
        branched = spec.load_from is not None and os.path.exists(spec.load_from)
        if branched:
            kwargs['load_path'] = spec.load_from
        trainer = loaded.build_trainer(spec.ratio, **kwargs)
        start = int(trainer.state.timestamp.batch)
        t0 = time.perf_counter()
        trainer.fit()
        wall = time.perf_counter() - t0
        batches = int(trainer.state.timestamp.batch)
        trained = batches - start
        equiv = wall * batches / max(trained, 1)  # what this ratio costs run on its own
        row.update(status='done', batches=batches, samples=int(trainer.state.timestamp.sample),
                   trained_batches=trained, branched_from=spec.trunk_id if branched else None,
                   branch_batch=start if branched else None, wall_s=wall, equiv_wall_s=equiv,
                   device_s=equiv * max(1.0, float(res['gpus'])), metrics=_final_metrics(trainer))
        if save_weights:
            torch.save(trainer.state.model.state_dict(), save_weights)
        trainer.close()
    except Exception as e:  # recorded, not raised: the other runs go on
        tb = traceback.format_exception(type(e), e, e.__traceback__)
        row.update(status='failed', error=f'{type(e).__name__}: {e}\n' + ''.join(tb[-6:]))
    row['finished_at'] = time.time()
    return row
