"""The base of every composer_sched schedule Algorithm, and the one place where their effects are composed.

Each schedule algorithm declares a :attr:`ScheduleAlgorithm.schedule_role`:

* ``'setter'``: installs a whole schedule (a registered method, built through
  :class:`~composer_sched.adapters.composer.ComposerScheduler`);
* ``'modifier'``: transforms whatever schedule the run has (``Trainer(schedulers=...)``, a PyTorch scheduler, or
  the one a setter installed), e.g. a warm-up factor or a cool-down tail;
* ``'scale'``: dilates the whole composed schedule (``ScaleSchedule``), like ``Trainer(scale_schedule_ratio=...)``.

Composition does not depend on the order of ``Trainer(algorithms=[...])``: the first schedule algorithm in that
list (the *leader*) composes all of them at ``Event.BEFORE_LOAD`` (the schedulers and ``max_duration`` exist then,
and the checkpoint is not loaded yet), always as ``scale(modifiers(setter or run schedulers))``: the setter first,
then the modifiers (sorted by :attr:`ScheduleAlgorithm.modifier_rank`, then list order), then the dilation. The
result is a single :class:`ScheduleDriver` that replaces ``state.schedulers``.

Conflicts are errors before the first batch: two setters, or a setter plus ``Trainer(schedulers=...)``, raise
``ValueError`` unless the user opts in with ``replace=True`` on exactly one setter; it then replaces the run's
schedulers and any other setter (``replace=True`` on two setters is an error).

Timing is Composer's: batch :math:`k` trains with the value computed at the timestamp of batch
:math:`\\max(k-1, 0)`. The driver writes the LR at ``BATCH_START`` from the time recorded at the previous
``AFTER_TRAIN_BATCH`` (before the optimizer step, so the timestamp is that batch's), and steps the run's own
schedulers when the Trainer steps its schedulers (every batch, or every epoch with PyTorch schedulers), exactly as
Composer would have. Everything a resumed run needs (that time, the run schedulers' positions, modifier memos)
is in :meth:`ScheduleDriver.state_dict`, as plain Python types.
"""
from __future__ import annotations

import copy
import inspect
import math
from typing import Any, Callable, ClassVar, Optional, Sequence

from composer.core import Algorithm, Event, State, Time, TimeUnit
from composer.loggers import Logger
from torch.optim.lr_scheduler import LambdaLR, LRScheduler

from composer_sched.adapters.composer import ComposerScheduler, takes_ssr
from composer_sched.adapters.durations import Horizon

__all__ = ['ROLES', 'ScheduleAlgorithm', 'SetterAlgorithm', 'functional_form', 'ModifierFn', 'SchedulePlan', 'ScheduleDriver',
           'compose', 'simulate']

ROLES = ('setter', 'modifier', 'scale')
_ROLE_ORDER = {r: i for i, r in enumerate(ROLES)}
_EVENTS = (Event.BEFORE_LOAD, Event.BATCH_START, Event.AFTER_TRAIN_BATCH)
_AXIS_ATTR = {TimeUnit.BATCH: 'batch', TimeUnit.SAMPLE: 'sample', TimeUnit.TOKEN: 'token'}


class ModifierFn:
    """A modifier resolved on a run's horizon: ``fn(alphas, t, memo) -> alphas``, one multiplier per param group.

    Args:
        axis: the timestamp field ``t`` is read from (``TimeUnit.BATCH``, ``SAMPLE`` or ``TOKEN``).
        fn: ``fn(alphas: list[float], t: float, memo: dict) -> list[float]``; ``memo`` is this modifier's plain-type
            run state (checkpointed by the driver), so ``fn`` itself stays pure.
    """

    def __init__(self, axis: TimeUnit, fn: Callable[[list, float, dict], list]):
        self.axis = axis
        self.fn = fn

    def __call__(self, alphas: list, t: float, memo: dict) -> list:
        return self.fn(alphas, t, memo)


