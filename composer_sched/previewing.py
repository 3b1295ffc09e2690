"""Preview the LR multipliers a Composer run will apply, batch by batch, and plot them."""
from __future__ import annotations

import os
import textwrap
from typing import Any, Callable, Optional, Sequence, Union

import numpy as np
from composer.core import Time, TimeUnit, Timestamp, ensure_time

from composer_sched.adapters.composer import ComposerScheduler, takes_ssr

__all__ = ['preview', 'plot_schedule', 'write_curves', 'scaled_max_duration', 'num_batches']

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
        ValueError: a bad ``ssr``, or a duration that needs a size that was not given.

    Example:
        >>> from composer_sched import WSDScheduler, preview
        >>> preview(WSDScheduler(t_cooldown='0.5dur'), '5ba').round(3).tolist()
        [1.0, 1.0, 1.0, 1.0, 0.8]
    """
    scheds = list(schedulers) if isinstance(schedulers, (list, tuple)) else [schedulers]
    if algorithms:
        from composer_sched.algorithms.base import simulate
        return simulate(algorithms, [s for s in scheds if s is not None], max_duration, dataloader_len=dataloader_len,
                        ssr=ssr, samples_per_batch=samples_per_batch, tokens_per_batch=tokens_per_batch,
                        step_schedulers_every_batch=step_schedulers_every_batch)[:, 0]
    if not scheds:
        raise ValueError('schedulers=[] is not allowed: give at least one scheduler.')
    md = scaled_max_duration(max_duration, ssr)
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
                 xlabel: str, ylabel: str, title: Optional[str] = None) -> str:
    """Write a PNG with one line per ``(label, values-per-batch)``; returns the path (folders are created)."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 3.5), dpi=110)
    for label, values in curves:
        ax.plot(np.arange(len(values)), values, label=label)
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
