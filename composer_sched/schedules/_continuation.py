"""Continuing a finished run to a longer budget: the LR of the run as it was, a re-warm from where it ended to a new
peak, then the recipe's own decay family over the rest (pure: no torch, no Composer).

Not a registered method (a continuation is made from a finished run, not declared in a recipe), so this module is
private to the core and imported by name; :mod:`composer_sched.adapters.continuation` applies it in Composer and
PyTorch.
"""
from __future__ import annotations

import dataclasses
from typing import Any, Sequence

import numpy as np

from composer_sched.schedules._base import Ops, ParamError, Schedule, check_bounds, check_int, check_number, interval

__all__ = ['SampledSchedule', 'ContinuationSchedule', 'decay_family']


@dataclasses.dataclass(frozen=True)
class SampledSchedule(Schedule):
    r"""Linear interpolation between values given at ``t = 0, 1, ..., n - 1``; the last value after.

    Args:
        values: ``n >= 1`` finite numbers ``>= 0``.

    Raises:
        ValueError: no value, or one that is negative or not finite.

    Example:
        >>> s = SampledSchedule((1.0, 0.5, 0.0))
        >>> s(0), s(0.5), s(2), s(9)
        (1.0, 0.75, 0.0, 0.0)
    """
    values: Sequence[float]

    def __post_init__(self) -> None:
        if isinstance(self.values, (str, bytes)) or len(self.values) == 0:
            raise ParamError('values', self.values, 'a non-empty list of numbers')
        object.__setattr__(self, 'values', tuple(check_number(f'values[{i}]', v, lo=0)
                                                 for i, v in enumerate(self.values)))

    def _eval(self, t: Any, ops: Ops) -> Any:
        xs = np.arange(len(self.values), dtype=float)
        out = np.interp(t, xs, np.asarray(self.values, dtype=float))
        return out if ops.array else float(out)


@dataclasses.dataclass(frozen=True)
class ContinuationSchedule(Schedule):
    r"""A finished run's schedule continued past its end ``J`` (the time of its last value, ``start``):

    .. math::
        \eta(t) = \begin{cases} h(t) & t \le J \\
        s + (p - s)\,\frac{t - J}{W} & J < t \le J + W \\
        f + (p - f)\,\frac{d(t - J - W) - f}{d(0) - f} & t > J + W \end{cases}

    with :math:`h` the old run (``head``, ending at :math:`s` = ``head[-1]``), :math:`W` the re-warm length,
    :math:`p` the new peak and :math:`d` the decay family (``tail``: its top at 0, its floor :math:`f` at the end),
    mapped so that it runs from :math:`p` down to the old floor :math:`f` (a constant tail stays at :math:`p`).
    Times are the schedule's own (a Composer scheduler's timestamp in batches).

    Args:
        head: the old run's values at ``t = 0..J``, each ``>= 0`` (``J = len(head) - 1``).
        peak: :math:`p`, ``>= 0``, the value the re-warm reaches.
        rewarm: :math:`W`, an integer ``>= 1`` (the re-warm's first step is the only change of slope at the join).
        tail: the decay family's values, ``>= 1`` of them, its top first (:func:`decay_family`).

    Raises:
        ValueError: an argument is outside its range.

    Example:
        >>> c = ContinuationSchedule(head=(1.0, 0.5, 0.0), peak=0.8, rewarm=2, tail=(1.0, 0.5, 0.0))
        >>> [round(c(t), 6) for t in range(8)]
        [1.0, 0.5, 0.0, 0.4, 0.8, 0.4, 0.0, 0.0]
    """
    head: Sequence[float]
    peak: float = dataclasses.field(metadata=interval(lo=0))
    rewarm: int
    tail: Sequence[float]

    def __post_init__(self) -> None:
        object.__setattr__(self, 'head', SampledSchedule(self.head).values)
        object.__setattr__(self, 'tail', SampledSchedule(self.tail).values)
        check_bounds(self)
        object.__setattr__(self, 'rewarm', check_int('rewarm', self.rewarm, lo=1))

    @property
    def join(self) -> int:
        """``J``: the time of the old run's last value."""
        return len(self.head) - 1

    @property
    def start(self) -> float:
        """``s``: the value the old run ended at."""
        return float(self.head[-1])

    @property
    def floor(self) -> float:
        return float(min(self.tail))

    @property
    def end(self) -> int:
        """The time of the tail's last value (the continued run's horizon)."""
        return self.join + self.rewarm + len(self.tail) - 1

    def _eval(self, t: Any, ops: Ops) -> Any:
        j, w, s, p = self.join, self.rewarm, self.start, self.peak
        head = np.interp(t, np.arange(j + 1, dtype=float), np.asarray(self.head, dtype=float))
        warm = s + (p - s) * (ops.clip(t, j, j + w) - j) / w
        tail = np.asarray(self.tail, dtype=float)
        top, f = float(tail[0]), float(tail.min())
        d = np.interp(t - j - w, np.arange(len(tail), dtype=float), tail)
        decay = (f + (p - f) * (d - f) / (top - f)) if top > f else p + 0 * d
        out = ops.where(t <= j, head, ops.where(t <= j + w, warm, decay))
        return out if ops.array else float(out)


