"""Cool-down wrapper (the tutorial's): from a schedule's value at ``start_idx`` down to ``finish_lr``: linear,
1-sqrt, geometric or cosine. The decay formula is WSD's (:func:`composer_sched.schedules.wsd.decay`)."""
from __future__ import annotations

import dataclasses
from typing import Any, Mapping, Optional

from composer_sched.schedules._base import Ops, Schedule, check, check_bounds, check_choice, interval
from composer_sched.schedules.wsd import DECAY_SHAPES, decay

__all__ = ['LinearCoolDown']


@dataclasses.dataclass(frozen=True)
class LinearCoolDown(Schedule):
    r"""``schedule`` until ``start_idx``, then a cool-down to ``finish_lr`` over ``length`` iterations, then hold.

    With :math:`s` = ``start_idx``, :math:`C` = ``length``, :math:`\eta_c = \eta_w(s)` and
    :math:`u = (t - s)/C`:

    .. math::
        \eta(t) = \begin{cases} \eta_w(t) & t \le s \\
        \eta_c + (\eta_f - \eta_c)\,u & s < t \le s + C,\ \text{shape='linear'} \\
        \eta_f + (\eta_c - \eta_f)(1 - \sqrt{u}) & s < t \le s + C,\ \text{shape='sqrt'} \\
        \eta_c\,(\eta_f/\eta_c)^u & s < t \le s + C,\ \text{shape='exp'} \\
        \eta_f + (\eta_c - \eta_f)\tfrac12(1 + \cos \pi u) & s < t \le s + C,\ \text{shape='cosine'} \\
        \eta_f & t > s + C \end{cases}

    Args:
        schedule: the wrapped schedule :math:`\eta_w`.
        finish_lr: :math:`\eta_f`, ``>= 0``.
        start_idx: :math:`s`, ``>= 0``.
        length: :math:`C`, ``>= 0``.
        follow: ``False`` (default): the cool-down starts from :math:`\eta_c` as above. ``True``: it multiplies
            the wrapped schedule as it goes on, floored at :math:`\eta_f` throughout (timm's ``WSDLRScheduler``:
            :math:`\eta_f + (\max(\eta_w(t), \eta_f) - \eta_f)\,s(u)`, :math:`s` the shape's factor: 1 - u,
            1 - sqrt(u) or the half cosine); the same for a constant :math:`\eta_w`. Not with ``'exp'``.
        shape: ``'linear'`` (default), ``'sqrt'`` (the "1-sqrt" cool-down of Hägele et al. 2024), ``'exp'``
            (geometric; drawn linearly when an end is 0) or ``'cosine'`` (half a cosine: transformers'
            ``warmup_stable_decay`` default, timm's ``decay_fn='cosine'``).

    Raises:
        ValueError: an argument is outside its range.

    Example:
        >>> from composer_sched.schedules import MultiFactorSchedule
        >>> s = LinearCoolDown(MultiFactorSchedule([250, 750, 900], factor=0.5, base_lr=1),
        ...                    finish_lr=0.001, start_idx=1000, length=500)
        >>> s(1000), round(s(1250), 6), round(s(1500), 6), s(2000)
        (0.125, 0.063, 0.001, 0.001)
    """
    schedule: Schedule
    finish_lr: float = dataclasses.field(metadata=interval(lo=0))
    start_idx: float = dataclasses.field(metadata=interval(lo=0))
    length: float = dataclasses.field(metadata=interval(lo=0))
    shape: str = 'linear'
    follow: bool = False
    _start_lr: float = dataclasses.field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        check(isinstance(self.schedule, Schedule), 'schedule', self.schedule, 'a composer_sched Schedule')
        check_bounds(self)
        check_choice('shape', self.shape, DECAY_SHAPES)
        check(isinstance(self.follow, bool), 'follow', self.follow, 'True or False')
        check(not (self.follow and self.shape == 'exp'), 'follow', self.follow,
              "False with shape='exp' (a geometric cool-down starts from one value)")
        object.__setattr__(self, '_start_lr', self.schedule(self.start_idx))  # cached: read on every evaluation

    @property
    def start_lr(self) -> float:
        """The wrapped schedule's value where the cool-down starts."""
        return self._start_lr

    def check_horizon(self, t_end: float, names: Optional[Mapping[str, str]] = None) -> None:
        """The wrapped schedule runs until ``start_idx`` only."""
        self.schedule.check_horizon(min(t_end, self.start_idx), names)

    def _tail(self, t: Any, ops: Ops) -> Any:
        start, finish = self.start_lr, self.finish_lr
        if self.length == 0:
            return ops.full_like(t, finish)
        end = self.start_idx + self.length
        u = ops.clip((t - self.start_idx) / self.length, 0.0, 1.0)  # the fraction first: (t - s) * diff overflows
        if self.follow:  # from the wrapped schedule as it goes on, floored at finish_lr
            start = ops.maximum(self.schedule._eval(t, ops), finish)
        ramp = decay(start, finish, u, self.shape, ops)
        return ops.where(t < end, ramp, finish)  # exactly finish_lr from the end on (no round-off below 0)

    def _eval(self, t: Any, ops: Ops) -> Any:
        # The head inline (no helper frame: a batch reaches the formula in at most five frames).
        if not ops.array:
            if t > self.start_idx:
                return self._tail(t, ops)
            value = self.schedule._eval(t, ops)
            return max(value, self.finish_lr) if self.follow else value
        head = self.schedule._eval(t, ops)
        if self.follow:
            head = ops.maximum(head, self.finish_lr)
        return ops.where(t <= self.start_idx, head, self._tail(t, ops))
