"""Loss prediction on real LLM logs: the 124M-parameter WSD ratio sweep of fabian-sp/lr-scheduling (MIT, read from
../shared/data/lr-scheduling-124m; skipped with the reason when absent).

Peers in the same run: two naive predictions of each ratio's final validation loss, (1) the trunk's loss at that
step (no cool-down) and (2) that minus the full run's cool-down gain. Printed per ratio: the prediction, interval and
its error for the momentum law fitted on the full run alone (``only``), that fit corrected by the 0.3 branch
(``anchor``), the Multi-Power Law on the same two runs, and the baselines' errors; then the median fit times.

Fit times measured on the shared 2-core machine at a load of 3-4 (momentum only / Multi-Power), before and after the
fits shared their per-memory work and ran BLAS on one thread (the same numbers out): 1.2 s / 10.8 s -> 0.25 s / 1.6 s
without OMP_NUM_THREADS (as ``make test`` runs), 0.49 s / 2.0 s -> 0.24 s / 1.7 s with OMP_NUM_THREADS=1.
"""
from __future__ import annotations

import statistics
import time

from benchmarks._timing import fmt
from composer_sched.predict import fit_momentum_law, fit_multi_power_law
from composer_sched.predict.baselines import trunk, trunk_minus_gain
from tests.predict.real_logs import RATIOS, final_val_loss, logs, run, trunk_run, wsd_lr


def baselines(length):
    runs = [run(50_000), trunk_run()]
    return trunk(runs, wsd_lr(length), final=True), trunk_minus_gain(runs, wsd_lr(length), final=True)


def timed(fn, repeat=3):
    times, out = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return out, statistics.median(times)


def main():
    import pytest

    try:
        full, anchor = run(50_000), run(15_000)
    except pytest.skip.Exception as e:
        print(f'skipped: {e}')
        return
    fits = {
        'momentum, only (full run)': timed(lambda: fit_momentum_law([full])),
        'momentum, anchor (full, 0.3 corrects)': timed(lambda: fit_momentum_law([full]).anchored(anchor)),
        'multi-power, anchor (full + 0.3)': timed(lambda: fit_multi_power_law([full, anchor]), repeat=1),
        'momentum, only, training loss': timed(lambda: fit_momentum_law([run(50_000, kind='train')])),
    }
    print('final validation loss of each ratio (relative error in %; [80% prediction interval])')
    print(f'{"ratio":>5} {"measured":>8} | ' + ' | '.join(f'{k[:30]:>30}' for k in fits)
          + f' | {"trunk":>6} {"trunk-gain":>10}')
    for ratio, length in RATIOS.items():
        true = final_val_loss(length)
        cells = []
        for fit, _ in fits.values():
            p = fit.predict(wsd_lr(length))
            err = 100 * (p.final_loss - true) / true
            cells.append(f'{p.final_loss:.4f} [{p.final_low:.3f},{p.final_high:.3f}] {err:+.2f}%')
        b = [100 * (x - true) / true for x in baselines(length)]
        print(f'{ratio:>5} {true:8.4f} | ' + ' | '.join(f'{c:>30}' for c in cells) + f' | {b[0]:+5.2f}% {b[1]:+9.2f}%')
    print('\nerror of the better baseline / error of the prediction (higher is better, > 1 beats both):')
    for name in list(fits)[:3]:
        fit = fits[name][0]
        ratios = []
        for ratio, length in list(RATIOS.items())[:3]:
            true = final_val_loss(length)
            err = abs(fit.predict(wsd_lr(length)).final_loss - true)
            best = min(abs(b - true) for b in baselines(length))
            ratios.append(f'{ratio}: ' + (f'{best / err:.1f}x' if err > 1e-9 else 'fitted on it'))
        print(f'  {name:34} ' + ', '.join(ratios))
    fit = fits['momentum, only (full run)'][0]
    print('\nnext-token accuracy from the momentum law (only), against the last logged one (200 steps before the end):')
    for ratio, length in RATIOS.items():
        p = fit.predict(wsd_lr(length))
        print(f'  ratio {ratio}: {p.metric:.4f} [{p.metric_low:.4f}, {p.metric_high:.4f}]  logged '
              f'{logs()[f"wsd{length}"]["val"]["acc"][-1]:.4f}')
    print('\nmedian fit time (the baselines cost nothing: they read two numbers):')
    for name, (_, seconds) in fits.items():
        print(f'  {name:34} {fmt(seconds)}')


if __name__ == '__main__':
    main()
