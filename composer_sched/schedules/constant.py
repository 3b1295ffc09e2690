"""Constant schedule (``FlatSchedule`` before; that name is deprecated)."""
from __future__ import annotations

import dataclasses
from typing import Any

from composer_sched.schedules._base import Ops, Schedule, bound_of, check_bounds, interval
from composer_sched.schedules._deprecated import deprecated_getattr
from composer_sched.schedules.registry import MethodConfig, param, register

__all__ = ['ConstantSchedule', 'ConstantConfig']


@dataclasses.dataclass(frozen=True)
class ConstantSchedule(Schedule):
    r""":math:`\eta(t) = c`.

    Args:
        value: :math:`c`, ``>= 0`` (default 1).

    Raises:
        ValueError: ``value`` is negative or not finite.

    Example:
        >>> ConstantSchedule(0.5)(10)
        0.5
    """
    value: float = dataclasses.field(default=1.0, metadata=interval(lo=0))

    def __post_init__(self) -> None:
        check_bounds(self)

    def _eval(self, t: Any, ops: Ops) -> Any:
        return ops.full_like(t, self.value)


@register
class ConstantConfig(MethodConfig):
    """Constant multiplier alpha."""
    NAME = 'constant'
    BUDGET_FREE_PREFIX = True
    ALIASES = {'value': 'alpha'}

    alpha: float = param(1.0, 'the multiplier', bound=bound_of(ConstantSchedule, 'value'), example=1.0)

    def build(self) -> Schedule:
        return ConstantSchedule(self.alpha)


__getattr__ = deprecated_getattr(__name__, {
    'FlatSchedule': ('composer_sched.schedules.constant:ConstantSchedule', 'composer_sched.ConstantSchedule')})
