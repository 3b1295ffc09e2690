"""Several Composer schedulers as one, whose value is their product: the package's one rule for several
schedulers (as torch's chainable schedulers and composer_sched's schedule algorithms combine them)."""
from __future__ import annotations

import inspect
import math
from typing import Any, Optional

from composer_sched.adapters.composer import takes_ssr

__all__ = ['ProductScheduler', 'factors_of']


def _check_factor(i: int, s: Any) -> bool:
    """Whether factor ``i`` takes ``(state, ssr)``; a ``ValueError`` naming it unless it is a Composer scheduler."""
    if isinstance(s, ProductScheduler):  # checked when it was built
        return True
    what = f'ProductScheduler: scheduler {i} ({s!r})'
    if isinstance(s, type):
        raise ValueError(f'{what} is a class, not a scheduler: pass an instance, e.g. {s.__name__}(...).')
    if hasattr(s, 'step') and hasattr(s, 'optimizer'):
        raise ValueError(f'{what} is a PyTorch scheduler, which is stepped, not called: give Composer schedulers '
                         '(fn(state, ssr=1.0) -> float), or pass the PyTorch scheduler to the Trainer beside '
                         'composer_sched schedule algorithms (their driver multiplies it in).')
    if not callable(s):
        raise ValueError(f'{what} is not allowed: each factor must be a Composer scheduler, a callable '
                         'fn(state, ssr=1.0) -> float.')
    two_args = takes_ssr(s)
    try:
        sig = inspect.signature(s)
    except (TypeError, ValueError):  # a builtin without a signature: trust it, as Composer does
        return two_args
    try:
        sig.bind(None, 1.0) if two_args else sig.bind(None)
    except TypeError:
        raise ValueError(f'{what} is not allowed: a Composer scheduler is called as fn(state) or fn(state, ssr); '
                         f'its signature is {sig}.') from None
    return two_args


def _flatten(product: 'ProductScheduler') -> list:
    """``(position, factor, takes_ssr)`` of every leaf factor of ``product``, nested products opened with an explicit
    stack (depth costs no recursion). A position is a linked ``(parent, index)`` pair, rendered by :func:`_where`
    only for an error message, so a deep nesting costs no long strings."""
    out = []
    stack: list[tuple[Any, Any, bool]] = [((None, i), s, two) for i, (s, two) in
                                          enumerate(zip(product.factors, product._two_args))][::-1]
    while stack:
        where, s, two = stack.pop()
        if isinstance(s, ProductScheduler):
            stack.extend([((where, j), f, t) for j, (f, t) in enumerate(zip(s.factors, s._two_args))][::-1])
        else:
            out.append((where, s, two))
    return out


def _where(position) -> str:
    """``'1.0'`` for factor 0 of factor 1 (a position from :func:`_flatten`)."""
    parts = []
    while position is not None:
        position, i = position
        parts.append(str(i))
    return '.'.join(reversed(parts))


