"""Polynomial decay."""
from __future__ import annotations

import dataclasses
from typing import Any

from composer_sched.schedules._base import Ops, Schedule, check_number
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
    power: float
    length: float
    base_lr: float = 1.0
    final_lr: float = 0.0
    k_decay: float = 1.0

    def __post_init__(self) -> None:
        check_number('k_decay', self.k_decay, lo=0, lo_open=True)
        check_number('power', self.power, lo=0)
        check_number('length', self.length, lo=0, lo_open=True)
        check_number('base_lr', self.base_lr, lo=0)
        check_number('final_lr', self.final_lr, lo=0)

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

    power: float = param(2.0, 'exponent (0: constant)', lo=0, example=2.0)
    t_max: Duration = param('1dur', 'length of the decay', kind='duration', end=True, example='1dur')
    alpha_f: float = param(0.0, 'final multiplier', lo=0, example=0.05)
    k_decay: float = param(1.0, "timm's k-decay: (1 - (t/t_max)^k_decay)^power (1: plain polynomial)", lo=0,
                           lo_open=True, example=1.0)

    def build(self, t_max: float) -> Schedule:
        return PolynomialSchedule(power=self.power, length=t_max, final_lr=self.alpha_f, k_decay=self.k_decay)
