"""Real training logs as predict Runs, read from the shared data folder (``../shared/data/`` beside the checkout, or
``$COMPOSER_SCHED_SHARED_DATA``); tests skip with the reason when it is absent. The project ships no third-party data.

* ``lr-scheduling-124m``: the 124M-parameter WSD sweep of fabian-sp/lr-scheduling (MIT), ratios 0.3/0.5/0.7/1.0
  of 50,000 steps branched from one constant-LR trunk, and two cosine runs.
* ``multipowerlaw-curves``: the Multi-Power Law authors' curves (thu-yao-01-luo/MultiPowerLaw, MIT), 25M/100M/400M.
"""
import functools
import json
import os
import pathlib

import numpy as np
import pytest

from composer_sched.predict import Run
from composer_sched.schedules import LinearWarmUp, StableDecaySchedule

ROOT = pathlib.Path(__file__).resolve().parents[2]
T_FULL = 50_000
BRANCH = {15_000: 10_000, 25_000: 20_000, 35_000: 20_000, 50_000: 40_000}  # where each run's own history starts
RATIOS = {0.3: 15_000, 0.5: 25_000, 0.7: 35_000, 1.0: 50_000}


def shared(name: str) -> pathlib.Path:
    """The shared data folder ``name``; skips the calling test (with the reason) when it is absent."""
    env = os.environ.get('COMPOSER_SCHED_SHARED_DATA')
    # ../shared/data beside the checkout; a git worktree sits deeper (e.g. /work/wt/x beside /work/shared).
    bases = [pathlib.Path(env)] if env else [p / 'shared' / 'data' for p in ROOT.parents]
    path = next((b / name for b in bases if (b / name).is_dir()), bases[0] / name)
    if not path.is_dir():
        pytest.skip(f'shared data {path} is absent (real logs are read from ../shared/data/ beside the checkout, '
                    'or $COMPOSER_SCHED_SHARED_DATA)')
    return path


@functools.lru_cache(maxsize=None)
def logs() -> dict:
    """``{'trunk50000' | 'wsd<T>' | 'cos<T>': {'val': {iter, loss, acc}, 'train': {iter, loss, lr},
    'final_val_loss', 'config'}}`` from the unchanged exports (a value logged twice for an iteration: the last)."""
    out = {}
    for path in sorted(shared('lr-scheduling-124m').glob('*.json')):
        d = json.loads(path.read_text())
        h, c = d['history'], d['config']
        kind = {'stable-124m': 'trunk', 'ann124-0.2': 'wsd', 'cos-zero-124m': 'cos'}[path.name.split('_')[0]]
        val = {i: (v, a) for i, v, a in zip(h['val']['iter'], h['val']['val_loss'], h['val']['val_acc'])}
        train = {i: (v, r) for i, v, r in zip(h['train']['iter'], h['train']['train_loss'], h['train']['train_lr'])}
        vi, ti = sorted(val), sorted(train)
        out[f'{kind}{c["iterations"]}'] = {
            'config': c,
            'val': {'iter': vi, 'loss': [val[i][0] for i in vi], 'acc': [val[i][1] for i in vi]},
            'train': {'iter': ti, 'loss': [train[i][0] for i in ti], 'lr': [train[i][1] for i in ti]},
            'final_val_loss': h['final-val']['final_val_loss'][-1]}
    return out


def wsd_lr(length: int) -> np.ndarray:
    """The runs' LR multiplier per batch: linear warm-up from 1% over 300 steps, constant, linear cool-down to 0
    over the last 20% (the repository's config: warmup_steps 300, wsd_fract_decay 0.2, decay_type linear)."""
    schedule = LinearWarmUp(StableDecaySchedule(length=length, cooldown_length=0.2 * length), start_lr=0.01, length=300,
                            shift=False)
    return np.asarray(schedule(np.arange(length)), dtype=float)


def _history(run: dict, kind: str, lo: int = 0, hi: int = 10 ** 9):
    h = run[kind]
    it = np.array(h['iter'])
    keep = (it >= lo) & (it < hi)
    return it[keep], {k: np.array(v)[keep] for k, v in h.items() if k != 'iter'}


def full_curve(length: int, kind: str = 'val'):
    """(steps, columns) of the ratio run's whole curve: the trunk up to the branch point, then its own history."""
    branch = BRANCH[length]
    t_steps, trunk = _history(logs()['trunk50000'], kind, hi=branch)
    o_steps, own = _history(logs()[f'wsd{length}'], kind, lo=branch)
    return np.r_[t_steps, o_steps], {k: np.r_[trunk[k], own[k]] for k in trunk}


def run(length: int, kind: str = 'val') -> Run:
    """The ratio run of ``length`` steps as a Run (eval loss and accuracy, or the training loss)."""
    steps, cols = full_curve(length, kind)
    final = logs()[f'wsd{length}']['final_val_loss']
    if kind == 'val':
        return Run(wsd_lr(length), eval_loss=(steps, cols['loss']), eval_metric=(steps, cols['acc']),
                   final_loss=final, name=f'wsd{length}')
    return Run(wsd_lr(length), train_loss=(steps, cols['loss']), final_loss=final, name=f'wsd{length}')


def trunk_run() -> Run:
    """The constant-LR trunk (50,000 steps, warm-up as the WSD runs')."""
    steps, cols = _history(logs()['trunk50000'], 'val')
    lr = wsd_lr(T_FULL)
    lr[300:] = 1.0
    return Run(lr, eval_loss=(steps, cols['loss']), final_loss=logs()['trunk50000']['final_val_loss'], name='trunk')


def final_val_loss(length: int) -> float:
    return logs()[f'wsd{length}']['final_val_loss']
