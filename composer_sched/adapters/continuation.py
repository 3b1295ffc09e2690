"""A :class:`~composer_sched.schedules._continuation.ContinuationSchedule` applied by Composer and by PyTorch.

The continuation's times are batches on the run's own clock (a continuation is made for one run and one budget),
so neither ``max_duration`` nor a scale-schedule ratio moves it: a Trainer resumed with a larger ``max_duration``
follows the continuation, not a schedule recomputed for the new horizon (the LR neither stays at its end value nor
jumps), and a Trainer resumed from any checkpoint of the continued run follows it exactly.
"""
from __future__ import annotations

from typing import Any

from composer.core import State

from composer_sched.schedules._continuation import ContinuationSchedule, decay_family

__all__ = ['ContinuationScheduler', 'ContinuationSchedule', 'continuation_schedule', 'continuation_lambda',
           'decay_family']


class ContinuationScheduler:
    """A Composer scheduler (``__call__(state, ssr=1.0) -> multiplier``) following ``schedule`` in batches.

    Composer steps schedulers after each batch with the batch's own timestamp, so the multiplier returned at
    timestamp ``t`` is the one batch ``t + 1`` trains with; the continuation is defined on that same clock (its
    ``head`` holds what the finished run's scheduler returned at each timestamp), which makes the first batch of
    the continuation train with the LR the finished run ended at.

    Args:
        schedule: the continuation (:class:`~composer_sched.schedules._continuation.ContinuationSchedule`).

    Example:
        >>> from composer_sched.schedules._continuation import ContinuationSchedule
        >>> s = ContinuationScheduler(ContinuationSchedule((1.0, 0.0), peak=1.0, rewarm=2, tail=(1.0, 0.0)))
        >>> s.schedule(2)
        0.5
    """

    def __init__(self, schedule: ContinuationSchedule):
        if not isinstance(schedule, ContinuationSchedule):
            raise ValueError(f'schedule={schedule!r} is not allowed: give a ContinuationSchedule.')
        self.schedule = schedule

    def __call__(self, state: State, ssr: float = 1.0) -> float:
        del ssr  # batches on the run's own clock: a continuation is made for one budget
        return float(self.schedule(int(state.timestamp.batch)))

    def __eq__(self, other: Any) -> bool:
        return type(other) is type(self) and other.schedule == self.schedule

    def __repr__(self) -> str:
        s = self.schedule
        return f'ContinuationScheduler(join={s.join}, peak={s.peak:g}, rewarm={s.rewarm}, end={s.end})'


def continuation_schedule(head, new, peak: float, rewarm: int) -> ContinuationSchedule:
    """The continuation of a finished run: ``head`` as it was, a re-warm to ``peak`` over ``rewarm`` steps, then
    the end of ``new`` (the schedule at the new budget, :func:`decay_family`) down to its floor.

    Args:
        head: the finished run's multipliers at steps ``0..N``, the last one the multiplier it ended at (PyTorch:
            what its scheduler gives after the last ``step()``; Composer: see :class:`ContinuationScheduler`).
        new: the schedule's multipliers over the whole new budget ``M > N + rewarm`` steps (e.g. the same
            ``ScheduleLR`` method with ``total_steps=M``, stepped ``M`` times).
        peak: the re-warm's peak multiplier, ``>= 0``.
        rewarm: re-warm steps, ``>= 1``.

    Raises:
        ValueError: an argument outside its range.

    Example:
        >>> c = continuation_schedule([1.0, 0.5, 0.0], [1.0, 0.8, 0.6, 0.4, 0.2, 0.0], peak=0.5, rewarm=1)
        >>> [c(k) for k in range(2, 6)]
        [0.0, 0.5, 0.25, 0.0]
    """
    head = [float(v) for v in head]
    length = len(new) - len(head) - int(rewarm)
    if length < 1:
        raise ValueError(f'new has {len(new)} steps: not allowed, give more than the {len(head)} of head plus the '
                         f'{rewarm} of the re-warm (the new budget must be longer).')
    return ContinuationSchedule(head=head, peak=peak, rewarm=rewarm, tail=decay_family(new, length + 1))


def continuation_lambda(schedule: ContinuationSchedule):
    """The multiplier of optimizer step ``k`` for PyTorch's ``LambdaLR`` (or ``ScheduleLR``'s replacement): the
    continuation as a picklable callable of the step count.

    Plain PyTorch recipe (docs/continuing.md): load the finished run's model, optimizer and scheduler state, then
    ``LambdaLR(optimizer, continuation_lambda(schedule), last_epoch=J)`` with ``J`` the steps already taken.

    Example:
        >>> from composer_sched.schedules._continuation import ContinuationSchedule
        >>> f = continuation_lambda(ContinuationSchedule((1.0, 0.0), peak=1.0, rewarm=2, tail=(1.0, 0.0)))
        >>> f(1), f(2), f(3)
        (0.0, 0.5, 1.0)
    """
    return _Lambda(schedule)


class _Lambda:
    def __init__(self, schedule: ContinuationSchedule):
        self.schedule = schedule

    def __call__(self, step: int) -> float:
        return float(self.schedule(int(step)))
