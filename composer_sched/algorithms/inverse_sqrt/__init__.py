"""InverseSqrt: see ``README.md`` (the method card)."""
from composer_sched.algorithms.inverse_sqrt.inverse_sqrt import InverseSqrt, inverse_sqrt_scheduler

ALGORITHM = InverseSqrt

__all__ = ['InverseSqrt', 'inverse_sqrt_scheduler', 'ALGORITHM']
