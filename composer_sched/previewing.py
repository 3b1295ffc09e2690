"""Preview the LR multipliers a Composer run will apply, batch by batch, and plot them.

One replay engine: :func:`simulate` replays the Trainer's event order (``BATCH_START`` writes the LR,
``AFTER_TRAIN_BATCH`` records the time, the schedulers step every batch or every epoch, the timestamp advances) on
a stand-in state, with the very :class:`~composer_sched.algorithms.driver.ScheduleDriver` a run installs;
:func:`preview` and :func:`plot_schedule` run through it (a list of composer_sched schedulers alone takes a
vectorised shortcut that gives the same values).

Importing this module loads neither torch nor Composer (the replay imports them when it runs): a preview of our own
schedulers, and its plot, is what ``composer-sched plot`` and ``bound`` compute without them.
"""
from __future__ import annotations

import copy
import os
from typing import TYPE_CHECKING, Any, Callable, Optional, Sequence, Union

import numpy as np

from composer_sched.adapters.composer import ComposerScheduler
from composer_sched.adapters.durations import Unit, num_batches, scaled_span
from composer_sched.adapters.product import factors_of

if TYPE_CHECKING:
    from composer.core import Time

__all__ = ['preview', 'simulate', 'plot_schedule', 'write_curves', 'MAX_PREVIEW_BATCHES', 'Outlook',
           'autowu_outlook', 'check_preview_length']

#: The longest run a preview materialises (one float per batch: 80 MB); longer ones are refused, not swapped.
MAX_PREVIEW_BATCHES = 10_000_000

SchedulerLike = Union[ComposerScheduler, Callable[..., float]]


def check_preview_length(n: int, max_duration: Any = None) -> int:
    """``n`` if a preview of ``n`` batches fits in memory (at most :data:`MAX_PREVIEW_BATCHES`).

    Raises:
        ValueError: ``n`` is larger, naming the duration and the limit.

    Example:
        >>> check_preview_length(1000)
        1000
    """
    if n > MAX_PREVIEW_BATCHES:
        what = f'max_duration={max_duration} is {n:.3g} batches' if max_duration is not None else f'{n:.3g} batches'
        raise ValueError(f'{what}: too long to preview (one value per batch); at most {MAX_PREVIEW_BATCHES:,} '
                         'batches are allowed: give a shorter max_duration.')
    return n


