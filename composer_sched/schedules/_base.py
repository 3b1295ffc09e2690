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
from typing import Any, Sequence, Union

import numpy as np

__all__ = ['Schedule', 'ScalarOps', 'ArrayOps', 'check', 'check_number', 'check_int', 'check_choice',
           'check_increasing', 'TimeLike']

TimeLike = Union[float, int, np.ndarray, Sequence[float]]


class ScalarOps:
    """Operators on Python floats (one branch taken, no numpy overhead)."""

    array = False

    @staticmethod
    def where(cond, a, b):
        return a if cond else b

    @staticmethod
    def clip(x, lo, hi):
        return lo if x < lo else hi if x > hi else x

    minimum = staticmethod(min)
    maximum = staticmethod(max)
    cos = staticmethod(math.cos)
    sqrt = staticmethod(math.sqrt)
    exp = staticmethod(math.exp)
    log = staticmethod(math.log)
    floor = staticmethod(math.floor)

    @staticmethod
    def count_le(sorted_values, t):
        """How many of ``sorted_values`` are ``<= t``."""
        return bisect.bisect_right(sorted_values, t)

    @staticmethod
    def count_lt(sorted_values, t):
        """How many of ``sorted_values`` are ``< t``."""
        return bisect.bisect_left(sorted_values, t)

    @staticmethod
    def full_like(t, value):
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
    floor = staticmethod(np.floor)

    @staticmethod
    def count_le(sorted_values, t):
        return np.searchsorted(np.asarray(sorted_values, dtype=float), t, side='right')

    @staticmethod
    def count_lt(sorted_values, t):
        return np.searchsorted(np.asarray(sorted_values, dtype=float), t, side='left')

    @staticmethod
    def full_like(t, value):
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

    def __call__(self, t: TimeLike):
        if isinstance(t, numbers.Real) and not isinstance(t, np.ndarray):
            return float(self._eval(float(t), ScalarOps))
        arr = np.asarray(t, dtype=float)
        if arr.ndim == 0:
            return float(self._eval(float(arr), ScalarOps))
        out = self._eval(arr, ArrayOps)
        return np.broadcast_to(np.asarray(out, dtype=float), arr.shape).copy()

    def _eval(self, t, ops):  # pragma: no cover - abstract
        raise NotImplementedError

    def replace(self, **changes) -> 'Schedule':
        """A copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)


# ---------------------------------------------------------------------------------------------------------------
# Validation helpers: every message names the argument, the value and what is allowed.

def check(ok: bool, name: str, value: Any, allowed: str) -> None:
    """Raise ``ValueError`` naming ``name`` and ``value`` unless ``ok``."""
    if not ok:
        raise ValueError(f'{name}={value!r} is not allowed: {name} must be {allowed}.')


def check_number(name: str, value: Any, *, lo: float | None = None, hi: float | None = None,
                 lo_open: bool = False, hi_open: bool = False) -> float:
    """Check that ``value`` is a finite real number in the given interval and return it as a float."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(float(value)):
        raise ValueError(f'{name}={value!r} is not allowed: {name} must be a finite number.')
    v = float(value)
    bad = ((lo is not None and (v < lo or (lo_open and v == lo))) or
           (hi is not None and (v > hi or (hi_open and v == hi))))
    if bad:
        left = '(' if lo_open else '['
        right = ')' if hi_open else ']'
        lo_s = '-inf' if lo is None else f'{lo:g}'
        hi_s = 'inf' if hi is None else f'{hi:g}'
        raise ValueError(f'{name}={value!r} is not allowed: {name} must be in {left}{lo_s}, {hi_s}{right}.')
    return v


def check_int(name: str, value: Any, *, lo: int | None = None) -> int:
    """Check that ``value`` is an integer (an integral float is accepted) ``>= lo``."""
    ok = (isinstance(value, numbers.Integral) and not isinstance(value, bool)) or (
        isinstance(value, float) and value.is_integer())
    if not ok or (lo is not None and value < lo):
        bound = '' if lo is None else f' >= {lo}'
        raise ValueError(f'{name}={value!r} is not allowed: {name} must be an integer{bound}.')
    return int(value)


def check_choice(name: str, value: Any, choices: Sequence[str]) -> str:
    """Check that ``value`` is one of ``choices``."""
    if value not in choices:
        raise ValueError(f'{name}={value!r} is not allowed: {name} must be one of {", ".join(map(repr, choices))}.')
    return value


def check_increasing(name: str, values: Any, *, strict: bool = True, lo: float = 0.0) -> tuple[float, ...]:
    """Check a sequence of finite numbers ``>= lo`` in increasing order; return it as a tuple of floats."""
    if isinstance(values, (str, bytes)) or not isinstance(values, Sequence) and not isinstance(values, np.ndarray):
        raise ValueError(f'{name}={values!r} is not allowed: {name} must be a list of numbers.')
    out = tuple(check_number(f'{name}[{i}]', v, lo=lo) for i, v in enumerate(values))
    for a, b in zip(out, out[1:]):
        if b < a or (strict and b == a):
            order = 'strictly increasing' if strict else 'non-decreasing'
            raise ValueError(f'{name}={list(values)!r} is not allowed: {name} must be {order}.')
    return out
