"""What a composer_sched schedule Algorithm declares: its role, its hook, and the Composer events it answers.

Each schedule algorithm declares a :attr:`ScheduleAlgorithm.schedule_role`:

* ``'setter'``: installs a whole schedule (a registered method, as a
  :class:`~composer_sched.adapters.composer.ComposerScheduler`), see :class:`SetterAlgorithm`;
* ``'modifier'``: transforms whatever schedule the run has (``Trainer(schedulers=...)``, a PyTorch scheduler, or
  the one a setter installed), e.g. a warm-up factor or a cool-down tail, through a :class:`ModifierFn`;
* ``'scale'``: dilates the whole composed schedule (``ScaleSchedule``), like ``Trainer(scale_schedule_ratio=...)``.

How they compose (``scale(modifiers(setter or run schedulers))``, whatever the order of ``algorithms=[...]``) is
:func:`composer_sched.algorithms.plan.compose`; the scheduler that applies the result batch by batch is
:class:`composer_sched.algorithms.driver.ScheduleDriver`. Here, the first schedule algorithm of the run (the
*leader*) installs that driver at ``Event.BEFORE_LOAD`` and drives it at ``BATCH_START`` and
``AFTER_TRAIN_BATCH``; the others do nothing, so the work happens once.
"""
from __future__ import annotations

from typing import Any, Callable, ClassVar, Optional, Union

from composer.core import Algorithm, Event, State, TimeUnit
from composer.loggers import Logger

from composer_sched.adapters.composer import ComposerScheduler
from composer_sched.adapters.durations import Unit
from composer_sched.algorithms.driver import find_driver, install
from composer_sched.algorithms.plan import SchedulePlan, leader

__all__ = ['ROLES', 'ModifierFn', 'ScheduleAlgorithm', 'SetterAlgorithm']

#: The roles, in the order they compose: the setter first, then the modifiers, then the dilation.
ROLES = ('setter', 'modifier', 'scale')
_EVENTS = (Event.BEFORE_LOAD, Event.BATCH_START, Event.AFTER_TRAIN_BATCH)


class ModifierFn:
    """A modifier resolved on a run's horizon: ``fn(alphas, t, memo) -> alphas``, one multiplier per param group.

    Args:
        axis: the timestamp field ``t`` is read from (``Unit.BATCH``, ``SAMPLE`` or ``TOKEN``, or Composer's
            ``TimeUnit`` of that value).
        fn: ``fn(alphas: list[float], t: float, memo: dict) -> list[float]``; ``memo`` is this modifier's plain-type
            run state (checkpointed by the driver), so ``fn`` itself stays pure.

    Example:
        >>> from composer.core import TimeUnit
        >>> halve = ModifierFn(TimeUnit.BATCH, lambda alphas, t, memo: [a / 2 for a in alphas])
        >>> halve([1.0, 0.5], 3.0, {})
        [0.5, 0.25]
    """

    def __init__(self, axis: Union[Unit, TimeUnit], fn: Callable[[list, float, dict], list]):
        self.axis = axis
        self.fn = fn

    def __call__(self, alphas: list, t: float, memo: dict) -> list:
        return self.fn(alphas, t, memo)


