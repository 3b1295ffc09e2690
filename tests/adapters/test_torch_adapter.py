"""The PyTorch adapter in a plain training loop: per-group LRs, closed form, position-only resume."""
import numpy as np
import pytest
import torch
from composer.core import TimeUnit

from composer_sched import ScheduleLR
from composer_sched.adapters.durations import Horizon
from composer_sched.adapters.spec import ScheduleSpec
from composer_sched.schedules import TriangularSchedule, get_method, method_names


def _optimizer(lrs=(0.1, 0.02)):
    torch.manual_seed(0)
    groups = [{'params': [torch.nn.Parameter(torch.randn(3))], 'lr': lr} for lr in lrs]
    return torch.optim.SGD(groups, momentum=0.9)


def _loop(opt, sched, steps):
    """A real loop: forward, backward, optimizer step, scheduler step; records each step's LRs."""
    seen = []
    for _ in range(steps):
        seen.append([g['lr'] for g in opt.param_groups])
        loss = sum((p ** 2).sum() for g in opt.param_groups for p in g['params'])
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
    return np.array(seen)


@pytest.mark.parametrize('name', method_names())
def test_plain_loop_applies_the_core_schedule_per_group(name):
    params = {**get_method(name).example, 't_warmup': 5}
    opt = _optimizer()
    sched = ScheduleLR(opt, name, 120, **params)
    seen = _loop(opt, sched, 120)
    alpha = ScheduleSpec(name, **params).build(Horizon(TimeUnit.BATCH, 120.0))(np.arange(120))
    np.testing.assert_allclose(seen[:, 0], 0.1 * alpha, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(seen[:, 1], 0.02 * alpha, rtol=1e-12, atol=1e-15)


def test_resume_keeps_the_new_horizon():
    """torch's own schedulers restore the old T_max from a state_dict; ours restore the position only."""
    opt = _optimizer()
    short = ScheduleLR(opt, 'cosine_annealing', total_steps=100)
    _loop(opt, short, 30)
    saved = short.state_dict()
    assert saved == {'last_epoch': 30, '_step_count': 31}
    opt2 = _optimizer()
    longer = ScheduleLR(opt2, 'cosine_annealing', total_steps=200)
    longer.load_state_dict(saved)
    expected = ScheduleSpec('cosine_annealing').build(Horizon(TimeUnit.BATCH, 200.0))(np.arange(30, 60))
    np.testing.assert_allclose(_loop(opt2, longer, 30)[:, 0], 0.1 * expected, rtol=1e-12)


def test_resume_equals_uninterrupted():
    opt = _optimizer()
    full = _loop(opt, ScheduleLR(opt, 'wsd', total_steps=80, t_warmup=8), 80)
    opt_a = _optimizer()
    a = ScheduleLR(opt_a, 'wsd', total_steps=80, t_warmup=8)
    first = _loop(opt_a, a, 50)
    opt_b = _optimizer()
    b = ScheduleLR(opt_b, 'wsd', total_steps=80, t_warmup=8)
    b.load_state_dict(a.state_dict())
    np.testing.assert_allclose(np.vstack([first, _loop(opt_b, b, 30)]), full, rtol=1e-12)


def test_core_schedule_as_absolute_lrs():
    """The tutorial's schedules are in absolute LRs: use them as they are."""
    opt = _optimizer()
    tri = TriangularSchedule(min_lr=0.01, max_lr=0.5, cycle_length=40, inc_fraction=0.25)
    seen = _loop(opt, ScheduleLR(opt, tri, absolute=True), 50)
    np.testing.assert_allclose(seen[:, 0], tri(np.arange(50)), rtol=1e-12)
    np.testing.assert_allclose(seen[:, 1], tri(np.arange(50)), rtol=1e-12)


def test_scale_schedule_hook_dilates_all_but_the_warmup():
    opt = _optimizer()
    sched = ScheduleLR(opt, 'wsd', total_steps=100, t_warmup=10, t_cooldown='30ba')
    sched.scale_schedule(0.5)
    seen = _loop(opt, sched, 50)[:, 0]
    expected = ScheduleSpec('wsd', t_warmup=10, t_cooldown='30ba').build(
        Horizon(TimeUnit.BATCH, 50.0, ssr=0.5))(np.arange(50))
    np.testing.assert_allclose(seen, 0.1 * expected, rtol=1e-12)
    assert seen[10] == pytest.approx(0.1) and seen[35] == pytest.approx(0.1) and seen[49] < 0.01


@pytest.mark.parametrize('kwargs,needle', [
    (dict(schedule='wsd'), 'total_steps'),
    (dict(schedule='wsd', total_steps=0), 'total_steps'),
    (dict(schedule='wsd', total_steps=10, t_cooldown='5sp'), 'samples or tokens'),
    (dict(schedule='wsd', total_steps=10, absolute=True), 'absolute'),
    (dict(schedule=TriangularSchedule(0, 1, 10), total_steps=10, t_warmup=3), 'Schedule object'),
    (dict(schedule='nope', total_steps=10), 'not registered'),
])
def test_bad_arguments(kwargs, needle):
    with pytest.raises(ValueError, match=needle):
        ScheduleLR(_optimizer(), **kwargs)
