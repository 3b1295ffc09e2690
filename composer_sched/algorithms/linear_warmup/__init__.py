"""LinearWarmup: see ``README.md`` (the method card)."""
from composer_sched.algorithms.linear_warmup.linear_warmup import LinearWarmup, linear_warmup

ALGORITHM = LinearWarmup

__all__ = ['LinearWarmup', 'linear_warmup', 'ALGORITHM']
