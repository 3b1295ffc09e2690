"""The schedule protocol shared by every shape and wrapper in the pure core.

A schedule is an immutable object that maps time ``t`` (iterations, counted from 0) to a value (a learning rate
or an LR multiplier). Each formula is written once, against a small operator namespace, and runs on either of
two backends: ``math`` for a Python scalar (fast: a Composer scheduler calls it every batch) and ``numpy`` for an
array (a plot, a preview, a bound over 10^6 steps). No torch or Composer import belongs in this package.
"""
from __future__ import annotations

import bisect
import dataclasses
import math
import numbers
import sys
from typing import Any, Mapping, Sequence, TypeVar, Union, cast, overload

import numpy as np

__all__ = ['Schedule', 'ScalarOps', 'ArrayOps', 'ParamError', 'check', 'check_number', 'check_int', 'check_choice',
           'check_increasing', 'check_growth', 'MAX_GROWTH', 'TimeLike', 'Ops', 'Bound', 'interval', 'bound_of',
           'check_bounds']

#: How far a schedule whose parameters compound (``gamma > 1``, ``cycle_magnitude_decay > 1``) may raise its
#: multiplier over a horizon: 10 decades, the span of an LR range test (1e-8 to 1e2). Past it a run is a runaway
#: parameter, not a schedule (``1.5 ** 1000`` is 1e176; a float32 update overflows long before).
MAX_GROWTH = 1e10

TimeLike = Union[float, int, 'np.ndarray[Any, Any]', Sequence[float]]
S = TypeVar('S', bound='Schedule')

#: The operator namespace a formula is written against: :class:`ScalarOps` or :class:`ArrayOps` (the class itself).
Ops = Any


class ScalarOps:
    """Operators on Python floats (one branch taken, no numpy overhead)."""

    array = False

    @staticmethod
    def where(cond: Any, a: Any, b: Any) -> Any:
        return a if cond else b

    @staticmethod
    def clip(x: float, lo: float, hi: float) -> float:
        return lo if x < lo else hi if x > hi else x

    minimum = staticmethod(min)
    maximum = staticmethod(max)
    cos = staticmethod(math.cos)
    sqrt = staticmethod(math.sqrt)
    exp = staticmethod(math.exp)
    log = staticmethod(math.log)
    log1p = staticmethod(math.log1p)
    expm1 = staticmethod(math.expm1)

    @staticmethod
    def floor(x: float) -> float:
        # A float, as numpy's: math.floor returns an int, and raises on inf.
        return float(math.floor(x)) if math.isfinite(x) else x

    @staticmethod
    def power(x: float, y: float) -> float:
        """``x ** y``, ``inf`` on overflow as in numpy and torch (a Python float raises ``OverflowError``)."""
        try:
            return float(x ** y)
        except OverflowError:
            return math.inf

    @staticmethod
    def count_le(sorted_values: Sequence[float], t: float) -> int:
        """How many of ``sorted_values`` are ``<= t``."""
        return bisect.bisect_right(sorted_values, t)

    @staticmethod
    def count_lt(sorted_values: Sequence[float], t: float) -> int:
        """How many of ``sorted_values`` are ``< t``."""
        return bisect.bisect_left(sorted_values, t)

    @staticmethod
    def full_like(t: Any, value: float) -> float:
        return value


class ArrayOps:
    """The same operators on numpy arrays, element-wise."""

    array = True
    where = staticmethod(np.where)
    clip = staticmethod(np.clip)
    minimum = staticmethod(np.minimum)
    maximum = staticmethod(np.maximum)
    cos = staticmethod(np.cos)
    sqrt = staticmethod(np.sqrt)
    exp = staticmethod(np.exp)
    log = staticmethod(np.log)
    log1p = staticmethod(np.log1p)
    expm1 = staticmethod(np.expm1)
    floor = staticmethod(np.floor)

    @staticmethod
    def power(x: Any, y: Any) -> Any:
        with np.errstate(over='ignore'):
            return np.power(x, y)

    @staticmethod
    def count_le(sorted_values: Sequence[float], t: Any) -> Any:
        return np.searchsorted(np.asarray(sorted_values, dtype=float), t, side='right')

    @staticmethod
    def count_lt(sorted_values: Sequence[float], t: Any) -> Any:
        return np.searchsorted(np.asarray(sorted_values, dtype=float), t, side='left')

    @staticmethod
    def full_like(t: Any, value: float) -> Any:
        return np.full(np.shape(t), value, dtype=float)


