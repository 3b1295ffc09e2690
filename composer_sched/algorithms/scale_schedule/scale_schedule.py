"""Scale Schedule: train for ``ratio`` times the budget, with every LR schedule dilated to fit.

The functional forms (:func:`scaled_duration`, :func:`apply_scale_schedule`) and the Composer
:class:`ScaleSchedule` algorithm. The per-scheduler rules live in
:func:`~composer_sched.algorithms.scale_schedule.scale_scheduler.scale_scheduler`.
"""
from __future__ import annotations

import math
import weakref
from typing import Any, Optional, Sequence, Union

from composer.core import Event, State, Time, TimeUnit, ensure_time
from composer.loggers import Logger
from torch.optim.lr_scheduler import LambdaLR, LRScheduler

from composer_sched.algorithms.base import ScheduleAlgorithm, SchedulePlan
from composer_sched.algorithms.scale_schedule.scale_scheduler import scale_scheduler
from composer_sched.schedules._base import check_choice, check_number

__all__ = ['ScaleSchedule', 'apply_scale_schedule', 'scaled_duration', 'METHODS']

#: How ``max_duration`` is scaled: in its own unit (Composer's rule), or converted to samples, batches or tokens.
METHODS = ('epochs', 'samples', 'batches', 'tokens')
_UNIT = {'samples': TimeUnit.SAMPLE, 'batches': TimeUnit.BATCH, 'tokens': TimeUnit.TOKEN}
# Set on a scheduler whose state_dict() is its __dict__ (torch's built-ins): a checkpoint restores it together
# with the already-scaled lengths, which tells a resumed run not to scale them again.
_MARK = '_composer_sched_ssr'


def _check_ratio(ratio: Any) -> float:
    return check_number('ratio', ratio, lo=0, lo_open=True)


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
    ratio = _check_ratio(ratio)
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
    ratio = _check_ratio(ratio)
    check_choice('method', method, METHODS)
    if state.max_duration is None:
        raise ValueError('state.max_duration is not set: give max_duration to the Trainer or to fit().')
    new = scaled_duration(state.max_duration, ratio, method, **_sizes(state))
    old = state.max_duration
    state.max_duration = new
    for s in state.schedulers if schedulers is None else schedulers:
        try:
            scale_scheduler(s, ratio)
        except ValueError as e:
            raise ValueError(f'ScaleSchedule(ratio={ratio:g}, method={method!r}) scaled max_duration from {old} to '
                             f'{new}, but could not scale {type(s).__name__}: {e}') from None
    return new


