"""Piecewise-constant schedule: a product of factors that switch on at milestones."""
from __future__ import annotations

import dataclasses
import numbers
from typing import Any, Sequence, Union

import numpy as np

from composer_sched.schedules._base import (
    Ops,
    ParamError,
    Schedule,
    check,
    check_bounds,
    check_increasing,
    check_number,
    interval,
)
from composer_sched.schedules.registry import Duration, MethodConfig, param, register

__all__ = ['PiecewiseConstantSchedule', 'PiecewiseConstantConfig']


@dataclasses.dataclass(frozen=True)
class PiecewiseConstantSchedule(Schedule):
    r""":math:`\eta(t) = \eta_0 \prod_{i : m_i \le t} f_i`.

    Args:
        milestones: non-decreasing, ``>= 0``.
        factors: one factor ``>= 0`` per milestone, or one number for all of them.
        base_lr: :math:`\eta_0`, ``>= 0`` (default 1).

    Raises:
        ValueError: lengths differ, an argument is outside its range, or a product of factors overflows.

    Example:
        >>> s = PiecewiseConstantSchedule(milestones=[4, 8], factors=[0.5, 0.1])
        >>> s(3), s(4), round(s(8), 12)
        (1.0, 0.5, 0.05)
    """
    milestones: Sequence[float]
    factors: Union[float, Sequence[float]]
    base_lr: float = dataclasses.field(default=1.0, metadata=interval(lo=0))
    _levels: 'np.ndarray[Any, Any]' = dataclasses.field(init=False, repr=False, compare=False)  # running products

    def __post_init__(self) -> None:
        object.__setattr__(self, 'milestones', check_increasing('milestones', self.milestones, strict=False))
        factors = _factors(self.factors, len(self.milestones))
        object.__setattr__(self, 'factors', factors)
        check_bounds(self)
        object.__setattr__(self, '_levels', _levels(self.base_lr, factors))

    def _eval(self, t: Any, ops: Ops) -> Any:
        idx = ops.count_le(self.milestones, t)
        return self._levels[idx] if ops.array else float(self._levels[idx])


def _factors(factors: Any, n: int) -> tuple[float, ...]:
    """One checked factor per milestone; a single number applies at every milestone."""
    if isinstance(factors, numbers.Real) and not isinstance(factors, bool):
        return (check_number('factors', factors, lo=0),) * n
    check(isinstance(factors, (list, tuple, np.ndarray)) and len(factors) == n, 'factors',
          list(factors) if isinstance(factors, (list, tuple, np.ndarray)) else factors,
          f'a list of {n} numbers, one per milestone, or one number for all')
    return tuple(check_number(f'factors[{i}]', f, lo=0) for i, f in enumerate(factors))


def _levels(base: float, factors: Sequence[float]) -> 'np.ndarray[Any, Any]':
    """The running products ``base * f_0 * ... * f_i``; a ``ParamError`` names the first factor that overflows."""
    with np.errstate(over='ignore', invalid='ignore'):  # inf, then inf * 0: refused just below
        levels = np.cumprod((base,) + tuple(factors))
    bad = np.flatnonzero(~np.isfinite(levels))
    if bad.size:
        raise ParamError(f'factors[{bad[0] - 1}]', factors[bad[0] - 1],
                         'small enough that the product of the factors so far stays finite')
    return levels


@register
class PiecewiseConstantConfig(MethodConfig):
    """Multiply by factors[i] from milestones[i] on."""
    NAME = 'piecewise_constant'
    RUN_CLOCK = True

    milestones: Sequence[Duration] = param(doc='when each factor switches on', kind='durations',
                                           example=['15ba', '0.6dur'])
    factors: Union[float, Sequence[float]] = param(doc='one factor per milestone (or one number for all)',
                                                   kind='values', lo=0, example=[0.5, 0.2])

    def check(self) -> None:
        # Here, not at the Trainer's start: the number of milestones is known from the config alone.
        factors = _factors(self.factors, len(self.milestones))
        _levels(1.0, factors)

    def build(self, milestones: Sequence[float]) -> Schedule:
        # Milestones mixing units may come in either order on a given horizon: keep each factor with its milestone.
        factors = _factors(self.factors, len(milestones))
        pairs = sorted(zip(milestones, factors), key=lambda p: p[0])
        return PiecewiseConstantSchedule(milestones=tuple(m for m, _ in pairs), factors=tuple(f for _, f in pairs))
