"""CyclicalSchedule is truly immutable (issue 14): nothing changes after construction, so one object is safe to share
between threads; replace() validates a copy; equal objects hash equal. Its vectorised evaluation (a table computed at
construction, then one call of the inner shape over all points) agrees with walking the cycles one by one. And the
registered cyclical/sgdr methods speak one vocabulary (t_0, t_mult, magnitude_decay)."""
import copy
import dataclasses
import math
import pickle
import random
import sys
import threading

import numpy as np
import pytest

from composer_sched.adapters.spec import ScheduleSpec
from composer_sched.schedules import (
    CosineAnnealingSchedule,
    CyclicalSchedule,
    OneCycleSchedule,
    TriangularSchedule,
    get_method,
)


def walk(make, first, length_decay=1.0, magnitude_decay=1.0, rounded=True):
    """Value at t by walking every cycle from the start (the tutorial's algorithm; exact lengths without rounding)."""
    def f(t):
        start, k, length = 0.0, 0, float(first)
        while start + length <= t:
            start += length
            length = float(max(math.ceil(length * length_decay), 1)) if rounded else length * length_decay
            k += 1
        return make(length)(t - start) * magnitude_decay ** k
    return f


def cosine(length):
    return CosineAnnealingSchedule(min_lr=0.1, max_lr=1.0, cycle_length=length)


CASES = {  # name: (schedule, oracle, the times to check)
    'equal': (CyclicalSchedule(CosineAnnealingSchedule, 40, min_lr=0.1, max_lr=1.0), walk(cosine, 40), 2000),
    'rounded_growing': (CyclicalSchedule(CosineAnnealingSchedule, 7, 1.3, 0.9, min_lr=0.1, max_lr=1.0),
                        walk(cosine, 7, 1.3, 0.9), 3000),
    'rounded_shrinking': (CyclicalSchedule(CosineAnnealingSchedule, 300, 0.6, 1.1, min_lr=0.1, max_lr=1.0),
                          walk(cosine, 300, 0.6, 1.1), 1000),
    'rounded_half_length': (CyclicalSchedule(TriangularSchedule, 2.5, min_lr=0.0, max_lr=1.0, inc_fraction=0.3),
                            walk(lambda L: TriangularSchedule(0.0, 1.0, L, 0.3), 2.5), 100),
    'exact_growing': (CyclicalSchedule(CosineAnnealingSchedule, 12, 1.5, 0.8, round_lengths=False, min_lr=0.1,
                                       max_lr=1.0), walk(cosine, 12, 1.5, 0.8, rounded=False), 5000),
    'exact_shrinking': (CyclicalSchedule(TriangularSchedule, 100, 0.5, round_lengths=False, min_lr=0.2, max_lr=1.0),
                        walk(lambda L: TriangularSchedule(0.2, 1.0, L), 100, 0.5, rounded=False), 199.9),
    # not one of the shapes that depend on t / L only: one instance per cycle length, built during evaluation
    'other_shape': (CyclicalSchedule(OneCycleSchedule, 50, 1.5, 0.9, start_lr=0.1, max_lr=1.0),
                    walk(lambda L: OneCycleSchedule(0.1, 1.0, L), 50, 1.5, 0.9), 3000),
}


@pytest.mark.parametrize('name', sorted(CASES))
def test_vectorised_lookup_equals_the_walk(name):
    s, oracle, top = CASES[name]
    rng = np.random.default_rng(0)
    ts = np.concatenate([np.linspace(0, top, 701), rng.uniform(0, top, 300)])
    expected = np.array([oracle(float(t)) for t in ts])
    np.testing.assert_allclose([s(float(t)) for t in ts], expected, rtol=1e-9, atol=1e-12)  # scalar path
    np.testing.assert_allclose(s(ts), expected, rtol=1e-9, atol=1e-12)  # unsorted: binary search per point
    order = np.argsort(ts)
    np.testing.assert_allclose(s(ts[order]), expected[order], rtol=1e-9, atol=1e-12)  # sorted: slices per cycle
    np.testing.assert_allclose(s(ts[:1000].reshape(40, 25)), expected[:1000].reshape(40, 25), rtol=1e-9, atol=1e-12)


def test_negative_times_are_the_start_and_exact_shrinking_cycles_hold_their_limit():
    s = CASES['exact_shrinking'][0]
    assert s(-5.0) == s(0.0) == 0.2 and list(s(np.array([-5.0, 0.0]))) == [0.2, 0.2]
    assert s.end_of_cycles == 200.0 and s(200.0) == 0.2 and s(np.array([150.0, 1e9]))[1] == 0.2


