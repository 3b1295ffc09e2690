"""Preview the LR multipliers a Composer run will apply, batch by batch, and plot them."""
from __future__ import annotations

import os
import textwrap
from typing import Any, Callable, Optional, Sequence, Union

import numpy as np
from composer.core import Time, TimeUnit, Timestamp, ensure_time

from composer_sched.adapters.composer import ComposerScheduler, takes_ssr

__all__ = ['preview', 'plot_schedule', 'write_curves', 'scaled_max_duration', 'num_batches', 'MAX_PREVIEW_BATCHES',
           'Outlook', 'autowu_outlook',
           'check_preview_length']

#: The longest run a preview materialises (one float per batch: 80 MB); longer ones are refused, not swapped.
MAX_PREVIEW_BATCHES = 10_000_000

SchedulerLike = Union[ComposerScheduler, Callable[..., float]]


def scaled_max_duration(max_duration: Union[str, int, Time], ssr: float = 1.0) -> Time:
    """``max_duration`` scaled as ``Trainer(scale_schedule_ratio=ssr)`` does: same unit, int-truncated.

    Raises:
        ValueError: ``ssr`` is not finite and positive, or the scaled duration is 0.
    """
    if not (isinstance(ssr, (int, float)) and ssr > 0 and ssr != float('inf')):
        raise ValueError(f'ssr={ssr!r} is not allowed: ssr must be a finite number > 0.')
    md = ensure_time(max_duration, TimeUnit.EPOCH)
    scaled = md * ssr if ssr != 1.0 else md
    if scaled.value == 0:
        raise ValueError(f'ssr={ssr!r} reduces max_duration={md} to 0 {md.unit.value}; use a larger ratio or a '
                         'longer max_duration.')
    return scaled


