"""Scale Schedule: train for ``ratio`` times the budget, with every LR schedule dilated to fit.

The functional forms (:func:`scaled_duration`, :func:`apply_scale_schedule`) and the Composer
:class:`ScaleSchedule` algorithm. The per-scheduler rules live in
:func:`~composer_sched.algorithms.scale_schedule.scale_scheduler.scale_scheduler`.
"""
from __future__ import annotations

import dataclasses
import math
from typing import Any, Optional, Sequence, Union

from composer.core import Event, State, Time, TimeUnit, ensure_time
from composer.loggers import Logger
from torch.optim.lr_scheduler import LambdaLR, LRScheduler

from composer_sched.adapters.durations import check_ratio
from composer_sched.algorithms.plan import SchedulePlan
from composer_sched.algorithms.roles import ScheduleAlgorithm
from composer_sched.algorithms.scale_schedule.scale_scheduler import scale_scheduler
from composer_sched.schedules._base import check_choice, check_number

__all__ = ['ScaleSchedule', 'ScaleRun', 'apply_scale_schedule', 'scaled_duration', 'METHODS']

#: How ``max_duration`` is scaled: in its own unit (Composer's rule), or converted to samples, batches or tokens.
METHODS = ('epochs', 'samples', 'batches', 'tokens')
_UNIT = {'samples': TimeUnit.SAMPLE, 'batches': TimeUnit.BATCH, 'tokens': TimeUnit.TOKEN}


def _floor(x: float) -> int:
    # 0.29 * 100 is 28.999999999999996 in floats; a whole number of samples should not lose one to that.
    return int(math.floor(x + 1e-9 * max(1.0, abs(x))))


def scaled_duration(max_duration: Union[str, int, Time], ratio: float, method: str = 'epochs', *,
                    dataloader_len: Optional[int] = None, samples_per_epoch: Optional[int] = None,
                    batch_size: Optional[int] = None) -> Time:
    r"""The training budget ``ratio`` times ``max_duration``.

    * ``'epochs'``: in ``max_duration``'s own unit, int-truncated exactly as ``Trainer(scale_schedule_ratio=...)``
      does: :math:`\lfloor 10\,\mathrm{ep} \times 0.75 \rfloor = 7\,\mathrm{ep}`.
    * ``'samples'`` / ``'batches'``: converted to samples (batches) first, then scaled, so no budget is lost to
      truncation: 3 ep x 0.5 of a 40-sample epoch is 60 sp. Conversions use :math:`n` batches and :math:`S`
      samples per epoch, of ``batch_size`` each except possibly the last: :math:`b` batches hold
      :math:`\lfloor b/n \rfloor S + (b \bmod n) B` samples.
    * ``'tokens'``: ``max_duration`` must be in tokens (their count per batch is not known ahead).

    Args:
        max_duration: the budget before scaling (an int means epochs, as in the Trainer).
        ratio: finite, ``> 0``.
        method: one of ``'epochs'``, ``'samples'``, ``'batches'``, ``'tokens'``.
        dataloader_len: :math:`n`, batches per epoch, ``> 0`` (for conversions from or to epochs and batches).
        samples_per_epoch: :math:`S`, ``> 0`` (for conversions to and from samples).
        batch_size: :math:`B`, samples per full batch, ``> 0`` (for batches <-> samples).

    Returns:
        The scaled budget, a ``Time`` in ``max_duration``'s unit (``'epochs'``) or the method's unit.

    Raises:
        ValueError: a bad ``ratio`` or ``method``, a conversion that needs a size not given, a unit the method
            cannot convert, or a budget scaled to 0 (the message names the ratio and the duration).

    Example:
        >>> scaled_duration('10ep', 0.75).to_timestring(), scaled_duration('3ep', 0.5, 'samples',
        ...     dataloader_len=4, samples_per_epoch=40, batch_size=10).to_timestring()
        ('7ep', '60sp')
    """
    ratio = check_ratio('ratio', ratio)
    check_choice('method', method, METHODS)
    md = ensure_time(max_duration, TimeUnit.EPOCH)
    if md.unit not in (TimeUnit.EPOCH, TimeUnit.BATCH, TimeUnit.SAMPLE, TimeUnit.TOKEN):
        raise ValueError(f'max_duration={md} is not allowed: ScaleSchedule scales durations in ep, ba, sp or tok.')
    if method == 'epochs':
        out = md * ratio if ratio != 1.0 else md  # Time * float keeps the unit and truncates, as Composer does
    else:
        out = Time(_floor(_convert(md, _UNIT[method], method, dataloader_len, samples_per_epoch, batch_size)
                          * ratio), _UNIT[method])
    if out.value <= 0:
        raise ValueError(f'ratio={ratio:g} reduces max_duration={md} to {out} (method={method!r}); use a larger '
                         "ratio, a longer max_duration, or method='samples' (which keeps partial epochs).")
    return out


