"""Triangular: see ``README.md`` (the method card)."""
from composer_sched.algorithms.triangular.triangular import Triangular, triangular_scheduler

ALGORITHM = Triangular

__all__ = ['Triangular', 'triangular_scheduler', 'ALGORITHM']
