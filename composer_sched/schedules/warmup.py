"""Warm-up wrappers: a ramp at the start of any schedule (Goyal et al. 2017). Linear, exponential (AutoWU) or sqrt.

Two placements: the tutorial's (``shift=True``, the default) starts the wrapped schedule when the ramp ends, on its
own clock; Composer's ``*WithWarmup`` placement (``shift=False``) lays the ramp over the start of a schedule that
keeps the run's clock, so its milestones stay where they were given.
"""
from __future__ import annotations

import dataclasses
import math
from typing import Any, Mapping, Optional

from composer_sched.schedules._base import Ops, Schedule, bound_of, check, check_bounds, interval
from composer_sched.schedules.registry import Duration, MethodConfig, configclass, param

__all__ = ['LinearWarmUp', 'ExponentialWarmUp', 'SqrtWarmUp', 'warm_up', 'WarmupConfig', 'WARMUP_TYPES']

#: The warm-up ramps: linear (Goyal et al. 2017), exponential (AutoWU), or sqrt (fast at first, then flat).
WARMUP_TYPES = ('linear', 'exponential', 'sqrt')


@dataclasses.dataclass(frozen=True)
class LinearWarmUp(Schedule):
    r"""Linear ramp from ``start_lr`` to ``schedule(0)`` over ``length`` iterations, then ``schedule`` shifted.

    .. math::
        \eta(t) = \begin{cases} \eta_s + (\eta_w(0) - \eta_s)\, t / W & t \le W \\ \eta_w(t - W) & t > W \end{cases}

    The wrapped schedule starts when the warm-up ends, so its own clock is not compressed. With ``shift=False``
    (Composer's ``*WithWarmup`` placement) the ramp overlays the start of a schedule that keeps its clock:
    :math:`\eta(t) = \eta_w(t)` from :math:`t = W` on, and the ramp still rises to :math:`\eta_w(0)` (Composer's
    rises to 1), so a milestone inside the warm-up takes effect at its end.

    Args:
        schedule: the wrapped schedule :math:`\eta_w`.
        start_lr: :math:`\eta_s`, value at ``t = 0``, ``>= 0``.
        length: :math:`W`, warm-up iterations, ``>= 0`` (0: no warm-up).
        shift: ``True`` (default): start ``schedule`` when the ramp ends; ``False``: overlay it.

    Raises:
        ValueError: an argument is outside its range.

    Example:
        >>> from composer_sched.schedules import MultiFactorSchedule
        >>> s = LinearWarmUp(MultiFactorSchedule([250, 750, 900], factor=0.5, base_lr=1), start_lr=0, length=250)
        >>> s(0), s(125), s(250), s(501), s(1001)
        (0.0, 0.5, 1.0, 0.5, 0.25)
        >>> o = LinearWarmUp(MultiFactorSchedule([250, 750, 900], factor=0.5, base_lr=1), 0, length=250, shift=False)
        >>> o(125), o(251), o(751)
        (0.5, 0.5, 0.25)
    """
    schedule: Schedule
    start_lr: float = dataclasses.field(metadata=interval(lo=0))
    length: float = dataclasses.field(metadata=interval(lo=0))
    shift: bool = True
    _offset: float = dataclasses.field(init=False, repr=False, compare=False)
    _finish_lr: float = dataclasses.field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        check(isinstance(self.schedule, Schedule), 'schedule', self.schedule, 'a composer_sched Schedule')
        check_bounds(self)
        check(isinstance(self.shift, bool), 'shift', self.shift, 'True or False')
        object.__setattr__(self, '_offset', self.length if self.shift else 0.0)
        object.__setattr__(self, '_finish_lr', self.schedule(0.0))  # cached: read on every evaluation

    @property
    def finish_lr(self) -> float:
        """The wrapped schedule's first value, where the ramp ends."""
        return self._finish_lr

    def check_horizon(self, t_end: float, names: Optional[Mapping[str, str]] = None) -> None:
        """The wrapped schedule runs from the end of the ramp (shifted) or from 0 (overlaid) until ``t_end``."""
        self.schedule.check_horizon(max(t_end - self._offset, 0.0), names)

    def _ramp(self, t: Any, ops: Ops) -> Any:
        return self.start_lr + (self.finish_lr - self.start_lr) * (t / self.length)

    def _eval(self, t: Any, ops: Ops) -> Any:
        if self.length == 0:
            return self.schedule._eval(t, ops)
        # Shifted, both sides agree at t = W; overlaid, the schedule's own value applies from W on (as Composer's).
        if not ops.array:  # one branch only: the scalar path runs every batch
            ramping = t <= self.length if self.shift else t < self.length
            return self._ramp(t, ops) if ramping else self.schedule._eval(t - self._offset, ops)
        inner = self.schedule._eval(ops.maximum(t - self._offset, 0.0), ops)
        ramping = t <= self.length if self.shift else t < self.length
        return ops.where(ramping, self._ramp(ops.minimum(t, self.length), ops), inner)


