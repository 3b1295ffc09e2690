"""``sweep --predict {only,anchor,shadow}`` on the digits recipe at a tiny size: which runs train, the predicted rows
and their markers, refusals before any training, and that measuring the eval history does not change training."""
import csv
import math
import os

import numpy as np
import pytest
import torch

from composer_sched import WSDScheduler
from composer_sched.cli import main
from composer_sched.sweep import SweepTarget, run_sweep
from composer_sched.sweep.execute import execute_run
from composer_sched.sweep.plan import RunSpec, branch_points
from composer_sched.sweep.report import build_report

# 2 epochs of 22 batches, a short warm-up so every ratio down to 0.5 has a stable phase and a cool-down.
OVERRIDES = ('max_duration=2ep', 'schedulers[0].t_warmup=4ba')
RATIOS = [0.5, 0.75, 1.0]


def _sweep(tmp_path, mode, ratios=RATIOS, seeds=1, lines=None):
    return run_sweep(SweepTarget(None, OVERRIDES), ratios, seeds=seeds, out_dir=str(tmp_path / mode), predict=mode,
                     echo=(lines.append if lines is not None else lambda s: None))


def _check_prediction(row):
    p = row['prediction']
    assert row['predicted'] and row['trained_batches'] == 0 and row['run_id'].endswith('-pred')
    assert all(math.isfinite(p[k]) for k in ('loss', 'low', 'high')) and 0 < p['low'] <= p['loss'] <= p['high']
    assert p['coverage'] == 0.8 and p['estimate'] in ('law', 'trunk', 'trunk_minus_gain', 'stable_power_law')
    assert p['baselines']['trunk'] is not None and p['baselines']['trunk'] > 0  # always beside the prediction
    acc = row['metrics']['MulticlassAccuracy']
    band = p['metrics']['MulticlassAccuracy']
    assert 0 <= acc <= 1 and band['low'] <= acc <= band['high']
    assert p['law'] == 'momentum' and p['fitted_on']


@pytest.mark.slow
def test_predict_only_trains_the_longest_ratio_and_marks_the_others_predicted(tmp_path):
    out = _sweep(tmp_path, 'only')
    assert out.exit_code == 0
    trained = [r for r in out.rows if not r['predicted']]
    predicted = sorted((r for r in out.rows if r['predicted']), key=lambda r: r['ratio'])
    assert [r['ratio'] for r in trained] == [1.0] and [r['ratio'] for r in predicted] == [0.5, 0.75]
    # The one trained run is the whole cost: 1.0x the longest run.
    assert sum(r['trained_batches'] for r in trained) == out.plan.budgets[1.0] == 44
    h = trained[0]['history']
    assert h['steps'][-1] == 44 and len(h['steps']) == len(h['eval_loss']) >= 20
    for row in predicted:
        _check_prediction(row)
        assert row['batches'] == out.plan.budgets[row['ratio']]
    text = out.report.text()
    assert '0.5*p' in text.replace(' ', '') or '0.5p' in text.replace(' ', '')
    assert 'p = predicted, not trained' in text
    here = out.outputs['config_csv']
    with open(here) as f:
        rows = list(csv.DictReader(f))
    assert sorted(r['predicted'] for r in rows) == ['False', 'True', 'True']
    assert all(r['predicted_loss'] for r in rows if r['predicted'] == 'True')
    assert os.path.isfile(out.outputs['config_plot'])
    # Again: nothing trains, the predictions stand.
    again = _sweep(tmp_path, 'only')
    assert again.ran == 0 and len(again.rows) == 3


