"""Trunk sharing in a ratio sweep: a 4-ratio sweep (0.25, 0.5, 0.75, 1.0) of the bundled digits CNN with a WSD
schedule (20% cool-down, 10-batch warm-up), with shared trunks against every ratio run independently
(``--no-share``). Cost is measured two ways: batches trained (exact, machine-independent) and wall time of the
whole sweep (median of repeats, same process, alternating order). Both sweeps must report the same numbers.
"""
from __future__ import annotations

import statistics
import tempfile
import time

RATIOS = (0.25, 0.5, 0.75, 1.0)
OVERRIDES = ('max_duration=6ep', 'schedulers[0].t_warmup=10ba', 'schedulers[0].t_cooldown=0.2dur')


def one_sweep(share: bool) -> tuple[float, int, int, dict]:
    """Wall seconds, batches trained, batches of the longest run, and the metrics per ratio, of one fresh sweep."""
    from composer_sched.sweep import SweepTarget, run_sweep

    with tempfile.TemporaryDirectory() as d:
        t0 = time.perf_counter()
        out = run_sweep(SweepTarget(None, OVERRIDES), RATIOS, 1, d, share_trunks=share, echo=lambda s: None)
        wall = time.perf_counter() - t0
    assert out.exit_code == 0, out.failed
    trained = sum(r['trained_batches'] for r in out.rows)
    full = max(r['batches'] for r in out.rows)
    return wall, trained, full, {r['ratio']: r['metrics'] for r in out.rows}


def main(repeats: int = 3) -> None:
    one_sweep(True)  # warm-up: imports, dataset cache
    walls = {True: [], False: []}
    batches = {}
    metrics = {}
    for i in range(repeats):
        for share in ((True, False) if i % 2 == 0 else (False, True)):
            wall, trained, full, m = one_sweep(share)
            walls[share].append(wall)
            batches[share] = (trained, full)
            metrics[share] = m
    same = metrics[True] == metrics[False]
    (ts, full), (ti, _) = batches[True], batches[False]
    ws, wi = statistics.median(walls[True]), statistics.median(walls[False])
    print(f'4-ratio WSD sweep of the digits CNN ({full} batches at ratio 1), {repeats} repeats, medians:')
    print(f'  {"":<22}{"batches trained":>16}{"x full run":>12}{"wall s":>10}')
    print(f'  {"shared trunks":<22}{ts:>16}{ts / full:>12.2f}{ws:>10.2f}')
    print(f'  {"independent runs":<22}{ti:>16}{ti / full:>12.2f}{wi:>10.2f}')
    print(f'  sharing trains {ts / ti:.2f}x the batches and takes {ws / wi:.2f}x the wall time of independent runs '
          '(wall time adds per-run Trainer set-up and checkpoint save/load, which sharing does not remove, and '
          'per-epoch evaluations, which the shared prefix runs once).')
    print(f'  same final metrics with and without sharing: {same}')


if __name__ == '__main__':
    main()
