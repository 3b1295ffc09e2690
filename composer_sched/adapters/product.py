"""Several Composer schedulers as one, whose value is their product: the package's one rule for several
schedulers (as torch's chainable schedulers and composer_sched's schedule algorithms combine them)."""
from __future__ import annotations

import inspect
from typing import Any

from composer_sched.adapters.composer import takes_ssr

__all__ = ['ProductScheduler', 'factors_of']


def _check_factor(i: int, s: Any) -> bool:
    """Whether factor ``i`` takes ``(state, ssr)``; a ``ValueError`` naming it unless it is a Composer scheduler."""
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
            position; when called with ``ssr != 1``, for a factor that takes only ``state``.

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

    def __call__(self, state: Any, ssr: float = 1.0) -> float:
        value = 1.0
        for i, (s, two_args) in enumerate(zip(self.factors, self._two_args)):
            if two_args:
                value *= float(s(state, ssr))
            elif ssr != 1.0:
                raise ValueError(f'ProductScheduler: scheduler {i} ({s!r}) takes only (state), so it cannot be '
                                 f'scaled by scale_schedule_ratio={ssr:g}: write it as fn(state, ssr).')
            else:
                value *= float(s(state))
        return value

    def __repr__(self) -> str:
        return f'ProductScheduler({", ".join(map(repr, self.factors))})'

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ProductScheduler) and other.factors == self.factors

    def __hash__(self) -> int:
        return hash(repr(self))


def factors_of(schedulers: Any) -> list[Any]:
    """The schedulers whose values multiply, with every :class:`ProductScheduler` opened into its factors (nested
    ones too): what previews and the sweep's trunk check read.

    Example:
        >>> factors_of([ProductScheduler(len, ProductScheduler(abs, round)), max])
        [<built-in function len>, <built-in function abs>, <built-in function round>, <built-in function max>]
    """
    out: list[Any] = []
    for s in schedulers:
        out.extend(factors_of(s.factors) if isinstance(s, ProductScheduler) else [s])
    return out