@pytest.mark.slow
def test_predict_anchor_trains_the_smallest_ratio_as_a_branch_and_predicts_the_middle(tmp_path):
    lines = []
    out = _sweep(tmp_path, 'anchor', lines=lines)
    assert out.exit_code == 0
    # The sweep prints the backtest it rests on: the law fitted on ratio 1 alone against the anchor, and the baselines.
    assert any('backtest on ratio 0.5 seed 0' in x and 'law ' in x and 'trunk_minus_gain' in x for x in lines), lines
    trained = {r['ratio']: r for r in out.rows if not r['predicted']}
    predicted = [r for r in out.rows if r['predicted']]
    assert sorted(trained) == [0.5, 1.0] and [r['ratio'] for r in predicted] == [0.75]
    low = trained[0.5]
    assert low['branched_from'] == trained[1.0]['run_id']  # only its cool-down was trained
    assert low['trained_batches'] == out.plan.budgets[0.5] - low['branch_batch'] < out.plan.budgets[0.5]
    _check_prediction(predicted[0])
    assert len(predicted[0]['prediction']['fitted_on']) == 2
    # The sweep folder backtests from the command line: ratio 1 predicts the trained ratio 0.5.
    import contextlib
    import io

    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        assert main(['predict', 'backtest', str(tmp_path / 'anchor')]) == 0
    assert 'seed 0: 2 runs, 1 backtest case(s)' in buf.getvalue() and 'all: 1 cases' in buf.getvalue()


@pytest.mark.slow
def test_predict_shadow_trains_every_ratio_and_reports_each_error(tmp_path):
    out = _sweep(tmp_path, 'shadow', ratios=[0.5, 1.0])
    assert out.exit_code == 0
    assert sorted((r['ratio'], r['predicted']) for r in out.rows) == [(0.5, False), (0.5, True), (1.0, False)]
    _check_prediction(next(r for r in out.rows if r['predicted']))
    errs = out.report.errors()
    assert [e['ratio'] for e in errs] == [0.5]
    e = errs[0]
    assert math.isfinite(e['error']) and math.isfinite(e['loss_error']) and e['loss_measured'] > 0
    text = out.report.text()
    assert 'predictions vs trained runs' in text and 'ranked as measured' in text
    # The table reports the trained runs, not the predictions, where both exist.
    assert not any(s.predicted for s in out.report.summaries)


