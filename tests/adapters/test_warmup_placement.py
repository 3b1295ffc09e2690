"""Composer's ``*WithWarmup`` placement in both adapters: milestones and absolute times on the run's clock, shapes
spanning ``[t_warmup, t_max]``, ``'dur'`` a fraction of the (scaled) run, and a warm-up as long as the run."""
import numpy as np
import pytest
import torch
from composer.core import Time
from composer.optim import CosineAnnealingWithWarmupScheduler as CCosineWarmup
from composer.optim import LinearWithWarmupScheduler as CLinearWarmup
from composer.optim import MultiStepWithWarmupScheduler as CMultiStepWarmup
from composer.optim import PolynomialWithWarmupScheduler as CPolyWarmup

import composer_sched as cs
from composer_sched import ComposerScheduler, ScheduleLR, preview
from composer_sched.schedules import LinearWarmUp, MultiStepSchedule
from tests.helpers import tiny_trainer

DL_LEN = 8  # tiny_data: 64 samples / batch 8


def _opt():
    return torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)


def test_milestones_stay_on_the_runs_clock_after_a_warmup():
    ours = cs.MultiStepScheduler(t_warmup='10ba', milestones=['20ba', '40ba'])
    core = ours.schedule('100ba')
    assert [core(t) for t in (5.0, 19.0, 20.0, 39.0, 40.0)] == pytest.approx([0.5, 1.0, 0.1, 0.1, 0.01])
    theirs = CMultiStepWarmup(t_warmup='10ba', milestones=['20ba', '40ba'])
    np.testing.assert_allclose(preview(ours, '100ba'), preview(theirs, '100ba'), rtol=1e-12)


@pytest.mark.parametrize('name, params, t, want', [
    ('step', dict(step_size='25ba', gamma=0.5), 25.0, 0.5),
    ('multi_factor', dict(step=['20ba'], factor=0.5), 20.5, 0.5),
    ('piecewise_constant', dict(milestones=['30ba'], factors=[0.25]), 30.0, 0.25),
])
def test_every_milestone_method_keeps_the_runs_clock(name, params, t, want):
    core = ComposerScheduler(name, t_warmup='10ba', **params).schedule('100ba')
    assert core(t - 1.0) == 1.0 and core(t) == pytest.approx(want)


def test_wsd_cooldown_in_dur_is_a_fraction_of_the_whole_run():
    sched = ScheduleLR(_opt(), 'wsd', total_steps=1000, t_warmup=100, t_cooldown='0.2dur')
    alpha = [sched.multiplier(k) for k in (799, 800, 801, 900, 1000)]
    assert alpha[:2] == [1.0, 1.0] and alpha[2] < 1.0  # 200 steps of cool-down: 800 -> 1000
    assert alpha[3] == pytest.approx(0.5) and alpha[4] == pytest.approx(0.0, abs=1e-15)


# Composer's *WithWarmup schedulers against ours with the same arguments; t_max on the run's clock (Composer requires
# t_max >= max_duration; 10ep is 80 batches).
SPANS = [
    (lambda: CCosineWarmup(t_warmup='10ba', t_max='100ba', alpha_f=0.1),
     lambda: cs.CosineAnnealingScheduler(t_warmup='10ba', t_max='100ba', alpha_f=0.1)),
    (lambda: CLinearWarmup(t_warmup='10ba', alpha_f=0.2, t_max='1.25dur'),
     lambda: cs.LinearScheduler(t_warmup='10ba', alpha_f=0.2, t_max='1.25dur')),
    (lambda: CPolyWarmup(t_warmup='0.1dur', power=2.0, t_max='90ba', alpha_f=0.1),
     lambda: cs.PolynomialScheduler(t_warmup='0.1dur', power=2.0, t_max='90ba', alpha_f=0.1)),
]


@pytest.mark.parametrize('ssr', [1.0, 0.5])
@pytest.mark.parametrize('theirs, ours', SPANS, ids=['cosine', 'linear', 'polynomial'])
def test_shapes_span_warmup_to_t_max_as_composer(theirs, ours, ssr):
    a = preview(theirs(), '10ep', dataloader_len=DL_LEN, ssr=ssr)
    b = preview(ours(), '10ep', dataloader_len=DL_LEN, ssr=ssr)
    np.testing.assert_allclose(b, a, rtol=1e-9, atol=1e-12)


