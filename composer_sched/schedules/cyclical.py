r"""Cyclical schedules: repeat a one-cycle shape with growing/shrinking cycles and decaying magnitude.

``CyclicalSchedule(TriangularSchedule, ...)`` is Smith's cyclical LR; with ``CosineAnnealingSchedule``,
``cycle_length_decay=2`` and ``cycle_magnitude_decay=0.5`` it is SGDR (Loshchilov & Hutter 2016).

Evaluation never walks past cycles per point: with integer rounding (the tutorial's semantics) the cycle
boundaries are computed once, up to the largest time asked for, and looked up by binary search; once the
rounded length reaches a fixed point (``ceil(L d) == L``) the rest is arithmetic. Without rounding the cycle index
has a closed form (a logarithm, as in timm).

Shrinking exact cycles (``d_L < 1``, no rounding) add up to :math:`L / (1 - d_L)`: from there on the cycles have
run out and the schedule holds its limit (the cycles' final value times :math:`\lim d_M^k`). timm's formula takes
the logarithm of a negative number there; :meth:`CyclicalSchedule.check_horizon` rejects a horizon the cycles do
not cover, and growing magnitudes (``d_M > 1``) past :data:`~composer_sched.schedules._base.MAX_GROWTH`.
"""
from __future__ import annotations

import dataclasses
import math
import numbers
import sys
from typing import Any, Mapping

import numpy as np

from composer_sched.schedules._base import (ParamError, ScalarOps, Schedule, _name, check, check_growth,
                                            check_number)
from composer_sched.schedules.cosine import CosineAnnealingSchedule
from composer_sched.schedules.registry import Method, Param, register
from composer_sched.schedules.triangular import TriangularSchedule

__all__ = ['CyclicalSchedule']


