"""Warmup: see ``README.md`` (the method card)."""
from composer_sched.algorithms.warmup.warmup import WARMUP_SHAPES, Warmup, warmup

ALGORITHM = Warmup

__all__ = ['Warmup', 'warmup', 'WARMUP_SHAPES', 'ALGORITHM']
