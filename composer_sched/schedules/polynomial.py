"""Polynomial decay."""
from __future__ import annotations

import dataclasses
from typing import Any

from composer_sched.schedules._base import Ops, Schedule, bound_of, check_bounds, interval
from composer_sched.schedules.registry import Duration, MethodConfig, param, register

__all__ = ['PolynomialSchedule', 'PolynomialConfig']


@dataclasses.dataclass(frozen=True)
class PolynomialSchedule(Schedule):
    r""":math:`\eta(t) = \eta_f + (\eta_0 - \eta_f)\,(1 - (\min(t, L)/L)^k)^p`.

    (:math:`k = 1`, the default, is the usual polynomial decay; :math:`k \ne 1` is timm's ``k_decay``.)

    Args:
        power: :math:`p`, ``> 0``.
        length: :math:`L`, ``> 0``.
        base_lr: :math:`\eta_0`, ``>= 0`` (default 1).
        final_lr: :math:`\eta_f`, ``>= 0`` (default 0).
        k_decay: :math:`k`, ``> 0`` (default 1).

    Raises:
        ValueError: an argument is outside its range.

    Example:
        >>> s = PolynomialSchedule(power=2, length=10)
        >>> s(0), s(5), s(10)
        (1.0, 0.25, 0.0)
    """
    power: float = dataclasses.field(metadata=interval(lo=0))
    length: float = dataclasses.field(metadata=interval(lo=0, lo_open=True))
    base_lr: float = dataclasses.field(default=1.0, metadata=interval(lo=0))
    final_lr: float = dataclasses.field(default=0.0, metadata=interval(lo=0))
    k_decay: float = dataclasses.field(default=1.0, metadata=interval(lo=0, lo_open=True))

    def __post_init__(self) -> None:
        check_bounds(self)

    def _eval(self, t: Any, ops: Ops) -> Any:
        done = ops.clip(t, 0.0, self.length) / self.length
        frac = 1.0 - (done if self.k_decay == 1.0 else ops.power(done, self.k_decay))
        return self.final_lr + (self.base_lr - self.final_lr) * frac ** self.power


@register
class PolynomialConfig(MethodConfig):
    """Polynomial decay (1 - t/t_max)^power from 1 to alpha_f."""
    NAME = 'polynomial'
    REFERENCE = 'composer.optim.PolynomialScheduler'
    ALIASES = {'length': 't_max', 'final_lr': 'alpha_f'}

    power: float = param(2.0, 'exponent (0: constant)', bound=bound_of(PolynomialSchedule, 'power'), example=2.0)
    t_max: Duration = param('1dur', 'length of the decay', kind='duration', end=True, example='1dur')
    alpha_f: float = param(0.0, 'final multiplier', bound=bound_of(PolynomialSchedule, 'final_lr'), example=0.05)
    k_decay: float = param(1.0, "timm's k-decay: (1 - (t/t_max)^k_decay)^power (1: plain polynomial)",
                           bound=bound_of(PolynomialSchedule, 'k_decay'), example=1.0)

    def build(self, t_max: float) -> Schedule:
        return PolynomialSchedule(power=self.power, length=t_max, final_lr=self.alpha_f, k_decay=self.k_decay)
