"""Issue 13's findings on the schedule contract, one test each: what was accepted and then failed mid-run (or gave
inf/NaN, or a traceback, or named a parameter the user never passed) is now either defined and finite, or a
ValueError before training naming the user's own parameter, its value and what is allowed."""
import math

import numpy as np
import pytest
import torch
from composer.core import Time, TimeUnit

from composer_sched import ComposerScheduler, ScheduleLR, preview
from composer_sched.schedules import MAX_GROWTH, get_method, method_names
from tests.helpers import tiny_trainer
from tests.schedules.test_contract import assert_names_a_user_parameter


def build(name, max_duration='100ba', **params):
    return ComposerScheduler(name, **params).schedule(max_duration)


def values(name, total=100, **params):
    return build(name, f'{total}ba', **params)(np.arange(total + 1.0))


def _opt(lr=1.0):
    return torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=lr)


# -- shrinking cycles: accepted, then `math domain error` at batch 50 of 100 --------------------------------------

@pytest.mark.parametrize('name,params,decay', [
    ('sgdr', dict(t_0='25ba', t_mult=0.5), 't_mult'),
    ('cyclical', dict(t_0='25ba', t_mult=0.5), 't_mult'),  # cyclical adopted sgdr's names (issue 14)
    ('sgdr', dict(t_0='0.25dur', t_mult=0.0), 't_mult'),
    ('cyclical', dict(t_0='0.5dur', t_mult=0.0), 't_mult'),
])
def test_shrinking_cycles_that_do_not_cover_the_run_fail_at_the_start(name, params, decay):
    # 25 * (1 + 1/2 + 1/4 + ...) = 50 < 100: rejected when the horizon is known, with the smallest decay allowed.
    with pytest.raises(ValueError, match=rf'{decay}=0\.[05] is not allowed on this horizon') as info:
        build(name, **params)
    assert_names_a_user_parameter(info.value, get_method(name))
    assert 'must be >= 0.75' in str(info.value) or 'must be >= 0.5' in str(info.value)
    with pytest.raises(ValueError, match=decay):  # and in a PyTorch loop at construction, not at step 60
        ScheduleLR(_opt(), name, total_steps=100, **params)


def test_shrinking_cycles_that_cover_the_run_train_to_the_end_and_past_it():
    # 50 * (1 + 1/2 + ...) = 100: the cycles end with the run, then hold alpha_f (the cycles' limit).
    v = values('sgdr', t_0='50ba', t_mult=0.5, alpha_f=0.1)
    assert np.all(np.isfinite(v)) and v.min() >= 0.1 - 1e-12 and v[0] == 1.0 and v[50] == 1.0 and v[75] == 1.0
    assert v[100] == pytest.approx(0.1)
    opt = _opt()
    lr = ScheduleLR(opt, 'sgdr', total_steps=100, t_0='50ba', t_mult=0.5, alpha_f=0.1)
    for _ in range(150):  # stepping on past the run holds the limit
        opt.step(), lr.step()
    assert lr.get_last_lr() == [pytest.approx(0.1)]
    # t_mult=0 (one cycle, no restart) as long as the run is cosine annealing
    np.testing.assert_allclose(values('sgdr', t_0='1dur', t_mult=0.0), values('cosine_annealing'), atol=1e-15)


@pytest.mark.slow
def test_trainer_refuses_shrinking_cycles_at_construction_and_trains_a_covered_horizon():
    with pytest.raises(ValueError, match='t_mult=0.5 is not allowed'):
        tiny_trainer([ComposerScheduler('sgdr', t_0='4ba', t_mult=0.5)], max_duration='16ba')
    sched = ComposerScheduler('sgdr', t_0='8ba', t_mult=0.5)  # 8 + 4 + 2 + ... = 16
    trainer, rec = tiny_trainer([sched], max_duration='16ba')
    trainer.fit()
    lrs = rec.first_group()
    assert len(lrs) == 16 and np.all(np.isfinite(lrs))
    np.testing.assert_allclose(lrs, preview(sched, '16ba'), rtol=1e-12)
    assert sum(np.diff(lrs) > 0) >= 3  # it restarted (at 8, 12, 14)


# -- growth: overflow mid-run, inf in preview ---------------------------------------------------------------------

GROWTH = [
    ('exponential', dict(gamma=1.5, decay_period='1ba'), 'gamma', 1e10 ** (1 / 100)),
    ('step', dict(step_size='1ba', gamma=10.0), 'gamma', 1e10 ** (1 / 100)),
    ('multi_step', dict(milestones=['10ba', '20ba'], gamma=1e6), 'gamma', 1e5),
    # the run's last LR is set at t = 100 (after the last batch): cycle 100
    ('cyclical', dict(t_0='1ba', magnitude_decay=2.0), 'magnitude_decay', 1e10 ** (1 / 100)),
    ('sgdr', dict(t_0='1ba', magnitude_decay=2.0), 'magnitude_decay', 1e10 ** (1 / 100)),
]


