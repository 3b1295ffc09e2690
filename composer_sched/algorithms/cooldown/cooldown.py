"""Cooldown: a cool-down tail over whatever schedule the run has, as a Composer Algorithm and functionally."""
from __future__ import annotations

from typing import Any, Callable, Optional, Union

from composer.core import State, Timestamp

from composer_sched.adapters.composer import takes_ssr
from composer_sched.adapters.durations import ReplayState, Unit, axis_of, parse_duration
from composer_sched.algorithms.plan import SchedulePlan
from composer_sched.algorithms.roles import ModifierFn, ScheduleAlgorithm
from composer_sched.schedules._base import check_choice, check_number
from composer_sched.schedules.constant import ConstantSchedule
from composer_sched.schedules.cooldown import LinearCoolDown
from composer_sched.schedules.registry import unknown_parameter
from composer_sched.schedules.wsd import DECAY_SHAPES

__all__ = ['Cooldown', 'cooldown']

_PARAMS = ('t_start', 't_cooldown', 'alpha_f', 'shape')


class Cooldown(ScheduleAlgorithm):
    r"""From ``t_start`` on, replace the run's schedule by a cool-down from its value there to ``alpha_f``.

    With :math:`s` = ``t_start``, :math:`C` = ``t_cooldown``, :math:`\alpha_c = \alpha_{run}(s)` and
    :math:`u = (t - s)/C`, this is the core ``LinearCoolDown``:

    .. math::
        \alpha(t) = \begin{cases} \alpha_{run}(t) & t \le s \\ \alpha_c + (\alpha_f - \alpha_c)\,u & \text{linear} \\
        \alpha_f + (\alpha_c - \alpha_f)(1 - \sqrt{u}) & \text{sqrt (1-sqrt)} \\
        \alpha_c\,(\alpha_f/\alpha_c)^u & \text{exp} \\ \alpha_f & t > s + C\end{cases}

    :math:`\alpha_{run}` is whatever the run has (a setter's schedule, Composer or PyTorch schedulers, or 1).
    :math:`\alpha_c` is the run's multiplier at the last LR update at or before :math:`s` (per param group); the
    run records it and checkpoints it, so a resumed run continues the same tail.

    Args:
        t_start: :math:`s`, where the cool-down starts, a Composer time string (``'0.8dur'``, ``'800ba'``).
            Absolute values scale with the scale-schedule ratio. Default ``'0.8dur'``.
        t_cooldown: :math:`C`, its length, ``> 0``; ``None`` (default) runs it to the end of training.
        alpha_f: :math:`\alpha_f`, the final multiplier, ``>= 0``. Default 0.
        shape: ``'linear'`` (default), ``'sqrt'`` (the 1-sqrt cool-down of Hägele et al. 2024) or ``'exp'``
            (geometric: needs ``alpha_f > 0``; from a run value of 0 it is drawn linearly). The formula is WSD's
            (:func:`composer_sched.schedules.wsd.decay`).

    Raises:
        ValueError: a bad or unknown argument (at construction, naming the closest parameter); a start or end
            beyond ``max_duration`` (at ``BEFORE_LOAD``).

    Example:
        >>> from composer_sched import Cooldown, SGDR, preview
        >>> algos = [SGDR(t_0='0.2dur'), Cooldown(t_start='0.8dur', alpha_f=0.0, shape='sqrt')]
        >>> preview([], '5ba', algorithms=[Cooldown(t_start='1ba', alpha_f=0.1, shape='exp')]).round(4).tolist()
        [1.0, 1.0, 1.0, 0.5623, 0.3162]
    """

    schedule_role = 'modifier'
    modifier_rank = 10

    def __init__(self, t_start: Union[str, int] = '0.8dur', t_cooldown: Optional[Union[str, int]] = None,
                 alpha_f: float = 0.0, shape: str = 'linear', **misspelt: Any):
        who = type(self).__name__
        for name in misspelt:
            raise unknown_parameter(who, name, _PARAMS)
        self.t_start = parse_duration(f'{who}: t_start', t_start)
        self.t_cooldown = None if t_cooldown is None else parse_duration(f'{who}: t_cooldown', t_cooldown)
        if self.t_cooldown is not None and self.t_cooldown.value <= 0:
            raise ValueError(f'{who}: t_cooldown={t_cooldown!r} is not allowed: t_cooldown must be > 0 '
                             '(or None: until the end of training).')
        self.alpha_f = check_number('alpha_f', alpha_f, lo=0)
        self.shape = check_choice('shape', shape, DECAY_SHAPES)
        if self.shape == 'exp' and self.alpha_f <= 0:
            raise ValueError(f"{who}: alpha_f={alpha_f!r} is not allowed with shape='exp': a geometric cool-down "
                             "needs alpha_f > 0 (or use shape='linear' or 'sqrt').")
        named = {'t_start': self.t_start, **({} if self.t_cooldown is None else {'t_cooldown': self.t_cooldown})}
        self.axis = axis_of(named)
        self._repr_args = {'t_start': t_start, 't_cooldown': t_cooldown, 'alpha_f': alpha_f, 'shape': shape}

    def placement(self, plan: SchedulePlan) -> tuple[Unit, float, float]:
        """``(axis, start, length)`` on the run's horizon.

        Raises:
            ValueError: the cool-down starts or ends after ``max_duration``.
        """
        h = plan.horizon(self.axis)
        start = h.resolve(f'{type(self).__name__}: t_start', self.t_start, h.total)
        length = h.total - start if self.t_cooldown is None else h.resolve(
            f'{type(self).__name__}: t_cooldown', self.t_cooldown, h.total)
        if start >= h.total or start + length > h.total * (1 + 1e-9):
            raise ValueError(f'{self!r}: the cool-down spans [{start:g}, {start + length:g}] {h.axis.value} but '
                             f'max_duration is {h.total:g} {h.axis.value} (ratio {plan.ssr:g}); start it earlier or '
                             'shorten it.')
        return h.axis, start, length

    def build_modifier(self, plan: SchedulePlan) -> ModifierFn:
        axis, start, length = self.placement(plan)
        return ModifierFn(axis, _Tail(start, length, self.alpha_f, self.shape))