class ScheduleAlgorithm(Algorithm):
    """Base of composer_sched's schedule algorithms: one leader composes all of them, in role order.

    Subclasses set :attr:`schedule_role` and implement the hook of their role:

    * setter: :attr:`scheduler` (a :class:`ComposerScheduler`) and :attr:`replace`; optionally
      :meth:`after_lr` (e.g. momentum cycling);
    * modifier: :meth:`build_modifier` returning a :class:`ModifierFn`;
    * scale: :meth:`dilate`, which calls :meth:`SchedulePlan.dilate`.

    The algorithms ``match`` ``BEFORE_LOAD`` (compose and install the :class:`ScheduleDriver`), ``BATCH_START``
    (write this batch's LR) and ``AFTER_TRAIN_BATCH`` (record the time the next batch's LR is computed at), and
    only on the leader (the first schedule algorithm in ``state.algorithms``), so the work happens once.

    Resuming: pass the same algorithms again; their state is in the driver (``state.schedulers``), which the
    checkpoint restores.
    """

    #: 'setter', 'modifier' or 'scale'.
    schedule_role: ClassVar[str] = ''
    #: among modifiers: lower ranks wrap the schedule first (warm-up 0, cool-down 10).
    modifier_rank: ClassVar[int] = 50

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if cls.schedule_role and cls.schedule_role not in ROLES:
            raise TypeError(f'{cls.__name__}.schedule_role={cls.schedule_role!r} is not allowed: it must be one of '
                            f'{", ".join(map(repr, ROLES))}.')

    # -- hooks -------------------------------------------------------------------------------------------------
    def build_modifier(self, plan: 'SchedulePlan') -> ModifierFn:  # pragma: no cover - modifiers override
        raise NotImplementedError(f'{type(self).__name__} is a modifier and must implement build_modifier().')

    def dilate(self, plan: 'SchedulePlan') -> None:  # pragma: no cover - scale algorithms override
        raise NotImplementedError(f'{type(self).__name__} is a scale algorithm and must implement dilate().')

    # -- Composer Algorithm --------------------------------------------------------------------------------------
    def match(self, event: Event, state: State) -> bool:
        return event in _EVENTS and _leader(state.algorithms) is self

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


class SetterAlgorithm(ScheduleAlgorithm):
    """A setter: installs the registered method :attr:`method` as the run's schedule.

    Args:
        replace: ``True`` to replace ``Trainer(schedulers=...)`` and any other setter (default ``False``: either is
            a ``ValueError`` before the first batch).
        **params: the method's parameters (``composer-sched list``), plus ``t_warmup``, ``warmup_type``,
            ``alpha_warmup``, ``scale_warmup``; validated at construction.

    Raises:
        ValueError: unknown parameter, bad value, or ``replace`` not a bool.
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

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if cls.method:  # document the registry's parameters once, here, instead of in every subclass
            from composer_sched.adapters.spec import WARMUP_PARAMS
            from composer_sched.schedules.registry import get_method

            m = get_method(cls.method)
            params = [inspect.Parameter('replace', inspect.Parameter.KEYWORD_ONLY, default=False)]
            lines = []
            for p in m.params + WARMUP_PARAMS:
                default = inspect.Parameter.empty if p.required else p.default
                params.append(inspect.Parameter(p.name, inspect.Parameter.KEYWORD_ONLY, default=default))
                rng = f' One of {", ".join(map(repr, p.choices))}.' if p.choices else ''
                if p.lo is not None or p.hi is not None:
                    rng = f' In [{"-inf" if p.lo is None else f"{p.lo:g}"}, {"inf" if p.hi is None else f"{p.hi:g}"}].'
                kind = ' (Composer time string)' if p.kind == 'duration' else \
                    ' (list of Composer time strings)' if p.kind == 'durations' else ''
                lines.append(f'        {p.name}: {p.doc}{kind}.{rng} Default ``{p.default!r}``.')
            lines.append('        replace: replace ``Trainer(schedulers=...)`` and any other setter. Default ``False``.')
            cls.__signature__ = inspect.Signature(params[1:] + params[:1])
            cls.__doc__ = (cls.__doc__ or '').rstrip() + f'\n\n    Registered method ``{m.name!r}``: {m.summary}' \
                '\n\n    Args:\n' + '\n'.join(lines) + '\n\n    Raises:\n        ValueError: unknown parameter or ' \
                'bad value (at construction); durations that do not fit\n            ``max_duration``, or a ' \
                'conflicting setter or scheduler (at ``Event.BEFORE_LOAD``).\n'

    def after_lr(self, optimizer: Any, alpha: float) -> None:
        """Called after each LR write with this setter's own multiplier (before modifiers); default: nothing."""

    def check_optimizer(self, optimizer: Any) -> None:
        """Raise ``ValueError`` before the first batch if ``optimizer`` cannot run this setter; default: any."""


