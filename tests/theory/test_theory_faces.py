"""The paper's schedule classes are faces over the registered methods: one definition of each shape.

Each case states, independently of the class, how the paper's arguments convert to the method's (the docstrings'
conversions) and asserts the class's array is *exactly* that method's schedule on the same steps, so a second
formula written into ``composer_sched.theory`` (even one equal up to rounding) fails here.
"""
import inspect

import numpy as np
import pytest

from composer_sched import schedules as core
from composer_sched import theory
from composer_sched.schedules.registry import get_method
from composer_sched.theory import (
    ConstantSchedule,
    CosineSchedule,
    PiecewiseConstantSchedule,
    PolynomialBackwardSchedule,
    PolynomialCooldownSchedule,
    ScheduleBase,
    SqrtSchedule,
    WSDSchedule,
)


def _method(name, steps, **params):
    return np.asarray(get_method(name).build(**params)(np.asarray(steps, dtype=float)), dtype=float)


# (theory schedule, registered method, its parameters, the core times of the steps compared); no warm-up, so
# step i is the method's value at t = i. C = int(cooldown_len * steps); the decay ends at the last step: t_max = N - 1.
FACES = [
    (lambda: WSDSchedule(steps=11, cooldown_len=0.2), 'wsd',
     dict(t_cooldown=2, alpha_f=0.0, decay_type='linear', t_max=10), range(11)),
    (lambda: WSDSchedule(steps=101, cooldown_len=0.35, final_lr=0.1, decay_type='sqrt'), 'wsd',
     dict(t_cooldown=35, alpha_f=0.1, decay_type='sqrt', t_max=100), range(101)),
    (lambda: WSDSchedule(steps=50, cooldown_len=0.2, final_lr=0.01, final_lr_absolute=True, base_lr=0.5), 'wsd',
     dict(t_cooldown=10, alpha_f=0.02, decay_type='linear', t_max=49), range(50)),
    (lambda: WSDSchedule(steps=11, cooldown_len=1.0), 'wsd',  # linear decay: one main step kept, C = 10
     dict(t_cooldown=10, alpha_f=0.0, decay_type='linear', t_max=10), range(11)),
    (lambda: WSDSchedule(steps=1, cooldown_len=0.5), 'wsd',  # one main step: t_max is 1, never 0
     dict(t_cooldown=0, alpha_f=0.0, decay_type='linear', t_max=1), range(1)),
    (lambda: ConstantSchedule(steps=7), 'constant', dict(alpha=1.0), range(7)),
    (lambda: CosineSchedule(steps=1), 'cosine_annealing', dict(t_max=1, alpha_f=0.0, alpha_i=1.0), range(1)),
    (lambda: CosineSchedule(steps=11), 'cosine_annealing', dict(t_max=10, alpha_f=0.0, alpha_i=1.0), range(11)),
    (lambda: CosineSchedule(steps=64, final_lr=0.1), 'cosine_annealing',
     dict(t_max=63, alpha_f=0.1, alpha_i=1.0), range(64)),
    (lambda: SqrtSchedule(steps=11), 'inverse_sqrt',
     dict(t_scale=1.0, t_cooldown=0, alpha_f=0.0, decay_type='linear', t_max=10), range(11)),
    (lambda: SqrtSchedule(steps=101, cooldown_len=0.2, final_lr=0.01, decay_type='sqrt'), 'inverse_sqrt',
     dict(t_scale=1.0, t_cooldown=20, alpha_f=0.01, decay_type='sqrt', t_max=100), range(101)),
    (lambda: PolynomialCooldownSchedule(alpha=0.5, steps=40, cooldown_len=0.5), 'inverse_sqrt',
     dict(t_scale=1.0, t_cooldown=20, alpha_f=0.0, decay_type='linear', t_max=39), range(40)),
    (lambda: PolynomialBackwardSchedule(steps=5, alpha=2.0), 'polynomial',
     dict(power=2.0, t_max=4, alpha_f=0.0), range(5)),
    (lambda: PolynomialBackwardSchedule(steps=33, alpha=0.7, final_lr=0.2), 'polynomial',
     dict(power=0.7, t_max=32, alpha_f=0.2), range(33)),
    (lambda: PiecewiseConstantSchedule(steps=11, milestones=[4, 8], factors=[.5, .1]), 'piecewise_constant',
     dict(milestones=[4, 8], factors=[.5, .1]), range(11)),
]