@dataclasses.dataclass(frozen=True, init=False)
class CyclicalSchedule(Schedule):
    r"""Repeat ``schedule_class(cycle_length=L_k, **kwargs)`` over cycles :math:`k = 0, 1, \dots`.

    .. math::
        L_0 = L,\quad L_{k+1} = \lceil L_k\,d_L \rceil,\quad B_k = \sum_{j<k} L_j,\quad
        \eta(t) = d_M^{\,k}\;\eta^{(L_k)}(t - B_k)\ \text{ for } B_k \le t < B_{k+1}

    Args:
        schedule_class: a schedule class taking a ``cycle_length`` keyword (e.g. ``TriangularSchedule``).
        cycle_length: :math:`L`, the first cycle's length, ``> 0``.
        cycle_length_decay: :math:`d_L`, ``>= 0`` (default 1): each cycle is the previous one's length times
            this, rounded up (to at least 1). Without rounding, ``d_L < 1`` cycles run out at :math:`L/(1-d_L)`
            (``d_L = 0``: one cycle), and the schedule holds its limit after.
        cycle_magnitude_decay: :math:`d_M`, ``>= 0`` (default 1): cycle :math:`k` is scaled by :math:`d_M^k`
            (``> 1`` grows: see :meth:`check_horizon`).
        round_lengths: round each cycle length up to an integer, as the tutorial does (default ``True``).
            ``False`` keeps exact geometric lengths (used by the Composer adapter so that scaling time by a
            ratio scales every cycle by it).
        **kwargs: passed to ``schedule_class`` (e.g. ``min_lr``, ``max_lr``).

    Raises:
        ValueError: an argument is outside its range, or ``schedule_class(cycle_length=..., **kwargs)`` fails.

    Example:
        >>> s = CyclicalSchedule(CosineAnnealingSchedule, min_lr=0.01, max_lr=2, cycle_length=250,
        ...                      cycle_length_decay=2, cycle_magnitude_decay=0.5)
        >>> s(0), s(250), s(750)
        (2.0, 1.0, 0.5)
    """
    schedule_class: type
    cycle_length: float
    cycle_length_decay: float
    cycle_magnitude_decay: float
    round_lengths: bool
    kwargs: Mapping[str, Any]

    def __init__(self, schedule_class, cycle_length, cycle_length_decay=1, cycle_magnitude_decay=1,
                 round_lengths=True, **kwargs):
        check(isinstance(schedule_class, type) and issubclass(schedule_class, Schedule), 'schedule_class',
              schedule_class, 'a Schedule class taking cycle_length')
        check_number('cycle_length', cycle_length, lo=0, lo_open=True)
        check_number('cycle_length_decay', cycle_length_decay, lo=0)
        check_number('cycle_magnitude_decay', cycle_magnitude_decay, lo=0)
        for name, value in (('schedule_class', schedule_class), ('cycle_length', cycle_length),
                            ('cycle_length_decay', cycle_length_decay),
                            ('cycle_magnitude_decay', cycle_magnitude_decay),
                            ('round_lengths', bool(round_lengths)), ('kwargs', dict(kwargs))):
            object.__setattr__(self, name, value)
        # Private caches (not fields): they never change a value, only make repeated evaluation cheap.
        object.__setattr__(self, '_inner', {})
        object.__setattr__(self, '_bounds', [0.0, float(cycle_length)])  # B_0, B_1, ...
        object.__setattr__(self, '_lengths', [float(cycle_length)])      # L_0, L_1, ...
        object.__setattr__(self, '_fixed', cycle_length_decay == 1 and float(cycle_length).is_integer()
                           or not round_lengths and cycle_length_decay == 1)
        first = self._shape(float(cycle_length))  # validate kwargs now, not at the first evaluation
        end = first(float(cycle_length))  # the value a cycle ends at (min_lr for the bundled shapes)
        dm = float(cycle_magnitude_decay)
        object.__setattr__(self, '_limit', 0.0 if end == 0 or dm < 1 else end if dm == 1 else math.inf)

    def __hash__(self):
        return hash((self.schedule_class, self.cycle_length, self.cycle_length_decay, self.cycle_magnitude_decay,
                     self.round_lengths, tuple(sorted(self.kwargs.items()))))

    def _shape(self, length: float) -> Schedule:
        inner = self._inner.get(length)
        if inner is None:
            inner = self._inner[length] = self.schedule_class(cycle_length=length, **self.kwargs)
        return inner

    # -- cycle arithmetic -------------------------------------------------------------------------------------
    def _extend(self, t_max: float) -> None:
        """Grow the rounded boundary table until it covers ``t_max`` or the length reaches a fixed point."""
        bounds, lengths = self._bounds, self._lengths
        while not self._fixed and bounds[-1] <= t_max:
            nxt = float(max(math.ceil(lengths[-1] * self.cycle_length_decay), 1))  # d = 0: cycles of 1
            if nxt == lengths[-1]:
                object.__setattr__(self, '_fixed', True)
                break
            lengths.append(nxt)
            bounds.append(bounds[-1] + nxt)

    @property
    def end_of_cycles(self) -> float:
        """Where exact shrinking cycles run out, :math:`L/(1-d_L)`; ``inf`` when they never do."""
        d = self.cycle_length_decay
        return float(self.cycle_length) / (1 - d) if d < 1 and not self.round_lengths else math.inf

    def _geometric(self, t, ops):
        """Cycle index, start and length of exact geometric cycles (``d_L != 1``), for ``t`` before they run
        out. The index has a closed form; log1p keeps it exact for ``d_L`` near 1."""
        d, L0 = float(self.cycle_length_decay), float(self.cycle_length)
        tt = ops.maximum(t, 0.0)
        if d == 0:
            return ops.full_like(t, 0.0), ops.full_like(t, 0.0), ops.full_like(t, L0)
        lg, log_L0 = math.log1p(d - 1) if d > 1 else math.log(d), math.log(L0)  # log d, exact near 1 above it
        if d > 1:
            # Cap k where a cycle's start stays finite: beyond, t sits at the end of that (astronomical) cycle.
            k_cap = max(0.0, math.floor((math.log(sys.float_info.max) + math.log(min(d - 1, 1.0)) - log_L0 - 1) / lg))
            k = ops.minimum(ops.floor(ops.log1p(tt / L0 * (d - 1)) / lg), k_cap)
        else:
            k_cap = math.inf
            x = ops.minimum(tt / L0 * (1 - d), 1 - 2 ** -53)  # the fraction of L/(1-d) gone
            k = ops.floor(ops.log1p(-x) / lg)

        def start_and_length(k):
            # B_k = L (d^k - 1)/(d - 1) and L_k = L d^k in logs: d^k alone may overflow where L d^k does not.
            x = k * lg
            far = ops.exp(log_L0 + x - math.log(d - 1)) if d > 1 else 0.0
            near = L0 * ops.expm1(ops.minimum(x, 700.0)) / (d - 1)
            return ops.where(x > 700.0, far, near), ops.exp(log_L0 + x)

        start, length = start_and_length(k)
        # Guard the logarithm's rounding at cycle boundaries.
        k = ops.clip(ops.where(tt < start, k - 1, ops.where(tt >= start + length, k + 1, k)), 0.0, k_cap)
        start, length = start_and_length(k)
        return k, start, length

    def _locate(self, t, ops):
        """Cycle index, offset in the cycle and cycle length at time ``t``."""
        d = self.cycle_length_decay
        if not self.round_lengths and d != 1:
            k, start, length = self._geometric(t, ops)
            length = ops.maximum(length, 5e-324)  # an underflowed cycle is still a cycle
            return k, ops.clip(t - start, 0.0, length), length
        if self._fixed and len(self._lengths) == 1:  # equal cycles from the start: plain division
            length = self._lengths[0]
            k = ops.floor(ops.maximum(t, 0.0) / length)
            return k, ops.clip(t - k * length, 0.0, length), length
        t_top = float(np.max(t)) if ops.array else t
        self._extend(t_top)
        bounds, lengths = self._bounds, self._lengths
        n = len(lengths)  # cycles in the table; the last one repeats forever when _fixed
        k = ops.count_le(bounds[1:n], t)  # table cycle index, at most n - 1
        last_start, last_len = bounds[n - 1], lengths[n - 1]
        extra = ops.floor(ops.maximum(t - last_start, 0.0) / last_len)  # whole repeats of the fixed length
        tail = k >= n - 1
        if ops.array:
            table_start = np.asarray(bounds)[np.minimum(k, n - 1)]
            table_len = np.asarray(lengths)[np.minimum(k, n - 1)]
        else:
            table_start, table_len = bounds[min(k, n - 1)], lengths[min(k, n - 1)]
        start = ops.where(tail, last_start + extra * last_len, table_start)
        index = ops.where(tail, n - 1 + extra, k)
        length = ops.where(tail, last_len, table_len)
        return index, ops.clip(t - start, 0.0, length), length

    def _eval(self, t, ops):
        out_at = self.end_of_cycles
        if not ops.array and t >= out_at:
            return self._limit
        value = self._cycles(t, ops)
        return value if not ops.array or out_at == math.inf else ops.where(t >= out_at, self._limit, value)

    def check_horizon(self, t_end: float, names=None) -> None:
        """Raise ``ValueError`` when shrinking cycles run out before ``t_end``, or when growing magnitudes
        (``d_M > 1``) raise the multiplier more than :data:`~composer_sched.schedules._base.MAX_GROWTH`-fold by
        then (see :meth:`Schedule.check_horizon`).

        Example:
            >>> s = CyclicalSchedule(CosineAnnealingSchedule, min_lr=0, max_lr=1, cycle_length=250,
            ...                      cycle_length_decay=0.5, round_lengths=False)
            >>> s.end_of_cycles
            500.0
            >>> try:
            ...     s.check_horizon(1000)
            ... except ValueError as e:
            ...     print(e)
            cycle_length_decay=0.5 is not allowed on this horizon: cycles each 0.5 times the last add up to cycle_length/(1 - cycle_length_decay) = 500, less than the 1000 to cover: cycle_length_decay must be >= 0.75 (or cycle_length >= 500).
        """
        d, L0 = float(self.cycle_length_decay), float(self.cycle_length)
        decay, length = _name(names, 'cycle_length_decay'), _name(names, 'cycle_length')
        if self.end_of_cycles < t_end:
            raise ParamError(decay, self.cycle_length_decay,
                             f'>= {1 - L0 / t_end:.6g} (or {length} >= {t_end * (1 - d):.6g})',
                             f' on this horizon: cycles each {d:g} times the last add up to {length}/(1 - {decay}) '
                             f'= {self.end_of_cycles:g}, less than the {t_end:g} to cover')
        dm = float(self.cycle_magnitude_decay)
        if dm > 1:
            k_end = math.inf if t_end >= self.end_of_cycles else float(self._locate(float(t_end), ScalarOps)[0])
            peak = max([abs(float(v)) for v in self.kwargs.values() if isinstance(v, numbers.Real)] + [1.0])
            check_growth(_name(names, 'cycle_magnitude_decay'), dm, k_end, t_end, start=peak)

    def _cycles(self, t, ops):
        k, offset, length = self._locate(t, ops)
        # Capped so that a 0 at a cycle's end stays 0 (no inf * 0) where growing magnitudes overflow.
        scale = ops.minimum(ops.power(self.cycle_magnitude_decay, k), sys.float_info.max)
        if not ops.array:
            return self._shape(float(length))._eval(offset, ops) * scale
        if np.ndim(length) == 0:
            return self._shape(float(length))._eval(offset, ops) * scale
        length = np.broadcast_to(length, np.shape(t)).ravel()
        offset = np.broadcast_to(offset, np.shape(t)).ravel()
        if length.size == 0 or np.all(length == length[0]):
            out = self._shape(float(length[0]) if length.size else float(self.cycle_length))._eval(offset, ops)
            return np.reshape(out, np.shape(t)) * scale
        # Evaluate each run of equal cycle length with one call: sort by cycle only when time is not sorted.
        kk = np.broadcast_to(k, np.shape(t)).ravel()
        order = None if np.all(kk[1:] >= kk[:-1]) else np.argsort(kk, kind='stable')
        if order is not None:
            length, offset = length[order], offset[order]
        cuts = np.concatenate(([0], np.flatnonzero(length[1:] != length[:-1]) + 1, [length.size]))
        flat = np.empty(length.size, dtype=float)
        for lo, hi in zip(cuts[:-1], cuts[1:]):
            flat[lo:hi] = self._shape(float(length[lo]))._eval(offset[lo:hi], ops)
        out = np.empty_like(flat)
        if order is None:
            out = flat
        else:
            out[order] = flat
        return np.reshape(out, np.shape(t)) * scale


