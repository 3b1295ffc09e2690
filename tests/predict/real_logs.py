"""The 124M-parameter WSD sweep of fabian-sp/lr-scheduling (tests/data/lr_scheduling_124m, MIT) as predict Runs."""
import functools
import json
import pathlib

import numpy as np

from composer_sched.predict import Run
from composer_sched.schedules import LinearWarmUp, StableDecaySchedule

DATA = pathlib.Path(__file__).parents[1] / 'data' / 'lr_scheduling_124m' / 'runs.json'
T_FULL = 50_000
BRANCH = {15_000: 10_000, 25_000: 20_000, 35_000: 20_000, 50_000: 40_000}  # where each run's own history starts
RATIOS = {0.3: 15_000, 0.5: 25_000, 0.7: 35_000, 1.0: 50_000}


@functools.lru_cache(maxsize=None)
def logs() -> dict:
    return json.loads(DATA.read_text())


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


def final_val_loss(length: int) -> float:
    return logs()[f'wsd{length}']['final_val_loss']


def baselines(length: int):
    """The two naive predictions of the final validation loss of a ratio run, on the final evaluation's scale:
    (1) the trunk's validation loss at that step (no cool-down), (2) that minus the full run's cool-down gain
    (trunk minus full run, both at the last logged step). Both add the full run's offset between its final
    evaluation and its last logged validation loss, the information our prediction also has."""
    t_steps, trunk = _history(logs()['trunk50000'], 'val')
    f_steps, full = _history(logs()['wsd50000'], 'val')
    last = f_steps[-1]
    offset = final_val_loss(T_FULL) - full['loss'][-1]
    gain = trunk['loss'][t_steps == last][0] - full['loss'][-1]
    at = trunk['loss'][t_steps == min(length, last)][0] + offset
    return at, at - gain
