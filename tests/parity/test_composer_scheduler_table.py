"""Composer's own scheduler test table, run against our Composer schedulers.

Values from mosaicml/composer v0.32.1, ``tests/optim/test_scheduler.py::test_scheduler_init``, kept as Composer wrote
them; each Composer scheduler is mapped to ours with the same arguments (``*WithWarmupScheduler(t_warmup=...)``
becomes our scheduler of the same shape with ``t_warmup``). The harness is Composer's: a ``State`` with
``max_duration='1000ep'`` times ``ssr``, 1000 batches per epoch, the scheduler called as ``scheduler(state, ssr)``,
``abs=1e-3``. ``ConstantWithWarmupScheduler``'s ``t_max`` is dropped: Composer's constant ignores it (a linear ramp
from ``alpha`` to ``alpha``), and our ``constant`` has no ``t_max``.
"""
import pytest
from composer.core import State, Time, TimeUnit
from composer.devices import DeviceCPU

import composer_sched as cs
from tests.helpers import tiny_model

MAX_DURATION = '1000ep'
STEPS_PER_EPOCH = 1000

# (our scheduler, ssr, test_times, expected_lrs); comment: Composer's scheduler as written in its table.
TABLE = [
    (cs.StepScheduler(step_size='10ba'), 1.0, ['5ba', '15ba', '35ba'], [1.0, 0.1, 0.001]),
    (cs.StepScheduler(step_size='0.002dur', gamma=0.8), 1.0, ['1000ba', '3000ba', '7000ba'], [1.0, 0.8, 0.512]),
    (cs.StepScheduler(step_size='1ep', gamma=0.5), 1.0, ['500ba', '1500ba', '3500ba'], [1.0, 0.5, 0.125]),
    (cs.StepScheduler(step_size='10ba', gamma=0.5), 0.5, ['3ba', '8ba', '18ba'], [1.0, 0.5, 0.125]),
    (cs.MultiStepScheduler(milestones=['10ba', '30ba', '70ba']), 1.0, ['5ba', '20ba', '50ba', '100ba'],
     [1.0, 0.1, 0.01, 0.001]),
    (cs.MultiStepScheduler(milestones=['100ba', '1ep', '0.01dur'], gamma=0.5), 1.0,
     ['50ba', '500ba', '5000ba', '50000ba'], [1.0, 0.5, 0.25, 0.125]),
    (cs.MultiStepScheduler(milestones=['100ba', '1ep', '0.01dur'], gamma=0.5), 4.0,
     ['200ba', '2000ba', '20000ba', '200000ba'], [1.0, 0.5, 0.25, 0.125]),
    (cs.LinearScheduler(), 1.0, ['100000ba', '200000ba', '400000ba'], [0.9, 0.8, 0.6]),
    (cs.LinearScheduler(alpha_i=0.0, alpha_f=2.0), 1.0, ['100000ba', '200000ba', '400000ba'], [0.2, 0.4, 0.8]),
    (cs.LinearScheduler(alpha_i=0.0, alpha_f=1.0, t_max='0.25dur'), 1.0, ['100000ba', '200000ba', '400000ba'],
     [0.4, 0.8, 1.0]),
    (cs.LinearScheduler(alpha_i=0.0, alpha_f=1.0, t_max='0.25dur'), 2.0, ['100000ba', '200000ba', '400000ba'],
     [0.2, 0.4, 0.8]),
    (cs.ExponentialScheduler(gamma=0.5), 1.0, ['1ep', '2ep', '4ep'], [0.5, 0.25, 0.0625]),
    (cs.ExponentialScheduler(gamma=0.5), 2.0, ['2ep', '4ep', '8ep'], [0.5, 0.25, 0.0625]),
    (cs.CosineAnnealingScheduler(), 1.0, ['0ba', '333333ba', '500000ba', '666667ba', '1000000ba'],
     [1.0, 0.75, 0.5, 0.25, 0.0]),
    (cs.CosineAnnealingScheduler(t_max='30ba', alpha_f=0.5), 1.0, ['0ba', '10ba', '15ba', '20ba', '30ba', '50ba'],
     [1.0, 0.875, 0.75, 0.625, 0.5, 0.5]),
    (cs.CosineAnnealingScheduler(t_max='30ba', alpha_f=0.5), 0.2, ['0ba', '2ba', '3ba', '4ba', '6ba', '10ba'],
     [1.0, 0.875, 0.75, 0.625, 0.5, 0.5]),
    # CosineAnnealingWarmRestartsScheduler -> SGDRScheduler
    (cs.SGDRScheduler(t_0='30ba'), 1.0, ['0ba', '10ba', '15ba', '20ba', '30ba', '40ba'],
     [1.0, 0.75, 0.5, 0.25, 1.0, 0.75]),
    (cs.SGDRScheduler(t_0='0.003dur', t_mult=1.5), 1.0, ['0ba', '1000ba', '3000ba', '4500ba', '7500ba', '14250ba'],
     [1.0, 0.75, 1.0, 0.75, 1.0, 1.0]),
    (cs.SGDRScheduler(t_0='30ep', t_mult=2.0, alpha_f=0.5), 0.5, ['0ba', '5000ba', '15000ba', '25000ba'],
     [1.0, 0.875, 1.0, 0.875]),
    (cs.PolynomialScheduler(power=2.0), 1.0, ['0ba', '100000ba', '200000ba', '500000ba'], [1.0, 0.81, 0.64, 0.25]),
    (cs.PolynomialScheduler(power=2.0, t_max='100ba', alpha_f=0.5), 1.0, ['0ba', '10ba', '20ba', '50ba'],
     [1.0, 0.905, 0.82, 0.625]),
    (cs.PolynomialScheduler(power=2.0, t_max='100ba', alpha_f=0.5), 0.5, ['0ba', '10ba', '20ba', '50ba'],
     [1.0, 0.82, 0.68, 0.5]),
    # MultiStepWithWarmupScheduler -> MultiStepScheduler(t_warmup=...)
    (cs.MultiStepScheduler(t_warmup='10ba', milestones=['20ba', '40ba']), 1.0, ['0ba', '5ba', '15ba', '25ba', '45ba'],
     [0.0, 0.5, 1.0, 0.1, 0.01]),
    (cs.MultiStepScheduler(t_warmup='10ba', milestones=['2ep', '4ep'], gamma=0.5), 0.5,
     ['0ba', '5ba', '15ba', '1500ba', '2500ba'], [0.0, 0.5, 1.0, 0.5, 0.25]),
    (cs.MultiStepScheduler(t_warmup='10ba', milestones=['2ep', '4ep'], gamma=0.5, scale_warmup=True), 0.5,
     ['0ba', '5ba', '15ba', '1500ba', '2500ba'], [0.0, 1.0, 1.0, 0.5, 0.25]),
    (cs.MultiStepScheduler(t_warmup='1000ep', milestones=[]), 1.0, ['0ep', '100ep', '1000ep'], [0.0, 0.1, 1.0]),
    # ConstantWithWarmupScheduler -> ConstantScheduler(t_warmup=...)
    (cs.ConstantScheduler(t_warmup='500ep'), 1.0, ['0ba', '250000ba', '500000ba', '750000ba', '1000000ba'],
     [0.0, 0.5, 1.0, 1.0, 1.0]),
    (cs.ConstantScheduler(t_warmup='500ep', alpha=3.0), 1.0,
     ['0ba', '250000ba', '500000ba', '500500ba', '501000ba', '502000ba'], [0.0, 1.5, 3.0, 3.0, 3.0, 3.0]),
    (cs.ConstantScheduler(t_warmup='500ep', alpha=3.0), 1.0,
     ['0ba', '250000ba', '500000ba', '500500ba', '501000ba', '502000ba'], [0.0, 1.5, 3.0, 3.0, 3.0, 3.0]),
    (cs.ConstantScheduler(t_warmup='0.0005dur'), 1.0, ['0ba', '250ba', '500ba', '499750ba'], [0.0, 0.5, 1.0, 1.0]),
    (cs.ConstantScheduler(t_warmup='500ep', alpha=3.0), 0.5,  # Composer's: t_max='501000ep'
     ['0ba', '250000ba', '500000ba', '500500ba', '501000ba', '502000ba'], [0.0, 1.5, 3.0, 3.0, 3.0, 3.0]),
    (cs.ConstantScheduler(t_warmup='1000ep'), 1.0, ['0ep', '100ep', '1000ep'], [0.0, 0.1, 1.0]),
    # LinearWithWarmupScheduler -> LinearScheduler(t_warmup=...)
    (cs.LinearScheduler(t_warmup='500ep'), 1.0, ['0ba', '250000ba', '500000ba', '750000ba', '1000000ba'],
     [0.0, 0.5, 1.0, 0.5, 0.0]),
    (cs.LinearScheduler(t_warmup='500ep', alpha_i=3.0, alpha_f=2.0, t_max='1002ep'), 0.5,
     ['0ba', '250000ba', '500000ba', '500500ba', '501000ba', '502000ba'], [0.0, 1.5, 3.0, 2.5, 2.0, 2.0]),
    (cs.LinearScheduler(t_warmup='0.0005dur'), 1.0, ['0ba', '250ba', '500ba', '499750ba'], [0.0, 0.5, 1.0, 0.5]),
    (cs.LinearScheduler(t_warmup='500ba', scale_warmup=False), 0.5, ['0ba', '250ba', '500ba', '249875ba'],
     [0.0, 0.5, 1.0, 0.5]),
    (cs.LinearScheduler(t_warmup='500ba', scale_warmup=True), 0.5, ['0ba', '125ba', '250ba', '249875ba'],
     [0.0, 0.5, 1.0, 0.5]),
    (cs.LinearScheduler(t_warmup='1000ep'), 1.0, ['0ep', '100ep', '1000ep'], [0.0, 0.1, 1.0]),
    # CosineAnnealingWithWarmupScheduler -> CosineAnnealingScheduler(t_warmup=...)
    (cs.CosineAnnealingScheduler(t_warmup='0.9dur'), 1.0,
     ['0ba', '450000ba', '900000ba', '933333ba', '950000ba', '1000000ba'], [0.0, 0.5, 1.0, 0.75, 0.5, 0.0]),
    (cs.CosineAnnealingScheduler(t_warmup='0.9dur', alpha_f=0.5), 0.01,
     ['0ba', '4500ba', '9000ba', '9333ba', '9500ba', '10000ba'], [0.0, 0.5, 1.0, 0.875, 0.75, 0.5]),
    (cs.CosineAnnealingScheduler(t_warmup='0.9dur', alpha_f=0.5, scale_warmup=True), 0.01,
     ['0ba', '4500ba', '9000ba', '9333ba', '9500ba', '10000ba'], [0.0, 0.5, 1.0, 0.875, 0.75, 0.5]),
    (cs.CosineAnnealingScheduler(t_warmup='1000ep'), 1.0, ['0ep', '100ep', '1000ep'], [0.0, 0.1, 1.0]),
    # PolynomialWithWarmupScheduler -> PolynomialScheduler(t_warmup=...)
    (cs.PolynomialScheduler(t_warmup='0.9dur'), 1.0,
     ['0ba', '450000ba', '900000ba', '913397ba', '929289ba', '1000000ba'], [0.0, 0.5, 1.0, 0.75, 0.5, 0.0]),
    (cs.PolynomialScheduler(t_warmup='0.9dur', alpha_f=0.5), 0.01,
     ['0ba', '4500ba', '9000ba', '9134ba', '9293ba', '10000ba'], [0.0, 0.5, 1.0, 0.875, 0.75, 0.5]),
    (cs.PolynomialScheduler(t_warmup='0.9dur', alpha_f=0.5, scale_warmup=True), 0.01,
     ['0ba', '4500ba', '9000ba', '9134ba', '9293ba', '10000ba'], [0.0, 0.5, 1.0, 0.875, 0.75, 0.5]),
    (cs.PolynomialScheduler(t_warmup='1000ep'), 1.0, ['0ep', '100ep', '1000ep'], [0.0, 0.1, 1.0]),
]


