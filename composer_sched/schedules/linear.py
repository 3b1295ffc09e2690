"""Linear interpolation between two values, then hold."""
from __future__ import annotations

import dataclasses
from typing import Any

from composer_sched.schedules._base import Ops, Schedule, bound_of, check_bounds, interval
from composer_sched.schedules.registry import Duration, MethodConfig, param, register

__all__ = ['LinearSchedule', 'LinearConfig']


@dataclasses.dataclass(frozen=True)
class LinearSchedule(Schedule):
    r""":math:`\eta(t) = \eta_i + (\eta_f - \eta_i)\min(t, L)/L`.

    Args:
        start: :math:`\eta_i`, ``>= 0``.
        end: :math:`\eta_f`, ``>= 0``.
        length: :math:`L`, ``> 0``.

    Raises:
        ValueError: an argument is outside its range.

    Example:
        >>> s = LinearSchedule(start=1.0, end=0.0, length=10)
        >>> s(0), s(5), s(10), s(20)
        (1.0, 0.5, 0.0, 0.0)
    """
    start: float = dataclasses.field(metadata=interval(lo=0))
    end: float = dataclasses.field(metadata=interval(lo=0))
    length: float = dataclasses.field(metadata=interval(lo=0, lo_open=True))

    def __post_init__(self) -> None:
        check_bounds(self)

    def _eval(self, t: Any, ops: Ops) -> Any:
        return self.start + (self.end - self.start) * (ops.clip(t, 0.0, self.length) / self.length)


@register
class LinearConfig(MethodConfig):
    """Linear from alpha_i to alpha_f over t_max, then alpha_f."""
    NAME = 'linear'
    REFERENCE = 'composer.optim.LinearScheduler'
    ALIASES = {'start': 'alpha_i', 'end': 'alpha_f', 'length': 't_max'}

    t_max: Duration = param('1dur', 'length of the ramp', kind='duration', end=True, example='1dur')
    alpha_i: float = param(1.0, 'initial multiplier', bound=bound_of(LinearSchedule, 'start'), example=1.0)
    alpha_f: float = param(0.0, 'final multiplier', bound=bound_of(LinearSchedule, 'end'), example=0.1)

    def build(self, t_max: float) -> Schedule:
        return LinearSchedule(start=self.alpha_i, end=self.alpha_f, length=t_max)