@pytest.mark.parametrize('recipe, needle', [
    ('schedules/one_cycle', 'cannot be predicted'),      # another warm-up and peak: refused by the law's rule
    ('algorithms/autowu', 'sets the learning rate from the training loss'),
])
def test_predict_refuses_before_training_with_one_line(recipe, needle, tmp_path, capsys):
    out = tmp_path / 'out'
    assert main(['sweep', recipe, '--predict', 'only', '--ratios', '0.5,1', '--out', str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith('composer-sched sweep: error: --predict only') and needle in err and '\n' not in err
    assert not (out / 'results.sqlite').exists()


def test_ratio_ending_before_the_first_fitted_point_is_refused_before_training(tmp_path, capsys):
    # Issue 25: --ratios 0.03,1 with no warm-up predicted an eval loss 15x the measured one; now refused up front.
    out = tmp_path / 'out'
    assert main(['sweep', '--predict', 'only', '--ratios', '0.03,1', '--out', str(out), 'max_duration=6ep',
                 'schedulers[0].t_warmup=0ba']) == 2
    err = capsys.readouterr().err
    assert 'ratio 0.03: it ends after 3 batches, before the first loss point the law is fitted on (batch 7' in err
    assert not (out / 'results.sqlite').exists()


def test_predict_mode_is_validated(tmp_path, capsys):
    assert main(['sweep', '--predict', 'always', '--out', str(tmp_path / 'o')]) == 2
    assert '--predict' in capsys.readouterr().err
    with pytest.raises(ValueError, match="--predict='always'"):
        run_sweep(SweepTarget(None, OVERRIDES), RATIOS, out_dir=str(tmp_path / 'p'), predict='always')


@pytest.mark.slow
def test_the_eval_history_does_not_change_training(tmp_path):
    t = SweepTarget(None, ('max_duration=30ba',))
    h = t.load().fingerprint
    a, b = str(tmp_path / 'a.pt'), str(tmp_path / 'b.pt')
    plain = execute_run(t, RunSpec('x', 1.0, 0), h, save_weights=a)
    watched = execute_run(t, RunSpec('x', 1.0, 0, eval_every=3), h, save_weights=b)
    assert plain['status'] == watched['status'] == 'done' and 'history' not in plain
    assert watched['history']['steps'] == list(range(3, 31, 3))
    assert plain['metrics'] == watched['metrics']
    wa, wb = torch.load(a), torch.load(b)
    assert all(torch.equal(wa[k], wb[k]) for k in wa)


def test_the_plan_says_which_ratios_are_warmup_only():
    sched = [WSDScheduler(t_warmup='30ba', t_cooldown='0.2dur')]
    budgets, _, reasons = branch_points(sched, '100ba', [0.2, 1.0], dataloader_len=10)
    assert budgets == {0.2: 20, 1.0: 100}
    assert any(r.startswith('ratio 0.2 is warm-up only: its 20 batches') for r in reasons)
    assert not any('ratio 1 is warm-up only' in r for r in reasons)


def _row(ratio, acc, predicted=False, seed=0):
    row = {'run_id': f'x-r{ratio}-s{seed}' + ('-pred' if predicted else ''), 'ratio': ratio, 'seed': seed,
           'status': 'done', 'batches': int(100 * ratio), 'samples': 0, 'equiv_wall_s': 1.0, 'device_s': 1.0,
           'metrics': {'acc': acc}, 'predicted': predicted}
    if predicted:
        row['prediction'] = {'loss': 1.0, 'low': 0.9, 'high': 1.1,
                             'metrics': {'acc': {'value': acc, 'low': acc - 0.01, 'high': acc + 0.01}}}
    return row


def test_the_recommendation_says_when_it_rests_on_predictions():
    rep = build_report([_row(1.0, 0.90), _row(0.5, 0.895, predicted=True)], tolerance=0.01)
    assert rep.recommended_ratio == 0.5 and 'rests on predictions (ratio 0.5 predicted' in rep.text()
    measured = build_report([_row(1.0, 0.90), _row(0.5, 0.895)], tolerance=0.01)
    assert 'rests on predictions' not in measured.text()
    # Where a ratio was also trained, the trained runs are the result and the prediction is compared with them.
    both = build_report([_row(1.0, 0.90), _row(0.5, 0.85), _row(0.5, 0.87, predicted=True)], tolerance=0.01)
    assert both.recommended_ratio == 1.0
    (err,) = both.errors()
    assert np.isclose(err['error'], 0.02) and not err['covered']


def test_anchor_backtest_picks_a_baseline_that_beat_the_law_and_says_so():
    # The sweep's own backtest in anchor mode: the law fitted on the full run predicts the anchor beside the
    # baselines; a baseline that hit the anchor better is the one the targets get (flagged by name).
    from composer_sched.predict import Run, fit_momentum_law, momentum_law
    from composer_sched.predict.baselines import trunk_minus_gain
    from composer_sched.sweep.predicted import _backtest_line

    def wsd(T):
        return np.minimum(1.0, (T - np.arange(T)) / (0.2 * T))

    law = dict(L0=2.0, A=0.5, alpha=0.5, C=2.0, lam=0.99, scale=1000)
    steps = np.arange(50, 1001, 25)
    full = Run(wsd(1000), eval_loss=(steps, momentum_law(wsd(1000), steps, **law)), name='ratio 1')
    fit = fit_momentum_law([full])
    a_steps = np.arange(50, 501, 25)
    exact = momentum_law(wsd(500), a_steps, **law)
    line, use, errs = _backtest_line(fit, Run(wsd(500), eval_loss=(a_steps, exact), name='ratio 0.5'), wsd(500),
                                     [full])
    assert use is None and 'the law beats every baseline' in line and abs(errs['law']) < 1e-3
    # An anchor that measured exactly what trunk - gain says: that baseline wins and is named.
    hit = exact.copy()
    hit[-1] = trunk_minus_gain([full], wsd(500), at=500)
    line, use, errs = _backtest_line(fit, Run(wsd(500), eval_loss=(a_steps, hit), name='ratio 0.5'), wsd(500), [full])
    assert use == 'trunk_minus_gain' and 'trunk_minus_gain beats the law here' in line and errs[use] == 0


@pytest.mark.parametrize('prediction, flagged', [
    ({'loss': 2.0, 'estimate': 'law', 'warnings': []}, False),
    ({'loss': 2.0, 'estimate': 'law', 'warnings': ['ratio 1 seed 0: diverged (loss 106 at batch 60, ...)']}, True),
    ({'loss': 2.0, 'estimate': 'trunk_minus_gain', 'warnings': []}, True),
])
def test_predicted_rows_from_a_doubtful_run_or_a_baseline_are_flagged_in_the_table(prediction, flagged):
    from composer_sched.sweep.report import summarize

    row = {'ratio': 0.5, 'seed': 0, 'status': 'done', 'metrics': {'acc': 0.9}, 'batches': 10, 'samples': 80,
           'equiv_wall_s': 0.0, 'device_s': 0.0, 'predicted': True, 'prediction': dict(prediction, metrics={})}
    assert summarize([row])[0].flagged is flagged


def test_a_fit_that_misses_the_run_gives_way_to_the_baseline_flagged():
    # No anchor to backtest on, but the law's residuals on the fitted run stay on one side of the curve for many
    # points (the tiny LM's case): the predictions are the run's trunk minus its gain, with the law's interval
    # width, flagged by name, and the sweep says why. A run the law follows keeps the law.
    from composer_sched.predict import momentum_law
    from composer_sched.sweep.plan import SweepPlan
    from composer_sched.sweep.predicted import MISFIT_BASELINE, PredictSetup, predict_rows

    def wsd(T):
        return np.minimum(np.minimum(1.0, (np.arange(T) + 1) / 10), (T - np.arange(T)) / (0.2 * T))

    specs = {r: RunSpec(f'x-r{r:g}-s0', r, 0) for r in (0.5, 0.75, 1.0)}
    plan = SweepPlan(list(specs.values()), {r: int(400 * r) for r in specs}, 0, 0, [])
    curves = {r: wsd(int(400 * r)) for r in specs}
    setup = PredictSetup('only', [specs[1.0]], [], [1.0], [0.5, 0.75], {}, curves,
                         _target_specs=[specs[0.5], specs[0.75]])
    steps = np.arange(20, 401, 10)
    clean = momentum_law(curves[1.0], steps, L0=1.0, A=0.5, alpha=0.5, C=0.5, lam=0.9, scale=400)
    rng = np.random.default_rng(0)
    for loss, misfit in ((clean * np.exp(0.001 * rng.standard_normal(steps.size)), False),
                         (clean * (1 + 0.03 * np.sin(steps / 400 * 3 * np.pi)), True)):
        row = {'run_id': specs[1.0].run_id, 'ratio': 1.0, 'seed': 0, 'status': 'done',
               'history': {'steps': steps.tolist(), 'eval_loss': loss.tolist(), 'metrics': {}}}
        lines: list = []
        preds, errors = predict_rows(setup, plan, {specs[1.0].run_id: row}, None, lines.append)
        assert not errors and len(preds) == 2
        for p in (r['prediction'] for r in preds):
            assert p['estimate'] == (MISFIT_BASELINE if misfit else 'law')
            if misfit:
                assert p['loss'] == p['baselines'][MISFIT_BASELINE] != p['law_loss']
                assert p['low'] < p['loss'] < p['high']
        assert any('the law misses the shape of the fitted run' in x for x in lines) is misfit
