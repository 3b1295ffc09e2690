"""Every worked example of the "Advanced Learning Rate Schedules" tutorial, value for value.

The oracles below are plain loop transcriptions of the tutorial's algorithms (iteration by iteration, with an
MXNet-style stateful multi-factor scheduler), written independently of the package; the package's schedules must
match them at every iteration 1..1500 (the tutorial's plotting range), scalar and array, within 1e-12.
"""
import math

import numpy as np
import pytest

from composer_sched.schedules import (
    CosineAnnealingSchedule,
    CyclicalSchedule,
    LinearCoolDown,
    LinearWarmUp,
    MultiFactorSchedule,
    OneCycleSchedule,
    TriangularSchedule,
)

ITERS = np.arange(1, 1501)


# ---- oracles -----------------------------------------------------------------------------------------------
def tri_oracle(min_lr, max_lr, cycle_length, inc_fraction=0.5):
    def f(i):
        if i <= cycle_length * inc_fraction:
            u = i / (cycle_length * inc_fraction)
        elif i <= cycle_length:
            u = (cycle_length - i) / (cycle_length * (1 - inc_fraction))
        else:
            u = 0
        return u * (max_lr - min_lr) + min_lr
    return f


def cos_oracle(min_lr, max_lr, cycle_length):
    def f(i):
        if i <= cycle_length:
            return (1 + math.cos(i * math.pi / cycle_length)) / 2 * (max_lr - min_lr) + min_lr
        return min_lr
    return f


class MultiFactorOracle:
    """MXNet's MultiFactorScheduler: stateful, decays once per passed milestone as num_update grows."""

    def __init__(self, step, factor, base_lr):
        self.step, self.factor, self.lr, self.idx = list(step), factor, base_lr, 0

    def __call__(self, num_update):
        while self.idx < len(self.step) and num_update > self.step[self.idx]:
            self.lr *= self.factor
            self.idx += 1
        return self.lr


def warmup_oracle(inner_factory, start_lr, length):
    finish = inner_factory()(0)
    inner = inner_factory()

    def f(i):
        if i <= length:
            return i * (finish - start_lr) / length + start_lr
        return inner(i - length)
    return f


def cooldown_oracle(inner_factory, finish_lr, start_idx, length):
    start = inner_factory()(start_idx)
    inner = inner_factory()

    def f(i):
        if i <= start_idx:
            return inner(i)
        if i <= start_idx + length:
            return (i - start_idx) * (finish_lr - start) / length + start
        return finish_lr
    return f


def cyclical_oracle(make, cycle_length, length_decay=1, magnitude_decay=1):
    def f(i):
        idx, k, length = cycle_length, 0, cycle_length
        while idx <= i:
            length = math.ceil(length * length_decay)
            k += 1
            idx += length
        return make(length)(i - idx + length) * magnitude_decay ** k
    return f


def multi_factor_oracle_factory():
    return MultiFactorOracle([250, 750, 900], 0.5, 1.0)


EXAMPLES = {
    'slanted_triangular': (TriangularSchedule(min_lr=1, max_lr=2, cycle_length=1000, inc_fraction=0.2),
                           lambda: tri_oracle(1, 2, 1000, 0.2)),
    'cosine': (CosineAnnealingSchedule(min_lr=1, max_lr=2, cycle_length=1000), lambda: cos_oracle(1, 2, 1000)),
    'warmup_multifactor': (LinearWarmUp(MultiFactorSchedule(step=[250, 750, 900], factor=0.5, base_lr=1),
                                        start_lr=0, length=250),
                           lambda: warmup_oracle(multi_factor_oracle_factory, 0, 250)),
    'cooldown_multifactor': (LinearCoolDown(MultiFactorSchedule(step=[250, 750, 900], factor=0.5, base_lr=1),
                                            finish_lr=0.001, start_idx=1000, length=500),
                             lambda: cooldown_oracle(multi_factor_oracle_factory, 0.001, 1000, 500)),
    'one_cycle': (OneCycleSchedule(start_lr=0.1, max_lr=0.5, cycle_length=500, cooldown_length=750, finish_lr=0.001),
                  lambda: cooldown_oracle(lambda: tri_oracle(0.1, 0.5, 500), 0.001, 500, 750)),
    'cyclical_triangular': (CyclicalSchedule(TriangularSchedule, min_lr=0.5, max_lr=2, cycle_length=500),
                            lambda: cyclical_oracle(lambda L: tri_oracle(0.5, 2, L), 500)),
    'sgdr': (CyclicalSchedule(CosineAnnealingSchedule, min_lr=0.01, max_lr=2, cycle_length=250,
                              cycle_length_decay=2, cycle_magnitude_decay=0.5),
             lambda: cyclical_oracle(lambda L: cos_oracle(0.01, 2, L), 250, 2, 0.5)),
}