def preview(schedulers: Union[SchedulerLike, Sequence[SchedulerLike], None],
            max_duration: Union[str, int, 'Time'], *, dataloader_len: Optional[int] = None, ssr: float = 1.0,
            samples_per_batch: Optional[int] = None, tokens_per_batch: Optional[int] = None,
            algorithms: Sequence[Any] = (), step_schedulers_every_batch: Optional[bool] = None) -> np.ndarray:
    """The LR multiplier each batch of a Composer run gets, exactly as the Trainer applies it.

    The Trainer steps its schedulers after each optimizer step but *before* the timestamp advances, so batch
    :math:`k` trains with :math:`\\alpha(\\text{time}(\\max(k-1, 0)))`: batches 0 and 1 both get the value at
    time 0.

    **Several schedulers multiply**: :math:`\\alpha = \\prod_j \\alpha_j`, the package's one rule (as with
    schedule algorithms, and as torch's chainable schedulers do). Composer's own ``Trainer(schedulers=[a, b])``
    differs: it compiles each Composer scheduler to its own ``LambdaLR``, which *sets* the LR, so the last one
    decides. To train with the product this preview shows, give the Trainer one
    :class:`~composer_sched.adapters.product.ProductScheduler` (``schedulers=ProductScheduler(a, b)``); with
    composer_sched schedule algorithms in the run, the driver multiplies the run's schedulers anyway.

    Args:
        schedulers: one or several Composer schedulers (ours, Composer's built-ins, ``fn(state, ssr)``,
            :class:`~composer_sched.adapters.product.ProductScheduler`) or PyTorch schedulers (copied, never
            stepped in place; the result is then their LR, from their optimizer's initial LR), as passed to
            ``Trainer(schedulers=...)``; ``None`` entries are skipped.
        max_duration: the *unscaled* duration, as given to the Trainer (an int means epochs).
        dataloader_len: batches per epoch (needed for ``ep`` units).
        ssr: ``Trainer(scale_schedule_ratio=...)``, finite and ``> 0``.
        samples_per_batch, tokens_per_batch: batch sizes, for schedules in ``sp`` or ``tok``.
        algorithms: composer_sched schedule algorithms (setters, modifiers, ScaleSchedule) the run also has.
        step_schedulers_every_batch: as for the Trainer (None: Composer's default, every epoch when a PyTorch
            scheduler is given, else every batch).

    Returns:
        A float array with one multiplier per batch of the (scaled) run.

    Raises:
        ValueError: a bad ``ssr``, a duration that needs a size that was not given,
            or a run longer than :data:`MAX_PREVIEW_BATCHES` batches.

    Example:
        >>> from composer_sched import WSDScheduler, preview
        >>> preview(WSDScheduler(t_cooldown='0.5dur'), '5ba').round(3).tolist()
        [1.0, 1.0, 1.0, 1.0, 0.8]
        >>> from composer.optim import MultiStepScheduler
        >>> preview([WSDScheduler(t_cooldown='0.5dur'), MultiStepScheduler(['2ba'], gamma=0.5)], '5ba').tolist()
        [1.0, 1.0, 1.0, 0.5, 0.4]
        >>> preview([], '3ba').tolist()  # no scheduler: Composer keeps the LR constant
        [1.0, 1.0, 1.0]
    """
    scheds = [s for s in (list(schedulers) if isinstance(schedulers, (list, tuple)) else [schedulers])
              if s is not None]
    md = scaled_span(max_duration, ssr)
    n = check_preview_length(num_batches(md, dataloader_len, samples_per_batch, tokens_per_batch), md)
    factors = factors_of(scheds)
    if not algorithms and step_schedulers_every_batch is not False and \
            all(isinstance(s, ComposerScheduler) for s in factors):
        # The same values as the replay, vectorised: our schedulers evaluate a whole array of times at once.
        prev = np.maximum(np.arange(n) - 1, 0)  # the timestamp each batch's LR was computed at
        out = np.ones(n)
        for s in factors:
            axis = s.axis(md)
            per = {Unit.BATCH: 1, Unit.SAMPLE: samples_per_batch, Unit.TOKEN: tokens_per_batch}[axis]
            if per is None:
                raise ValueError(f'{s!r} is placed in {axis.value}: preview needs the batch size in that unit.')
            out = out * s.schedule(md, dataloader_len, ssr)(prev * float(per))
        return out
    return simulate(algorithms, scheds, max_duration, dataloader_len=dataloader_len, ssr=ssr,
                    samples_per_batch=samples_per_batch, tokens_per_batch=tokens_per_batch,
                    step_schedulers_every_batch=step_schedulers_every_batch)[:, 0]


