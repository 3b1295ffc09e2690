"""Evaluating a cyclical schedule at a million points should cost about what a million cosine points cost
(issue 14's target: within 2x of a cosine of the same length, growing cycles included).

Each timing builds the schedule too (its cycle table is computed at construction). Peers in the same run: one cosine
cycle over the same points (the floor), and the tutorial's walk-every-cycle evaluation (on 10^4 points, scaled).
"""
from __future__ import annotations

import math
import statistics
import time

import numpy as np

from benchmarks._timing import fmt, per_call
from composer_sched.schedules import CosineAnnealingSchedule, CyclicalSchedule, get_method

TARGET = 2.0  # at most this many cosine evaluations per cyclical one


def _walk(t, first=500, decay=1.0, magnitude=1.0):
    # The tutorial's evaluation: walk all past cycles for every point.
    idx, k, length = first, 0, first
    while idx <= t:
        length = math.ceil(length * decay)
        k += 1
        idx += length
    return CosineAnnealingSchedule(0.0, 1.0, length)(t - idx + length) * magnitude ** k


def cases():
    """name -> a function building the schedule (cosine cycles from 1 to 0, as the adapters' multipliers)."""
    cos = CosineAnnealingSchedule
    return {
        'equal cycles (500)': lambda: CyclicalSchedule(cos, 500, min_lr=0.0, max_lr=1.0),
        'growing, rounded (tutorial SGDR: 250, x2, x0.5)': lambda: CyclicalSchedule(
            cos, 250, cycle_length_decay=2, cycle_magnitude_decay=0.5, min_lr=0.0, max_lr=1.0),
        'growing, exact (250, x1.01, round_lengths=False)': lambda: CyclicalSchedule(
            cos, 250, cycle_length_decay=1.01, round_lengths=False, min_lr=0.0, max_lr=1.0),
        'sgdr method (t_0=250, t_mult=2, decay 0.5)': lambda: get_method('sgdr').build(
            t_0=250.0, t_mult=2.0, magnitude_decay=0.5, alpha_f=0.0),
    }


def _paired(fn, base, repeat):
    """Median seconds of ``fn`` and of ``base``, and the median of their ratio, timing them alternately: on a busy
    machine the load changes between two separate series, and a ratio of their medians drifts with it."""
    fn(), base()  # warm-up
    ours, theirs, ratios = [], [], []
    for _ in range(repeat):
        a = time.perf_counter()
        fn()
        b = time.perf_counter()
        base()
        c = time.perf_counter()
        ours.append(b - a)
        theirs.append(c - b)
        ratios.append((b - a) / (c - b))
    return statistics.median(ours), statistics.median(theirs), statistics.median(ratios)


def main(n: int = 1_000_000, repeat: int = 11) -> list[tuple[str, float]]:
    t = np.arange(n, dtype=float)
    shuffled = np.random.default_rng(0).permutation(t)
    cosine = CosineAnnealingSchedule(0.0, 1.0, n)
    print(f'{n:,} points; medians of {repeat} runs, each timed right after one of the cosine (the floor), and the '
          'median of those ratios; the schedule is built inside each run')
    print(f'{"schedule":<50}{"median":>10}{"cosine":>10}{"ratio":>9}')
    ratios = []
    for name, make in cases().items():
        took, base, ratio = _paired(lambda: make()(t), lambda: cosine(t), repeat)
        ratios.append((name, ratio))
        print(f'{name:<50}{fmt(took):>10}{fmt(base):>10}{ratio:>8.2f}x')
    make = cases()['sgdr method (t_0=250, t_mult=2, decay 0.5)']
    took, base, ratio = _paired(lambda: make()(shuffled), lambda: cosine(shuffled), 5)
    print(f'{"  same, times shuffled (binary search per point)":<50}{fmt(took):>10}{fmt(base):>10}{ratio:>8.2f}x')
    worst = max(r for _, r in ratios)
    print(f'worst ratio vs cosine: {worst:.2f}x (target <= {TARGET:g}x): {"met" if worst <= TARGET else "NOT met"}')
    m = 10_000
    walk = per_call(lambda: [_walk(float(x)) for x in np.linspace(0, n - 1, m)], number=1, repeat=3) * n / m
    equal = cases()['equal cycles (500)']()
    ours = per_call(lambda: equal(t), number=1, repeat=5)
    print(f'tutorial walk (per point, scaled to {n:,}): {fmt(walk)}   {walk / ours:,.0f}x slower than ours')
    return ratios


if __name__ == '__main__':
    main()
