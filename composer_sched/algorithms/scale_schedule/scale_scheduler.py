"""``scale_scheduler``: dilate a scheduler object the user built, in place, by a scale-schedule ratio.

The seed's functional API, for PyTorch schedulers (stepped per epoch or per batch), Composer schedulers compiled by
a Trainer, and ours. Durations become ``ssr`` times longer (``ssr < 1``: shorter); warm-ups stay as they are.

The rule for each scheduler class is one function of a ``functools.singledispatch`` table (``_rescale``), the
one place the package rescales a PyTorch scheduler: Scale Schedule, ``Trainer(scale_schedule_ratio=...)`` in a
preview, and the schedule driver all come here. A class without a rule of its own is scaled through its
``scale_schedule(ssr)`` method when it has one.
"""
from __future__ import annotations

import dataclasses
import functools
import math
from collections import Counter
from typing import Any, Optional, Union

from torch.optim.lr_scheduler import (
    ChainedScheduler,
    ConstantLR,
    CosineAnnealingLR,
    CosineAnnealingWarmRestarts,
    CyclicLR,
    ExponentialLR,
    LambdaLR,
    LinearLR,
    LRScheduler,
    MultiStepLR,
    OneCycleLR,
    PolynomialLR,
    ReduceLROnPlateau,
    SequentialLR,
    StepLR,
)

from composer_sched.adapters.compiled import compile_lambda, unwrap_compiled
from composer_sched.adapters.durations import check_ratio
from composer_sched.adapters.torch import ScheduleLR
from composer_sched.schedules import Schedule
from composer_sched.schedules._base import check, check_number
from composer_sched.schedules.warmup import LinearWarmUp

__all__ = ['scale_scheduler', 'DilatedSchedule']

_BATCH_INTERVALS = ('step', 'steps', 'batch', 'batches', 'ba', 'iteration', 'iterations', 'iter')
_EPOCH_INTERVALS = ('epoch', 'epochs', 'ep')


@dataclasses.dataclass(frozen=True)
class DilatedSchedule(Schedule):
    r"""``schedule`` stretched in time by ``ratio``: :math:`\eta_r(t) = \eta(t / r)`.

    Args:
        schedule: the schedule to stretch.
        ratio: :math:`r`, finite and ``> 0`` (``r < 1`` compresses).

    Raises:
        ValueError: ``schedule`` is not a Schedule or ``ratio`` is not finite and positive.

    Example:
        >>> from composer_sched.schedules import StableDecaySchedule
        >>> s = DilatedSchedule(StableDecaySchedule(length=10, cooldown_length=2), ratio=0.5)
        >>> s(4), s(4.5), s(5)
        (1.0, 0.5, 0.0)
    """
    schedule: Schedule
    ratio: float

    def __post_init__(self):
        check(isinstance(self.schedule, Schedule), 'schedule', self.schedule, 'a composer_sched Schedule')
        check_ratio('ratio', self.ratio)

    def _eval(self, t, ops):
        return self.schedule._eval(t / self.ratio, ops)


def _dilate(schedule: Schedule, ratio: float) -> Schedule:
    """``schedule`` with everything after its warm-up (if any) dilated by ``ratio``; the warm-up keeps its length."""
    if isinstance(schedule, LinearWarmUp):  # ExponentialWarmUp included
        return dataclasses.replace(schedule, schedule=_dilate(schedule.schedule, ratio))
    if isinstance(schedule, DilatedSchedule):  # compose instead of nesting
        return DilatedSchedule(schedule.schedule, schedule.ratio * ratio)
    return DilatedSchedule(schedule, ratio)


def _warmup_of(schedule: Schedule) -> float:
    """The warm-up that shifts the rest of ``schedule`` (an overlaid one leaves the rest on the run's clock)."""
    return schedule.length if isinstance(schedule, LinearWarmUp) and schedule.shift else 0.0


# ---------------------------------------------------------------------------------------------------------------
# Helpers.

def _count(cls: str, name: str, value: float, ssr: float, lo: int = 1, scaled: Optional[float] = None) -> int:
    """``int(value * ssr)`` (or ``int(scaled)``), truncated as Composer's ``scale_pytorch_scheduler`` does; below
    ``lo`` is a ValueError naming the scheduler, the argument, its value and the ratio."""
    scaled = value * ssr if scaled is None else scaled
    out = int(scaled)
    if out < lo:
        raise ValueError(f'ssr={ssr:g} reduces {cls}.{name}={value!r} to {scaled:g} steps, which truncates to {out}; '
                         f'{name} must stay >= {lo}: use a larger ratio or a longer schedule.')
    return out