def simulate(algorithms: Sequence[Any], schedulers: Sequence[Any], max_duration: Any, *,
             dataloader_len: Optional[int] = None, ssr: float = 1.0, samples_per_batch: Optional[int] = None,
             tokens_per_batch: Optional[int] = None, step_schedulers_every_batch: Optional[bool] = None,
             base_lrs: Sequence[float] = (1.0,)) -> np.ndarray:
    """The LR each batch of a run gets: the Trainer's event order replayed on a stand-in state (the one replay
    engine behind :func:`preview`).

    Per batch, as the Trainer: ``BATCH_START`` (the driver writes the LR, recorded here), ``AFTER_TRAIN_BATCH``
    (the driver records the time), the schedulers step (every batch, or at the end of each epoch), the timestamp
    advances. The run's schedulers multiply (:class:`~composer_sched.algorithms.driver.ScheduleDriver`); with
    ``algorithms`` the plan is composed as in a run (:func:`~composer_sched.algorithms.plan.compose`, scale
    algorithms that act on their own included).

    Args:
        algorithms: the run's algorithms (others than composer_sched schedule algorithms are ignored).
        schedulers: Composer schedulers and PyTorch schedulers; a PyTorch scheduler is deep-copied (with its
            optimizer) and scaled by ``ssr`` as the Trainer scales it, never stepped in place, and its
            optimizer's initial LRs replace ``base_lrs``.
        max_duration: the *unscaled* duration (an int means epochs).
        dataloader_len, ssr, samples_per_batch, tokens_per_batch, step_schedulers_every_batch: as for
            :func:`preview`.
        base_lrs: the initial LR of each param group (default one group at 1: multipliers).

    Returns:
        A float array ``(batches, len(base_lrs))`` of learning rates (multipliers with the default ``base_lrs``).

    Raises:
        ValueError: as :func:`preview`, or a conflict between the algorithms (as in a run).

    Example:
        >>> from composer_sched import Warmup, WSDScheduler
        >>> simulate([Warmup(t_warmup='2ba')], [WSDScheduler(t_cooldown='0.5dur')], '5ba',
        ...          base_lrs=(1.0, 0.1)).round(3).tolist()
        [[0.0, 0.0], [0.0, 0.0], [0.5, 0.05], [1.0, 0.1], [0.8, 0.08]]
    """
    import torch
    from torch.optim.lr_scheduler import LRScheduler

    from composer_sched.adapters.durations import ReplayState, scaled_max_duration
    from composer_sched.algorithms.driver import ScheduleDriver
    from composer_sched.algorithms.plan import SchedulePlan, compose, scale_torch

    md = scaled_max_duration(max_duration, ssr)
    run = [copy.deepcopy(s) if isinstance(s, LRScheduler) else s for s in schedulers]
    every_batch = (not any(isinstance(s, LRScheduler) for s in run) if step_schedulers_every_batch is None
                   else step_schedulers_every_batch)
    params = [torch.zeros(1, requires_grad=True) for _ in base_lrs]
    opt = torch.optim.SGD([{'params': [p], 'lr': float(lr)} for p, lr in zip(params, base_lrs)], lr=1.0)
    for s in run:
        if isinstance(s, LRScheduler):  # the copy holds its own optimizer copy: take over its LRs and bases
            scale_torch(s, ssr)  # as Trainer(scale_schedule_ratio=ssr) does
            for g, theirs in zip(opt.param_groups, s.optimizer.param_groups):
                g['initial_lr'] = theirs.get('initial_lr', theirs['lr'])
    state = ReplayState(md, dataloader_len)
    plan = compose(SchedulePlan(md, dataloader_len, ssr, run), algorithms, foreign_scale=True)
    state.max_duration = plan.max_duration
    driver = ScheduleDriver(opt, plan, state)
    n = check_preview_length(num_batches(plan.max_duration, dataloader_len, samples_per_batch, tokens_per_batch),
                             plan.max_duration)
    out = np.empty((n, len(base_lrs)))
    for k in range(n):
        driver.apply_lr()  # BATCH_START
        out[k] = [g['lr'] for g in opt.param_groups]
        driver.record_time()  # AFTER_TRAIN_BATCH
        if every_batch:
            driver.step()
        if state.advance(samples=samples_per_batch or 0, tokens=tokens_per_batch or 0) and not every_batch:
            driver.step()
    return out


def plot_schedule(schedulers: Union[SchedulerLike, Sequence[SchedulerLike]], max_duration: Union[str, int, 'Time'],
                  path: Union[str, os.PathLike], *, base_lr: float = 1.0, ratios: Sequence[float] = (1.0,),
                  title: Optional[str] = None, **preview_kwargs: Any) -> str:
    """Write a PNG of :func:`preview` (times ``base_lr``), one curve per scale-schedule ratio in ``ratios``.

    Returns:
        The path written.

    Example:
        >>> from composer_sched import WSDScheduler, plot_schedule
        >>> plot_schedule(WSDScheduler(), '100ba', 'wsd.png', ratios=(0.5, 1.0))  # the doctests run in a tmp folder
        'wsd.png'
    """
    curves = [(f'ratio {r:g}' if len(ratios) > 1 else None,
               preview(schedulers, max_duration, ssr=r, **preview_kwargs) * base_lr) for r in ratios]
    return write_curves(curves, path, xlabel='batch',
                        ylabel='learning rate' if base_lr != 1.0 else 'LR multiplier', title=title)


def write_curves(curves: Sequence[tuple[Optional[str], np.ndarray]], path: Union[str, os.PathLike], *,
                 xlabel: str, ylabel: str, title: Optional[str] = None, styles: Optional[Sequence[str]] = None) -> str:
    """Write a PNG with one line per ``(label, values-per-batch)``; returns the path (folders are created).

    Drawn by :mod:`composer_sched.chart` (numpy and zlib, no matplotlib: ``composer-sched plot`` answers at once),
    720 x 400 pixels, a legend when a curve has a label.

    Args:
        styles: per curve, ``'-'`` solid (the default) or ``'--'`` dashed.

    Raises:
        ValueError: ``path`` does not end in ``.png``, or a style that is neither ``'-'`` nor ``'--'``.
    """
    from composer_sched.chart import Panel, Series, line_chart

    if not os.fspath(path).lower().endswith('.png'):
        raise ValueError(f'path={os.fspath(path)!r} is not allowed: the LR curve is written as PNG, so the path '
                         'must end in .png.')
    if styles is not None and any(s not in ('-', '--') for s in styles):
        raise ValueError(f"styles={list(styles)!r} is not allowed: each style must be '-' (solid) or '--' (dashed).")
    dashed = [s == '--' for s in styles] if styles else [False] * len(curves)
    series = [Series(values, label=label, dashed=d) for (label, values), d in zip(curves, dashed)]
    return line_chart(path, [Panel(series, xlabel=xlabel, ylabel=ylabel, title=title or '')])


