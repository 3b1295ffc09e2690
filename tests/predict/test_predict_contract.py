"""Issue 25, item 4: every number the predict API returns passes a sanity contract, every knob is validated at
construction for every fit, and targets outside what the fit saw are refused with the rule's numbers."""
import math

import numpy as np
import pytest

from composer_sched.predict import Candidate, MomentumLawFit, Run, fit_momentum_law, fit_multi_power_law, momentum_law

T = 1000
STEPS = np.arange(100, T + 1, 20)
LAW = dict(L0=2.0, A=0.5, alpha=0.5, C=2.0, lam=0.99, scale=T)


def wsd(length, cooldown, warmup=0):
    lr = np.minimum(1.0, (length - np.arange(length)) / cooldown)
    lr[:warmup] = np.linspace(0.1, 1, warmup + 1)[:-1]
    return lr


def run(length=T, cooldown=200, name='run', law=LAW):
    lr = wsd(length, cooldown)
    steps = STEPS[STEPS <= length]
    return Run(lr, eval_loss=(steps, momentum_law(lr, steps, **law)), name=name)


@pytest.fixture(scope='module')
def fit():
    return fit_momentum_law([run()])


@pytest.mark.parametrize('knob', ['band_tol', 'max_extrapolation', 'skip', 'huber_delta'])
@pytest.mark.parametrize('value', [-1.0, math.nan, math.inf])
def test_every_fit_validates_its_knobs_at_construction(knob, value):
    runs = [run(), run(T, 400, 'other')]
    for fitter in (fit_momentum_law, fit_multi_power_law):
        with pytest.raises(ValueError, match=f'{knob} must be a finite number'):
            fitter(runs, **{knob: value})
    with pytest.raises(ValueError, match='gamma_step must be a finite number'):
        fit_multi_power_law(runs, gamma_step=math.nan)


def test_target_ending_before_the_first_fitted_point_is_refused_with_the_rule(fit):
    # The fit skips the first 5% of T: its first point is batch 100; a 60-batch run ends before it.
    with pytest.raises(ValueError, match=r'ends after 60 batches, before the first loss point .* \(batch 100'):
        fit.predict(wsd(60, 12))


def test_curve_refuses_what_predict_refuses(fit):
    with pytest.raises(ValueError, match='rises again'):
        fit.curve(np.r_[wsd(500, 100), np.ones(10)], [200])
    with pytest.raises(ValueError, match='max_extrapolation'):
        fit.curve(wsd(3000, 300), [2000])
    with pytest.raises(ValueError, match=r'steps must be whole batch counts in \[100, 500\]'):
        fit.curve(wsd(500, 100), [50])
    assert fit.curve(wsd(500, 100), [500])[0] == pytest.approx(fit.predict(wsd(500, 100)).loss)


def test_constant_target_from_a_run_without_stable_phase_is_refused():
    # A decay over the whole run (cosine-like): the law never saw a long stable phase, so a constant-LR target
    # is an extrapolation it cannot make; the message gives the rule's numbers.
    lr = np.cos(np.linspace(0, np.pi / 2, T + 1)[:-1]) * 0.9 + 0.1
    fit = fit_momentum_law([Run(lr, eval_loss=(STEPS, momentum_law(lr, STEPS, **LAW)))])
    with pytest.raises(ValueError, match=r'batches at the peak LR is more than max_extrapolation=2.0 times the '
                                         r'longest stable phase of the fitted runs \(1 batches'):
        fit.predict(np.ones(T))


def test_step_decay_to_another_floor_names_the_floor():
    step = np.r_[np.ones(500), np.full(500, 0.1)]
    fit = fit_momentum_law([Run(step, eval_loss=(STEPS, momentum_law(step, STEPS, **LAW)))])
    with pytest.raises(ValueError, match=r'ends at 0.3 of the peak LR, the fitted runs\' at \[0.1\].*another floor'):
        fit.predict(np.r_[np.ones(500), np.full(500, 0.3)])


def test_negative_law_value_is_refused_not_returned():
    # Parameters as a fit on a loss ending near 0.03 gives them (issue 25: -0.0081 from a 2x longer cool-down):
    # the annealing term outgrows the rest, the law goes below zero, and the API refuses instead of returning it.
    params = dict(L0=0.0, A=0.01, alpha=0.5, C=0.17, lam=0.99)
    fit = MomentumLawFit([run()], [Candidate(0.0, params)], scale=T, band_tol=0.25, max_extrapolation=2.0)
    assert fit.curve(wsd(T, 200), [T])[0] > 0 > fit._curve(wsd(T, 400), [T])[0]
    with pytest.raises(ValueError, match='gives a loss of -.* after 1000 batches, not a positive number'):
        fit.predict(wsd(T, 400))


def test_interval_brackets_a_positive_prediction_and_widens_with_distance(fit):
    near, far = fit.predict(wsd(900, 180)), fit.predict(wsd(300, 60))
    for p in (near, far):
        assert 0 < p.low <= p.fits_low <= p.loss <= p.fits_high <= p.high and p.coverage == 0.8
    assert far.high / far.loss > near.high / near.loss
    wide = fit.predict(wsd(300, 60), coverage=0.95)
    assert wide.high > far.high and wide.low < far.low
    with pytest.raises(ValueError, match='coverage must be a finite number in \\(0, 1\\)'):
        fit.predict(wsd(300, 60), coverage=1.0)


def test_diverged_run_is_flagged_on_the_fit_and_each_prediction():
    lr = wsd(T, 200)
    loss = momentum_law(lr, STEPS, **LAW)
    loss[10] = 50 * loss[10]  # one blown-up evaluation, as a diverging run logs
    fit = fit_momentum_law([Run(lr, eval_loss=(STEPS, loss), name='blown')])
    assert any(w.startswith('blown: diverged') for w in fit.warnings)
    assert fit.predict(wsd(500, 100)).warnings == fit.warnings
    assert not fit_momentum_law([run()]).warnings
