"""SGDR: see ``README.md`` (the method card)."""
from composer_sched.algorithms.sgdr.sgdr import SGDR, sgdr_scheduler

ALGORITHM = SGDR

__all__ = ['SGDR', 'sgdr_scheduler', 'ALGORITHM']