def functional_form(setter: type) -> Callable[..., ComposerScheduler]:
    """A setter's functional form, ``<method>_scheduler(**params)``: the same schedule as a stateless Composer
    scheduler for ``Trainer(schedulers=...)`` (one factory instead of a copy per method folder).

    Args:
        setter: a :class:`SetterAlgorithm` subclass with :attr:`SetterAlgorithm.method` set.

    Example:
        >>> from composer_sched.algorithms.wsd import WSD
        >>> functional_form(WSD)(t_cooldown='0.3dur')
        WSDScheduler(t_cooldown='0.3dur')
    """
    from composer_sched.adapters.composer import composer_scheduler

    method = setter.method

    def scheduler(**params: Any) -> ComposerScheduler:
        return composer_scheduler(method, **params)

    scheduler.__name__ = scheduler.__qualname__ = f'{method}_scheduler'
    scheduler.__module__ = setter.__module__
    scheduler.__doc__ = (
        f'The functional form of :class:`{setter.__name__}`: the same schedule as a stateless Composer scheduler, '
        f'for ``Trainer(schedulers=...)``.\n\n    Args:\n        **params: as for :class:`{setter.__name__}` '
        '(without ``replace`` and any algorithm-only arguments).\n\n    Raises:\n        ValueError: unknown '
        f'parameter or bad value.\n\n    Example:\n        >>> from {setter.__module__} import {method}_scheduler'
        f'\n        >>> sched = {method}_scheduler()\n')
    return scheduler


def _leader(algorithms: Sequence[Any]) -> Optional[ScheduleAlgorithm]:
    return next((a for a in algorithms if isinstance(a, ScheduleAlgorithm)), None)


def find_driver(state: State) -> Optional['ScheduleDriver']:
    return next((s for s in state.schedulers if isinstance(s, ScheduleDriver)), None)


def _unwrap_compiled(sched: Any) -> Optional[tuple[Any, float]]:
    """``(composer_scheduler, ssr)`` of a LambdaLR made by Composer's ``compile_composer_scheduler``, else None.

    The Trainer keeps only the compiled LambdaLR; its closure holds the stateless scheduler and the ratio, which
    we need to re-evaluate it with another ratio.
    """
    if type(sched) is not LambdaLR or len(sched.lr_lambdas) != 1:
        return None
    fn = sched.lr_lambdas[0]
    if getattr(fn, '__qualname__', '') != 'compile_composer_scheduler.<locals>.scheduler_fn' or not fn.__closure__:
        return None
    cells = dict(zip(fn.__code__.co_freevars, (c.cell_contents for c in fn.__closure__)))
    if 'scheduler' not in cells or 'ssr' not in cells:
        return None
    return cells['scheduler'], float(cells['ssr'])


