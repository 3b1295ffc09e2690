"""LinearCooldown: a cool-down tail over whatever schedule the run has, as a Composer Algorithm and functionally."""
from __future__ import annotations

from typing import Any, Callable, Optional, Union

from composer.core import State, Timestamp

from composer_sched.adapters.composer import takes_ssr
from composer_sched.adapters.durations import ReplayState, Unit, axis_of, parse_duration
from composer_sched.algorithms.plan import SchedulePlan
from composer_sched.algorithms.roles import ModifierFn, ScheduleAlgorithm
from composer_sched.schedules._base import check_choice, check_number
from composer_sched.schedules.constant import FlatSchedule
from composer_sched.schedules.cooldown import COOLDOWN_SHAPES, LinearCoolDown

__all__ = ['LinearCooldown', 'linear_cooldown']


class LinearCooldown(ScheduleAlgorithm):
    r"""From ``t_start`` on, replace the run's schedule by a cool-down from its value there to ``alpha_f``.

    With :math:`s` = ``t_start``, :math:`C` = ``t_cooldown``, :math:`\alpha_c = \alpha_{run}(s)` and
    :math:`u = (t - s)/C`, this is the core ``LinearCoolDown``:

    .. math::
        \alpha(t) = \begin{cases} \alpha_{run}(t) & t \le s \\ \alpha_c + (\alpha_f - \alpha_c)\,u & \text{linear} \\
        \alpha_f + (\alpha_c - \alpha_f)(1 - \sqrt{u}) & \text{sqrt (1-sqrt)} \\ \alpha_f & t > s + C\end{cases}

    :math:`\alpha_{run}` is whatever the run has (a setter's schedule, Composer or PyTorch schedulers, or 1).
    :math:`\alpha_c` is the run's multiplier at the last LR update at or before :math:`s` (per param group); the
    run records it and checkpoints it, so a resumed run continues the same tail.

    Args:
        t_start: :math:`s`, where the cool-down starts, a Composer time string (``'0.8dur'``, ``'800ba'``).
            Absolute values scale with the scale-schedule ratio. Default ``'0.8dur'``.
        t_cooldown: :math:`C`, its length, ``> 0``; ``None`` (default) runs it to the end of training.
        alpha_f: :math:`\alpha_f`, the final multiplier, ``>= 0``. Default 0.
        shape: ``'linear'`` (default) or ``'sqrt'`` (the 1-sqrt cool-down of Hägele et al. 2024).

    Raises:
        ValueError: a bad argument (at construction); a start or end beyond ``max_duration`` (at ``BEFORE_LOAD``).

    Example:
        >>> from composer_sched import LinearCooldown, SGDR
        >>> algos = [SGDR(t_0='0.2dur'), LinearCooldown(t_start='0.8dur', alpha_f=0.0, shape='sqrt')]
    """

    schedule_role = 'modifier'
    modifier_rank = 10

    def __init__(self, t_start: Union[str, int] = '0.8dur', t_cooldown: Optional[Union[str, int]] = None,
                 alpha_f: float = 0.0, shape: str = 'linear'):
        self.t_start = parse_duration('LinearCooldown: t_start', t_start)
        self.t_cooldown = None if t_cooldown is None else parse_duration('LinearCooldown: t_cooldown', t_cooldown)
        if self.t_cooldown is not None and self.t_cooldown.value <= 0:
            raise ValueError(f'LinearCooldown: t_cooldown={t_cooldown!r} is not allowed: t_cooldown must be > 0 '
                             '(or None: until the end of training).')
        self.alpha_f = check_number('alpha_f', alpha_f, lo=0)
        self.shape = check_choice('shape', shape, COOLDOWN_SHAPES)
        named = {'t_start': self.t_start, **({} if self.t_cooldown is None else {'t_cooldown': self.t_cooldown})}
        self.axis = axis_of(named)
        self._repr_args = {'t_start': t_start, 't_cooldown': t_cooldown, 'alpha_f': alpha_f, 'shape': shape}

    def placement(self, plan: SchedulePlan) -> tuple[Unit, float, float]:
        """``(axis, start, length)`` on the run's horizon.

        Raises:
            ValueError: the cool-down starts or ends after ``max_duration``.
        """
        h = plan.horizon(self.axis)
        start = h.resolve('LinearCooldown: t_start', self.t_start, h.total)
        length = h.total - start if self.t_cooldown is None else h.resolve('LinearCooldown: t_cooldown',
                                                                           self.t_cooldown, h.total)
        if start >= h.total or start + length > h.total * (1 + 1e-9):
            raise ValueError(f'{self!r}: the cool-down spans [{start:g}, {start + length:g}] {h.axis.value} but '
                             f'max_duration is {h.total:g} {h.axis.value} (ratio {plan.ssr:g}); start it earlier or '
                             'shorten it.')
        return h.axis, start, length

    def build_modifier(self, plan: SchedulePlan) -> ModifierFn:
        axis, start, length = self.placement(plan)
        tails: dict[float, LinearCoolDown] = {}

        def tail(a0: float) -> LinearCoolDown:
            if a0 not in tails:  # one core wrapper per start value (one per param group)
                tails[a0] = LinearCoolDown(FlatSchedule(a0), self.alpha_f, start, length, self.shape)
            return tails[a0]

        def fn(alphas, t, memo):
            if t <= start:
                memo['start'] = [float(a) for a in alphas]
                return alphas
            return [tail(a0)(t) for a0 in memo['start']]

        return ModifierFn(axis, fn)


