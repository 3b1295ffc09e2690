"""The paper's schedule classes: reference arrays of the `scheduled` package (convex-bounds.md B.2) and validation."""
import numpy as np
import pytest

from composer_sched.schedules import InverseSqrtSchedule
from composer_sched.theory import (
    ConstantSchedule,
    CosineSchedule,
    PiecewiseConstantSchedule,
    PolynomialBackwardSchedule,
    PolynomialCooldownSchedule,
    SqrtSchedule,
    WSDSchedule,
)

SQRT = [1 / np.sqrt(t) for t in range(1, 12)]

# steps = 11, base 1: arrays listed by the reference package's documentation of its own output.
REFERENCE = [
    (lambda: WSDSchedule(steps=11, cooldown_len=0.2), [1] * 9 + [0.5, 0]),
    (lambda: WSDSchedule(steps=11, cooldown_len=0.2, decay_type='sqrt'), [1] * 9 + [0.292893, 0]),
    (lambda: WSDSchedule(steps=11, cooldown_len=1.0), [1, .9, .8, .7, .6, .5, .4, .3, .2, .1, 0]),
    (lambda: CosineSchedule(steps=11),
     [1, .975528, .904508, .793893, .654508, .5, .345492, .206107, .095492, .024472, 0]),
    (lambda: SqrtSchedule(steps=11), SQRT),
    (lambda: SqrtSchedule(steps=11, cooldown_len=0.2), SQRT[:9] + [0.166667, 0]),
    (lambda: CosineSchedule(steps=11, warmup_kwargs={'steps': 3, 'warmup_lr': 0.1}),
     [.1, .4, .7, 1, .950484, .811745, .61126, .38874, .188255, .049516, 0]),
    (lambda: PiecewiseConstantSchedule(steps=11, milestones=[4, 8], factors=[.5, .1]),
     [1, 1, 1, 1, .5, .5, .5, .5, .05, .05, .05]),
    (lambda: ConstantSchedule(steps=11), [1] * 11),
]


@pytest.mark.parametrize('make, expected', REFERENCE)
def test_reference_arrays(make, expected):
    np.testing.assert_allclose(make().schedule, expected, atol=5e-7)


def test_cosine_with_final_lr_ends_exactly_there():
    s = CosineSchedule(steps=11, final_lr=0.1).schedule
    np.testing.assert_allclose(s[[0, 1, 2, 9, 10]], [1, .977975, .914058, .122025, .1], atol=5e-7)
    assert s[-1] == pytest.approx(0.1, abs=1e-15)


def test_cooldown_start_follows_steps_plus_one_convention():
    for T, T0 in ((100, 81), (500, 401), (1000, 801)):
        s = WSDSchedule(steps=T + 1, cooldown_len=0.2, base_lr=0.3)
        assert s.cooldown_start == T0
        assert s.schedule[T0 - 1] == 0.3 and s.schedule[T0] < 0.3
    assert WSDSchedule(steps=11, cooldown_len=1.0).cooldown_start == 1


def test_base_lr_scales_and_absolute_final_lr_is_an_lr():
    s = WSDSchedule(steps=11, cooldown_len=0.2, base_lr=2.0)
    np.testing.assert_allclose(s.schedule, 2 * np.array([1] * 9 + [0.5, 0]))
    a = WSDSchedule(steps=11, cooldown_len=0.2, final_lr=0.1, final_lr_absolute=True, base_lr=0.5)
    assert a.schedule[-1] == pytest.approx(0.1) and a.schedule[0] == 0.5
    a.set_base_lr(0.2)  # the relative target is recomputed: the last LR stays 0.1
    assert a.schedule[-1] == pytest.approx(0.1) and a.schedule[0] == 0.2
    r = WSDSchedule(steps=11, cooldown_len=0.2, final_lr=0.1, base_lr=0.5)
    r.set_base_lr(0.2)
    assert r.schedule[-1] == pytest.approx(0.02)


