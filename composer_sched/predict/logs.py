"""Loss logs on disk as :class:`~composer_sched.predict.Run` objects: CSV or JSON files with ``step, lr, loss``.

The shape of the Multi-Power Law authors' curves (and of any logger's export): one row per logged step, the LR of
that batch and the loss after it. A run's per-batch LR is rebuilt by linear interpolation between the logged LRs
(exact for linear and cosine schedules logged densely; a step decay is smeared over one logging interval), with a
linear warm-up from 0 over ``warmup`` batches before the first logged step (the peak from there on); the run ends
at its last logged step, which is what a backtest compares with.
"""
from __future__ import annotations

import csv
import json
import pathlib
import re
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from composer_sched.predict._runs import Run

__all__ = ['family_of', 'log_run', 'read_log', 'read_logs']

Columns = Tuple[np.ndarray, np.ndarray, np.ndarray]


def family_of(name: str) -> str:
    """A run's schedule family from its name: the name without its numbers (``cosine_24000`` -> ``cosine``,
    ``wsd_20000_24000`` -> ``wsd``, ``wsdcon_3`` -> ``wsdcon``).

    Example:
        >>> [family_of(n) for n in ('cosine_24000', 'wsd_20000_24000', 'wsdcon_3', 'r0.5')]
        ['cosine', 'wsd', 'wsdcon', 'r']
    """
    out = re.sub(r'[_\-.]?\d+(\.\d+)?', '', name).strip('_-.')
    return out or name


def read_log(path) -> Columns:
    """``(steps, lr, loss)`` of a CSV (a header naming ``step``, ``lr``, ``loss``) or JSON file (a list of
    ``{"step", "lr", "loss"}`` records, or ``{"step": [...], "lr": [...], "loss": [...]}``), sorted by step.

    Raises:
        ValueError: naming the file: unreadable, a missing column, non-numeric values, fewer than 2 rows, or a
            non-positive or non-finite loss.
    """
    path = pathlib.Path(path)
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as e:
        raise ValueError(f'{path}: cannot read it ({e})') from None
    try:
        if path.suffix.lower() == '.json':
            data = json.loads(text)
            cols = ({k: [row[k] for row in data] for k in ('step', 'lr', 'loss')} if isinstance(data, list)
                    else {k: data[k] for k in ('step', 'lr', 'loss')})
        else:
            rows = list(csv.DictReader(text.splitlines()))
            cols = {k: [row[k] for row in rows] for k in ('step', 'lr', 'loss')}
        steps, lr, loss = (np.asarray(cols[k], dtype=float) for k in ('step', 'lr', 'loss'))
    except (KeyError, TypeError, ValueError) as e:
        raise ValueError(f'{path}: expected columns step, lr, loss (CSV header or JSON), got an error reading them: '
                         f'{e!r}') from None
    if steps.size < 2 or not (np.isfinite(steps).all() and np.isfinite(lr).all() and np.isfinite(loss).all()):
        raise ValueError(f'{path}: needs at least 2 rows of finite step, lr, loss values')
    if loss.min() <= 0 or lr.min() < 0 or steps.min() < 0:
        raise ValueError(f'{path}: losses must be > 0, LRs and steps >= 0')
    order = np.argsort(steps, kind='stable')
    return steps[order].astype(np.int64), lr[order], loss[order]


def log_run(steps, lr, loss, *, warmup: Optional[int] = None, name: str = 'run') -> Run:
    """A :class:`Run` from logged ``(steps, lr, loss)``: per-batch LR interpolated linearly between the logged
    ones, a linear warm-up from 0 over ``warmup`` batches (default: up to the first logged step), the peak from the
    warm-up to the first logged step, and the run's end at its last logged step.

    Raises:
        ValueError: ``warmup`` outside ``[0, first logged step]``, or as :class:`Run`.

    Example:
        >>> run = log_run([100, 200, 300, 400], [1.0, 1.0, 0.5, 0.1], [3.0, 2.9, 2.7, 2.6], warmup=50)
        >>> run.shape.warmup, run.shape.length, round(float(run.lr[250]), 3)
        (50, 400, 0.75)
    """
    steps, lr, loss = (np.asarray(a, dtype=float) for a in (steps, lr, loss))
    first, last = int(steps[0]), int(steps[-1])
    warmup = first if warmup is None else int(warmup)
    if not 0 <= warmup <= first:
        raise ValueError(f'{name}: warmup must be in [0, {first}] (the first logged step), got {warmup}')
    peak = float(lr.max())
    per_batch = np.interp(np.arange(last), steps, lr)
    per_batch[:first] = peak
    if warmup:
        per_batch[:warmup] = np.linspace(0, peak, warmup, endpoint=False)
    return Run(per_batch, eval_loss=(steps.astype(np.int64), loss), name=name)


def read_logs(paths: Sequence, *, warmup: Optional[int] = None) -> Tuple[List[Run], Dict[str, str]]:
    """Runs from log files (CSV/JSON, see :func:`read_log`) and their families (:func:`family_of` of the file's
    stem). The warm-up is shared, as runs of one recipe share it: ``warmup`` batches, by default the earliest first
    logged step among the files at their peak LR.

    Raises:
        ValueError: as :func:`read_log` or :func:`log_run`, or no files.
    """
    if not paths:
        raise ValueError('no log files given')
    cols = [(pathlib.Path(p), read_log(p)) for p in paths]
    if warmup is None:
        firsts = [int(s[0]) for _, (s, lr, _) in cols if lr[0] >= lr.max() * (1 - 1e-6)]
        warmup = min(firsts) if firsts else min(int(s[0]) for _, (s, _, _) in cols)
    runs = [log_run(*c, warmup=min(warmup, int(c[0][0])), name=p.stem) for p, c in cols]
    return runs, {r.name: family_of(r.name) for r in runs}