class SchedulePlan:
    """What the composed schedule is made of, before it is installed (in a run) or simulated (in a preview).

    Args:
        max_duration: the run's (already scaled) ``max_duration``.
        dataloader_len: batches per epoch, or None.
        ssr: the scale-schedule ratio already applied to ``max_duration`` (``Trainer(scale_schedule_ratio=...)``).
        run_schedulers: the run's own schedulers: Composer schedulers (stateless, evaluated with ``ssr``) and
            PyTorch ``LRScheduler`` objects (already scaled).
    """

    def __init__(self, max_duration: Time, dataloader_len: Optional[int], ssr: float = 1.0,
                 run_schedulers: Sequence[Any] = ()):
        self.max_duration = max_duration
        self.dataloader_len = dataloader_len
        self.ssr = float(ssr)
        self.run_schedulers = list(run_schedulers)
        self.setter: Optional[SetterAlgorithm] = None
        self.modifiers: list[ScheduleAlgorithm] = []

    @classmethod
    def from_state(cls, state: State) -> 'SchedulePlan':
        if state.max_duration is None:
            raise ValueError('max_duration=None is not allowed with composer_sched schedule algorithms: give '
                             'max_duration to the Trainer (they compose the schedule before fit()).')
        if len(state.optimizers) != 1:
            raise ValueError(f'{len(state.optimizers)} optimizers are not allowed with composer_sched schedule '
                             'algorithms: use exactly one optimizer.')
        run, ratios = [], set()
        for s in state.schedulers:
            unwrapped = _unwrap_compiled(s)
            if unwrapped is not None:
                run.append(unwrapped[0])
                ratios.add(unwrapped[1])
            else:
                run.append(s)
        dl = None if state.dataloader_len is None else int(state.dataloader_len.value)
        return cls(state.max_duration, dl, ratios.pop() if len(ratios) == 1 else 1.0, run)

    def horizon(self, axis: Optional[TimeUnit]) -> Horizon:
        """The run's horizon on ``axis`` (None: the axis of ``max_duration``), for resolving durations."""
        return Horizon.from_max_duration(self.max_duration, axis, self.ssr, self.dataloader_len)

    def dilate(self, ratio: float) -> None:
        """Stretch the whole composed schedule by ``ratio`` (the scale-schedule rule): ``max_duration`` and every
        absolute duration scale, warm-ups do not; the run's PyTorch schedulers are scaled as Composer's Trainer
        scales them. Calling it twice compounds.

        Raises:
            ValueError: ``ratio`` not finite and ``> 0``, ``max_duration`` scaled to 0, or a PyTorch scheduler
                Composer cannot scale.
        """
        from composer_sched.previewing import scaled_max_duration

        self.max_duration = scaled_max_duration(self.max_duration, ratio)
        self.ssr *= float(ratio)
        for s in self.run_schedulers:
            if isinstance(s, LRScheduler):
                _scale_torch(s, ratio)


def compose(plan: SchedulePlan, algorithms: Sequence[Any], foreign_scale: bool = False) -> SchedulePlan:
    """Apply ``algorithms`` (composer_sched schedule algorithms; others are ignored) to ``plan`` in role order.

    ``foreign_scale``: also dilate by scale algorithms that are not ScheduleAlgorithms (``schedule_role =
    'scale'`` with ``dilate(plan)`` or ``ratio``); a preview needs that, a run does not (they act themselves).

    Raises:
        ValueError: two setters, or a setter over the run's schedulers, without exactly one ``replace=True``.
    """
    ours = [a for a in algorithms if isinstance(a, ScheduleAlgorithm)]
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
                             f'{plan.run_schedulers!r}; remove them, or pass replace=True to {type(setters[0]).__name__}'
                             ' to replace them.')
        plan.setter = (replacing or setters)[0]
        plan.run_schedulers = []
    order = {id(a): i for i, a in enumerate(ours)}
    plan.modifiers = sorted((a for a in ours if a.schedule_role == 'modifier'),
                            key=lambda a: (a.modifier_rank, order[id(a)]))
    for a in sorted((a for a in ours if a.schedule_role == 'scale'), key=lambda a: order[id(a)]):
        a.dilate(plan)
    if foreign_scale:
        for a in algorithms:
            if _is_foreign_scale(a):
                a.dilate(plan) if callable(getattr(a, 'dilate', None)) else plan.dilate(a.ratio)
    return plan


def _is_foreign_scale(a: Any) -> bool:
    """A scale algorithm that is not a ScheduleAlgorithm (it scales the run itself, e.g. ``ScaleSchedule``)."""
    return getattr(a, 'schedule_role', None) == 'scale' and not isinstance(a, ScheduleAlgorithm)


