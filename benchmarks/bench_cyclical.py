"""Evaluating a cyclical schedule at a million points should cost about what a million cosine points cost.

Peers in the same run: one cosine cycle (the floor) and the tutorial's walk-every-cycle evaluation (on 10^4 points,
scaled per point).
"""
from __future__ import annotations

import math

import numpy as np

from benchmarks._timing import fmt, per_call
from composer_sched.schedules import CosineAnnealingSchedule, CyclicalSchedule


def _walk(t, first=500, decay=1.0, magnitude=1.0):
    # The tutorial's evaluation: walk all past cycles for every point.
    idx, k, length = first, 0, first
    while idx <= t:
        length = math.ceil(length * decay)
        k += 1
        idx += length
    return CosineAnnealingSchedule(0.0, 1.0, length)(t - idx + length) * magnitude ** k


def main(n: int = 1_000_000):
    t = np.arange(n, dtype=float)
    cosine = CosineAnnealingSchedule(0.0, 1.0, n)
    cases = {
        'cyclical (2000 equal cycles)': CyclicalSchedule(CosineAnnealingSchedule, cycle_length=500, min_lr=0.0,
                                                         max_lr=1.0),
        'SGDR (length x2, rounded)': CyclicalSchedule(CosineAnnealingSchedule, cycle_length=250, cycle_length_decay=2,
                                                      cycle_magnitude_decay=0.5, min_lr=0.0, max_lr=1.0),
        'SGDR (length x1.01, exact)': CyclicalSchedule(CosineAnnealingSchedule, cycle_length=250,
                                                       cycle_length_decay=1.01, round_lengths=False, min_lr=0.0,
                                                       max_lr=1.0),
    }
    base = per_call(lambda: cosine(t), number=1, repeat=5)
    print(f'cosine, {n:,} points: {fmt(base)}')
    for name, sched in cases.items():
        # A fresh object each time: its boundary table must be built inside the timing.
        fresh = lambda s=sched: CyclicalSchedule(s.schedule_class, s.cycle_length, s.cycle_length_decay,
                                                 s.cycle_magnitude_decay, s.round_lengths, **s.kwargs)(t)
        took = per_call(fresh, number=1, repeat=5)
        print(f'{name:<30} {fmt(took):>10}   {took / base:5.2f}x cosine')
    m = 10_000
    walk = per_call(lambda: [_walk(float(x)) for x in np.linspace(0, n - 1, m)], number=1, repeat=3) * n / m
    ours = per_call(lambda: cases["cyclical (2000 equal cycles)"](t), number=1, repeat=5)
    print(f'tutorial walk (per point, scaled to {n:,}): {fmt(walk)}   {walk / ours:,.0f}x slower than ours')


if __name__ == '__main__':
    main()
