"""Issue 25, item 4: a property-based suite over the predict API. Family-consistent runs and targets, adversarial
loss histories and every knob: a ValueError naming what is wrong, or a prediction with ``0 < low <= loss <= high``,
all finite; never a traceback of another type, never a negative or non-finite number. The examples' database is
off (``database=None``): nothing is written into the checkout."""
import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from composer_sched.predict import Run, fit_momentum_law, fit_multi_power_law, momentum_law
from composer_sched.predict.backtest import backtest
from composer_sched.predict.baselines import baselines

SETTINGS = dict(max_examples=25, deadline=None, database=None)


def wsd(length, frac, warmup):
    lr = np.minimum(1.0, (length - np.arange(length)) / max(1.0, frac * length))
    lr[:warmup] = np.linspace(0.1, 1.0, warmup + 1)[:-1]
    return lr


def check(pred):
    values = (pred.loss, pred.low, pred.high)
    assert all(math.isfinite(v) for v in values) and 0 < pred.low <= pred.loss <= pred.high, pred
    if pred.final_loss is not None:
        assert 0 < pred.final_low <= pred.final_loss <= pred.final_high, pred


laws = st.fixed_dictionaries(dict(L0=st.floats(0.01, 5), A=st.floats(0.0, 2), alpha=st.floats(0.05, 1.5),
                                  C=st.floats(0.0, 5), lam=st.floats(0.0, 0.999)))
knob = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.sampled_from([0, 1, 2, -1, 0.5]))


@settings(**SETTINGS)
@given(T=st.integers(200, 1500), frac=st.floats(0.05, 0.6), warmup=st.integers(0, 40), law=laws,
       noise=st.floats(0, 0.05), seed=st.integers(0, 2 ** 16), ratios=st.lists(st.floats(0.05, 2.5), max_size=4),
       fracs=st.lists(st.floats(0.01, 1.0), max_size=2))
def test_family_consistent_runs_and_targets(T, frac, warmup, law, noise, seed, ratios, fracs):
    lr = wsd(T, frac, warmup)
    steps = np.unique(np.linspace(warmup + 1, T, 40).astype(int))
    loss = momentum_law(lr, steps, **law, scale=T) * np.exp(noise * np.random.default_rng(seed).normal(size=steps.size))
    if not np.all(np.isfinite(loss)) or loss.min() <= 0:
        return  # a law with a negative loss is no run
    fit = fit_momentum_law([Run(lr, eval_loss=(steps, loss), final_loss=float(loss[-1]) * 1.01)])
    for r in ratios:
        for f in [frac] + fracs:
            target = wsd(max(warmup + 3, int(r * T)), f, warmup)
            try:
                pred = fit.predict(target)
            except ValueError as e:
                assert str(e)
                continue
            check(pred)
            assert all(v is None or (math.isfinite(v) and v > 0) for v in baselines(fit.runs, target).values())


@settings(**SETTINGS)
@given(values=st.lists(st.floats(1e-6, 1e6), min_size=3, max_size=60), T=st.integers(50, 800),
       spikes=st.lists(st.tuples(st.integers(0, 59), st.floats(1e-3, 1e3)), max_size=3))
def test_adversarial_loss_histories(values, T, spikes):
    loss = np.array(values)
    for i, factor in spikes:
        if i < loss.size:
            loss[i] *= factor
    steps = np.unique(np.linspace(1, T, loss.size).astype(int))
    loss = loss[:steps.size]
    lr = wsd(T, 0.3, 0)
    try:
        fit = fit_momentum_law([Run(lr, eval_loss=(steps, loss))])
    except ValueError as e:
        assert str(e)
        return
    for target in (lr, wsd(T // 2 + 1, 0.3, 0), wsd(T, 0.5, 0)):
        try:
            check(fit.predict(target))
        except ValueError as e:
            assert str(e)


@settings(**SETTINGS)
@given(band_tol=knob, max_extrapolation=knob, skip=knob, huber_delta=knob, gamma_step=knob,
       coverage=st.floats(allow_nan=True, allow_infinity=True), multi=st.booleans())
def test_every_knob(band_tol, max_extrapolation, skip, huber_delta, gamma_step, coverage, multi):
    T = 400
    runs = []
    for frac in (0.2, 0.4):
        lr = wsd(T, frac, 10)
        steps = np.arange(20, T + 1, 20)
        runs.append(Run(lr, eval_loss=(steps, momentum_law(lr, steps, L0=2, A=0.5, alpha=0.5, C=2, lam=0.99,
                                                            scale=T)), name=f'wsd_{frac}'))
    kwargs = dict(band_tol=band_tol, max_extrapolation=max_extrapolation, skip=skip, huber_delta=huber_delta)
    try:
        fit = fit_multi_power_law(runs, gamma_step=gamma_step, **kwargs) if multi else fit_momentum_law(runs, **kwargs)
    except ValueError as e:
        assert 'must be' in str(e) or 'too few' in str(e) or 'cool-down' in str(e), e
        return
    try:
        check(fit.predict(wsd(300, 0.3, 10), coverage=coverage))
    except ValueError as e:
        assert str(e)


def test_backtest_of_adversarial_runs_gives_cases_or_nothing():
    rng = np.random.default_rng(0)
    runs = [Run(wsd(T, 0.2, 5), eval_loss=(np.arange(10, T + 1, 10), rng.lognormal(0, 1, T // 10)), name=f'w_{T}')
            for T in (200, 300, 400)]
    for c in backtest(runs):
        assert 0 < c.low <= c.predicted <= c.high and math.isfinite(c.high)
