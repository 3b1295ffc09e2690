"""Linear interpolation between two values, then hold."""
from __future__ import annotations

import dataclasses

from composer_sched.schedules._base import Schedule, check_number
from composer_sched.schedules.registry import Method, Param, register

__all__ = ['LinearSchedule']


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
    start: float
    end: float
    length: float

    def __post_init__(self):
        check_number('start', self.start, lo=0)
        check_number('end', self.end, lo=0)
        check_number('length', self.length, lo=0, lo_open=True)

    def _eval(self, t, ops):
        return self.start + (self.end - self.start) * (ops.clip(t, 0.0, self.length) / self.length)


register(Method(
    name='linear',
    summary='Linear from alpha_i to alpha_f over t_max, then alpha_f.',
    params=(Param('t_max', '1dur', 'duration', 'length of the ramp'),
            Param('alpha_i', 1.0, doc='initial multiplier', lo=0),
            Param('alpha_f', 0.0, doc='final multiplier', lo=0)),
    build=lambda t_max, alpha_i, alpha_f: LinearSchedule(start=alpha_i, end=alpha_f, length=t_max),
    aliases={'start': 'alpha_i', 'end': 'alpha_f', 'length': 't_max'},
))
