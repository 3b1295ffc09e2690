"""Warmup-stable-decay (WSD): constant, then a cool-down over the last part of training.

The warm-up is the adapters' generic wrapper (see :mod:`composer_sched.schedules.warmup`); this module is the
stable phase and the decay, and the decay formula itself (:func:`decay`), which the tutorial's
:class:`~composer_sched.schedules.cooldown.LinearCoolDown` wrapper and the ``Cooldown`` algorithm reuse.
"""
from __future__ import annotations

import dataclasses
import math
from typing import Any

from composer_sched.schedules._base import (
    Ops,
    Schedule,
    bound_of,
    check,
    check_bounds,
    check_choice,
    check_number,
    interval,
)
from composer_sched.schedules.registry import Duration, MethodConfig, param, register

__all__ = ['StableDecaySchedule', 'WSDConfig']

#: The shapes of WSD's decay (``decay_type``): linear, the 1-sqrt of Hägele et al. (2024), or half a cosine
#: (transformers' ``warmup_stable_decay`` default, timm's ``decay_fn='cosine'``).
COOLDOWN_SHAPES = ('linear', 'sqrt', 'cosine')
#: Every shape :func:`decay` draws: WSD's, and the geometric one the ``Cooldown`` algorithm also offers.
DECAY_SHAPES = ('linear', 'sqrt', 'exp', 'cosine')


def decay(start: float, finish: float, u: Any, shape: str, ops: Ops) -> Any:
    r"""The cool-down from ``start`` to ``finish`` at fraction :math:`u \in [0, 1]` of its length.

    .. math::
        \text{linear: } \eta_c + (\eta_f - \eta_c)\,u,\quad
        \text{sqrt: } \eta_f + (\eta_c - \eta_f)(1 - \sqrt{u}),\quad
        \text{exp: } \eta_c\,(\eta_f / \eta_c)^{u},\quad
        \text{cosine: } \eta_f + (\eta_c - \eta_f)\tfrac12(1 + \cos \pi u)

    ``'exp'`` is geometric, so it needs both ends ``> 0``; from or to 0 it is drawn linearly.

    Example:
        >>> from composer_sched.schedules._base import ScalarOps
        >>> [decay(1.0, 0.01, u, s, ScalarOps) for s in DECAY_SHAPES for u in (0.5,)]
        [0.505, 0.29996428662531793, 0.1, 0.505]
    """
    if shape == 'sqrt':
        return finish + (start - finish) * (1 - ops.sqrt(u))
    if shape == 'cosine':
        return finish + (start - finish) * ((1 + ops.cos(math.pi * u)) / 2)
    if shape == 'exp' and start > 0 and finish > 0:
        return start * (finish / start) ** u
    return start + (finish - start) * u


@dataclasses.dataclass(frozen=True)
class StableDecaySchedule(Schedule):
    r"""Constant ``base_lr`` until :math:`T - C`, then a linear, 1-sqrt or cosine cool-down to ``final_lr`` at T.

    .. math::
        \eta(t) = \begin{cases} \eta_0 & t \le T - C \\ \eta_f + (\eta_0 - \eta_f)\,(1 - u) & \text{linear} \\
        \eta_f + (\eta_0 - \eta_f)\,(1 - \sqrt{u}) & \text{sqrt} \end{cases},\quad u = \frac{t - (T - C)}{C}

    Args:
        length: :math:`T`, where the cool-down ends, ``> 0``.
        cooldown_length: :math:`C`, in ``[0, length]``.
        final_lr: :math:`\eta_f`, in ``[0, base_lr]`` (default 0).
        base_lr: :math:`\eta_0`, ``>= 0`` (default 1).
        decay_type: ``'linear'`` (default), ``'sqrt'`` or ``'cosine'`` (see
            :class:`~composer_sched.schedules.cooldown.LinearCoolDown`).

    Raises:
        ValueError: an argument is outside its range.

    Example:
        >>> s = StableDecaySchedule(length=10, cooldown_length=2)
        >>> s(8), s(9), s(10)
        (1.0, 0.5, 0.0)
    """
    length: float = dataclasses.field(metadata=interval(lo=0, lo_open=True))
    cooldown_length: float
    final_lr: float = dataclasses.field(default=0.0, metadata=interval(lo=0))
    base_lr: float = dataclasses.field(default=1.0, metadata=interval(lo=0))
    decay_type: str = 'linear'

    def __post_init__(self) -> None:
        check_bounds(self)
        check_number('cooldown_length', self.cooldown_length, lo=0, hi=self.length)
        check(self.final_lr <= self.base_lr, 'final_lr', self.final_lr, f'<= base_lr ({self.base_lr})')
        check_choice('decay_type', self.decay_type, COOLDOWN_SHAPES)

    @property
    def cooldown_start(self) -> float:
        """:math:`T - C`, the last time at ``base_lr``."""
        return self.length - self.cooldown_length

    def _eval(self, t: Any, ops: Ops) -> Any:
        start, c = self.length - self.cooldown_length, self.cooldown_length
        if not ops.array and t <= start:  # the stable phase: one comparison per batch
            return self.base_lr
        if c == 0:
            return ops.where(t <= start, self.base_lr, self.final_lr)
        u = ops.clip((t - start) / c, 0.0, 1.0)  # the fraction first: (t - s) * diff overflows
        tail = ops.where(t < self.length, decay(self.base_lr, self.final_lr, u, self.decay_type, ops),
                         self.final_lr)  # exactly final_lr from the end on (no round-off below it)
        return ops.where(t <= start, self.base_lr, tail)


@register
class WSDConfig(MethodConfig):
    """Warmup-stable-decay: constant, then a linear, 1-sqrt or cosine cool-down to alpha_f over the last t_cooldown."""
    NAME = 'wsd'
    REFERENCE = 'Hu et al. (2024) MiniCPM; Hägele et al. (2024); Schaipp et al. (2025)'
    BUDGET_FREE_PREFIX = True
    ALIASES = {'length': 't_max', 'cooldown_length': 't_cooldown', 'final_lr': 'alpha_f'}

    t_cooldown: Duration = param('0.2dur', 'length of the cool-down at the end', kind='duration', example='0.4dur')
    # final_lr <= base_lr, and build() fixes base_lr at 1
    alpha_f: float = param(0.0, 'final multiplier', bound=bound_of(StableDecaySchedule, 'final_lr').narrowed(hi=1),
                           example=0.05)
    decay_type: str = param('linear', 'cool-down shape', choices=COOLDOWN_SHAPES, example='sqrt')
    t_max: Duration = param('1dur', 'where the cool-down ends', kind='duration', end=True, example='1dur')

    def build(self, t_cooldown: float, t_max: float) -> Schedule:
        return StableDecaySchedule(length=t_max, cooldown_length=t_cooldown, final_lr=self.alpha_f,
                                   decay_type=self.decay_type)