@pytest.mark.parametrize('name,params,param,limit', GROWTH, ids=[g[0] for g in GROWTH])
def test_runaway_growth_fails_at_the_start_with_the_largest_value_allowed(name, params, param, limit):
    with pytest.raises(ValueError, match=rf'{param}=\S+ is not allowed on this horizon') as info:
        build(name, **params)
    assert_names_a_user_parameter(info.value, get_method(name))
    allowed = float(str(info.value).rsplit('must be <= ', 1)[1].split(' ')[0])
    assert allowed == pytest.approx(limit, rel=1e-5) and allowed <= limit
    with pytest.raises(ValueError, match=param):  # the dry run / preview says so instead of showing inf
        preview(ComposerScheduler(name, **params), '100ba')
    # the largest value allowed trains: finite to the end, growth within MAX_GROWTH
    v = values(name, **{**params, param: allowed})
    assert np.all(np.isfinite(v)) and v.max() <= MAX_GROWTH * max(1.0, v[0])


def test_growth_within_bounds_matches_torch_exponential_lr():
    # torch allows ExponentialLR(gamma > 1) (an LR range test): so do we, over a run it stays bounded on.
    # Peer: torch.optim.lr_scheduler.ExponentialLR (torch 2.x, lr_scheduler.py): lr_k = lr_0 * gamma**k.
    ours, theirs = _opt(1e-6), _opt(1e-6)
    a = ScheduleLR(ours, 'exponential', total_steps=100, gamma=1.2, decay_period=1)
    b = torch.optim.lr_scheduler.ExponentialLR(theirs, gamma=1.2)
    for _ in range(100):
        assert a.get_last_lr()[0] == pytest.approx(b.get_last_lr()[0], rel=1e-9)
        ours.step(), theirs.step(), a.step(), b.step()


def test_growth_past_the_run_never_raises():
    s = build('exponential', gamma=1.2, decay_period='1ba')  # 1.2**100 = 8e7: accepted on 100 batches
    assert s(1e6) == math.inf and s(np.array([1e6]))[0] == math.inf  # torch's float overflow, not OverflowError
    assert np.isnan(build('cyclical', t_0='1ba', magnitude_decay=1.2, alpha_min=0.0)(
        np.array([1e5, 1e5 + 1]))).sum() == 0


# -- bounds drift: the registry's inclusive bounds pass construction, the shapes refused them at BEFORE_LOAD ------

def test_registry_bounds_build():
    np.testing.assert_array_equal(values('polynomial', power=0.0), 1.0)  # (1 - t/T)**0: constant
    v = values('exponential', gamma=0.0, decay_period='10ba')  # torch ExponentialLR(gamma=0): 0 after step 0
    assert v[0] == 1.0 and np.all(v[1:] == 0.0)
    v = values('multi_factor', step=['10ba'], factor=0.0)  # MXNet allows factor 0 (only > 1 is refused)
    assert np.all(v[:11] == 1.0) and np.all(v[11:] == 0.0)
    np.testing.assert_allclose(values('cyclical', t_0='1dur', t_mult=0.0, alpha_min=0.1),
                               values('triangular', alpha_min=0.1), atol=1e-15)


@pytest.mark.parametrize('name', method_names())
def test_every_bound_a_param_admits_builds(name):
    """Each numeric Param's own closed lo/hi (an open one is refused at construction), with the other arguments at
    their examples, builds finite on 1000 batches
    (the cycles' decay at 0 only when one cycle covers the run, by the rule tested above). A method whose config
    has a cross-field rule (check()) may refuse a bound with another argument's example, at construction, naming a
    parameter of its own (cyclic_lr: gamma != 1 only with mode='exp_range')."""
    from composer_sched.schedules import MethodConfig
    method = get_method(name)
    base = dict(method.example)
    if name in ('sgdr', 'cyclical'):
        base['t_0'] = '1dur'
    if name == 'lr_noise':  # seed + step index < 2**32 (torch's seeding): one noise step covers the run at seed's hi
        base['t_step'] = '1dur'
    for p in method.params:
        for bound, is_open in ((p.lo, p.lo_open), (p.hi, p.hi_open)):
            if bound is None or p.choices is not None or p.name == 'factors':
                continue
            if is_open:  # the bound itself is not admitted: refused at construction, naming the parameter
                with pytest.raises(ValueError, match=p.name):
                    method.config(**{**base, p.name: bound})
                continue
            try:
                v = values(name, 1000, **{**base, p.name: bound})
            except ValueError as e:
                assert method.config.check is not MethodConfig.check, (p.name, bound, e)
                with pytest.raises(ValueError):
                    method.config(**{**base, p.name: bound})  # refused at construction, not at the start
                assert_names_a_user_parameter(e, method)
                continue
            assert np.all(np.isfinite(v)) and np.all(v >= 0), (p.name, bound)


