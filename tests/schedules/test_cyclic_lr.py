"""cyclic_lr, the method added the documented way (issue 14: one module and this test): torch's CyclicLR cycles in
its three modes, against torch's own scheduler stepped for hundreds of steps and against the values torch's own test
suite expects; plus the errors a user gets, in their own parameter names."""
import numpy as np
import pytest
import torch
from composer.core import Time, TimeUnit

from composer_sched.adapters.composer import ComposerScheduler
from composer_sched.adapters.spec import ScheduleSpec
from composer_sched.adapters.torch import ScheduleLR
from composer_sched.schedules import CyclicLRSchedule, get_method

# Expected values carried from torch's own tests: pytorch/pytorch, test/optim/test_lrscheduler.py (commit
# 01f9ef32eae5ef513002dd44902c23cbe6be3aae), TestLRScheduler.test_cycle_lr_* (base_lr=1, max_lr=5; the i-th value
# is the LR before the i-th step, i.e. at iteration i).
_XS = [0, 0.25, 0.5, 0.75, 1, 0.75, 0.50, 0.25, 0, 0.25, 0.5, 0.75, 1]
_XS_UP_DOWN = [0.0, 0.5, 1.0, 5.0 / 6, 4.0 / 6, 3.0 / 6, 2.0 / 6, 1.0 / 6, 0.0, 0.5, 1.0, 5.0 / 6, 4.0 / 6]
TORCH_SUITE = {
    'triangular_mode_one_lr': (dict(step_size_up=4, mode='triangular'), [1, 2, 3, 4, 5, 4, 3, 2, 1, 2, 3]),
    'triangular2_mode_one_lr': (dict(step_size_up=4, mode='triangular2'),
                                [1, 2, 3, 4, 5, 4, 3, 2, 1, 1.5, 2.0, 2.5, 3.0, 2.5, 2.0, 1.5, 1, 1.25, 1.50, 1.75,
                                 2.00, 1.75]),
    'exp_range_mode_one_lr': (dict(step_size_up=4, mode='exp_range', gamma=0.9),
                              [1 + x * 4 * 0.9 ** i for i, x in enumerate(_XS)]),
    'triangular_mode_step_size_up_down': (dict(step_size_up=4, step_size_down=6, mode='triangular'),
                                          [1.0, 2.0, 3.0, 4.0, 5.0, 13.0 / 3, 11.0 / 3, 9.0 / 3, 7.0 / 3, 5.0 / 3,
                                           1.0]),
    'triangular2_mode_step_size_up_down': (dict(step_size_up=2, step_size_down=6, mode='triangular2'),
                                           [1.0, 3.0, 5.0, 13.0 / 3, 11.0 / 3, 9.0 / 3, 7.0 / 3, 5.0 / 3, 1.0, 2.0,
                                            3.0, 8.0 / 3, 7.0 / 3, 6.0 / 3, 5.0 / 3, 4.0 / 3, 1.0, 3.0 / 2, 2.0,
                                            11.0 / 6, 10.0 / 6, 9.0 / 6, 8.0 / 6, 7.0 / 6]),
    'exp_range_mode_step_size_up_down': (dict(step_size_up=2, step_size_down=6, mode='exp_range', gamma=0.9),
                                         [1 + x * 4 * 0.9 ** i for i, x in enumerate(_XS_UP_DOWN)]),
}


def _opt(lr):
    return torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=lr)


@pytest.mark.parametrize('case', sorted(TORCH_SUITE))
def test_torch_test_suite_values(case):
    kwargs, expected = TORCH_SUITE[case]
    t = np.arange(len(expected), dtype=float)
    core = CyclicLRSchedule(min_lr=1, max_lr=5, **kwargs)
    np.testing.assert_allclose(core(t), expected, rtol=1e-12)
    np.testing.assert_allclose([core(float(i)) for i in t], expected, rtol=1e-12)
    # the registered method in a PyTorch loop: multipliers of the optimizer's LR (1 here), durations in steps
    params = dict(t_up=kwargs['step_size_up'], t_down=kwargs.get('step_size_down', kwargs['step_size_up']),
                  mode=kwargs['mode'], gamma=kwargs.get('gamma', 1.0), alpha_min=1.0, alpha_max=5.0)
    opt = _opt(1.0)
    sched = ScheduleLR(opt, 'cyclic_lr', total_steps=len(expected), **params)
    got = []
    for _ in expected:
        got.append(opt.param_groups[0]['lr'])
        opt.step()
        sched.step()
    np.testing.assert_allclose(got, expected, rtol=1e-12)


STEPPED = [  # (mode, t_up, t_down, gamma): several hundred steps, uneven up/down, many cycles
    ('triangular', 37, 23, 1.0),
    ('triangular2', 25, 40, 1.0),
    ('exp_range', 30, 30, 0.995),
    ('exp_range', 17, 0, 0.999),  # no fall: a sawtooth (torch takes step_size_down=0 as given)
]