def test_a_dur_warmup_is_a_fraction_of_the_scaled_run():
    # ratio 0.05 of 1000 batches: the '0.1dur' warm-up is 5 batches (10 % of the 50 trained), as in Composer.
    ours = cs.WSDScheduler(t_warmup='0.1dur', t_cooldown='0.2dur')
    core = ours.schedule('50ba', ssr=0.05)
    assert core(2.5) == pytest.approx(0.5) and core(5.0) == 1.0 and core(39.0) == 1.0 and core(45.0) == 0.5
    theirs = CCosineWarmup(t_warmup='0.1dur')
    np.testing.assert_allclose(preview(ours, '1000ba', ssr=0.05)[:6], preview(theirs, '1000ba', ssr=0.05)[:6])
    # an absolute warm-up stays unscaled
    assert cs.WSDScheduler(t_warmup='20ba').schedule('100ba', ssr=0.5)(10.0) == pytest.approx(0.5)


def test_a_warmup_as_long_as_the_run_is_all_warmup():
    ours = cs.CosineAnnealingScheduler(t_warmup='1ep')
    assert ours.spec.all_warmup(ours.spec.horizon(Time.from_timestring('1ep'), batches_per_epoch=DL_LEN))
    trainer, rec = tiny_trainer([ours], max_duration='1ep')
    trainer.fit()
    expected = preview(ours, '1ep', dataloader_len=DL_LEN)
    np.testing.assert_allclose(rec.first_group(), expected, rtol=1e-12)
    np.testing.assert_allclose(expected, preview(CCosineWarmup(t_warmup='1ep'), '1ep', dataloader_len=DL_LEN),
                               rtol=1e-12)
    assert expected[-1] == pytest.approx(6 / 8)  # still ramping: the last batch trains with the value at 6
    torch_sched = ScheduleLR(_opt(), 'wsd', total_steps=10, t_warmup=10)
    assert [torch_sched.multiplier(k) for k in (0, 5, 10)] == pytest.approx([0.0, 0.5, 1.0])


def test_a_shape_that_ends_inside_the_warmup_is_an_error():
    with pytest.raises(ValueError, match=r"t_max='20ba' \(20 ba\) is not allowed: it must end after the warm-up "
                                         r"t_warmup='30ba'"):
        cs.CosineAnnealingScheduler(t_warmup='30ba', t_max='20ba').schedule('100ba')


def test_the_tutorials_linear_warmup_still_shifts():
    inner = MultiStepSchedule(milestones=(20.0,), gamma=0.1)
    assert LinearWarmUp(inner, start_lr=0.0, length=10)(25.0) == 1.0  # its clock starts at the end of the ramp
    assert LinearWarmUp(inner, start_lr=0.0, length=10, shift=False)(25.0) == pytest.approx(0.1)


def test_an_exponential_warmup_onto_zero_names_warmup_type():
    with pytest.raises(ValueError, match=r"constant: warmup_type='exponential' is not allowed here"):
        ComposerScheduler('constant', alpha=0.0, t_warmup='10ba', warmup_type='exponential',
                          alpha_warmup=0.1).schedule('100ba')


def test_a_milestone_inside_the_warmup_applies_at_its_end_as_in_composer():
    ours = cs.MultiStepScheduler(t_warmup='10ba', milestones=['5ba', '30ba'], gamma=0.5)
    theirs = CMultiStepWarmup(t_warmup='10ba', milestones=['5ba', '30ba'], gamma=0.5)
    np.testing.assert_allclose(preview(ours, '50ba'), preview(theirs, '50ba'), rtol=1e-12)
    core = ours.schedule('50ba')
    assert core(9.0) == pytest.approx(0.9) and core(10.0) == 0.5  # the ramp rises to 1, then the decay applies


def test_an_exponential_warmup_between_extreme_ends_stays_finite():
    # A run that is all warm-up reaches the ramp's end: 4e-228 -> 1e300 overflows the ratio, not the logs.
    core = ComposerScheduler('cosine_annealing', alpha_i=1e300, t_warmup='1ba', warmup_type='exponential',
                             alpha_warmup=4e-228).schedule('1ba')
    values = core(np.array([0.0, 0.5, 1.0]))
    assert np.all(np.isfinite(values)) and values[0] == 4e-228 and values[-1] == 1e300
    assert values[1] == pytest.approx(np.sqrt(4e-228) * 1e150, rel=1e-9)
