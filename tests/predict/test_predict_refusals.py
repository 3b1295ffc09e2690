"""Honest refusals: a target the fitted runs cannot speak for, and bad input, are clear ValueErrors, never a number."""
import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from composer_sched.predict import Run, analyse_schedule, check_target, fit_momentum_law, momentum_law
from composer_sched.schedules import (
    CosineAnnealingSchedule,
    CyclicalSchedule,
    ExponentialWarmUp,
    LinearWarmUp,
    OneCycleSchedule,
    StableDecaySchedule,
)

T = 1000
STEPS = np.arange(100, T + 1, 20)
LAW = dict(L0=2.0, A=0.5, alpha=0.5, C=2.0, lam=0.99, scale=T)


def sample(schedule, length=T):
    return np.asarray(schedule(np.arange(length)), dtype=float)


def warm(schedule, length=50, shift=False):
    return LinearWarmUp(schedule, start_lr=0.1, length=length, shift=shift)


WSD_LR = sample(warm(StableDecaySchedule(length=T, cooldown_length=200)))


@pytest.fixture(scope='module')
def fit():
    return fit_momentum_law([Run(WSD_LR, eval_loss=(STEPS, momentum_law(WSD_LR, STEPS, **LAW)))])


def test_same_family_other_ratio_and_cooldown_is_predicted(fit):
    for target in (sample(warm(StableDecaySchedule(length=500, cooldown_length=100)), 500),
                   sample(warm(StableDecaySchedule(length=T, cooldown_length=350)))):
        assert np.isfinite(fit.predict(target).loss)


@pytest.mark.parametrize('name, lr, match', [
    ('cosine, same warm-up', sample(warm(CosineAnnealingSchedule(min_lr=0, max_lr=1, cycle_length=T - 50),
                                         shift=True)),
     "cool-down's shape"),
    ('1-sqrt cool-down', sample(warm(StableDecaySchedule(length=T, cooldown_length=200, decay_type='sqrt'))),
     "cool-down's shape"),
    ('1-cycle', sample(OneCycleSchedule(start_lr=0.1, max_lr=1, cycle_length=T)), 'warm-up'),
    ('SGDR restarts', sample(CyclicalSchedule(CosineAnnealingSchedule, cycle_length=250, min_lr=0, max_lr=1)),
     'rises again'),
    ('SGDR restarts after a warm-up',
     sample(warm(CyclicalSchedule(CosineAnnealingSchedule, cycle_length=250, min_lr=0, max_lr=1))), 'non-monotone'),
    ('AutoWU-like: exponential warm-up, then cosine',
     sample(ExponentialWarmUp(CosineAnnealingSchedule(min_lr=0, max_lr=1, cycle_length=800), start_lr=0.01,
                              length=200)), 'warm-up'),
    ('another peak LR', 2 * WSD_LR, 'peak LR'),
    ('another warm-up length', sample(warm(StableDecaySchedule(length=T, cooldown_length=200), length=100)), 'warm-up'),
    ('far longer than the run', sample(warm(StableDecaySchedule(length=3 * T, cooldown_length=300)), 3 * T),
     'max_extrapolation'),
    ('a far longer cool-down', sample(warm(StableDecaySchedule(length=T, cooldown_length=500))), 'max_extrapolation'),
    ('a dip before the peak', np.r_[0.5, 0.3, WSD_LR[2:]], 'falls at batch 1'),
])
def test_target_outside_the_fitted_family_is_refused(fit, name, lr, match):
    with pytest.raises(ValueError, match=match) as info:
        fit.predict(lr, name='target')
    assert str(info.value).startswith('target')  # the message names the argument


def test_a_constant_target_needs_no_cooldown_shape(fit):
    # The stable phase alone (the trunk) is inside what one WSD run tells: no annealing term.
    const = WSD_LR.copy()
    const[const < 1] = 1.0
    const[:50] = WSD_LR[:50]
    assert fit.predict(const).loss > fit.predict(WSD_LR).loss


def test_fit_needs_a_cooldown_with_loss_points_inside_it():
    const = sample(warm(StableDecaySchedule(length=T, cooldown_length=0)))
    with pytest.raises(ValueError, match='inside its cool-down'):
        fit_momentum_law([Run(const, eval_loss=(STEPS, momentum_law(const, STEPS, **LAW)))])
    early = STEPS[STEPS <= 800]  # eval stopped before the cool-down
    with pytest.raises(ValueError, match='inside its cool-down'):
        fit_momentum_law([Run(WSD_LR, eval_loss=(early, momentum_law(WSD_LR, early, **LAW)))])


def test_runs_of_different_peaks_are_refused():
    runs = [Run(lr, eval_loss=(STEPS, momentum_law(lr, STEPS, **LAW))) for lr in (WSD_LR, 0.5 * WSD_LR)]
    with pytest.raises(ValueError, match='share one peak LR'):
        fit_momentum_law(runs)