class Schedule:
    """Base class of every schedule: a frozen dataclass evaluated as a pure function of time.

    Subclasses are ``@dataclasses.dataclass(frozen=True)``, validate their fields in ``__post_init__`` and
    implement ``_eval(t, ops)`` once, in terms of ``ops`` (:class:`ScalarOps` or :class:`ArrayOps`).

    Calling a schedule on a Python or numpy scalar returns a ``float``; on a sequence or array it returns a float
    array of the same shape. Time is the iteration index ``t >= 0`` (fractions are allowed).

    Example:
        >>> from composer_sched.schedules import CosineAnnealingSchedule
        >>> s = CosineAnnealingSchedule(min_lr=1, max_lr=2, cycle_length=1000)
        >>> s(0), s(500), s(1000)
        (2.0, 1.5, 1.0)
    """

    @overload
    def __call__(self, t: float) -> float: ...

    @overload
    def __call__(self, t: 'np.ndarray[Any, Any] | Sequence[float]') -> 'np.ndarray[Any, np.dtype[np.float64]]': ...

    def __call__(self, t: TimeLike) -> Any:
        if isinstance(t, numbers.Real) and not isinstance(t, np.ndarray):
            return float(self._eval(float(t), ScalarOps))
        arr = np.asarray(t, dtype=float)
        if arr.ndim == 0:
            return float(self._eval(float(arr), ScalarOps))
        with np.errstate(over='ignore', divide='ignore'):  # inf in a branch np.where discards is no news
            out = self._eval(arr, ArrayOps)
        return np.broadcast_to(np.asarray(out, dtype=float), arr.shape).copy()

    def _eval(self, t: Any, ops: Ops) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def replace(self: S, **changes: Any) -> S:
        """A copy with some fields changed (validated again)."""
        return cast(S, dataclasses.replace(cast(Any, self), **changes))

    def check_horizon(self, t_end: float, names: Mapping[str, str] | None = None) -> None:
        """Raise ``ValueError`` unless the schedule is finite on ``[0, t_end]``.

        Every schedule is finite and non-negative at every time once constructed, except those whose parameters
        compound (growth, shrinking cycles): they override this, and the adapters call it when a run's horizon is
        known (the Trainer's start), so that a run never fails midway.

        Args:
            t_end: the last time evaluated, ``>= 0``.
            names: how the user spelled this schedule's fields (a registered method's parameter names), for the
                message; a field not in it keeps its own name.

        Raises:
            ValueError: naming the parameter, its value and the values allowed on this horizon.
        """


def _name(names: Mapping[str, str] | None, field: str) -> str:
    return (names or {}).get(field, field)


# ---------------------------------------------------------------------------------------------------------------
# Validation helpers: every message names the argument, the value and what is allowed.

class ParamError(ValueError):
    """A ``ValueError`` that knows the parameter it names, so that a registered method can re-raise it under the
    name its user gave (a core shape's ``max_lr`` is a recipe's ``alpha_max``)."""

    def __init__(self, name: str, value: Any, allowed: str, detail: str = ''):
        self.name, self.value, self.allowed, self.detail = name, value, allowed, detail
        super().__init__(f'{name}={value!r} is not allowed{detail}: {name} must be {allowed}.')

    def renamed(self, names: Mapping[str, str]) -> 'ParamError':
        """The same error under the user's name (``'step[2]'`` renames by its stem ``'step'``)."""
        stem, bracket, rest = self.name.partition('[')
        if stem not in names:
            return self
        return ParamError(names[stem] + bracket + rest, self.value, self.allowed, self.detail)


