"""Inverse square-root decay (Vaswani et al. 2017), with an optional cool-down at the end."""
from __future__ import annotations

import dataclasses
from typing import Any

from composer_sched.schedules._base import Ops, Schedule, bound_of, check_bounds, interval
from composer_sched.schedules.cooldown import LinearCoolDown
from composer_sched.schedules.registry import Duration, MethodConfig, param, register
from composer_sched.schedules.wsd import COOLDOWN_SHAPES

__all__ = ['InverseSqrtSchedule', 'InverseSqrtConfig']


@dataclasses.dataclass(frozen=True)
class InverseSqrtSchedule(Schedule):
    r""":math:`\eta(t) = \eta_0 / \sqrt{1 + t/\tau}`, or :math:`\eta_0 (1 + t/\tau)^{-p}` for another ``power``.

    Args:
        scale: :math:`\tau`, ``> 0``: the decay halves the LR at :math:`t = 3\tau`.
        base_lr: :math:`\eta_0`, ``>= 0`` (default 1).
        power: :math:`p`, ``>= 0`` (default 0.5, the inverse square root; 1 gives :math:`1/t`-type decay, as in
            the polynomial schedules of :mod:`composer_sched.theory`).

    Raises:
        ValueError: an argument is outside its range.

    Example:
        >>> s = InverseSqrtSchedule(scale=100)
        >>> s(0), s(300)
        (1.0, 0.5)
    """
    scale: float = dataclasses.field(metadata=interval(lo=0, lo_open=True))
    base_lr: float = dataclasses.field(default=1.0, metadata=interval(lo=0))
    power: float = dataclasses.field(default=0.5, metadata=interval(lo=0))

    def __post_init__(self) -> None:
        check_bounds(self)

    def _eval(self, t: Any, ops: Ops) -> Any:
        x = 1.0 + ops.maximum(t, 0.0) / self.scale
        if self.power == 0.5:  # sqrt is exact and faster than ** 0.5
            return self.base_lr / ops.sqrt(x)
        return self.base_lr * x ** -self.power


@register
class InverseSqrtConfig(MethodConfig):
    """1/sqrt(1 + t/t_scale) decay, with an optional cool-down to alpha_f over the last t_cooldown."""
    NAME = 'inverse_sqrt'
    REFERENCE = 'Vaswani et al. (2017); Zhai et al. (2022) cool-down'
    BUDGET_FREE_PREFIX = True
    ALIASES = {'scale': 't_scale', 'finish_lr': 'alpha_f', 'length': 't_cooldown', 'shape': 'decay_type'}

    t_scale: Duration = param('0.1dur', 'time scale of the decay', kind='duration', example='4ba')
    t_cooldown: Duration = param('0dur', 'length of the final cool-down (0: none)', kind='duration',
                                 example='0.2dur')
    alpha_f: float = param(0.0, 'multiplier at the end of the cool-down', bound=bound_of(LinearCoolDown, 'finish_lr'),
                           example=0.0)
    decay_type: str = param('linear', 'cool-down shape', choices=COOLDOWN_SHAPES, example='linear')
    decay_follows: bool = param(False, "the cool-down multiplies the continuing decay, floored at alpha_f (timm's "
                                "rsqrt), instead of falling from the value where it starts", example=False)
    t_max: Duration = param('1dur', 'where the cool-down ends', kind='duration', end=True, example='1dur')

    def build(self, t_scale: float, t_cooldown: float, t_max: float) -> Schedule:
        shape = InverseSqrtSchedule(scale=t_scale)
        if t_cooldown <= 0:
            return shape
        return LinearCoolDown(shape, finish_lr=self.alpha_f, start_idx=max(t_max - t_cooldown, 0.0),
                              length=t_cooldown, shape=self.decay_type, follow=self.decay_follows)