def _build_cyclical(shape, t_cycle, cycle_length_decay, cycle_magnitude_decay, alpha_min, alpha_max, inc_fraction):
    kwargs = dict(min_lr=alpha_min, max_lr=alpha_max)
    if shape == 'triangular':
        kwargs['inc_fraction'] = inc_fraction
    cls = TriangularSchedule if shape == 'triangular' else CosineAnnealingSchedule
    return CyclicalSchedule(cls, cycle_length=t_cycle, cycle_length_decay=cycle_length_decay,
                            cycle_magnitude_decay=cycle_magnitude_decay, round_lengths=False, **kwargs)


register(Method(
    name='cyclical',
    summary='Repeated triangular or cosine cycles, with cycle-length and magnitude decay.',
    params=(Param('shape', 'triangular', doc='cycle shape', choices=('triangular', 'cosine')),
            Param('t_cycle', '0.25dur', 'duration', 'length of the first cycle'),
            Param('cycle_length_decay', 1.0, lo=0,
                  doc='each cycle is the previous one times this (< 1: the shrinking cycles must cover the run)'),
            Param('cycle_magnitude_decay', 1.0, doc='each cycle is scaled by this once more (> 1: bounded growth)',
                  lo=0),
            Param('alpha_min', 0.0, doc='lower bound multiplier', lo=0),
            Param('alpha_max', 1.0, doc='upper bound multiplier', lo=0),
            Param('inc_fraction', 0.5, doc='triangular only: rising fraction of a cycle', lo=0, hi=1)),
    build=_build_cyclical,
    reference='Smith (2015), Cyclical Learning Rates',
    aliases={'cycle_length': 't_cycle', 'min_lr': 'alpha_min', 'max_lr': 'alpha_max'},
))

register(Method(
    name='sgdr',
    summary='SGDR: cosine cycles from 1 to alpha_f with warm restarts, each t_mult longer and scaled by decay.',
    params=(Param('t_0', '0.25dur', 'duration', 'length of the first cycle'),
            Param('t_mult', 1.0, lo=0,
                  doc='each cycle is the previous one times this (< 1: the shrinking cycles must cover the run)'),
            Param('magnitude_decay', 1.0, lo=0,
                  doc='each cycle peak is the previous one times this (> 1: bounded growth)'),
            Param('alpha_f', 0.0, doc='multiplier at the end of each cycle', lo=0)),
    build=lambda t_0, t_mult, magnitude_decay, alpha_f: CyclicalSchedule(
        CosineAnnealingSchedule, cycle_length=t_0, cycle_length_decay=t_mult, cycle_magnitude_decay=magnitude_decay,
        round_lengths=False, min_lr=alpha_f, max_lr=1.0),
    reference='Loshchilov & Hutter (2016), SGDR',
    aliases={'cycle_length': 't_0', 'cycle_length_decay': 't_mult', 'cycle_magnitude_decay': 'magnitude_decay',
             'min_lr': 'alpha_f'},
))