def linear_cooldown(scheduler: Callable[..., float], **params: Any) -> Callable[[State, float], float]:
    """The functional form: ``scheduler`` (a Composer scheduler) with the cool-down tail, as a stateless Composer
    scheduler for ``Trainer(schedulers=...)``. The start value is ``scheduler`` evaluated at the batch of
    ``t_start`` (so ``t_start`` must be in batches, epochs or ``dur`` here).

    Args:
        scheduler: any Composer scheduler, ``fn(state, ssr)`` or ``fn(state)``.
        **params: as for :class:`LinearCooldown`.

    Raises:
        ValueError: a bad argument; ``t_start`` in samples or tokens.

    Example:
        >>> from composer_sched import CosineAnnealingScheduler
        >>> from composer_sched.algorithms.linear_cooldown import linear_cooldown
        >>> sched = linear_cooldown(CosineAnnealingScheduler(), t_start='0.9dur', alpha_f=0.0)
    """
    algo = LinearCooldown(**params)
    if algo.axis not in (None, Unit.BATCH):
        raise ValueError(f'{algo!r}: the functional form needs t_start in ba, ep or dur.')
    two_args = takes_ssr(scheduler)
    cache: dict[Any, Any] = {}

    def call(state, ssr):
        return scheduler(state, ssr) if two_args else scheduler(state)

    def cooled(state: State, ssr: float = 1.0) -> float:
        md, dl = state.max_duration, state.dataloader_len
        key = (md.value, md.unit, None if dl is None else dl.value, ssr)
        if key not in cache:
            plan = SchedulePlan(md, None if dl is None else int(dl.value), ssr)
            _, start, length = algo.placement(plan)
            probe = ReplayState(md, None if dl is None else int(dl.value))
            k = int(start)
            epoch = k // int(dl.value) if dl is not None else 0
            probe.timestamp = Timestamp(epoch=epoch, batch=k, batch_in_epoch=k - epoch * int(dl.value or 0)
                                        if dl is not None else k)
            a0 = float(call(probe, ssr))
            cache[key] = (start, LinearCoolDown(FlatSchedule(a0), algo.alpha_f, start, length, algo.shape))
        start, tail = cache[key]
        t = float(state.timestamp.batch.value)
        return call(state, ssr) if t <= start else tail(t)

    return cooled
