"""Properties every registered method must have, parametrized over the registry (hypothesis over horizons)."""
import numpy as np
import pytest
from composer.core import TimeUnit
from hypothesis import given, settings
from hypothesis import strategies as st

from composer_sched.adapters.durations import Horizon
from composer_sched.adapters.spec import ScheduleSpec
from composer_sched.schedules import method_names
from tests.schedules.examples import EXAMPLE_PARAMS

METHODS = method_names()
SETTINGS = settings(max_examples=25, deadline=None)


def spec(name, **extra):
    return ScheduleSpec(name, **{**EXAMPLE_PARAMS.get(name, {}), **extra})


def build(name, total, ssr=1.0, **extra):
    return spec(name, **extra).build(Horizon(TimeUnit.BATCH, total * ssr, ssr))


def test_registry_names_and_lookup():
    for required in ('triangular', 'cosine_annealing', 'one_cycle', 'cyclical', 'sgdr', 'wsd', 'inverse_sqrt',
                     'multi_factor', 'constant', 'step', 'multi_step', 'exponential', 'linear', 'polynomial',
                     'piecewise_constant'):
        assert required in METHODS
    with pytest.raises(ValueError, match="did you mean 'wsd'"):
        ScheduleSpec('wds')
    with pytest.raises(ValueError, match="did you mean 't_cooldown'"):
        ScheduleSpec('wsd', t_colldown='0.1dur')


@pytest.mark.parametrize('name', METHODS)
@SETTINGS
@given(total=st.integers(200, 100_000), frac=st.lists(st.floats(0, 1.2), min_size=1, max_size=30))
def test_finite_nonnegative_and_scalar_equals_array(name, total, frac):
    s = build(name, total, t_warmup='10ba')
    ts = np.asarray(frac) * total
    arr = s(ts)
    assert np.all(np.isfinite(arr)) and np.all(arr >= 0)
    np.testing.assert_allclose([s(float(t)) for t in ts], arr, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize('name', METHODS)
@SETTINGS
@given(total=st.integers(200, 20_000), ratio=st.floats(0.1, 4.0), frac=st.lists(st.floats(0, 1), min_size=1,
                                                                              max_size=20))
def test_ratio_law(name, total, ratio, frac):
    """alpha_r(t) = alpha(t / r): absolute durations and 'dur' both dilate with the ratio."""
    base, scaled = build(name, total), build(name, total, ssr=ratio)
    ts = np.asarray(frac) * total + 0.25  # off the integer grid, where step shapes jump
    np.testing.assert_allclose(scaled(ts * ratio), base(ts), rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize('name', METHODS)
@pytest.mark.parametrize('ratio', [0.3, 2.5])
def test_warmup_is_not_scaled(name, ratio):
    base = build(name, 1000, t_warmup='40ba', alpha_warmup=0.1)
    scaled = build(name, 1000, ssr=ratio, t_warmup='40ba', alpha_warmup=0.1)
    ts = np.linspace(0, 40, 81)
    np.testing.assert_allclose(scaled(ts), base(ts), rtol=1e-12)
    main0 = build(name, 1000)(0.0)
    assert base(40.0) == pytest.approx(main0) and base(0.0) == pytest.approx(0.1)
    # a 'dur' warm-up is a fraction of the *unscaled* duration
    dur = build(name, 1000, ssr=ratio, t_warmup='0.04dur', alpha_warmup=0.1)
    np.testing.assert_allclose(dur(ts), base(ts), rtol=1e-12)


@pytest.mark.parametrize('name', METHODS)
def test_scale_warmup_moves_the_end_of_the_ramp_with_it(name):
    """Composer's open defect scales only the ramp; here the whole warm-up, its end included, scales."""
    ratio = 0.5
    base = build(name, 1000, t_warmup='40ba', alpha_warmup=0.1)
    scaled = build(name, 1000, ssr=ratio, t_warmup='40ba', alpha_warmup=0.1, scale_warmup=True)
    ts = np.linspace(0, 40, 81)
    np.testing.assert_allclose(scaled(ts * ratio), base(ts), rtol=1e-9)
    np.testing.assert_allclose(scaled(np.linspace(20, 1000 * ratio, 50)),
                               base(np.linspace(40, 1000, 50)), rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize('kind', ['linear', 'exponential'])
def test_warmup_kinds(kind):
    s = build('constant', 100, t_warmup='10ba', warmup_type=kind, alpha_warmup=0.01)
    mid = s(5.0)
    assert mid == pytest.approx(0.505 if kind == 'linear' else 0.1)
    with pytest.raises(ValueError, match='alpha_warmup'):
        spec('constant', t_warmup='10ba', warmup_type='exponential')


BAD_SPECS = [
    (dict(name='wsd', alpha_f=1.5), 'alpha_f'),
    (dict(name='wsd', decay_type='cos'), 'decay_type'),
    (dict(name='wsd', t_cooldown='0.2 days'), 't_cooldown'),
    (dict(name='wsd', t_cooldown=-3), 't_cooldown'),
    (dict(name='wsd', t_cooldown='10sec'), 't_cooldown'),
    (dict(name='step'), 'step_size'),
    (dict(name='multi_step', milestones='30ba'), 'milestones'),
    (dict(name='cosine_annealing', t_max='100ba', t_warmup='10sp'), 'mix time axes'),
    (dict(name='constant', scale_warmup='yes'), 'scale_warmup'),
    (dict(name='constant', alpha='high'), 'alpha'),
]


@pytest.mark.parametrize('kwargs,needle', BAD_SPECS, ids=[n for _, n in BAD_SPECS])
def test_bad_parameters_are_rejected_at_construction(kwargs, needle):
    kwargs = dict(kwargs)
    with pytest.raises(ValueError, match=needle):
        ScheduleSpec(kwargs.pop('name'), **kwargs)


def test_durations_that_do_not_fit_are_reported_before_training():
    with pytest.raises(ValueError, match='leaves no training'):
        build('constant', 100, t_warmup='100ba')
    with pytest.raises(ValueError, match='cooldown_length'):
        build('wsd', 100, t_cooldown='200ba')
