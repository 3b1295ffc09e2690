"""A :class:`~composer_sched.schedules._continuation.ContinuationSchedule` applied by Composer and by PyTorch.

The continuation's times are batches on the run's own clock (a continuation is made for one run and one budget),
so neither ``max_duration`` nor a scale-schedule ratio moves it: a Trainer resumed with a larger ``max_duration``
follows the continuation, not a schedule recomputed for the new horizon (the LR neither stays at its end value nor
jumps), and a Trainer resumed from any checkpoint of the continued run follows it exactly.
"""
from __future__ import annotations

from typing import Any, Optional

from composer.core import State

from composer_sched.schedules._continuation import ContinuationSchedule, decay_family

__all__ = ['ContinuationScheduler', 'ContinuationSchedule', 'continuation_schedule', 'continuation_lambda',
           'decay_family', 'continue_method', 'REWARM_FRACTION']

#: The default re-warm of :func:`continue_method`, as a fraction of the new steps: the shortest length the sweep's
#: continuation considers, which the convex bound prefers at every peak (docs/continuing.md).
REWARM_FRACTION = 0.02


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
    the whole decay of ``new`` (the schedule at the new budget, from its top to its floor: :func:`decay_family`)
    resampled over the remaining steps.

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


def _steps(method: Any, total: int, params: dict) -> tuple[list[float], float]:
    """The multiplier of each of ``total`` optimizer steps of ``ScheduleLR(opt, method, total, **params)``, and the
    one it gives after them (the LR a finished run would apply next)."""
    import torch

    from composer_sched.adapters.torch import ScheduleLR

    probe = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    sched = ScheduleLR(probe, method, total_steps=total, **params)
    out = []
    for _ in range(total):
        out.append(float(probe.param_groups[0]['lr']))
        probe.step()
        sched.step()
    return out, float(probe.param_groups[0]['lr'])


def continue_method(method: Any, old_steps: int, new_steps: int, *, peak: Optional[float] = None,
                    rewarm: Optional[int] = None, **params: Any) -> ContinuationSchedule:
    """The continuation of a finished ``ScheduleLR(optimizer, method, old_steps, **params)`` run to ``new_steps``
    optimizer steps, for any loop that resumes a scheduler from its ``state_dict`` (plain PyTorch, HF ``Trainer``,
    Lightning; docs/continuing.md): build ``ScheduleLR(optimizer, continue_method(...))`` where the finished run
    built its scheduler, and let the resume restore the optimizer and the scheduler's position (``last_epoch =
    old_steps``). Step ``k < old_steps`` has the finished run's multiplier, step ``old_steps`` the one it ended at
    (so the LR is continuous at the join), then a linear re-warm to ``peak`` over ``rewarm`` steps and the whole
    decay of the same method run for ``new_steps`` (:func:`decay_family`), resampled over the rest, to its floor.

    Args:
        method: what the finished run gave ``ScheduleLR`` (a registered or peer name, or a core schedule).
        old_steps: the finished run's optimizer steps, ``>= 1``.
        new_steps: the continued run's total steps, ``> old_steps + rewarm``.
        peak: the re-warm's peak multiplier, ``>= 0`` (default: the method's own peak over ``new_steps``, 1 for
            most: the LR the run was tuned at).
        rewarm: re-warm steps, ``>= 1`` (default: :data:`REWARM_FRACTION` of the new steps, at least 1).
        params: the method's parameters, as given to ``ScheduleLR``.

    Raises:
        ValueError: an argument outside its range (``ScheduleLR``'s own errors for the method and its parameters).

    Example:
        >>> c = continue_method('linear', 4, 8, alpha_f=0.0)  # steps 0-3 as run, 4 its end, 5-7 the new ones
        >>> [round(c(k), 4) for k in range(8)]
        [1.0, 0.75, 0.5, 0.25, 0.0, 1.0, 0.5625, 0.125]
    """
    for name, v, lo in (('old_steps', old_steps, 1), ('new_steps', new_steps, old_steps + 2)):
        if isinstance(v, bool) or not isinstance(v, int) or v < lo:
            raise ValueError(f'{name}={v!r} is not allowed: give an int >= {lo}.')
    head, end = _steps(method, old_steps, params)
    new, _ = _steps(method, new_steps, params)
    if rewarm is None:
        rewarm = max(1, int(round(REWARM_FRACTION * (new_steps - old_steps))))
    if peak is None:
        peak = max(new)
    return continuation_schedule(head + [end], new, peak=peak, rewarm=rewarm)


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