def _require_fresh(s: LRScheduler, ssr: float) -> None:
    # These torch schedulers update the LR recursively from its current value: changing their lengths after
    # they have stepped would mix two schedules. Scale them right after construction.
    if getattr(s, 'last_epoch', 0) > 0:
        raise ValueError(f'{type(s).__name__} has already stepped {s.last_epoch} times: scale it (ssr={ssr:g}) '
                         'right after constructing it, before the first step().')


def _is_warmup(s: Any) -> bool:
    """A stage that raises the LR at the start: a rising LinearLR, or a ConstantLR with factor < 1."""
    if isinstance(s, LinearLR):
        return s.start_factor < s.end_factor
    if isinstance(s, ConstantLR):
        return s.factor < 1.0
    return False


def _steps_per_epoch(s: Any, steps_per_epoch: Optional[int]) -> Optional[int]:
    """Steps per epoch when ``s`` is stepped per batch, else ``None``. Reads the old hparams ``interval``
    attribute in any spelling (the original tested the literal ``'step'`` only)."""
    interval = getattr(s, 'interval', None)
    if interval is not None:
        iv = str(interval).strip().lower()
        if iv in _EPOCH_INTERVALS:
            return None
        if iv not in _BATCH_INTERVALS:
            raise ValueError(f'{type(s).__name__}.interval={interval!r} is not allowed: interval must be one of '
                             f'{", ".join(map(repr, _BATCH_INTERVALS + _EPOCH_INTERVALS))}.')
        steps_per_epoch = steps_per_epoch or getattr(s, 'steps_per_epoch', None)
        if steps_per_epoch is None:
            raise ValueError(f'{type(s).__name__} is stepped per batch (interval={interval!r}): give '
                             'steps_per_epoch to convert orig_max_epochs to steps.')
    if steps_per_epoch is not None:
        check_number('steps_per_epoch', steps_per_epoch, lo=0, lo_open=True)
    return steps_per_epoch


def _budget(s: Any, orig_max_epochs: Optional[float], steps_per_epoch: Optional[int]) -> Optional[float]:
    """``orig_max_epochs`` in the unit ``s`` is stepped in (steps when it is stepped per batch)."""
    if orig_max_epochs is None:
        return None
    e = check_number('orig_max_epochs', orig_max_epochs, lo=0, lo_open=True)
    spe = _steps_per_epoch(s, steps_per_epoch)
    return e * spe if spe is not None else e


def _fit_ratio(cls: str, budget: Optional[float], warmup: float, ssr: float) -> float:
    """The ratio for the part after a warm-up ``W``: ``ssr``, or with a budget ``E``, ``(E*ssr - W) / (E - W)`` so
    that the whole schedule fits in ``E*ssr`` (the warm-up keeps its length)."""
    if budget is None or warmup == 0:
        return ssr
    if warmup >= budget:
        raise ValueError(f'{cls}: the warm-up ({warmup:g} steps) is not shorter than orig_max_epochs '
                         f'({budget:g} steps).')
    rest = budget * ssr - warmup
    if rest <= 0:
        raise ValueError(f'ssr={ssr:g} leaves no training after the {warmup:g}-step warm-up of {cls}: the scaled '
                         f'budget is {budget * ssr:g} steps; use a larger ratio.')
    return rest / (budget - warmup)


# ---------------------------------------------------------------------------------------------------------------
# The rules, one per scheduler class: a functools.singledispatch table (a subclass takes its nearest registered
# base's rule). Each dilates ``s`` in place by ``ssr``; ``budget`` is ``orig_max_epochs`` in the unit ``s`` steps
# in (or None), ``steps_per_epoch`` passes down to the children of a ChainedScheduler.

@functools.singledispatch
def _rescale(s: Any, ssr: float, budget: Optional[float], steps_per_epoch: Optional[int]) -> None:
    """Any other class: its own ``scale_schedule(ssr)`` method (the duck-typed hook), else a clear error."""
    hook = getattr(s, 'scale_schedule', None)
    if not callable(hook):
        raise ValueError(f'scale_scheduler cannot scale a {type(s).__name__} ({s!r}): give it a scale_schedule(ssr) '
                         'method that dilates its durations by ssr, or use a composer_sched scheduler (ScheduleLR '
                         'for PyTorch, ComposerScheduler for Composer).')
    hook(ssr)


