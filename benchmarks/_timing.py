"""Timing helpers: medians over repeats, per call."""
from __future__ import annotations

import statistics
import timeit
from typing import Callable


def per_call(fn: Callable[[], object], number: int, repeat: int = 7, warmup: bool = True) -> float:
    """Median seconds per call of ``fn`` over ``repeat`` runs of ``number`` calls (after one warm-up call, which
    fills caches such as our adapters' per-horizon schedule, unless ``warmup=False`` for the long ones)."""
    if warmup:
        fn()
    return statistics.median(timeit.repeat(fn, number=number, repeat=repeat)) / number


def fmt(seconds: float) -> str:
    for unit, scale in (('s', 1), ('ms', 1e-3), ('us', 1e-6), ('ns', 1e-9)):
        if seconds >= scale:
            return f'{seconds / scale:.3g} {unit}'
    return f'{seconds / 1e-9:.3g} ns'