class ScheduleAlgorithm(Algorithm):
    """Base of composer_sched's schedule algorithms: one leader composes all of them, in role order.

    Subclasses set :attr:`schedule_role` and implement the hook of their role:

    * setter: :attr:`scheduler` (a :class:`ComposerScheduler`) and :attr:`replace`; optionally
      :meth:`SetterAlgorithm.after_lr` (e.g. momentum cycling);
    * modifier: :meth:`build_modifier` returning a :class:`ModifierFn`;
    * scale: :meth:`dilate`, which calls :meth:`SchedulePlan.dilate`.

    The algorithms ``match`` ``BEFORE_LOAD`` (compose and install the
    :class:`~composer_sched.algorithms.driver.ScheduleDriver`), ``BATCH_START`` (write this batch's LR) and
    ``AFTER_TRAIN_BATCH`` (record the time the next batch's LR is computed at), and only on the leader (the first
    schedule algorithm in ``state.algorithms``).

    Resuming: pass the same algorithms again; their state is in the driver (``state.schedulers``), which the
    checkpoint restores.

    Raises:
        TypeError: a subclass declares a ``schedule_role`` that is not one of :data:`ROLES`.
    """

    #: 'setter', 'modifier' or 'scale'.
    schedule_role: ClassVar[str] = ''
    #: among modifiers: lower ranks wrap the schedule first (warm-up 0, cool-down 10).
    modifier_rank: ClassVar[int] = 50
    #: the leader composes this algorithm (:func:`composer_sched.algorithms.plan.composed` reads it); a scale
    #: algorithm without it acts on the run itself.
    composed_by_leader: ClassVar[bool] = True

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if cls.schedule_role and cls.schedule_role not in ROLES:
            raise TypeError(f'{cls.__name__}.schedule_role={cls.schedule_role!r} is not allowed: it must be one of '
                            f'{", ".join(map(repr, ROLES))}.')

    # -- hooks -------------------------------------------------------------------------------------------------
    def build_modifier(self, plan: SchedulePlan) -> ModifierFn:  # pragma: no cover - modifiers override
        raise NotImplementedError(f'{type(self).__name__} is a modifier and must implement build_modifier().')

    def dilate(self, plan: SchedulePlan) -> None:  # pragma: no cover - scale algorithms override
        raise NotImplementedError(f'{type(self).__name__} is a scale algorithm and must implement dilate().')

    # -- Composer Algorithm --------------------------------------------------------------------------------------
    def match(self, event: Event, state: State) -> bool:
        return event in _EVENTS and leader(state.algorithms) is self

    def apply(self, event: Event, state: State, logger: Logger) -> Optional[int]:
        if event == Event.BEFORE_LOAD:
            install(state)
            return None
        driver = find_driver(state)
        if driver is None:  # e.g. fit(schedulers=...) recompiled the schedulers; the run's own then apply
            return None
        if event == Event.BATCH_START:
            driver.apply_lr()
        else:
            driver.record_time()
        return None

    def __repr__(self) -> str:
        args = ', '.join(f'{k}={v!r}' for k, v in getattr(self, '_repr_args', {}).items())
        return f'{type(self).__name__}({args})'

    def __eq__(self, other: object) -> bool:
        # Equal when built from the same arguments (what an unpickled copy is): the repr shows every one that differs
        # from its default, whether from _repr_args or a subclass's own __repr__ (ScaleSchedule's).
        return type(other) is type(self) and repr(other) == repr(self)

    def __hash__(self) -> int:
        return hash(repr(self))


class SetterAlgorithm(ScheduleAlgorithm):
    """A setter: installs the registered method :attr:`method` as the run's schedule.

    Subclasses (generated by ``make gen``, one per method, with explicit signatures) set :attr:`method`.

    Args:
        replace: ``True`` to replace ``Trainer(schedulers=...)`` and any other setter (default ``False``: either is
            a ``ValueError`` before the first batch).
        **params: the method's parameters (``composer-sched list``), plus ``t_warmup``, ``warmup_type``,
            ``alpha_warmup``, ``scale_warmup``; validated at construction.

    Raises:
        ValueError: unknown parameter, bad value, or ``replace`` not a bool (at construction); durations that do
            not fit ``max_duration``, or a conflicting setter or scheduler (at ``Event.BEFORE_LOAD``).

    Example:
        >>> class Cosine(SetterAlgorithm):
        ...     method = 'cosine_annealing'
        >>> Cosine(t_warmup='10ba', replace=True)
        Cosine(t_warmup='10ba', replace=True)
    """

    schedule_role = 'setter'
    #: the registered method name this setter installs.
    method: ClassVar[str] = ''

    def __init__(self, replace: bool = False, **params: Any):
        if not isinstance(replace, bool):
            raise ValueError(f'replace={replace!r} is not allowed: replace must be true or false.')
        self.replace = replace
        self.scheduler = ComposerScheduler(self.method, **params)
        self._repr_args = {**self.scheduler.spec.user_params(), **({'replace': True} if replace else {})}

    def after_lr(self, optimizer: Any, alpha: float) -> None:
        """Called after each LR write with this setter's own multiplier (before modifiers); default: nothing."""

    def check_optimizer(self, optimizer: Any) -> None:
        """Raise ``ValueError`` before the first batch if ``optimizer`` cannot run this setter; default: any."""
