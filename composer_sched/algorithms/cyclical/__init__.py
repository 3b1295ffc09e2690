"""Cyclical: see ``README.md`` (the method card)."""
from composer_sched.algorithms.cyclical.cyclical import Cyclical, cyclical_scheduler

ALGORITHM = Cyclical

__all__ = ['Cyclical', 'cyclical_scheduler', 'ALGORITHM']
