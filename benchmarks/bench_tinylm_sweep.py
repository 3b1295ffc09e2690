"""The tiny language model's ratio sweep (issue 15): ``tinylm_wsd`` at ratios 0.25, 0.5, 0.75 and 1 with shared
trunks, one seed, one torch thread per run. Prints the sweep's table (eval cross-entropy and perplexity per ratio)
and the machine it ran on; ``composer-sched sweep tinylm_wsd --ratios 0.25,0.5,0.75,1`` is the same sweep. It
trains about 1.3 full runs (3120 batches of 8 x 64 bytes): about 3 minutes on 2 free CPU cores.

``python -m benchmarks.bench_tinylm_sweep --shadow DIR`` measures ``--predict shadow`` instead (issue 22), without
training: ``DIR`` is the folder of ``composer-sched sweep tinylm_wsd --predict shadow --seeds 5 --ratios
0.25,0.5,0.75,1 --out DIR max_duration=600ba`` (about 40 minutes on a shared 2-core machine); the predictions are
recomputed from its database with the current code, exactly as the sweep makes them, and compared with the
trained runs: per ratio the mean error in units of the seeds' standard deviation, and seed by seed how often the
80% interval covers the measurement and how many predictions are too low.
"""
from __future__ import annotations

import platform
import sys
import tempfile
import time

RATIOS = (0.25, 0.5, 0.75, 1.0)
SHADOW = ('max_duration=600ba',)


def shadow(folder: str) -> None:
    """Recompute and score the ``--predict shadow`` predictions of the sweep in ``folder`` (see the module)."""
    import numpy as np

    from composer_sched.sweep import SweepTarget
    from composer_sched.sweep.plan import plan_sweep
    from composer_sched.sweep.predicted import predict_rows, prepare_predict
    from composer_sched.sweep.store import ResultsStore

    store = ResultsStore(f'{folder}/results.sqlite', readonly=True)
    loaded = SweepTarget('tinylm_wsd', SHADOW).load()
    (config,) = [h for h in store.sweeps()]
    rows = {r['run_id']: r for r in store.rows(config, 'done') if not r['predicted']}
    seeds = sorted({r['seed'] for r in rows.values()})
    with tempfile.TemporaryDirectory() as d:
        plan = plan_sweep(loaded, RATIOS, seeds, d)
    setup = prepare_predict(loaded, plan, 'shadow')
    lines: list = []
    preds, errors = predict_rows(setup, plan, rows, None, lines.append)
    assert not errors, errors
    print('\n'.join(lines))
    measured = {(r['ratio'], r['seed']): r['history']['eval_loss'][-1] for r in rows.values()}
    print(f'{"ratio":>6}{"predicted":>11}{"measured":>10}{"seed sd":>9}{"err/sd":>8}{"covered":>9}{"too low":>9}'
          '  estimates')
    covered = low = n = 0
    for ratio in sorted({p['ratio'] for p in preds}):
        ps = [p for p in preds if p['ratio'] == ratio]
        m = np.array([measured[ratio, p['seed']] for p in ps])
        v = np.array([p['prediction']['loss'] for p in ps])
        c = sum(p['prediction']['low'] <= measured[ratio, p['seed']] <= p['prediction']['high'] for p in ps)
        sd = m.std(ddof=1)
        covered, low, n = covered + c, low + int((v < m).sum()), n + len(ps)
        est = ', '.join(sorted({p['prediction']['estimate'] for p in ps}))
        print(f'{ratio:>6g}{v.mean():>11.4f}{m.mean():>10.4f}{sd:>9.4f}{(v.mean() - m.mean()) / sd:>+8.2f}'
              f'{c:>6}/{len(ps)}{int((v < m).sum()):>6}/{len(ps)}  {est}')
    print(f'seed by seed: the 80% interval covers {covered} of {n}; {low} of {n} predictions too low')


def main() -> None:
    import os

    from composer_sched.sweep import SweepTarget, run_sweep

    if len(sys.argv) > 2 and sys.argv[1] == '--shadow':
        return shadow(sys.argv[2])
    with tempfile.TemporaryDirectory() as d:
        t0 = time.perf_counter()
        out = run_sweep(SweepTarget('tinylm_wsd'), RATIOS, 1, d, echo=lambda s: None)
        wall = time.perf_counter() - t0
    assert out.exit_code == 0, out.failed
    print(f'machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, Python '
          f'{platform.python_version()}')
    print(out.report.text())
    trained = sum(r['trained_batches'] for r in out.rows)
    print(f'whole sweep: {trained} batches trained, {wall:.0f} s wall')


if __name__ == '__main__':
    main()