# -- names: the user's own parameter, never the core's ------------------------------------------------------------

@pytest.mark.parametrize('name,params,needle', [
    ('wsd', dict(t_cooldown='200ba'), 't_cooldown=200'),
    ('cosine_annealing', dict(t_max='0ba'), 't_max='),
    ('triangular', dict(t_cycle='0ba'), 't_cycle='),
    ('sgdr', dict(t_0='0ba'), 't_0=0'),
    ('exponential', dict(gamma=0.5, decay_period='0ba'), 'decay_period=0'),
    ('inverse_sqrt', dict(t_scale='0ba'), 't_scale=0'),
    ('piecewise_constant', dict(milestones=['10ba'], factors=[0.5, 0.1]), 'factors='),
])
def test_errors_at_the_start_name_the_users_parameter(name, params, needle):
    with pytest.raises(ValueError, match=needle) as info:
        build(name, **params)
    assert_names_a_user_parameter(info.value, get_method(name))


def test_triangular_with_alpha_max_below_alpha_min_is_a_dip():
    # Triangular(alpha_min=0.5, alpha_max=0.2) used to fail naming max_lr/min_lr; cosine already allows a rise.
    v = values('triangular', alpha_min=0.5, alpha_max=0.2)
    assert v[0] == 0.5 and v[50] == pytest.approx(0.2) and v[100] == pytest.approx(0.5) and v.min() >= 0.2 - 1e-12


def test_piecewise_constant_with_one_factor_applies_it_at_every_milestone():
    np.testing.assert_allclose(values('piecewise_constant', milestones=['10ba', '50ba'], factors=0.5),
                               values('multi_step', milestones=['10ba', '50ba'], gamma=0.5))


# -- tracebacks instead of one error -------------------------------------------------------------------------------

@pytest.mark.parametrize('name', method_names())
def test_an_overflowing_time_string_is_a_value_error_naming_it(name):
    method = get_method(name)
    for p in method.params:
        if p.kind in ('duration', 'durations'):
            value = '1e400ba' if p.kind == 'duration' else ['1e400ba']
            with pytest.raises(ValueError, match=rf'{p.name}(\[0\])?=.*1e400ba'):
                ComposerScheduler(name, **{**method.example, p.name: value})
    with pytest.raises(ValueError, match='t_warmup'):
        ComposerScheduler(name, **method.example, t_warmup='1e400ba')


def test_schedule_lr_load_state_dict_none_and_repr():
    lr = ScheduleLR(_opt(), 'wsd', total_steps=100, t_cooldown='0.3dur')
    with pytest.raises(ValueError, match='state_dict=None is not allowed'):
        lr.load_state_dict(None)
    assert repr(lr) == "ScheduleLR('wsd', total_steps=100, t_cooldown='0.3dur')"


def test_theory_inputs():
    from composer_sched.theory import WSDSchedule, compute_optimal_base, horizon_transfer
    with pytest.raises(ValueError, match=r"family=\['wsd'\] is not allowed"):
        horizon_transfer(['wsd'], 4000, 8000)
    with pytest.raises(ValueError, match='G=0 is not allowed'):  # was (inf, 0.0): an infinite "optimal" LR
        compute_optimal_base(WSDSchedule(steps=101, cooldown_len=0.2), G=0, D=1, T=100)


def test_autowu_step_with_a_list():
    from composer_sched.algorithms.autowu.scheduler import AutoWUScheduler
    sched = AutoWUScheduler(_opt(), steps_per_epoch=10, total_epochs=2)
    with pytest.raises(ValueError, match=r'loss=\[0.5\] is not allowed'):
        sched.step([0.5])


def test_max_duration_horizons_in_samples_and_tokens():
    # The contract holds on every axis the adapters accept: growth is checked against samples too.
    with pytest.raises(ValueError, match='gamma'):
        ComposerScheduler('exponential', gamma=1.5, decay_period='1sp').schedule(Time(1000, TimeUnit.SAMPLE))
    s = ComposerScheduler('exponential', gamma=1.01, decay_period='1tok').schedule(Time(1000, TimeUnit.TOKEN))
    assert math.isfinite(s(1000.0))