def _group_bases(optimizer: Any) -> list[float]:
    bases = []
    for g in optimizer.param_groups:
        g.setdefault('initial_lr', g['lr'])
        bases.append(float(g['initial_lr']))
    return bases


def _scale_torch(s: LRScheduler, ratio: float) -> None:
    """Scale a PyTorch scheduler in place: ScaleSchedule's ``scale_scheduler`` when present (it knows more
    classes), else the Trainer's own rule."""
    if ratio == 1.0:
        return
    try:
        from composer_sched.algorithms.scale_schedule.scale_scheduler import scale_scheduler
    except ImportError:
        from composer.trainer._scale_schedule import scale_pytorch_scheduler as scale_scheduler
    scale_scheduler(s, ratio)


def _no_step() -> None:  # pragma: no cover - never called
    raise RuntimeError('the shadow param groups are not an optimizer')


# torch's LRScheduler.step() looks for these marks on ``optimizer.step`` to warn about call order.
_no_step._wrapped_by_lr_sched = True  # type: ignore[attr-defined]


class _Shadow:
    """Param groups the run's PyTorch schedulers write to instead of the optimizer's, so a chainable scheduler
    (``MultiStepLR`` reads ``group['lr']``) never sees the modified LR."""

    def __init__(self, groups: Sequence[dict]):
        self.param_groups = [{k: v for k, v in g.items() if k != 'params'} for g in groups]
        self.step = _no_step
        self._opt_called = True