def check(ok: bool, name: str, value: Any, allowed: str) -> None:
    """Raise ``ValueError`` naming ``name`` and ``value`` unless ``ok``."""
    if not ok:
        raise ParamError(name, value, allowed)


def check_number(name: str, value: Any, *, lo: float | None = None, hi: float | None = None,
                 lo_open: bool = False, hi_open: bool = False) -> float:
    """Check that ``value`` is a finite real number in the given interval and return it as a float."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(float(value)):
        raise ParamError(name, value, 'a finite number')
    v = float(value)
    bad = ((lo is not None and (v < lo or (lo_open and v == lo))) or
           (hi is not None and (v > hi or (hi_open and v == hi))))
    if bad:
        left = '(' if lo_open else '['
        right = ')' if hi_open else ']'
        lo_s = '-inf' if lo is None else f'{lo:g}'
        hi_s = 'inf' if hi is None else f'{hi:g}'
        raise ParamError(name, value, f'in {left}{lo_s}, {hi_s}{right}')
    return v


@dataclasses.dataclass(frozen=True)
class Bound:
    """A numeric interval, declared once: on a core shape's field, which the shape checks
    (:func:`check_bounds`) and a method's config reads for its parameter (:func:`bound_of`, ``param(bound=...)``).
    Declared with :func:`interval`.

    Args:
        lo, hi: the ends (``None``: unbounded), closed unless ``lo_open`` / ``hi_open``.
        source: ``'Shape.field'`` where it was declared (set by :func:`bound_of`; ``''`` for a literal).

    Example:
        >>> Bound(lo=0, lo_open=True).check('length', 2)
        2.0
        >>> Bound(lo=0, hi=1).narrowed(hi=0.5).allowed
        'in [0, 0.5]'
    """
    lo: float | None = None
    hi: float | None = None
    lo_open: bool = False
    hi_open: bool = False
    source: str = ''

    @property
    def allowed(self) -> str:
        """The interval in words: ``'in (0, inf]'``."""
        lo = '-inf' if self.lo is None else f'{self.lo:g}'
        hi = 'inf' if self.hi is None else f'{self.hi:g}'
        return f"in {'(' if self.lo_open else '['}{lo}, {hi}{')' if self.hi_open else ']'}"

    def check(self, name: str, value: Any) -> float:
        """``value`` as a float, or a :class:`ParamError` naming ``name``: see :func:`check_number`."""
        return check_number(name, value, lo=self.lo, hi=self.hi, lo_open=self.lo_open, hi_open=self.hi_open)

    def narrowed(self, *, hi: float) -> 'Bound':
        """The same interval (and source) with a tighter closed upper end: where a config fixes another argument
        of the shape (WSD builds its shape with ``base_lr=1``, so its ``final_lr <= base_lr`` becomes ``<= 1``)."""
        if self.hi is not None and hi > self.hi:
            raise ValueError(f'hi={hi!r} is not allowed: a narrowed bound must be <= {self.hi:g}.')
        return dataclasses.replace(self, hi=hi, hi_open=False)


def interval(*, lo: float | None = None, hi: float | None = None, lo_open: bool = False,
             hi_open: bool = False) -> dict[str, Bound]:
    """The ``metadata`` of a core shape's numeric field that declares its interval, the one place the bound is
    written: ``min_lr: float = dataclasses.field(metadata=interval(lo=0))``. The shape's ``__post_init__`` calls
    :func:`check_bounds`; a config whose parameter becomes this field declares
    ``param(..., bound=bound_of(Shape, 'field'))``."""
    return {'bound': Bound(lo, hi, lo_open, hi_open)}


def bound_of(cls: type, name: str) -> Bound:
    """The :class:`Bound` declared on field ``name`` of the dataclass ``cls``, its ``source`` set.

    Raises:
        ValueError: ``cls`` has no such field, or it declares no bound.

    Example:
        >>> from composer_sched.schedules.cosine import CosineAnnealingSchedule
        >>> bound_of(CosineAnnealingSchedule, 'k_decay')
        Bound(lo=0, hi=None, lo_open=True, hi_open=False, source='CosineAnnealingSchedule.k_decay')
    """
    for f in dataclasses.fields(cls):
        if f.name == name and 'bound' in f.metadata:
            declared: Bound = f.metadata['bound']
            return dataclasses.replace(declared, source=f'{cls.__name__}.{name}')
    raise ValueError(f'{cls.__name__}.{name} declares no bound: declare it with interval(...).')


def check_bounds(shape: Any, values: Mapping[str, Any] | None = None) -> None:
    """Check every :func:`interval` field of ``shape`` (a dataclass instance, or class with ``values`` by name),
    in field order; a :class:`ParamError` names the field. A field whose default is ``None`` may be ``None``."""
    for f in dataclasses.fields(shape):
        if 'bound' in f.metadata:
            value = values[f.name] if values is not None else getattr(shape, f.name)
            if not (value is None and f.default is None):
                f.metadata['bound'].check(f.name, value)


def check_int(name: str, value: Any, *, lo: int | None = None) -> int:
    """Check that ``value`` is an integer (an integral float is accepted) ``>= lo``."""
    ok = (isinstance(value, numbers.Integral) and not isinstance(value, bool)) or (
        isinstance(value, float) and value.is_integer())
    if not ok or (lo is not None and value < lo):
        bound = '' if lo is None else f' >= {lo}'
        raise ParamError(name, value, f'an integer{bound}')
    return int(value)


def check_choice(name: str, value: Any, choices: Sequence[str]) -> str:
    """Check that ``value`` is one of ``choices``."""
    if value not in choices:
        raise ParamError(name, value, f'one of {", ".join(map(repr, choices))}')
    return cast(str, value)


def check_increasing(name: str, values: Any, *, strict: bool = True, lo: float = 0.0) -> tuple[float, ...]:
    """Check a sequence of finite numbers ``>= lo`` in increasing order; return it as a tuple of floats."""
    if isinstance(values, (str, bytes)) or not isinstance(values, Sequence) and not isinstance(values, np.ndarray):
        raise ParamError(name, values, 'a list of numbers')
    out = tuple(check_number(f'{name}[{i}]', v, lo=lo) for i, v in enumerate(values))
    for a, b in zip(out, out[1:]):
        if b < a or (strict and b == a):
            order = 'strictly increasing' if strict else 'non-decreasing'
            raise ParamError(name, list(values), order)
    return out


def check_growth(name: str, value: float, exponent: float, t_end: float, start: float = 1.0) -> None:
    """Check that compounding ``value ** exponent`` (reached by ``t_end``) stays within :data:`MAX_GROWTH` and
    ``start * value ** exponent`` is finite; otherwise a ``ValueError`` gives the largest ``value`` allowed."""
    if value <= 1 or exponent <= 0:
        return
    growth = ScalarOps.power(value, exponent)
    if growth <= MAX_GROWTH and math.isfinite(start * growth):
        return
    limit = min(MAX_GROWTH, sys.float_info.max / max(start, 1.0)) ** (1.0 / exponent) if math.isfinite(exponent) \
        else 1.0
    shown = float(f'{limit:.6g}')
    if shown > limit:  # the value suggested must pass: round down in the 6th digit
        shown = float(f'{limit - 10 ** (math.floor(math.log10(limit)) - 5):.6g}')
    raise ParamError(name, value, f'<= {shown:.6g} on this horizon (at most {MAX_GROWTH:g}-fold growth)',
                     f' on this horizon: the multiplier grows {growth:.3g}-fold by t={t_end:g} '
                     f'({name}**{exponent:g})')