@pytest.mark.parametrize('name', sorted(EXAMPLES))
def test_tutorial_example_matches_oracle_scalar_and_array(name):
    schedule, make_oracle = EXAMPLES[name]
    oracle = make_oracle()
    expected = np.array([oracle(int(i)) for i in ITERS])  # in increasing order, as the tutorial plots them
    scalar = np.array([schedule(int(i)) for i in ITERS])
    array = schedule(ITERS)
    np.testing.assert_allclose(scalar, expected, rtol=0, atol=1e-12)
    np.testing.assert_allclose(array, expected, rtol=0, atol=1e-12)
    assert isinstance(schedule(7), float)


def test_tutorial_prose_figures():
    """The numbers the tutorial states in words."""
    tri = EXAMPLES['slanted_triangular'][0]
    assert tri(0) == 1 and tri(200) == 2 and tri(1000) == 1 and tri(1400) == 1   # 200 up, 800 down, then hold
    assert tri(600) == pytest.approx(1.5)
    cool = EXAMPLES['cooldown_multifactor'][0]
    assert cool(1000) == pytest.approx(0.125) and cool(1500) == pytest.approx(0.001) and cool(1700) == 0.001
    warm = EXAMPLES['warmup_multifactor'][0]
    assert warm(0) == 0 and warm(250) == 1
    one = EXAMPLES['one_cycle'][0]
    assert one(250) == pytest.approx(0.5) and one(500) == pytest.approx(0.1) and one(1250) == pytest.approx(0.001)
    sgdr = EXAMPLES['sgdr'][0]
    # cycles of 250, 500, 1000 iterations; each restart at half the previous peak
    assert sgdr(0) == 2 and sgdr(250) == pytest.approx(1.0) and sgdr(750) == pytest.approx(0.5)
    assert sgdr(749) == pytest.approx(0.5 * (0.01 + (2 - 0.01) * (1 + math.cos(499 * math.pi / 500)) / 2))


def test_one_cycle_argument_checks():
    with pytest.raises(ValueError, match='finish_lr'):
        OneCycleSchedule(start_lr=0.1, max_lr=0.5, cycle_length=500, cooldown_length=750)
    with pytest.raises(ValueError, match='cooldown_length > 0'):
        OneCycleSchedule(start_lr=0.1, max_lr=0.5, cycle_length=500, finish_lr=0.001)
    # without a cool-down, 1-cycle ends back at start_lr
    assert OneCycleSchedule(start_lr=0.1, max_lr=0.5, cycle_length=500)(900) == pytest.approx(0.1)


@pytest.mark.parametrize('length_decay', [0.5, 0.7, 1, 1.3, 2, 3])
@pytest.mark.parametrize('first', [1, 7, 250])
def test_cyclical_lookup_equals_the_walk(length_decay, first):
    """The table/fixed-point lookup agrees with walking the cycles, including shrinking cycles."""
    s = CyclicalSchedule(TriangularSchedule, min_lr=0.5, max_lr=2, cycle_length=first,
                         cycle_length_decay=length_decay, cycle_magnitude_decay=0.9, inc_fraction=0.3)
    oracle = cyclical_oracle(lambda L: tri_oracle(0.5, 2, L, 0.3), first, length_decay, 0.9)
    ts = np.arange(0, 3000, 7)
    expected = np.array([oracle(int(t)) for t in ts])
    np.testing.assert_allclose(s(ts), expected, rtol=0, atol=1e-12)
    np.testing.assert_allclose([s(int(t)) for t in ts[::-1]], expected[::-1], rtol=0, atol=1e-12)
