"""What a run's composed schedule is made of (:class:`SchedulePlan`) and the one rule that composes it
(:func:`compose`).

Composition does not depend on the order of ``Trainer(algorithms=[...])``: it is always
``scale(modifiers(setter or run schedulers))``: the setter first (or else the run's own schedulers, which multiply),
then the modifiers (sorted by ``modifier_rank``, then list order), then the dilation. The first schedule algorithm
in the list (the *leader*, :func:`leader`) composes all of them at ``Event.BEFORE_LOAD``: the schedulers and
``max_duration`` exist then, and the checkpoint is not loaded yet.

Conflicts are errors before the first batch: two setters, or a setter plus ``Trainer(schedulers=...)``, raise
``ValueError`` unless the user opts in with ``replace=True`` on exactly one setter; it then replaces the run's
schedulers and any other setter (``replace=True`` on two setters is an error).

The schedule algorithms themselves are in :mod:`composer_sched.algorithms.roles`; this module recognises them by
what they declare (``schedule_role`` and ``composed_by_leader``), so it does not import them.
"""
from __future__ import annotations

from typing import Any, Optional, Sequence

from composer.core import State, Time
from torch.optim.lr_scheduler import LRScheduler

from composer_sched.adapters.compiled import unwrap_compiled
from composer_sched.adapters.durations import Horizon, Unit, scaled_max_duration

__all__ = ['SchedulePlan', 'compose', 'composed', 'leader', 'scale_torch']


def composed(a: Any) -> bool:
    """Whether the leader composes ``a``: a :class:`~composer_sched.algorithms.roles.ScheduleAlgorithm` (its
    ``composed_by_leader`` is ``True``)."""
    return getattr(a, 'composed_by_leader', False) is True and bool(getattr(a, 'schedule_role', ''))


def leader(algorithms: Sequence[Any]) -> Optional[Any]:
    """The first algorithm the leader composes (:func:`composed`), which composes them all; None if none."""
    return next((a for a in algorithms if composed(a)), None)


def is_foreign_scale(a: Any) -> bool:
    """A scale algorithm the leader does not compose (it scales the run itself)."""
    return getattr(a, 'schedule_role', None) == 'scale' and not composed(a)


def scale_torch(s: LRScheduler, ratio: float) -> None:
    """Dilate a PyTorch scheduler in place by ``ratio`` with Scale Schedule's one rule
    (:func:`~composer_sched.algorithms.scale_schedule.scale_scheduler.scale_scheduler`)."""
    if ratio == 1.0:
        return
    # Imported here: the scale_schedule package imports this module (ScaleSchedule is a schedule algorithm).
    from composer_sched.algorithms.scale_schedule.scale_scheduler import scale_scheduler

    scale_scheduler(s, ratio)


