"""MultiFactor: see ``README.md`` (the method card)."""
from composer_sched.algorithms.multi_factor.multi_factor import MultiFactor, multi_factor_scheduler

ALGORITHM = MultiFactor

__all__ = ['MultiFactor', 'multi_factor_scheduler', 'ALGORITHM']
