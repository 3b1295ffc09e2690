"""The Composer adapter in real Trainer runs: the LR applied is exactly what preview predicts, for every method."""
import numpy as np
import pytest
from composer.core import Time
from composer.optim import CosineAnnealingScheduler as CCosine
from composer.optim import CosineAnnealingWarmRestartsScheduler as CWarmRestarts
from composer.optim import CosineAnnealingWithWarmupScheduler as CCosineWarmup
from composer.optim import ExponentialScheduler as CExp
from composer.optim import LinearScheduler as CLinear
from composer.optim import MultiStepScheduler as CMultiStep
from composer.optim import PolynomialScheduler as CPoly
from composer.optim import StepScheduler as CStep

import composer_sched as cs
from composer_sched import ComposerScheduler, preview
from composer_sched.adapters.product import ProductScheduler
from composer_sched.schedules import get_method, method_names
from tests.helpers import tiny_trainer

DL_LEN = 8  # tiny_data: 64 samples / batch 8


def _examples(name):
    # Each method's example values, from its definition (they fit a run of a few dozen batches).
    return get_method(name).example


#: 64 batches: past every example's last point given in batches (multi_step's '60ba' milestone, cyclical's second
#: cycle ending at 62.5); each batch costs ~7 ms of Composer's per-batch overhead, so no longer.
HORIZON = '8ep'


@pytest.mark.parametrize('name', method_names())
def test_trainer_applies_exactly_what_preview_predicts(name):
    sched = ComposerScheduler(name, t_warmup='3ba', **_examples(name))
    trainer, rec = tiny_trainer([sched], max_duration=HORIZON)
    trainer.fit()
    expected = preview(sched, HORIZON, dataloader_len=DL_LEN)
    np.testing.assert_allclose(rec.first_group(), expected, rtol=1e-12, atol=1e-15)
    assert len(rec.lrs) == 64 and len(set(np.round(expected, 12))) > 1  # the schedule really moves


@pytest.mark.parametrize('ssr', [0.5, 1.75])
def test_trainer_scale_schedule_ratio_and_epoch_units(ssr):
    scheds = [cs.MultiStepScheduler(milestones=['2ep']), cs.SGDRScheduler(t_0='1ep', t_mult=2.0, t_warmup='4ba')]
    # Several schedulers multiply (the package's rule; in Composer's Trainer through ProductScheduler).
    trainer, rec = tiny_trainer([ProductScheduler(*scheds)], max_duration='4ep', scale_schedule_ratio=ssr)
    trainer.fit()
    expected = preview(scheds, '4ep', dataloader_len=DL_LEN, ssr=ssr)
    assert len(rec.lrs) == int(4 * ssr) * DL_LEN
    np.testing.assert_allclose(rec.first_group(), expected, rtol=1e-12)


def test_samples_axis():
    sched = cs.WSDScheduler(t_cooldown='200sp', t_max='512sp')
    trainer, rec = tiny_trainer([sched], max_duration='512sp')
    trainer.fit()
    expected = preview(sched, '512sp', samples_per_batch=8)
    np.testing.assert_allclose(rec.first_group(), expected, rtol=1e-12)
    assert expected[-1] < 0.2 and expected[0] == 1.0


def test_bad_durations_fail_at_trainer_construction_not_mid_training():
    with pytest.raises(ValueError, match='t_cooldown|cooldown_length'):
        tiny_trainer([cs.WSDScheduler(t_cooldown='100ba')], max_duration='2ep')


# Our methods against Composer's own schedulers, on the same horizon (integer durations, so no truncation).
EQUIVALENT = [
    (CCosineWarmup(t_warmup='10ba', alpha_f=0.1), cs.CosineAnnealingScheduler(t_warmup='10ba', alpha_f=0.1)),
    (CCosine(t_max='1dur', alpha_f=0.2), cs.CosineAnnealingScheduler(alpha_f=0.2)),
    (CLinear(alpha_i=1.0, alpha_f=0.3, t_max='60ba'), cs.LinearScheduler(alpha_f=0.3, t_max='60ba')),
    (CMultiStep(milestones=['30ba', '50ba'], gamma=0.3), cs.MultiStepScheduler(milestones=['30ba', '50ba'], gamma=0.3)),
    (CStep(step_size='25ba', gamma=0.5), cs.StepScheduler(step_size='25ba', gamma=0.5)),
    (CExp(gamma=0.5, decay_period='1ep'), cs.ExponentialScheduler(gamma=0.5, decay_period='1ep')),
    (CPoly(power=2.0, t_max='1dur', alpha_f=0.1), cs.PolynomialScheduler(power=2.0, alpha_f=0.1)),
    (CWarmRestarts(t_0='16ba', t_mult=2.0, alpha_f=0.05), cs.SGDRScheduler(t_0='16ba', t_mult=2.0, alpha_f=0.05)),
]


@pytest.mark.parametrize('theirs,ours', EQUIVALENT, ids=[type(t).__name__ for t, _ in EQUIVALENT])
def test_matches_composer_builtin(theirs, ours):
    a = preview(theirs, '10ep', dataloader_len=DL_LEN)
    b = preview(ours, '10ep', dataloader_len=DL_LEN)
    np.testing.assert_allclose(b, a, rtol=1e-9, atol=1e-12)


def test_preview_of_composer_builtin_matches_a_real_trainer():
    sched = CCosineWarmup(t_warmup='5ba', alpha_f=0.1)
    trainer, rec = tiny_trainer([sched], max_duration='3ep', scale_schedule_ratio=0.75)
    trainer.fit()
    np.testing.assert_allclose(rec.first_group(), preview(sched, '3ep', dataloader_len=DL_LEN, ssr=0.75),
                               rtol=1e-12)


def test_repr_and_named_classes():
    s = cs.WSDScheduler(t_cooldown='0.3dur')
    assert repr(s) == "WSDScheduler(t_cooldown='0.3dur')"
    assert cs.composer_scheduler('wsd', t_cooldown='0.3dur').spec.params == s.spec.params
    assert s.schedule(Time.from_timestring('100ba'))(75.0) == pytest.approx(1 - 5 / 30)
    with pytest.raises(ValueError, match="did you mean 't_cooldown'"):
        cs.composer_scheduler('wsd', tcooldown='0.3dur')  # a name from text: the closest valid one
    with pytest.raises(ValueError, match="did you mean 't_cooldown'"):
        cs.WSDScheduler(tcooldown='0.3dur')  # an explicit signature, and still the same error as by name


def test_with_several_schedulers_the_last_one_decides_as_in_composer_and_a_product_multiplies():
    scheds = [cs.SGDRScheduler(t_0='1ep'), cs.MultiStepScheduler(milestones=['2ep'])]
    trainer, rec = tiny_trainer(scheds, max_duration='3ep')  # Composer's own rule: each LambdaLR sets the LR
    trainer.fit()
    np.testing.assert_allclose(rec.first_group(), preview(scheds[-1], '3ep', dataloader_len=DL_LEN), rtol=1e-12)
    trainer, rec = tiny_trainer([ProductScheduler(*scheds)], max_duration='3ep')  # the package's rule: multiply
    trainer.fit()
    np.testing.assert_allclose(rec.first_group(), preview(scheds, '3ep', dataloader_len=DL_LEN), rtol=1e-12)
    assert rec.first_group()[-1] == pytest.approx(0.1 * preview(scheds[0], '3ep', dataloader_len=DL_LEN)[-1])
