"""OneCycle: see ``README.md`` (the method card)."""
from composer_sched.algorithms.one_cycle.one_cycle import OneCycle, one_cycle_scheduler

ALGORITHM = OneCycle

__all__ = ['OneCycle', 'one_cycle_scheduler', 'ALGORITHM']
