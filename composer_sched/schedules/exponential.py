"""Exponential decay."""
from __future__ import annotations

import dataclasses
from typing import Any, Mapping, Optional

from composer_sched.schedules._base import (
    Ops,
    Schedule,
    _name,
    bound_of,
    check_bounds,
    check_growth,
    interval,
)
from composer_sched.schedules.registry import Duration, MethodConfig, param, register

__all__ = ['ExponentialSchedule', 'ExponentialConfig']


@dataclasses.dataclass(frozen=True)
class ExponentialSchedule(Schedule):
    r""":math:`\eta(t) = \eta_0\,\gamma^{t / P}`.

    ``gamma > 1`` grows, as torch's ``ExponentialLR`` allows (an LR range test): :meth:`check_horizon` bounds the
    growth over a run; past that horizon the value may overflow to ``inf``, as torch's does. ``gamma = 0`` is 1 at
    ``t = 0`` and 0 after (torch's too).

    Args:
        gamma: :math:`\gamma`, ``>= 0``.
        period: :math:`P`, ``> 0`` (default 1).
        base_lr: :math:`\eta_0`, ``>= 0`` (default 1).

    Raises:
        ValueError: an argument is outside its range.

    Example:
        >>> s = ExponentialSchedule(gamma=0.5, period=10)
        >>> s(0), s(10), s(5) == 0.5 ** 0.5
        (1.0, 0.5, True)
    """
    gamma: float = dataclasses.field(metadata=interval(lo=0))
    period: float = dataclasses.field(default=1.0, metadata=interval(lo=0, lo_open=True))
    base_lr: float = dataclasses.field(default=1.0, metadata=interval(lo=0))

    def __post_init__(self) -> None:
        check_bounds(self)

    def _eval(self, t: Any, ops: Ops) -> Any:
        if self.base_lr == 0:  # 0, not 0 * inf past an overflowing horizon
            return ops.full_like(t, 0.0)
        return self.base_lr * ops.power(self.gamma, ops.maximum(t, 0.0) / self.period)

    def check_horizon(self, t_end: float, names: Optional[Mapping[str, str]] = None) -> None:
        """``gamma > 1`` may grow the value at most :data:`~composer_sched.schedules._base.MAX_GROWTH`-fold by
        ``t_end`` (see :meth:`Schedule.check_horizon`)."""
        check_growth(_name(names, 'gamma'), self.gamma, max(t_end, 0.0) / self.period, t_end, self.base_lr)


@register
class ExponentialConfig(MethodConfig):
    """Multiply by gamma every decay_period, continuously."""
    NAME = 'exponential'
    REFERENCE = 'torch.optim.lr_scheduler.ExponentialLR'
    ALIASES = {'period': 'decay_period'}

    gamma: float = param(doc='decay per period (0: 0 after the start, as torch; > 1 grows, bounded over the run)',
                         bound=bound_of(ExponentialSchedule, 'gamma'), example=0.8)
    decay_period: Duration = param('1ep', 'the period', kind='duration', example='10ba')

    def build(self, decay_period: float) -> Schedule:
        return ExponentialSchedule(gamma=self.gamma, period=decay_period)
