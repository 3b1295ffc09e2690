r"""Cyclical schedules: repeat a one-cycle shape with growing/shrinking cycles and decaying magnitude.

``CyclicalSchedule(TriangularSchedule, ...)`` is Smith's cyclical LR; with ``CosineAnnealingSchedule``,
``cycle_length_decay=2`` and ``cycle_magnitude_decay=0.5`` it is SGDR (Loshchilov & Hutter 2016).

A ``CyclicalSchedule`` never changes after construction (safe to share between threads). Everything evaluation
needs is computed once in ``__init__``: a table of cycle starts, lengths and magnitudes, followed by a *tail* with a
closed form, either equal cycles (the rounded length reached a fixed point, ``ceil(L d) == L``, or ``d = 1``) or
geometric cycles (exact lengths, whose cycle index is a logarithm, as in timm). A time is located in the table by
binary search (on a sorted array: the table's boundaries are searched in the times instead, one pass), then the
inner shape is evaluated once over all points: the bundled shapes depend on :math:`t / L` only, so one instance of
length 1 serves every cycle.

Shrinking exact cycles (``d_L < 1``, no rounding) add up to :math:`L / (1 - d_L)`: from there on the cycles have
run out and the schedule holds its limit (the cycles' final value times :math:`\lim d_M^k`). timm's formula takes
the logarithm of a negative number there; :meth:`CyclicalSchedule.check_horizon` rejects a horizon the cycles do
not cover, and growing magnitudes (``d_M > 1``) past :data:`~composer_sched.schedules._base.MAX_GROWTH`.
"""
from __future__ import annotations

import bisect
import dataclasses
import math
import numbers
import sys
from typing import Any, Iterator, Mapping

import numpy as np

from composer_sched.schedules._base import (
    ArrayOps,
    ParamError,
    ScalarOps,
    Schedule,
    _name,
    bound_of,
    check,
    check_bounds,
    check_growth,
    interval,
)
from composer_sched.schedules.cosine import CosineAnnealingSchedule
from composer_sched.schedules.registry import Duration, MethodConfig, param, register
from composer_sched.schedules.triangular import TriangularSchedule

__all__ = ['CyclicalSchedule', 'CyclicalConfig', 'SGDRConfig']

# Shapes whose value at time t depends on t / cycle_length only: one instance of length 1 evaluates every cycle of
# every length in one vectorised call. Any other Schedule class taking ``cycle_length`` works too, one instance per
# distinct length (built during evaluation, never stored).
_SCALE_FREE: tuple[type, ...] = (CosineAnnealingSchedule, TriangularSchedule)

# The precomputed table stops at 2**53 iterations (past it a float no longer counts iterations one by one) or at
# this many cycles; the tail's closed form takes over from there.
_TABLE_HORIZON = 2.0 ** 53
_TABLE_CYCLES_ROUNDED = 1 << 16
_TABLE_CYCLES_EXACT = 1 << 12
# Rounded lengths stop growing in the table past this (ceil of an overflowing product is an error).
_LENGTH_CEILING = 1e300