@_rescale.register
def _(s: ScheduleLR, ssr: float, budget: Optional[float], steps_per_epoch: Optional[int]) -> None:
    # ScheduleLR.scale_schedule sets the ratio from its unscaled definition: compose with one already applied.
    s.scale_schedule(s.ssr * ssr)


@_rescale.register
def _(s: LambdaLR, ssr: float, budget: Optional[float], steps_per_epoch: Optional[int]) -> None:
    new = []
    for i, fn in enumerate(s.lr_lambdas):
        compiled = unwrap_compiled(fn)
        if compiled is not None:
            new.append(compile_lambda(compiled.scheduler, compiled.state, compiled.ssr * ssr))
        elif isinstance(fn, Schedule):
            new.append(_dilate(fn, _fit_ratio('LambdaLR', budget, _warmup_of(fn), ssr)))
        else:
            raise ValueError(f'LambdaLR.lr_lambdas[{i}]={fn!r} cannot be scaled: its function is opaque. Use a '
                             'composer_sched Schedule as the lambda (LambdaLR(opt, StableDecaySchedule(...))), a '
                             "composer_sched.ScheduleLR, or a scheduler with a scale_schedule(ssr) method.")
    s.lr_lambdas = new
    if s.last_epoch == 0:  # fresh: set the LR the scaled schedule starts at, as constructing it would
        _set_lrs(s, [base * fn(s.last_epoch) for fn, base in zip(s.lr_lambdas, s.base_lrs)])


@_rescale.register
def _(s: SequentialLR, ssr: float, budget: Optional[float], steps_per_epoch: Optional[int]) -> None:
    _require_fresh(s, ssr)
    children, milestones = s._schedulers, list(s._milestones)
    lead = bool(milestones) and _is_warmup(children[0])
    w = milestones[0] if lead else 0
    rho = _fit_ratio('SequentialLR', budget, w, ssr) if lead else ssr
    for child in (children[1:] if lead else children):
        _rescale(child, rho, None, None)
    new, last = [], 0
    for i, m in enumerate(milestones):
        value = m if (lead and i == 0) else w + _count('SequentialLR', f'milestones[{i}]', m - w, rho)
        new.append(max(value, last + 1))  # stages stay at least one step long
        last = new[-1]
    s._milestones = new


@_rescale.register
def _(s: ChainedScheduler, ssr: float, budget: Optional[float], steps_per_epoch: Optional[int]) -> None:
    for child in s._schedulers:
        _rescale(child, ssr, budget, steps_per_epoch)


@_rescale.register
def _(s: StepLR, ssr: float, budget: Optional[float], steps_per_epoch: Optional[int]) -> None:
    _require_fresh(s, ssr)
    s.step_size = _count('StepLR', 'step_size', s.step_size, ssr)


@_rescale.register
def _(s: MultiStepLR, ssr: float, budget: Optional[float], steps_per_epoch: Optional[int]) -> None:
    _require_fresh(s, ssr)
    # Composer's rule: each milestone truncated; two that land on one step apply gamma twice there, as torch does
    # for a repeated milestone. A milestone the user repeated keeps its multiplicity (Composer's drops it).
    out: Counter = Counter()
    for m in sorted(s.milestones):
        out[_count('MultiStepLR', f'milestones[{m}]', m, ssr)] += s.milestones[m]
    s.milestones = out


@_rescale.register
def _(s: ExponentialLR, ssr: float, budget: Optional[float], steps_per_epoch: Optional[int]) -> None:
    _require_fresh(s, ssr)
    s.gamma = s.gamma ** (1.0 / ssr)


@_rescale.register
def _(s: CosineAnnealingLR, ssr: float, budget: Optional[float], steps_per_epoch: Optional[int]) -> None:
    _require_fresh(s, ssr)
    if budget is None:
        s.T_max = _count('CosineAnnealingLR', 'T_max', s.T_max, ssr)
        return
    # The old convention: the budget minus T_max is a warm-up before the cosine, and stays.
    warmup = budget - s.T_max
    if warmup < 0:
        raise ValueError(f'CosineAnnealingLR.T_max={s.T_max!r} is longer than orig_max_epochs ({budget:g} steps): '
                         'give orig_max_epochs in the unit the scheduler steps in (and steps_per_epoch when it steps '
                         'per batch).')
    s.T_max = _count('CosineAnnealingLR', 'T_max', s.T_max, ssr, scaled=budget * ssr - warmup)