# ------------------------------------------------------------------------------------------- loss-driven schedules
class Outlook:
    """What is known before training about a loss-driven schedule (AutoWU): the warm-up ramp up to its cap, and
    the decay that follows a switch at each of a few possible batches. The real switch batch and LR come from the
    training loss, so no single curve is *the* schedule.

    Attributes:
        name: the algorithm's repr.
        total: batches of the run, :math:`T`.
        cap: the latest switch batch (the warm-up cap, or the cool-down start if earlier).
        earliest: the earliest batch a switch can happen (``patience`` passing tests, one every test interval).
        ramp: the LR of batches ``0 .. cap`` while warming up (absolute LRs: AutoWU sets them, not multipliers).
        decays: ``[(s, lr_s, lrs)]``: the LR of every batch if the switch came at batch ``s`` with LR ``lr_s``
            (the ramp's LR at ``s``, its upper bound, and, at the cap, the ramp's LR at half and three quarters of
            it: the real switch LR is the ramp's LR where the loss minimum was found). The last entry is the
            latest switch at the ramp's LR (:attr:`latest`).
        hold_until: the batch the cool-down starts after a switch (``None``: at once, ``immediate_cooldown``).
        cooldown_type: ``'cosine'``, ``'linear'`` or ``'sqrt'``.
    """

    def __init__(self, name, total, cap, earliest, ramp, decays, hold_until, cooldown_type, warmup_type,
                 min_lr, max_lr):
        self.name, self.total, self.cap, self.earliest = name, total, cap, earliest
        self.ramp, self.decays, self.hold_until = ramp, decays, hold_until
        self.cooldown_type, self.warmup_type, self.min_lr, self.max_lr = cooldown_type, warmup_type, min_lr, max_lr

    @property
    def latest(self) -> np.ndarray:
        """The LR of every batch if the loss never triggers the switch: the ramp to the cap, then its decay."""
        return self.decays[-1][2]

    def text(self, dataloader_len: Optional[int] = None) -> str:
        """A few lines for a terminal: the ramp, when the switch can come, and the decays that may follow."""
        dl = dataloader_len
        ep = (lambda k: f' (epoch {k / dl:.2f})') if dl else (lambda k: '')
        hold = ('then the cool-down at once' if self.hold_until is None else
                f'then hold that LR until batch {self.hold_until}{ep(self.hold_until)}, then the cool-down')
        lines = [
            f'schedule: {self.total} batches' + (f' ({dl} per epoch)' if dl else '') + f'; {self.name} sets the LR '
            'from the training loss, so only part of it is known before training:',
            f'  warm-up: {self.warmup_type} from lr {self.min_lr:g} at batch 0, reaching {self.ramp[-1]:.5g} at the '
            f'cap, batch {self.cap}{ep(self.cap)}',
            f'  the switch depends on the loss: it comes when a Gaussian-process test finds the loss minimum behind, '
            f'at batch {self.earliest} at the earliest and at the cap (batch {self.cap}) at the latest; the LR becomes '
            f'the LR at that minimum, {hold} ({self.cooldown_type} to 0 at batch {self.total})',
            '  possible decays (switch batch s and switch LR; the real ones come from the loss):',
            f'  {"switch s":>9} {"epoch":>7} {"switch lr":>11} {"lr at 3/4":>11} {"last lr":>11}',
        ]
        for s, lr_s, lrs in self.decays:
            q = s + (self.total - s) * 3 // 4
            lines.append(f'  {s:>9} {s / dl if dl else 0:>7.2f} {lr_s:>11.5g} '
                         f'{lrs[min(q, self.total - 1)]:>11.5g} {lrs[-1]:>11.5g}')
        return '\n'.join(lines)


