"""Cosine annealing from ``max_lr`` down to ``min_lr`` over one cycle (Loshchilov & Hutter 2016)."""
from __future__ import annotations

import dataclasses
import math
from typing import Any

from composer_sched.schedules._base import Ops, Schedule, bound_of, check_bounds, interval
from composer_sched.schedules.registry import Duration, MethodConfig, param, register

__all__ = ['CosineAnnealingSchedule', 'CosineAnnealingConfig']


@dataclasses.dataclass(frozen=True)
class CosineAnnealingSchedule(Schedule):
    r"""Half a cosine from ``max_lr`` to ``min_lr`` over ``cycle_length`` iterations, then ``min_lr``.

    .. math::
        \eta(t) = \eta_{min} + \tfrac12 (\eta_{max} - \eta_{min})\,(1 + \cos(\pi\,(\min(t, L) / L)^k))

    (:math:`k = 1`, the default, is SGDR's cosine; timm's ``k_decay`` bends it: :math:`k < 1` falls early,
    :math:`k > 1` holds the peak longer; Zhang et al. 2021, "k-decay".)

    Args:
        min_lr: value at and after the end of the cycle, ``>= 0``.
        max_lr: value at ``t = 0``, ``>= 0`` (may be below ``min_lr`` for a cosine *rise*).
        cycle_length: :math:`L`, iterations, ``> 0``.
        k_decay: :math:`k`, ``> 0`` (default 1).

    Raises:
        ValueError: an argument is outside its range.

    Example:
        >>> s = CosineAnnealingSchedule(min_lr=1, max_lr=2, cycle_length=1000)
        >>> s(0), s(500), s(1000), s(2000)
        (2.0, 1.5, 1.0, 1.0)
    """
    min_lr: float = dataclasses.field(metadata=interval(lo=0))
    max_lr: float = dataclasses.field(metadata=interval(lo=0))
    cycle_length: float = dataclasses.field(metadata=interval(lo=0, lo_open=True))
    k_decay: float = dataclasses.field(default=1.0, metadata=interval(lo=0, lo_open=True))

    def __post_init__(self) -> None:
        check_bounds(self)

    def _eval(self, t: Any, ops: Ops) -> Any:
        length = self.cycle_length
        frac = ops.clip(t, 0.0, length) / length
        if self.k_decay != 1.0:
            frac = ops.power(frac, self.k_decay)
        unit = (1 + ops.cos(frac * math.pi)) / 2  # the fraction first: pi / length may overflow
        return unit * (self.max_lr - self.min_lr) + self.min_lr


@register
class CosineAnnealingConfig(MethodConfig):
    """Cosine annealing from alpha_i to alpha_f over t_max, then alpha_f.

    Example:
        >>> CosineAnnealingConfig(alpha_f=0.1).build(t_max=100)(50)
        0.55
    """
    NAME = 'cosine_annealing'
    REFERENCE = 'Loshchilov & Hutter (2016), SGDR'
    ALIASES = {'min_lr': 'alpha_f', 'max_lr': 'alpha_i', 'cycle_length': 't_max'}

    t_max: Duration = param('1dur', 'length of the cosine', kind='duration', end=True, example='1dur')
    alpha_f: float = param(0.0, 'final multiplier', bound=bound_of(CosineAnnealingSchedule, 'min_lr'), example=0.05)
    alpha_i: float = param(1.0, 'initial multiplier', bound=bound_of(CosineAnnealingSchedule, 'max_lr'), example=1.0)
    k_decay: float = param(1.0, "timm's k-decay: the cosine of (t/t_max)^k_decay (1: plain cosine)",
                           bound=bound_of(CosineAnnealingSchedule, 'k_decay'), example=1.0)

    def build(self, t_max: float) -> Schedule:
        return CosineAnnealingSchedule(min_lr=self.alpha_f, max_lr=self.alpha_i, cycle_length=t_max,
                                       k_decay=self.k_decay)