@_rescale.register
def _(s: CosineAnnealingWarmRestarts, ssr: float, budget: Optional[float], steps_per_epoch: Optional[int]) -> None:
    s.T_0 = _count('CosineAnnealingWarmRestarts', 'T_0', s.T_0, ssr)
    # torch copies T_0 into T_i at construction and step() reads T_i: place the current step in the new cycles.
    epoch = max(s.last_epoch, 0)
    if epoch < s.T_0:
        s.T_i, s.T_cur = s.T_0, epoch
    elif s.T_mult == 1:
        s.T_i, s.T_cur = s.T_0, epoch % s.T_0
    else:
        n = int(math.log(epoch / s.T_0 * (s.T_mult - 1) + 1, s.T_mult))
        s.T_i = s.T_0 * s.T_mult ** n
        s.T_cur = epoch - s.T_0 * (s.T_mult ** n - 1) // (s.T_mult - 1)
    if s.last_epoch >= 0:
        with_lrs = [s.eta_min + (b - s.eta_min) * (1 + math.cos(math.pi * s.T_cur / s.T_i)) / 2 for b in s.base_lrs]
        _set_lrs(s, with_lrs)


@_rescale.register(LinearLR)
@_rescale.register(ConstantLR)
def _(s: Union[LinearLR, ConstantLR], ssr: float, budget: Optional[float], steps_per_epoch: Optional[int]) -> None:
    _require_fresh(s, ssr)
    if not _is_warmup(s):  # a warm-up keeps its length
        s.total_iters = _count(type(s).__name__, 'total_iters', s.total_iters, ssr)


@_rescale.register
def _(s: PolynomialLR, ssr: float, budget: Optional[float], steps_per_epoch: Optional[int]) -> None:
    _require_fresh(s, ssr)
    s.total_iters = _count('PolynomialLR', 'total_iters', s.total_iters, ssr)


@_rescale.register
def _(s: OneCycleLR, ssr: float, budget: Optional[float], steps_per_epoch: Optional[int]) -> None:
    old = s.total_steps
    s.total_steps = _count('OneCycleLR', 'total_steps', old, ssr, lo=2)
    pct = (s._schedule_phases[0]['end_step'] + 1) / old  # torch: end_step = pct_start * total_steps - 1
    s._schedule_phases[0]['end_step'] = float(pct * s.total_steps) - 1
    if len(s._schedule_phases) == 3:
        s._schedule_phases[1]['end_step'] = float(2 * pct * s.total_steps) - 2
    s._schedule_phases[-1]['end_step'] = s.total_steps - 1


@_rescale.register
def _(s: CyclicLR, ssr: float, budget: Optional[float], steps_per_epoch: Optional[int]) -> None:
    if s._scale_fn_custom is not None and s.scale_mode == 'iterations':
        raise ValueError('CyclicLR with a custom scale_fn and scale_mode=\'iterations\' cannot be scaled: the '
                         'function of the iteration count is opaque; use scale_mode=\'cycle\'.')
    # torch keeps the step sizes as floats (its annotation says int); step_ratio is unchanged.
    s.total_size = s.total_size * ssr  # type: ignore[assignment]
    if s.mode == 'exp_range' and s._scale_fn_custom is None:
        s.gamma = s.gamma ** (1.0 / ssr)  # gamma**iteration, so the amplitude decays over the dilated time
        s._init_scale_fn()


@_rescale.register
def _(s: ReduceLROnPlateau, ssr: float, budget: Optional[float], steps_per_epoch: Optional[int]) -> None:
    s.patience = _count('ReduceLROnPlateau', 'patience', s.patience, ssr, lo=0)
    s.cooldown = _count('ReduceLROnPlateau', 'cooldown', s.cooldown, ssr, lo=0)


def _set_lrs(s: LRScheduler, values: list[float]) -> None:
    for group, lr in zip(s.optimizer.param_groups, values):
        group['lr'] = lr
    s._last_lr = [group['lr'] for group in s.optimizer.param_groups]


