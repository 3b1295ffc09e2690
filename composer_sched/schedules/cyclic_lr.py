r"""torch's ``CyclicLR`` cycles (Smith 2015): triangular, triangular2 (amplitude halved each cycle), exp_range.

Added the documented way (issue 14): this module and its test are all a new method takes; the Composer and PyTorch
schedulers, the setter algorithm, entry points, example recipes and docs row are generated from
:class:`CyclicLRConfig` by ``make gen``.
"""
from __future__ import annotations

import dataclasses
import math
from typing import Any, Optional

from composer_sched.schedules._base import (
    ParamError,
    Schedule,
    bound_of,
    check,
    check_bounds,
    check_choice,
    interval,
)
from composer_sched.schedules.registry import Duration, MethodConfig, param, register

__all__ = ['CyclicLRSchedule', 'CyclicLRConfig']

MODES = ('triangular', 'triangular2', 'exp_range')


@dataclasses.dataclass(frozen=True)
class CyclicLRSchedule(Schedule):
    r"""torch's ``CyclicLR`` (``cycle_momentum=False``) as a function of the iteration :math:`t`.

    A cycle rises for ``step_size_up`` iterations from ``min_lr`` to ``max_lr`` and falls back for
    ``step_size_down``; each cycle's amplitude is scaled per ``mode``:

    .. math::
        T = s_{up} + s_{down},\quad c = \lfloor 1 + t/T \rfloor,\quad x = 1 + t/T - c,\quad
        f = \begin{cases} x / r & x \le r \\ (x - 1)/(r - 1) & x > r \end{cases}\ (r = s_{up}/T),

        \eta(t) = \eta_{min} + (\eta_{max} - \eta_{min})\, f \cdot
        \begin{cases} 1 & \text{triangular} \\ 2^{-(c - 1)} & \text{triangular2} \\
        \gamma^{t / P} & \text{exp\_range} \end{cases}

    evaluated as torch evaluates it (the same operations in the same order), so the values agree to the last bits.

    Args:
        min_lr: the cycles' lower bound (torch's ``base_lr``), ``>= 0``.
        max_lr: the first cycle's peak, ``>= 0`` (below ``min_lr``: a dip).
        step_size_up: :math:`s_{up}`, iterations rising, ``> 0``.
        step_size_down: :math:`s_{down}`, iterations falling, ``>= 0`` (default ``None``: ``step_size_up``, as
            torch).
        mode: ``'triangular'`` (default), ``'triangular2'`` (amplitude halved each cycle) or ``'exp_range'``
            (amplitude times :math:`\gamma^{t/P}`).
        gamma: :math:`\gamma` of ``'exp_range'``, in ``[0, 1]`` (default 1); must be 1 in the other modes, which
            ignore it in torch.
        period: :math:`P`, ``> 0`` (default 1: torch's per-iteration ``gamma``).

    Raises:
        ValueError: an argument is outside its range.

    Example:
        >>> s = CyclicLRSchedule(min_lr=1, max_lr=5, step_size_up=4, mode='triangular2')
        >>> [s(t) for t in (0, 2, 4, 8, 12, 16, 20)]
        [1.0, 3.0, 5.0, 1.0, 3.0, 1.0, 2.0]
    """
    min_lr: float = dataclasses.field(metadata=interval(lo=0))
    max_lr: float = dataclasses.field(metadata=interval(lo=0))
    step_size_up: float = dataclasses.field(metadata=interval(lo=0, lo_open=True))
    step_size_down: Optional[float] = dataclasses.field(default=None, metadata=interval(lo=0))
    mode: str = 'triangular'
    gamma: float = dataclasses.field(default=1.0, metadata=interval(lo=0, hi=1))
    period: float = dataclasses.field(default=1.0, metadata=interval(lo=0, lo_open=True))

    def __post_init__(self) -> None:
        check_bounds(self)
        check_choice('mode', self.mode, MODES)
        check(self.mode == 'exp_range' or self.gamma == 1, 'gamma', self.gamma,
              "1 unless mode='exp_range' (the only mode it scales)")

    def _eval(self, t: Any, ops: Any) -> Any:
        up = float(self.step_size_up)
        total = up + float(up if self.step_size_down is None else self.step_size_down)
        ratio = up / total
        t = ops.maximum(t, 0.0)
        u = 1.0 + t / total
        cycle = ops.floor(u)
        x = ops.where(u < math.inf, u - cycle, 0.0)  # inf - inf: a time past any cycle count starts a cycle
        # A rise too short to resolve (up / total underflows to 0) is instant: the cycle starts at its peak.
        rise = x / ratio if ratio > 0 else ops.full_like(x, 1.0)
        fall = (x - 1) / (ratio - 1) if ratio < 1 else ops.full_like(x, 0.0)  # no fall without step_size_down
        height = (self.max_lr - self.min_lr) * ops.where(x <= ratio, rise, fall)
        if self.mode == 'triangular':
            return self.min_lr + height * 1.0
        if self.mode == 'triangular2':
            return self.min_lr + height * (1 / ops.power(2.0, cycle - 1))
        return self.min_lr + height * ops.power(float(self.gamma), t / self.period)


