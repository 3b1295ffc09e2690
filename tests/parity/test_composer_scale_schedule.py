"""Composer's own Scale Schedule tests, run against ``scale_scheduler``, ``apply_scale_schedule`` and ``ScaleSchedule``.

Values as Composer wrote them, from mosaicml/composer:

* v0.32.1 ``tests/trainer/test_scale_schedule.py``: ``TestScaleSchedule`` (StepLR, MultiStepLR, ExponentialLR; the
  targets are Composer's formulas, with its ``int(...)`` truncation) and ``TestScaleScheduleTrainer`` (a Trainer
  with ``MultiStepScheduler(['30ba', '50ba'])``: the LR at batches ``int(20 ssr)``, ``int(40 ssr)``,
  ``int(60 ssr)`` is 1, 0.1, 0.01 and ``max_duration`` becomes ``int(10 ssr)`` epochs);
* v0.3.1 ``tests/algorithms/test_scale_schedule.py``: the same three, the warm-up that is not scaled (Composer's old
  ``WarmUpLR(warmup_factor=0.5, warmup_iters=4, warmup_method='constant')``, which is torch's
  ``ConstantLR(factor=0.5, total_iters=4)``) and ``TestScaleScheduleAlgorithm.test_epochs_scaled`` (milestones
  ``Counter([int(30 ssr), int(50 ssr)])``, ``max_epochs`` ``int(10 ssr)``).

Composer's cosine and warm-restart cases are ``xfail`` there (``NotImplementedError``), so they carry no values.
"""
from collections import Counter

import numpy as np
import pytest
import torch
from composer.core import Callback, State, Time, TimeUnit
from composer.devices import DeviceCPU
from composer.optim import MultiStepScheduler
from torch.optim.lr_scheduler import ConstantLR, ExponentialLR, MultiStepLR, StepLR

from composer_sched import ScaleSchedule, scale_scheduler
from composer_sched.algorithms.scale_schedule import apply_scale_schedule
from tests.helpers import tiny_model, tiny_trainer

pytestmark = pytest.mark.filterwarnings(r'ignore:.*Detected call of `lr_scheduler.step\(\)` before:UserWarning')


def _optimizer():
    return torch.optim.SGD(tiny_model().parameters(), lr=1.0)


def flatten(lst):
    return [x for sublst in lst for x in sublst]


def _check(targets, scheduler, epochs, optimizer, ssr):
    scale_scheduler(scheduler, ssr)
    for epoch in range(epochs):
        for param_group in optimizer.param_groups:
            torch.testing.assert_close(targets[epoch], param_group['lr'])
        optimizer.step()
        scheduler.step()


@pytest.mark.parametrize('ssr', [0.5, 0.75, 1.0])
class TestScaleSchedule:

    def test_scale_schedule_step_lr(self, ssr):
        optimizer = _optimizer()
        epochs = int(9 * ssr)
        step_size = int(3 * ssr)
        gamma = 0.1
        targets = flatten([[1.0 * (gamma ** n)] * step_size for n in range(30)])
        targets = targets[:epochs]
        _check(targets, StepLR(optimizer, step_size=3, gamma=0.1), epochs, optimizer, ssr)

    def test_scale_schedule_multistep_lr(self, ssr):
        optimizer = _optimizer()
        epochs = int(9 * ssr)
        milestones = np.diff([0, int(2 * ssr), int(7 * ssr), epochs])
        gamma = 0.1
        targets = flatten([[1.0 * (gamma ** n)] * ms for n, ms in enumerate(milestones)])
        targets = targets[:epochs]
        _check(targets, MultiStepLR(optimizer, [2, 7], gamma), epochs, optimizer, ssr)

    def test_scale_schedule_exponential(self, ssr):
        optimizer = _optimizer()
        epochs = int(9 * ssr)
        targets = [1.0 * 0.1 ** (x / ssr) for x in range(epochs)]
        _check(targets, ExponentialLR(optimizer, gamma=0.1), epochs, optimizer, ssr)

    def test_scale_schedule_warmup(self, ssr):  # v0.3.1
        optimizer = _optimizer()
        targets = [0.5] * 4 + [1.0] * 5  # no effect
        epochs = int(9 * ssr)
        targets = targets[:epochs]
        _check(targets, ConstantLR(optimizer, factor=0.5, total_iters=4), epochs, optimizer, ssr)


@pytest.mark.parametrize('ssr', [0.5, 0.75, 1.0])
def test_epochs_scaled_v031(ssr):
    """v0.3.1's TestScaleScheduleAlgorithm.test_epochs_scaled, on a Composer State."""
    optimizer = _optimizer()
    state = State(model=tiny_model(), run_name='parity', device=DeviceCPU(), rank_zero_seed=0, max_duration='10ep')
    state.schedulers = [MultiStepLR(optimizer, milestones=[30, 50], gamma=0.1)]
    apply_scale_schedule(state, ssr)
    assert state.max_duration == Time(int(10 * ssr), TimeUnit.EPOCH)
    assert state.schedulers[0].milestones == Counter([int(30 * ssr), int(50 * ssr)])


class CheckScaleSchedule(Callback):
    """v0.32.1's callback: at FIT_START, walk the timestamp to each test step and step the scheduler. The timestamp
    is put back afterwards, so that the (short) run then trains from batch 0."""

    def __init__(self, ssr):
        self.ssr = ssr
        self.checked = 0

    def fit_start(self, state, logger):
        scheduler = state.schedulers[0]
        start = state.timestamp
        test_steps = [int(20 * self.ssr), int(40 * self.ssr), int(60 * self.ssr)]
        target_lrs = [1.0, 0.1, 0.01]
        current_step = 0
        for test_step, target_lr in zip(test_steps, target_lrs):
            while current_step < test_step:
                state.timestamp = state.timestamp.to_next_batch()
                current_step += 1
            scheduler.step()
            assert scheduler.get_last_lr()[0] == pytest.approx(target_lr)
            self.checked += 1
        state.timestamp = start
        scheduler.step()


@pytest.mark.slow
@pytest.mark.parametrize('ssr', [0.5, 0.75, 1.0])
def test_epochs_scaled_trainer(ssr):
    """v0.32.1's TestScaleScheduleTrainer.test_epochs_scaled, with ScaleSchedule(ssr) in place of
    Trainer(scale_schedule_ratio=ssr); one batch per epoch keeps it short."""
    check = CheckScaleSchedule(ssr)
    trainer, _ = tiny_trainer([MultiStepScheduler(milestones=['30ba', '50ba'], gamma=0.1)], max_duration='10ep',
                              algorithms=[ScaleSchedule(ssr)], callbacks=[check], train_subset_num_batches=1)
    assert trainer.state.max_duration.unit == TimeUnit.EPOCH
    assert trainer.state.max_duration.value == int(10 * ssr)
    trainer.fit()
    assert check.checked == 3