class _FrozenKwargs(Mapping[str, Any]):
    """A read-only, hashable mapping (the inner shape's keyword arguments); picklable, unlike ``MappingProxyType``."""

    __slots__ = ('_items',)
    _items: dict[str, Any]

    def __init__(self, items: Mapping[str, Any]) -> None:
        object.__setattr__(self, '_items', dict(items))

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError('the keyword arguments of a CyclicalSchedule are read-only')

    def __getitem__(self, key: str) -> Any:
        return self._items[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __hash__(self) -> int:
        return hash(frozenset(self._items.items()))

    def __repr__(self) -> str:
        return repr(self._items)

    def __reduce__(self) -> tuple[Any, ...]:
        return (_FrozenKwargs, (self._items,))


def _readonly(values: list[float]) -> np.ndarray[Any, np.dtype[np.float64]]:
    arr = np.array(values, dtype=float)
    arr.flags.writeable = False
    return arr


_FloatArray = np.ndarray[Any, np.dtype[np.float64]]


@dataclasses.dataclass(frozen=True, eq=False)
class _Cycles:
    """What evaluation needs, derived once from a :class:`CyclicalSchedule`'s arguments (never changed after).

    Cycles ``0 .. K-1`` are tabulated: ``starts`` :math:`B_0 .. B_K`, ``lengths`` and ``scales`` (:math:`d_M^k`),
    as tuples (bisect, scalar path) and read-only arrays (array path). Cycle ``K`` onwards is the tail: from
    ``tail_origin = (B, L, k0)`` (cycle ``k0`` of length ``L`` starts at ``B``) the cycles repeat (``tail_kind ==
    'repeat'``) or grow/shrink geometrically (``'geometric'``, a closed form).
    """
    unit: Schedule | None  # the inner shape of length 1, for shapes that depend on t / L only
    limit: float  # the value once exact shrinking cycles have run out
    starts: tuple[float, ...]
    lengths: tuple[float, ...]
    scales: tuple[float, ...]
    starts_array: _FloatArray
    lengths_array: _FloatArray
    scales_array: _FloatArray
    tail_kind: str
    tail_origin: tuple[float, float, float]


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
            ratio scales every cycle by it). Rounded lengths that neither settle nor reach :math:`2^{53}`
            iterations within 65,536 cycles (a decay within about :math:`10^{-4}` of 1) continue from there as
            exact geometric cycles (growing) or equal cycles (shrinking).
        **kwargs: passed to ``schedule_class`` (e.g. ``min_lr``, ``max_lr``).

    The object is immutable: :meth:`replace` (or ``dataclasses.replace``) makes a validated copy, and takes the
    inner shape's arguments too (``s.replace(max_lr=3)``).

    Raises:
        ValueError: an argument is outside its range, or ``schedule_class(cycle_length=..., **kwargs)`` fails.

    Example:
        >>> s = CyclicalSchedule(CosineAnnealingSchedule, min_lr=0.01, max_lr=2, cycle_length=250,
        ...                      cycle_length_decay=2, cycle_magnitude_decay=0.5)
        >>> s(0), s(250), s(750)
        (2.0, 1.0, 0.5)
        >>> s.replace(cycle_length=500)(500), s.replace(max_lr=4)(0)
        (1.0, 4.0)
    """
    schedule_class: type
    cycle_length: float = dataclasses.field(metadata=interval(lo=0, lo_open=True))
    cycle_length_decay: float = dataclasses.field(metadata=interval(lo=0))
    cycle_magnitude_decay: float = dataclasses.field(metadata=interval(lo=0))
    round_lengths: bool
    kwargs: Mapping[str, Any]
    _cycles: _Cycles = dataclasses.field(init=False, repr=False, compare=False)

    def __init__(self, schedule_class: type, cycle_length: float, cycle_length_decay: float = 1,
                 cycle_magnitude_decay: float = 1, round_lengths: bool = True, **kwargs: Any) -> None:
        check(isinstance(schedule_class, type) and issubclass(schedule_class, Schedule), 'schedule_class',
              schedule_class, 'a Schedule class taking cycle_length')
        check_bounds(CyclicalSchedule, {'cycle_length': cycle_length, 'cycle_length_decay': cycle_length_decay,
                                        'cycle_magnitude_decay': cycle_magnitude_decay})
        # dataclasses.replace passes the stored shape arguments back as `kwargs=`; explicit ones override them.
        stored = kwargs.pop('kwargs', None)
        shape_kwargs = {**(dict(stored) if isinstance(stored, Mapping) else {}), **kwargs}
        set_ = object.__setattr__
        for name, value in (('schedule_class', schedule_class), ('cycle_length', cycle_length),
                            ('cycle_length_decay', cycle_length_decay),
                            ('cycle_magnitude_decay', cycle_magnitude_decay), ('round_lengths', bool(round_lengths)),
                            ('kwargs', _FrozenKwargs(shape_kwargs))):
            set_(self, name, value)
        # Validate the shape's arguments now, not at the first evaluation.
        first = schedule_class(cycle_length=float(cycle_length), **shape_kwargs)
        unit = schedule_class(cycle_length=1.0, **shape_kwargs) if schedule_class in _SCALE_FREE else None
        end = float(first(float(cycle_length)))  # the value a cycle ends at (min_lr for the bundled shapes)
        dm = float(cycle_magnitude_decay)
        limit = 0.0 if end == 0 or dm < 1 else end if dm == 1 else math.inf
        set_(self, '_cycles', self._tabulate(unit, limit))

    def __hash__(self) -> int:
        return hash((self.schedule_class, self.cycle_length, self.cycle_length_decay, self.cycle_magnitude_decay,
                     self.round_lengths, self.kwargs))

    def __reduce__(self) -> tuple[Any, ...]:
        # Rebuilt from its arguments (the table is derived state).
        return (_rebuild, (self.schedule_class, self.cycle_length, self.cycle_length_decay,
                           self.cycle_magnitude_decay, self.round_lengths, dict(self.kwargs)))

    # -- the table, computed once --------------------------------------------------------------------------------
    def _tabulate(self, unit: Schedule | None, limit: float) -> _Cycles:
        """The table of cycles ``0 .. K-1`` and the tail's origin (see :class:`_Cycles`)."""
        d, L = float(self.cycle_length_decay), float(self.cycle_length)
        starts: list[float] = [0.0]
        lengths: list[float] = []
        if self.round_lengths:
            kind = 'repeat'
            while True:
                if starts[-1] >= _TABLE_HORIZON or len(lengths) >= _TABLE_CYCLES_ROUNDED or L * d > _LENGTH_CEILING:
                    kind = 'geometric' if d > 1 else 'repeat'
                    break
                nxt = float(max(math.ceil(L * d), 1))  # d = 0: cycles of 1
                if nxt == L:
                    break
                lengths.append(L)
                starts.append(starts[-1] + L)
                L = nxt
            origin = (starts[-1], L, float(len(lengths)))
        elif d == 1 or d == 0:  # equal cycles, or one (the tail's closed form)
            kind, origin = ('repeat' if d == 1 else 'geometric'), (0.0, L, 0.0)
        else:
            # Exact cycles: the table holds the closed form's own values, so that table and tail agree.
            kind, origin = 'geometric', (0.0, L, 0.0)
            if d > 1:
                lg = math.log1p(d - 1)
                n = math.log1p(min(_TABLE_HORIZON / L * (d - 1), sys.float_info.max)) / lg
                n = min(n, self._k_cap(d, L, lg))
            else:
                n = math.inf
            count = int(min(n, _TABLE_CYCLES_EXACT)) + 1
            ks = np.arange(count + 1, dtype=float)
            with np.errstate(over='ignore', divide='ignore'):
                b, ls = self._start_and_length(ks, ArrayOps, L)
            ok = np.flatnonzero(~(np.diff(b) > 0))  # the starts must increase: stop where they no longer do
            count = int(ok[0]) if ok.size else count
            starts, lengths = [float(x) for x in b[:count + 1]], [float(x) for x in ls[:count]]
        k_table = np.arange(len(lengths), dtype=float)
        with np.errstate(over='ignore'):
            scales = np.minimum(np.power(float(self.cycle_magnitude_decay), k_table), sys.float_info.max)
        scale_list = [float(x) for x in scales]
        return _Cycles(unit, limit, tuple(starts), tuple(lengths), tuple(scale_list), _readonly(starts),
                       _readonly(lengths), _readonly(scale_list), kind, origin)

    @staticmethod
    def _k_cap(d: float, L0: float, lg: float) -> float:
        # Cap k where a cycle's start stays finite: beyond, t sits at the end of that (astronomical) cycle.
        return max(0.0, math.floor((math.log(sys.float_info.max) + math.log(min(d - 1, 1.0)) - math.log(L0) - 1)
                                   / lg))

    def _start_and_length(self, k: Any, ops: Any, L0: float) -> tuple[Any, Any]:
        """:math:`B_k = L (d^k - 1)/(d - 1)` and :math:`L_k = L d^k`, in logs (``d^k`` alone may overflow where
        :math:`L d^k` does not); ``expm1`` keeps the starts exact near ``d = 1``."""
        d = float(self.cycle_length_decay)
        lg = math.log1p(d - 1) if d > 1 else math.log(d)
        x = k * lg
        # Capped below exp's overflow: a start the cycle cap admits has an exponent < 709 anyway, and a scalar
        # where() evaluates both branches.
        far = ops.exp(ops.minimum(math.log(L0) + x - math.log(d - 1), 709.0)) if d > 1 else 0.0
        near = L0 * ops.expm1(ops.minimum(x, 700.0)) / (d - 1)
        return ops.where(x > 700.0, far, near), ops.exp(math.log(L0) + x)

    @property
    def end_of_cycles(self) -> float:
        """Where exact shrinking cycles run out, :math:`L/(1-d_L)`; ``inf`` when they never do."""
        d = self.cycle_length_decay
        return float(self.cycle_length) / (1 - d) if d < 1 and not self.round_lengths else math.inf

    # -- locating a time ---------------------------------------------------------------------------------------
    def _tail(self, t: Any, ops: Any) -> tuple[Any, Any, Any]:
        """Cycle index, offset in the cycle and cycle length for ``t`` in the tail (``t >= B_K``): cycle
        ``k0 + j`` starts at ``origin`` plus the first ``j`` lengths :math:`L d^i` (``k0``, ``origin`` and
        :math:`L` from ``_tail_origin``), never before the table's end."""
        origin, L0, k0 = self._cycles.tail_origin
        tt = ops.maximum(t - origin, 0.0)
        if self._cycles.tail_kind == 'repeat':
            j = ops.floor(tt / L0)
            return k0 + j, ops.clip(tt - j * L0, 0.0, L0), L0
        d = float(self.cycle_length_decay)
        if d == 0:  # exact cycles, one cycle: the limit takes over at its end
            return ops.full_like(t, 0.0), ops.clip(tt, 0.0, L0), L0
        lg = math.log1p(d - 1) if d > 1 else math.log(d)  # log d, exact near 1 above it
        if d > 1:
            j_cap = self._k_cap(d, L0, lg)
            j = ops.minimum(ops.floor(ops.log1p(tt / L0 * (d - 1)) / lg), j_cap)
        else:
            j_cap = math.inf
            x = ops.minimum(tt / L0 * (1 - d), 1 - 2 ** -53)  # the fraction of L/(1-d) gone
            j = ops.floor(ops.log1p(-x) / lg)
        # Guard the logarithm's rounding at cycle boundaries; the tail starts where the table ends.
        j_min = min(float(len(self._cycles.lengths)) - k0, j_cap)
        j = ops.clip(j, j_min, j_cap)
        start, length = self._start_and_length(j, ops, L0)
        j = ops.clip(ops.where(tt < start, j - 1, ops.where(tt >= start + length, j + 1, j)), j_min, j_cap)
        start, length = self._start_and_length(j, ops, L0)
        length = ops.maximum(length, 5e-324)  # an underflowed cycle is still a cycle
        return k0 + j, ops.clip(tt - start, 0.0, length), length

    def _locate_scalar(self, t: float) -> tuple[float, float, float, float]:
        """Cycle index, offset, length and magnitude at a scalar ``t``."""
        starts = self._cycles.starts
        i = bisect.bisect_right(starts, t) - 1
        if i < len(self._cycles.lengths):
            i = max(i, 0)
            length = self._cycles.lengths[i]
            return float(i), min(max(t - starts[i], 0.0), length), length, self._cycles.scales[i]
        k, offset, length = self._tail(t, ScalarOps)
        return k, offset, length, self._magnitude(k, ScalarOps)

    def _magnitude(self, k: Any, ops: Any) -> Any:
        dm = self.cycle_magnitude_decay
        if dm == 1:
            return 1.0
        # Capped so that a 0 at a cycle's end stays 0 (no inf * 0) where growing magnitudes overflow.
        return ops.minimum(ops.power(float(dm), k), sys.float_info.max)

    def _inner(self, offset: Any, length: Any, ops: Any) -> Any:
        """The inner shape at ``offset`` into cycles of ``length`` (arrays of one shape, or scalars)."""
        unit: Any = self._cycles.unit
        if unit is not None:
            return unit._eval(offset / length, ops)
        if not ops.array or np.ndim(length) == 0:
            shape: Any = self.schedule_class(cycle_length=float(length), **self.kwargs)
            return shape._eval(offset, ops)
        out = np.empty(np.shape(offset), dtype=float)
        lengths, which = np.unique(length, return_inverse=True)
        for i, one in enumerate(lengths):
            mask = which == i
            out[mask] = self.schedule_class(cycle_length=float(one), **self.kwargs)._eval(offset[mask], ops)
        return out

    def _cycles_scalar(self, t: float) -> float:
        _, offset, length, scale = self._locate_scalar(t)
        return float(self._inner(offset, length, ScalarOps)) * scale

    def _cycles_array(self, t: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
        flat = t.ravel()
        K, n = len(self._cycles.lengths), flat.size
        if K == 0:  # all tail (equal cycles from the start, or exact geometric ones)
            return np.reshape(self._tail_values(flat), t.shape)
        out = np.empty(n, dtype=float)
        if n > 1 and bool(np.all(flat[1:] >= flat[:-1])):
            # Sorted times: each cycle is a slice, found by searching the cycle boundaries in the times.
            cuts = np.searchsorted(flat, self._cycles.starts_array, side='left')
            head = int(cuts[-1])  # the points before the tail
            busy = np.flatnonzero(cuts[1:] > cuts[:-1])  # the cycles holding points
            if self._cycles.unit is not None and busy.size * 64 <= head:
                if head == n:  # no tail: the slices' values are the answer
                    return np.reshape(self._sliced(flat, cuts, busy, out), t.shape)
                out[:head] = self._sliced(flat, cuts, busy, out)
            else:
                idx = np.repeat(np.arange(K), np.diff(cuts[1:], prepend=0))
                out[:head] = self._gathered(flat[:head], idx)
            rest: Any = slice(head, n)
        else:
            idx = np.searchsorted(self._cycles.starts_array, flat, side='right') - 1
            rest = idx >= K
            if not bool(np.all(rest)):
                inside = ~rest
                out[inside] = self._gathered(flat[inside], np.maximum(idx[inside], 0))
        tail = flat[rest]
        if tail.size:
            out[rest] = self._tail_values(tail)
        return out.reshape(t.shape)

    def _sliced(self, flat: np.ndarray[Any, Any], cuts: np.ndarray[Any, Any], busy: np.ndarray[Any, Any],
                out: np.ndarray[Any, Any]) -> Any:
        """The values before the tail (``out[:head]`` is scratch), one slice per cycle of sorted times (few
        cycles for many points): the scalar path's arithmetic without gathering per-point starts and lengths."""
        head = int(cuts[-1])
        u = out[:head]
        starts, lengths, scales = self._cycles.starts, self._cycles.lengths, self._cycles.scales
        for j in busy.tolist():
            lo, hi = int(cuts[j]), int(cuts[j + 1])
            seg = u[lo:hi]
            np.subtract(flat[lo:hi], starts[j], out=seg)  # >= 0: t >= B_j
            if j == 0:
                np.maximum(seg, 0.0, out=seg)  # t < 0: the first cycle's start
            np.divide(seg, lengths[j], out=seg)
        # The scalar path's clip(t - B_j, 0, L_j) / L_j: exact lengths may fall short of B_{j+1} - B_j by rounding.
        np.minimum(u, 1.0, out=u)
        unit: Any = self._cycles.unit
        value = unit._eval(u, ArrayOps)
        if self.cycle_magnitude_decay != 1:
            for j in busy.tolist():
                value[int(cuts[j]):int(cuts[j + 1])] *= scales[j]
        return value

    def _gathered(self, tt: np.ndarray[Any, Any], idx: np.ndarray[Any, Any]) -> Any:
        """Values at times ``tt`` in table cycles ``idx`` (any order)."""
        length = self._cycles.lengths_array[idx]
        offset = np.clip(tt - self._cycles.starts_array[idx], 0.0, length)
        value = self._inner(offset, length, ArrayOps)
        if self.cycle_magnitude_decay != 1:
            value = value * self._cycles.scales_array[idx]
        return value

    def _tail_values(self, tt: np.ndarray[Any, Any]) -> Any:
        unit: Any = self._cycles.unit
        if self._cycles.tail_kind == 'repeat' and unit is not None:
            # _tail's arithmetic for equal cycles, in place (the common case: it is every point of equal cycles).
            origin, L0, k0 = self._cycles.tail_origin
            u = tt if origin == 0 and tt.size and tt.min() >= 0 else np.maximum(np.subtract(tt, origin), 0.0)
            j = np.divide(u, L0)
            np.floor(j, out=j)
            scale = 1.0 if self.cycle_magnitude_decay == 1 else self._magnitude(k0 + j, ArrayOps)
            offset = np.multiply(j, L0, out=j)  # j is spent: reuse its memory
            np.subtract(u, offset, out=offset)
            np.clip(offset, 0.0, L0, out=offset)
            np.divide(offset, L0, out=offset)
            value = unit._eval(offset, ArrayOps)
            return value if self.cycle_magnitude_decay == 1 else value * scale
        k, offset, length = self._tail(tt, ArrayOps)
        value = self._inner(offset, length, ArrayOps)
        return value if self.cycle_magnitude_decay == 1 else value * self._magnitude(k, ArrayOps)

    def _eval(self, t: Any, ops: Any) -> Any:
        out_at = self.end_of_cycles
        if not ops.array:  # _cycles_scalar inlined: this runs every batch, one frame less
            if t >= out_at:
                return self._cycles.limit
            _, offset, length, scale = self._locate_scalar(t)
            return float(self._inner(offset, length, ScalarOps)) * scale
        value = self._cycles_array(t)
        return value if out_at == math.inf else np.where(t >= out_at, self._cycles.limit, value)

    def check_horizon(self, t_end: float, names: Mapping[str, str] | None = None) -> None:
        """Raise ``ValueError`` when shrinking cycles run out before ``t_end``, or when growing magnitudes
        (``d_M > 1``) raise the multiplier more than :data:`~composer_sched.schedules._base.MAX_GROWTH`-fold by
        then (see :meth:`Schedule.check_horizon`).

        Example:
            >>> s = CyclicalSchedule(CosineAnnealingSchedule, min_lr=0, max_lr=1, cycle_length=250,
            ...                      cycle_length_decay=0.5, round_lengths=False)
            >>> s.end_of_cycles
            500.0
            >>> import re
            >>> try:
            ...     s.check_horizon(1000)
            ... except ValueError as e:
            ...     for part in re.split(': |, ', str(e)):
            ...         print(part)
            cycle_length_decay=0.5 is not allowed on this horizon
            cycles each 0.5 times the last add up to cycle_length/(1 - cycle_length_decay) = 500
            less than the 1000 to cover
            cycle_length_decay must be >= 0.75 (or cycle_length >= 500).
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
            k_end = math.inf if t_end >= self.end_of_cycles else self._locate_scalar(float(t_end))[0]
            peak = max([abs(float(v)) for v in self.kwargs.values() if isinstance(v, numbers.Real)] + [1.0])
            check_growth(_name(names, 'cycle_magnitude_decay'), dm, k_end, t_end, start=peak)


def _rebuild(schedule_class: type, cycle_length: float, cycle_length_decay: float, cycle_magnitude_decay: float,
             round_lengths: bool, kwargs: dict[str, Any]) -> CyclicalSchedule:
    return CyclicalSchedule(schedule_class, cycle_length, cycle_length_decay, cycle_magnitude_decay, round_lengths,
                            **kwargs)


@register
class CyclicalConfig(MethodConfig):
    """Repeated triangular or cosine cycles, each t_mult times longer than the last and scaled by magnitude_decay.

    The cycle knobs are sgdr's (``t_0``, ``t_mult``, ``magnitude_decay``), as Composer's and torch's users know
    them (the former ``t_cycle``, ``cycle_length_decay`` and ``cycle_magnitude_decay`` get a "did you mean"). Cycle
    lengths are exact (``t_mult`` times the last, not rounded) so that scaling a run scales every cycle.

    Example:
        >>> s = CyclicalConfig(t_mult=2.0, alpha_min=0.1).build(t_0=10)  # cycles of 10, 20, 40, ...
        >>> [round(s(t), 12) for t in (0, 5, 10, 20, 30)]
        [0.1, 1.0, 0.1, 1.0, 0.1]
    """
    NAME = 'cyclical'
    REFERENCE = 'Smith (2015), Cyclical Learning Rates'
    ALIASES = {'cycle_length': 't_0', 'cycle_length_decay': 't_mult', 'cycle_magnitude_decay': 'magnitude_decay',
               'min_lr': 'alpha_min', 'max_lr': 'alpha_max'}

    shape: str = param('triangular', 'cycle shape', choices=('triangular', 'cosine'), example='triangular')
    t_0: Duration = param('0.25dur', 'length of the first cycle', kind='duration', example='25ba')
    t_mult: float = param(1.0, 'each cycle is the previous one times this (0: one cycle; < 1: the shrinking cycles '
                               'must cover the run)', bound=bound_of(CyclicalSchedule, 'cycle_length_decay'),
                               example=1.5)
    magnitude_decay: float = param(1.0, 'each cycle is scaled by this once more (0: one cycle, then alpha 0; > 1: '
                                        'bounded growth)', bound=bound_of(CyclicalSchedule, 'cycle_magnitude_decay'),
                                        example=0.8)
    alpha_min: float = param(0.0, 'lower bound multiplier', bound=bound_of(TriangularSchedule, 'min_lr'), example=0.05)
    alpha_max: float = param(1.0, 'upper bound multiplier', bound=bound_of(TriangularSchedule, 'max_lr'), example=1.0)
    inc_fraction: float = param(0.5, 'triangular only: rising fraction of a cycle', bound=bound_of(TriangularSchedule,
                                'inc_fraction'), example=0.5)

    def build(self, t_0: float) -> Schedule:
        kwargs: dict[str, Any] = dict(min_lr=self.alpha_min, max_lr=self.alpha_max)
        if self.shape == 'triangular':
            kwargs['inc_fraction'] = self.inc_fraction
        cls = TriangularSchedule if self.shape == 'triangular' else CosineAnnealingSchedule
        return CyclicalSchedule(cls, cycle_length=t_0, cycle_length_decay=self.t_mult,
                                cycle_magnitude_decay=self.magnitude_decay, round_lengths=False, **kwargs)


@register
class SGDRConfig(MethodConfig):
    """SGDR: cosine cycles from 1 to alpha_f with warm restarts, each t_mult longer and scaled by decay.

    Example:
        >>> s = SGDRConfig(t_mult=2.0, magnitude_decay=0.5).build(t_0=10)  # cycles of 10, 20, 40, ...
        >>> [round(s(t), 12) for t in (0, 5, 10, 20, 30)]
        [1.0, 0.5, 0.5, 0.25, 0.25]
    """
    NAME = 'sgdr'
    REFERENCE = 'Loshchilov & Hutter (2016), SGDR'
    ALIASES = {'cycle_length': 't_0', 'cycle_length_decay': 't_mult', 'cycle_magnitude_decay': 'magnitude_decay',
               'min_lr': 'alpha_f'}

    t_0: Duration = param('0.25dur', 'length of the first cycle', kind='duration', example='0.2dur')
    t_mult: float = param(1.0, 'each cycle is the previous one times this (0: one cycle; < 1: the shrinking cycles '
                               'must cover the run)', bound=bound_of(CyclicalSchedule, 'cycle_length_decay'),
                               example=2.0)
    magnitude_decay: float = param(1.0, 'each cycle peak is the previous one times this (0: one cycle, then alpha '
                                        '0; > 1: bounded growth)', bound=bound_of(CyclicalSchedule,
                                        'cycle_magnitude_decay'), example=0.7)
    alpha_f: float = param(0.0, 'multiplier at the end of each cycle', bound=bound_of(CosineAnnealingSchedule,
                           'min_lr'), example=0.01)

    def build(self, t_0: float) -> Schedule:
        return CyclicalSchedule(CosineAnnealingSchedule, cycle_length=t_0, cycle_length_decay=self.t_mult,
                                cycle_magnitude_decay=self.magnitude_decay, round_lengths=False,
                                min_lr=self.alpha_f, max_lr=1.0)