def _convert(md: Time, unit: TimeUnit, method: str, n: Optional[int], spe: Optional[int], bs: Optional[int]) -> float:
    v = md.value
    if md.unit == unit:
        return float(v)

    def need(name, value):
        if value is None:
            raise ValueError(f'method={method!r} needs {name} to convert max_duration={md} to {unit.value}: give '
                             f'the Trainer a sized train dataloader, or give max_duration in {unit.value}.')
        return check_number(name, value, lo=0, lo_open=True)

    if unit == TimeUnit.BATCH and md.unit == TimeUnit.EPOCH:
        return v * need('dataloader_len', n)
    if unit == TimeUnit.SAMPLE and md.unit == TimeUnit.EPOCH:
        return v * need('samples_per_epoch', spe)
    if unit == TimeUnit.SAMPLE and md.unit == TimeUnit.BATCH:
        n, spe, bs = int(need('dataloader_len', n)), need('samples_per_epoch', spe), need('batch_size', bs)
        return (v // n) * spe + (v % n) * bs
    if unit == TimeUnit.BATCH and md.unit == TimeUnit.SAMPLE:
        n, spe, bs = int(need('dataloader_len', n)), need('samples_per_epoch', spe), need('batch_size', bs)
        epochs, rest = divmod(v, spe)
        return epochs * n + math.ceil(rest / bs)  # the batch that crosses the limit still runs
    raise ValueError(f'method={method!r} cannot convert max_duration={md} to {unit.value}: give max_duration in '
                     f"{unit.value}, or use method='epochs' (scales it in its own unit).")


def _sizes(state: State) -> dict[str, Optional[int]]:
    """Batches and samples per epoch and the global batch size of the Trainer's train dataloader, when known."""
    from composer.utils import dist

    n = None if state.dataloader_len is None else int(state.dataloader_len.value)
    dl = state.dataloader
    bs = getattr(dl, 'batch_size', None)
    if n is None or bs is None:
        return {'dataloader_len': n, 'samples_per_epoch': None, 'batch_size': None}
    try:
        full = len(dl)
        per_rank = len(dl.sampler) if not getattr(dl, 'drop_last', False) and n >= full else n * bs
    except TypeError:  # an iterable dataset without a length
        per_rank = n * bs
    world = dist.get_world_size()
    return {'dataloader_len': n, 'samples_per_epoch': per_rank * world, 'batch_size': bs * world}


def _dilate_schedulers(schedulers: Sequence[Any], ratio: float, method: str, budget: str) -> None:
    """Dilate every scheduler in place with :func:`scale_scheduler`; an error names the algorithm, what happened to
    the budget (``budget``), and the scheduler that could not be scaled."""
    for s in schedulers:
        try:
            scale_scheduler(s, ratio)
        except ValueError as e:
            raise ValueError(f'ScaleSchedule(ratio={ratio:g}, method={method!r}) {budget}, but could not scale '
                             f'{type(s).__name__}: {e}') from None


def apply_scale_schedule(state: State, ratio: float, method: str = 'epochs',
                         schedulers: Optional[Sequence[Any]] = None) -> Time:
    r"""Scale a Trainer's budget and dilate its schedulers by ``ratio``, in place (the functional form).

    ``state.max_duration`` becomes :func:`scaled_duration` of it, and every scheduler in ``schedulers`` (default:
    ``state.schedulers``, the compiled ones) is dilated with
    :func:`~composer_sched.algorithms.scale_schedule.scale_scheduler.scale_scheduler`: a Composer scheduler
    :math:`\alpha(t)` becomes :math:`\alpha_{r}(t)`, evaluated with ``ssr`` times ``ratio``, exactly as if the
    Trainer had been given ``scale_schedule_ratio`` times ``ratio``.

    Args:
        state: the Trainer's state, with ``max_duration`` set.
        ratio: finite, ``> 0``.
        method: ``'epochs'`` (default), ``'samples'``, ``'batches'`` or ``'tokens'``; see :func:`scaled_duration`.
        schedulers: the schedulers to dilate (default ``state.schedulers``).

    Returns:
        The new ``state.max_duration``.

    Raises:
        ValueError: a bad ``ratio`` or ``method``, ``max_duration`` unset or scaled to 0, or a scheduler that
            cannot be scaled or does not fit the scaled budget.

    Example:
        >>> from composer_sched.algorithms.scale_schedule import apply_scale_schedule
        >>> # in an Algorithm's apply() or a callback, before training starts:
        >>> # apply_scale_schedule(state, ratio=0.5)
    """
    ratio = check_ratio('ratio', ratio)
    check_choice('method', method, METHODS)
    if state.max_duration is None:
        raise ValueError('state.max_duration is not set: give max_duration to the Trainer or to fit().')
    old = state.max_duration
    # The budget first: a schedule driver among the schedulers reads it when it is dilated.
    state.max_duration = new = scaled_duration(old, ratio, method, **_sizes(state))
    _dilate_schedulers(state.schedulers if schedulers is None else schedulers, ratio, method,
                       f'scaled max_duration from {old} to {new}')
    return new


def _saves_dilation(s: Any) -> bool:
    """Whether ``s.state_dict()`` carries its dilated lengths, so a checkpoint restores ``s`` already dilated: a
    PyTorch scheduler's state is its attributes. A LambdaLR's functions are not saved, and a scheduler with a
    ``scale_schedule`` hook (``ScheduleLR``, the schedule driver) saves its position only."""
    return isinstance(s, LRScheduler) and not isinstance(s, LambdaLR) and not callable(getattr(s, 'scale_schedule',
                                                                                             None))


@dataclasses.dataclass
class ScaleRun:
    """What a :class:`ScaleSchedule` has done in the Trainer it serves (a new one at each ``Event.INIT``).

    Attributes:
        budget_scaled: it has scaled this Trainer's ``max_duration`` (a later ``fit()``'s ``duration`` is used as
            given, as Composer uses it without ``scale_schedule_ratio``).
        dilated: the schedulers that carry its dilation: the ones it dilated, the ones a checkpoint restored
            dilated, and a schedule driver built from the dilated run. Compared by identity, since a later
            ``fit(schedulers=...)`` brings new objects; the record holds them until the next ``Event.INIT``.
        restored: the class names (``__qualname__``, the key Composer restores schedulers by) of the schedulers
            the loaded checkpoint saved dilated (from :meth:`ScaleSchedule.load_state_dict`), until
            ``Event.AFTER_LOAD`` adds those schedulers to :attr:`dilated`.

    Example:
        >>> run = ScaleRun()
        >>> first, second = object(), object()
        >>> run.dilated.append(first)
        >>> run.pending([first, second]) == [second]
        True
    """

    budget_scaled: bool = False
    dilated: list[Any] = dataclasses.field(default_factory=list)
    restored: tuple[str, ...] = ()

    def pending(self, schedulers: Sequence[Any]) -> list[Any]:
        """The schedulers among ``schedulers`` that do not carry the dilation yet."""
        return [s for s in schedulers if not any(d is s for d in self.dilated)]


class ScaleSchedule(ScheduleAlgorithm):
    r"""Train for ``ratio`` times the budget, with every LR schedule dilated to fit.

    ``max_duration`` becomes ``ratio`` times as long (see :func:`scaled_duration` for ``method``), and every
    scheduler is dilated: a Composer scheduler (built-in or ours) is evaluated with ``ssr`` times ``ratio`` --
    :math:`\alpha_r(t) = \alpha(t/r)` with warm-ups unscaled -- so for Composer schedulers the run equals
    ``Trainer(scale_schedule_ratio=ratio)`` batch for batch; PyTorch schedulers are scaled with
    :func:`~composer_sched.algorithms.scale_schedule.scale_scheduler.scale_scheduler`.

    One code path, with or without other schedule algorithms: at the first event where both ``max_duration`` and
    the schedulers exist (``BEFORE_LOAD`` when ``max_duration`` is given to the Trainer, since Composer 0.32 sets
    both after ``INIT``, and acting before the checkpoint load lets a resumed run restore the optimizer's LR and
    the torch schedulers' scaled state as saved; else the first ``FIT_START``) it scales ``state.max_duration``
    and dilates every scheduler in ``state.schedulers``, once per Trainer. A later ``fit()`` does not scale
    again; schedulers a later ``fit()`` brings are dilated to match the run, a ``duration`` it brings is used as
    given. What it has done is a :class:`ScaleRun`; its ``state_dict`` names the schedulers a checkpoint restores
    already dilated, so a resumed run acting at ``FIT_START`` does not dilate them twice.

    With composer_sched's schedule setters or modifiers (``WSD``, ``Warmup``, ...) the result is the same
    whatever the order of ``algorithms=[...]``: the dilation applies to the schedule the setter installs and the
    modifiers shape. Listed after them, it finds their
    :class:`~composer_sched.algorithms.driver.ScheduleDriver` in ``state.schedulers`` and dilates it like any
    scheduler (its ``scale_schedule`` hook); listed before them, the driver they install reads the ratio it
    applied. A preview composes it through :meth:`dilate`.

    With ``Trainer(scale_schedule_ratio=s)`` as well, the two compose: the run is scaled by ``s * ratio``
    (``max_duration`` truncated once for each in ``'epochs'`` mode, as passing ``s`` to both the Trainer and
    ``fit()`` would do).

    Args:
        ratio: finite, ``> 0``; ``0.5`` trains for half the budget. Default ``1.0`` (no change).
        method: ``'epochs'`` (default; scale ``max_duration`` in its own unit, int-truncated like Composer),
            ``'samples'`` or ``'batches'`` (convert first, no budget lost to truncation) or ``'tokens'``.

    Raises:
        ValueError: at construction for a bad ``ratio`` or ``method``; during the Trainer's construction (or
            at the start of ``fit()``) when the budget scales to 0 or a scheduler cannot be scaled.

    Example:
        >>> from composer_sched import ScaleSchedule
        >>> algo = ScaleSchedule(ratio=0.5)
        >>> # Trainer(..., max_duration='10ep', schedulers=CosineAnnealingScheduler(), algorithms=[algo])
        >>> algo.match(Event.BATCH_START, None), algo.run
        (False, ScaleRun(budget_scaled=False, dilated=[], restored=()))
    """

    #: Its role among the schedule algorithms: it dilates the composed schedule, after the setter and modifiers.
    schedule_role = 'scale'
    #: It acts on the run itself (the leader of the schedule algorithms does not compose it in a run).
    composed_by_leader = False

    def __init__(self, ratio: float = 1.0, method: str = 'epochs'):
        self.ratio = check_ratio('ratio', ratio)
        self.method = check_choice('method', method, METHODS)
        self.run = ScaleRun()

    def __repr__(self) -> str:
        return f'ScaleSchedule(ratio={self.ratio!r}, method={self.method!r})'

    def dilate(self, plan: SchedulePlan) -> None:
        """Dilate a preview's plan as a run is dilated: its budget scaled by :attr:`ratio` (with :attr:`method`),
        its ratio multiplied (the setter's and modifiers' durations follow it), its PyTorch schedulers dilated
        with :func:`scale_scheduler`.

        Raises:
            ValueError: the budget scales to 0, or a PyTorch scheduler cannot be scaled.
        """
        old = plan.max_duration
        plan.max_duration = scaled_duration(old, self.ratio, self.method, dataloader_len=plan.dataloader_len)
        plan.ssr *= self.ratio
        _dilate_schedulers([s for s in plan.run_schedulers if isinstance(s, LRScheduler)], self.ratio, self.method,
                           f'scaled max_duration from {old} to {plan.max_duration}')

    def match(self, event: Event, state: State) -> bool:
        if event == Event.INIT:
            return True
        if event == Event.AFTER_LOAD:
            return self.run.budget_scaled or bool(self.run.restored)
        if event in (Event.BEFORE_LOAD, Event.FIT_START):
            return state.max_duration is not None and (not self.run.budget_scaled
                                                       or bool(self.run.pending(state.schedulers)))
        return False

    def apply(self, event: Event, state: State, logger: Logger) -> None:
        if event == Event.INIT:  # a new Trainer: nothing done in it yet
            self.run = ScaleRun()
            return
        if event == Event.AFTER_LOAD:
            # The Trainer's schedulers are settled. Scaled at BEFORE_LOAD, every one carries the dilation: it
            # dilated them, the checkpoint restored them as saved, or a schedule driver listed after it was built
            # from the dilated run. Else those the checkpoint saved dilated come back dilated.
            self.run.dilated += [s for s in self.run.pending(state.schedulers) if self.run.budget_scaled or (
                _saves_dilation(s) and type(s).__qualname__ in self.run.restored)]
            self.run.restored = ()
            return
        todo = self.run.pending(state.schedulers)
        if not self.run.budget_scaled:
            new = apply_scale_schedule(state, self.ratio, self.method, schedulers=todo)
            self.run.budget_scaled = True
            logger.log_hyperparameters({'scale_schedule/ratio': self.ratio,
                                        'scale_schedule/max_duration': new.to_timestring()})
        else:  # schedulers a later fit() brought: dilate them to match the run, leave its budget alone
            _dilate_schedulers(todo, self.ratio, self.method, f'scaled max_duration to {state.max_duration}')
        self.run.dilated += todo

    def state_dict(self) -> dict[str, Any]:
        """Composer's ``repr``, plus the class names of the schedulers whose own checkpointed state carries the
        dilation (plain types)."""
        return {**super().state_dict(),
                'dilated': [type(s).__qualname__ for s in self.run.dilated if _saves_dilation(s)]}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Remember which restored schedulers come back dilated (``Event.AFTER_LOAD`` finds them)."""
        self.run.restored = tuple(str(name) for name in state.get('dilated', ()))
