"""Constant schedule."""
from __future__ import annotations

import dataclasses

from composer_sched.schedules._base import Schedule, check_number
from composer_sched.schedules.registry import Method, Param, register

__all__ = ['FlatSchedule']


@dataclasses.dataclass(frozen=True)
class FlatSchedule(Schedule):
    r""":math:`\eta(t) = c`.

    Args:
        value: :math:`c`, ``>= 0`` (default 1).

    Raises:
        ValueError: ``value`` is negative or not finite.

    Example:
        >>> FlatSchedule(0.5)(10)
        0.5
    """
    value: float = 1.0

    def __post_init__(self):
        check_number('value', self.value, lo=0)

    def _eval(self, t, ops):
        return ops.full_like(t, self.value)


register(Method(
    name='constant',
    summary='Constant multiplier alpha.',
    params=(Param('alpha', 1.0, doc='the multiplier', lo=0),),
    build=lambda alpha: FlatSchedule(alpha),
    aliases={'value': 'alpha'},
    budget_free_prefix=True,
))
