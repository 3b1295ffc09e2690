"""1-cycle: one symmetric triangular cycle, then a linear cool-down (Smith & Topin 2017, "super-convergence")."""
from __future__ import annotations

import dataclasses
from typing import Optional

from composer_sched.schedules._base import Schedule, check_number
from composer_sched.schedules.cooldown import LinearCoolDown
from composer_sched.schedules.registry import Method, Param, register
from composer_sched.schedules.triangular import TriangularSchedule

__all__ = ['OneCycleSchedule']


@dataclasses.dataclass(frozen=True)
class OneCycleSchedule(Schedule):
    r"""A symmetric triangle from ``start_lr`` up to ``max_lr`` and back over ``cycle_length``, then a linear
    cool-down to ``finish_lr`` over ``cooldown_length``.

    .. math::
        \eta = \mathrm{CoolDown}(\mathrm{Triangular}(\eta_s, \eta_{max}, L, \tfrac12),\ \eta_f,\ s=L,\ C)

    Args:
        start_lr: lower bound of the triangle, ``>= 0``.
        max_lr: peak, ``>= start_lr``.
        cycle_length: :math:`L`, length of the triangle (twice Smith's "stepsize"), ``> 0``.
        cooldown_length: :math:`C`, ``>= 0`` (default 0: no cool-down).
        finish_lr: :math:`\eta_f`; required when ``cooldown_length > 0`` and forbidden otherwise.

    Raises:
        ValueError: ``cooldown_length > 0`` without ``finish_lr``, ``finish_lr`` without a cool-down, or an
            argument outside its range.

    Example:
        >>> s = OneCycleSchedule(start_lr=0.1, max_lr=0.5, cycle_length=500, cooldown_length=750, finish_lr=0.001)
        >>> s(0), s(250), s(500), round(s(875), 4), round(s(1250), 6)
        (0.1, 0.5, 0.1, 0.0505, 0.001)
    """
    start_lr: float
    max_lr: float
    cycle_length: float
    cooldown_length: float = 0
    finish_lr: Optional[float] = None

    def __post_init__(self):
        check_number('cooldown_length', self.cooldown_length, lo=0)
        if self.cooldown_length > 0 and self.finish_lr is None:
            raise ValueError('Must specify finish_lr when using cooldown_length > 0.')
        if self.cooldown_length == 0 and self.finish_lr is not None:
            raise ValueError('Must specify cooldown_length > 0 when using finish_lr.')
        finish = self.finish_lr if self.cooldown_length > 0 else self.start_lr
        triangle = TriangularSchedule(min_lr=self.start_lr, max_lr=self.max_lr, cycle_length=self.cycle_length)
        object.__setattr__(self, '_inner', LinearCoolDown(triangle, finish_lr=finish, start_idx=self.cycle_length,
                                                          length=self.cooldown_length))

    def _eval(self, t, ops):
        return self._inner._eval(t, ops)


def _build(t_cycle, t_cooldown, alpha_start, alpha_max, alpha_f):
    return OneCycleSchedule(start_lr=alpha_start, max_lr=alpha_max, cycle_length=t_cycle,
                            cooldown_length=t_cooldown, finish_lr=alpha_f if t_cooldown > 0 else None)


register(Method(
    name='one_cycle',
    summary='1-cycle: a symmetric triangle alpha_start -> alpha_max -> alpha_start, then a linear cool-down.',
    params=(
        Param('t_cycle', '0.8dur', 'duration', 'length of the triangle'),
        Param('t_cooldown', '0.2dur', 'duration', 'length of the cool-down after the triangle'),
        Param('alpha_start', 0.1, doc='multiplier at the start and end of the triangle', lo=0),
        Param('alpha_max', 1.0, doc='peak multiplier', lo=0),
        Param('alpha_f', 0.001, doc='multiplier at the end of the cool-down', lo=0),
    ),
    build=_build,
    reference='Smith & Topin (2017), Super-Convergence',
    aliases={'start_lr': 'alpha_start', 'min_lr': 'alpha_start', 'max_lr': 'alpha_max', 'cycle_length': 't_cycle',
             'cooldown_length': 't_cooldown', 'length': 't_cooldown', 'finish_lr': 'alpha_f'},
))
