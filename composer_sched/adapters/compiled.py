"""Composer schedulers as the Trainer compiles them: reading the compiled LambdaLR, and compiling one again.

Composer's Trainer keeps only ``LambdaLR(optimizer, scheduler_fn)`` for each stateless scheduler it is given
(``composer.optim.compile_composer_scheduler``, Composer 0.32.1); ``scheduler_fn`` closes over the stateless
``scheduler``, the Trainer's ``state`` and the scale-schedule ratio ``ssr``. Re-evaluating the schedule with
another ratio (Scale Schedule) or on another clock (the schedule driver) needs those three back:
:func:`unwrap_compiled` is the one place that reads them, and :func:`compile_lambda` makes a function it reads
the same way.
"""
from __future__ import annotations

import inspect
from typing import Any, Callable, NamedTuple, Optional

from torch.optim.lr_scheduler import LambdaLR

__all__ = ['Compiled', 'unwrap_compiled', 'compile_lambda']

# Composer 0.32.1's inner function: ``compile_composer_scheduler.<locals>.scheduler_fn``.
_COMPOSER_QUALNAME = 'compile_composer_scheduler.<locals>.scheduler_fn'


class Compiled(NamedTuple):
    """What a compiled LambdaLR function evaluates: ``scheduler(state, ssr)`` (``scheduler(state)`` when
    ``scheduler`` takes one argument and ``ssr == 1``)."""

    scheduler: Any
    state: Any
    ssr: float


def compile_lambda(scheduler: Any, state: Any, ssr: float) -> Callable[[int], float]:
    """A LambdaLR function that evaluates the Composer scheduler ``scheduler`` at ``state`` with ratio ``ssr``,
    as Composer's ``compile_composer_scheduler`` makes it, without building a LambdaLR (so no optimizer is
    touched). :func:`unwrap_compiled` reads it back.

    A plain function, not a callable object, so that ``LambdaLR.state_dict`` does not try to save it: the
    compiled scheduler is a pure function of the Trainer's ``State``, as in Composer.

    Args:
        scheduler: a stateless Composer scheduler, ``fn(state, ssr=1.0) -> float`` (or ``fn(state)``).
        state: the Trainer's ``State`` (or a stand-in with a ``timestamp`` and ``max_duration``).
        ssr: the scale-schedule ratio, ``> 0``.

    Raises:
        ValueError: ``scheduler`` takes only ``state`` and ``ssr != 1`` (it cannot be scaled; Composer raises the
            same when the first batch runs, this raises now).

    Example:
        >>> fn = compile_lambda(lambda state, ssr=1.0: 0.5 * ssr, None, 2.0)
        >>> fn(0), unwrap_compiled(fn).ssr
        (1.0, 2.0)
    """
    one_arg = len(inspect.signature(scheduler).parameters) == 1  # Composer's own test, so results match it
    if one_arg and ssr != 1.0:
        raise ValueError(f'scheduler {scheduler!r} takes only (state), so it cannot be scaled by ssr={ssr:g}: '
                         'write it as fn(state, ssr) and evaluate it at time t / ssr, or use a registered '
                         'composer_sched scheduler.')
    ssr = float(ssr)

    def scheduler_fn(epoch: int) -> float:
        del epoch  # the position is the Trainer's timestamp, read through ``state``
        return scheduler(state) if one_arg else scheduler(state, ssr)

    return scheduler_fn


_OURS = compile_lambda(lambda state, ssr=1.0: 1.0, None, 1.0).__code__


def unwrap_compiled(obj: Any) -> Optional[Compiled]:
    """``(scheduler, state, ssr)`` of a Composer scheduler compiled into a LambdaLR, else ``None``.

    ``obj`` is a LambdaLR with one function (exactly ``LambdaLR``, as the Trainer builds it; a subclass may
    mean something else) or that function itself. Recognised: the function made by Composer 0.32.1's
    ``compile_composer_scheduler`` (by its qualified name) and the one made by :func:`compile_lambda`; the three
    values are read from the function's closure, which is what Composer keeps.

    Args:
        obj: anything; a LambdaLR or a LambdaLR's function to recognise.

    Returns:
        A :class:`Compiled` ``(scheduler, state, ssr)``, or ``None`` for anything else (another LambdaLR, a
        lambda of the user's, a LambdaLR with several functions, any other object).

    Example:
        >>> import torch
        >>> from types import SimpleNamespace
        >>> from composer.optim import compile_composer_scheduler
        >>> opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
        >>> state = SimpleNamespace(optimizers=[opt])  # the Trainer passes its State
        >>> def sched(state, ssr=1.0):  # a stateless Composer scheduler
        ...     return 0.5
        >>> compiled = compile_composer_scheduler(sched, state, ssr=0.5)  # what Trainer(schedulers=...) keeps
        >>> unwrap_compiled(compiled) == (sched, state, 0.5)
        True
        >>> unwrap_compiled(torch.optim.lr_scheduler.LambdaLR(opt, lambda epoch: 1.0)) is None
        True
    """
    if isinstance(obj, LambdaLR):
        if type(obj) is not LambdaLR or len(obj.lr_lambdas) != 1:
            return None
        obj = obj.lr_lambdas[0]
    code = getattr(obj, '__code__', None)
    closure = getattr(obj, '__closure__', None)
    if code is None or not closure:
        return None
    if code is not _OURS and getattr(obj, '__qualname__', '') != _COMPOSER_QUALNAME:
        return None
    cells = dict(zip(code.co_freevars, closure))
    if not {'scheduler', 'state', 'ssr'} <= set(cells):
        return None
    try:
        return Compiled(cells['scheduler'].cell_contents, cells['state'].cell_contents,
                        float(cells['ssr'].cell_contents))
    except ValueError:  # an empty cell: not a finished compiled function
        return None