def decay_family(applied: Any, length: int) -> tuple[float, ...]:
    r"""The decay family of a schedule over ``length`` steps, from its LR per batch at the new budget (a preview):
    its part from its first maximum (the end of any warm-up) to its end, :math:`d_0, \dots, d_{K-1}`.

    A schedule with a stable phase (its maximum held on more than one batch) whose decay after it (the cool-down)
    is shorter than ``length``: the stable phase lengthened or shortened to fill ``length``, then the cool-down as
    the from-scratch run at the new budget has it (WSD: its cool-down, whether given as a fraction of the run or
    in batches; a constant schedule: its top throughout). Any other, and one whose cool-down is longer than
    ``length``: its whole shape from its top to its floor resampled linearly onto ``length`` values (value
    :math:`i` is :math:`d` at :math:`i\,(K - 1) / (\text{length} - 1)`): cosine a whole cosine, linear a whole
    line, step schedules their steps. Not the new run's last ``length`` values for these: for a cosine those are
    its steep second half, mean about 0.36 of the top against 0.5 for a whole cosine, so the continued run's LR
    area fell short of the from-scratch run's by about 12% and it ended 1.8% worse on the tiny LM
    (docs/continuing.md).

    Args:
        applied: the multiplier of every batch of the schedule at the new budget (a sequence or array), ``>= 1``.
        length: values wanted, ``>= 1`` (one value: the top).

    Raises:
        ValueError: ``applied`` empty, or ``length`` not an integer ``>= 1``.

    Example:
        >>> decay_family([0.0, 1.0, 0.5, 0.0], 5)
        (1.0, 0.75, 0.5, 0.25, 0.0)
        >>> decay_family([1.0, 0.75, 0.5, 0.25, 0.0], 3)
        (1.0, 0.5, 0.0)
        >>> decay_family([0.0, 1.0, 1.0, 1.0, 0.5, 0.0], 4)
        (1.0, 1.0, 0.5, 0.0)
    """
    a = np.asarray(applied, dtype=float)
    length = check_int('length', length, lo=1)
    if a.size == 0:
        raise ParamError('applied', list(applied), 'a non-empty list of numbers')
    top = float(a.max())
    d = a[int(np.argmax(a >= top * (1 - 1e-12))):]
    below = np.flatnonzero(d < top * (1 - 1e-12))
    plateau = int(below[0]) if below.size else d.size
    if plateau > 1 and d.size - plateau < length:
        return tuple(float(v) for v in np.concatenate([np.full(length - (d.size - plateau), top), d[plateau:]]))
    xs = np.linspace(0.0, d.size - 1.0, length) if length > 1 else np.zeros(1)
    return tuple(float(v) for v in np.interp(xs, np.arange(d.size, dtype=float), d))
