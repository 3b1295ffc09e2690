"""Oracle tables and argument checks for every core shape and wrapper (hand-computed values)."""
import math

import numpy as np
import pytest

from composer_sched import schedules as S

SQ = math.sqrt

# (schedule, [(t, expected)]) -- values worked out by hand from each docstring's formula.
TABLES = {
    'constant': (S.ConstantSchedule(0.3), [(0, 0.3), (1e6, 0.3)]),
    'step': (S.StepSchedule(step_size=10, gamma=0.5, base_lr=2), [(0, 2), (9.99, 2), (10, 1), (35, 0.25)]),
    'multi_step': (S.MultiStepSchedule([10, 20, 20], gamma=0.1), [(9, 1), (10, 0.1), (19, 0.1), (20, 0.001)]),
    'multi_factor': (S.MultiFactorSchedule([10, 20], factor=0.5, base_lr=1), [(10, 1), (11, 0.5), (20, 0.5),
                                                                                (21, 0.25)]),
    'exponential': (S.ExponentialSchedule(gamma=0.25, period=4), [(0, 1), (2, 0.5), (4, 0.25), (8, 0.0625)]),
    'linear': (S.LinearSchedule(start=0.2, end=1.0, length=8), [(0, 0.2), (2, 0.4), (8, 1.0), (100, 1.0)]),
    'polynomial': (S.PolynomialSchedule(power=0.5, length=100, final_lr=0.1), [(0, 1), (75, 0.1 + 0.9 * 0.5),
                                                                               (100, 0.1), (150, 0.1)]),
    'inverse_sqrt': (S.InverseSqrtSchedule(scale=10, base_lr=3), [(0, 3), (30, 1.5), (80, 1.0)]),
    'wsd_linear': (S.StableDecaySchedule(length=100, cooldown_length=20, final_lr=0.1), [(0, 1), (80, 1), (90, 0.55),
                                                                                (100, 0.1), (120, 0.1)]),
    'wsd_sqrt': (S.StableDecaySchedule(length=100, cooldown_length=20, decay_type='sqrt'), [(80, 1), (85, 0.5),
                                                                                   (100, 0.0)]),
    'piecewise': (S.PiecewiseConstantSchedule([4, 8], [0.5, 0.1], base_lr=2), [(3.9, 2), (4, 1), (8, 0.1)]),
    'triangular_peak_first': (S.TriangularSchedule(0.1, 1.0, 10, inc_fraction=0.0), [(0, 1.0), (5, 0.55),
                                                                                      (10, 0.1)]),
    'triangular_no_fall': (S.TriangularSchedule(0.0, 1.0, 10, inc_fraction=1.0), [(0, 0), (5, 0.5), (10, 1.0),
                                                                                   (11, 0.0)]),
    'exp_warmup': (S.ExponentialWarmUp(S.ConstantSchedule(1.0), start_lr=0.001, length=30),
                   [(0, 0.001), (10, 0.01), (20, 0.1), (30, 1.0), (45, 1.0)]),
    'sqrt_cooldown': (S.LinearCoolDown(S.ConstantSchedule(2.0), finish_lr=0.0, start_idx=10, length=4,
                                       shape='sqrt'), [(10, 2.0), (11, 1.0), (14, 0.0)]),
    'cyclical_exact_lengths': (S.CyclicalSchedule(S.CosineAnnealingSchedule, cycle_length=10,
                                                  cycle_length_decay=1.5, round_lengths=False, min_lr=0, max_lr=1),
                               [(0, 1), (10, 1), (17.5, 0.5), (25, 1), (25 + 11.25, 0.5)]),
}