class SchedulePlan:
    """What the composed schedule is made of, before it is installed (in a run) or replayed (in a preview).

    Args:
        max_duration: the run's (already scaled) ``max_duration``.
        dataloader_len: batches per epoch, or None.
        ssr: the scale-schedule ratio already applied to ``max_duration`` (``Trainer(scale_schedule_ratio=...)``).
        run_schedulers: the run's own schedulers, which multiply: Composer schedulers (stateless, evaluated with
            ``ssr``) and PyTorch ``LRScheduler`` objects (already scaled).

    Example:
        >>> from composer.core import Time
        >>> plan = SchedulePlan(Time.from_timestring('100ba'), None)
        >>> plan.dilate(0.5)
        >>> plan.max_duration, plan.ssr, plan.horizon(None).total
        (Time(50, TimeUnit.BATCH), 0.5, 50.0)
    """

    def __init__(self, max_duration: Time, dataloader_len: Optional[int], ssr: float = 1.0,
                 run_schedulers: Sequence[Any] = ()):
        self.max_duration = max_duration
        self.dataloader_len = dataloader_len
        self.ssr = float(ssr)
        self.run_schedulers = list(run_schedulers)
        self.setter: Optional[Any] = None
        self.modifiers: list[Any] = []

    @classmethod
    def from_state(cls, state: State) -> 'SchedulePlan':
        """The plan of a Trainer's ``state`` before composition: its ``max_duration`` and schedulers (a compiled
        Composer scheduler is read back from its LambdaLR, with the Trainer's ratio).

        Raises:
            ValueError: no ``max_duration``, or not exactly one optimizer.
        """
        if state.max_duration is None:
            raise ValueError('max_duration=None is not allowed with composer_sched schedule algorithms: give '
                             'max_duration to the Trainer (they compose the schedule before fit()).')
        if len(state.optimizers) != 1:
            raise ValueError(f'{len(state.optimizers)} optimizers are not allowed with composer_sched schedule '
                             'algorithms: use exactly one optimizer.')
        run, ratios = [], set()
        for s in state.schedulers:
            compiled = unwrap_compiled(s)
            if compiled is not None:
                run.append(compiled.scheduler)
                ratios.add(compiled.ssr)
            else:
                run.append(s)
        dl = None if state.dataloader_len is None else int(state.dataloader_len.value)
        return cls(state.max_duration, dl, ratios.pop() if len(ratios) == 1 else 1.0, run)

    def horizon(self, axis: Optional[Unit]) -> Horizon:
        """The run's horizon on ``axis`` (None: the axis of ``max_duration``), for resolving durations."""
        return Horizon.from_max_duration(self.max_duration, axis, self.ssr, self.dataloader_len)

    def dilate(self, ratio: float) -> None:
        """Stretch the whole composed schedule by ``ratio`` (the scale-schedule rule): ``max_duration`` and every
        absolute duration scale, warm-ups do not; the run's PyTorch schedulers are dilated with
        :func:`scale_torch`. Calling it twice compounds.

        Raises:
            ValueError: ``ratio`` not finite and ``> 0``, ``max_duration`` scaled to 0, or a PyTorch scheduler
                that cannot be scaled.
        """
        self.max_duration = scaled_max_duration(self.max_duration, ratio)
        self.ssr *= float(ratio)
        for s in self.run_schedulers:
            if isinstance(s, LRScheduler):
                scale_torch(s, ratio)


def compose(plan: SchedulePlan, algorithms: Sequence[Any], foreign_scale: bool = False) -> SchedulePlan:
    """Apply ``algorithms`` (composer_sched schedule algorithms; others are ignored) to ``plan`` in role order.

    Args:
        plan: the run's plan (:meth:`SchedulePlan.from_state`, or a preview's); changed in place.
        algorithms: the run's algorithms, in the Trainer's order (it only breaks ties among modifiers of one
            rank and among scale algorithms).
        foreign_scale: also dilate by scale algorithms the leader does not compose (``schedule_role = 'scale'``
            with ``dilate(plan)`` or ``ratio``); a preview needs that, a run does not (they act themselves).

    Returns:
        ``plan``, with its setter, its modifiers in order, and its dilation applied.

    Raises:
        ValueError: two setters, or a setter over the run's schedulers, without exactly one ``replace=True``.
    """
    ours = [a for a in algorithms if composed(a)]
    setters = [a for a in ours if a.schedule_role == 'setter']
    if setters:
        replacing = [s for s in setters if s.replace]
        if len(replacing) > 1:
            raise ValueError(f'replace=True is not allowed on more than one setter: {replacing!r} all ask to replace '
                             'the schedule; keep replace=True on one of them.')
        if not replacing and len(setters) > 1:
            raise ValueError(f'two schedule setters in one run are not allowed: {setters!r}. Keep one, or pass '
                             'replace=True to the one that should win.')
        if not replacing and plan.run_schedulers:
            raise ValueError(f'{setters[0]!r} sets the schedule but the Trainer already has schedulers='
                             f'{plan.run_schedulers!r}; remove them, or pass replace=True to '
                             f'{type(setters[0]).__name__} to replace them.')
        plan.setter = (replacing or setters)[0]
        plan.run_schedulers = []
    order = {id(a): i for i, a in enumerate(ours)}
    plan.modifiers = sorted((a for a in ours if a.schedule_role == 'modifier'),
                            key=lambda a: (a.modifier_rank, order[id(a)]))
    for a in sorted((a for a in ours if a.schedule_role == 'scale'), key=lambda a: order[id(a)]):
        a.dilate(plan)
    if foreign_scale:
        for a in algorithms:
            if is_foreign_scale(a):
                a.dilate(plan) if callable(getattr(a, 'dilate', None)) else plan.dilate(a.ratio)
    return plan