@pytest.mark.parametrize('kwargs, match', [
    (dict(eval_loss=([1, 2], [3.0])), 'equal length'),
    (dict(eval_loss=([1, 2000], [3.0, 2.9])), r'whole batch counts in \[0, 1000\]'),
    (dict(eval_loss=([1.5, 2], [3.0, 2.9])), 'whole batch counts'),
    (dict(eval_loss=([1, 2], [3.0, -1.0])), 'finite and > 0'),
    (dict(eval_loss=([1, 2], [3.0, np.nan])), 'finite'),
    (dict(eval_loss=3.0), r'pair \(steps, values\)'),
    (dict(), 'give eval_loss'),
    (dict(eval_loss=([1, 2], [3.0, 2.9]), final_loss=0.0), 'final_loss must be finite and > 0'),
])
def test_bad_run_input_names_the_argument(kwargs, match):
    with pytest.raises(ValueError, match=match):
        Run(WSD_LR, name='run', **kwargs)


@pytest.mark.parametrize('lr, match', [([1.0], 'at least 2'), ([1.0, -0.1], '>= 0'), ([0.0, 0.0], 'positive peak'),
                                       ([1.0, np.inf], 'finite')])
def test_bad_schedules_are_refused(lr, match):
    with pytest.raises(ValueError, match=match):
        analyse_schedule(lr)


@pytest.mark.parametrize('kwargs, match', [(dict(memory_grid=[0.0]), 'memory_grid'), (dict(huber_delta=0), 'huber'),
                                           (dict(skip=1.0), 'skip'), (dict(band_tol=-1), 'band_tol'),
                                           (dict(max_extrapolation=0.5), 'max_extrapolation')])
def test_bad_fit_arguments(kwargs, match):
    run = Run(WSD_LR, eval_loss=(STEPS, momentum_law(WSD_LR, STEPS, **LAW)))
    with pytest.raises(ValueError, match=match):
        fit_momentum_law([run], **kwargs)


def test_check_target_needs_fitted_shapes():
    with pytest.raises(ValueError, match='no fitted runs'):
        check_target(analyse_schedule(WSD_LR), [])


@settings(max_examples=30, deadline=None)
@given(length=st.integers(200, 2000), cooldown=st.integers(10, 400))
def test_every_linear_wsd_within_range_is_predicted(fit, length, cooldown):
    cooldown = min(cooldown, length - 60)  # the 50-batch warm-up ends before the cool-down
    cooldown = max(cooldown, length - 50 - 2 * 750)  # at most twice the fitted run's 750 batches at the peak
    assume(cooldown <= 400)  # and at most twice its cool-down
    lr = sample(warm(StableDecaySchedule(length=length, cooldown_length=cooldown)), length)
    pred = fit.predict(lr)
    assert np.isfinite(pred.loss) and pred.low <= pred.loss <= pred.high


@settings(max_examples=30, deadline=None)
@given(at=st.integers(60, T - 2), bump=st.floats(1e-4, 1.0))
def test_any_rise_after_the_peak_is_refused(fit, at, bump):
    lr = WSD_LR.copy()
    lr[at:] = np.minimum(lr[at:] + bump * lr.max(), lr.max())  # the LR goes up somewhere after the peak
    if np.all(np.diff(lr[50:]) <= 1e-6):
        lr[at] = lr[at - 1] + 1e-3 if lr[at - 1] < 1 else lr[at]
    if np.all(np.diff(lr[50:]) <= 1e-6):
        return  # the bump only lengthened the stable phase: still a valid WSD-like schedule
    with pytest.raises(ValueError, match='rises again|non-monotone'):
        fit.predict(lr)


def test_the_adiabatic_law_needs_a_constant_run_and_predicts_only_whole_run_decays():
    # Other cosine horizons are its purpose (rule 7 does not apply to it); a WSD cool-down, whose loss lags the LR,
    # is refused with the reason, and so is a fit without a constant-LR run to pin the power law.
    from composer_sched.predict.adiabatic import adiabatic_law, fit_adiabatic_law

    def cosine(n, w=50):  # to 0.1 of the peak after a linear warm-up from 0.1
        u = np.clip((np.arange(n) - w) / (n - w), 0, 1)
        return np.where(np.arange(n) < w, 0.1 + 0.9 * np.arange(n) / w, 0.1 + 0.45 * (1 + np.cos(np.pi * u)))

    truth = dict(L0=2.0, A=0.5, alpha=0.5, B=0.1, p=1.2, scale=T)
    cos_lr = cosine(T)
    flat = np.maximum(cos_lr, np.where(np.arange(T) < 50, 0, 1.0))
    cos_run = Run(cos_lr, eval_loss=(STEPS, adiabatic_law(cos_lr, STEPS, **truth)), name='cos')
    with pytest.raises(ValueError, match=r'runs: the adiabatic law needs a constant-LR run of the recipe'):
        fit_adiabatic_law([cos_run, Run(WSD_LR, eval_loss=(STEPS, adiabatic_law(WSD_LR, STEPS, **truth)))])
    fit = fit_adiabatic_law([cos_run, Run(flat, eval_loss=(STEPS, adiabatic_law(flat, STEPS, **truth)))])
    short = cosine(600)
    assert abs(fit.predict(short).loss / adiabatic_law(short, [600], **truth)[0] - 1) < 1e-3
    with pytest.raises(ValueError, match=r'wsd: its cool-down starts at batch 801 of 1000, not over the whole run'):
        fit.predict(WSD_LR, name='wsd')
    with pytest.raises(ValueError, match=r'cos: a decay over the whole run .* one horizon'):
        fit_momentum_law([cos_run]).predict(short, name='cos')