def _checked_value(where: Any, s: Any, value: Any, state: Any) -> float:
    """A factor's value for this step as a float, refused unless finite and ``>= 0`` (an LR multiplier): a NaN,
    an infinity or a negative factor would train with a NaN or negative LR without a word."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        v = math.nan
        bad = f'{value!r}, not a number'
    else:
        bad = '' if math.isfinite(v) and v >= 0 else f'{v!r}'
    if bad:
        step = getattr(getattr(state, 'timestamp', None), 'batch', None)
        step_text = f'batch {int(step)}' if step is not None else 'this step'
        raise ValueError(f'ProductScheduler: scheduler {_where(where)} ({s!r}) returned {bad} at {step_text}; each '
                         'factor must be a finite number >= 0 (an LR multiplier).')
    return v


class ProductScheduler:
    r"""A Composer scheduler whose value is the product of its factors:
    :math:`\alpha(t) = \prod_j \alpha_j(t)`, each factor called with the run's scale-schedule ratio when it takes
    one (``fn(state, ssr)``), else as ``fn(state)``.

    Why it exists: Composer's ``Trainer(schedulers=[a, b])`` compiles each Composer scheduler to its own
    ``LambdaLR``, and each of those *sets* the LR every batch, so the last one in the list decides and the others
    have no effect. composer_sched's rule for several schedulers is that they multiply (previews, recipes, sweeps,
    and runs with schedule algorithms all do); ``Trainer(schedulers=ProductScheduler(a, b))`` trains with that
    product.

    Args:
        *schedulers: at least one Composer scheduler: ours (``WSDScheduler(...)``), Composer's built-ins
            (``CosineAnnealingScheduler()``), another ``ProductScheduler``, or a function ``fn(state, ssr=1.0)``
            (a one-argument ``fn(state)`` works at ratio 1 only, as in Composer).

    Raises:
        ValueError: at construction, for no scheduler, or a factor that is not a Composer scheduler (a class, a
            PyTorch scheduler, a non-callable, a callable that cannot be called as ``fn(state)``), naming it by
            position; when called with ``ssr != 1``, for a factor that takes only ``state``; when called, for a
            factor whose value at that batch is NaN, infinite, negative or not a number (naming the factor, the
            batch and the value). Nested products are flattened: factor ``'1.0'`` is factor 0 of factor 1.

    Example:
        >>> from composer.optim import MultiStepScheduler
        >>> from composer_sched import WSDScheduler
        >>> from composer_sched.adapters.durations import ReplayState
        >>> from composer.core import Time
        >>> sched = ProductScheduler(WSDScheduler(t_cooldown='0.5dur'), MultiStepScheduler(['2ba'], gamma=0.5))
        >>> state = ReplayState(Time.from_timestring('4ba'))
        >>> values = []
        >>> for _ in range(4):
        ...     values.append(sched(state))
        ...     _ = state.advance()
        >>> values
        [1.0, 1.0, 0.5, 0.25]
    """

    def __init__(self, *schedulers: Any):
        if not schedulers:
            raise ValueError('ProductScheduler() is not allowed: give at least one Composer scheduler.')
        self.factors = tuple(schedulers)
        self._two_args = tuple(_check_factor(i, s) for i, s in enumerate(self.factors))
        self._leaves: Optional[list] = None  # flattened at the first call (nesting builds in linear time)

    @property
    def _flat(self) -> list:
        # Nested products are flattened once, so a deep nesting costs a loop, not a Python frame per level (about
        # 250 levels were a RecursionError).
        if self._leaves is None:
            self._leaves = _flatten(self)
        return self._leaves

    def __call__(self, state: Any, ssr: float = 1.0) -> float:
        value = 1.0
        for where, s, two_args in self._flat:
            if two_args:
                factor = s(state, ssr)
            elif ssr != 1.0:
                raise ValueError(f'ProductScheduler: scheduler {_where(where)} ({s!r}) takes only (state), so it '
                                 f'cannot be scaled by scale_schedule_ratio={ssr:g}: write it as fn(state, ssr).')
            else:
                factor = s(state)
            value *= _checked_value(where, s, factor, state)
        return value

    def __repr__(self) -> str:
        # the leaves, in order: the same product, and no recursion however deep the nesting
        return f'ProductScheduler({", ".join(repr(s) for _, s, _ in self._flat)})'

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ProductScheduler) and other.factors == self.factors

    def __hash__(self) -> int:
        return hash(repr(self))


def factors_of(schedulers: Any) -> list[Any]:
    """The schedulers whose values multiply, with every :class:`ProductScheduler` opened into its factors (nested
    ones too, without recursion): what previews and the sweep's trunk check read.

    Example:
        >>> factors_of([ProductScheduler(len, ProductScheduler(abs, round)), max])
        [<built-in function len>, <built-in function abs>, <built-in function round>, <built-in function max>]
    """
    out: list[Any] = []
    for s in schedulers:
        out.extend([leaf for _, leaf, _ in s._flat] if isinstance(s, ProductScheduler) else [s])
    return out