def scale_scheduler(scheduler: Any, ssr: float, orig_max_epochs: Optional[Union[int, float]] = None, *,
                    steps_per_epoch: Optional[int] = None) -> Any:
    r"""Dilate ``scheduler`` in place by the scale-schedule ratio ``ssr`` and return it.

    Every duration of the schedule is multiplied by ``ssr`` (``ssr = 0.5``: the schedule runs in half the steps),
    so that a decayed LR value is reached at the same *fraction* of a budget ``ssr`` times as long:
    :math:`\eta_{ssr}(t) = \eta(t / ssr)`. Warm-ups keep their length. Step counts that torch keeps as integers are
    truncated, ``int(count * ssr)``, as Composer's Trainer does; a count that would fall below 1 is an error.

    ============================  =============================================================================
    scheduler                     what changes
    ============================  =============================================================================
    ``StepLR``                    ``step_size * ssr``
    ``MultiStepLR``               ``milestones * ssr``; two that land on one step decay twice there (Composer)
    ``ExponentialLR``             ``gamma ** (1/ssr)``
    ``CosineAnnealingLR``         ``T_max * ssr``; with ``orig_max_epochs`` :math:`E`, the warm-up
                                  :math:`E - T_{max}` before the cosine stays: :math:`T_{max}' = E\,ssr - (E - T_{max})`
    ``CosineAnnealingWarmRestarts`` ``T_0 * ssr``, and the current cycle ``T_i``/``T_cur`` with it
    ``LinearLR``, ``ConstantLR``  ``total_iters * ssr``, unless a warm-up (rising factor; constant factor < 1)
    ``PolynomialLR``              ``total_iters * ssr``
    ``SequentialLR``              children and milestones; a leading warm-up stage and its milestone stay.
                                  With ``orig_max_epochs`` :math:`E` the rest is fitted into
                                  :math:`E\,ssr - W` (ratio :math:`(E\,ssr - W)/(E - W)`), else scaled by ``ssr``
    ``ChainedScheduler``          each child
    ``OneCycleLR``                ``total_steps * ssr`` (and its phase ends)
    ``CyclicLR``                  both step sizes ``* ssr``; ``exp_range``'s ``gamma ** (1/ssr)``
    ``ReduceLROnPlateau``         ``patience * ssr`` and ``cooldown * ssr`` (truncated, ``>= 0``)
    ``LambdaLR``                  a Composer scheduler compiled by the Trainer: re-bound with ssr times its ratio;
                                  a composer_sched ``Schedule``: dilated after its warm-up (like ``SequentialLR``)
    ``ScheduleLR``                its ``scale_schedule`` hook, composed with a ratio already applied
    any other class               its ``scale_schedule(ssr)`` method when it has one (a registered class's rule
                                  comes first, for its subclasses too)
    ============================  =============================================================================

    The recursive torch schedulers (StepLR, MultiStepLR, ExponentialLR, CosineAnnealingLR, LinearLR, ConstantLR,
    PolynomialLR, SequentialLR) must be scaled before their first ``step()``; the others at any time.

    Args:
        scheduler: the scheduler to scale, in place.
        ssr: the ratio, finite and ``> 0``. ``1`` returns ``scheduler`` untouched, whatever its type.
        orig_max_epochs: the original training length :math:`E` in epochs, ``> 0`` (optional): keeps the warm-up
            before a ``CosineAnnealingLR``, a leading ``SequentialLR`` stage or a ``Schedule`` lambda unscaled and
            fits the rest into the scaled budget.
        steps_per_epoch: ``> 0``, when the scheduler steps per batch: converts ``orig_max_epochs`` to steps. A
            scheduler with an ``interval`` attribute (``'step'``, ``'batch'``, ``'ba'``, ...) and a
            ``steps_per_epoch`` attribute, as the old hparams made, is recognised too.

    Returns:
        ``scheduler``, scaled.

    Raises:
        ValueError: ``ssr`` or ``orig_max_epochs`` is not finite and positive; the scheduler's type cannot be
            scaled (the message names the class and what to do); a count would truncate below 1; a recursive torch
            scheduler has already stepped.

    Example:
        >>> import torch
        >>> from composer_sched import scale_scheduler
        >>> opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
        >>> sched = scale_scheduler(torch.optim.lr_scheduler.StepLR(opt, step_size=10), ssr=0.5)
        >>> sched.step_size
        5
    """
    ssr = check_ratio('ssr', ssr)
    budget = _budget(scheduler, orig_max_epochs, steps_per_epoch)
    if ssr != 1.0:
        _rescale(scheduler, ssr, budget, steps_per_epoch)
    return scheduler
