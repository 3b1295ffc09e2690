"""AutoWU robustness on real training: the digits CNN and a small MLP, many seeds, three ``max_lr`` caps (one far
beyond the LR where training diverges), beside the best cosine schedule from a small LR grid.

Every run: SGD, batch 32, 600 steps (30 "epochs" of 20 batches; the digits train split, 1437 images), AutoWU with
``min_lr=1e-2``, the warm-up cap at the reference's 50 % (step 300), a test every 10 steps, cosine to 0 after the
switch, the reference's GP constants and our defaults, with rollback (the scheduler gets ``model=``, as the
Composer ``AutoWU``'s default ``rollback=True``; ``--no-rollback`` gives the table without it). The peer is a
cosine from a peak LR to 0 over the same steps, the peak tuned on a grid (best median final accuracy over the same
seeds). Per cap it prints:

* **switched before harm**: share of runs that switch by test or divergence before the cap;
* **no blow-up before the switch**: share of runs whose loss never blew up before the switch (a switch by test
  before any harm at all);
* **decayed from a blown-up LR**: runs whose switch LR is at or above the LR at which their loss had first blown
  up (above the starting loss after its minimum, or NaN/inf) before the switch -- the target is none;
* the median switch LR against the grid's best LR, the median final accuracy against the tuned cosine's
  (target: within 2 points), and the runs that end at chance level (accuracy < 20 %).

Size: ``AUTOWU_BENCH_SEEDS`` (default 20), ``AUTOWU_BENCH_MODELS`` (default ``cnn,mlp``), ``AUTOWU_BENCH_STEPS``
(default 600) or ``python -m benchmarks.bench_autowu_robust --seeds N --models cnn --steps 240 --fraction 0.75``.
The default size is 240 runs (20 seeds x (3 grid LRs + 3 caps) x 2 models), each a few seconds of CPU.
"""
from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
import time
from typing import Optional

import numpy as np
import torch
from torch import nn

from composer_sched.algorithms.autowu.scheduler import AutoWUScheduler

STEPS, SPE, BATCH, INTERVAL, MIN_LR, FRACTION = 600, 20, 32, 10, 1e-2, 0.5
CAPS = {'cnn': (3.0, 10.0, 100.0), 'mlp': (3.0, 10.0, 100.0)}
GRID = (0.1, 0.3, 1.0)
OPTIONS: dict = {}  # extra AutoWU options (for experiments; the defaults are what the table reports)
ROLLBACK = True  # as the Composer AutoWU's default: the scheduler gets model=, so it restores the weights


def _data():
    from composer_sched.data import digits_datasets

    train, val = digits_datasets()
    return train.tensors, val.tensors


def make_model(kind: str, seed: int) -> nn.Module:
    torch.manual_seed(seed)
    if kind == 'cnn':
        from composer_sched.models import DigitsCNN
        return DigitsCNN(width=8)
    return nn.Sequential(nn.Flatten(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10))


def train(kind: str, seed: int, data, *, autowu_cap: Optional[float] = None, cosine_lr: Optional[float] = None):
    """One run; returns ``(final val accuracy, losses, scheduler or None)``."""
    (xt, yt), (xv, yv) = data
    model = make_model(kind, seed)
    opt = torch.optim.SGD(model.parameters(), lr=cosine_lr or 0.1)
    sched = None
    if autowu_cap is not None:
        sched = AutoWUScheduler(opt, SPE, STEPS // SPE, min_lr=MIN_LR, max_lr=autowu_cap,
                                max_warmup_fraction=FRACTION, immediate_cooldown=True, test_interval=INTERVAL,
                                sync_decisions=False, model=model if ROLLBACK else None, **OPTIONS)
    gen = torch.Generator().manual_seed(1000 + seed)
    losses = []
    order = torch.randperm(len(yt), generator=gen)
    pos = 0
    for k in range(STEPS):
        if pos + BATCH > len(yt):
            order, pos = torch.randperm(len(yt), generator=gen), 0
        idx = order[pos:pos + BATCH]
        pos += BATCH
        if sched is None:
            for g in opt.param_groups:
                g['lr'] = cosine_lr * (1 + math.cos(math.pi * k / STEPS)) / 2
        loss = nn.functional.cross_entropy(model(xt[idx]), yt[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss))
        if sched is not None:
            sched.step(loss.detach())
    with torch.no_grad():
        acc = float((model(xv).argmax(1) == yv).float().mean())
    return acc, np.array(losses), sched


