"""Exponential decay."""
from __future__ import annotations

import dataclasses

from composer_sched.schedules._base import Schedule, check_number
from composer_sched.schedules.registry import Method, Param, register

__all__ = ['ExponentialSchedule']


@dataclasses.dataclass(frozen=True)
class ExponentialSchedule(Schedule):
    r""":math:`\eta(t) = \eta_0\,\gamma^{t / P}`.

    Args:
        gamma: :math:`\gamma`, ``> 0``.
        period: :math:`P`, ``> 0`` (default 1).
        base_lr: :math:`\eta_0`, ``>= 0`` (default 1).

    Raises:
        ValueError: an argument is outside its range.

    Example:
        >>> s = ExponentialSchedule(gamma=0.5, period=10)
        >>> s(0), s(10), s(5) == 0.5 ** 0.5
        (1.0, 0.5, True)
    """
    gamma: float
    period: float = 1.0
    base_lr: float = 1.0

    def __post_init__(self):
        check_number('gamma', self.gamma, lo=0, lo_open=True)
        check_number('period', self.period, lo=0, lo_open=True)
        check_number('base_lr', self.base_lr, lo=0)

    def _eval(self, t, ops):
        return self.base_lr * self.gamma ** (ops.maximum(t, 0.0) / self.period)


register(Method(
    name='exponential',
    summary='Multiply by gamma every decay_period, continuously.',
    params=(Param('gamma', kind='value', doc='decay per period', lo=0),
            Param('decay_period', '1ep', 'duration', 'the period')),
    build=lambda gamma, decay_period: ExponentialSchedule(gamma=gamma, period=decay_period),
))