@pytest.mark.parametrize('name', sorted(TABLES))
def test_oracle_table(name):
    schedule, rows = TABLES[name]
    ts = np.array([t for t, _ in rows], dtype=float)
    expected = np.array([v for _, v in rows], dtype=float)
    np.testing.assert_allclose([schedule(t) for t in ts], expected, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(schedule(ts), expected, rtol=1e-12, atol=1e-12)


def test_array_shapes_are_kept():
    s = S.StableDecaySchedule(length=10, cooldown_length=5)
    grid = np.arange(12.0).reshape(3, 4)
    assert s(grid).shape == (3, 4)
    assert isinstance(s(np.float32(3)), float) and isinstance(s(np.int64(3)), float)


def test_schedules_are_immutable_and_comparable():
    s = S.CosineAnnealingSchedule(0.0, 1.0, 10)
    with pytest.raises(AttributeError):
        s.max_lr = 2.0
    assert s == S.CosineAnnealingSchedule(0.0, 1.0, 10) and hash(s) == hash(S.CosineAnnealingSchedule(0.0, 1.0, 10))
    assert s.replace(cycle_length=20)(10) == pytest.approx(0.5)


BAD = [
    (S.TriangularSchedule, dict(min_lr=1, max_lr=-0.5, cycle_length=10), 'max_lr'),
    (S.TriangularSchedule, dict(min_lr=0, max_lr=1, cycle_length=0), 'cycle_length'),
    (S.TriangularSchedule, dict(min_lr=0, max_lr=1, cycle_length=10, inc_fraction=1.5), 'inc_fraction'),
    (S.CosineAnnealingSchedule, dict(min_lr=-1, max_lr=1, cycle_length=10), 'min_lr'),
    (S.CosineAnnealingSchedule, dict(min_lr=0, max_lr=float('nan'), cycle_length=10), 'max_lr'),
    (S.MultiFactorSchedule, dict(step=[5, 3]), 'step'),
    (S.MultiFactorSchedule, dict(step=[5], factor=1.5), 'factor'),
    (S.StepSchedule, dict(step_size=0), 'step_size'),
    (S.MultiStepSchedule, dict(milestones='10'), 'milestones'),
    (S.ExponentialSchedule, dict(gamma=-0.5), 'gamma'),
    (S.PolynomialSchedule, dict(power=-1, length=10), 'power'),
    (S.InverseSqrtSchedule, dict(scale=0), 'scale'),
    (S.StableDecaySchedule, dict(length=10, cooldown_length=11), 'cooldown_length'),
    (S.StableDecaySchedule, dict(length=10, cooldown_length=2, final_lr=2), 'final_lr'),
    (S.StableDecaySchedule, dict(length=10, cooldown_length=2, decay_type='cubic'), 'decay_type'),
    (S.PiecewiseConstantSchedule, dict(milestones=[1, 2], factors=[0.5]), 'factors'),
    (S.LinearWarmUp, dict(schedule=lambda t: 1.0, start_lr=0, length=5), 'schedule'),
    (S.LinearWarmUp, dict(schedule=S.ConstantSchedule(), start_lr=0, length=-5), 'length'),
    (S.ExponentialWarmUp, dict(schedule=S.ConstantSchedule(), start_lr=0, length=5), 'start_lr'),
    (S.LinearCoolDown, dict(schedule=S.ConstantSchedule(), finish_lr=0, start_idx=5, length=5, shape='cos'), 'shape'),
    (S.CyclicalSchedule, dict(schedule_class=S.TriangularSchedule, cycle_length=10, cycle_length_decay=-1,
                              min_lr=0, max_lr=1), 'cycle_length_decay'),
    (S.CyclicalSchedule, dict(schedule_class=S.TriangularSchedule, cycle_length=10, min_lr=2, max_lr=-1), 'max_lr'),
]


@pytest.mark.parametrize('cls,kwargs,arg', BAD, ids=[f'{c.__name__}-{a}' for c, _, a in BAD])
def test_bad_arguments_name_the_argument_and_value(cls, kwargs, arg):
    with pytest.raises(ValueError) as info:
        cls(**kwargs)
    msg = str(info.value)
    assert arg in msg and ('must' in msg or 'Must' in msg)


def test_cyclical_million_points_do_not_walk_cycles():
    """A million points over ~2,000 cycles: the lookup is vectorised (speed itself is in benchmarks/)."""
    s = S.CyclicalSchedule(S.CosineAnnealingSchedule, cycle_length=500, min_lr=0, max_lr=1)
    t = np.arange(1_000_000, dtype=float)
    out = s(t)
    np.testing.assert_allclose(out, S.CosineAnnealingSchedule(0, 1, 500)(t % 500), atol=1e-12)
