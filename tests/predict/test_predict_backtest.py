"""Issue 22: backtests on the shared real logs (read from ../shared/data, skipped with the reason when absent).

Peers' data: fabian-sp/lr-scheduling (124M WSD sweep, MIT) and thu-yao-01-luo/MultiPowerLaw @ 8da9f19
(loss_curve_repo/csv_{25,100,400}, MIT). Figures held here are the issue's: the 80% interval covers 70-90% of the
outcomes across all backtests, 30-70% of the predictions are too low, and the cosine 72k -> 24k transfer is
refused from the cosine run alone (where the laws erred +0.77/+1.12/+1.60%, worse than a naive baseline), never a
silently worse number, and within 0.5% with a constant-LR run beside it (the adiabatic law).
"""
import glob

import numpy as np
import pytest

from composer_sched.cli import main
from composer_sched.predict import fit_momentum_law
from composer_sched.predict.backtest import backtest, calibrate_spread, summarize
from composer_sched.predict.logs import read_logs
from tests.predict import real_logs

SIZES = (25, 100, 400)


def mpl_runs(size):
    folder = real_logs.shared('multipowerlaw-curves') / f'csv_{size}'
    return read_logs(sorted(glob.glob(str(folder / '*.csv'))))


@pytest.fixture(scope='module')
def all_cases():
    runs = [real_logs.run(n) for n in (15_000, 25_000, 35_000, 50_000)] + [real_logs.trunk_run()]
    cases = backtest(runs, families={r.name: 'wsd' if r.name.startswith('wsd') else 'constant' for r in runs})
    for size in SIZES:
        runs, families = mpl_runs(size)
        cases += backtest(runs, families=families)
    return cases


@pytest.mark.parametrize('size', SIZES)
def test_cosine_horizon_transfer_from_one_horizon_is_refused_with_the_rule(size):
    runs = {r.name: r for r in mpl_runs(size)[0]}
    fit = fit_momentum_law([runs['cosine_72000']])
    with pytest.raises(ValueError, match=r'cosine_24000: a decay over the whole run .*\(one horizon '
                                         r'\(719\d\d batches\); allowed 653\d\d to 791\d\d batches'):
        fit.predict(runs['cosine_24000'].lr, name='cosine_24000')


def test_interval_covers_70_to_90_percent_and_predictions_are_not_biased_low(all_cases):
    assert len(all_cases) >= 20
    covered = np.mean([c.covered for c in all_cases])
    too_low = np.mean([c.error < 0 for c in all_cases])
    assert 0.7 <= covered <= 0.9, covered
    assert 0.3 <= too_low <= 0.7, too_low
    for c in all_cases:  # the sanity contract on every number
        assert 0 < c.low <= c.predicted <= c.high and np.isfinite(c.high)


def test_no_momentum_fit_on_the_shared_logs_counts_as_a_misfit(all_cases):
    # The momentum law (the sweep's) follows every shared run's shape (measured: at most 0.52), so the sweep keeps
    # the law there; the tiny LM's misfits are at 0.65-0.82.
    from composer_sched.predict._law import MISFIT_AUTOCORRELATION

    assert max(c.autocorrelation for c in all_cases if c.law == 'momentum') < MISFIT_AUTOCORRELATION


def test_cosine_72k_to_24k_with_a_constant_lr_run_is_within_half_a_percent_and_beats_the_baselines(all_cases):
    # The adiabatic law on cosine 72k + constant 72k (measured: +0.39 / +0.14 / +0.12% at 25M / 100M / 400M,
    # against the best baseline's 0.31 / 0.70 / 0.85%): the goal is within 0.5% at every size and better
    # than the best baseline on at least 2 of 3.
    cos = [c for c in all_cases if c.law == 'adiabatic' and c.target == 'cosine_24000']
    assert [c.fitted for c in cos] == [('cosine_72000', 'constant_72000')] * 3
    assert all(abs(c.error) < 0.005 and c.covered for c in cos)
    best = [min(abs(e) for e in map(c.baseline_error, c.baselines) if e is not None) for c in cos]
    assert sum(abs(c.error) < b for c, b in zip(cos, best)) >= 2, [(c.error, b) for c, b in zip(cos, best)]


def test_anchor_is_never_worse_than_only_on_the_targets_it_predicts(all_cases):
    only = {c.target: c for c in all_cases if c.mode == 'only' and c.fitted == ('wsd50000',)}
    anchor = [c for c in all_cases if c.mode == 'anchor' and c.law == 'momentum']
    assert {c.target for c in anchor} == {'wsd25000', 'wsd35000'}
    for c in anchor:
        assert abs(c.error) < 0.002 and abs(c.error) <= abs(only[c.target].error), (c, only[c.target])


def test_summary_and_conformal_spread(all_cases):
    rows = {(r['family'], r['mode'], r['law']): r for r in summarize(all_cases)}
    wsd_only = rows[('wsd', 'only', 'momentum')]
    assert wsd_only['n'] == 10 and wsd_only['worst'] < 0.005 and wsd_only['best_baseline'] is None
    # WSD -> constant: the law (0.01-0.13%) loses to the trunk read off the runs (0.01-0.06%), and the table says so.
    assert rows[('wsd->constant', 'only', 'momentum')]['best_baseline'] == 'trunk'
    s = calibrate_spread(all_cases)
    assert 0.001 < s < 0.01  # the package's default (0.0035) comes from these cases


def test_cli_backtest_prints_the_table_and_the_refused_family(capsys):
    folder = real_logs.shared('multipowerlaw-curves') / 'csv_100'
    assert main(['predict', 'backtest', *sorted(glob.glob(str(folder / '*.csv')))]) == 0
    out = capsys.readouterr().out
    assert 'wsd->constant' in out and 'refused (cosine, only, momentum) cosine_72000 -> cosine_24000' in out
    assert main(['predict', 'backtest', str(folder / 'cosine_24000.csv'), '--coverage', '1.5']) == 2
    assert 'error: --coverage must be in (0, 1), got 1.5' in capsys.readouterr().err