class _Tail:
    """The per-batch cool-down of a placed :class:`Cooldown` (a class, not a closure: the driver's modifiers pickle)."""

    def __init__(self, start: float, length: float, alpha_f: float, shape: str):
        self.start, self.length, self.alpha_f, self.shape = start, length, alpha_f, shape
        self.tails: dict[float, LinearCoolDown] = {}

    def tail(self, a0: float) -> LinearCoolDown:
        if a0 not in self.tails:  # one core wrapper per start value (one per param group)
            self.tails[a0] = LinearCoolDown(ConstantSchedule(a0), self.alpha_f, self.start, self.length, self.shape)
        return self.tails[a0]

    def __call__(self, alphas: list, t: float, memo: dict) -> list:
        if t <= self.start:
            memo['start'] = [float(a) for a in alphas]
            return alphas
        return [self.tail(a0)(t) for a0 in memo['start']]


def cooldown(scheduler: Callable[..., float], **params: Any) -> Callable[[State, float], float]:
    """The functional form: ``scheduler`` (a Composer scheduler) with the cool-down tail, as a stateless Composer
    scheduler for ``Trainer(schedulers=...)``. The start value is ``scheduler`` evaluated at the batch of
    ``t_start`` (so ``t_start`` must be in batches, epochs or ``dur`` here).

    Args:
        scheduler: any Composer scheduler, ``fn(state, ssr)`` or ``fn(state)``.
        **params: as for :class:`Cooldown`.

    Raises:
        ValueError: a bad argument; ``t_start`` in samples or tokens.

    Example:
        >>> from composer_sched import CosineAnnealingScheduler
        >>> from composer_sched.algorithms.cooldown import cooldown
        >>> sched = cooldown(CosineAnnealingScheduler(), t_start='0.9dur', alpha_f=0.0)
    """
    algo = Cooldown(**params)
    if algo.axis not in (None, Unit.BATCH):
        raise ValueError(f'{algo!r}: the functional form needs t_start in ba, ep or dur.')
    return _Cooled(scheduler, algo)


class _Cooled:
    """``scheduler`` with a :class:`Cooldown` tail: the stateless Composer scheduler :func:`cooldown` returns (a
    class, so it pickles)."""

    def __init__(self, scheduler: Callable[..., float], algo: Cooldown):
        self.scheduler, self.algo = scheduler, algo
        self._two_args = takes_ssr(scheduler)
        self._cache: dict[Any, Any] = {}

    def __repr__(self) -> str:
        return f'cooldown({self.scheduler!r}, {self.algo!r})'

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Cooled) and (other.scheduler, other.algo) == (self.scheduler, self.algo)

    def __hash__(self) -> int:
        return hash(repr(self))

    def _call(self, state: Any, ssr: float) -> float:
        return self.scheduler(state, ssr) if self._two_args else self.scheduler(state)

    def __call__(self, state: State, ssr: float = 1.0) -> float:
        md, dl = state.max_duration, state.dataloader_len
        key = (md.value, md.unit, None if dl is None else dl.value, ssr)
        if key not in self._cache:
            plan = SchedulePlan(md, None if dl is None else int(dl.value), ssr)
            _, start, length = self.algo.placement(plan)
            probe = ReplayState(md, None if dl is None else int(dl.value))
            k = int(start)
            epoch = k // int(dl.value) if dl is not None else 0
            probe.timestamp = Timestamp(epoch=epoch, batch=k, batch_in_epoch=k - epoch * int(dl.value or 0)
                                        if dl is not None else k)
            a0 = float(self._call(probe, ssr))
            self._cache[key] = (start, LinearCoolDown(ConstantSchedule(a0), self.algo.alpha_f, start, length,
                                                      self.algo.shape))
        start, tail = self._cache[key]
        t = float(state.timestamp.batch.value)
        return self._call(state, ssr) if t <= start else tail(t)