def test_lengths_that_neither_settle_nor_reach_the_table_horizon_continue_finitely():
    # d within 1e-9 of 1: rounded lengths grow by 1 per cycle for ~1e9 cycles; the table keeps 65,536 of them,
    # then cycles continue geometrically. Scalar and array agree, and every value is finite, at any time.
    s = CyclicalSchedule(CosineAnnealingSchedule, 1, 1 + 1e-9, min_lr=0.0, max_lr=1.0)
    ts = np.array([0.0, 10.0, 1e6, 2.1e9, 5e9, 1e15, 1e300])
    np.testing.assert_allclose([s(float(t)) for t in ts], s(ts), rtol=1e-9, atol=1e-12)
    assert np.all(np.isfinite(s(ts))) and np.all(s(ts) >= 0)
    np.testing.assert_allclose(s(ts[:3]), [walk(lambda L: CosineAnnealingSchedule(0.0, 1.0, L), 1, 1 + 1e-9)(t)
                                            for t in ts[:3]], atol=1e-12)


# -- immutability -------------------------------------------------------------------------------------------------

def _snapshot(obj):
    """Every attribute, recursively, as plain values (arrays as bytes), to compare before and after."""
    def plain(v):
        if isinstance(v, np.ndarray):
            return ('array', v.dtype.str, v.shape, v.tobytes(), v.flags.writeable)
        if dataclasses.is_dataclass(v) and not isinstance(v, type):
            return (type(v).__name__, tuple((k, plain(x)) for k, x in sorted(vars(v).items())))
        if isinstance(v, (tuple, list)):
            return tuple(plain(x) for x in v)
        if hasattr(v, 'items'):
            return tuple(sorted((k, plain(x)) for k, x in v.items()))
        return v
    return plain(obj), {k: id(v) for k, v in vars(obj).items()}


@pytest.mark.parametrize('name', sorted(CASES))
def test_evaluating_far_into_the_future_changes_nothing(name):
    s = CASES[name][0]
    before = _snapshot(s)
    s(1e12), s(np.array([0.0, 5e3, 1e9, 1e15])), s(np.array([1e15, 3.0, 1e9])), s.check_horizon(50.0)
    s(np.linspace(0, 1e7, 10_001))
    assert _snapshot(s) == before


def test_state_is_frozen_and_read_only():
    s = CyclicalSchedule(CosineAnnealingSchedule, 250, 2, 0.5, min_lr=0.01, max_lr=2)
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.cycle_length = 10
    with pytest.raises(dataclasses.FrozenInstanceError):
        s._cycles = None
    with pytest.raises(TypeError):
        s.kwargs['max_lr'] = 3
    with pytest.raises(ValueError, match='read-only'):
        s._cycles.starts_array[1] = 0.0
    assert isinstance(s._cycles.starts, tuple) and isinstance(s._cycles.lengths, tuple)


def test_replace_revalidates_and_takes_the_inner_shapes_arguments():
    s = CyclicalSchedule(CosineAnnealingSchedule, 250, 2, 0.5, min_lr=0.01, max_lr=2)
    longer = s.replace(cycle_length=500)
    assert longer == CyclicalSchedule(CosineAnnealingSchedule, 500, 2, 0.5, min_lr=0.01, max_lr=2)
    assert longer(500) == pytest.approx(s(250)) and s.cycle_length == 250
    assert dataclasses.replace(s, cycle_length_decay=1)(260) == pytest.approx(0.5 * s(10))  # cycle 1: half
    assert s.replace(max_lr=4)(0) == 4.0 and s.replace(max_lr=4).kwargs == {'min_lr': 0.01, 'max_lr': 4}
    with pytest.raises(ValueError, match='cycle_length_decay'):
        s.replace(cycle_length_decay=-1)
    with pytest.raises(ValueError, match='max_lr'):
        s.replace(max_lr=-1)


def test_equal_objects_hash_equal_and_survive_pickle_and_copy():
    a = CyclicalSchedule(CosineAnnealingSchedule, 250, 2, min_lr=0, max_lr=1)
    b = CyclicalSchedule(CosineAnnealingSchedule, 250.0, 2.0, 1, True, max_lr=1.0, min_lr=0.0)
    assert a == b and hash(a) == hash(b) and len({a, b}) == 1
    assert a != a.replace(max_lr=2) and a != a.replace(round_lengths=False)
    for c in (pickle.loads(pickle.dumps(a)), copy.deepcopy(a), copy.copy(a)):
        assert c == a and hash(c) == hash(a) and c(777.0) == a(777.0)
        assert not c._cycles.starts_array.flags.writeable


