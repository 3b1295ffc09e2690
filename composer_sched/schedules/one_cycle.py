"""1-cycle: one symmetric triangular cycle, then a linear cool-down (Smith & Topin 2017, "super-convergence")."""
from __future__ import annotations

import dataclasses
from typing import Any, Optional

from composer_sched.schedules._base import Ops, Schedule, bound_of, check_bounds, interval
from composer_sched.schedules.cooldown import LinearCoolDown
from composer_sched.schedules.registry import Duration, MethodConfig, param, register
from composer_sched.schedules.triangular import TriangularSchedule

__all__ = ['OneCycleSchedule', 'OneCycleConfig']


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
    cooldown_length: float = dataclasses.field(default=0, metadata=interval(lo=0))
    finish_lr: Optional[float] = None
    _inner: Schedule = dataclasses.field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        check_bounds(self)
        if self.cooldown_length > 0 and self.finish_lr is None:
            raise ValueError('Must specify finish_lr when using cooldown_length > 0.')
        if self.cooldown_length == 0 and self.finish_lr is not None:
            raise ValueError('Must specify cooldown_length > 0 when using finish_lr.')
        finish = self.finish_lr if self.finish_lr is not None else self.start_lr
        triangle = TriangularSchedule(min_lr=self.start_lr, max_lr=self.max_lr, cycle_length=self.cycle_length)
        object.__setattr__(self, '_inner', LinearCoolDown(triangle, finish_lr=finish, start_idx=self.cycle_length,
                                                          length=self.cooldown_length))

    def _eval(self, t: Any, ops: Ops) -> Any:
        return self._inner._eval(t, ops)


@register
class OneCycleConfig(MethodConfig):
    """1-cycle: a symmetric triangle alpha_start -> alpha_max -> alpha_start, then a linear cool-down."""
    NAME = 'one_cycle'
    REFERENCE = 'Smith & Topin (2017), Super-Convergence'
    ALIASES = {'start_lr': 'alpha_start', 'min_lr': 'alpha_start', 'max_lr': 'alpha_max', 'cycle_length': 't_cycle',
               'cooldown_length': 't_cooldown', 'length': 't_cooldown', 'finish_lr': 'alpha_f'}
    # The Composer Algorithm cycles momentum too (Smith & Topin): behaviour of its own, not a plain setter.

    t_cycle: Duration = param('0.8dur', 'length of the triangle', kind='duration', end=True,
                                example='0.7dur')
    t_cooldown: Duration = param('0.2dur', 'length of the cool-down after the triangle', kind='duration',
                                 example='0.3dur')
    alpha_start: float = param(0.1, 'multiplier at the start and end of the triangle',
                               bound=bound_of(TriangularSchedule, 'min_lr'), example=0.1)
    alpha_max: float = param(1.0, 'peak multiplier', bound=bound_of(TriangularSchedule, 'max_lr'), example=1.0)
    alpha_f: float = param(0.001, 'multiplier at the end of the cool-down', bound=bound_of(LinearCoolDown, 'finish_lr'),
                           example=0.001)

    def build(self, t_cycle: float, t_cooldown: float) -> Schedule:
        return OneCycleSchedule(start_lr=self.alpha_start, max_lr=self.alpha_max, cycle_length=t_cycle,
                                cooldown_length=t_cooldown, finish_lr=self.alpha_f if t_cooldown > 0 else None)
