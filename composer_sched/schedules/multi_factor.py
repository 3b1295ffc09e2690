"""MXNet-style multi-factor decay: multiply by ``factor`` after each milestone."""
from __future__ import annotations

import dataclasses
from typing import Any, Optional, Sequence

from composer_sched.schedules._base import (
    Ops,
    Schedule,
    bound_of,
    check_bounds,
    check_increasing,
    interval,
)
from composer_sched.schedules.registry import Duration, MethodConfig, param, register

__all__ = ['MultiFactorSchedule', 'MultiFactorConfig']


@dataclasses.dataclass(frozen=True)
class MultiFactorSchedule(Schedule):
    r"""``base_lr`` times ``factor`` once for every milestone the iteration has *passed*.

    .. math:: \eta(t) = \eta_0 \cdot \gamma^{\#\{i : t > s_i\}}

    as MXNet's ``MultiFactorScheduler`` does (a milestone ``s`` takes effect from iteration ``s + 1``).

    Args:
        step: milestones, strictly increasing, ``>= 0``.
        factor: :math:`\gamma`, in ``[0, 1]`` (default 1; 0 as MXNet allows: 0 once a milestone has passed).
        base_lr: :math:`\eta_0`, ``>= 0`` (default 0.01).

    Raises:
        ValueError: an argument is outside its range.

    Example:
        >>> s = MultiFactorSchedule(step=[250, 750, 900], factor=0.5, base_lr=1)
        >>> s(250), s(251), s(751), s(1000)
        (1.0, 0.5, 0.25, 0.125)
    """
    step: Sequence[float]
    factor: float = dataclasses.field(default=1.0, metadata=interval(lo=0, hi=1))
    base_lr: float = dataclasses.field(default=0.01, metadata=interval(lo=0))

    def __post_init__(self) -> None:
        object.__setattr__(self, 'step', check_increasing('step', self.step))
        check_bounds(self)

    def _eval(self, t: Any, ops: Ops) -> Any:
        return self.base_lr * self.factor ** ops.count_lt(self.step, t)


@register
class MultiFactorConfig(MethodConfig):
    """Multiply by factor after each milestone has passed (MXNet MultiFactorScheduler)."""
    NAME = 'multi_factor'
    RUN_CLOCK = True
    REFERENCE = 'MXNet lr_scheduler.MultiFactorScheduler'

    step: Optional[Sequence[Duration]] = param(None, 'milestones; each takes effect after it has passed',
                                               kind='durations', optional=True,
                                               example=['0.15dur', '0.35dur', '0.6dur'])
    factor: float = param(0.1, 'decay factor per milestone (0: 0 once one has passed, as MXNet allows)',
                          bound=bound_of(MultiFactorSchedule, 'factor'),
                          example=0.5)

    def build(self, step: Optional[Sequence[float]] = None) -> Schedule:
        # Sorted: milestones mixing units may come in either order on a given horizon; a repeat counts once.
        return MultiFactorSchedule(step=tuple(sorted(set(step or ()))), factor=self.factor, base_lr=1.0)
