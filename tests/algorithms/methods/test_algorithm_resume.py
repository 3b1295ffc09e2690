"""Checkpoint and resume: the LR sequence and the final weights equal the uninterrupted run's, for every
registered schedule algorithm (``save_folder``/``load_path``) and for a composition (``autoresume``)."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from composer.core import Callback, Event
from method_runs import DL_LEN, Run, make, schedule_algorithm_names

TOTAL = 3 * DL_LEN


def _same_weights(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=0, atol=0, msg=k)


def _at_batch(k: int):
    """A Composer ``save_interval`` that saves after batch ``k`` only."""
    return lambda state, event: event == Event.BATCH_CHECKPOINT and state.timestamp.batch.value == k


@pytest.mark.parametrize('name', schedule_algorithm_names())
def test_resume_from_checkpoint_matches_uninterrupted(name, tmp_path):
    # One checkpoint, the one the resume reads: each save is a full state write (~60 ms).
    full = Run([make(name)], save_folder=str(tmp_path), save_interval=_at_batch(16),
               save_filename='ba{batch}.pt').fit()
    assert len(full.lrs) == TOTAL
    # Resume mid-epoch (batch 16 of 33): past most warm-ups, before or inside most cool-downs.
    resumed = Run([make(name)], load_path=str(tmp_path / 'ba16.pt')).fit()
    np.testing.assert_array_equal(resumed.lrs, full.lrs[16:])
    np.testing.assert_array_equal(resumed.momenta, full.momenta[16:])
    _same_weights(resumed.weights(), full.weights())


def _composed():
    from composer_sched import Cooldown, OneCycle, Warmup
    return [Cooldown(t_start='20ba', shape='sqrt', alpha_f=0.05), Warmup(t_warmup='6ba'),
            OneCycle(replace=True, cycle_momentum=True, t_cycle='0.5dur', t_cooldown='0.5dur')]


def _multistep(opt):
    return torch.optim.lr_scheduler.MultiStepLR(opt, [1, 2], gamma=0.5)


class _StopAt(Callback):
    """Interrupt training after ``k`` batches (the schedule keeps the full horizon, as a crash would)."""

    def __init__(self, k: int):
        self.k = k

    def batch_end(self, state, logger):
        if state.timestamp.batch.value == self.k:
            state.stop_training()


@pytest.fixture(scope='module')
def uninterrupted_composition():
    """The composition trained without interruption, once for all stop points: ``(lrs, momenta, weights)``,
    read-only for its readers."""
    full = Run(_composed(), schedulers=_multistep).fit()
    return tuple(full.lrs), tuple(full.momenta), full.weights()


@pytest.mark.parametrize('stop_at', [5, 12, 25])
def test_autoresume_composition_at_several_points(stop_at, tmp_path, uninterrupted_composition):
    # A composition over a PyTorch scheduler that OneCycle replaces; the cool-down's recorded start value and the
    # replaced scheduler's position must survive the checkpoint.
    full_lrs, full_momenta, full_weights = uninterrupted_composition
    folder = str(tmp_path / 'ckpt')
    # Only the interruption's checkpoint, the one autoresume reads: each save costs ~60 ms (a checkpoint per batch
    # was three quarters of this test).
    every = _at_batch(stop_at)
    first = Run(_composed(), schedulers=_multistep, save_folder=folder, save_interval=every, autoresume=True,
                run_name='resume-me', callbacks=[_StopAt(stop_at)]).fit()
    k = len(first.lrs)
    second = Run(_composed(), schedulers=_multistep, save_folder=folder, save_interval=every, autoresume=True,
                 run_name='resume-me').fit()
    np.testing.assert_array_equal(first.lrs + second.lrs, full_lrs)
    np.testing.assert_array_equal(first.momenta + second.momenta, full_momenta)
    assert k == stop_at and len(second.lrs) == TOTAL - k
    _same_weights(second.weights(), full_weights)


def test_resume_cooldown_over_torch_scheduler_restores_its_start(tmp_path):
    from composer_sched import Cooldown
    full = Run([Cooldown(t_start='12ba', alpha_f=0.0)], schedulers=_multistep, save_folder=str(tmp_path),
               save_interval='1ep', save_filename='ep{epoch}.pt').fit()
    resumed = Run([Cooldown(t_start='12ba', alpha_f=0.0)], schedulers=_multistep,
                  load_path=str(tmp_path / 'ep2.pt')).fit()
    np.testing.assert_array_equal(resumed.lrs, full.lrs[2 * DL_LEN:])
    _same_weights(resumed.weights(), full.weights())