@pytest.mark.parametrize('mode,up,down,gamma', STEPPED)
def test_parity_with_torch_cyclic_lr_stepped(mode, up, down, gamma):
    steps, base, peak = 600, 0.004, 0.1
    theirs_opt, ours_opt = _opt(peak), _opt(peak)
    theirs = torch.optim.lr_scheduler.CyclicLR(theirs_opt, base_lr=base, max_lr=peak, step_size_up=up,
                                               step_size_down=down, mode=mode, gamma=gamma, cycle_momentum=False)
    ours = ScheduleLR(ours_opt, 'cyclic_lr', total_steps=steps, t_up=up, t_down=down, mode=mode, gamma=gamma,
                      alpha_min=base / peak, alpha_max=1.0)
    expected, got = [], []
    for _ in range(steps):
        expected.append(theirs.get_last_lr()[0])
        got.append(ours.get_last_lr()[0])
        for o, s in ((theirs_opt, theirs), (ours_opt, ours)):
            o.step()
            s.step()
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-15)
    assert expected[0] == pytest.approx(base) and max(expected) > 0.8 * peak and sum(np.diff(expected) > 0) > 100
    # the Composer scheduler (durations in batches, on a 600-batch run) follows the same curve
    core = ComposerScheduler('cyclic_lr', t_up=f'{up}ba', t_down=f'{down}ba', mode=mode, gamma=gamma,
                             alpha_min=base / peak).schedule('600ba')
    np.testing.assert_allclose(peak * core(np.arange(steps, dtype=float)), expected, rtol=1e-12, atol=1e-15)


def test_exp_range_decays_per_duration_so_a_scaled_run_dilates_it():
    # gamma applies per decay_period (a duration, '1ba' = torch's per iteration): at ratio 2 the whole curve,
    # decay included, is the ratio-1 curve stretched 2x in time (the registry's ratio law).
    sched = ComposerScheduler('cyclic_lr', t_up='20ba', t_down='30ba', mode='exp_range', gamma=0.99)
    base = sched.schedule(Time(500, TimeUnit.BATCH), ssr=1.0)
    scaled = sched.schedule(Time(1000, TimeUnit.BATCH), ssr=2.0)
    ts = np.linspace(0, 500, 333) + 0.25
    np.testing.assert_allclose(scaled(2 * ts), base(ts), rtol=1e-9)


def test_the_registry_describes_it():
    m = get_method('cyclic_lr')
    assert [p.name for p in m.params] == ['t_up', 't_down', 'mode', 'alpha_min', 'alpha_max', 'gamma',
                                          'decay_period']
    assert m.param('mode').choices == ('triangular', 'triangular2', 'exp_range')
    assert 'CyclicLR' in m.reference and m.summary.startswith("torch's CyclicLR")
    assert ScheduleSpec('cyclic_lr', **m.example)  # its example builds (and the contract tests take it from here)


BAD = [  # (params, the message, in the user's names)
    (dict(mode='traingular'), r"mode='traingular' is not allowed: mode must be one of 'triangular', 'triangular2', "
                              r"'exp_range' \(did you mean 'triangular'"),
    (dict(mode='exp_range', gamma=1.5), r'gamma=1.5 is not allowed: gamma must be in \[0, 1\]'),
    (dict(mode='triangular2', gamma=0.9), r"gamma=0.9 is not allowed: gamma must be 1 unless mode='exp_range'"),
    (dict(alpha_min=-0.1), r'alpha_min=-0.1 is not allowed: alpha_min must be in \[0, inf\]'),
    (dict(step_size_up=4), r"unknown parameter 'step_size_up'"),
]


@pytest.mark.parametrize('params,message', BAD, ids=[m.split('=')[0].split("'")[-1] for _, m in BAD])
def test_bad_parameters_fail_at_construction_in_the_users_names(params, message):
    with pytest.raises(ValueError, match=message):
        ComposerScheduler('cyclic_lr', **params)
    with pytest.raises(ValueError, match=message):
        ScheduleLR(_opt(0.1), 'cyclic_lr', total_steps=100, **params)


def test_a_rise_of_no_length_fails_before_training_naming_t_up():
    with pytest.raises(ValueError, match=r't_up=0\.0 is not allowed: t_up must be in \(0, inf\]'):
        ComposerScheduler('cyclic_lr', t_up='0ba').schedule('100ba')
    with pytest.raises(ValueError, match='t_up'):
        ScheduleLR(_opt(0.1), 'cyclic_lr', total_steps=100, t_up=0)
    with pytest.raises(ValueError, match='step_size_up'):  # the core shape, in its own names
        CyclicLRSchedule(min_lr=0.1, max_lr=1.0, step_size_up=0)


def test_values_are_finite_and_between_the_bounds_far_past_the_run():
    for mode in ('triangular', 'triangular2', 'exp_range'):
        s = CyclicLRSchedule(min_lr=0.2, max_lr=1.0, step_size_up=1e-300, step_size_down=3.0, mode=mode, gamma=0.5
                             if mode == 'exp_range' else 1.0)
        ts = np.array([0.0, 1.0, 1e6, 1e15, 1e300])
        for values in (s(ts), np.array([s(float(t)) for t in ts])):
            assert np.all(np.isfinite(values)) and np.all((values >= 0.2) & (values <= 1.0)), (mode, values)


def test_a_rise_too_short_to_resolve_is_instant_not_nan():
    # Found by the registry fuzz: t_up='5e-324dur' resolves to a subnormal, up / (up + down) underflows to 0 and the
    # rise was 0 / 0 = nan at the start of each cycle. Such a rise is instant: the cycle starts at its peak.
    s = CyclicLRSchedule(min_lr=0.0, max_lr=1.0, step_size_up=5e-324, step_size_down=3.0)
    values = s(np.array([0.0, 1.0, 3.0]))
    assert values[0] == values[2] == 1.0
    np.testing.assert_allclose(values[1], 2 / 3, rtol=1e-12)  # falling: 2 of the 3 fall steps left
    assert [s(t) for t in (0.0, 1.0, 3.0)] == values.tolist()