def test_threads_sharing_one_schedule_get_the_single_thread_answers():
    """Many threads evaluate ONE fresh object at interleaved times (scalars and arrays, far into the future
    first), with the interpreter switching threads as often as it can; each gets what one thread gets alone."""
    make = lambda: CyclicalSchedule(TriangularSchedule, 3, 1.05, 0.99, min_lr=0.1, max_lr=1.0)  # noqa: E731
    times = np.concatenate([np.arange(0, 20_000, 7.5), [1e6, 1e9, 1e12]])
    expected = make()(times)
    np.testing.assert_allclose([make()(float(t)) for t in times[::50]], expected[::50], rtol=1e-12)
    shared, n_threads = make(), 8
    results, errors = {}, []
    barrier = threading.Barrier(n_threads)

    def work(i):
        try:
            rng = random.Random(i)
            mine = list(range(len(times)))[::-1] if i % 2 else list(range(len(times)))
            rng.shuffle(mine) if i % 4 == 3 else None
            barrier.wait()
            out = {}
            for j in mine[:400]:
                out[j] = shared(float(times[j]))
            chunk = np.array(mine[400:], dtype=int)
            for part in np.array_split(chunk, 7):
                out.update(zip(part.tolist(), shared(times[part]).tolist()))
            results[i] = out
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        threads = [threading.Thread(target=work, args=(i,)) for i in range(n_threads)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
    finally:
        sys.setswitchinterval(old)
    assert not errors and len(results) == n_threads
    for out in results.values():
        got = np.array([out[j] for j in range(len(times))])
        np.testing.assert_allclose(got, expected, rtol=1e-12, atol=0)


# -- the registered methods ----------------------------------------------------------------------------------------

def test_cyclical_speaks_sgdrs_names():
    assert [p.name for p in get_method('cyclical').params][:4] == ['shape', 't_0', 't_mult', 'magnitude_decay']
    assert {'t_0', 't_mult', 'magnitude_decay'} <= {p.name for p in get_method('sgdr').params}
    cyc = get_method('cyclical').build(shape='cosine', t_0=10.0, t_mult=2.0, magnitude_decay=0.5, alpha_min=0.0)
    sgdr = get_method('sgdr').build(t_0=10.0, t_mult=2.0, magnitude_decay=0.5, alpha_f=0.0)
    ts = np.linspace(0, 300, 601)
    np.testing.assert_allclose(cyc(ts), sgdr(ts), rtol=1e-12)  # same knobs, same cycles


@pytest.mark.parametrize('old,new', [('t_cycle', 't_0'), ('cycle_length_decay', 't_mult'),
                                     ('cycle_magnitude_decay', 'magnitude_decay')])
def test_old_cyclical_names_fail_with_did_you_mean(old, new):
    with pytest.raises(ValueError, match=rf"unknown parameter '{old}' \(did you mean '{new}'"):
        ScheduleSpec('cyclical', **{old: '25ba' if old == 't_cycle' else 1.5})


@pytest.mark.parametrize('name', ['cyclical', 'sgdr'])
def test_cycle_bounds_are_the_shapes(name):
    # Negative is refused at construction in the user's name; 0 is defined (one cycle; one cycle then 0) and runs.
    for param in ('t_mult', 'magnitude_decay'):
        with pytest.raises(ValueError, match=rf'{param}=-0.5 is not allowed: {param} must be in \[0, inf\]'):
            ScheduleSpec(name, **{param: -0.5})
    one = get_method(name).build(t_0=100.0, t_mult=0.0)
    assert np.all(np.isfinite(one(np.arange(0, 400.0)))) and one(100.0) == one(399.0)
    gone = get_method(name).build(t_0=10.0, magnitude_decay=0.0)
    assert gone(5.0) > 0 and gone(15.0) == 0.0 and gone(np.array([5.0, 15.0]))[1] == 0.0


@pytest.mark.parametrize('rounded', [True, False])
def test_a_first_cycle_near_the_float_limit_evaluates(rounded):
    # Found by the core-shape fuzz: L = 1e300, d = 1 + 1e-12 overflowed math.exp in the closed form's far branch
    # (a scalar where() evaluates both branches) instead of sitting in its one astronomical cycle.
    s = CyclicalSchedule(CosineAnnealingSchedule, 1e300, 1 + 1e-12, 0.5, round_lengths=rounded, min_lr=0.0,
                         max_lr=1.0)
    ts = np.array([0.0, 5e299, 1e300, 1e308])
    np.testing.assert_allclose([s(float(t)) for t in ts], s(ts), rtol=1e-12)
    assert s(0.0) == 1.0 and s(5e299) == pytest.approx(0.5) and np.all(np.isfinite(s(ts)))
