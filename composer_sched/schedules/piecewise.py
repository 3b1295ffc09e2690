"""Piecewise-constant schedule: a product of factors that switch on at milestones."""
from __future__ import annotations

import dataclasses

import numpy as np

from composer_sched.schedules._base import Schedule, check, check_increasing, check_number
from composer_sched.schedules.registry import Method, Param, register

__all__ = ['PiecewiseConstantSchedule']


@dataclasses.dataclass(frozen=True)
class PiecewiseConstantSchedule(Schedule):
    r""":math:`\eta(t) = \eta_0 \prod_{i : m_i \le t} f_i`.

    Args:
        milestones: non-decreasing, ``>= 0``.
        factors: one factor ``>= 0`` per milestone.
        base_lr: :math:`\eta_0`, ``>= 0`` (default 1).

    Raises:
        ValueError: lengths differ or an argument is outside its range.

    Example:
        >>> s = PiecewiseConstantSchedule(milestones=[4, 8], factors=[0.5, 0.1])
        >>> s(3), s(4), round(s(8), 12)
        (1.0, 0.5, 0.05)
    """
    milestones: tuple
    factors: tuple
    base_lr: float = 1.0

    def __post_init__(self):
        object.__setattr__(self, 'milestones', check_increasing('milestones', self.milestones, strict=False))
        object.__setattr__(self, 'factors', tuple(check_number(f'factors[{i}]', f, lo=0)
                                                  for i, f in enumerate(self.factors)))
        check(len(self.factors) == len(self.milestones), 'factors', list(self.factors),
              f'a list of {len(self.milestones)} numbers, one per milestone')
        check_number('base_lr', self.base_lr, lo=0)
        object.__setattr__(self, '_levels', np.cumprod((self.base_lr,) + self.factors))

    def _eval(self, t, ops):
        idx = ops.count_le(self.milestones, t)
        return self._levels[idx] if ops.array else float(self._levels[idx])


def _sorted_pieces(milestones, factors):
    # Milestones mixing units may come in either order on a given horizon: keep each factor with its milestone.
    if len(milestones) != len(factors):
        raise ValueError(f'factors={list(factors)!r} is not allowed: factors must have one number per milestone '
                         f'({len(milestones)}).')
    pairs = sorted(zip(milestones, factors), key=lambda p: p[0])
    return PiecewiseConstantSchedule(milestones=tuple(m for m, _ in pairs), factors=tuple(f for _, f in pairs))


register(Method(
    name='piecewise_constant',
    summary='Multiply by factors[i] from milestones[i] on.',
    params=(Param('milestones', kind='durations', doc='when each factor switches on'),
            Param('factors', doc='one factor per milestone')),
    build=lambda milestones, factors: _sorted_pieces(milestones, factors),
))
