"""(Slanted) triangular schedule: linear rise then linear fall between two bounds (Smith 2015; Howard & Ruder 2018)."""
from __future__ import annotations

import dataclasses
from typing import Any

from composer_sched.schedules._base import Ops, Schedule, bound_of, check_bounds, interval
from composer_sched.schedules.registry import Duration, MethodConfig, param, register

__all__ = ['TriangularSchedule', 'TriangularConfig']


@dataclasses.dataclass(frozen=True)
class TriangularSchedule(Schedule):
    r"""Linear rise from ``min_lr`` to ``max_lr`` over the first ``inc_fraction`` of a cycle, linear fall back.

    .. math::
        u(t) = \begin{cases} t / (L f) & t \le L f \\ (L - t) / (L (1 - f)) & L f < t \le L \\ 0 & t > L
        \end{cases},\qquad \eta(t) = \eta_{min} + u(t)\,(\eta_{max} - \eta_{min})

    with cycle length :math:`L` and increasing fraction :math:`f`. After the cycle the value stays at ``min_lr``.
    ``inc_fraction != 0.5`` gives the *slanted* triangular schedule; ``inc_fraction=0`` starts at the peak.
    ``max_lr < min_lr`` turns the peak into a dip, as :class:`CosineAnnealingSchedule` allows a rise.

    Args:
        min_lr: value at both ends of the cycle, ``>= 0``.
        max_lr: value at the peak, ``>= 0``.
        cycle_length: iterations from start to finish, ``> 0``.
        inc_fraction: fraction of the cycle spent increasing, in ``[0, 1]`` (default 0.5).

    Raises:
        ValueError: an argument is outside its range.

    Example:
        >>> s = TriangularSchedule(min_lr=1, max_lr=2, cycle_length=1000, inc_fraction=0.2)
        >>> s(0), s(200), s(600), s(1000), s(1500)
        (1.0, 2.0, 1.5, 1.0, 1.0)
    """
    min_lr: float = dataclasses.field(metadata=interval(lo=0))
    max_lr: float = dataclasses.field(metadata=interval(lo=0))
    cycle_length: float = dataclasses.field(metadata=interval(lo=0, lo_open=True))
    inc_fraction: float = dataclasses.field(default=0.5, metadata=interval(lo=0, hi=1))

    def __post_init__(self) -> None:
        check_bounds(self)

    def _eval(self, t: Any, ops: Ops) -> Any:
        length, f = self.cycle_length, self.inc_fraction
        rise = length * f
        fall = length * (1 - f)
        up = t / rise if rise > 0 else ops.full_like(t, 1.0)
        down = (length - t) / fall if fall > 0 else ops.full_like(t, 0.0)
        unit = ops.where(t <= rise, up, ops.where(t <= length, down, 0.0))
        return unit * (self.max_lr - self.min_lr) + self.min_lr


@register
class TriangularConfig(MethodConfig):
    """(Slanted) triangular: linear rise to the peak over inc_fraction of the cycle, linear fall back.

    ``alpha_max < alpha_min`` is a dip, as cosine annealing allows a rise.
    """
    NAME = 'triangular'
    REFERENCE = 'Smith (2015), Cyclical Learning Rates; Howard & Ruder (2018), ULMFiT (slanted)'
    ALIASES = {'min_lr': 'alpha_min', 'max_lr': 'alpha_max', 'cycle_length': 't_cycle'}

    t_cycle: Duration = param('1dur', 'length of the cycle', kind='duration', end=True, example='1dur')
    inc_fraction: float = param(0.5, 'fraction of the cycle spent rising', bound=bound_of(TriangularSchedule,
                                'inc_fraction'), example=0.3)
    alpha_min: float = param(0.0, 'multiplier at the start and end of the cycle', bound=bound_of(TriangularSchedule,
                             'min_lr'), example=0.1)
    alpha_max: float = param(1.0, 'multiplier at the peak', bound=bound_of(TriangularSchedule, 'max_lr'), example=1.0)

    def build(self, t_cycle: float) -> Schedule:
        return TriangularSchedule(min_lr=self.alpha_min, max_lr=self.alpha_max, cycle_length=t_cycle,
                                  inc_fraction=self.inc_fraction)