def first_blowup(losses: np.ndarray, upto: int, window: int = 10) -> Optional[int]:
    """0-indexed first step (< ``upto``) after the lowest ``window``-median whose loss is above the starting loss
    (median of the first ``window``) or non-finite."""
    y = np.where(np.isfinite(losses[:upto]), losses[:upto], np.inf)
    if len(y) < 2 * window:
        return None
    meds = np.median(np.lib.stride_tricks.sliding_window_view(y, window), axis=1)
    j0 = int(np.argmin(meds)) + window // 2
    above = np.flatnonzero(y[j0:] > float(np.median(y[:window])))
    return j0 + int(above[0]) if above.size else None


def run(seeds: int = 20, models=('cnn', 'mlp')) -> dict:
    torch.set_num_threads(1)
    data = _data()
    results = {}
    for kind in models:
        grid = {lr: [train(kind, s, data, cosine_lr=lr)[0] for s in range(seeds)] for lr in GRID}
        best_lr = max(GRID, key=lambda lr: statistics.median(grid[lr]))
        results[kind] = {'grid': grid, 'best_lr': best_lr, 'caps': {}}
        for cap in CAPS[kind]:
            rows = []
            for s in range(seeds):
                acc, losses, sched = train(kind, s, data, autowu_cap=cap)
                eng = sched.engine
                b = first_blowup(losses, eng.switch_step)
                blown_lr = None if b is None else eng.warmup_lr(b)
                rows.append(dict(seed=s, acc=acc, step=eng.switch_step, reason=eng.switch_reason,
                                 lr=eng.switch_lr, blowup=b, blown_lr=blown_lr))
            results[kind]['caps'][cap] = rows
    return results


def report(results: dict, seeds: int) -> None:
    for kind, res in results.items():
        best_lr = res['best_lr']
        tuned = statistics.median(res['grid'][best_lr])
        grid_txt = ', '.join(f'{lr:g}: {statistics.median(v):.3f}' for lr, v in res['grid'].items())
        print(f'\n{kind}: cosine grid (median final accuracy over {seeds} seeds) {grid_txt}; best LR {best_lr:g}')
        print(f'{"max_lr":>7} {"switched before harm":>21} {"by test/div/cap":>16} {"no blow-up before":>18} '
              f'{"decayed from blown-up LR":>25} {"median switch LR (x best)":>26} {"median acc":>11} '
              f'{"tuned cosine":>13} {"diff":>6} {"at chance":>10}')
        for cap, rows in res['caps'].items():
            n = len(rows)
            early = sum(r['reason'] in ('test', 'diverged') for r in rows)
            counts = '/'.join(str(sum(r['reason'] == x for r in rows)) for x in ('test', 'diverged', 'cap'))
            bad = sum(r['blown_lr'] is not None and r['lr'] >= r['blown_lr'] for r in rows)
            clean = sum(r['blowup'] is None for r in rows)
            dead = sum(r['acc'] < 0.2 for r in rows)
            lr_med = statistics.median(r['lr'] for r in rows)
            acc = statistics.median(r['acc'] for r in rows)
            print(f'{cap:>7g} {early / n:>20.0%} {counts:>16} {clean / n:>18.0%} {bad:>19d} / {n:<3d} '
                  f'{lr_med:>12.3g} ({lr_med / best_lr:>5.2f}x) {acc:>11.3f} {tuned:>13.3f} '
                  f'{100 * (acc - tuned):>+6.1f} {dead:>6d} / {n}')


def main(argv=None) -> None:
    global STEPS, FRACTION, ROLLBACK
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--seeds', type=int, default=int(os.environ.get('AUTOWU_BENCH_SEEDS', 20)))
    p.add_argument('--models', default=os.environ.get('AUTOWU_BENCH_MODELS', 'cnn,mlp'))
    p.add_argument('--steps', type=int, default=int(os.environ.get('AUTOWU_BENCH_STEPS', STEPS)))
    p.add_argument('--fraction', type=float, default=FRACTION)
    p.add_argument('--no-rollback', action='store_true', help='AutoWU without rollback (the table before it)')
    args = p.parse_args([] if argv is None else argv)
    STEPS, FRACTION, ROLLBACK = args.steps, args.fraction, not args.no_rollback
    start = time.perf_counter()
    res = run(args.seeds, tuple(args.models.split(',')))
    report(res, args.seeds)
    print(f'\n({args.seeds} seeds, models {args.models}, {STEPS} steps, warm-up cap {FRACTION:g}, '
          f'rollback {"on" if ROLLBACK else "off"}: '
          f'{time.perf_counter() - start:.0f} s)')


if __name__ == '__main__':
    main(sys.argv[1:])
