"""The laws themselves: areas against their definitions, and fits recovering known laws (exact by construction)."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from composer_sched.predict import (
    MetricMap,
    Run,
    fit_loss_law,
    fit_momentum_law,
    fit_multi_power_law,
    momentum_areas,
    momentum_law,
    multi_power_law,
    predict_final_loss,
)
from composer_sched.schedules import LinearWarmUp, StableDecaySchedule

T = 1000
STEPS = np.arange(100, T + 1, 20)
TRUTH = dict(L0=2.0, A=0.5, alpha=0.5, C=2.0, lam=0.99, scale=T)


def wsd(length, frac=0.2, shape='linear', warmup=0):
    s = StableDecaySchedule(length=length, cooldown_length=frac * length, decay_type=shape)
    if warmup:
        s = LinearWarmUp(s, start_lr=0.1, length=warmup, shift=False)
    return np.asarray(s(np.arange(length)), dtype=float)


@settings(max_examples=25, deadline=None)
@given(st.lists(st.floats(0.0, 1.0), min_size=2, max_size=30), st.floats(0.0, 0.999), st.integers(0, 5))
def test_momentum_areas_follow_the_recursion(drops, lam, stable):
    # A monotone cool-down from 1 after `stable` batches at the peak; S1 and S2 by the paper's definitions.
    lr = np.r_[np.ones(stable + 1), 1 - np.cumsum(drops) / max(1.0, sum(drops))]
    S1, S2 = momentum_areas(lr, lam)
    m, s2, peak = 0.0, [0.0], 0
    for i in range(len(lr)):
        m = lam * m + (lr[i - 1] - lr[i] if i > peak else 0.0)
        s2.append(s2[-1] + m)
    np.testing.assert_allclose(S1, np.r_[0, np.cumsum(lr)], atol=1e-12)
    np.testing.assert_allclose(S2, s2, atol=1e-9)


def test_law_functions_reject_bad_input():
    with pytest.raises(ValueError, match='lam must be in'):
        momentum_areas([1.0, 0.5], lam=1.0)
    for lr in ([], [0.0, 0.0], [1.0, np.nan]):
        with pytest.raises(ValueError, match='positive peak'):
            momentum_areas(lr, lam=0.5)
        with pytest.raises(ValueError, match='positive peak'):
            multi_power_law(lr, [0], **MPL_TRUTH)


def test_momentum_fit_recovers_the_law_and_predicts_other_ratios_and_cooldowns():
    lr = wsd(T, warmup=30)
    fit = fit_momentum_law([Run(lr, eval_loss=(STEPS, momentum_law(lr, STEPS, **TRUTH)))])
    for target in (wsd(300, warmup=30), wsd(600, warmup=30), wsd(T, frac=0.4, warmup=30), wsd(1500, warmup=30)):
        truth = momentum_law(target, [target.size], **TRUTH)[0]
        pred = fit.predict(target)
        assert abs(pred.loss - truth) < 2e-3 * truth
        assert pred.low <= pred.loss <= pred.high


def test_final_loss_offset_is_carried_to_predictions():
    lr = wsd(T)
    loss = momentum_law(lr, STEPS, **TRUTH)
    final = momentum_law(lr, [T], **TRUTH)[0] + 0.05  # a final evaluation on another set, 0.05 higher
    fit = fit_momentum_law([Run(lr, eval_loss=(STEPS, loss), final_loss=final)])
    pred = fit.predict(wsd(500))
    assert pred.final_loss == pytest.approx(pred.loss + 0.05, abs=1e-3)
    assert pred.final_low <= pred.final_loss <= pred.final_high
    assert fit_momentum_law([Run(lr, eval_loss=(STEPS, loss))]).predict(wsd(500)).final_loss is None


MPL_TRUTH = dict(L0=2.0, A=0.5, alpha=0.5, B=0.4, C=2.0, beta=0.6, gamma=0.5, scale=T)


def test_multi_power_fit_recovers_the_law_from_two_runs():
    runs = [Run(wsd(T, f), eval_loss=(STEPS, multi_power_law(wsd(T, f), STEPS, **MPL_TRUTH))) for f in (0.1, 0.5)]
    fit = fit_multi_power_law(runs)
    for target in (wsd(T, 0.3), wsd(600, 0.2), wsd(400, 0.5)):
        truth = multi_power_law(target, [target.size], **MPL_TRUTH)[0]
        assert abs(fit.predict(target).loss - truth) < 2e-3 * truth


def test_multi_power_law_of_a_constant_lr_is_the_power_law():
    lr = np.ones(T)
    p = {k: v for k, v in MPL_TRUTH.items()}
    np.testing.assert_allclose(multi_power_law(lr, STEPS, **p), 2.0 + 0.5 * (STEPS / T) ** -0.5)


def test_multi_power_law_needs_two_runs():
    lr = wsd(T)
    with pytest.raises(ValueError, match='at least 2 Run'):
        fit_multi_power_law([Run(lr, eval_loss=(STEPS, momentum_law(lr, STEPS, **TRUTH)))])


def test_predict_final_loss_and_fit_loss_law():
    lr = wsd(T)
    run = Run(lr, eval_loss=(STEPS, momentum_law(lr, STEPS, **TRUTH)))
    preds = predict_final_loss([run], [wsd(400), wsd(800)])
    assert preds[0].loss > preds[1].loss and preds[0].law == 'momentum'
    with pytest.raises(ValueError, match="law must be one of"):
        fit_loss_law([run], law='chinchilla')
    with pytest.raises(ValueError, match=r'targets\[1\]'):
        predict_final_loss([run], [wsd(400), np.cos(np.linspace(0, 1.5, 400))])


def test_metric_map_is_monotone_with_a_band():
    loss = np.linspace(3.0, 2.5, 30)
    acc = 0.2 + 0.3 * (3.0 - loss) + 0.005 * np.sin(np.arange(30))
    m = MetricMap(loss, acc)
    values = [m(x) for x in np.linspace(3.0, 2.5, 50)]
    assert all(b >= a for a, b in zip(values, values[1:]))   # lower loss, higher accuracy
    low, high = m.band(2.7, 2.8)
    assert low <= m(2.75) <= high and high - low >= 2 * m.spread
    with pytest.raises(ValueError, match='at least 3'):
        MetricMap([3.0, 2.9], [0.1, 0.2])


def test_metric_prediction_flags_extrapolation():
    lr = wsd(T)
    loss = momentum_law(lr, STEPS, **TRUTH)
    fit = fit_momentum_law([Run(lr, eval_loss=(STEPS, loss), eval_metric=(STEPS, 1 - loss / 4))])
    inside = fit.predict(wsd(500))
    assert inside.metric == pytest.approx(1 - inside.loss / 4, abs=0.01) and not inside.metric_extrapolated
    beyond = fit.predict(wsd(1800))  # lower loss than the run ever reached: the map is flat there
    assert beyond.metric_extrapolated


def test_lr_arrays_from_preview_predict_another_ratio_and_refuse_cosine():
    # The intended input: preview's exact per-batch multipliers of a Composer recipe at ratio 1 and 0.5.
    from composer_sched import CosineAnnealingScheduler, WSDScheduler, preview
    full = preview(WSDScheduler(t_warmup='30ba', t_cooldown='0.2dur'), '1000ba')
    half = preview(WSDScheduler(t_warmup='30ba', t_cooldown='0.2dur'), '1000ba', ssr=0.5)
    fit = fit_momentum_law([Run(full, eval_loss=(STEPS, momentum_law(full, STEPS, **TRUTH)))])
    assert fit.predict(half).loss == pytest.approx(momentum_law(half, [half.size], **TRUTH)[0], rel=2e-3)
    with pytest.raises(ValueError, match="cool-down's shape"):
        fit.predict(preview(CosineAnnealingScheduler(t_warmup='30ba'), '1000ba'))