class ScheduleDriver:
    """The single scheduler in ``state.schedulers`` of a run with composer_sched schedule algorithms.

    The multiplier of param group :math:`i` for the batch after time :math:`t` is

    .. math:: \\alpha_i = M_n \\circ \\dots \\circ M_1\\big(\\prod_j r_{ij}\\cdot s(t)\\big)

    with :math:`r_{ij}` the run's own schedulers (stepped when the Trainer steps schedulers), :math:`s` the
    setter's schedule (1 without a setter) and :math:`M` the modifiers in order; the LR is
    :math:`\\eta_i = \\eta_{i,0}\\,\\alpha_i`. The plan's ratio (ScaleSchedule) applies to all of them.

    Args:
        optimizer: the run's optimizer (one).
        plan: the composed :class:`SchedulePlan`.
        state: the Composer ``State`` (or a preview's stand-in) whose timestamp drives the schedule.

    Raises:
        ValueError: a duration of the setter or a modifier does not fit the run (before the first batch).
    """

    def __init__(self, optimizer: Any, plan: SchedulePlan, state: Any):
        self.optimizer = optimizer
        self.plan = plan
        self.state = state
        self.bases = _group_bases(optimizer)
        self._shadow = _Shadow(optimizer.param_groups)
        self._torch = [s for s in plan.run_schedulers if isinstance(s, LRScheduler)]
        self._composer = [s for s in plan.run_schedulers if not isinstance(s, LRScheduler)]
        self._sync_shadow_from(self._torch)
        for s in self._torch:
            s.optimizer = self._shadow
        if plan.setter is not None:
            plan.setter.check_optimizer(optimizer)
        self._build()
        self.t_prev: Optional[dict[str, float]] = None
        self.memos: list[dict] = [{} for _ in self._modifiers]
        self.run_alphas = self._run_alphas()
        self.apply_lr()

    def _build(self) -> None:
        # Resolve the setter's and the modifiers' durations on the plan's (possibly dilated) horizon.
        plan = self.plan
        md, dl, ssr = plan.max_duration, plan.dataloader_len, plan.ssr
        self._setter = None
        if plan.setter is not None:
            sched = plan.setter.scheduler
            self._setter = (sched.schedule(md, dl, ssr), _AXIS_ATTR[sched.axis(md)])
        self._modifiers = [(m, m.build_modifier(plan)) for m in plan.modifiers]

    def scale_schedule(self, ratio: float) -> None:
        """Dilate the composed schedule by ``ratio`` after it was installed: the hook a ScaleSchedule that acts on
        its own calls once it has scaled ``state.max_duration`` itself."""
        self.plan.ssr *= float(ratio)
        self.plan.max_duration = self.state.max_duration
        for s in self._torch:
            _scale_torch(s, ratio)
        self._build()
        self.run_alphas = self._run_alphas()
        self.apply_lr()

    def _sync_shadow_from(self, run_schedulers):
        # The PyTorch schedulers were built on the real optimizer: start the shadow at their current LRs.
        for s in run_schedulers:
            if isinstance(s, LRScheduler):
                for g, lr in zip(self._shadow.param_groups, s.get_last_lr()):
                    g['lr'] = lr

    def _run_alphas(self) -> list[float]:
        alphas = [1.0] * len(self.bases)
        for s in self._composer:
            a = float(s(self.state, self.plan.ssr) if takes_ssr(s) else s(self.state))
            alphas = [x * a for x in alphas]
        if self._torch:
            alphas = [x * (float(g['lr']) / b if b else 0.0)
                      for x, g, b in zip(alphas, self._shadow.param_groups, self.bases)]
        return alphas

    # -- called by the Trainer --------------------------------------------------------------------------------
    def step(self) -> None:
        """Step the run's own schedulers (the Trainer calls this every batch, or every epoch with PyTorch ones)."""
        for s in self._torch:
            s.step()
        self.run_alphas = self._run_alphas()

    def get_last_lr(self) -> list[float]:
        return [float(g['lr']) for g in self.optimizer.param_groups]

    # -- called by the leader algorithm -----------------------------------------------------------------------
    def record_time(self) -> None:
        """At ``AFTER_TRAIN_BATCH``: the time the next batch's LR is computed at (this batch's timestamp)."""
        ts = self.state.timestamp
        self.t_prev = {'batch': float(ts.batch.value), 'sample': float(ts.sample.value),
                       'token': float(ts.token.value)}

    def multipliers(self) -> tuple[list[float], Optional[float]]:
        """The multiplier per param group for the coming batch, and the setter's own value (or None)."""
        ts = self.state.timestamp
        t = self.t_prev or {'batch': float(ts.batch.value), 'sample': float(ts.sample.value),
                            'token': float(ts.token.value)}
        alphas = list(self.run_alphas)
        own = None
        if self._setter is not None:
            core, attr = self._setter
            own = float(core(t[attr]))
            alphas = [a * own for a in alphas]
        for (m, fn), memo in zip(self._modifiers, self.memos):
            alphas = [float(a) for a in fn(alphas, t[_AXIS_ATTR[fn.axis]], memo)]
        return alphas, own

    def apply_lr(self) -> None:
        """At ``BATCH_START``: write this batch's LR (and the setter's extras, such as momentum)."""
        alphas, own = self.multipliers()
        for g, base, a in zip(self.optimizer.param_groups, self.bases, alphas):
            g['lr'] = base * a
        if own is not None:
            self.plan.setter.after_lr(self.optimizer, own)

    # -- checkpointing ----------------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """Plain types only: the recorded time, the run schedulers' multipliers and positions, modifier memos."""
        return {'t_prev': None if self.t_prev is None else dict(self.t_prev),
                'run_alphas': list(self.run_alphas),
                'memos': copy.deepcopy(self.memos),
                'shadow_lrs': [float(g['lr']) for g in self._shadow.param_groups],
                'torch': [s.state_dict() for s in self._torch]}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` saved, then rewrite the LR for the coming batch."""
        missing = {'t_prev', 'run_alphas', 'memos', 'shadow_lrs', 'torch'} - set(state_dict)
        if missing:
            raise ValueError(f'state_dict lacks {sorted(missing)}: it was not saved by ScheduleDriver.')
        if len(state_dict['torch']) != len(self._torch) or len(state_dict['memos']) != len(self.memos):
            raise ValueError('the checkpoint was saved with other schedulers or schedule modifiers than this run has: '
                             'resume with the same schedule algorithms and schedulers.')
        self.t_prev = None if state_dict['t_prev'] is None else dict(state_dict['t_prev'])
        self.run_alphas = [float(a) for a in state_dict['run_alphas']]
        self.memos = copy.deepcopy(state_dict['memos'])
        for g, lr in zip(self._shadow.param_groups, state_dict['shadow_lrs']):
            g['lr'] = float(lr)
        for s, sd in zip(self._torch, state_dict['torch']):
            s.load_state_dict(sd)
        self.apply_lr()



def install(state: State) -> 'ScheduleDriver':
    """Compose ``state.algorithms``' schedule algorithms over ``state.schedulers`` and install the driver."""
    plan = compose(SchedulePlan.from_state(state), state.algorithms)
    # A scale algorithm that acts on its own and ran before the leader has already scaled max_duration (and the
    # run's schedulers): the setter's and modifiers' durations must follow its ratio too. One that runs after the
    # leader calls ScheduleDriver.scale_schedule instead.
    leader = state.algorithms.index(_leader(state.algorithms))
    for a in state.algorithms[:leader]:
        if _is_foreign_scale(a):
            plan.ssr *= float(a.ratio)
    state.max_duration = plan.max_duration
    driver = ScheduleDriver(state.optimizers[0], plan, state)
    state.schedulers = [driver]
    return driver


def simulate(algorithms: Sequence[Any], schedulers: Sequence[Any], max_duration: Any, *,
             dataloader_len: Optional[int] = None, ssr: float = 1.0, samples_per_batch: Optional[int] = None,
             tokens_per_batch: Optional[int] = None, step_schedulers_every_batch: Optional[bool] = None,
             base_lrs: Sequence[float] = (1.0,)) -> Any:
    """The LR each batch of a run with ``algorithms`` gets: the Trainer's event order replayed on a stand-in state.

    PyTorch schedulers in ``schedulers`` are deep-copied (with their optimizer), never stepped in place.

    Returns:
        A float array ``(batches, len(base_lrs))`` of learning rates (multipliers with the default ``base_lrs``).
    """
    import numpy as np
    import torch
    from composer.core import ensure_time

    from composer_sched.previewing import _PreviewState, num_batches, scaled_max_duration

    md = scaled_max_duration(ensure_time(max_duration, TimeUnit.EPOCH), ssr)
    run = []
    for s in schedulers:
        run.append(copy.deepcopy(s) if isinstance(s, LRScheduler) else s)
    every_batch = (not any(isinstance(s, LRScheduler) for s in run) if step_schedulers_every_batch is None
                   else step_schedulers_every_batch)
    params = [torch.zeros(1, requires_grad=True) for _ in base_lrs]
    opt = torch.optim.SGD([{'params': [p], 'lr': float(lr)} for p, lr in zip(params, base_lrs)], lr=1.0)
    for s in run:
        if isinstance(s, LRScheduler):  # the copy holds its own optimizer copy: take over its LRs and bases
            for g, theirs in zip(opt.param_groups, s.optimizer.param_groups):
                g['initial_lr'] = theirs.get('initial_lr', theirs['lr'])
    state = _PreviewState(md, dataloader_len)
    plan = compose(SchedulePlan(md, dataloader_len, ssr, run), algorithms, foreign_scale=True)
    state.max_duration = plan.max_duration
    driver = ScheduleDriver(opt, plan, state)
    n = num_batches(plan.max_duration, dataloader_len, samples_per_batch, tokens_per_batch)
    out = np.empty((n, len(base_lrs)))
    for k in range(n):
        driver.apply_lr()
        out[k] = [g['lr'] for g in opt.param_groups]
        driver.record_time()
        if every_batch:
            driver.step()
        state.timestamp = state.timestamp.to_next_batch(samples=samples_per_batch or 0, tokens=tokens_per_batch or 0)
        if dataloader_len is not None and state.timestamp.batch_in_epoch.value >= int(dataloader_len):
            state.timestamp = state.timestamp.to_next_epoch()
            if not every_batch:
                driver.step()
    return out

