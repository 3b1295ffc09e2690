"""Hyperbolic-tangent decay (Hsueh et al. 2019), as timm's ``TanhLRScheduler`` shapes one cycle."""
from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np

from composer_sched.schedules._base import (
    Ops,
    ParamError,
    Schedule,
    bound_of,
    check,
    check_bounds,
    interval,
)
from composer_sched.schedules.registry import Duration, MethodConfig, param, register

__all__ = ['TanhSchedule', 'TanhConfig']


@dataclasses.dataclass(frozen=True)
class TanhSchedule(Schedule):
    r"""A tanh fall from ``base_lr`` towards ``final_lr`` over ``length`` iterations, then ``final_lr``.

    .. math::
        \eta(t) = \eta_f + \tfrac12 (\eta_0 - \eta_f)\,\bigl(1 - \tanh(l (1 - u) + h u)\bigr),\quad u = t / L
        \quad (t < L);\qquad \eta(t) = \eta_f \quad (t \ge L)

    With timm's bounds :math:`l = -7, h = 3` the curve starts a hair under :math:`\eta_0`
    (:math:`\tfrac12(1 + \tanh 7) = 1 - 8\cdot10^{-7}`) and ends at :math:`0.0025\,\eta_0` above
    :math:`\eta_f`, where it steps down to :math:`\eta_f` (timm's last cycle ends there too).

    Args:
        length: :math:`L`, iterations, ``> 0``.
        lb: :math:`l`, the tanh argument at the start (timm's ``lb``, default -7).
        ub: :math:`h`, the tanh argument at the end (timm's ``ub``, default 3), ``> lb``.
        final_lr: :math:`\eta_f`, ``>= 0`` (default 0).
        base_lr: :math:`\eta_0`, ``>= 0`` (default 1).

    Raises:
        ValueError: an argument is outside its range, or ``ub <= lb``.

    Example:
        >>> s = TanhSchedule(length=100)
        >>> round(s(0), 6), round(s(70), 6), round(s(99), 6), s(100)
        (0.999999, 0.5, 0.003018, 0.0)
    """
    length: float = dataclasses.field(metadata=interval(lo=0, lo_open=True))
    lb: float = dataclasses.field(default=-7.0, metadata=interval())
    ub: float = dataclasses.field(default=3.0, metadata=interval())
    final_lr: float = dataclasses.field(default=0.0, metadata=interval(lo=0))
    base_lr: float = dataclasses.field(default=1.0, metadata=interval(lo=0))

    def __post_init__(self) -> None:
        check_bounds(self)
        check(self.ub > self.lb, 'ub', self.ub, f'> lb ({self.lb})')

    def _eval(self, t: Any, ops: Ops) -> Any:
        u = ops.clip(t, 0.0, self.length) / self.length
        x = self.lb * (1.0 - u) + self.ub * u
        if ops.array:
            value = self.final_lr + 0.5 * (self.base_lr - self.final_lr) * (1.0 - np.tanh(x))
            return ops.where(t < self.length, value, self.final_lr)
        if t >= self.length:
            return self.final_lr
        return self.final_lr + 0.5 * (self.base_lr - self.final_lr) * (1.0 - math.tanh(x))


@register
class TanhConfig(MethodConfig):
    """Tanh decay from 1 towards alpha_f over t_max (timm's TanhLRScheduler, one cycle), then alpha_f.

    Example:
        >>> round(TanhConfig(lb=-3.0, ub=3.0).build(t_max=100)(50), 12)
        0.5
    """
    NAME = 'tanh'
    REFERENCE = 'Hsueh et al. (2019), "Stochastic gradient descent with hyperbolic-tangent decay"; timm TanhLRScheduler'
    ALIASES = {'length': 't_max', 'final_lr': 'alpha_f'}

    t_max: Duration = param('1dur', 'where the tanh ends (then alpha_f)', kind='duration', end=True, example='1dur')
    lb: float = param(-7.0, 'tanh argument at the start (the lower bound, timm\'s lb)', example=-7.0)
    ub: float = param(3.0, 'tanh argument at the end (the upper bound, timm\'s ub), > lb', example=3.0)
    alpha_f: float = param(0.0, 'final multiplier', bound=bound_of(TanhSchedule, 'final_lr'), example=0.05)

    def check(self) -> None:
        if not self.ub > self.lb:
            raise ParamError('ub', self.ub, f'> lb ({self.lb})')

    def build(self, t_max: float) -> Schedule:
        return TanhSchedule(length=t_max, lb=self.lb, ub=self.ub, final_lr=self.alpha_f)
