"""OneCycle: see ``README.md`` (the method card)."""
from composer_sched.algorithms.one_cycle.one_cycle import OneCycle

__all__ = ['OneCycle']
