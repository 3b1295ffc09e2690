"""Constant schedule."""
from __future__ import annotations

import dataclasses
from typing import Any

from composer_sched.schedules._base import Ops, Schedule, check_number
from composer_sched.schedules.registry import MethodConfig, param, register

__all__ = ['FlatSchedule', 'ConstantConfig']


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

    def __post_init__(self) -> None:
        check_number('value', self.value, lo=0)

    def _eval(self, t: Any, ops: Ops) -> Any:
        return ops.full_like(t, self.value)


@register
class ConstantConfig(MethodConfig):
    """Constant multiplier alpha."""
    NAME = 'constant'
    BUDGET_FREE_PREFIX = True
    ALIASES = {'value': 'alpha'}

    alpha: float = param(1.0, 'the multiplier', lo=0, example=1.0)

    def build(self) -> Schedule:
        return FlatSchedule(self.alpha)
