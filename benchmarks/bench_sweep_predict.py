"""What ``sweep --predict`` costs and how far off it is: a 4-ratio sweep (0.25, 0.5, 0.75, 1.0) of the bundled digits
CNN with a WSD schedule (20% cool-down, 10-batch warm-up, as ``bench_sweep``), over several seeds.

One ``--predict shadow`` sweep trains every ratio (with the eval loss every ~budget/32 batches) and records the
``only`` predictions (fitted on ratio 1); the ``anchor`` predictions are refitted from the same database on ratio 1
plus the 0.25 branch, exactly as ``--predict anchor`` would fit them. Cost is batches trained per seed relative to
one full run (exact, machine-independent): ``only``, ``anchor``, trunk sharing, independent runs. Errors per
predicted ratio: accuracy error in units of the seeds' standard deviation (mean prediction - mean measurement),
the eval loss's relative error, how often the 80% interval covers the measured value, and whether the ratios are ranked
as measured.
"""
from __future__ import annotations

import sys
import tempfile
import time

import numpy as np

RATIOS = (0.25, 0.5, 0.75, 1.0)
OVERRIDES = ('max_duration=6ep', 'schedulers[0].t_warmup=10ba', 'schedulers[0].t_cooldown=0.2dur')
METRIC = 'MulticlassAccuracy'


def _errors(pred_rows, measured, label):
    """Lines of per-ratio errors of ``pred_rows`` against ``measured`` ({ratio: [rows]})."""
    lines, order_p, order_m, covered, n = [], [], [], 0, 0
    for r in sorted({p['ratio'] for p in pred_rows}):
        preds = [p for p in pred_rows if p['ratio'] == r]
        meas = {m['seed']: m for m in measured[r]}
        acc_p = np.array([p['metrics'][METRIC] for p in preds])
        acc_m = np.array([meas[p['seed']]['metrics'][METRIC] for p in preds])
        loss_p = np.array([p['prediction']['loss'] for p in preds])
        loss_m = np.array([meas[p['seed']]['history']['eval_loss'][-1] for p in preds])
        std = acc_m.std(ddof=1) if len(acc_m) > 1 else float('nan')
        cov = sum(p['prediction']['metrics'][METRIC]['low'] <= meas[p['seed']]['metrics'][METRIC] <=
                  p['prediction']['metrics'][METRIC]['high'] for p in preds)
        covered += cov
        n += len(preds)
        order_p.append((acc_p.mean(), r))
        order_m.append((acc_m.mean(), r))
        lines.append(f'  {label:<8}{r:>6g}{acc_p.mean():>11.4f}{acc_m.mean():>11.4f}{std:>9.4f}'
                     f'{(acc_p.mean() - acc_m.mean()) / std:>+11.2f}{np.mean(loss_p / loss_m - 1):>+12.2%}'
                     f'{cov:>6}/{len(preds)}')
    ranked = [r for _, r in sorted(order_p)] == [r for _, r in sorted(order_m)]
    return lines, ranked, covered, n


def main(seeds: int = 5) -> None:
    from composer_sched.sweep import SweepTarget, run_sweep
    from composer_sched.sweep.predicted import predict_rows, prepare_predict

    target = SweepTarget(None, OVERRIDES)
    with tempfile.TemporaryDirectory() as d:
        t0 = time.perf_counter()
        out = run_sweep(target, RATIOS, seeds, d, predict='shadow', echo=lambda s: None, plot=False)
        wall = time.perf_counter() - t0
        assert out.exit_code == 0, (out.failed, out.prediction_errors)
        plan = out.plan
        loaded = target.load()
        anchor = prepare_predict(loaded, plan, 'anchor')
        trained = {r['run_id']: r for r in out.rows if not r['predicted']}
        anchor_rows, errors = predict_rows(anchor, plan, trained, None, lambda s: None)
        assert not errors, errors
    only_rows = [r for r in out.rows if r['predicted']]
    measured: dict = {}
    for r in trained.values():
        measured.setdefault(r['ratio'], []).append(r)
    full = plan.budgets[1.0]
    only_b = full
    anchor_b = anchor.batches_per_seed(plan)
    print(f'4-ratio WSD sweep of the digits CNN ({full} batches at ratio 1), {seeds} seeds; one --predict shadow '
          f'sweep ({wall:.0f} s wall on this machine):')
    print(f'  {"batches trained per seed":<28}{"batches":>9}{"x full run":>12}')
    for name, b in (('--predict only', only_b), ('--predict anchor', anchor_b),
                    ('trunk sharing', plan.shared_batches), ('independent runs', plan.independent_batches)):
        print(f'  {name:<28}{b:>9}{b / full:>12.2f}')
    print(f'  prediction errors ({METRIC}; err/std = (mean predicted - mean measured) / seed std; loss err = mean '
          'relative error of the final eval loss; in = seeds whose measured value the 80% interval covers):')
    print(f'  {"mode":<8}{"ratio":>6}{"predicted":>11}{"measured":>11}{"std":>9}{"err/std":>11}{"loss err":>12}'
          f'{"in":>8}')
    for label, rows in (('only', only_rows), ('anchor', anchor_rows)):
        lines, ranked, covered, n = _errors(rows, measured, label)
        print('\n'.join(lines))
        print(f'  {label}: ratios ranked as measured: {ranked}; interval covers {covered} of {n}')


if __name__ == '__main__':
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 5)