def num_batches(max_duration: Time, dataloader_len: Optional[int] = None, samples_per_batch: Optional[int] = None,
                tokens_per_batch: Optional[int] = None) -> int:
    """How many batches a run of ``max_duration`` trains (full batches assumed)."""
    unit, v = max_duration.unit, max_duration.value
    need = {TimeUnit.EPOCH: ('dataloader_len', dataloader_len), TimeUnit.SAMPLE: ('samples_per_batch',
            samples_per_batch), TimeUnit.TOKEN: ('tokens_per_batch', tokens_per_batch)}
    if unit in need and need[unit][1] is None:
        raise ValueError(f'max_duration={max_duration} needs {need[unit][0]} to count batches.')
    if unit == TimeUnit.BATCH:
        return int(v)
    if unit == TimeUnit.EPOCH:
        return int(v) * int(dataloader_len)
    return -(-int(v) // int(need[unit][1]))  # the batch that crosses the limit still runs


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


class _PreviewState:
    """The few ``State`` fields a Composer scheduler reads, advanced as the Trainer advances them."""

    def __init__(self, max_duration: Time, dataloader_len: Optional[int]):
        self.max_duration = max_duration
        self.dataloader_len = None if dataloader_len is None else Time(int(dataloader_len), TimeUnit.BATCH)
        self.timestamp = Timestamp()

    def get_elapsed_duration(self) -> Time[float]:
        return Time(self.timestamp.get(self.max_duration.unit).value / self.max_duration.value, TimeUnit.DURATION)


def preview(schedulers: Union[SchedulerLike, Sequence[SchedulerLike]], max_duration: Union[str, int, Time], *,
            dataloader_len: Optional[int] = None, ssr: float = 1.0, samples_per_batch: Optional[int] = None,
            tokens_per_batch: Optional[int] = None, algorithms: Sequence[Any] = (),
            step_schedulers_every_batch: Optional[bool] = None) -> np.ndarray:
    """The LR multiplier each batch of a Composer run gets, exactly as the Trainer applies it.

    The Trainer steps its schedulers after each optimizer step but *before* the timestamp advances, so batch
    :math:`k` trains with :math:`\\alpha(\\text{time}(\\max(k-1, 0)))`: batches 0 and 1 both get the value at
    time 0. Composer compiles each scheduler to its own ``LambdaLR``, which *sets* the LR, so with several
    schedulers the last one in the list decides (they do not multiply); preview reproduces that.

    Args:
        schedulers: one or several Composer schedulers (ours, Composer's built-ins, or ``fn(state, ssr)``), as
            passed to ``Trainer(schedulers=...)``.
        max_duration: the *unscaled* duration, as given to the Trainer (an int means epochs).
        dataloader_len: batches per epoch (needed for ``ep`` units).
        ssr: ``Trainer(scale_schedule_ratio=...)``, finite and ``> 0``.
        samples_per_batch, tokens_per_batch: batch sizes, for schedules in ``sp`` or ``tok``.
        algorithms: composer_sched schedule algorithms (setters, modifiers, ScaleSchedule) the run also has;
            with them, ``schedulers`` may also hold PyTorch schedulers (copied, never stepped in place) and
            the run is replayed event by event (:func:`composer_sched.algorithms.base.simulate`).
        step_schedulers_every_batch: as for the Trainer (with ``algorithms``; None: Composer's default).

    Returns:
        A float array with one multiplier per batch of the (scaled) run.

    Raises:
        ValueError: a bad ``ssr``, a duration that needs a size that was not given, or a run longer than
            :data:`MAX_PREVIEW_BATCHES` batches.

    Example:
        >>> from composer_sched import WSDScheduler, preview
        >>> preview(WSDScheduler(t_cooldown='0.5dur'), '5ba').round(3).tolist()
        [1.0, 1.0, 1.0, 1.0, 0.8]
    """
    scheds = list(schedulers) if isinstance(schedulers, (list, tuple)) else [schedulers]
    md = scaled_max_duration(max_duration, ssr)
    check_preview_length(num_batches(md, dataloader_len, samples_per_batch, tokens_per_batch), md)
    if algorithms:
        from composer_sched.algorithms.base import simulate
        return simulate(algorithms, [s for s in scheds if s is not None], max_duration, dataloader_len=dataloader_len,
                        ssr=ssr, samples_per_batch=samples_per_batch, tokens_per_batch=tokens_per_batch,
                        step_schedulers_every_batch=step_schedulers_every_batch)[:, 0]
    if not scheds:
        raise ValueError('schedulers=[] is not allowed: give at least one scheduler.')
    n = num_batches(md, dataloader_len, samples_per_batch, tokens_per_batch)
    # Composer compiles each scheduler to its own LambdaLR, which *sets* lr = initial_lr * alpha every batch:
    # with several schedulers the last one's value is what the optimizer trains with.
    s = scheds[-1]
    if isinstance(s, ComposerScheduler):
        axis = s.axis(md)
        per = {TimeUnit.BATCH: 1, TimeUnit.SAMPLE: samples_per_batch, TimeUnit.TOKEN: tokens_per_batch}[axis]
        if per is None:
            raise ValueError(f'{s!r} is placed in {axis.value}: preview needs the batch size in that unit.')
        prev = np.maximum(np.arange(n) - 1, 0)  # the timestamp each batch's LR was computed at
        return s.schedule(md, dataloader_len, ssr)(prev * float(per))
    return _step_through(s, md, n, dataloader_len, ssr, samples_per_batch, tokens_per_batch)


def _step_through(sched, md, n, dataloader_len, ssr, spb, tpb) -> np.ndarray:
    state = _PreviewState(md, dataloader_len)
    values = np.empty(n)
    two_args = takes_ssr(sched)
    for k in range(n):
        values[k] = float(sched(state, ssr) if two_args else sched(state))
        # The value computed at batch k's timestamp is applied to batch k + 1; shift once at the end.
        state.timestamp = state.timestamp.to_next_batch(samples=spb or 0, tokens=tpb or 0)
        if dataloader_len is not None and state.timestamp.batch_in_epoch.value >= int(dataloader_len):
            state.timestamp = state.timestamp.to_next_epoch()
    return np.concatenate([values[:1], values[:-1]]) if n else values



def plot_schedule(schedulers: Union[SchedulerLike, Sequence[SchedulerLike]], max_duration: Union[str, int, Time],
                  path: Union[str, os.PathLike], *, base_lr: float = 1.0, ratios: Sequence[float] = (1.0,),
                  title: Optional[str] = None, **preview_kwargs: Any) -> str:
    """Write a PNG of :func:`preview` (times ``base_lr``), one curve per scale-schedule ratio in ``ratios``.

    Returns:
        The path written.

    Example:
        >>> from composer_sched import WSDScheduler, plot_schedule
        >>> plot_schedule(WSDScheduler(), '100ba', '/tmp/wsd.png', ratios=(0.5, 1.0))
        '/tmp/wsd.png'
    """
    curves = [(f'ratio {r:g}' if len(ratios) > 1 else None,
               preview(schedulers, max_duration, ssr=r, **preview_kwargs) * base_lr) for r in ratios]
    return write_curves(curves, path, xlabel='batch',
                        ylabel='learning rate' if base_lr != 1.0 else 'LR multiplier', title=title)


def write_curves(curves: Sequence[tuple[Optional[str], np.ndarray]], path: Union[str, os.PathLike], *,
                 xlabel: str, ylabel: str, title: Optional[str] = None, styles: Optional[Sequence[str]] = None) -> str:
    """Write a PNG with one line per ``(label, values-per-batch)``; returns the path (folders are created).

    ``styles``: a matplotlib line style per curve (default: solid)."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 3.5), dpi=110)
    for i, (label, values) in enumerate(curves):
        ax.plot(np.arange(len(values)), values, label=label, ls=styles[i] if styles else '-')
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:  # a scheduler's repr can be long: wrap it rather than clip it
        ax.set_title(textwrap.fill(title, 70), fontsize=9)
    if any(label for label, _ in curves):
        ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    path = os.fspath(path)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path


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
    from composer_sched.schedules import FlatSchedule, CosineAnnealingSchedule, LinearCoolDown

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
            return FlatSchedule(lr0)
        if c.cooldown_type == 'cosine':
            return CosineAnnealingSchedule(min_lr=0.0, max_lr=lr0, cycle_length=length)
        return LinearCoolDown(FlatSchedule(lr0), finish_lr=0.0, start_idx=0, length=length, shape=c.cooldown_type)

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
