"""Progress of a long run when the output is not a terminal: one line every N batches instead of a progress bar.

Composer's progress bar redraws itself in place; in a log file or a pipe every redraw is a new line (a flood), so a
recipe's run uses the bar only on a terminal and :class:`ProgressLines` otherwise.
"""
from __future__ import annotations

import math
import sys
import time
from typing import Optional, TextIO

from composer.core import Callback, State
from composer.loggers import Logger

__all__ = ['ProgressLines', 'is_terminal', 'auto_interval']


def is_terminal(stream: Optional[TextIO] = None) -> bool:
    """Whether ``stream`` (default: stderr, where Composer's progress bar draws) is an interactive terminal."""
    stream = sys.stderr if stream is None else stream
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # replaced or closed streams
        return False


def auto_interval(total_batches: int, lines: int = 20) -> int:
    """Batches between progress lines so a run of ``total_batches`` prints about ``lines`` of them (``>= 1``).

    Example:
        >>> auto_interval(1000), auto_interval(7)
        (50, 1)
    """
    return max(1, int(math.ceil(total_batches / max(1, lines))))


class ProgressLines(Callback):
    """Print ``batch k/N (p%) epoch e loss x lr y, t s`` every ``every`` batches (and at the last), rank 0 only.

    Args:
        every: batches between lines, an integer ``>= 1``.
        stream: where to write (default: stdout, looked up at each line).

    Raises:
        ValueError: ``every`` is not an integer ``>= 1``.

    Example:
        >>> ProgressLines(every=10).every
        10
    """

    def __init__(self, every: int, stream: Optional[TextIO] = None):
        if isinstance(every, bool) or not isinstance(every, int) or every < 1:
            raise ValueError(f'every={every!r} is not allowed: every must be an integer >= 1.')
        self.every = every
        self.stream = stream
        self._start: Optional[float] = None

    def fit_start(self, state: State, logger: Logger) -> None:
        self._start = time.monotonic()

    def batch_end(self, state: State, logger: Logger) -> None:
        from composer.utils import dist

        k = int(state.timestamp.batch)
        total = total_batches(state)
        if dist.get_global_rank() != 0 or (k % self.every and k != total):
            return
        loss = (state.total_loss_dict or {}).get('loss/train/total')
        lr = state.optimizers[0].param_groups[0]['lr'] if state.optimizers else None
        parts = [f'batch {k}' + (f'/{total} ({100 * k / total:.0f}%)' if total else ''),
                 f'epoch {int(state.timestamp.epoch)}']
        if loss is not None:
            parts.append(f'loss {float(loss):.4g}')
        if lr is not None:
            parts.append(f'lr {lr:.4g}')
        elapsed = time.monotonic() - (self._start or time.monotonic())
        out = self.stream or sys.stdout
        print('[progress] ' + ', '.join(parts) + f', {elapsed:.1f} s', file=out, flush=True)


def total_batches(state: State) -> Optional[int]:
    """The run's length in batches from its ``max_duration`` (in batches, or epochs of a known length), else None."""
    from composer.core import TimeUnit

    md = state.max_duration
    if md is None:
        return None
    if md.unit == TimeUnit.BATCH:
        return int(md.value)
    if md.unit == TimeUnit.EPOCH and state.dataloader_len is not None:
        return int(md.value) * int(state.dataloader_len)
    return None