def autowu_outlook(algorithm: Any, total_batches: int, steps_per_epoch: int, switches: int = 4) -> Outlook:
    """The :class:`Outlook` of an AutoWU algorithm over a run of ``total_batches`` batches.

    Batch :math:`b` trains with the engine's LR after :math:`b` observed losses; before the switch that is the ramp
    :math:`\\eta(b) = \\eta_{min} (\\eta_{max}/\\eta_{min})^{b/W}` (exponential; linear likewise), after a switch at
    :math:`s` with LR :math:`\\eta_s`: a hold of :math:`\\eta_s` (times ``decay_phase_factor`` once per epoch with
    ``decay_phase_stat=None``; ``'loss'`` reductions are not predictable and not shown) until the cool-down start
    :math:`C`, then the cool-down to 0 at :math:`T` (from :math:`s` at once with ``immediate_cooldown``).

    Args:
        algorithm: an :class:`~composer_sched.algorithms.autowu.AutoWU`.
        total_batches: :math:`T`, ``>= 1``.
        steps_per_epoch: batches per epoch, ``>= 1``.
        switches: how many switch batches to show, spread from the earliest possible one to the cap, ``>= 1``.

    Raises:
        ValueError: ``total_batches`` or ``steps_per_epoch`` below 1, or a run longer than
            :data:`MAX_PREVIEW_BATCHES`.

    Example:
        >>> from composer_sched import AutoWU
        >>> o = autowu_outlook(AutoWU(min_lr=1e-4, max_lr=1.0), 100, 10)
        >>> o.cap, round(float(o.ramp[25]), 6), len(o.latest)
        (50, 0.01, 100)
    """
    from composer_sched.algorithms.autowu.engine import AutoWUEngine
    from composer_sched.schedules.constant import ConstantSchedule
    from composer_sched.schedules.cooldown import LinearCoolDown
    from composer_sched.schedules.cosine import CosineAnnealingSchedule

    T = check_preview_length(int(total_batches))
    eng = AutoWUEngine(algorithm.config, T, int(steps_per_epoch))
    c = eng.config
    spe = eng.steps_per_epoch
    latest = min(eng.cap, eng.cooldown_start)
    earliest = min(c.patience * eng.interval, latest) if not c.warmup_only else latest
    b = np.arange(T + 1)
    pos = np.floor(b / spe) if c.warmup_unit == 'epoch' else b
    ramp_all = np.asarray(eng.warmup_schedule(pos.astype(float)), dtype=float)

    def tail(lr0: float, length: int):
        if length <= 0:
            return ConstantSchedule(lr0)
        if c.cooldown_type == 'cosine':
            return CosineAnnealingSchedule(min_lr=0.0, max_lr=lr0, cycle_length=length)
        return LinearCoolDown(ConstantSchedule(lr0), finish_lr=0.0, start_idx=0, length=length, shape=c.cooldown_type)

    def run(s: int, lr_s: float) -> np.ndarray:
        out = ramp_all[:T].copy()
        C = s if (c.immediate_cooldown or s >= eng.cooldown_start) else eng.cooldown_start
        hold = np.arange(s, min(C, T))
        if hold.size:
            reductions = (hold // spe - s // spe) if (c.decay_phase_stat is None and c.decay_phase_factor < 1) \
                else np.zeros_like(hold)
            out[hold] = lr_s * c.decay_phase_factor ** reductions
        if C < T:
            lr_c = lr_s if C == s else lr_s * (c.decay_phase_factor ** ((C // spe - s // spe)
                                                                        if c.decay_phase_stat is None else 0))
            k = np.arange(C, T)
            out[k] = np.asarray(tail(lr_c, T - C)((k - C).astype(float)), dtype=float)
        return out

    if latest <= 0:
        picks = [0]
    else:
        picks = sorted({int(round(earliest + (latest - earliest) * i / max(1, switches - 1)))
                        for i in range(max(1, switches))} | {latest})
    rows = [(s, float(ramp_all[s]) if latest > 0 else c.max_lr) for s in picks]
    if latest > 1:  # the same latest switch with the LR of a minimum found earlier on the ramp
        rows = sorted(set(rows + [(latest, float(ramp_all[latest * f // 4])) for f in (2, 3)]))
    return Outlook(repr(algorithm), T, latest, earliest, ramp_all[:latest + 1].copy(),
                   [(s, lr, run(s, lr)) for s, lr in rows],
                   None if c.immediate_cooldown else eng.cooldown_start, c.cooldown_type,
                   'linear' if c.warmup_type == 'linear' else 'exponential', c.min_lr, c.max_lr)