def test_absolute_warmup_lr_keeps_upstream_slope():
    s = WSDSchedule(steps=11, cooldown_len=0.2, base_lr=0.5,
                    warmup_kwargs={'steps': 2, 'warmup_lr': 0.1, 'warmup_lr_absolute': True})
    # first value is the absolute warm-up LR; the slope uses the unscaled w = 0.1: w/base + (1/2)(1 - w)
    assert s.schedule[0] == pytest.approx(0.1)
    assert s.schedule[1] == pytest.approx(0.5 * (0.2 + 0.45))
    assert s.schedule[2] == 0.5


def test_edge_case_warmup_plus_cooldown_fill_all_steps():
    s = WSDSchedule(steps=10, cooldown_len=0.5, warmup_kwargs={'steps': 5, 'warmup_lr': 0.0})
    assert (s._warmup_steps, s._cooldown_steps) == (5, 4)
    assert len(s.schedule) == 10 and s.schedule[5] == 1.0
    c = CosineSchedule(steps=4, warmup_kwargs={'steps': 4, 'warmup_lr': 0.0})
    assert c._warmup_steps == 3 and c.schedule[-1] == 1.0


def test_polynomial_shapes():
    np.testing.assert_allclose(PolynomialCooldownSchedule(alpha=1.0, steps=5).schedule, 1 / np.arange(1, 6))
    np.testing.assert_allclose(PolynomialCooldownSchedule(alpha=2.0, steps=4, cooldown_len=0.5).schedule,
                               [1, 0.25, 0.125, 0])
    np.testing.assert_allclose(PolynomialBackwardSchedule(steps=5, alpha=2.0, final_lr=0.2).schedule,
                               0.2 + 0.8 * ((5 - np.arange(1, 6)) / 4) ** 2)


def test_core_inverse_sqrt_power_option():
    assert InverseSqrtSchedule(scale=1.0)(3.0) == 0.5
    assert InverseSqrtSchedule(scale=1.0, power=1.0)(3.0) == 0.25
    np.testing.assert_allclose(InverseSqrtSchedule(scale=2.0, power=2.0)(np.array([0.0, 2.0])), [1.0, 0.25])
    with pytest.raises(ValueError, match='power'):
        InverseSqrtSchedule(scale=1.0, power=-1.0)


@pytest.mark.parametrize('make, arg', [
    (lambda: WSDSchedule(steps=0), 'steps'),
    (lambda: WSDSchedule(steps=10, cooldown_len=1.5), 'cooldown_len'),
    (lambda: WSDSchedule(steps=10, decay_type='cubic'), 'decay_type'),
    (lambda: WSDSchedule(steps=10, final_lr=2.0), 'final_lr'),
    (lambda: CosineSchedule(steps=10, base_lr=-1.0), 'base_lr'),
    (lambda: SqrtSchedule(steps=10, cooldown_len=0.2, final_lr=0.9), 'final_lr'),
    (lambda: PiecewiseConstantSchedule(steps=10, milestones=[4], factors=[]), 'factors'),
    (lambda: WSDSchedule(steps=10, warmup_kwargs={'step': 2}), 'warmup_kwargs'),
    (lambda: WSDSchedule(steps=10, warmup_kwargs={'steps': -1}), 'warmup_kwargs'),
    (lambda: WSDSchedule(steps=10).set_base_lr(-0.1), 'lr'),
])
def test_bad_arguments_name_the_argument(make, arg):
    with pytest.raises(ValueError, match=arg):
        make()


def test_schedule_is_not_writable_through_unscaled_view():
    s = WSDSchedule(steps=11)
    with pytest.raises(ValueError):
        s.unscaled_schedule[0] = 5.0
    s.schedule[0] = 5.0  # a copy
    assert s.schedule[0] == 1.0


@pytest.mark.parametrize('cls', [CosineSchedule, WSDSchedule])
def test_set_base_lr_keeps_an_absolute_warmup_lr(cls):
    """The first warm-up value is an LR, whatever base LR is set later (CosineSchedule used to forget it)."""
    s = cls(steps=50, base_lr=1.0, warmup_kwargs={'steps': 5, 'warmup_lr': 3e-7, 'warmup_lr_absolute': True})
    s.set_base_lr(2.1)
    assert s.schedule[0] == pytest.approx(3e-7, rel=1e-9)
    assert s.schedule[5] == pytest.approx(2.1)