class ScaleSchedule(ScheduleAlgorithm):
    r"""Train for ``ratio`` times the budget, with every LR schedule dilated to fit.

    ``max_duration`` becomes ``ratio`` times as long (see :func:`scaled_duration` for ``method``), and every
    scheduler is dilated: a Composer scheduler (built-in or ours) is evaluated with ``ssr`` times ``ratio`` --
    :math:`\alpha_r(t) = \alpha(t/r)` with warm-ups unscaled -- so for Composer schedulers the run equals
    ``Trainer(scale_schedule_ratio=ratio)`` batch for batch; PyTorch schedulers are scaled with
    :func:`~composer_sched.algorithms.scale_schedule.scale_scheduler.scale_scheduler`.

    Once per Trainer, at the first event where both ``max_duration`` and the schedulers exist: ``BEFORE_LOAD``
    when ``max_duration`` is given to the Trainer (Composer 0.32 sets both after ``INIT``; acting before the
    checkpoint load lets a resumed run restore the optimizer's LR and the torch schedulers' scaled state as
    saved), else the first ``FIT_START``. A later ``fit()`` does not scale again; schedulers a later ``fit()``
    brings are dilated to match the run, a ``duration`` it brings is used as given.

    With composer_sched's schedule setters or modifiers (``WSD``, ``LinearWarmup``, ...) in the same run, it does
    not act on its own: the first schedule algorithm composes them all at ``BEFORE_LOAD`` in a fixed order,
    whatever the order of ``algorithms=[...]``, and calls :meth:`dilate` last, so the dilation applies to the
    schedule the setter installed and the modifiers shaped (see :mod:`composer_sched.algorithms.base`).

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
    """

    #: Where :class:`~composer_sched.algorithms.base.ScheduleAlgorithm` orders it: after the schedule setters
    #: and modifiers have installed their schedules.
    schedule_role = 'scale'

    def __init__(self, ratio: float = 1.0, method: str = 'epochs'):
        self.ratio = _check_ratio(ratio)
        self.method = check_choice('method', method, METHODS)
        self._state_ref: Optional[weakref.ref] = None  # the State already scaled (one per Trainer)
        self._done: weakref.WeakSet = weakref.WeakSet()  # schedulers already dilated for that State
        self._loader_sizes: dict[str, Optional[int]] = {}  # the train dataloader's sizes, for dilate()

    def __repr__(self) -> str:
        return f'ScaleSchedule(ratio={self.ratio!r}, method={self.method!r})'

    def _scaled(self, state: State) -> bool:
        return self._state_ref is not None and self._state_ref() is state

    @staticmethod
    def _composed(state: State) -> bool:
        """Whether a schedule setter or modifier runs too: then the leader composes, and dilates through us."""
        return any(isinstance(a, ScheduleAlgorithm) and a.schedule_role != 'scale' for a in state.algorithms)

    def dilate(self, plan: SchedulePlan) -> None:
        """The ``'scale'`` hook :func:`~composer_sched.algorithms.base.compose` calls after the setter and the
        modifiers: scale the plan's budget by :attr:`ratio` (with :attr:`method`), multiply its ratio, and dilate
        the run's PyTorch schedulers with :func:`scale_scheduler`.

        Raises:
            ValueError: the budget scales to 0, or a PyTorch scheduler cannot be scaled.
        """
        sizes = dict(self._loader_sizes) or {'dataloader_len': plan.dataloader_len}
        self._loader_sizes = {}  # one run's sizes: a later preview must not reuse them
        plan.max_duration = scaled_duration(plan.max_duration, self.ratio, self.method, **sizes)
        plan.ssr *= self.ratio
        for s in plan.run_schedulers:
            if isinstance(s, LRScheduler):
                scale_scheduler(s, self.ratio)

    def match(self, event: Event, state: State) -> bool:
        if self._composed(state):
            if event == Event.BEFORE_LOAD:  # the engine matches every algorithm before applying any
                self._loader_sizes = _sizes(state)
            return super().match(event, state)
        if event not in (Event.BEFORE_LOAD, Event.FIT_START) or state.max_duration is None:
            return False
        return not self._scaled(state) or any(s not in self._done for s in state.schedulers)

    def apply(self, event: Event, state: State, logger: Logger) -> None:
        if self._composed(state):  # we are the leader: compose everything (our dilate() included)
            super().apply(event, state, logger)
            return
        if not self._scaled(state):
            self._state_ref, self._done = weakref.ref(state), weakref.WeakSet()
            todo = self._pending(state)
            new = apply_scale_schedule(state, self.ratio, self.method, schedulers=todo)
            logger.log_hyperparameters({'scale_schedule/ratio': self.ratio,
                                        'scale_schedule/max_duration': new.to_timestring()})
        else:  # schedulers a later fit() brought: dilate them to match the run, leave its budget alone
            todo = self._pending(state)
            for s in todo:
                scale_scheduler(s, self.ratio)
        for s in todo:
            if not isinstance(s, LambdaLR):  # a LambdaLR's state_dict cannot carry the dilation: never trust a mark
                setattr(s, _MARK, self.ratio)
        self._done.update(state.schedulers)

    def _pending(self, state: State) -> list[Any]:
        """The schedulers still to dilate: not done in this run, and not restored already scaled from a
        checkpoint (a torch scheduler's state_dict carries its scaled lengths and our mark)."""
        todo = []
        for s in state.schedulers:
            restored = (not isinstance(s, LambdaLR) and not callable(getattr(s, 'scale_schedule', None))
                        and _MARK in vars(s))
            if s not in self._done and not restored:
                todo.append(s)
        return todo
