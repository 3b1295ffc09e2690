"""Step decay: every ``step_size`` iterations, or at listed milestones (PyTorch / Composer semantics)."""
from __future__ import annotations

import dataclasses
from typing import Any, Mapping, Optional, Sequence

from composer_sched.schedules._base import (
    Ops,
    ScalarOps,
    Schedule,
    _name,
    bound_of,
    check_bounds,
    check_growth,
    check_increasing,
    interval,
)
from composer_sched.schedules.registry import Duration, MethodConfig, param, register

__all__ = ['StepSchedule', 'MultiStepSchedule', 'StepConfig', 'MultiStepConfig']


@dataclasses.dataclass(frozen=True)
class StepSchedule(Schedule):
    r""":math:`\eta(t) = \eta_0\,\gamma^{\lfloor t / s \rfloor}`.

    ``gamma > 1`` grows, as torch's ``StepLR`` allows; :meth:`check_horizon` bounds the growth over a run.

    Args:
        step_size: :math:`s`, ``> 0``.
        gamma: :math:`\gamma`, ``>= 0`` (default 0.1).
        base_lr: :math:`\eta_0`, ``>= 0`` (default 1).

    Raises:
        ValueError: an argument is outside its range.

    Example:
        >>> s = StepSchedule(step_size=10, gamma=0.5)
        >>> s(9), s(10), s(25)
        (1.0, 0.5, 0.25)
    """
    step_size: float = dataclasses.field(metadata=interval(lo=0, lo_open=True))
    gamma: float = dataclasses.field(default=0.1, metadata=interval(lo=0))
    base_lr: float = dataclasses.field(default=1.0, metadata=interval(lo=0))

    def __post_init__(self) -> None:
        check_bounds(self)

    def _eval(self, t: Any, ops: Ops) -> Any:
        if self.base_lr == 0:  # 0, not 0 * inf past an overflowing horizon
            return ops.full_like(t, 0.0)
        return self.base_lr * ops.power(self.gamma, ops.floor(ops.maximum(t, 0.0) / self.step_size))

    def check_horizon(self, t_end: float, names: Optional[Mapping[str, str]] = None) -> None:
        """``gamma > 1`` may grow the value at most :data:`~composer_sched.schedules._base.MAX_GROWTH`-fold by
        ``t_end`` (see :meth:`Schedule.check_horizon`)."""
        steps = ScalarOps.floor(max(t_end, 0.0) / self.step_size)
        check_growth(_name(names, 'gamma'), self.gamma, steps, t_end, self.base_lr)


@dataclasses.dataclass(frozen=True)
class MultiStepSchedule(Schedule):
    r""":math:`\eta(t) = \eta_0\,\gamma^{\#\{i : m_i \le t\}}` (the decay applies *at* each milestone).

    Args:
        milestones: non-decreasing, ``>= 0``.
        gamma: ``>= 0`` (default 0.1).
        base_lr: ``>= 0`` (default 1).

    Raises:
        ValueError: an argument is outside its range.

    Example:
        >>> s = MultiStepSchedule([10, 20], gamma=0.5)
        >>> s(9), s(10), s(20)
        (1.0, 0.5, 0.25)
    """
    milestones: Sequence[float]
    gamma: float = dataclasses.field(default=0.1, metadata=interval(lo=0))
    base_lr: float = dataclasses.field(default=1.0, metadata=interval(lo=0))

    def __post_init__(self) -> None:
        object.__setattr__(self, 'milestones', check_increasing('milestones', self.milestones, strict=False))
        check_bounds(self)

    def _eval(self, t: Any, ops: Ops) -> Any:
        if self.base_lr == 0:
            return ops.full_like(t, 0.0)
        return self.base_lr * ops.power(self.gamma, ops.count_le(self.milestones, t))

    def check_horizon(self, t_end: float, names: Optional[Mapping[str, str]] = None) -> None:
        """``gamma > 1`` may grow the value at most :data:`~composer_sched.schedules._base.MAX_GROWTH`-fold by
        ``t_end`` (see :meth:`Schedule.check_horizon`)."""
        check_growth(_name(names, 'gamma'), self.gamma, ScalarOps.count_le(self.milestones, t_end), t_end,
                     self.base_lr)


@register
class StepConfig(MethodConfig):
    """Multiply by gamma every step_size."""
    NAME = 'step'
    RUN_CLOCK = True
    REFERENCE = 'torch.optim.lr_scheduler.StepLR'

    step_size: Duration = param(doc='period of the decay', kind='duration', example='12ba')
    gamma: float = param(0.1, 'decay factor (> 1 grows, bounded over the run)', bound=bound_of(StepSchedule, 'gamma'),
                         example=0.5)

    def build(self, step_size: float) -> Schedule:
        return StepSchedule(step_size=step_size, gamma=self.gamma)


@register
class MultiStepConfig(MethodConfig):
    """Multiply by gamma at each milestone."""
    NAME = 'multi_step'
    RUN_CLOCK = True
    REFERENCE = 'torch.optim.lr_scheduler.MultiStepLR'

    milestones: Sequence[Duration] = param(doc='when to decay', kind='durations', example=['0.3dur', '60ba'])
    gamma: float = param(0.1, 'decay factor (> 1 grows, bounded over the run)', bound=bound_of(MultiStepSchedule,
                         'gamma'), example=0.5)

    def build(self, milestones: Sequence[float]) -> Schedule:
        # Sorted: milestones mixing units (e.g. '0.3dur' and '60ba') may come in either order on a given horizon.
        return MultiStepSchedule(milestones=tuple(sorted(milestones)), gamma=self.gamma)