@pytest.mark.parametrize('make, method, params, times', FACES)
def test_array_is_the_registered_method_on_the_same_steps(make, method, params, times):
    s = make()
    assert s.method == method
    np.testing.assert_array_equal(s.unscaled_schedule, _method(method, times, **params))
    np.testing.assert_array_equal(s.schedule, s.base_lr * _method(method, times, **params))


def test_with_a_warm_up_the_methods_clock_starts_after_it():
    # W = 3 warm-up steps prepended; the method runs on the M + C = 8 steps after them (t_max = 8 - 1).
    w = {'steps': 3, 'warmup_lr': 0.1}
    s = WSDSchedule(steps=11, cooldown_len=0.2, warmup_kwargs=w)
    np.testing.assert_array_equal(s.unscaled_schedule[3:], _method(
        'wsd', range(8), t_cooldown=2, alpha_f=0.0, decay_type='linear', t_max=7))
    c = CosineSchedule(steps=11, warmup_kwargs=w)
    np.testing.assert_array_equal(c.unscaled_schedule[3:], _method(
        'cosine_annealing', range(8), t_max=7, alpha_f=0.0, alpha_i=1.0))
    # Milestones count from the first step, warm-up included: the main steps are t = 3..10 of the method.
    p = PiecewiseConstantSchedule(steps=11, milestones=[4, 8], factors=[.5, .1], warmup_kwargs=w)
    np.testing.assert_array_equal(p.unscaled_schedule[3:], _method(
        'piecewise_constant', range(3, 11), milestones=[4, 8], factors=[.5, .1]))


def test_a_generic_cool_down_is_the_core_cool_down_of_the_method():
    # PiecewiseConstantSchedule's cooldown_kwargs: the core LinearCoolDown from the last main step (t = 7).
    s = PiecewiseConstantSchedule(steps=11, milestones=[4], factors=[.5],
                                  cooldown_kwargs={'steps': 3, 'type': 'sqrt', 'final_lr': 0.1})
    wrapped = core.LinearCoolDown(get_method('piecewise_constant').build(milestones=[4], factors=[.5]),
                                  finish_lr=0.1, start_idx=7.0, length=3.0, shape='sqrt')
    np.testing.assert_array_equal(s.unscaled_schedule, wrapped(np.arange(11, dtype=float)))


def test_polynomial_exponent_is_the_inverse_sqrt_core_shape_with_another_power():
    # The one knob the inverse_sqrt method does not expose: its core shape's power.
    s = PolynomialCooldownSchedule(alpha=1.5, steps=40, cooldown_len=0.25)
    shape = core.LinearCoolDown(core.InverseSqrtSchedule(scale=1.0, power=1.5), finish_lr=0.0, start_idx=29.0,
                                length=10.0)
    np.testing.assert_array_equal(s.unscaled_schedule, shape(np.arange(40, dtype=float)))


def test_every_paper_class_names_a_registered_method_and_shares_a_name_only_with_its_methods_core_shape():
    classes = [getattr(theory, n) for n in theory.__all__
               if inspect.isclass(getattr(theory, n)) and issubclass(getattr(theory, n), ScheduleBase)]
    faces = [c for c in classes if c is not ScheduleBase]
    assert len(faces) == 7
    for cls in faces:
        get_method(cls.method)  # a ValueError if the class names no registered method
        assert cls.method_params is not ScheduleBase.method_params, cls.__name__
    # The naming scheme (issue 24) names the core shapes for their methods: composer_sched.ConstantSchedule is the
    # 'constant' method's shape, composer_sched.theory.ConstantSchedule the paper's class over that same method.
    # Only such pairs share a name, and the paper's classes stay out of the top level.
    import composer_sched
    public_core = {n for n in dir(core) if not n.startswith('_') and inspect.isclass(getattr(core, n))}
    for name in public_core & {c.__name__ for c in classes}:
        assert getattr(theory, name).method == {'ConstantSchedule': 'constant',
                                                'PiecewiseConstantSchedule': 'piecewise_constant'}[name]
        assert getattr(composer_sched, name) is getattr(core, name)


def test_an_error_of_the_method_names_the_argument_of_the_class():
    class Rising(CosineSchedule):  # a conversion gone wrong: the method refuses alpha_f < 0
        def method_params(self):
            return {**super().method_params(), 'alpha_f': -0.5}

    with pytest.raises(ValueError, match=r'^final_lr=-0.5 is not allowed'):
        Rising(steps=11)
