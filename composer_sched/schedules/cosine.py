"""Cosine annealing from ``max_lr`` down to ``min_lr`` over one cycle (Loshchilov & Hutter 2016)."""
from __future__ import annotations

import dataclasses
import math

from composer_sched.schedules._base import Schedule, check_number
from composer_sched.schedules.registry import Method, Param, register

__all__ = ['CosineAnnealingSchedule']


@dataclasses.dataclass(frozen=True)
class CosineAnnealingSchedule(Schedule):
    r"""Half a cosine from ``max_lr`` to ``min_lr`` over ``cycle_length`` iterations, then ``min_lr``.

    .. math::
        \eta(t) = \eta_{min} + \tfrac12 (\eta_{max} - \eta_{min})\,(1 + \cos(\pi \min(t, L) / L))

    Args:
        min_lr: value at and after the end of the cycle, ``>= 0``.
        max_lr: value at ``t = 0``, ``>= 0`` (may be below ``min_lr`` for a cosine *rise*).
        cycle_length: :math:`L`, iterations, ``> 0``.

    Raises:
        ValueError: an argument is outside its range.

    Example:
        >>> s = CosineAnnealingSchedule(min_lr=1, max_lr=2, cycle_length=1000)
        >>> s(0), s(500), s(1000), s(2000)
        (2.0, 1.5, 1.0, 1.0)
    """
    min_lr: float
    max_lr: float
    cycle_length: float

    def __post_init__(self):
        check_number('min_lr', self.min_lr, lo=0)
        check_number('max_lr', self.max_lr, lo=0)
        check_number('cycle_length', self.cycle_length, lo=0, lo_open=True)

    def _eval(self, t, ops):
        length = self.cycle_length
        unit = (1 + ops.cos(ops.clip(t, 0.0, length) / length * math.pi)) / 2  # pi / length may overflow
        return unit * (self.max_lr - self.min_lr) + self.min_lr


register(Method(
    name='cosine_annealing',
    summary='Cosine annealing from alpha_i to alpha_f over t_max, then alpha_f.',
    params=(
        Param('t_max', '1dur', 'duration', 'length of the cosine'),
        Param('alpha_f', 0.0, doc='final multiplier', lo=0),
        Param('alpha_i', 1.0, doc='initial multiplier', lo=0),
    ),
    build=lambda t_max, alpha_f, alpha_i: CosineAnnealingSchedule(min_lr=alpha_f, max_lr=alpha_i, cycle_length=t_max),
    aliases={'min_lr': 'alpha_f', 'max_lr': 'alpha_i', 'cycle_length': 't_max'},
    reference='Loshchilov & Hutter (2016), SGDR',
))