@pytest.fixture(scope='module')
def state():
    s = State(model=tiny_model(), run_name='parity', device=DeviceCPU(), rank_zero_seed=0, max_duration=MAX_DURATION)
    s.set_dataloader([None] * STEPS_PER_EPOCH, 'train')
    return s


@pytest.mark.parametrize('scheduler, ssr, test_times, expected_lrs', TABLE,
                         ids=[repr(c[0]) + f'-ssr{c[1]}' for c in TABLE])
def test_composer_table(scheduler, ssr, test_times, expected_lrs, state):
    # Composer's harness, step for step.
    state.max_duration = Time(value=int(Time.from_timestring(MAX_DURATION).value * ssr), unit=TimeUnit.EPOCH)
    for test_time, expected_lr in zip(test_times, expected_lrs):
        parsed_time = Time.from_timestring(test_time)
        if parsed_time.unit == TimeUnit.EPOCH:
            state.timestamp = state.timestamp.copy(
                epoch=parsed_time, batch=Time(int(state.dataloader_len) * int(parsed_time), TimeUnit.BATCH))
        else:
            state.timestamp = state.timestamp.copy(
                batch=parsed_time, epoch=Time(int(parsed_time) // int(state.dataloader_len), TimeUnit.EPOCH))
        assert scheduler(state, ssr) == pytest.approx(expected_lr, abs=1e-3), test_time