@register
class CyclicLRConfig(MethodConfig):
    """torch's CyclicLR: cycles up over t_up and down over t_down between alpha_min and alpha_max, by mode.

    ``mode='triangular2'`` halves the amplitude each cycle, ``'exp_range'`` scales it by ``gamma`` per
    ``decay_period`` (``'1ba'``: torch's per-iteration ``gamma``; a duration, so a scaled run dilates it too).

    Example:
        >>> s = CyclicLRConfig(mode='triangular2', alpha_min=0.1).build(t_up=10, t_down=10, decay_period=1)
        >>> [round(s(t), 12) for t in (0, 10, 20, 30, 50)]
        [0.1, 1.0, 0.1, 0.55, 0.325]
    """
    NAME = 'cyclic_lr'
    REFERENCE = 'Smith (2015), Cyclical Learning Rates; torch.optim.lr_scheduler.CyclicLR'
    ALIASES = {'min_lr': 'alpha_min', 'max_lr': 'alpha_max', 'step_size_up': 't_up', 'step_size_down': 't_down',
               'period': 'decay_period'}

    t_up: Duration = param('0.1dur', 'length of the rise of each cycle (torch\'s step_size_up)', kind='duration',
                           example='4ba')
    t_down: Duration = param('0.1dur', 'length of the fall of each cycle (torch\'s step_size_down)',
                             kind='duration', example='6ba')
    mode: str = param('triangular', 'amplitude per cycle: triangular (constant), triangular2 (halved each cycle), '
                                    'exp_range (times gamma per decay_period)', choices=MODES, example='triangular2')
    alpha_min: float = param(0.0, 'lower bound multiplier (torch\'s base_lr)',
                             bound=bound_of(CyclicLRSchedule, 'min_lr'), example=0.1)
    alpha_max: float = param(1.0, 'upper bound multiplier, the first peak (torch\'s max_lr)',
                             bound=bound_of(CyclicLRSchedule, 'max_lr'), example=1.0)
    gamma: float = param(1.0, "exp_range only: amplitude factor per decay_period (torch's gamma)",
                         bound=bound_of(CyclicLRSchedule, 'gamma'),
                         example=1.0)
    decay_period: Duration = param('1ba', 'exp_range only: the period gamma applies once per, continuously',
                                   kind='duration', example='1ba')

    def check(self) -> None:
        if self.mode != 'exp_range' and self.gamma != 1:
            raise ParamError('gamma', self.gamma, "1 unless mode='exp_range' (the only mode it scales)")

    def build(self, t_up: float, t_down: float, decay_period: float) -> Schedule:
        return CyclicLRSchedule(min_lr=self.alpha_min, max_lr=self.alpha_max, step_size_up=t_up,
                                step_size_down=t_down, mode=self.mode, gamma=self.gamma, period=decay_period)