@dataclasses.dataclass(frozen=True)
class ExponentialWarmUp(LinearWarmUp):
    r"""Geometric ramp from ``start_lr`` to ``schedule(0)`` over ``length`` iterations, then ``schedule`` shifted.

    .. math:: \eta(t) = \eta_s\,(\eta_w(0)/\eta_s)^{t/W}\quad (t \le W)

    Args:
        schedule: the wrapped schedule; its first value must be ``> 0``.
        start_lr: :math:`\eta_s`, ``> 0``.
        length: :math:`W`, ``>= 0``.

    Raises:
        ValueError: ``start_lr <= 0`` or ``schedule(0) <= 0``, or another argument outside its range.

    Example:
        >>> from composer_sched.schedules import ConstantSchedule
        >>> s = ExponentialWarmUp(ConstantSchedule(1.0), start_lr=0.01, length=100)
        >>> round(s(0), 6), round(s(50), 6), s(100), s(200)
        (0.01, 0.1, 1.0, 1.0)
    """
    start_lr: float = dataclasses.field(metadata=interval(lo=0, lo_open=True))  # > 0: a geometric ramp
    _ratio: Optional[float] = dataclasses.field(init=False, repr=False, compare=False)
    _logs: tuple[float, float] = dataclasses.field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        super().__post_init__()
        check(self.finish_lr > 0, 'schedule(0)', self.finish_lr, '> 0 for an exponential warm-up')
        ratio = self.finish_lr / self.start_lr
        # A tiny start and a large finish overflow the ratio: then ramp in logs, between two finite ends.
        object.__setattr__(self, '_ratio', ratio if math.isfinite(ratio) else None)
        object.__setattr__(self, '_logs', (math.log(self.start_lr), math.log(self.finish_lr)))

    def _ramp(self, t: Any, ops: Ops) -> Any:
        u = t / self.length
        if self._ratio is not None:
            return self.start_lr * self._ratio ** u  # exactly start_lr at t = 0
        ls, lf = self._logs
        inner = ops.exp(ls + (lf - ls) * u)
        return ops.where(u <= 0, self.start_lr, ops.where(u >= 1, self.finish_lr, inner))  # exact ends


@dataclasses.dataclass(frozen=True)
class SqrtWarmUp(LinearWarmUp):
    r"""Square-root ramp from ``start_lr`` to ``schedule(0)`` over ``length`` iterations, then ``schedule`` shifted.

    .. math:: \eta(t) = \eta_s + (\eta_w(0) - \eta_s)\,\sqrt{t/W}\quad (t \le W)

    Arguments and errors as :class:`LinearWarmUp`'s.

    Example:
        >>> from composer_sched.schedules import ConstantSchedule
        >>> s = SqrtWarmUp(ConstantSchedule(1.0), start_lr=0.0, length=100)
        >>> s(0), s(25), s(100), s(200)
        (0.0, 0.5, 1.0, 1.0)
    """

    def _ramp(self, t: Any, ops: Ops) -> Any:
        return self.start_lr + (self.finish_lr - self.start_lr) * ops.sqrt(ops.maximum(t / self.length, 0.0))


_RAMPS: dict[str, type[LinearWarmUp]] = {'linear': LinearWarmUp, 'exponential': ExponentialWarmUp, 'sqrt': SqrtWarmUp}


def warm_up(schedule: Schedule, length: float, start_lr: float = 0.0, kind: str = 'linear',
            shift: bool = True) -> Schedule:
    """``schedule`` with a ``kind`` (one of :data:`WARMUP_TYPES`) warm-up; ``length == 0`` returns it as is.
    ``shift``: start ``schedule`` when the ramp ends (default) or overlay the ramp on it (see :class:`LinearWarmUp`)."""
    if kind not in WARMUP_TYPES:
        raise ValueError(f'warmup_type={kind!r} is not allowed: warmup_type must be one of '
                         f'{", ".join(map(repr, WARMUP_TYPES))}.')
    if length == 0:
        return schedule
    return _RAMPS[kind](schedule, start_lr, length, shift)


@configclass
class WarmupConfig(MethodConfig):
    """The generic warm-up every registered method accepts: the adapters wrap the method's schedule in it
    (:func:`warm_up`). Declared like a method's config, so its parameters are validated the same way.

    Example:
        >>> WarmupConfig(t_warmup='10ba', warmup_type='exponential', alpha_warmup=0.01).warmup_type
        'exponential'
    """
    t_warmup: Duration = param('0ba', "warm-up length from the start of the run; an absolute one is not scaled by "
                               "the ratio, a 'dur' one is a fraction of the (scaled) run", kind='duration',
                               example='4ba')
    warmup_type: str = param('linear', 'warm-up ramp', choices=WARMUP_TYPES, example='linear')
    alpha_warmup: float = param(0.0, 'multiplier at the start of the warm-up (> 0 for exponential)',
                                bound=bound_of(LinearWarmUp, 'start_lr'),
                                example=0.1)
    scale_warmup: bool = param(False, 'scale the warm-up with the ratio as well (its end included)', example=False)
    warmup_overlay: bool = param(False, "lay the warm-up over the start of the shape, which keeps the run's clock "
                                 "(timm's warmup_prefix=False); default: the shape starts when the warm-up ends",
                                 example=False)
